"""``Lab``: the notebook instrument — live controls and streaming curves over a background :class:`Trainer`.

The trainer's thread trains; this widget only observes engine state and calls engine methods:

- every control is generated from a registry or a config field; a change goes to ``trainer.config``
  (applied by the training thread at the next step) and a refused value (``ConfigError``) shows in the
  status line while the control snaps back to the config's value (:mod:`nbtrain.ui.lab_controls`);
- one publisher thread (≤ 10 Hz, ``interval=``; at most 5 % of a core) reads what the history gained since its
  last visit, keeps a bounded min/max decimation of every series (``max_points`` each, however long the run) and
  assigns bqplot traits inside ``hold_sync()``; while a run goes on the training-loss curve follows every
  publish and the other views every 0.25 s; when the history's version and the run state did not
  change it sends nothing; it never prints, displays or creates widgets (:mod:`nbtrain.ui.lab_publish`,
  into the figures of :mod:`nbtrain.ui.lab_plots`);
- the decision boundary (2-D data) is computed by ``trainer.submit`` between two steps, at most once a
  second, never by touching the model from another thread.

This module is the Lab's boundary: its constructor, the transport (run, pause, step, reset), the few
trainer verbs passed through, scenes / forks / export, closing, and one Lab per notebook cell.

>>> import nbtrain as nt
>>> lab = nt.Lab(data="spiral", hidden=[16], lr=0.5, max_steps=100)
>>> _ = lab.start(); lab.wait()
'finished'
>>> len(lab.loss_lines["train"].x) > 0, lab.controls["lr"].value
(True, 0.5)
>>> lab.close()
"""

from __future__ import annotations

import inspect
import math
import threading
import weakref
from collections.abc import Callable
from typing import Any

import bqplot as bq
import ipywidgets as widgets

from nbtrain import kernel_comm
from nbtrain.engine.config import TrainConfig
from nbtrain.engine.text import fmt
from nbtrain.engine.trainer import Trainer
from nbtrain.serving import html_text

from . import style
from .figure_tools import FORMATS, FigureBox
from .guard import guard_all
from .image_panels import ImagePanels
from .lab_controls import LabControls
from .lab_plots import LabPlots
from .lab_publish import PUBLISH_BUDGET, LabPublishing
from .stream import Publisher
from .util import all_widgets, close_all


def _trainer_attr(name: str, doc: str) -> property:
    """``lab.<name>`` reads ``lab.trainer.<name>``."""
    return property(lambda self: getattr(self.trainer, name), doc=doc)


def _trainer_verb(name: str, *, chain: bool = True) -> Callable[..., Any]:
    """``lab.<name>(...)`` calls ``lab.trainer.<name>(...)``; returns the Lab (``chain``, for chaining) or the
    trainer's result. Signature and docstring are the trainer's."""
    target = getattr(Trainer, name)

    def verb(self: Lab, *args: Any, **kwargs: Any) -> Any:
        out = getattr(self.trainer, name)(*args, **kwargs)
        return self if chain else out

    sig = inspect.signature(target)
    verb.__name__, verb.__qualname__ = name, f"Lab.{name}"
    verb.__signature__ = sig.replace(return_annotation="Lab") if chain else sig  # type: ignore[attr-defined]
    returns = "returns the Lab" if chain else "returns what the trainer returns"
    verb.__doc__ = f"``lab.trainer.{name}(...)``; {returns}.\n\n{inspect.getdoc(target) or ''}".rstrip()
    return verb


class Lab(LabControls, LabPlots, LabPublishing, widgets.VBox):
    """Controls, live curves, decision boundary and per-layer panel over one background :class:`Trainer`.

    Takes the Trainer's arguments (``Lab(data="moons", activation="tanh", lr=0.05)``) or ``trainer=`` an
    existing one. UI options: ``interval`` (seconds between publishes, default 0.1), ``max_points``
    (points per series sent to the browser, default 1000), ``close_stops`` (``close()`` also stops the
    trainer), ``boundary_interval`` (seconds between decision-boundary refreshes) and
    ``boundary_resolution`` (grid cells per side), ``image_panels`` (default True: for image data, per-class
    accuracy, confusion matrix, gallery and first-layer filters in place of the decision boundary, see
    :mod:`nbtrain.ui.image_panels`; ``lab.image_panels``).

    One Lab per cell: re-running the cell that made a Lab closes the previous Lab, its publisher and the
    trainer it built (a ``trainer=`` passed in keeps running); Labs made by one execution of a cell coexist.
    The cell is recognised by the cell id the front end sends (JupyterLab, Notebook 7, VS Code) or, where
    none is sent (nbclient, Voilà), by its source text. ``nbtrain.ui.lab.live_labs()`` lists the open ones.

    Widgets are attributes, so tests and lecture scripts can drive them: ``controls`` (config field ->
    widget; schedule parameters as ``"schedule.<name>"``), ``buttons``, ``figures``, ``marks``,
    ``loss_lines`` / ``acc_lines`` (``{"train", "val"}``), ``status``, ``progress``. Every figure has a
    "PNG" / "SVG" toolbar (``figure_boxes``, :mod:`nbtrain.ui.figure_tools`); ``save_figure`` does the same.

    The trainer is ``lab.trainer``; a few of its names are passed through (see the table in the class body):
    ``config``, ``history``, ``metrics``, ``state``, ``message``, ``stop_reason``, ``global_step``, ``device`` read it;
    ``start``, ``resume``, ``pause``, ``step``, ``stop`` call it and return the Lab; ``reinit``, ``submit``,
    ``save``, ``script`` call it and return its result. ``reset`` and ``wait`` also bring the views up to date.

    >>> lab = Lab(data="moons", hidden=[8], max_steps=20)
    >>> lab.controls["activation"].value = "tanh"; lab.config.activation
    'tanh'
    >>> lab.close()
    """

    def __init__(self, model: Any = None, data: Any = None, val_data: Any = None, config: TrainConfig | None = None,
                 device: str = "auto", *, trainer: Trainer | None = None, interval: float = 0.1,
                 max_points: int = 1000, close_stops: bool = False, boundary_interval: float = 1.0,
                 boundary_resolution: int = 64, diagnose_interval: float = 2.0, image_panels: bool = True,
                 **trainer_kw: Any):
        if not interval > 0:
            raise ValueError(f"interval={interval!r} must be a number of seconds > 0")
        if int(max_points) < 5:
            raise ValueError(f"max_points={max_points!r} must be an integer ≥ 5")
        self._owns_trainer = trainer is None
        if trainer is not None:
            if model is not None or data is not None or val_data is not None or config is not None or trainer_kw:
                raise ValueError("Lab(trainer=...) wraps an existing trainer; pass no model/data/config arguments too")
        else:
            trainer = Trainer(model, data, val_data, config, device, **trainer_kw)
        self.trainer = trainer
        self._cell_key = None
        self.close_stops = bool(close_stops)
        self.max_points = int(max_points)
        self.boundary_interval = float(boundary_interval)
        self.boundary_resolution = int(boundary_resolution)
        self.diagnose_interval = float(diagnose_interval)  # seconds between live curve diagnoses; 0 = off
        self.findings: list = []  # the latest nt.diagnose() findings of the live run
        self._diag_at = 0.0
        self._diag_version = -1
        self._closed = False
        self._lock = threading.RLock()
        self._syncing = 0
        self._ui_error = ""  # the last refused control change or failed click (shown until the next success)
        self._ui_hint = ""  # advice after a click that could not do anything (e.g. run at max_steps)
        self.publish_count = 0  # publishes that changed something (tests, benchmarks)
        self.scene_view: Any = None  # ui/scenes.py: the scene being played (play())
        self.forks: list[Trainer] = []  # branches overlaid on the curves (fork())
        self._addons: list[Any] = []  # views with version()/updates(), published with the Lab

        self.controls: dict[str, widgets.Widget] = {}
        self._bindings: dict[str, tuple[Callable[[Any], Any], Callable[[], Any]]] = {}
        self._schedule_specs: dict[str, Any] = {}  # the selected schedule's parameter specs
        self._param_boxes: dict[str, widgets.VBox] = {}  # parameter widgets, one box per schedule seen
        self.buttons: dict[str, widgets.Button] = {}
        self.figures: dict[str, bq.Figure] = {}
        self.figure_boxes: dict[str, FigureBox] = {}  # each figure with its "PNG" / "SVG" toolbar
        self.marks: dict[str, bq.Mark] = {}
        self.legends: dict[str, tuple[bq.Figure, widgets.HTML]] = {}  # a figure's legend row (under it)
        self.figure_cells: dict[str, widgets.VBox] = {}  # a figure and its legend row, as laid out

        self._init_streams()
        # for image data: confusion matrix, gallery, filters, per-class accuracy in place of the boundary
        self.image_panels = ImagePanels(trainer, interval=self.boundary_interval, enabled=image_panels)
        header = self._build_header()
        control_panel = self._build_controls()
        plots = self._build_plots()
        self.status = widgets.HTML()
        self.status.add_class("nbtrain-status")
        # the latest live change: "pending" as soon as the control moves, "applied" once the training
        # thread took it at a step boundary (see _change_updates)
        self.change_note = widgets.HTML()
        self.change_note.add_class("nbtrain-change")
        self._change: dict[str, Any] | None = None
        status_row = widgets.HBox([self.status, self.change_note])
        status_row.add_class("nbtrain-statusrow")
        self.diagnosis = widgets.HTML()
        self.diagnosis.add_class("nbtrain-diagnosis")
        body = widgets.HBox([control_panel, plots])
        body.add_class("nbtrain-body")
        super().__init__(children=[style.stylesheet(), header, status_row, self.diagnosis, body])
        style.view_classes(self, "nbtrain-lab")

        self._config_observer = self._on_config_change
        self.trainer.config.observe(self._config_observer)
        _views_of(self.trainer).add(self)  # the status bar and keyboard transport prefer a trainer shown in a Lab
        self._draw_preview()
        self.publish(force=True)
        # the kernel, not the page, enforces bounds and disabled controls (image panels: also while not shown)
        guard_all([self, *self.image_panels.panels])
        self._publisher = Publisher(self._tick, interval=interval, budget=PUBLISH_BUDGET,
                                    name="nbtrain-lab-publisher").start()
        _replace_labs_of_this_cell(self)  # re-running this cell: the previous Lab (and its trainer) is closed

    # ------------------------------------------------------------------------------------------------
    # the header (transport buttons) and the status row's feedback
    # ------------------------------------------------------------------------------------------------
    def _button(self, key: str, description: str, icon: str, tooltip: str, handler: Callable[[], Any],
                width: str = "86px") -> widgets.Button:
        b = widgets.Button(description=description, icon=icon, tooltip=tooltip,
                           layout=widgets.Layout(width=width, height="34px"))
        b.add_class("nbtrain-button")
        b.add_class(f"nbtrain-{key}")
        b.on_click(lambda _b: self._act(handler))
        self.buttons[key] = b
        return b

    def _build_header(self) -> widgets.Widget:
        play = self._button("play", "run", "play", "start or resume training", self._on_play)
        play.button_style = "success"
        pause = self._button("pause", "pause", "pause", "pause after the current step", self._on_pause)
        step = self._button("step", "step", "step-forward", "run the given number of steps, then pause", self._on_step)
        self.step_count = widgets.BoundedIntText(value=10, min=1, max=100_000, description="steps",
                                                 tooltip="steps per click of 'step'", style=dict(style.LABEL_STYLE),
                                                 layout=widgets.Layout(width="118px"))
        self.step_count.add_class("nbtrain-step-count")
        reset = self._button("reset", "reset", "undo", "clear the history and start over at step 0", self._on_reset)
        self.same_init = widgets.Checkbox(value=False, description="same start", indent=False,
                                          tooltip="reset to exactly this run's initial weights",
                                          layout=widgets.Layout(width="104px"))
        self.log_loss = widgets.Checkbox(value=False, description="log loss", indent=False,
                                         tooltip="logarithmic y axis for the loss", layout=widgets.Layout(width="92px"))
        self.log_loss.observe(self._on_log_loss, names="value")
        self.progress = widgets.HTML()
        self.progress.add_class("nbtrain-progress")
        self.progress_bar = widgets.FloatProgress(value=0.0, min=0.0, max=1.0, description="done",
                                                  tooltip="share of max_steps / max_epochs done",
                                                  style=dict(style.LABEL_STYLE),
                                                  layout=widgets.Layout(width="150px", visibility="hidden"))
        self.progress_bar.add_class("nbtrain-progress-bar")
        self.device_label = widgets.HTML(
            f"<span class='nbtrain-muted' style='font-size:14px'>device: <b>{html_text(self.trainer.device)}</b></span>",
            layout=widgets.Layout(width="auto"))
        self.device_label.add_class("nbtrain-device")
        header = widgets.HBox([play, pause, step, self.step_count, reset, self.same_init, self.log_loss,
                               self.progress, self.progress_bar, self.device_label])
        header.add_class("nbtrain-header")
        return header

    # ---- feedback: a live change is marked at once, and again when the training thread applies it -------
    def _note_change(self, field: str) -> None:
        """Called synchronously by the config observer: show "pending" now (the front end gets it right after
        the control's own message), "applied at step N" once the trainer took it at a step boundary."""
        trait = TrainConfig.class_traits().get(field)
        if trait is None or not trait.metadata.get("live"):
            return  # applies on reset: the status line says so
        value = getattr(self.config, field)
        self._change = {"field": field, "value": value, "future": None, "text": f"{field} → {fmt(value)}"}
        self._show_change(pending=True)
        self._confirm_change()  # a paused/idle trainer applies it right away

    def _note_command(self, what: str, future: Any = None) -> None:
        with self._lock:
            self._change = {"field": None, "value": None, "future": future, "text": what,
                            "state": None if future is not None else self.trainer.state}
            self._show_change(pending=True)

    def _show_change(self, pending: bool, step: int | None = None) -> None:
        c = self._change
        if c is None:
            return
        import html as _html

        text = _html.escape(c["text"])
        if pending:
            value = f"<span class='nbtrain-pending' title='waiting for the next step boundary'>⧗ {text}: pending</span>"
        else:
            where = f" at step {step:,}" if step is not None else ""
            whole = f"✓ {text}: applied{where}"  # also as its tooltip: a narrow Lab ellipsises the note
            value = f"<span class='nbtrain-confirmed' title='{whole}'>{whole}</span>"
        if self.change_note.value != value:
            self.change_note.value = value

    def _change_applied(self) -> bool:
        c, tr = self._change, self.trainer
        if c["future"] is not None:
            return c["future"].done()
        if c["field"] is None:  # pause: applied when the trainer no longer runs
            return tr.state != "running"
        pending = getattr(tr, "_pending", {})
        live = getattr(tr, "_in_use", {})
        return c["field"] not in pending and live.get(c["field"], c["value"]) == c["value"]

    def _confirm_change(self) -> None:
        c = self._change
        if c is None or c.get("done"):
            return
        if self._change_applied():
            c["done"] = True
            self._show_change(pending=False, step=self.trainer.global_step)

    def _set_ui_error(self, text: str, hint: str = "") -> None:
        # under the publisher's lock, like every view both threads write: a publish's messages go in one batch
        # when it ends (nbtrain.ui.iopub), and a write of this thread in the middle would reach the page first
        with self._lock:
            if (text, hint) != (self._ui_error, self._ui_hint):
                self._ui_error, self._ui_hint = text, hint
                self._render_status()

    def _act(self, fn: Callable[[], Any]) -> None:
        """Run a button's action; errors go to the status line (a click must never raise into the kernel)."""
        if self._closed:
            return
        try:
            hint = fn()
            self._set_ui_error("", hint or "")
        except Exception as exc:  # noqa: BLE001 - shown to the user instead
            self._set_ui_error(f"{type(exc).__name__}: {exc}")
        self.publish(force=True)

    def _on_play(self) -> str | None:
        # a finished run continues: its limit is raised by the same amount again (the config shows it)
        note = self._extend_limit()
        self.trainer.start()
        return note

    def _on_pause(self) -> None:
        self._note_command("pause")
        self.trainer.pause()

    def _on_step(self) -> str | None:
        n = int(self.step_count.value)
        note = self._extend_limit(n)
        self.trainer.step(n)
        return note

    def _extend_limit(self, steps: int | None = None) -> str | None:
        """At max_steps (or max_epochs) run/step would stop at once: raise the limit so they do something.

        ``run`` adds the run's length again (max_steps 4000 -> 8000), ``step`` at least ``steps``; the
        returned note says so (shown in the status line)."""
        tr, cfg = self.trainer, self.config
        notes = []
        if cfg.max_steps is not None and tr.global_step >= cfg.max_steps:
            new = tr.global_step + (steps if steps is not None else max(cfg.max_steps, 100))
            notes.append(f"max steps {cfg.max_steps:,} → {new:,}")
            cfg.max_steps = new
        if cfg.max_epochs is not None and tr.epoch >= cfg.max_epochs:
            new_ep = float(math.ceil(tr.epoch + (cfg.max_epochs if steps is None else 1)))
            notes.append(f"max epochs {cfg.max_epochs:g} → {new_ep:g}")
            cfg.max_epochs = new_ep
        if not notes:
            return None
        return f"the run had reached its limit: continuing ({', '.join(notes)}; run tab, or reset to start over)"

    def _on_reset(self) -> None:
        self.trainer.reset(same_init=bool(self.same_init.value))
        self._refresh_enabled()

    def _on_reinit(self) -> None:
        self._note_command("re-init", self.trainer.reinit(self.config.init))

    # ------------------------------------------------------------------------------------------------
    # the trainer, passed through (anything else: ``lab.trainer``)
    # ------------------------------------------------------------------------------------------------
    config = _trainer_attr("config", "The trainer's live config (``lab.config.lr = 0.01`` applies at the next step).")
    history = _trainer_attr("history", "The run's metrics as a pandas DataFrame (see ``Trainer.history``).")
    metrics = _trainer_attr("metrics", "The trainer's metrics store (``lab.metrics.last('val_loss')``).")
    state = _trainer_attr("state", "The run state: idle, running, paused, finished or error.")
    message = _trainer_attr("message", "The trainer's last message (why it stopped, what went wrong).")
    stop_reason = _trainer_attr("stop_reason", "Why stepping last stopped (one of the trainer's STOP_REASONS), or None.")
    global_step = _trainer_attr("global_step", "Optimizer steps taken so far.")
    device = _trainer_attr("device", "The device the trainer trains on.")
    start = _trainer_verb("start")
    resume = _trainer_verb("resume")
    pause = _trainer_verb("pause")
    step = _trainer_verb("step")
    stop = _trainer_verb("stop")
    reinit = _trainer_verb("reinit", chain=False)
    submit = _trainer_verb("submit", chain=False)
    save = _trainer_verb("save", chain=False)
    script = _trainer_verb("script", chain=False)

    def reset(self, same_init: bool = False) -> Lab:
        """Clear the history and rebuild from the config (``same_init=True``: the same initial weights)."""
        self.trainer.reset(same_init=same_init)
        self.publish(force=True)
        return self

    def wait(self, steps: int | None = None, timeout: float | None = None) -> str:
        """Block until the run ends or pauses (or ``global_step >= steps``); the views are then up to date."""
        try:
            return self.trainer.wait(steps, timeout)
        finally:
            self._boundary_t = 0.0  # the decision boundary too
            self._diag_at = 0.0  # and the diagnosis
            self.publish()

    @classmethod
    def load(cls, path: str, *, model: Any = None, data: Any = None, val_data: Any = None, device: str = "auto",
             **kw: Any) -> Lab:
        """A Lab over ``Trainer.load(path, ...)``; UI options (``interval``, ...) may be given too."""
        ui = {k: kw.pop(k) for k in UI_OPTIONS if k in kw}
        return cls(trainer=Trainer.load(path, model=model, data=data, val_data=val_data, device=device, **kw), **ui)

    @classmethod
    def from_json(cls, s: str, **kw: Any) -> Lab:
        """A Lab from ``config.to_json()`` output (``model``/``data`` objects may be passed again)."""
        return cls(config=TrainConfig.from_json(s), **kw)

    # ------------------------------------------------------------------------------------------------
    # scenes, forks, scripts, export (ui/scenes.py, engine/script.py)
    # ------------------------------------------------------------------------------------------------
    def play(self, scene: Any) -> Lab:
        """Play a lecture scene (``nt.Scene`` or its JSON/dict) on this Lab: step cues fire at their step
        boundary, key-press cues on *next cue* (the button, ``lab.next_cue()`` or the extension's shortcut);
        the current cue's note is shown above the plots and each cue is marked on the curves."""
        from ..engine.script import Scene
        from .scenes import SceneView

        if isinstance(scene, str):
            scene = Scene.from_json(scene)
        elif isinstance(scene, dict):
            scene = Scene.from_dict(scene)
        elif not isinstance(scene, Scene):
            scene = Scene(list(scene))
        with self._lock:
            if self.scene_view is not None:
                raise RuntimeError("this Lab is already playing a scene; make a new Lab for another one")
            view = SceneView(self, scene)
            self.scene_view = view
            self._addons.append(view)
            self.children = [self.children[0], *view.widgets(), *self.children[1:]]
        self.publish(force=True)
        return self

    @property
    def scene(self) -> Any:
        """The scene's player (``current``, ``note``, ``next()``), or None."""
        return self.scene_view.player if self.scene_view is not None else None

    def next_cue(self) -> int | None:
        """Fire the scene's next cue now (at the next step boundary when running); returns its index."""
        if self.scene_view is None:
            raise RuntimeError("no scene is playing: lab.play(scene) first")
        i = self.scene_view.player.next()
        self.publish()
        return i

    def fork(self, *, start: bool | None = None, **changes: Any) -> Trainer:
        """Branch the run at this step with ``changes`` (config fields) and overlay the branch (dashed, its
        own colour, labelled with what differs) on the loss and accuracy plots. The branch is a Trainer:
        pause, close or ``nt.compare`` it later; ``close_fork(branch)`` removes it from the plots."""
        branch = self.trainer.fork(start=start, **changes)
        self._overlay_fork(branch)
        return branch

    def _fork_from_scene(self, trainer: Trainer, changes: dict[str, Any]) -> Trainer:
        # a scene's fork cue fires on the training thread: fork there, overlay from the publisher
        branch = trainer.fork(start=True, **changes)
        self._overlay_fork(branch)
        return branch

    def _overlay_fork(self, branch: Trainer) -> None:
        from .scenes import MAX_FORKS, ForkOverlay

        with self._lock:
            if len(self.forks) >= MAX_FORKS:
                branch.close()
                raise RuntimeError(f"a Lab overlays at most {MAX_FORKS} forks: close_fork() one first")
            self.forks.append(branch)
            self._addons.append(ForkOverlay(self, branch, len(self.forks) - 1))

    def close_fork(self, branch: Trainer) -> None:
        """Stop a branch and take it off the plots."""
        from .scenes import ForkOverlay

        with self._lock:
            for a in [a for a in self._addons if isinstance(a, ForkOverlay) and a.branch is branch]:
                a.remove()
                self._addons.remove(a)
            if branch in self.forks:
                self.forks.remove(branch)
        branch.close()

    @classmethod
    def replay(cls, script: Any, *, model: Any = None, data: Any = None, val_data: Any = None, device: Any = None,
               **ui: Any) -> Lab:
        """A Lab over ``Trainer.replay(script)``: the rehearsed run plays again, bit for bit, in the background."""
        return cls(trainer=Trainer.replay(script, model=model, data=data, val_data=val_data, device=device), **ui)

    from_script = replay  # a student loads a handed-out script into their own Lab and continues from it

    def export(self, path: str, *, title: str | None = None) -> str:
        """Write one self-contained HTML file (opens offline, no kernel): the Lab's curves as live widgets
        (ipywidgets' embed + bqplot, bundled in the file), the config, the script and the events table."""
        from .export import export_lab

        return export_lab(self, path, title=title)

    def save_figure(self, name: str, format: str = "png") -> str:
        """Download figure ``name`` (``"loss"``, ``"accuracy"``, ``"boundary"``, ``"schedule"``, ...; see
        ``figure_boxes``) as ``"png"`` or ``"svg"`` in the browser that shows the Lab, as its toolbar button
        does; returns the file name (``nbtrain-loss-step1234.png``). Nothing is written on the server."""
        boxes = {**self.figure_boxes, **self.image_panels.figure_boxes}
        if name not in boxes:
            raise ValueError(f"no figure {name!r}; the Lab's figures: {', '.join(boxes)}")
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        return boxes[name].save(format)

    # ------------------------------------------------------------------------------------------------
    # closing
    # ------------------------------------------------------------------------------------------------
    def _stop_publishing(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        publisher = getattr(self, "_publisher", None)
        if publisher is not None:
            publisher.stop()
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            try:
                trainer.config.unobserve(self._config_observer)
            except (ValueError, AttributeError):
                pass
            _views_of(trainer).discard(self)
            if self.close_stops:
                trainer.close()

    @property
    def publishing(self) -> bool:
        """True while the publisher thread runs."""
        publisher = getattr(self, "_publisher", None)
        return publisher is not None and publisher.alive

    def close(self) -> None:
        """Stop publishing (the thread ends), close every widget of the Lab; ``close_stops=True`` also
        stops the trainer, otherwise it keeps training headless (``lab.trainer``)."""
        if getattr(self, "_lock", None) is None:  # __init__ failed early
            super().close()
            return
        self._stop_publishing()
        for branch in list(getattr(self, "forks", [])):
            branch.close()
        kernel_comm.unexpose(self.trainer)  # the page's status bar and keys no longer reach it
        # + parameter boxes, the loss scale and image panels not shown now (log/linear: one of them is off-screen)
        close_all([self, *self._param_boxes.values(), *getattr(self, "_loss_scales", {}).values(),
                   *self.image_panels.panels], keep=[self])
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        # a displayed Lab's trainer is what the front end's status bar and transport keys may drive
        kernel_comm.expose(self.trainer)
        return super()._repr_mimebundle_(**kwargs)

    def _all_widgets(self) -> list[widgets.Widget]:
        """Every widget reachable from the Lab (children, layouts, marks, scales, ...) plus cached ones."""
        panels = getattr(getattr(self, "image_panels", None), "panels", [])
        return all_widgets([self, *getattr(self, "_param_boxes", {}).values(), *getattr(self, "_loss_scales", {}).values(),
                            *panels])

    def __repr__(self) -> str:
        tr = getattr(self, "trainer", None)
        if tr is None:
            return "Lab(<not built>)"
        return f"Lab(state={tr.state!r}, step={tr.global_step}, data={tr.data.name!r}, device={tr.device.type!r})"


def _views_of(trainer: Trainer) -> weakref.WeakSet:
    """The Labs showing ``trainer`` (read by ``nbtrain.kernel_comm.pick``)."""
    views = getattr(trainer, "_nbtrain_views", None)
    if views is None:
        views = trainer._nbtrain_views = weakref.WeakSet()
    return views


# ---- one Lab per cell -----------------------------------------------------------------------------------
# ipywidgets keeps every open widget alive, so re-running ``lab = nt.Lab(...)`` would leave the previous Lab
# (its publisher thread and its trainer) running unseen. Labs are therefore registered by the notebook cell
# that created them: the cell id JupyterLab/Notebook 7/VS Code send with each execute request
# (``metadata.cellId``), or, for front ends that send none (nbclient, Voilà), the cell's source. A Lab made by a
# *later* execution of the same cell closes the Labs of the earlier execution, and their trainers when the Lab
# built them (a trainer passed in with ``trainer=`` is the caller's and keeps running, unless the new Lab wraps
# it too). Several Labs made by one execution coexist. Outside a kernel nothing is registered.
_CELL_LABS: dict[str, tuple[str, list[Any]]] = {}  # cell key -> (execution msg_id, weak refs to its Labs)
_CELL_LOCK = threading.Lock()


def _current_cell() -> tuple[str, str] | None:
    """(cell key, execution id) of the cell the kernel is executing now, or None (no kernel, no cell)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    kernel = getattr(shell, "kernel", None) if shell is not None else None
    if kernel is None or not hasattr(kernel, "get_parent"):
        return None
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # older ipykernel: get_parent() without a channel
        parent = kernel.get_parent()
    if not parent or parent.get("header", {}).get("msg_type") != "execute_request":
        return None  # e.g. a comm message (a button click) creating a Lab: not a cell execution
    msg_id = str(parent["header"].get("msg_id", ""))
    meta = parent.get("metadata") or {}
    cell_id = meta.get("cellId") or meta.get("cell_id")
    if cell_id:
        return f"cell:{cell_id}", msg_id
    code = (parent.get("content") or {}).get("code")
    if code:
        import hashlib

        return "code:" + hashlib.sha256(code.encode()).hexdigest(), msg_id
    return None


def _replace_labs_of_this_cell(lab: Lab) -> None:
    cell = _current_cell()
    if cell is None:
        return
    key, msg_id = cell

    with _CELL_LOCK:
        prev_id, refs = _CELL_LABS.get(key, ("", []))
        old = [r() for r in refs] if prev_id != msg_id else []
        refs = [r for r in refs if r() is not None] if prev_id == msg_id else []
        refs.append(weakref.ref(lab))
        _CELL_LABS[key] = (msg_id, refs)
    lab._cell_key = key
    for other in old:
        if other is None or other is lab:
            continue
        keep = other.trainer is lab.trainer or not other._owns_trainer
        if keep:
            other.close_stops = False  # the trainer lives on (in the new Lab, or with whoever passed it in)
        other.close()
        if not keep:
            other.trainer.close()


def live_labs() -> list[Lab]:
    """The Labs registered by notebook cells that are still open (newest execution of each cell)."""
    with _CELL_LOCK:
        labs = [r() for _, refs in _CELL_LABS.values() for r in refs]
    return [lab for lab in labs if lab is not None and not lab._closed]


# the constructor's keyword-only options that are the Lab's, not the trainer's (``Lab.load`` gives them to the
# Lab, the rest to ``Trainer.load``): read from the signature, so that a new option is one at once
UI_OPTIONS = tuple(p.name for p in inspect.signature(Lab.__init__).parameters.values()
                   if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "trainer")
