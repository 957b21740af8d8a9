"""The Lab's panels for image data: per-class accuracy, a live confusion matrix, the examples it gets
wrong, and the first layer's filters.

They replace the decision boundary whenever inputs are images (``interpret.is_image``). Numbers come from
:mod:`nbtrain.tuning.interpret`, computed on the live model by ``trainer.submit`` (on the training thread,
between two steps); these widgets only draw them. :meth:`ImagePanels.step` is called by the Lab's
publisher: it asks for a new snapshot when the run evaluated again (or was re-initialised, reset,
paused), at most every ``interval`` seconds, and draws a finished one. While the run trains, the panels'
own work — their snapshots on the training thread plus their drawing on the publisher thread — is kept
under ``BUDGET`` (2 %) of the elapsed time: a snapshot waits until the budget has room for it again.

What each update sends is bounded whatever the run's length or the validation set's size: a K×K matrix
and K bars (K ≤ ``MAX_CLASSES`` shown), ``k`` gallery images and ≤ ``MAX_FILTERS`` filters, each a small
PNG (≤ ``MAX_SIDE`` pixels a side) inside an HTML data URI — never JSON arrays of pixels.

>>> import nbtrain as nt
>>> lab = nt.Lab(data="digits", model="cnn", max_steps=20)
>>> _ = lab.start(); lab.wait()
'finished'
>>> lab.image_panels.shown, lab.image_panels.evaluation.step
(True, 20)
>>> lab.close()
"""

from __future__ import annotations

import base64
import html
import io
import math
import threading
import time
from concurrent.futures import Future
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from nbtrain.tuning import interpret

from . import style
from .figure_tools import FigureBox

MAX_CLASSES = 20  # classes drawn in the matrix and the bars (the ones with most errors / lowest accuracy)
MAX_FILTERS = 64  # first-layer filters drawn
MAX_SIDE = 64  # pixels a side of one encoded example / filter (larger images are downsampled)
GALLERY_K = 8  # examples in the gallery
TILE_PX = 240  # the filter tile is upscaled (nearest) to about this width
BUDGET = 0.02  # share of a running stretch's wall time the panels may spend (snapshots + drawing)
MODES = ("highest loss", "random sample", "selected cell")
LABELS = dict(zip(MODES, ("highest loss", "random", "cell")))  # short: the three fit one row in lecture mode
CORRECT, WRONG = "#2e7d32", "#c62828"
GAP = (198, 219, 239)  # the grid between filters in the tile


# ---------------------------------------------------------------------------------------------------------
# pixels -> PNG


def to_uint8(img: np.ndarray, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """(C, H, W) floats -> (H, W) or (H, W, 3) uint8: pixels already in [0, 1] are kept as they are;
    otherwise (or with ``lo``/``hi`` given) [lo, hi] is stretched to [0, 255]. 3 channels are RGB; any
    other number of channels is drawn as the grey mean over channels."""
    a = np.asarray(img, dtype=np.float32)
    a = a.mean(0, keepdims=True) if a.shape[0] not in (1, 3) else a
    if lo is None or hi is None:
        finite = a[np.isfinite(a)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if lo >= -1e-6 and hi <= 1 + 1e-6:
            lo, hi = 0.0, 1.0
    span = hi - lo if hi > lo else 1.0
    u = np.clip(np.nan_to_num((a - lo) / span) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return u[0] if u.shape[0] == 1 else np.transpose(u, (1, 2, 0))


def png(pixels: np.ndarray, max_side: int = MAX_SIDE) -> bytes:
    """PNG bytes of an (H, W) or (H, W, 3) uint8 image, downsampled to at most ``max_side`` a side."""
    from PIL import Image

    im = Image.fromarray(np.ascontiguousarray(pixels))
    if max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.BOX)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def filter_tile(w: np.ndarray, shared: bool = False, gap: int = 1) -> np.ndarray:
    """(F, C, h, w) weights -> one (H, W, 3) uint8 image: the filters on a near-square grid, 1-pixel gaps.

    Each filter is stretched from its own min to max (``shared=True``: one range for all, so their
    sizes compare). Filters larger than ``MAX_SIDE`` are downsampled first."""
    from PIL import Image

    n = len(w)
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    lo_all, hi_all = float(np.min(w)), float(np.max(w))
    tiles = []
    for f in w:
        if shared:
            t = to_uint8(f, lo_all, hi_all)
        else:
            t = to_uint8(f, float(f.min()), float(f.max()))
        if max(t.shape[:2]) > MAX_SIDE:
            im = Image.fromarray(t)
            im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BOX)
            t = np.asarray(im)
        tiles.append(t)
    h, wd = tiles[0].shape[:2]
    out = np.empty((rows * (h + gap) + gap, cols * (wd + gap) + gap, 3), np.uint8)
    out[:] = GAP  # a light blue grid: no filter value has that colour, so every filter's edge shows
    for i, t in enumerate(tiles):
        t = t if t.ndim == 3 else t[:, :, None]
        r, c = divmod(i, cols)
        out[gap + r * (h + gap): gap + r * (h + gap) + h, gap + c * (wd + gap): gap + c * (wd + gap) + wd] = t
    factor = max(1, TILE_PX // max(out.shape[:2]))
    if factor > 1:
        out = out.repeat(factor, 0).repeat(factor, 1)
    return out


def _esc(s: Any) -> str:
    return html.escape(str(s), quote=True)


# ---------------------------------------------------------------------------------------------------------
# the panels


class ImagePanels:
    """Per-class accuracy bars, confusion matrix, gallery and first-layer filters over one trainer.

    Widgets: ``figures`` (``class_acc``, ``confusion``), ``marks`` (``class_acc``, ``confusion``, ``cells``
    — the transparent squares over the matrix that carry the hover text and the click selection),
    ``gallery`` (HTML), ``gallery_mode`` (ToggleButtons), ``filters`` (HTML), ``filter_contrast``;
    ``panels`` is what the Lab shows in place of the decision boundary. State: ``evaluation`` (the last
    :class:`~nbtrain.tuning.interpret.Evaluation`), ``filter_weights``, ``selected_cell`` (true, predicted).
    """

    def __init__(self, trainer: Any, *, interval: float = 1.0, k: int = GALLERY_K, enabled: bool = True):
        if not interval > 0:
            raise ValueError(f"interval={interval!r} must be a number of seconds > 0")
        self.trainer = trainer
        self.interval = float(interval)
        self.k = interpret._check_k(k)
        self.enabled = bool(enabled)
        self.evaluation: interpret.Evaluation | None = None
        self.filter_weights: np.ndarray | None = None
        self.filter_layer = ""
        self.filter_step: int | None = None
        self._lock = threading.RLock()  # the publisher thread and widget callbacks (the kernel's thread)
        self.selected_cell: tuple[int, int] | None = None
        self.gallery_indices = np.zeros(0, np.int64)
        self.error: BaseException | None = None
        self.updates = 0  # snapshots drawn (tests, benchmarks)
        self.cost = 0.0  # seconds a snapshot takes from training (median of the last 5)
        self._costs: list[float] = []
        self.job_seconds = 0.0  # total time snapshots took on the training thread (benchmarks)
        self.publish_seconds = 0.0  # total CPU time of step() on the publisher thread (benchmarks)
        self._run_t0: float | None = None  # start of the current running stretch, and the work spent before it
        self._run_base = 0.0
        self._future: Future | None = None
        self._submitted = 0.0
        self._t = -math.inf
        self._key: tuple | None = None
        self._wkey: tuple | None = None
        self._data: Any = None
        self._sample: np.ndarray | None = None
        self._sample_seed = 0
        self._shown_classes = np.zeros(0, np.int64)
        self._syncing = False
        self._images: dict[int, str] = {}  # val index -> data URI (inputs never change within one dataset)
        self._build()

    @property
    def shown(self) -> bool:
        """True when the trainer's data are images (the panels replace the decision boundary)."""
        return self.enabled and interpret.is_image(self.trainer.data)

    # ---- widgets -------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.figures: dict[str, bq.Figure] = {}
        self.marks: dict[str, bq.Mark] = {}

        # per-class accuracy (horizontal bars, one per class, names on the vertical axis)
        cy, ax = bq.OrdinalScale(reverse=True), bq.LinearScale(min=0.0, max=100.0)
        bars = bq.Bars(x=np.zeros(0), y=np.zeros(0), scales={"x": cy, "y": ax}, orientation="horizontal",
                       colors=[style.VAL], padding=0.15, tooltip=bq.Tooltip(fields=["x", "y"], labels=["class", "val acc %"],
                                                                            formats=["", ".1f"]))
        mean = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": ax, "y": bq.LinearScale(min=0.0, max=1.0)},
                        colors=["#333333"], line_style=style.DASHED, stroke_width=1.5)
        # (no label on the class axis: the names say it; bottom labels in em, so they clear lecture-mode ticks)
        self._bar_axes = (style.axis(cy, "", vertical=True, tick_format=None, grid_lines="none"),
                          style.axis(ax, "val accuracy (%)", tick_format=".0f", label_offset="2.3em"))
        self.figures["class_acc"] = style.figure([bars, mean], [self._bar_axes[1], self._bar_axes[0]],
                                                 "accuracy per class",
                                                 margin={"top": 34, "bottom": 50, "left": 52, "right": 16})
        self.marks.update(class_acc=bars, class_acc_mean=mean)

        # confusion matrix: a heat map of each true class's share (rows: true, columns: predicted),
        # colour = √share so that rare mistakes show; transparent squares on top carry hover text and clicks
        sx, sy = bq.LinearScale(min=-0.5, max=1.5), bq.LinearScale(min=-0.5, max=1.5, reverse=True)
        colours = bq.ColorScale(min=0.0, max=1.0, colors=["#ffffff", "#c6dbef", "#4292c6", "#08306b"])
        heat = bq.GridHeatMap(row=np.array([-0.5, 0.5, 1.5]), column=np.array([-0.5, 0.5, 1.5]),
                              color=np.zeros((2, 2)), scales={"row": sy, "column": sx, "color": colours},
                              stroke="#ffffff", null_color="#ffffff")
        cells = bq.Scatter(x=np.zeros(0), y=np.zeros(0), names=[], display_names=False, marker="square",
                           scales={"x": sx, "y": sy}, default_size=400, colors=["#000000"],
                           opacities=[0.0], interactions={"hover": "tooltip", "click": "select"},
                           tooltip=bq.Tooltip(fields=["name"], labels=["cell"]),
                           selected_style={"opacity": 1.0, "fill": "none", "stroke": "#e31a1c", "stroke-width": 3},
                           unselected_style={"opacity": 0.0})
        cells.observe(self._on_cell, names="selected")
        # tick_values (set per update) put one tick on each class; a left axis's label_offset > 0 is outward
        self._cm_axes = (style.axis(sx, "predicted class", tick_format="d", grid_lines="none", num_ticks=None,
                                    label_offset="2.3em"),
                         style.axis(sy, "true class", vertical=True, tick_format="d", grid_lines="none",
                                    label_offset="2.8em"))
        self.figures["confusion"] = style.figure([heat, cells], list(self._cm_axes), "confusion (val)",
                                                 margin={"top": 34, "bottom": 50, "left": 56, "right": 16})
        self.marks.update(confusion=heat, cells=cells)

        # gallery
        self.gallery_title = widgets.HTML()
        self.gallery_mode = widgets.ToggleButtons(options=_options(2), value=MODES[0],
                                                  tooltips=["the validation examples with the highest loss",
                                                            "a fixed random sample of validation examples",
                                                            "the examples of the clicked confusion cell"],
                                                  style={"button_width": "auto"},
                                                  layout=widgets.Layout(width="auto"))
        self.gallery_mode.add_class("nbtrain-gallery-mode")
        self.gallery_mode.observe(self._on_mode, names="value")
        self.resample = widgets.Button(description="", icon="random", tooltip="draw another random sample",
                                       layout=widgets.Layout(width="auto"))
        self.resample.add_class("nbtrain-resample")
        self.resample.on_click(lambda _b: self._on_resample())
        self.gallery = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.gallery.add_class("nbtrain-gallery")
        head = widgets.HBox([self.gallery_mode, self.resample],
                            layout=widgets.Layout(flex_flow="row wrap", align_items="center", width="100%"))
        self.gallery_box = widgets.VBox([self.gallery_title, head, self.gallery],
                                        layout=widgets.Layout(width="100%", min_width="200px", overflow="hidden",
                                                              padding="0 4px"))
        self.gallery_box.add_class("nbtrain-gallery-panel")

        # first-layer filters
        self.filters_title = widgets.HTML()
        self.filter_contrast = widgets.ToggleButtons(options=["per filter", "shared"], value="per filter",
                                                     tooltips=["each filter stretched to its own range",
                                                               "one range for all filters: sizes compare"],
                                                     style={"button_width": "auto"},
                                                     layout=widgets.Layout(width="auto"))
        self.filter_contrast.observe(lambda _c: self._redraw_filters(), names="value")
        self.filters = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.filters.add_class("nbtrain-filters")
        self.filters_box = widgets.VBox([self.filters_title, self.filter_contrast, self.filters],
                                        layout=widgets.Layout(width="100%", min_width="200px", overflow="hidden",
                                                              padding="0 4px"))
        self.filters_box.add_class("nbtrain-filters-panel")
        for name, fig in self.figures.items():  # (the stylesheet's hooks, like the Lab's figures)
            fig.add_class(f"nbtrain-fig-{name.replace('_', '-')}")
        # each figure with its download toolbar, named like the Lab's (nbtrain-confusion-step1234.png)
        self.figure_boxes = {k: FigureBox(self.figures[k], k.replace("_", "-"), step=lambda: self.trainer.global_step)
                             for k in ("class_acc", "confusion")}
        self.panels = [*self.figure_boxes.values(), self.gallery_box, self.filters_box]
        self._draw_titles()

    def widgets(self) -> list[widgets.Widget]:
        return list(self.panels)

    # ---- publishing (the Lab's publisher thread) ---------------------------------------------------
    def step(self, now: float | None = None, force: bool = False) -> bool:
        """Draw a finished snapshot; ask for a new one when due. Returns True if anything was sent."""
        if not self.shown:
            return False
        t0 = time.thread_time()
        try:
            with self._lock:
                return self._step(time.monotonic() if now is None else now, force)
        finally:
            self.publish_seconds += time.thread_time() - t0

    def _step(self, now: float, force: bool) -> bool:
        tr = self.trainer
        if tr.data is not self._data:
            self._new_data(tr.data)
        sent = False
        fut = self._future
        if fut is not None and fut.done():
            self._future = None
            sent = self._collect(fut)
        elif fut is not None and now - self._submitted > 60:
            self._future = None  # never answered (the trainer closed?): ask again later
        if self._future is not None:
            return sent
        m = tr.metrics
        running = tr.state == "running"
        key = (m.evals.n, len(m.events), running, id(tr.model), id(tr.data), tr.global_step if not running else -1)
        wkey = (m.version, id(tr.model))
        want_eval = key != self._key
        want_filters = wkey != self._wkey
        if not (want_eval or want_filters):
            return sent
        if running and not force:
            if self._run_t0 is None:
                self._run_t0, self._run_base = now, self.job_seconds + self.publish_seconds
            spent = self.job_seconds + self.publish_seconds - self._run_base
            if now - self._t < self.interval or spent > BUDGET * (now - self._run_t0):
                return sent
        elif not running:
            self._run_t0 = None
        self._key, self._wkey = key, wkey
        self._t, self._submitted = now, now
        fut = self._submit(want_eval)
        if fut.done():  # no step was running: computed right here
            return self._collect(fut) or sent
        self._future = fut
        return sent

    def _submit(self, want_eval: bool) -> Future:
        tr, data = self.trainer, self.trainer.data
        shape, k, gk = tuple(data.input_shape), int(data.num_classes), self.k
        sample, selected, mode = self._sample, self.selected_cell, self.gallery_mode.value

        def job(model: Any) -> dict[str, Any]:  # on the training thread, between two steps
            t0 = time.perf_counter()
            out: dict[str, Any] = {"step": tr.global_step, "data": data,
                                   "filters": interpret.layer_filters(model, shape, MAX_FILTERS)}
            if want_eval:
                try:
                    X, Y = interpret.val_tensors(tr)
                except ValueError as exc:
                    out["error"] = exc
                else:
                    ev = interpret.evaluate_model(model, X, Y, k)
                    ev.step = tr.global_step
                    idx = _gallery_indices(ev, mode, selected, sample, gk)
                    out["evaluation"] = ev
                    out["gallery"] = (idx, X[idx].detach().cpu().clone() if len(idx) else None)
                    if tr.state == "running":  # what it took from training (idle runs cost nothing)
                        out["cost"] = time.perf_counter() - t0
            out["took"] = time.perf_counter() - t0
            return out

        return tr.submit(job)

    def _collect(self, fut: Future) -> bool:
        try:
            res = fut.result()
        except Exception as exc:  # noqa: BLE001 - e.g. no validation set, a model that rejects the data
            self.error = exc
            self._draw_error(exc)
            return True
        if res["data"] is not self.trainer.data:
            return False  # a reset came in between: the next snapshot is of the new data
        self.error = res.get("error")
        self.job_seconds += res["took"]
        if "cost" in res:
            self._costs = [*self._costs[-4:], float(res["cost"])]
            self.cost = float(np.median(self._costs))
        items: list[tuple[widgets.Widget, dict[str, Any]]] = []
        if "evaluation" in res:
            ev = res["evaluation"]
            ev.classes = interpret.class_names(res["data"])
            self.evaluation = ev
            items += self._matrix_updates(ev) + self._bar_updates(ev)
            idx, X = res["gallery"]
            self._remember_images(idx, X)
        found = res["filters"]
        if found is not None:
            self.filter_layer, self.filter_weights = found
            self.filter_step = res["step"]
        with style.hold([w for w, _ in items] + [self.gallery, self.filters, self.gallery_title, self.filters_title]):
            for w, traits in items:
                for name, v in traits.items():
                    setattr(w, name, v)
            if "evaluation" in res:
                self._draw_gallery(res["gallery"][0])
            self._draw_filters()
            self._draw_titles()
            if self.error is not None:
                self._draw_error(self.error)
        self.updates += 1
        return True

    # ---- data ----------------------------------------------------------------------------------------
    def _new_data(self, data: Any) -> None:
        self._data = data
        self._images.clear()
        self.evaluation = None
        self.filter_weights = None
        self._key = self._wkey = None
        self._future = None
        self._set_cell(None)
        n = len(data.val) if data.val is not None else 0
        rng = np.random.default_rng(self._sample_seed)
        self._sample = np.sort(rng.choice(n, min(self.k, n), replace=False)) if n else np.zeros(0, np.int64)

    def _remember_images(self, idx: np.ndarray, X: Any) -> None:
        if X is None:
            return
        shown = interpret.undo_preprocessing(self._data, X).numpy()
        if len(self._images) > 4 * self.k:  # keep the cache bounded (highest-loss examples change)
            self._images.clear()
        for i, x in zip(idx.tolist(), shown):
            self._images[i] = data_uri(png(to_uint8(x)))

    # ---- drawing -------------------------------------------------------------------------------------
    def _shown(self, ev: interpret.Evaluation) -> np.ndarray:
        """The classes drawn: all of them, or the MAX_CLASSES with the most validation errors."""
        k = ev.num_classes
        if k <= MAX_CLASSES:
            return np.arange(k)
        cm = ev.confusion()
        errors = cm.sum(1) - np.diag(cm)
        return np.sort(np.argsort(-errors, kind="stable")[:MAX_CLASSES])

    def _matrix_updates(self, ev: interpret.Evaluation) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        shown = self._shown(ev)
        self._shown_classes = shown
        counts = ev.confusion()[np.ix_(shown, shown)]
        rows = ev.class_counts()[shown]
        share = np.divide(counts, rows[:, None], out=np.zeros(counts.shape), where=rows[:, None] > 0)
        n = len(shown)
        edges = np.arange(n + 1, dtype=np.float32) - 0.5
        names = ev.classes
        r, c = np.divmod(np.arange(n * n), n)
        texts = [f"true {names[shown[i]]} → predicted {names[shown[j]]}: {counts[i, j]} of {rows[i]} "
                 f"({100 * share[i, j]:.1f} %)" for i, j in zip(r, c)]
        side = max(8.0, min(30.0, 200.0 / n))
        heat, cells = self.marks["confusion"], self.marks["cells"]
        sx, sy = cells.scales["x"], cells.scales["y"]
        ticks = shown if n <= 12 else shown[:: math.ceil(n / 12)]
        tick_pos = np.searchsorted(shown, ticks).astype(np.float32)
        return [
            (sx, {"min": -0.5, "max": n - 0.5}),
            (sy, {"min": -0.5, "max": n - 0.5}),
            (self._cm_axes[0], {"tick_values": tick_pos}),
            (self._cm_axes[1], {"tick_values": tick_pos}),
            (heat, {"color": np.sqrt(share).astype(np.float32), "row": edges, "column": edges}),  # color first
            (cells, {"x": c.astype(np.float32), "y": r.astype(np.float32), "names": texts,
                     "default_size": int(side * side)}),
        ]

    def _bar_updates(self, ev: interpret.Evaluation) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        acc = ev.per_class_accuracy()
        k = ev.num_classes
        if k <= MAX_CLASSES:
            shown = np.arange(k)
        else:  # the lowest accuracies
            shown = np.sort(np.argsort(np.nan_to_num(acc, nan=2.0), kind="stable")[:MAX_CLASSES])
        labels = [_short(ev.classes[i]) for i in shown]
        longest = max((len(s) for s in labels), default=1)
        fig = self.figures["class_acc"]
        margin = {**fig.fig_margin, "left": int(24 + 9 * longest)}  # room for the longest name
        overall = 100.0 * ev.accuracy
        return [
            (self.marks["class_acc"], {"x": labels, "y": np.nan_to_num(100.0 * acc[shown]).astype(np.float32)}),
            (self.marks["class_acc_mean"], {"x": np.array([overall, overall], np.float32),
                                            "y": np.array([0.0, 1.0], np.float32)}),
            (fig, {"fig_margin": margin}),
        ]

    def _draw_gallery(self, idx: np.ndarray) -> None:
        ev = self.evaluation
        self.gallery_indices = np.asarray(idx, np.int64)
        if ev is None:
            return
        if not len(idx):
            msg = "no examples in this cell" if self.gallery_mode.value == MODES[2] else "no validation examples"
            self.gallery.value = f"<div style='color:#555;padding:8px'>{msg}</div>"
            return
        items = []
        for i in idx.tolist():
            uri = self._images.get(i)
            if uri is None:
                continue
            t, p = int(ev.targets[i]), int(ev.predictions[i])
            ok = t == p
            colour = CORRECT if ok else WRONG
            pred = f"{_esc(_short(ev.classes[p]))} {100 * float(ev.confidence[i]):.0f}%"
            tip = (f"validation example {i}: true {ev.classes[t]}, predicted {ev.classes[p]} "
                   f"({100 * float(ev.confidence[i]):.1f} %), loss {float(ev.losses[i]):.3f}")
            items.append(
                "<figure style='margin:0;text-align:center;width:calc(64px * var(--nbtrain-s, 1))' "
                f"title='{_esc(tip)}'>"
                f"<img src='{uri}' alt='example {i}' style='width:calc(64px * var(--nbtrain-s, 1));"
                "height:calc(64px * var(--nbtrain-s, 1));image-rendering:pixelated;display:block;"
                f"border:2px solid {colour};box-sizing:border-box'>"
                "<figcaption style='font-size:calc(11px * var(--nbtrain-s, 1));line-height:1.2;"
                "white-space:nowrap;overflow:hidden;text-overflow:ellipsis'>"
                f"{_esc(_short(ev.classes[t]))}<br><span style='color:{colour}'>→ {pred}</span></figcaption></figure>")
        self.gallery.value = ("<div style='display:flex;flex-wrap:wrap;gap:calc(6px * var(--nbtrain-s, 1));"
                              "padding-top:4px'>" + "".join(items) + "</div>")

    def _draw_filters(self) -> None:
        w = self.filter_weights
        if w is None:
            self.filters.value = ("<div style='color:#555;padding:8px'>no first layer to draw (no Conv2d, and no "
                                  "Linear that sees the whole image)</div>") if self.updates else ""
            return
        tile = filter_tile(w, shared=self.filter_contrast.value == "shared")
        self.filters.value = (f"<img src='{data_uri(png(tile, max_side=4 * TILE_PX))}' alt='first-layer filters' "
                              "style='width:100%;max-width:calc(260px * var(--nbtrain-s, 1));"
                              "image-rendering:pixelated;display:block'>")

    def _redraw_filters(self) -> None:
        with self._lock:
            self._draw_filters()

    def _draw_titles(self) -> None:
        """Titles say the step each panel shows (the matrix and bars: the last evaluation; the filters: the
        last snapshot of the weights, which is taken more often)."""
        ev = self.evaluation
        at = f" (step {ev.step:,})" if ev is not None and ev.step is not None else ""
        title = "font-size:max(15px, calc(11px * var(--nbtrain-s, 1)));font-weight:600;margin:4px 0"  # = figure titles
        few = f", {MAX_CLASSES} of {ev.num_classes} classes" if ev is not None and ev.num_classes > MAX_CLASSES else ""
        self.figures["confusion"].title = f"confusion (val{few}){at}"
        self.figures["class_acc"].title = f"accuracy per class{at}"
        mode = self.gallery_mode.value
        if mode == MODES[2] and self.selected_cell is not None and self.evaluation is not None:
            t, p = self.selected_cell
            names = self.evaluation.classes
            n = len(self.evaluation.where(t, p))
            what = f"true {_esc(_short(names[t]))} → predicted {_esc(_short(names[p]))} ({n})"
        else:
            what = "highest loss" if mode == MODES[0] else "random sample"
        self.gallery_title.value = f"<div style='{title}'>val examples: {what}</div>"
        w = self.filter_weights
        if w is not None:
            f, c, h, wd = w.shape
            sd = float(w.std())
            info = f"{f} × {c}×{h}×{wd}, std {sd:.3g}"
            wat = f" (step {self.filter_step:,})" if self.filter_step is not None else ""
            self.filters_title.value = (f"<div style='{title}'>first-layer filters{wat}</div>"
                                        f"<div style='font-size:max(12px, calc(9px * var(--nbtrain-s, 1)));color:#444'>{_esc(self.filter_layer)}: "
                                        f"{_esc(info)}</div>")
        else:
            self.filters_title.value = f"<div style='{title}'>first-layer filters</div>"

    def _draw_error(self, exc: BaseException) -> None:
        msg = f"{type(exc).__name__}: {exc}"
        self.gallery.value = f"<div style='color:{style.ERROR};padding:8px'>{_esc(msg)}</div>"

    # ---- interaction ---------------------------------------------------------------------------------
    def _on_cell(self, change: dict) -> None:
        if self._syncing:
            return
        with self._lock:
            self._cell_changed(change)

    def _cell_changed(self, change: dict) -> None:
        sel = change["new"]
        shown = self._shown_classes
        if sel is None or not len(sel) or not len(shown):
            self._set_cell(None, sync=False)
            return
        r, c = divmod(int(sel[-1]), len(shown))
        self._set_cell((int(shown[r]), int(shown[c])), sync=len(sel) > 1)

    def select_cell(self, true: int | None, predicted: int | None = None) -> None:
        """Show the examples of one confusion cell in the gallery (None: back to the highest losses)."""
        if true is not None:
            k = int(self.trainer.data.num_classes)
            for name, v in (("true", true), ("predicted", predicted)):
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= v < k:
                    raise ValueError(f"{name}={v!r} must be a class index in [0, {k - 1}]")
        with self._lock:
            self._set_cell(None if true is None else (int(true), int(predicted)))

    def _set_cell(self, cell: tuple[int, int] | None, sync: bool = True) -> None:
        self.selected_cell = cell
        cells = self.marks["cells"]
        self._syncing = True
        try:
            if cell is None:
                if sync and cells.selected:
                    cells.selected = None
                if self.gallery_mode.value == MODES[2]:
                    self.gallery_mode.options = _options(2)
                    self.gallery_mode.value = MODES[0]
                else:
                    self.gallery_mode.options = _options(2)
            else:
                shown = list(self._shown_classes)
                if sync and cell[0] in shown and cell[1] in shown:
                    cells.selected = [shown.index(cell[0]) * len(shown) + shown.index(cell[1])]
                self.gallery_mode.options = _options(3)
                self.gallery_mode.value = MODES[2]
        finally:
            self._syncing = False
        self._redraw_gallery()

    def _on_mode(self, change: dict) -> None:
        if self._syncing:
            return
        with self._lock:
            if change["new"] != MODES[2] and self.selected_cell is not None:
                self._set_cell(None)
            else:
                self._redraw_gallery()

    def _on_resample(self) -> None:
        with self._lock:
            self._resample()

    def _resample(self) -> None:
        self._sample_seed += 1
        data = self._data
        if data is not None and data.val is not None:
            rng = np.random.default_rng(self._sample_seed)
            n = len(data.val)
            self._sample = np.sort(rng.choice(n, min(self.k, n), replace=False))
        if self.gallery_mode.value != MODES[1]:
            self.gallery_mode.value = MODES[1]
        else:
            self._redraw_gallery()

    def _redraw_gallery(self) -> None:
        """The gallery for the current mode from the last evaluation (fetching inputs not seen yet)."""
        ev = self.evaluation
        if ev is None or not self.shown:
            self._draw_titles()
            return
        idx = _gallery_indices(ev, self.gallery_mode.value, self.selected_cell, self._sample, self.k)
        missing = [i for i in idx.tolist() if i not in self._images]
        if missing:
            try:
                X = interpret.examples(self.trainer, missing, timeout=10)
            except Exception as exc:  # noqa: BLE001 - shown instead
                self._draw_error(exc)
                return
            for i, x in zip(missing, X.numpy()):
                self._images[i] = data_uri(png(to_uint8(x)))
        with style.hold([self.gallery, self.gallery_title]):
            self._draw_gallery(idx)
            self._draw_titles()

    def close(self) -> None:
        from .util import close_all

        close_all(self.panels)


def _gallery_indices(ev: interpret.Evaluation, mode: str, cell: tuple[int, int] | None, sample: np.ndarray | None,
                     k: int) -> np.ndarray:
    if mode == MODES[2] and cell is not None:
        return ev.where(*cell)[:k]
    if mode == MODES[1] and sample is not None:
        return np.asarray(sample, np.int64)[:k]
    return ev.top_losses(k).indices


def _options(n: int) -> list[tuple[str, str]]:
    return [(LABELS[m], m) for m in MODES[:n]]


def _short(name: str, n: int = 12) -> str:
    name = str(name)
    return name if len(name) <= n else name[: n - 1] + "…"
