"""The demos' thin view: controls on top, figures below, an error/summary line (``DemoView``), and the
controls it is built from.

Views are thin: they own widgets and bqplot marks, call a demo's pure ``*_data`` function when a control
changes, and only assign mark traits (inside one hold). Colours, axes and figures come from
:mod:`nbtrain.ui.style` with its :data:`~nbtrain.ui.style.DEMO` look (two figures side by side fill a
1280×720 projector), so lecture mode and themes reach the demos as they reach the Lab.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bqplot as bq
import ipywidgets as widgets

from nbtrain.serving import html_text
from nbtrain.ui import style
from nbtrain.ui.figure_tools import add_toolbars
from nbtrain.ui.guard import guard_all

CONTROL_LAYOUT = widgets.Layout(width="auto", min_width="260px")


def slider(description: str, value: float, lo: float, hi: float, step: float, *, log: bool = False,
           readout_format: str = ".3g") -> widgets.Widget:
    """A float slider that only reports on release (each change recomputes a demo)."""
    common = dict(description=description, value=value, continuous_update=False, style=style.LABEL_STYLE,
                  readout_format=readout_format, layout=CONTROL_LAYOUT)
    if log:
        import math

        return widgets.FloatLogSlider(base=10, min=math.log10(lo), max=math.log10(hi), step=step, **common)
    return widgets.FloatSlider(min=lo, max=hi, step=step, **common)


def int_slider(description: str, value: int, lo: int, hi: int, step: int = 1) -> widgets.IntSlider:
    return widgets.IntSlider(description=description, value=value, min=lo, max=hi, step=step,
                             continuous_update=False, style=style.LABEL_STYLE, layout=CONTROL_LAYOUT)


def dropdown(description: str, options: list[Any], value: Any) -> widgets.Dropdown:
    return widgets.Dropdown(description=description, options=options, value=value, style=style.LABEL_STYLE,
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
        self.legends: list[tuple[list[bq.Mark], widgets.HTML]] = []  # legend rows under their figures
        self._updating = False
        rows = rows or [list(controls)]
        control_rows = [widgets.HBox([controls[n] for n in row]) for row in rows]
        for r in control_rows:
            r.add_class("nbtrain-controlrow")  # controls wrap on a narrow screen instead of scrolling
        control_box = widgets.VBox(control_rows)
        figure_rows = [[self._with_legend(f) for f in row] for row in (figure_rows or [figures])]
        children: list[widgets.Widget] = [style.stylesheet()]
        if intro:
            children.append(widgets.HTML(f"<div style='font-size:15px'>{intro}</div>"))
        children += [control_box, *[_figure_row(r) for r in figure_rows], self.status]
        super().__init__(children)
        style.view_classes(self, "nbtrain-demo")
        self.figure_boxes = add_toolbars(self)  # "PNG" / "SVG" on each figure: nbtrain-<its title>.png
        # linear axes the demo leaves to bqplot get a few round ticks inside their domain after every draw
        self._free_axes = style.free_axes(figures)
        for control in controls.values():
            control.observe(self._on_change, names="value")
        self.update()
        guard_all([self])  # the kernel, not the page, enforces every control's bounds

    def _with_legend(self, fig: widgets.Widget) -> widgets.Widget:
        """A figure whose marks show a legend, with that legend as a row under it (bqplot draws legends
        inside the plot area, over the data); other figures as they are."""
        marks = [m for m in getattr(fig, "marks", ()) if getattr(m, "display_legend", False)]
        if not marks or not isinstance(fig, bq.Figure):
            return fig
        cell = style.with_legend(fig, marks)
        cell.layout.width = fig.layout.width  # its share of the row (the figure fills the box)
        self.legends.append((marks, cell.children[1]))
        return cell

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
                # the text may hold what a visitor typed: escaped, and without server paths
                self.status.value = f"<span style='color:#c00; font-size:15px'>{html_text(err)}</span>"
                return
            self.result = result
            with style.hold([w for fig in self.figures for w in (*fig.marks, fig)]):
                message = self._draw(result)
                style.round_ticks(self._free_axes)
            for marks, legend in self.legends:  # labels a draw renamed (e.g. the activations compared)
                html = style.legend_html(marks)
                if legend.value != html:
                    legend.value = html
        finally:
            self._updating = False
        self.status.value = f"<span style='font-size:15px'>{message}</span>" if message else ""
