"""Small helpers shared by the views.

>>> import ipywidgets as widgets
>>> box = widgets.VBox([widgets.Button()])
>>> len(all_widgets([box])) >= 4  # the box, its layout, the button, the button's layout and style
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import ipywidgets as widgets


def all_widgets(roots: Iterable[Any]) -> list[widgets.Widget]:
    """Every widget reachable from ``roots`` through synced traits (children, layout, style, marks, scales,
    axes, tooltips, ...), each once; closing them all leaves no comm of a view open."""
    seen: dict[int, widgets.Widget] = {}
    stack: list[Any] = list(roots)
    while stack:
        w = stack.pop()
        if isinstance(w, (list, tuple)):
            stack.extend(w)
            continue
        if isinstance(w, dict):
            stack.extend(w.values())
            continue
        if not isinstance(w, widgets.Widget) or id(w) in seen:
            continue
        seen[id(w)] = w
        for name in w.keys:
            try:
                stack.append(getattr(w, name))
            except Exception:  # noqa: BLE001 - a trait that cannot be read is not a widget
                pass
    return list(seen.values())


def close_all(roots: Iterable[Any], *, keep: Iterable[widgets.Widget] = ()) -> int:
    """Close every widget reachable from ``roots`` except ``keep``; returns how many were closed."""
    keep_ids = {id(w) for w in keep}
    n = 0
    for w in all_widgets(roots):
        if id(w) not in keep_ids:
            w.close()
            n += 1
    return n
