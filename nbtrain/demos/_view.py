"""Shared pieces of the demo views: one palette, readable axes, and the ``DemoView`` container.

Views are thin: they own widgets and bqplot marks, call a demo's pure ``*_data`` function when a control
changes, and only assign mark traits (inside ``hold_sync``). Sizes are chosen for a 1280×720 projector:
two figures side by side fill the width, tick labels are 14 px, titles 18 px.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..ui import style as _style

# One colour per activation, used by every demo, so "tanh" is always the same blue.
ACTIVATION_COLOURS: dict[str, str] = {
    "sigmoid": "#d95f02",
    "tanh": "#1f78b4",
    "relu": "#33a02c",
    "leaky_relu": "#6a3d9a",
    "prelu": "#cab2d6",
    "elu": "#b15928",
    "selu": "#e7298a",
    "gelu": "#666666",
    "silu": "#a6761d",
    "maxout": "#1b9e77",
    "identity": "#000000",
}
TRAIN = "#1f78b4"  # training curves
VAL = "#d95f02"  # validation curves
SAME_SIGN = "#e31a1c"  # a step whose gradient components all share one sign
MIXED_SIGN = "#7f7f7f"
CURVE = "#222222"  # a function's graph
DERIVATIVE = "#e31a1c"  # its derivative
HIST = "#1f78b4"  # histograms
CONTOUR = "#b0b0b0"
SHADE = "#fdd0a2"
# Distinct colours for series that are not activations (schedules, stages, variants).
SERIES = ["#1f78b4", "#d95f02", "#33a02c", "#e31a1c", "#6a3d9a", "#a6761d", "#e7298a", "#666666"]

TICKS = {"font-size": "14px"}
TITLE = {"font-size": "16px"}
CONTROL_STYLE = {"description_width": "initial"}
CONTROL_LAYOUT = widgets.Layout(width="auto", min_width="260px")


def activation_colour(name: str) -> str:
    """Colour of an activation (grey for names outside the palette)."""
    return ACTIVATION_COLOURS.get(name, "#444444")


def axis(scale: bq.Scale, label: str, *, vertical: bool = False, **kw: Any) -> bq.Axis:
    """A labelled axis with projector-sized ticks (``vertical=True`` for a y axis)."""
    kw.setdefault("grid_lines", "dashed")
    kw.setdefault("side", "left" if vertical else "bottom")
    # bqplot measures the label offset away from the plot area (it flips the sign for left/top axes itself)
    kw.setdefault("label_offset", "52px" if vertical else "40px")
    return bq.Axis(
        scale=scale,
        label=label,
        tick_style=TICKS,
        **kw,
    )


def figure(
    marks: list[bq.Mark],
    axes: list[bq.Axis],
    title: str = "",
    *,
    width: str = "50%",
    height: str = "380px",
    legend: bool = False,
    **kw: Any,
) -> bq.Figure:
    """A bqplot figure with animation off and projector-sized title."""
    kw.setdefault("fig_margin", {"top": 50, "bottom": 55, "left": 74, "right": 26})
    fig = bq.Figure(
        marks=marks,
        axes=axes,
        title=title,
        title_style=title_style_for(kw["fig_margin"]),
        animation_duration=0,
        layout=widgets.Layout(width=width, height=height),
        legend_location="top-right",
        legend_text={"font-size": "13px"},
        **kw,
    )
    fig.add_class("nbtrain-figure")
    return fig


def title_style_for(margin: dict[str, int]) -> dict[str, str]:
    """The demos' title style for a figure with these margins (see ``nbtrain.ui.style.title_style``)."""
    return _style.title_style(margin, TITLE["font-size"])


log_ticks = _style.log_ticks  # one rule for log axes in every view (1-2-5 steps, or decades)


def set_log_ticks(axis: bq.Axis, *values: Any) -> None:
    """Point a log axis's ticks at the range of ``values`` (call inside ``hold``)."""
    import numpy as np

    ticks, fmt = log_ticks(np.concatenate([np.asarray(v, dtype=float).ravel() for v in values]))
    axis.tick_values, axis.tick_format = ticks, fmt


def hold(figures: Iterable[bq.Figure]):
    """Hold sync on several figures and all their marks at once (a context manager)."""
    from contextlib import ExitStack

    stack = ExitStack()
    for fig in figures:
        stack.enter_context(fig.hold_sync())
        for mark in fig.marks:
            stack.enter_context(mark.hold_sync())
    return stack


def slider(description: str, value: float, lo: float, hi: float, step: float, *, log: bool = False,
           readout_format: str = ".3g") -> widgets.Widget:
    """A float slider that only reports on release (each change recomputes a demo)."""
    common = dict(description=description, value=value, continuous_update=False, style=CONTROL_STYLE,
                  readout_format=readout_format, layout=CONTROL_LAYOUT)
    if log:
        import math

        return widgets.FloatLogSlider(base=10, min=math.log10(lo), max=math.log10(hi), step=step, **common)
    return widgets.FloatSlider(min=lo, max=hi, step=step, **common)


def int_slider(description: str, value: int, lo: int, hi: int, step: int = 1) -> widgets.IntSlider:
    return widgets.IntSlider(description=description, value=value, min=lo, max=hi, step=step,
                             continuous_update=False, style=CONTROL_STYLE, layout=CONTROL_LAYOUT)


def dropdown(description: str, options: list[Any], value: Any) -> widgets.Dropdown:
    return widgets.Dropdown(description=description, options=options, value=value, style=CONTROL_STYLE,
                            layout=CONTROL_LAYOUT)


def _figure_row(items: list[widgets.Widget]) -> widgets.Box:
    """A row of figures that wraps on a narrow screen: each keeps its share of the width as flex basis
    (``width="50%"`` -> basis 50%) and never gets narrower than the stylesheet's minimum."""
    for w in items:
        width = getattr(w.layout, "width", None)
        if isinstance(w, widgets.DOMWidget) and isinstance(width, str) and width.endswith("%"):
            basis = f"calc({width} - 8px)"
            w.layout.flex = f"1 1 {basis}"
    row = widgets.Box(items)
    row.add_class("nbtrain-figrow")
    return row


class DemoView(widgets.VBox):
    """Controls on top, figures below, a status line at the bottom.

    ``controls`` (name -> widget), ``figures`` and ``marks`` (name -> mark) are public so a test or a
    lecturer's script can drive a view: set ``view.controls["scale"].value = 2.0`` and the marks update.
    ``result`` holds the latest output of the demo's pure function. ``draw(result)`` sets mark traits and
    may return one line of HTML for the status line (a summary of the numbers).
    """

    def __init__(
        self,
        controls: dict[str, widgets.Widget],
        figures: list[bq.Figure],
        marks: dict[str, bq.Mark],
        compute: Callable[[], Any],
        draw: Callable[[Any], str | None],
        *,
        rows: list[list[str]] | None = None,
        figure_rows: list[list[bq.Figure]] | None = None,
        intro: str = "",
    ):
        self.controls = controls
        self.figures = figures
        self.marks = marks
        self.result: Any = None
        self.status = widgets.HTML(layout=widgets.Layout(min_height="24px"))
        self._compute, self._draw = compute, draw
        self._updating = False
        rows = rows or [list(controls)]
        control_rows = [widgets.HBox([controls[n] for n in row]) for row in rows]
        for r in control_rows:
            r.add_class("nbtrain-controlrow")  # controls wrap on a narrow screen instead of scrolling
        control_box = widgets.VBox(control_rows)
        figure_rows = figure_rows or [figures]
        children: list[widgets.Widget] = [_style.stylesheet()]
        if intro:
            children.append(widgets.HTML(f"<div style='font-size:15px'>{intro}</div>"))
        children += [control_box, *[_figure_row(r) for r in figure_rows], self.status]
        super().__init__(children)
        _style.view_classes(self, "nbtrain-demo")
        # linear axes the demo leaves to bqplot get a few round ticks inside their domain after every draw
        # (bqplot's default, d3's 10, runs together on a 300 px figure)
        self._auto_axes = [(fig, ax) for fig in figures for ax in fig.axes
                           if type(ax.scale) is bq.LinearScale and (ax.tick_values is None or not len(ax.tick_values))]
        for control in controls.values():
            control.observe(self._on_change, names="value")
        self.update()

    def _round_ticks(self) -> None:
        for fig, ax in self._auto_axes:
            values = []
            for mark in fig.marks:
                for dim, scale in mark.scales.items():
                    if scale is ax.scale and dim in ("x", "y") and getattr(mark, "visible", True):
                        try:
                            values.append(np.asarray(getattr(mark, dim), dtype=float).ravel())
                        except (TypeError, ValueError):  # categories
                            pass
            v = np.concatenate(values) if values else np.zeros(0)
            v = v[np.isfinite(v)]
            lo = ax.scale.min if ax.scale.min is not None else (float(v.min()) if v.size else None)
            hi = ax.scale.max if ax.scale.max is not None else (float(v.max()) if v.size else None)
            if lo is None or hi is None or not hi > lo:
                continue
            vertical = ax.side in ("left", "right")
            _, _, ticks = _style.nice_ticks(lo, hi, 6 if vertical else 4, inside=True)
            if len(ticks) >= 2 and list(ax.tick_values if ax.tick_values is not None else []) != ticks:
                ax.tick_values = ticks

    def _on_change(self, _change: dict) -> None:
        self.update()

    def update(self) -> None:
        """Recompute from the current control values and redraw (errors go to the status line)."""
        if self._updating:  # a control changed by compute/draw itself (e.g. a clamped slider): already read
            return
        self._updating = True
        try:
            try:
                result = self._compute()
            except (ValueError, TypeError) as err:
                self.status.value = f"<span style='color:#c00; font-size:15px'>{err}</span>"
                return
            self.result = result
            with hold(self.figures):
                message = self._draw(result)
                self._round_ticks()
        finally:
            self._updating = False
        self.status.value = f"<span style='font-size:15px'>{message}</span>" if message else ""
