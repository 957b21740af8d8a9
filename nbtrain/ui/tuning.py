"""Views of the tuning workflow: the LR-finder curve and a live search dashboard (ipywidgets + bqplot).

They only mirror the tuning tools' results (an :class:`~nbtrain.tuning.lr_finder.LRFinderResult`, a running
or finished :class:`~nbtrain.tuning.search.Search`); nothing here trains or computes a metric.

- ``find_lr(...)`` (``nt.find_lr``): the LR range test of :mod:`nbtrain.tuning.lr_finder`, whose result
  draws itself: ``nt.find_lr(...).plot()``.
- ``lr_finder_view(result)``: loss vs learning rate on a log axis (raw and smoothed), the suggestions marked.
- ``search_view(search)``: the results table, the metric against each searched hyper-parameter (log axis for
  log-uniform dimensions) and the best runs' validation curves overlaid; it updates as trials finish and has
  a button that cancels the search.

>>> import nbtrain as nt
>>> from nbtrain.ui.tuning import search_view
>>> s = nt.search.grid({"lr": nt.search.loguniform(0.01, 1.0)}, points=2, data="moons", hidden=[8],
...                    max_steps=20, executor="sequential")
>>> v = search_view(s)
>>> type(v.scatter_figures["lr"].marks[0].scales["x"]).__name__
'LogScale'
"""

from __future__ import annotations

import dataclasses
import functools
import html
import math
import threading
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
import pandas as pd

from ..tuning import lr_finder
from ..tuning.lr_finder import LRFinderResult
from ..tuning.space import Choice
from . import style
from .figure_tools import add_toolbars

__all__ = ["LRFinderPlot", "LRFinderView", "SearchView", "find_lr", "lr_finder_view", "search_view"]

SUGGESTION_COLOURS = {"steepest": style.OK, "min/10": style.WARN}


# -------------------------------------------------------------------------------------------------------
# LR finder
# -------------------------------------------------------------------------------------------------------
class LRFinderView(widgets.VBox):
    """The LR-finder figure (``figure``; marks in ``marks``: raw, smoothed, one line per suggestion) and a
    one-line summary (``summary``)."""

    def __init__(self, result: Any):
        self.result = result
        lrs, raw, sm = (np.asarray(a, float) for a in (result.lrs, result.losses, result.smoothed))
        finite = lrs[np.isfinite(lrs) & (lrs > 0)]
        x = bq.LogScale(**({"min": float(finite.min()), "max": float(finite.max())} if len(finite) else {}))
        lr_ticks, lr_fmt = style.log_ticks(finite if len(finite) else [1e-3, 1.0])
        top = float(np.nanmax(sm[: max(1, len(sm) // 3)])) if len(sm) else 1.0
        low = float(np.nanmin(sm)) if len(sm) else 0.0
        y = bq.LinearScale(min=max(0.0, low - 0.1 * (top - low)), max=top * 1.25 if top > 0 else 1.0)
        scales = {"x": x, "y": y}
        _, _, y_ticks = style.nice_ticks(y.min, y.max, 5, inside=True)
        self.marks: dict[str, bq.Mark] = {
            "raw": bq.Lines(x=lrs, y=raw, scales=scales, colors=[style.tint(style.TRAIN, 0.6)], labels=["loss"],
                            stroke_width=1, display_legend=True),
            "smoothed": bq.Lines(x=lrs, y=sm, scales=scales, colors=[style.TRAIN], labels=["smoothed"],
                                 stroke_width=2.5, display_legend=True),
        }
        for name, lr in result.suggestions.items():
            if lr is None or not math.isfinite(lr):
                continue
            self.marks[name] = bq.Lines(x=[lr, lr], y=[y.min, y.max], scales=scales,
                                        colors=[SUGGESTION_COLOURS.get(name, style.EVENT)], line_style="dashed",
                                        labels=[f"{name}: {lr:.2g}"], stroke_width=2, display_legend=True)
        self.figure = style.figure(list(self.marks.values()),
                                   [style.axis(x, "learning rate (log scale)", tick_values=lr_ticks, tick_format=lr_fmt),
                                    style.axis(y, "training loss", vertical=True, tick_values=y_ticks)],
                                   "LR range test", height="320px")
        sug = ", ".join(f"{k} = {v:.3g}" for k, v in result.suggestions.items() if math.isfinite(v))
        self.summary = widgets.HTML(style.html_status(
            f"{len(lrs)} iterations ({result.stopped}). Suggested: {sug or 'none'} — hints only: pick a rate "
            "where the smoothed loss falls steeply, well before it turns up."))
        # the legend under the figure: inside it, it covered the steep part of the curve
        super().__init__([style.stylesheet(), style.with_legend(self.figure), self.summary])
        style.view_classes(self, "nbtrain-tuning", "nbtrain-lr-finder")
        self.figure_boxes = add_toolbars(self)  # "PNG" / "SVG": nbtrain-lr-range-test.png


def lr_finder_view(result: Any) -> LRFinderView:
    """Plot an LR-finder result: loss vs learning rate (log x), raw and smoothed, suggestions dashed.

    >>> import numpy as np
    >>> from nbtrain.tuning.lr_finder import LRFinderResult
    >>> lrs = np.geomspace(1e-5, 1, 50); loss = 2 - np.tanh(np.log10(lrs) + 3)
    >>> v = lr_finder_view(LRFinderResult(lrs, loss, loss, {"steepest": 1e-3, "min/10": 0.1}, "finished", (5, 45)))
    >>> type(v.figure.marks[0].scales["x"]).__name__
    'LogScale'
    """
    return LRFinderView(result)


class LRFinderPlot(LRFinderResult):
    """What ``nt.find_lr`` returns: the sweep's :class:`~nbtrain.tuning.lr_finder.LRFinderResult`, which
    also draws itself (``plot()``)."""

    def plot(self) -> LRFinderView:
        """The curve with log-x and the suggestions marked (a bqplot figure in an ipywidgets box)."""
        return lr_finder_view(self)


@functools.wraps(lr_finder.find_lr)
def find_lr(*args: Any, **kwargs: Any) -> LRFinderPlot:
    result = lr_finder.find_lr(*args, **kwargs)
    return LRFinderPlot(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})


# -------------------------------------------------------------------------------------------------------
# search
# -------------------------------------------------------------------------------------------------------
def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)


def _label(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


class SearchView(widgets.VBox):
    """Live dashboard of a :class:`~nbtrain.tuning.search.Search`.

    Public parts (for tests and scripts): ``table`` (HTML), ``status`` (HTML), ``cancel_button``,
    ``scatter_figures`` / ``scatters`` (per searched field), ``curve_figure`` / ``curves`` (the ``top``
    best trials' validation curves). ``refresh()`` redraws from ``search.results``; it is called after every
    finished trial (from a background thread: only trait values are set, inside ``hold_sync``).
    """

    def __init__(self, search: Any, *, top: int = 3, rows: int = 12):
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= len(style.RUNS):
            raise ValueError(f"top={top!r} must be an integer in [1, {len(style.RUNS)}]")
        self.search, self.top, self.rows = search, top, rows
        self.metric = search.metric
        self._lock = threading.Lock()
        self.status = widgets.HTML()
        self.table = widgets.HTML(layout=widgets.Layout(max_height="330px", overflow="auto", max_width="100%"))
        self.table.add_class("nbtrain-results")
        self.cancel_button = widgets.Button(description="Cancel search", icon="stop", button_style="warning",
                                            tooltip="stop the outstanding trials (finished ones are kept)")
        self.cancel_button.on_click(lambda _b: self.search.cancel())
        # one scatter per searched field: metric vs value (log axis for log-uniform dimensions)
        self.scatters: dict[str, bq.Scatter] = {}
        self.best_marks: dict[str, bq.Scatter] = {}
        self.scatter_figures: dict[str, bq.Figure] = {}
        y_label = self.metric.replace("_", " ")
        for name, dim in search.space.items():
            values = dim.bounds()
            log_ticks: dict[str, Any] = {}
            if getattr(dim, "log", False):
                lo, hi = float(min(values)), float(max(values))
                # an explicit domain: a log scale without one (no finished trial yet) draws no axis at all
                xs: bq.Scale = bq.LogScale(min=lo / 1.25, max=hi * 1.25)
                ticks, fmt = style.log_ticks([lo, hi])
                log_ticks = {"tick_values": ticks, "tick_format": fmt}
            elif isinstance(dim, Choice) or not _numeric(values):  # a choice is a set of categories
                xs = bq.OrdinalScale(domain=[_label(v) for v in values])
            else:
                xs = bq.LinearScale()
            ys = bq.LinearScale(**({"min": 0.0, "max": 1.0} if self.metric.endswith("acc") else {}))
            sc = {"x": xs, "y": ys}
            pts = bq.Scatter(x=[], y=[], scales=sc, colors=[style.TRAIN], default_size=48, stroke="white",
                             tooltip=bq.Tooltip(fields=["x", "y"], formats=[".3g", ".3g"]))
            best = bq.Scatter(x=[], y=[], scales=sc, colors=[style.ERROR], default_size=110, marker="diamond")
            self.scatters[name], self.best_marks[name] = pts, best
            self.scatter_figures[name] = style.figure(
                [pts, best], [style.axis(xs, name + (" (log scale)" if dim.log else ""), **log_ticks),
                              style.axis(ys, y_label, vertical=True)],
                f"{y_label} vs {name}", height="260px")
        # the best runs' validation curves
        cx, cy = bq.LinearScale(min=0.0), bq.LinearScale()
        self.curves = [bq.Lines(x=[], y=[], scales={"x": cx, "y": cy}, colors=[style.RUNS[i]], labels=[""],
                                stroke_width=2) for i in range(top)]
        curve_col = "val_acc" if self.metric.endswith("acc") else "val_loss"
        self._curve_col = curve_col
        self.curve_figure = style.figure(self.curves, [style.axis(cx, "step"),
                                                       style.axis(cy, curve_col.replace("_", " "), vertical=True)],
                                         f"best {top} runs: {curve_col.replace('_', ' ')}", height="280px")
        # the runs' names under the figure (long labels do not fit a legend inside a 300 px figure)
        self.curve_legend = style.legend()
        self.curve_legend.add_class("nbtrain-curve-legend")
        scatter_box = widgets.Box([*self.scatter_figures.values(),
                                   widgets.VBox([self.curve_figure, self.curve_legend])])
        scatter_box.add_class("nbtrain-figgrid")  # a CSS grid with a minimum column width (style.CSS)
        head = widgets.HBox([self.status, self.cancel_button], layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__([style.stylesheet(), head, self.table, scatter_box])
        style.view_classes(self, "nbtrain-tuning", "nbtrain-search")
        self.figure_boxes = add_toolbars(self)  # "PNG" / "SVG" on each figure, named by its title
        self.refresh()
        self._unsubscribe = search.subscribe(lambda _s: self.refresh())

    # ---- drawing ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw everything from the search's current results."""
        with self._lock:
            df = self.search.results
            self._draw_status(df)
            self._draw_table(df)
            done = df[np.isfinite(df[self.metric].to_numpy(float))]
            marks: list[widgets.Widget] = [*self.scatters.values(), *self.best_marks.values(), *self.curves]
            with style.hold(marks):
                self._draw_scatters(done)
                self._draw_curves(done)
            updates = []
            for name, fig in self.scatter_figures.items():
                y_axis = fig.axes[1]
                updates += style.fit_axis(y_axis, self.scatters[name].y, zero=False, max_ticks=4)
                x_scale = self.scatters[name].scales["x"]
                if isinstance(x_scale, bq.LinearScale) and len(self.scatters[name].x):
                    updates += style.fit_axis(fig.axes[0], np.asarray(self.scatters[name].x, float), zero=False,
                                              max_ticks=4)
            ys = [np.asarray(c.y, float).ravel() for c in self.curves]
            steps = [np.asarray(c.x, float).ravel() for c in self.curves]
            updates += style.fit_axis(self.curve_figure.axes[1], np.concatenate(ys) if ys else None, zero=False, max_ticks=4)
            last = float(max((s.max() for s in steps if s.size), default=0.0))
            end, step_ticks = style.nice_step_ticks(last)
            updates += [(self.curve_figure.axes[0].scale, {"min": 0.0, "max": end}),
                        (self.curve_figure.axes[0], {"tick_values": step_ticks})]
            style.apply(updates)
            self.curve_legend.value = style.legend_html([c for c in self.curves if len(c.x)])

    def _draw_status(self, df: pd.DataFrame) -> None:
        s = self.search
        counts = df["status"].value_counts().to_dict()
        parts = [f"{n} {k}" for k, n in counts.items()]
        text = f"{s.kind} search, {s.n_done}/{len(s)} trials done ({', '.join(parts)}); metric {self.metric} ({s.mode})"
        self.status.value = style.html_status(text, style.OK if s.done else None)
        self.cancel_button.disabled = s.done

    def _draw_table(self, df: pd.DataFrame) -> None:
        shown = df.drop(columns=["curve"]).head(self.rows).copy()
        shown["error"] = shown["error"].map(lambda e: (e[:60] + "…") if isinstance(e, str) and len(e) > 60 else e)
        more = f"<div>… {len(df) - self.rows} more rows: search.results</div>" if len(df) > self.rows else ""
        # numbers right-aligned under right-aligned headers, text left (style.CSS: table.nbtrain-table)
        text_cols = [c for c in shown.columns if not pd.api.types.is_numeric_dtype(shown[c])]
        table = shown.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", escape=True, border=0,
                              classes="nbtrain-table", justify="right")
        self.table.value = _left_align(table, [list(shown.columns).index(c) for c in text_cols]) + more

    def _draw_scatters(self, done: pd.DataFrame) -> None:
        best_i = (done.index[0] if len(done) else None)
        for name, mark in self.scatters.items():
            xs = done[name].tolist()
            ordinal = isinstance(mark.scales["x"], bq.OrdinalScale)
            if ordinal:
                xs = [_label(v) for v in xs]
            mark.x, mark.y = np.asarray(xs, dtype=object if ordinal else float), done[self.metric].to_numpy(float)
            best = self.best_marks[name]
            if best_i is not None:
                bx = _label(done.loc[best_i, name]) if ordinal else float(done.loc[best_i, name])
                best.x, best.y = np.asarray([bx], dtype=object if ordinal else float), [float(done.loc[best_i, self.metric])]
            else:
                best.x, best.y = np.asarray([], dtype=object if ordinal else float), []

    def _draw_curves(self, done: pd.DataFrame) -> None:
        params = list(self.search.space)
        for i, line in enumerate(self.curves):
            if i < len(done):
                row = done.iloc[i]
                curve = row["curve"] or {}
                line.x = np.asarray(curve.get("step", []), float)
                line.y = np.asarray(curve.get(self._curve_col, []), float)
                desc = ", ".join(f"{p}={_label(row[p])}" for p in params[:3])
                line.labels = [html.escape(f"#{int(row['trial'])}: {desc}")]
            else:
                line.x, line.y, line.labels = np.array([]), np.array([]), [""]

    def close(self) -> None:
        """Stop following the search and close the widgets."""
        unsubscribe = getattr(self, "_unsubscribe", None)
        if unsubscribe is not None:
            unsubscribe()
        super().close()


def _left_align(table_html: str, columns: list[int]) -> str:
    """Give the header and cells of the text ``columns`` (0-based) of a pandas HTML table the left class."""
    if not columns:
        return table_html
    import re

    def fix_row(row: re.Match) -> str:
        cells = re.split(r"(?=<t[hd][ >])", row.group(0))
        out, i = [], -1
        for part in cells:
            if part.startswith(("<th", "<td")):
                i += 1
                if i in columns:
                    part = re.sub(r"^<(t[hd])( style=\"[^\"]*\")?", r"<\1 class='nbtrain-left'", part, count=1)
            out.append(part)
        return "".join(out)

    return re.sub(r"<tr[^>]*>.*?</tr>", fix_row, table_html, flags=re.S)


def search_view(search: Any, *, top: int = 3, rows: int = 12) -> SearchView:
    """A live dashboard of ``search`` (from ``nt.search.grid``/``random``, finished or running with
    ``wait=False``): results table, metric vs each hyper-parameter, the ``top`` best runs' curves, and a
    cancel button. See :class:`SearchView`."""
    return SearchView(search, top=top, rows=rows)
