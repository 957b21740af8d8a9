"""``compare``: overlaid curves of several runs, labelled by the settings that differ between them.

Each run keeps one colour in every figure; training curves are solid, validation curves dashed. The
legend lists only what differs (``lr=0.5 · activation=relu``), with each run's best validation numbers.
Runs that are still training keep streaming (same bounded publisher as :class:`~nbtrain.ui.lab.Lab`).

>>> import nbtrain as nt
>>> a = nt.Trainer(data="moons", hidden=[8], lr=0.1, max_steps=30); b = nt.Trainer(data="moons", hidden=[8], lr=1.0, max_steps=30)
>>> _ = a.start(), b.start(); _ = a.wait(), b.wait()
>>> view = nt.compare([a, b])
>>> view.labels
['lr=0.1', 'lr=1']
>>> view.close()
"""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Sequence
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..tuning.targets import trainer_in
from . import style
from .figure_tools import add_toolbars
from .stream import Publisher, StreamDecimator, TableFeed
from .util import close_all

IGNORED = ("eval_every", "stats_every")  # measurement settings are not what a comparison is about


def differing_settings(configs: Sequence[Any], max_items: int = 4) -> list[str]:
    """For each config, ``"field=value · ..."`` of the fields whose values differ between the configs.

    >>> from nbtrain import TrainConfig
    >>> differing_settings([TrainConfig(lr=0.1), TrainConfig(lr=0.5, activation="tanh")])
    ['lr=0.1 · activation=relu', 'lr=0.5 · activation=tanh']
    """
    dicts = [c.to_dict() if hasattr(c, "to_dict") else dict(c) for c in configs]
    if len(dicts) < 2:
        return ["" for _ in dicts]
    keys = [k for k in dicts[0] if k not in IGNORED and any(d.get(k) != dicts[0].get(k) for d in dicts[1:])]
    # the fields a person turns first come first
    order = ("lr", "optimizer", "schedule", "activation", "init", "batch_size", "dropout", "weight_decay")
    keys.sort(key=lambda k: (order.index(k) if k in order else len(order), k))
    out = []
    for d in dicts:
        parts = [f"{k}={_short(d.get(k))}" for k in keys[:max_items]]
        if len(keys) > max_items:
            parts.append(f"+{len(keys) - max_items} more")
        out.append(" · ".join(parts))
    return out


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_short(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v) + "]"
    return str(v)


class Comparison(widgets.VBox):
    """The widget :func:`compare` returns: loss, accuracy and learning-rate figures plus a legend table.

    ``runs`` are the trainers compared, ``labels`` their legend texts, ``lines[name][i]`` the mark of
    series ``name`` (train_loss, val_loss, train_acc, val_acc, lr) for run ``i``. ``refresh()`` updates
    the figures now; with ``live=True`` a publisher thread does it while runs change. ``close()`` ends it.
    """

    SERIES = (("train_loss", "steps", "loss"), ("val_loss", "evals", "loss"), ("train_acc", "evals", "accuracy"),
              ("val_acc", "evals", "accuracy"), ("lr", "steps", "lr"))

    def __init__(self, runs: Sequence[Any], labels: Sequence[str] | None = None, *, live: bool = True,
                 interval: float = 0.5, max_points: int = 1000):
        self.runs = [_trainer_of(r) for r in runs]
        if not self.runs:
            raise ValueError("compare() needs at least one run (a Lab or a Trainer)")
        if labels is None:
            diff = differing_settings([r.config for r in self.runs])
            labels = [d or f"run {i + 1}" for i, d in enumerate(diff)]
        elif len(labels) != len(self.runs):
            raise ValueError(f"labels has {len(labels)} entries for {len(self.runs)} runs")
        self.labels = list(labels)
        self.colours = [style.RUNS[i % len(style.RUNS)] for i in range(len(self.runs))]
        self._lock = threading.RLock()
        self._closed = False
        self._last_key: tuple | None = None
        self._feeds = [(TableFeed("steps", ("step", "train_loss", "lr")),
                        TableFeed("evals", ("step", "val_loss", "val_acc", "train_acc"))) for _ in self.runs]
        self._dec = [{name: StreamDecimator(max_points) for name, _, _ in self.SERIES} for _ in self.runs]

        scales = {fig: (bq.LinearScale(min=0.0), bq.LinearScale(min=0.0, max=100.0) if fig == "accuracy" else bq.LinearScale())
                  for fig in ("loss", "accuracy", "lr")}
        self.lines: dict[str, list[bq.Lines]] = {name: [] for name, _, _ in self.SERIES}
        for i, colour in enumerate(self.colours):
            for name, _, fig in self.SERIES:
                sx, sy = scales[fig]
                dashed = name.startswith("val")
                self.lines[name].append(bq.Lines(
                    x=np.zeros(0), y=np.zeros(0), scales={"x": sx, "y": sy}, colors=[colour],
                    stroke_width=2.5 if dashed else 1.5, line_style=style.DASHED if dashed else "solid",
                    labels=[f"{self.labels[i]} ({'val' if dashed else 'train'})"]))
        titles = {"loss": ("loss", "cross-entropy loss (nats)"), "accuracy": ("accuracy", "accuracy (%)"),
                  "lr": ("learning rate", "learning rate")}
        self.figures = {}
        for fig, (title, ylabel) in titles.items():
            sx, sy = scales[fig]
            marks = [m for name, _, f in self.SERIES if f == fig for m in self.lines[name]]
            extra = {"tick_values": [0.0, 25.0, 50.0, 75.0, 100.0]} if fig == "accuracy" else {}
            self.figures[fig] = style.figure(marks, [style.axis(sx, "step"), style.axis(sy, ylabel, vertical=True, **extra)],
                                             title, height="300px")
            self.figures[fig].add_class(f"nbtrain-fig-{fig}")
        self.legend = widgets.HTML()
        self.legend.add_class("nbtrain-compare-legend")
        grid = widgets.Box(list(self.figures.values()))  # a CSS grid with a minimum column width (style.CSS)
        grid.add_class("nbtrain-figgrid")
        # "PNG" / "SVG" on each figure: nbtrain-compare-loss-step1234.png (the longest run's step)
        self.figure_boxes = add_toolbars(grid, prefix="compare",
                                         step=lambda: max((r.global_step for r in self.runs), default=0))
        note = widgets.HTML("<span class='nbtrain-muted' style='font-size:14px'>solid: training · dashed: validation</span>")
        super().__init__([style.stylesheet(), grid, note, self.legend], layout=widgets.Layout(width="100%"))
        style.view_classes(self, "nbtrain-compare")
        self.refresh(force=True)
        self._publisher = Publisher(self._tick, interval=interval, name="nbtrain-compare-publisher").start() if live else None

    def __repr__(self) -> str:
        return f"Comparison({len(self.runs)} runs: {'; '.join(self.labels)})"

    def _tick(self) -> None:
        if self.comm is None:
            self._stop()
            return
        self.refresh()

    def refresh(self, force: bool = False) -> bool:
        """Update the figures from the runs' histories; returns True if anything was sent."""
        with self._lock:
            if self._closed:
                return False
            key = tuple((r.metrics.version, r.state) for r in self.runs)
            if key == self._last_key and not force:
                return False
            self._last_key = key
            updates = []
            for i, run in enumerate(self.runs):
                dec = self._dec[i]
                for feed in self._feeds[i]:
                    restarted, new = feed.read(run.metrics)
                    for col in feed.columns[1:]:
                        d = dec[col]
                        if restarted:
                            d.clear()
                        d.extend(new["step"], new[col] * (100.0 if col.endswith("acc") else 1.0))
                for name, _, _ in self.SERIES:
                    d = dec[name]
                    if d.changed:
                        d.changed = False
                        x, y = d.arrays()
                        updates.append((self.lines[name][i], {"x": x.astype(np.int32), "y": y.astype(np.float32)}))
            # step axes from 0 with a few round ticks, refitted when the longest run passes the last one
            updates += style.fit_step_axes([f.axes[0] for f in self.figures.values()],
                                           max((r.global_step for r in self.runs), default=0))
            for fig in ("loss", "lr"):  # round domains and ticks for what is shown
                ys = [np.asarray(m.y, float).ravel() for m in self.figures[fig].marks]
                pending = {id(w): t for w, t in updates}
                ys += [np.asarray(pending[id(m)]["y"], float).ravel() for m in self.figures[fig].marks
                       if id(m) in pending]
                updates += style.fit_axis(self.figures[fig].axes[1], np.concatenate(ys) if ys else None)
            style.apply(updates)
            self.legend.value = self._legend_html()
            return True

    def _legend_html(self) -> str:
        rows = []
        for run, label, colour in zip(self.runs, self.labels, self.colours):
            ev = run.metrics.eval_frame()
            best_loss = np.nanmin(ev["val_loss"].to_numpy()) if len(ev) and ev["val_loss"].notna().any() else math.nan
            best_acc = np.nanmax(ev["val_acc"].to_numpy()) if len(ev) and ev["val_acc"].notna().any() else math.nan
            rows.append(
                f"<tr><td><span style='display:inline-block;width:28px;height:4px;background:{colour};"
                f"vertical-align:middle'></span></td><td class='nbtrain-left'>{html.escape(label)}</td>"
                f"<td>{run.global_step:,}</td>"
                f"<td>{_num(best_loss, '.3f')}</td>"
                f"<td>{_num(100 * best_acc, '.1f')}</td><td class='nbtrain-left'>{html.escape(run.state)}</td></tr>")
        head = ("<tr><th></th><th class='nbtrain-left'>run (settings that differ)</th><th>steps</th>"
                "<th>best val loss</th><th>best val acc (%)</th><th class='nbtrain-left'>state</th></tr>")
        return (f"<table class='nbtrain-table' style='font-size:15px'>{head}{''.join(rows)}</table>")

    def _stop(self) -> None:
        with self._lock:
            self._closed = True
        if self._publisher is not None:
            self._publisher.stop()

    @property
    def publishing(self) -> bool:
        return self._publisher is not None and self._publisher.alive

    def close(self) -> None:
        """Stop updating and close every widget of the comparison (the runs are left alone)."""
        if getattr(self, "_lock", None) is not None:
            self._stop()
            close_all([self], keep=[self])
        super().close()


def _num(v: float, fmt: str) -> str:
    return format(v, fmt) if isinstance(v, (int, float)) and math.isfinite(v) else "–"


def _trainer_of(run: Any) -> Any:
    trainer = trainer_in(run)
    if trainer is None:
        raise TypeError(f"compare() takes Labs or Trainers, got {type(run).__name__}")
    return trainer


def compare(runs: Sequence[Any], labels: Sequence[str] | None = None, *, live: bool = True, interval: float = 0.5,
            max_points: int = 1000) -> Comparison:
    """Overlay the loss, accuracy and learning-rate curves of several runs (Labs or Trainers).

    The legend shows the settings that differ between runs (or your ``labels``) and each run's best
    validation loss and accuracy. Live runs keep updating until the view is closed.

    >>> import nbtrain as nt
    >>> runs = [nt.Trainer(data="xor", hidden=[8], activation=a, max_steps=20) for a in ("tanh", "relu")]
    >>> for r in runs: _ = r.start()
    >>> for r in runs: _ = r.wait()
    >>> nt.compare(runs, live=False).labels
    ['activation=tanh', 'activation=relu']
    """
    return Comparison(runs, labels, live=live, interval=interval, max_points=max_points)
