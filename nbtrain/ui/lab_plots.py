"""The Lab's figures and marks: loss, accuracy, decision boundary, the per-layer panel and the schedule preview.

Part of :class:`~nbtrain.ui.lab.Lab` (a mixin): builds the bqplot figures once, registering them in
``lab.figures`` / ``lab.marks`` (``loss_lines``, ``acc_lines``, ``layer_lines``); the publisher
(:mod:`nbtrain.ui.lab_publish`) only assigns their data. The schedule preview is redrawn from the config.
Each figure is shown in a :class:`~nbtrain.ui.figure_tools.FigureBox` (``lab.figure_boxes``): its "PNG" /
"SVG" buttons download it as ``nbtrain-<figure>-step<N>.<png|svg>``.
"""

from __future__ import annotations

from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nbtrain.engine import schedules

from . import style
from .figure_tools import FigureBox

PERCENT_TICKS = [0.0, 25.0, 50.0, 75.0, 100.0]


class LabPlots:
    """The plot grid (a CSS grid that reflows with the width) and the learning-rate schedule preview; a figure
    with a legend sits in a box with its legend row under it (``lab.figure_cells``, ``lab.legends``)."""

    def _figure_box(self, key: str) -> FigureBox:
        """``figures[key]`` with its download toolbar (files named by the figure and the run's step)."""
        box = FigureBox(self.figures[key], key.replace("_", "-"), step=lambda: self.trainer.global_step)
        self.figure_boxes[key] = box
        return box

    # ---- schedule preview ---------------------------------------------------------------------------
    def _build_preview(self) -> widgets.Widget:
        x = bq.LinearScale(min=0.0)
        y = bq.LinearScale(min=0.0)
        unit = bq.LinearScale(min=0.0, max=1.0)
        planned = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.PREVIEW],
                           line_style=style.DASHED, stroke_width=2, labels=["planned"], display_legend=True)
        used = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.LR], stroke_width=2.5,
                        labels=["used"], display_legend=True)
        now = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": unit}, colors=["#333333"], stroke_width=1.5,
                       line_style="dotted")
        fig = style.figure([planned, used, now], [style.axis(x, "step"), style.axis(y, "learning rate", vertical=True)],
                           "learning-rate schedule", height="200px", margin=dict(style.MARGIN, top=30))
        fig.add_class("nbtrain-schedule-preview")
        self.figures["schedule"] = fig
        self.marks.update(schedule_preview=planned, lr=used, now=now)
        cell = self._with_legend("schedule", fig)
        cell.add_class("nbtrain-schedule-cell")
        return cell

    def _with_legend(self, name: str, fig: bq.Figure) -> widgets.VBox:
        """``fig`` with its legend row under it (``lab.legends[name]``, kept in step with the figure's
        labelled marks by :meth:`_legend_updates`): bqplot would draw it inside the plot area, over the curves."""
        cell = style.with_legend(fig)
        cell.children = (self._figure_box(name), *cell.children[1:])  # the figure with its download toolbar
        cell.add_class(f"nbtrain-cell-{name.replace('_', '-')}")
        self.legends[name] = (fig, cell.children[1])
        self.figure_cells[name] = cell
        return cell

    def _legend_updates(self) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """New legend rows for figures whose labelled series changed (layers named, a fork drawn or closed)."""
        out = []
        for fig, legend in self.legends.values():
            for m in fig.marks:
                if getattr(m, "display_legend", False):  # a mark added later (a fork): the row shows it instead
                    m.display_legend = False
            html = style.legend_html(fig.marks)
            if legend.value != html:
                out.append((legend, {"value": html}))
        return out

    def _draw_preview(self) -> None:
        """Redraw the planned schedule from the current config (config observer, caller's thread): over
        [start, start + T], start being the step the schedule was chosen at (0 unless chosen mid-run)."""
        cfg = self.config
        start = self._preview_start = self._schedule_start()
        T = self._horizon()
        steps = np.unique(np.linspace(0, T, 400).astype(np.int64))
        try:
            s = schedules.make(cfg.schedule, cfg.lr, T, warmup_steps=cfg.warmup_steps, **cfg.schedule_params)
            lrs = s.curve(steps)
        except Exception:  # noqa: BLE001 - an in-between state while editing; keep the last preview
            return
        mark = self.marks["schedule_preview"]
        end, ticks = style.nice_step_ticks(start + T, max_ticks=3)
        fig = self.figures["schedule"]
        x_axis = fig.axes[0]
        with style.hold([mark, x_axis.scale, x_axis]):
            mark.x = (start + steps).astype(np.int32)
            mark.y = lrs.astype(np.float32)
            x_axis.scale.max = float(end)
            x_axis.tick_values = np.asarray(ticks, dtype=np.float64)
        style.apply(style.fit_axis(fig.axes[1], lrs, max_ticks=4))

    # ---- plots ------------------------------------------------------------------------------------
    def _build_plots(self) -> widgets.Widget:
        # one step axis (and scale) for the loss, accuracy and per-layer figures: it starts at 0 (marker padding
        # would otherwise push it below) and grows with the run, one message for all five figures
        x = bq.LinearScale(min=0.0)
        step_axis = style.axis(x, "step")
        self._loss_scales = {"linear": bq.LinearScale(), "log": bq.LogScale()}
        y = self._loss_scales["linear"]
        unit = bq.LinearScale(min=0.0, max=1.0)
        train = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.TRAIN], stroke_width=1.5,
                         labels=["train"], display_legend=True)
        val = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.VAL], stroke_width=2.5,
                       line_style=style.DASHED, labels=["val"], display_legend=True, marker="circle",
                       marker_size=12)
        ev_lines = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": unit}, colors=[style.EVENT],
                            stroke_width=1, line_style="dotted")
        ev_tip = bq.Tooltip(fields=["x", "name"], labels=["step", "change"])
        ev_points = bq.Scatter(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": unit}, colors=[style.EVENT],
                               marker="triangle-down", default_size=90, names=[], display_names=False,
                               tooltip=ev_tip, stroke="#555555")
        self._loss_axis = style.axis(y, "cross-entropy loss (nats)", vertical=True)
        loss = style.figure([train, val, ev_lines, ev_points], [step_axis, self._loss_axis], "loss")
        self.loss_lines = {"train": train, "val": val}
        self.marks.update(loss_train=train, loss_val=val, events=ev_lines, event_markers=ev_points)

        # accuracy
        y = bq.LinearScale(min=0.0, max=100.0)
        a_train = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.TRAIN], stroke_width=2,
                           labels=["train"], display_legend=True)
        a_val = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.VAL], stroke_width=2.5,
                         line_style=style.DASHED, labels=["val"], display_legend=True)
        acc = style.figure([a_train, a_val], [step_axis, style.axis(y, "accuracy (%)", vertical=True,
                                                                               tick_values=PERCENT_TICKS)],
                           "accuracy", legend_location="bottom-right")
        self.acc_lines = {"train": a_train, "val": a_val}
        self.marks.update(acc_train=a_train, acc_val=a_val)

        # decision boundary
        bx, by = bq.LinearScale(), bq.LinearScale()
        heat_colours = bq.ColorScale(min=0.0, max=1.0, colors=["#ffffff", "#ffffff"])
        heat = bq.HeatMap(x=np.array([0.0, 1.0]), y=np.array([0.0, 1.0]), color=np.zeros((2, 2)),
                          scales={"x": bx, "y": by, "color": heat_colours}, visible=False)
        point_colours = bq.ColorScale(min=0.0, max=1.0, colors=style.CLASSES[:2])
        points = bq.Scatter(x=np.zeros(0), y=np.zeros(0), color=np.zeros(0),
                            scales={"x": bx, "y": by, "color": point_colours}, default_size=22, stroke="#ffffff",
                            stroke_width=0.8, visible=False)
        self._boundary_axes = (style.axis(bx, "x₁", tick_format=".3~g"),
                               style.axis(by, "x₂", vertical=True, tick_format=".3~g"))
        boundary = style.figure([heat, points], list(self._boundary_axes), "decision boundary")
        self.marks.update(boundary=heat, points=points)

        # per-layer panel (each figure with the layers' legend row: it reads alone, on a projector too)
        def layer_fig(key: str, title: str, ylabel: str, log: bool = False, ymax: float | None = None) -> bq.Figure:
            sy = bq.LogScale() if log else bq.LinearScale(min=0.0, max=ymax) if ymax else bq.LinearScale()
            lines = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": sy}, stroke_width=2)
            self.marks[key] = lines
            extra = {"tick_values": PERCENT_TICKS} if ymax == 100.0 else {}
            return style.figure([lines], [step_axis, style.axis(sy, ylabel, vertical=True, **extra)], title)

        std = layer_fig("act_std", "activation spread per layer", "std of activations")
        sat = layer_fig("saturation", "saturated / dead units", "units (%)", ymax=100.0)
        grad = layer_fig("grad_norm", "weight-gradient norm per layer", "‖∇W‖ (L2)", log=True)
        self.layer_lines = {"act_std": self.marks["act_std"], "saturation": self.marks["saturation"],
                            "grad_norm": self.marks["grad_norm"]}
        self.figures.update(loss=loss, accuracy=acc, boundary=boundary, act_std=std, saturation=sat, grad_norm=grad)
        for name, fig in self.figures.items():
            fig.add_class(f"nbtrain-fig-{name.replace('_', '-')}")
        cells = {name: self._with_legend(name, self.figures[name])
                 for name in ("loss", "accuracy", "act_std", "saturation", "grad_norm")}
        self._plot_children = [cells["loss"], cells["accuracy"], self._figure_box("boundary"), cells["act_std"],
                               cells["saturation"], cells["grad_norm"]]
        grid = widgets.Box(self._plot_children)  # a CSS grid (style.CSS): reflows with the width
        grid.add_class("nbtrain-plots")
        self._plot_grid = grid
        return grid

    def _on_log_loss(self, change: dict) -> None:
        scale = self._loss_scales["log" if change["new"] else "linear"]
        marks = list(self.loss_lines.values())
        with style.hold([*marks, self._loss_axis]):
            for m in marks:
                m.scales = {**m.scales, "y": scale}
            self._loss_axis.scale = scale
            style.apply(self._loss_axis_updates())

    def _loss_axis_updates(self, ys: list | None = None) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """Round domain and ticks for the loss shown (from 0 on the linear scale; decades on the log one)."""
        if ys is None:
            ys = [self.loss_lines[k].y for k in ("train", "val")]
        return style.fit_axis(self._loss_axis, np.concatenate([np.asarray(y, float).ravel() for y in ys]))
