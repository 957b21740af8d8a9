"""Learning-rate schedule gallery: every schedule of ``nbtrain.engine.schedules`` plotted before use.

The numbers come straight from the engine's ``Schedule.curve``; this module only collects them (and, in
the view, builds one control per parameter from ``schedules.param_specs``).

>>> from nbtrain.demos import schedule_gallery_data
>>> curves = schedule_gallery_data(["constant", "cosine"], base_lr=0.1, total_steps=100)
>>> curves["cosine"].lr[[0, 50, 100]].round(6).tolist()
[0.1, 0.05, 0.0]
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nbtrain.engine import schedules
from nbtrain.engine.budget import check_demo
from nbtrain.engine.expr import Expression

if TYPE_CHECKING:  # the views import ipywidgets/bqplot only when called
    from ._view import DemoView

from ..engine.checks import check_float, check_int


@dataclass(frozen=True)
class ScheduleCurve:
    """One schedule's lr at steps 0..T (T + 1 points), its resolved parameters and its formula."""

    name: str
    steps: np.ndarray
    lr: np.ndarray
    params: dict[str, Any]
    formula: str


def schedule_gallery_data(
    names: Sequence[str] | None = None,
    base_lr: float = 0.1,
    total_steps: int = 1000,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, ScheduleCurve]:
    """lr curves of the named schedules (all registered ones by default) over steps 0..``total_steps``.

    ``params`` maps a schedule name to keyword parameters for ``schedules.make`` (anything it accepts,
    warm-up included); unknown names or parameters raise errors listing the allowed ones.

    >>> c = schedule_gallery_data(["step"], 1.0, 10, {"step": {"step_size": 5, "gamma": 0.5}})["step"]
    >>> c.lr.tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25]
    """
    base_lr = check_float("base_lr", base_lr, 0.0, 1e3, lo_open=True)
    total_steps = check_int("total_steps", total_steps, 1, 1_000_000)
    chosen = list(schedules.names()) if names is None else [schedules.registry.resolve(n) for n in names]
    resolved_params = {schedules.registry.resolve(k): v for k, v in (params or {}).items()}
    unknown = sorted(set(resolved_params) - set(chosen))
    if unknown:
        raise ValueError(f"params given for {unknown}, which are not among the plotted schedules {chosen}")
    check_demo((total_steps + 1) * len(chosen), f"schedule_gallery_data(total_steps={total_steps}, "
                                                 f"{len(chosen)} schedule(s))")
    steps = np.arange(total_steps + 1)
    out = {}
    for name in chosen:
        s = schedules.make(name, base_lr, total_steps, **dict(resolved_params.get(name, {})))
        out[name] = ScheduleCurve(name=name, steps=steps, lr=s.curve(steps), params=dict(s.params),
                                  formula=schedules.registry.get(name).summary)
    return out


# ---- the view ----------------------------------------------------------------------------------------


def _expression_fn(text: str) -> Expression | None:
    """``"0.5 ** (t // 100)"`` -> the formula as a function of the step t; empty -> None.

    The text is parsed by the safe expression language of :mod:`nbtrain.engine.expr` (numbers, ``t``,
    arithmetic, comparisons, a whitelist of math functions) and never evaluated as Python: a served page
    cannot run code through this box. Anything else raises :class:`ExpressionError` naming the construct.
    """
    text = text.strip()
    if not text:
        return None
    return Expression(text, variables=("t",))


def _parse_list(name: str, text: str, kind: type) -> tuple | None:
    text = text.strip().strip("()[]")
    if not text:
        return None
    try:
        return tuple(kind(float(x)) if kind is int else kind(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise ValueError(f"{name}={text!r} must be comma-separated numbers, e.g. 500, 750") from None


def _param_widget(name: str, spec: Any, value: Any, total_steps: int):
    import ipywidgets as widgets

    from nbtrain.ui import style

    from . import _view as V

    kind = spec.kind
    if kind == "bool":
        return widgets.Checkbox(description=name, value=bool(value), indent=False, style=style.LABEL_STYLE)
    if kind == "choice":
        return V.dropdown(name, list(spec.choices), value)
    if kind == "list":
        shown = "" if value is None else ", ".join(f"{v:g}" for v in value)
        return widgets.Text(description=name, value=shown, continuous_update=False, style=style.LABEL_STYLE,
                            placeholder="comma-separated", layout=V.CONTROL_LAYOUT)
    if kind == "callable":
        return widgets.Text(description=f"{name}(t) =", value="", continuous_update=False, style=style.LABEL_STYLE,
                            placeholder="e.g. 0.5 ** (t // 100), exp(-t / 500)", layout=V.CONTROL_LAYOUT)
    lo = spec.low if spec.low is not None else 0
    if kind == "int":
        hi = spec.high if spec.high is not None else max(100, 10 * int(value or 1))
        return V.int_slider(name, int(min(max(value, lo), hi)), int(lo), int(hi))
    hi = spec.high if spec.high is not None else max(1.0, 10 * float(value or 1))
    value = float(min(max(value, lo), hi))
    if kind == "log":
        return V.slider(name, value, float(lo), float(hi), 0.05, log=True)
    return V.slider(name, value, float(lo), float(hi), (float(hi) - float(lo)) / 200, readout_format=".4g")


def _param_value(spec: Any, widget: Any) -> Any:
    if spec.kind == "list":
        ints = isinstance(spec.low, int) and not isinstance(spec.low, bool)  # step boundaries vs lr values
        return _parse_list(widget.description, widget.value, int if ints else float)
    if spec.kind == "callable":
        return _expression_fn(widget.value)
    return widget.value


def schedule_gallery(first: str = "cosine", second: str | None = "step", base_lr: float = 0.1,
                     total_steps: int = 1000) -> DemoView:
    """Interactive view: a schedule's curve with one control per parameter; overlay a second one to
    compare, optionally over every registered schedule in grey; linear or log lr axis.

    >>> view = schedule_gallery()                        # doctest: +SKIP
    >>> view.controls["first"].value = "sgdr"            # doctest: +SKIP
    >>> view.param_controls["first"]["T_mult"].value = 1 # doctest: +SKIP
    """
    import bqplot as bq
    import ipywidgets as widgets

    from nbtrain.ui import style
    from nbtrain.ui.guard import guard_all

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    names = schedules.names()
    none = "(none)"
    controls = {
        "first": V.dropdown("schedule", names, schedules.registry.resolve(first)),
        "second": V.dropdown("compare with", [none, *names], schedules.registry.resolve(second) if second else none),
        "total_steps": V.int_slider("total steps T", total_steps, 10, 10_000, 10),
        "base_lr": V.slider("base lr", base_lr, 1e-4, 1.0, 0.05, log=True),
        "log": widgets.Checkbox(description="log lr axis", value=False, indent=False),
        "all": widgets.Checkbox(description="all schedules in grey", value=False, indent=False),
    }
    boxes = {"first": widgets.VBox(), "second": widgets.VBox()}
    param_controls: dict[str, dict[str, Any]] = {"first": {}, "second": {}}
    built: dict[str, tuple] = {"first": (), "second": ()}
    specs_of: dict[str, dict[str, Any]] = {"first": {}, "second": {}}

    x, y_lin, y_log = bq.LinearScale(), bq.LinearScale(min=0.0), bq.LogScale()
    grey = bq.Lines(x=[], y=[], scales={"x": x, "y": y_lin}, colors=["#c8c8c8"], stroke_width=1)
    line_a = bq.Lines(x=[], y=[], scales={"x": x, "y": y_lin}, colors=[style.RUNS[0]], stroke_width=3.5,
                      display_legend=True, labels=[""])
    line_b = bq.Lines(x=[], y=[], scales={"x": x, "y": y_lin}, colors=[style.RUNS[1]], stroke_width=3.5,
                      line_style="dashed", display_legend=True, labels=[""])
    y_axis = D.axis(y_lin, "learning rate", vertical=True, tick_format=".2g")
    fig = D.figure([grey, line_a, line_b], [D.axis(x, "step t"), y_axis], width="100%",
                   height="420px")
    formulas = widgets.HTML()
    marks = {"first": line_a, "second": line_b, "all": grey}
    view: V.DemoView | None = None

    def rebuild(side: str, name: str, lr: float, T: int) -> None:
        """(Re)create the parameter controls of one side; keep values that still fit, re-derive the rest."""
        key = (name, lr, T)
        if built[side] == key:
            return
        old = {p: w.value for p, w in param_controls[side].items()} if built[side][:1] == (name,) else {}
        symbolic = schedules.param_specs(name)
        specs = schedules.param_specs(name, lr, T)
        new = {}
        for p, spec in specs.items():
            derived = symbolic[p].default is None and spec.kind not in ("list", "callable")
            value = spec.default if (derived or p not in old) else old[p]
            if spec.kind in ("list", "callable") and p in old:
                new[p] = _param_widget(p, spec, None, T)
                new[p].value = old[p]
                continue
            new[p] = _param_widget(p, spec, value, T)
        for w in param_controls[side].values():
            w.unobserve_all()
            w.close()
        for w in new.values():
            w.observe(lambda _c: view.update() if view is not None else None, names="value")
        guard_all(new.values())  # bounds enforced by the kernel, not only by the page
        param_controls[side], specs_of[side], built[side] = new, specs, key
        title = widgets.HTML(f"<b style='font-size:15px; color:{style.RUNS[0] if side == 'first' else style.RUNS[1]}'>"
                             f"{html.escape(name)} parameters</b>")
        boxes[side].children = [title, *new.values()]

    def values(side: str) -> dict[str, Any]:
        out = {}
        for p, w in param_controls[side].items():
            v = _param_value(specs_of[side][p], w)
            if v is not None or specs_of[side][p].kind in ("list", "callable"):
                out[p] = v
        if out.get("values") is not None:  # piecewise: absolute values replace the multipliers
            out["multipliers"] = None
        return out

    def compute() -> dict[str, ScheduleCurve]:
        lr, T = controls["base_lr"].value, controls["total_steps"].value
        sides = ["first"] + (["second"] if controls["second"].value != none else [])
        curves = {}
        for side in sides:  # each side separately: the same schedule can be compared with other parameters
            name = controls[side].value
            rebuild(side, name, lr, T)
            curves[side] = schedule_gallery_data([name], lr, T, {name: values(side)})[name]
        if "second" not in sides:
            boxes["second"].children = []
            built["second"] = ()
            param_controls["second"] = {}
        if controls["all"].value:
            for name, c in schedule_gallery_data(None, lr, T).items():
                curves[f"all:{name}"] = c
        return curves

    def draw(curves: dict[str, ScheduleCurve]) -> str:
        log = controls["log"].value
        scale = y_log if log else y_lin
        floor = controls["base_lr"].value * 1e-5
        for mark in (grey, line_a, line_b):
            mark.scales = {"x": x, "y": scale}
        y_axis.scale = scale
        y_axis.label = "learning rate (log)" if log else "learning rate"

        def ys(c: ScheduleCurve) -> np.ndarray:
            return np.maximum(c.lr, floor) if log else c.lr

        a = curves["first"]
        line_a.x, line_a.y, line_a.labels = a.steps, ys(a), [a.name]
        shown = [a]
        if "second" in curves:
            b = curves["second"]
            line_b.x, line_b.y = b.steps, ys(b)
            line_b.labels = [b.name if b.name != a.name else f"{b.name} (2)"]
            line_b.visible = True
            shown.append(b)
        else:
            line_b.visible = False
        rest = [c for k, c in curves.items() if k.startswith("all:")]
        grey.visible = bool(rest)
        if rest:
            grey.x, grey.y = a.steps, np.array([ys(c) for c in rest])
        if log:
            style.set_log_ticks(y_axis, *[ys(c) for c in shown], *(ys(c) for c in rest))
        else:
            y_axis.tick_values, y_axis.tick_format = None, ".2g"
        fig.title = " vs ".join(c.name for c in shown) + f" over T = {a.steps[-1]} steps"
        formulas.value = "".join(f"<div style='font-size:15px'><b>{html.escape(c.name)}</b>: {html.escape(c.formula)}</div>"
                                 for c in ({c.name: c for c in shown}.values()))
        ends = ", ".join(f"{html.escape(c.name)} ends at {c.lr[-1]:.3g}" for c in shown)
        return f"{ends} (base lr {controls['base_lr'].value:.3g})"

    view = V.DemoView(controls, [fig], marks, compute, draw,
                      rows=[["first", "second", "total_steps", "base_lr"], ["log", "all"]],
                      figure_rows=[[boxes["first"], boxes["second"]], [fig], [formulas]])
    view.param_controls = param_controls
    view.formulas = formulas
    return view


