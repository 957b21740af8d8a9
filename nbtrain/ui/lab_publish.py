"""What the Lab's publisher sends: the curves, the per-layer panel, live-change markers, progress, the status
line, the decision boundary and the live diagnosis.

Part of :class:`~nbtrain.ui.lab.Lab` (a mixin). One publisher thread (:class:`~nbtrain.ui.stream.Publisher`,
≈10 Hz, ``interval=``) calls :meth:`LabPublishing.publish`: it reads what the history gained since its last
visit, keeps a bounded min/max decimation of every series (``max_points`` each, however long the run) and
assigns bqplot traits inside ``hold_sync()``; while a run goes on, the publishes between two full ones (every
``MEDIUM_INTERVAL``) move the training-loss curve only; in a kernel a publish's messages go to the IOPub thread
in one batch (:mod:`nbtrain.ui.iopub`); when the history's version and the run state did not change it sends
nothing; it never prints, displays or creates widgets. The decision boundary (2-D data) is computed by
``trainer.submit`` between two steps, at most once a ``boundary_interval``, never by touching the model from
another thread.
"""

from __future__ import annotations

import html as _html
import math
import time
from typing import Any

import ipywidgets as widgets
import numpy as np

from nbtrain.engine.text import fmt
from nbtrain.engine.trainer import Trainer
from nbtrain.tuning.diagnose import diagnose

from . import iopub, style
from .stream import StreamDecimator, TableFeed

MAX_EVENTS = 100  # live-change markers drawn (the latest)
MAX_POINTS_SHOWN = 1500  # data points drawn over the decision boundary


def describe_event(e: dict[str, Any]) -> str:
    """One line for a live-change event of the history (what the marker's tooltip shows).

    >>> describe_event({"step": 3, "field": "lr", "old": 0.1, "new": 0.5})
    'lr 0.1 → 0.5'
    """
    field, old, new = e.get("field"), e.get("old"), e.get("new")
    if field == "reinit":
        return f"weights re-initialised ({new})"
    if field == "nonfinite_loss":
        return f"loss became {new}: paused"
    if isinstance(field, str) and field.startswith("restore_"):
        return f"{field[8:]} weights of step {new} restored"
    return f"{field} {fmt(old)} → {fmt(new)}"


#: s between two redraws of the per-layer figures, the legend rows and the learning rate used while a run goes
#: on (they change slowly; the loss and accuracy curves follow every publish that sends them): as much of the
#: publisher's work as the curves otherwise
LAYER_INTERVAL = 1.0
#: s from one full publish (every view) to the next while a run goes on; the publishes between them move the
#: training-loss curve only (the thing watched, ≈10 Hz): the validation and accuracy curves, the progress line and
#: bar, the markers and the status follow ≈4 times a second. In a kernel each widget's message is signed and sent
#: over ZeroMQ, in the GIL the training thread needs
MEDIUM_INTERVAL = 0.25
#: the live diagnosis waits at least this many times the time the last one took (≤ 0.2 % of a core)
DIAGNOSE_STRETCH = 500
#: the share of one core the publisher may take (its pause after a publish is at least the publishes' average CPU
#: time ÷ this): its Python holds the GIL the training thread needs, so a publish of 5 ms keeps the 10 Hz and a
#: dearer one (on a busy machine; in a kernel each widget's message is also signed and sent over ZeroMQ: a publish
#: there costs about twice what it costs with no front end) makes the curves update less often
PUBLISH_BUDGET = 0.05


class LabPublishing:
    """Brings every view of the Lab up to date with its trainer (publisher thread, or ``lab.publish()``)."""

    def _init_streams(self) -> None:
        cap = self.max_points
        self._steps_feed = TableFeed("steps", ("step", "train_loss", "lr"))
        self._evals_feed = TableFeed("evals", ("step", "val_loss", "val_acc", "train_acc"))
        self._layers_feed = TableFeed("layers", ("step", "layer", "act_std", "saturated", "dead", "grad_norm"))
        self._series = {name: StreamDecimator(cap) for name in ("train_loss", "lr", "val_loss", "val_acc", "train_acc")}
        self._lr_rows: list[tuple[np.ndarray, np.ndarray]] = []  # the learning rates read since the lr line was drawn
        self._layer_series: dict[tuple[str, int], StreamDecimator] = {}
        self._last_key: tuple | None = None
        self._layers_t = -1e9  # when the per-layer figures were last redrawn
        self._full_t = -1e9  # when the last full publish was (every view brought up to date)
        self._full_state = ""  # the run state it saw
        self._loss_version = -1  # the history version the training-loss curve was last drawn from
        self._events_src: Any = None
        self._events_n = -1
        self._data_view: Any = None
        self._model_view: Any = None
        self._grid: Any = None
        self._grid_on_device: dict[str, Any] = {}  # the grid copied to the training device, by the job
        self._boundary_future: Any = None
        self._boundary_version = -1
        self._boundary_t = 0.0
        self._boundary_submitted = 0.0
        self._boundary_step_at = 0
        self.boundary_error: BaseException | None = None
        self._rate_samples: list[tuple[float, int]] = []
        self._rate = float("nan")

    def _tick(self) -> None:
        if self.comm is None:  # the widget was closed from the front end or by Widget.close_all()
            self._stop_publishing()
            return
        self.publish()

    def publish(self, force: bool = False) -> bool:
        """Bring every view up to date with the trainer; returns True if anything was sent.

        Called ≈10×/s by the publisher thread; call it yourself after driving the trainer directly.
        Does nothing when the history's version and the run state are unchanged (unless ``force``). While a run
        goes on, a publish within MEDIUM_INTERVAL of the last full one moves the training-loss curve only. In a
        kernel its messages go to the IOPub thread in one batch (:func:`nbtrain.ui.iopub.batched`).
        """
        with self._lock, iopub.batched():
            if self._closed:
                return False
            tr = self.trainer
            m = tr.metrics
            now = time.monotonic()
            state = tr.state  # read once: it takes the trainer's lock, which the training thread holds at chunk ends
            if (not force and state == "running" and self._full_state == "running"
                    and now - self._full_t < MEDIUM_INTERVAL):
                return self._loss_publish(m, tr.global_step)
            self._full_t, self._full_state = now, state
            self._track_rate(now, tr, state)
            self._confirm_change()
            boundary_sent = self._boundary_step(now)
            boundary_sent = self.image_panels.step(now) or boundary_sent
            key = (m.version, state, tr.message, tuple(tr.needs_reset), id(tr.data), id(tr.model), self._ui_error,
                   self._ui_hint, tuple(a.version() for a in self._addons))
            if key == self._last_key and not force:
                return boundary_sent
            self._last_key = key
            updates: list[tuple[widgets.Widget, dict[str, Any]]] = []
            if tr.data is not self._data_view:
                updates += self._data_updates(tr.data)
            if tr.model is not self._model_view:
                self._model_view = tr.model
                self._refresh_enabled()
            layers = force or state != "running" or now - self._layers_t >= LAYER_INTERVAL
            updates += self._curve_updates(m, slow=layers)
            if layers:
                self._layers_t = now
                updates += self._layer_updates(m)
            else:
                self._last_key = None  # the layer figures are behind: the next publish brings them up to date
            updates += self._event_updates(m)
            updates += self._progress_updates(tr, state, slow=layers)
            updates += self._step_axis_updates(tr.global_step)
            for addon in self._addons:
                updates += addon.updates()
            style.apply(updates)
            if layers:
                style.apply(self._legend_updates())  # from the marks' labels as just set
            if getattr(self, "_preview_start", 0) != self._schedule_start():
                self._draw_preview()  # the trainer applied a schedule chosen mid-run at a later step
            self._render_status(state)
            self._diagnose(now, tr, force)
            self.publish_count += 1
            return True

    def _loss_publish(self, m: Any, step: int) -> bool:
        """Between two full publishes of a run: the training-loss curve and the axes it needs (in a kernel each
        widget's message is signed and sent over ZeroMQ, in the GIL the training thread needs). The rest waits
        for the next full publish, at most MEDIUM_INTERVAL later."""
        if m.version == self._loss_version:
            return False
        self._loss_version = m.version
        self._last_key = None  # the other views are behind: the next full publish sends them
        updates = self._curve_updates(m, slow=False, evals=False) + self._step_axis_updates(step)
        style.apply(updates)
        return bool(updates)

    def _diagnose(self, now: float, tr: Trainer, force: bool = False) -> None:
        """Read the curves with ``nt.diagnose`` every ``diagnose_interval`` s (warnings and errors shown
        under the status line), the same findings as ``nt.diagnose(lab)``. Its cost grows with the history (about
        4 ms at 40,000 steps, several times that while a run competes for the machine), so the interval stretches
        to ≥ DIAGNOSE_STRETCH (500) × the time the last one took: at most 0.2 % of a core, however long the run."""
        version = tr.metrics.version
        if not self.diagnose_interval or version == self._diag_version or (now < self._diag_at and not force):
            return
        t0 = time.perf_counter()
        try:
            findings = diagnose(tr)  # its tables as they are (no joined frame), its data and model: as nt.diagnose(lab)
        except Exception:  # a diagnosis is advice: it must never break the live view
            findings = []
        cost = time.perf_counter() - t0
        self._diag_version, self._diag_at = version, now + max(self.diagnose_interval, DIAGNOSE_STRETCH * cost)
        self.findings = list(findings)
        shown = [f for f in findings if f.severity in ("error", "warning")][:2]
        colour = {"error": style.ERROR, "warning": style.WARN}
        # a fixed-height panel of two lines (one in lecture mode): a finding wraps onto both or, with a
        # second one, takes one; too long, it ends in "…" and its tooltip has the whole text: nothing moves
        html = "".join(f"<div class='nbtrain-finding' title='{_html.escape(t, quote=True)}'>"
                       f"{style.html_status(t, colour[f.severity])}</div>"
                       for f in shown for t in [f"{f.rule}: {f.message} — {f.advice}"])
        if self.diagnosis.value != html:
            self.diagnosis.value = html

    def _step_axis_updates(self, step: int) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """The step axis (one, shared by the five figures) from 0 to a round number ≥ the current step, with a few
        round ticks (never below 0, never running together); changes only when the run passes the last tick."""
        return style.fit_step_axes([self.figures["loss"].axes[0]], step)

    def _track_rate(self, now: float, tr: Trainer, state: str) -> None:
        samples = self._rate_samples
        if state != "running":
            samples.clear()
            return
        samples.append((now, tr.global_step))
        while len(samples) > 2 and now - samples[1][0] >= 2.0:
            samples.pop(0)
        (t0, s0), (t1, s1) = samples[0], samples[-1]
        if t1 - t0 >= 0.3:
            self._rate = (s1 - s0) / (t1 - t0)

    def _curve_updates(self, m: Any, slow: bool = True, evals: bool = True) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """The training loss; the validation loss and the accuracy curves when ``evals`` (full publishes); the
        learning rate used (the schedule figure's line, which changes slowly) only when ``slow`` (at the per-layer
        figures' pace while a run goes on)."""
        series = self._series
        restarted, new = self._steps_feed.read(m)
        if restarted:
            series["train_loss"].clear()
            series["lr"].clear()
            self._lr_rows.clear()
        series["train_loss"].extend(new["step"], new["train_loss"])
        self._lr_rows.append((new["step"], new["lr"]))  # decimated when it is drawn (`slow`)
        if slow and self._lr_rows:
            rows, self._lr_rows = self._lr_rows, []
            series["lr"].extend(np.concatenate([r[0] for r in rows]), np.concatenate([r[1] for r in rows]))
        if evals:  # else the evaluations' rows wait in their table for the next full publish
            restarted, new = self._evals_feed.read(m)
            for name in ("val_loss", "val_acc", "train_acc"):
                if restarted:
                    series[name].clear()
                scale = 100.0 if name.endswith("acc") else 1.0
                series[name].extend(new["step"], new[name] * scale)
        out = []
        loss_changed = series["train_loss"].changed or series["val_loss"].changed
        for name, mark in (("train_loss", self.loss_lines["train"]), ("val_loss", self.loss_lines["val"]),
                           ("train_acc", self.acc_lines["train"]), ("val_acc", self.acc_lines["val"]),
                           ("lr", self.marks["lr"])):
            d = series[name]
            if d.changed and (slow or name != "lr"):
                d.changed = False
                x, y = d.arrays()
                out.append((mark, {"x": x.astype(np.int32), "y": y.astype(np.float32)}))
        if loss_changed:
            new = {id(w): t["y"] for w, t in out}
            out += self._loss_axis_updates(
                [new.get(id(m), m.y) for m in (self.loss_lines["train"], self.loss_lines["val"])])
        return out

    def _layer_updates(self, m: Any) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        restarted, new = self._layers_feed.read(m)
        if restarted:
            self._layer_series.clear()
        if not len(new["step"]) and not restarted:
            return []
        layer = new["layer"].astype(int)
        columns = {
            "act_std": new["act_std"],
            "saturation": 100.0 * (np.nan_to_num(new["saturated"]) + np.nan_to_num(new["dead"])),
            "grad_norm": np.where(new["grad_norm"] > 0, new["grad_norm"], np.nan),
        }
        for idx in np.unique(layer):
            mask = layer == idx
            for col, values in columns.items():
                dec = self._layer_series.setdefault((col, int(idx)), StreamDecimator(self.max_points))
                dec.extend(new["step"][mask], values[mask])
        names = list(m.layer_names)
        out = []
        for col in columns:
            xs, ys, labels = [], [], []
            for (c, idx), dec in sorted(self._layer_series.items(), key=lambda kv: kv[0][1]):
                if c != col:
                    continue
                x, y = dec.arrays()
                if len(x):
                    xs.append(x)
                    ys.append(y)
                    labels.append(names[idx] if idx < len(names) else f"layer {idx}")
            colours = style.layer_colours(len(labels))
            X, Y = _multi_line(xs, ys)
            out.append((self.marks[col], {"x": X, "y": Y, "labels": labels, "colors": colours or [style.TRAIN]}))
            if col in ("grad_norm", "act_std") and ys:  # round (or decade) ticks for the range shown
                out += style.fit_axis(self.figures[col].axes[1], np.concatenate(ys))
        return out

    def _event_updates(self, m: Any) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        with m.lock:
            events = m.events
            n = len(events)
            if events is self._events_src and n == self._events_n:
                return []
            self._events_src, self._events_n = events, n
            recent = list(events[-MAX_EVENTS:])
        by_step: dict[int, list[str]] = {}
        for e in recent:
            by_step.setdefault(int(e["step"]), []).append(describe_event(e))
        steps = np.array(sorted(by_step), dtype=np.int32)
        names = ["; ".join(by_step[s]) for s in sorted(by_step)]
        lines = self.marks["events"]
        if len(steps):
            lx = np.repeat(steps[:, None], 2, axis=1)
            ly = np.tile(np.array([0.0, 1.0], dtype=np.float32), (len(steps), 1))
        else:
            lx, ly = np.zeros(0, np.int32), np.zeros(0, np.float32)
        return [(lines, {"x": lx, "y": ly, "colors": [style.EVENT] * max(len(steps), 1)}),
                (self.marks["event_markers"], {"x": steps, "y": np.full(len(steps), 0.97, np.float32), "names": names})]

    def _progress_updates(self, tr: Trainer, state: str, slow: bool = True) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """The progress line and bar and the transport buttons; the schedule figure's "now" line only when ``slow``
        (with the learning-rate line it stands on: one message a publish fewer while a run goes on)."""
        cfg = tr.config
        step = tr.global_step
        parts = [f"<b>{state}</b>", f"step {step:,}"]
        bound = None
        if cfg.max_steps:
            parts[-1] += f" / {cfg.max_steps:,}"
            bound = step / cfg.max_steps
        try:
            epoch = tr.epoch
        except Exception:  # noqa: BLE001 - read while the thread switches data
            epoch = float("nan")
        parts.append(f"epoch {epoch:.1f}" + (f" / {cfg.max_epochs:g}" if cfg.max_epochs else ""))
        if cfg.max_epochs and math.isfinite(epoch):
            bound = max(bound or 0.0, epoch / cfg.max_epochs)
        running = state == "running" and math.isfinite(self._rate) and self._rate > 0
        if running:
            parts.append(f"{self._rate:,.0f} steps/s")
            if cfg.max_steps and step < cfg.max_steps:
                parts.append(f"ETA {_duration((cfg.max_steps - step) / self._rate)}")
        # a narrow header ends the line in "…": the whole line is its tooltip
        whole = _html.escape(" · ".join([state, *parts[1:]]), quote=True)
        html = f"<span style='font-size:15px' title='{whole}'>{' · '.join(parts)}</span>"
        b = self.buttons
        out: list[tuple[widgets.Widget, dict[str, Any]]] = [
            (self.progress, {"value": html}),
            (b["play"], {"disabled": state == "running"}),
            (b["pause"], {"disabled": state != "running"}),
            (b["reset"], {"button_style": "warning" if tr.needs_reset else "",
                          "tooltip": (f"rebuild with the new {', '.join(tr.needs_reset)}" if tr.needs_reset
                                      else "clear the history and start over at step 0")}),
        ]
        if slow:
            out.append((self.marks["now"], {"x": np.array([step, step], np.int32), "y": np.array([0.0, 1.0], np.float32)}))
        if bound is not None:
            out.append((self.progress_bar, {"value": min(max(bound, 0.0), 1.0)}))
        visibility = "visible" if bound is not None else "hidden"
        if self.progress_bar.layout.visibility != visibility:
            out.append((self.progress_bar.layout, {"visibility": visibility}))
        return out

    def _render_status(self, state: str | None = None) -> None:
        tr = self.trainer
        state = tr.state if state is None else state
        msg = tr.message or ""
        if state == "error":
            text, colour = msg or f"error: {tr.error!r}", style.ERROR
        elif tr.stop_reason == "diverged":
            text, colour = msg, style.ERROR
        elif self._ui_error:
            text, colour = self._ui_error, style.ERROR
        elif self._ui_hint:
            text, colour = self._ui_hint, style.WARN
        elif tr.needs_reset:
            text, colour = f"{', '.join(tr.needs_reset)} changed: press reset to rebuild", style.WARN
        elif state in ("running", "paused") and tr.lr_note:
            text, colour = tr.lr_note, style.WARN
        elif state == "finished":
            text, colour = msg, style.OK
        else:
            text, colour = msg, None
        html = style.html_status(text, colour)
        if self.status.value != html:
            self.status.value = html

    # ---- decision boundary --------------------------------------------------------------------------
    def _data_updates(self, data: Any) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """New data (first publish or after reset): grid, points and colour scales of the boundary view."""
        import torch

        self._data_view = data
        children = list(self._plot_children)
        if self.image_panels.shown:  # images: the image panels take the decision boundary's place
            at = children.index(self.figure_boxes["boundary"])
            children[at : at + 1] = self.image_panels.panels
        if list(self._plot_grid.children) != children:
            self._plot_grid.children = children
        self._boundary_version = -1
        self._boundary_future = None
        heat, points = self.marks["boundary"], self.marks["points"]
        fig = self.figures["boundary"]
        if not data.is_2d or data.tensors("train") is None:
            self._grid = None
            shape = "×".join(str(s) for s in data.input_shape)
            return [(heat, {"visible": False}), (points, {"visible": False, "x": np.zeros(0), "y": np.zeros(0),
                                                          "color": np.zeros(0)}),
                    (fig, {"title": f"decision boundary: needs 2-D inputs ({data.name}: {shape})"})]
        x0, x1, y0, y1 = data.bounds()
        r = self.boundary_resolution
        gx, gy = np.linspace(x0, x1, r), np.linspace(y0, y1, r)
        xx, yy = np.meshgrid(gx, gy)
        # on the CPU here; moved to the training device inside the submitted job (the training thread's
        # work: no device work from this thread, which on an Apple GPU could collide with a step)
        self._grid = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=torch.float32)
        k = max(int(data.num_classes), 2)
        strong = [style.CLASSES[i % len(style.CLASSES)] for i in range(k)]
        shades = [c for s in strong for c in (style.tint(s, 0.9), style.tint(s, 0.45))]
        X, y = data.tensors("train")
        if len(y) > MAX_POINTS_SHOWN:
            idx = np.random.default_rng(0).choice(len(y), MAX_POINTS_SHOWN, replace=False)
            X, y = X[idx], y[idx]
        pre = self.config.preprocess
        suffix = f" ({pre})" if pre and pre != "none" else ""
        self._boundary_axes[0].label = f"x₁{suffix}"
        self._boundary_axes[1].label = f"x₂{suffix}"
        ticks = []
        for ax, (lo, hi) in zip(self._boundary_axes, ((x0, x1), (y0, y1))):
            _, _, t = style.nice_ticks(lo, hi, 4, inside=True)
            ticks += [(ax.scale, {"min": float(lo), "max": float(hi)}), (ax, {"tick_values": t})]
        return ticks + [
            (heat.scales["color"], {"min": 0.0, "max": float(2 * k - 1), "colors": shades}),
            (heat, {"x": gx.astype(np.float32), "y": gy.astype(np.float32),
                    "color": np.zeros((r, r), np.float32), "visible": False}),
            (points.scales["color"], {"min": 0.0, "max": float(k - 1), "colors": strong}),
            (points, {"x": X[:, 0].numpy().astype(np.float32), "y": X[:, 1].numpy().astype(np.float32),
                      "color": y.numpy().astype(np.float32), "visible": True}),
            (fig, {"title": "decision boundary"}),
        ]

    def _boundary_step(self, now: float) -> bool:
        """Collect a finished prediction, then ask for a new one when due (at most every boundary_interval)."""
        fut = self._boundary_future
        sent = False
        if fut is not None and fut.done():
            self._boundary_future = None
            try:
                cls, conf, k = fut.result()
            except Exception as exc:  # noqa: BLE001 - e.g. a user model that rejects the grid
                self.boundary_error = exc
            else:
                r = self.boundary_resolution
                shade = np.clip((conf - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
                colour = (2.0 * cls + shade).reshape(r, r).astype(np.float32)
                heat = self.marks["boundary"]
                with style.hold([heat, self.figures["boundary"]]):
                    heat.color = colour
                    heat.visible = True
                    self.figures["boundary"].title = f"decision boundary (step {self._boundary_step_at:,})"
                sent = True
        elif fut is not None and now - self._boundary_submitted > 30:
            self._boundary_future = None  # the trainer never got to it (closed?): ask again later
        version = self.trainer.metrics.version
        if (self._grid is not None and self._boundary_future is None and version != self._boundary_version
                and now - self._boundary_t >= self.boundary_interval):
            self._boundary_version, self._boundary_t, self._boundary_submitted = version, now, now
            self._boundary_step_at = self.trainer.global_step
            grid, k, cache = self._grid, max(int(self._data_view.num_classes), 2), self._grid_on_device

            def predict(model: Any) -> tuple[np.ndarray, np.ndarray, int]:
                import torch

                dev = next(iter(model.parameters()), grid).device
                if cache.get("grid") is not grid or cache.get("device") != dev:
                    cache.update(grid=grid, device=dev, on=grid.to(dev))
                p = torch.softmax(model(cache["on"]).float(), dim=1)
                conf, cls = p.max(dim=1)
                return cls.cpu().numpy().astype(np.float32), conf.cpu().numpy().astype(np.float32), k

            self._boundary_future = self.trainer.submit(predict)
            if self._boundary_future.done():  # no step was running: computed right here
                sent = self._boundary_step(now) or sent
        return sent


def _multi_line(xs: list[np.ndarray], ys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Arrays for one multi-line bqplot mark: rows of equal length (each padded by repeating its last
    point, which draws nothing new), at least 2 points per row (bqplot squeezes 2-D arrays, so a (1, 1)
    array would lose its dimensions), and plain 1-D arrays for a single line."""
    if not xs:
        return np.zeros(0, np.int32), np.zeros(0, np.float32)
    n = max(2, *(len(x) for x in xs))
    X = np.stack([np.pad(x, (0, n - len(x)), mode="edge") for x in xs]).astype(np.int32)
    Y = np.stack([np.pad(y, (0, n - len(y)), mode="edge") for y in ys]).astype(np.float32)
    return (X[0], Y[0]) if len(xs) == 1 else (X, Y)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
