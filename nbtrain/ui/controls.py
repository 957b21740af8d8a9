"""Control widgets generated from registries and parameter specs (no per-choice UI code).

A registry entry becomes a dropdown option (its one-line summary is the tooltip); a schedule's
:class:`~nbtrain.engine.schedules.ParamSpec` becomes a slider, checkbox, dropdown or text box. Sliders
whose value must be able to leave their range (a value set from code) are widened instead of clamped,
so a control never silently changes the config.

>>> from nbtrain.engine.schedules import ParamSpec
>>> w = param_widget("gamma", ParamSpec(0.1, 0.001, 1.0, "log"))
>>> type(w).__name__, round(w.value, 3)
('FloatLogSlider', 0.1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from . import style

CONTROL_WIDTH = "286px"


def layout(**kw: Any) -> widgets.Layout:
    """A fresh Layout for one control (never shared between widgets: closing one must not break another)."""
    kw.setdefault("width", CONTROL_WIDTH)
    return widgets.Layout(**kw)


def common(description: str, tooltip: str = "") -> dict[str, Any]:
    return dict(description=description, tooltip=tooltip or None, style=dict(style.LABEL_STYLE), layout=layout())


def registry_dropdown(description: str, registry: Any, value: str, *, tooltip: str = "",
                      label: Any = None, extra: Sequence[tuple[str, str]] = ()) -> widgets.Dropdown:
    """A dropdown of every name in ``registry`` (plus ``extra`` (label, value) pairs first).

    ``label(entry)`` may rename options (e.g. mark datasets that need files). The tooltip shows the
    selected entry's summary.
    """
    options = list(extra) + [((label(e) if label else e.name), e.name) for e in registry.entries()]
    values = [v for _, v in options]
    if value not in values:
        options.append((value, value))
    dd = widgets.Dropdown(options=options, value=value, **common(description, tooltip))
    dd.add_class("nbtrain-control")
    describe(dd, registry, tooltip)
    dd.observe(lambda _c: describe(dd, registry, tooltip), names="value")
    return dd


def describe(dd: widgets.Dropdown, registry: Any, tooltip: str) -> None:
    """Set a dropdown's tooltip to the selected entry's summary (and the field's help)."""
    try:
        summary = registry.get(dd.value).summary
    except Exception:  # noqa: BLE001 - "auto", user values
        summary = ""
    dd.tooltip = "\n".join(t for t in (summary, tooltip) if t) or None


def log_slider(description: str, value: float, lo: float, hi: float, *, tooltip: str = "",
               step: float = 0.05) -> widgets.FloatLogSlider:
    return widgets.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=math.log10(hi), step=step,
                                  readout_format=".3g", continuous_update=False, **common(description, tooltip))


def float_slider(description: str, value: float, lo: float, hi: float, step: float, *,
                 tooltip: str = "", fmt: str = ".3g") -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, readout_format=fmt,
                               continuous_update=False, **common(description, tooltip))


def choice_slider(description: str, choices: Sequence[float], value: float, *, tooltip: str = "",
                  fmt: str = "{:g}") -> widgets.SelectionSlider:
    """A slider over a few meaningful values (0 included, which a log slider cannot show)."""
    values = sorted(set(choices) | {value})
    return widgets.SelectionSlider(options=[(fmt.format(v), v) for v in values], value=value,
                                   continuous_update=False, **common(description, tooltip))


def set_value(widget: widgets.Widget, value: Any) -> None:
    """Show ``value`` in ``widget``, widening a slider's range or adding an option rather than clamping."""
    if isinstance(widget, widgets.FloatLogSlider):
        if value is not None and value > 0:
            exp = math.log10(value)
            if exp < widget.min:
                widget.min = math.floor(exp)
            if exp > widget.max:
                widget.max = math.ceil(exp)
    elif isinstance(widget, (widgets.FloatSlider, widgets.IntSlider)):
        if value is not None:
            if value < widget.min:
                widget.min = value
            if value > widget.max:
                widget.max = value
    elif isinstance(widget, widgets.SelectionSlider):
        values = [v[1] if isinstance(v, tuple) else v for v in widget.options]
        if value not in values:
            merged = sorted(set(values) | {value})
            fmt = "{:g}" if all(isinstance(v, (int, float)) for v in merged) else "{}"
            widget.options = [(fmt.format(v), v) for v in merged]
    elif isinstance(widget, widgets.Dropdown):
        values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        if value not in values:
            widget.options = [*widget.options, (str(value), value)]
    if widget.value != value:
        widget.value = value


def param_widget(name: str, spec: Any, value: Any = None) -> widgets.Widget:
    """A widget for one schedule parameter from its ``ParamSpec`` (kind float/log/int/bool/choice/list/callable)."""
    value = spec.default if value is None else value
    kind = spec.kind
    lo = spec.low if isinstance(spec.low, (int, float)) else None
    hi = spec.high if isinstance(spec.high, (int, float)) else None
    tip = f"schedule parameter {name}"
    if kind == "bool":
        return widgets.Checkbox(value=bool(value), indent=False, **common(name, tip))
    if kind == "choice":
        return widgets.Dropdown(options=list(spec.choices), value=value if value in spec.choices else spec.choices[0],
                                **common(name, tip))
    if kind == "log" and lo and hi and lo > 0:
        w = log_slider(name, value if value else lo, lo, hi, tooltip=tip)
        set_value(w, value)
        return w
    if kind == "int":
        if lo is not None and hi is not None:
            w = widgets.IntSlider(value=int(lo if value is None else value), min=int(lo), max=int(hi),
                                  continuous_update=False, **common(name, tip))
            set_value(w, int(value) if value is not None else int(lo))
            return w
        return widgets.IntText(value=int(value or 0), **common(name, tip))
    if kind in ("float", "log"):
        if lo is not None and hi is not None and hi > lo:
            w = float_slider(name, float(lo if value is None else value), float(lo), float(hi), (hi - lo) / 100,
                             tooltip=tip)
            if value is not None:
                set_value(w, float(value))
            return w
        return widgets.FloatText(value=float(value or 0.0), **common(name, tip))
    if kind == "list":
        text = "" if value is None else ", ".join(f"{v:g}" for v in value)
        return widgets.Text(value=text, placeholder="comma-separated", continuous_update=False, **common(name, tip))
    # "callable" (and anything unknown): not editable in the UI
    return widgets.HTML(f"<span style='font-size:13px'>{name}: set in code, e.g. "
                        f"<code>lab.config.schedule_params = {{'{name}': ...}}</code></span>",
                        layout=layout())


def read_param(widget: widgets.Widget, spec: Any) -> Any:
    """The Python value a parameter widget stands for (lists parsed from text)."""
    if spec.kind == "list":
        text = widget.value.strip()
        if not text:
            return None
        try:
            vals = [float(t) for t in text.replace(";", ",").split(",") if t.strip()]
        except ValueError:
            raise ValueError(f"schedule parameter: {text!r} is not a comma-separated list of numbers") from None
        return [int(v) if v == int(v) and (spec.low is None or isinstance(spec.low, int)) else v for v in vals]
    if spec.kind == "int":
        return int(widget.value)
    return widget.value

