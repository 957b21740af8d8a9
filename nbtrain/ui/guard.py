"""Kernel-side enforcement of what a control accepts from the page.

A widget's ``min``/``max``, ``options`` and ``disabled`` are drawn by the browser, but a visitor of a
served notebook can send any state message over the widget's comm. :func:`guard` makes the *kernel*
enforce them on one widget; :func:`guard_all` on every control reachable from a view:

- only the traits a user edits (``value``, ``index``, ``selected_index``) are accepted from the page;
  a message setting ``min``, ``max``, ``options``, ``disabled``, ``layout`` … is ignored;
- nothing is accepted while the control is ``disabled`` (and a disabled button's clicks are dropped);
- numbers must be finite numbers (then ipywidgets clamps them into ``[min, max]``), a selection index
  must point at an option, a text is at most :data:`MAX_TEXT` characters, a checkbox takes a bool;
- anything refused is sent back, so the page shows the value the kernel kept.

Values set from Python (the notebook's own code) are not affected.

>>> import ipywidgets as widgets
>>> w = guard(widgets.IntSlider(value=5, min=0, max=10))
>>> update_from_page(w, {"value": 10**15}); w.value
10
>>> update_from_page(w, {"max": 10**15, "value": 10**15}); w.max, w.value
(10, 10)
>>> w.disabled = True; update_from_page(w, {"value": 3}); w.value
10
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets

MAX_TEXT = 1000  # characters a text box accepts from the page
EDITABLE = ("value", "index", "selected_index")  # the traits a page may set


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _acceptable(w: widgets.Widget, key: str, v: Any) -> bool:
    """Whether the page may set ``w.key = v`` (bounds are then applied by the widget's own validation)."""
    if key == "value":
        if isinstance(w, (widgets.FloatProgress, widgets.IntProgress)):
            return False  # output, not input
        if isinstance(w, widgets.Checkbox) or isinstance(w, widgets.ToggleButton):
            return isinstance(v, bool)
        if isinstance(w, (widgets.Text, widgets.Textarea)):
            return isinstance(v, str) and len(v) <= MAX_TEXT
        if hasattr(w, "min") and hasattr(w, "max"):  # sliders and bounded number boxes
            return _number(v)
        if isinstance(w, (widgets.IntText, widgets.FloatText)):
            return _number(v) and abs(v) <= 1e15
        return False  # e.g. a selection's value is derived from its index; HTML output is not editable
    if key == "index":
        options = getattr(w, "_options_labels", None) or getattr(w, "options", ())
        return isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(options)
    if key == "selected_index":
        return v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(w.children))
    return False


def guard(w: widgets.Widget) -> widgets.Widget:
    """Make the kernel enforce ``w``'s bounds, options and ``disabled`` state for changes from the page
    (idempotent); returns ``w``."""
    if getattr(w, "_nbtrain_guarded", False):
        return w
    original_set_state = w.set_state
    original_custom = w._handle_custom_msg

    def set_state(sync_data: dict[str, Any]) -> None:
        if not isinstance(sync_data, dict):
            return
        disabled = bool(getattr(w, "disabled", False))
        clean: dict[str, Any] = {}
        refused: list[str] = []
        for key, value in sync_data.items():
            if key not in w.keys:
                continue
            if not disabled and key in EDITABLE and _acceptable(w, key, value):
                clean[key] = value
            else:  # answer with the kept value: the page's pending echo is cleared, then the value resent
                clean[key] = w.get_state(key)[key]
                refused.append(key)
        try:
            original_set_state(clean)
        except Exception:  # a value the widget's own validation refuses (TraitError, TypeError, ...)
            refused = list(clean)
        if refused:
            try:
                w.send_state(refused)
            except Exception:  # no front end (closed comm)
                pass

    def handle_custom(content: Any, buffers: Any) -> None:
        if getattr(w, "disabled", False):
            return  # e.g. a click on a disabled button
        original_custom(content, buffers)

    w.set_state = set_state
    w._handle_custom_msg = handle_custom
    w._nbtrain_guarded = True
    return w


def guard_all(roots: Iterable[Any]) -> int:
    """:func:`guard` every control reachable from ``roots`` (value widgets, buttons, tabs); returns how many."""
    from .util import all_widgets

    n = 0
    for w in all_widgets(roots):
        if isinstance(w, (widgets.ValueWidget, widgets.Button, widgets.Tab, widgets.Accordion)) \
                or hasattr(w, "selected_index"):
            if not getattr(w, "_nbtrain_guarded", False):
                guard(w)
                n += 1
    return n


def update_from_page(w: widgets.Widget, state: dict[str, Any]) -> None:
    """Deliver ``state`` to ``w`` exactly as a browser's comm message would (tests, examples)."""
    w._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def click_from_page(w: widgets.Button) -> None:
    """Deliver a button click exactly as a browser's comm message would."""
    w._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "click"}}}, "buffers": []})
