"""``Lab``: the notebook instrument — live controls and streaming curves over a background :class:`Trainer`.

The trainer's thread trains; this widget only observes engine state and calls engine methods:

- every control is generated from a registry or a config field; a change goes to ``trainer.config``
  (applied by the training thread at the next step) and a refused value (``ConfigError``) shows in the
  status line while the control snaps back to the config's value;
- one publisher thread (≈10 Hz, ``interval=``) reads what the history gained since its last visit,
  keeps a bounded min/max decimation of every series (``max_points`` each, however long the run) and
  assigns bqplot traits inside ``hold_sync()``; when the history's version and the run state did not
  change it sends nothing; it never prints, displays or creates widgets;
- the decision boundary (2-D data) is computed by ``trainer.submit`` between two steps, at most once a
  second, never by touching the model from another thread.

>>> import nbtrain as nt
>>> lab = nt.Lab(data="spiral", hidden=[16], lr=0.5, max_steps=100)
>>> _ = lab.start(); lab.wait()
'finished'
>>> len(lab.loss_lines["train"].x) > 0, lab.controls["lr"].value
(True, 0.5)
>>> lab.close()
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np
from traitlets import TraitError

from nbtrain import kernel_comm
from nbtrain.engine import activations as act_mod
from nbtrain.engine import data as data_mod
from nbtrain.engine import init as init_mod
from nbtrain.engine import models, optim, schedules
from nbtrain.engine.build import schedule_horizon
from nbtrain.engine.config import ConfigError, TrainConfig
from nbtrain.engine.diagnose import diagnose
from nbtrain.engine.trainer import Trainer
from nbtrain.serving import html_text

from . import controls as ctl
from . import style
from .guard import guard_all
from .image_panels import ImagePanels
from .stream import Publisher, StreamDecimator, TableFeed
from .util import all_widgets, close_all

UI_OPTIONS = ("interval", "max_points", "close_stops", "boundary_interval", "boundary_resolution", "image_panels")
WEIGHT_DECAYS = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)
L1S = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
BATCH_SIZES = tuple(2**i for i in range(11))
SAMPLES = (50, 100, 200, 300, 500, 1000, 2000, 5000, 10000)
MAX_EVENTS = 100  # live-change markers drawn (the latest)
MAX_POINTS_SHOWN = 1500  # data points drawn over the decision boundary
PERCENT_TICKS = [0.0, 25.0, 50.0, 75.0, 100.0]
_ERRORS = (ConfigError, TraitError, ValueError, TypeError, KeyError, RuntimeError)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={_fmt(x)}" for k, x in v.items()) + "}"
    return str(v)


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
    return f"{field} {_fmt(old)} → {_fmt(new)}"


class Lab(widgets.VBox):
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
    ``loss_lines`` / ``acc_lines`` (``{"train", "val"}``), ``status``, ``progress``.

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
        self.buttons: dict[str, widgets.Button] = {}
        self.figures: dict[str, bq.Figure] = {}
        self.marks: dict[str, bq.Mark] = {}

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
        guard_all([self])  # the kernel, not the page, enforces bounds and disabled controls
        self._publisher = Publisher(self._tick, interval=interval, name="nbtrain-lab-publisher").start()
        _replace_labs_of_this_cell(self)  # re-running this cell: the previous Lab (and its trainer) is closed

    # ------------------------------------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------------------------------------
    def _init_streams(self) -> None:
        cap = self.max_points
        self._steps_feed = TableFeed("steps", ("step", "train_loss", "lr"))
        self._evals_feed = TableFeed("evals", ("step", "val_loss", "val_acc", "train_acc"))
        self._layers_feed = TableFeed("layers", ("step", "layer", "act_std", "saturated", "dead", "grad_norm"))
        self._series = {name: StreamDecimator(cap) for name in ("train_loss", "lr", "val_loss", "val_acc", "train_acc")}
        self._layer_series: dict[tuple[str, int], StreamDecimator] = {}
        self._last_key: tuple | None = None
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
        self._schedule_specs: dict[str, Any] = {}
        self._param_boxes: dict[str, widgets.VBox] = {}

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

    # ---- controls ---------------------------------------------------------------------------------
    def _bind(self, field: str, widget: widgets.Widget, to_config: Callable[[Any], Any] | None = None,
              from_config: Callable[[], Any] | None = None) -> widgets.Widget:
        """Register ``widget`` as the control of config ``field`` (both directions).

        ``to_config(value)`` gives the config changes as one dict (several fields are applied atomically);
        ``from_config()`` the value to show.
        """
        to_config = to_config or (lambda v, f=field: {f: v})
        from_config = from_config or (lambda f=field: getattr(self.config, f))
        self.controls[field] = widget
        self._bindings[field] = (to_config, from_config)
        widget.add_class("nbtrain-control")
        widget.add_class(f"nbtrain-control-{field.replace('_', '-').replace('.', '-')}")
        self._sync_control(field)
        widget.observe(lambda change, f=field: self._on_control(f, change), names="value")
        return widget

    def _help(self, field: str) -> str:
        return TrainConfig.class_traits()[field].help or ""

    def _build_controls(self) -> widgets.Widget:
        cfg = self.config
        user_data = self.trainer.data_is_user
        user_model = self.trainer.model_is_user

        # data
        def data_label(entry: Any) -> str:
            return f"{entry.name} (needs files)" if "torchvision" in entry.tags else entry.name

        data_dd = ctl.registry_dropdown("dataset", data_mod.datasets, cfg.data, tooltip=self._help("data"),
                                        label=data_label)
        if user_data:
            data_dd.options = [("your data", cfg.data)]
            data_dd.disabled = True
        self._bind("data", data_dd, self._data_to_config)
        noise = ctl.float_slider("noise", 0.0, 0.0, 1.0, 0.01, tooltip=self._help("noise"))
        self._bind("noise", noise, from_config=lambda: self._dataset_default("noise", self.config.noise, 0.0))
        n = ctl.choice_slider("samples", SAMPLES, 300, tooltip=self._help("n_samples"), fmt="{:d}")
        self._bind("n_samples", n, from_config=lambda: self._dataset_default("n", self.config.n_samples, 300))
        split = ctl.float_slider("val split", cfg.val_split, 0.05, 0.5, 0.05, tooltip=self._help("val_split"), fmt=".2f")
        self._bind("val_split", split)
        pre = ctl.registry_dropdown("preprocess", data_mod.preprocessors, cfg.preprocess, tooltip=self._help("preprocess"))
        self._bind("preprocess", pre)
        seed = widgets.BoundedIntText(value=cfg.seed, min=0, max=2**31 - 1, **ctl.common("seed", self._help("seed")))
        self._bind("seed", seed)
        for w in (data_dd, noise, n, split, pre, seed):
            w.disabled = w.disabled or user_data
        self._refresh_data_controls()
        data_note = widgets.HTML("<span class='nbtrain-muted' style='font-size:13px'>data changes apply on "
                                 "<b>reset</b></span>")
        data_note.add_class("nbtrain-data-note")

        # model
        model_dd = ctl.registry_dropdown("model", models.registry, cfg.model, tooltip=self._help("model"),
                                         extra=[("auto", "auto")])
        self._bind("model", model_dd)
        hidden = widgets.Text(value="", placeholder="e.g. 64, 64", continuous_update=False,
                              **ctl.common("hidden widths", self._help("hidden") + " (applies on reset)"))
        self._bind("hidden", hidden, self._hidden_to_config, lambda: ", ".join(str(w) for w in self.config.hidden))
        for w in (model_dd, hidden):
            w.disabled = user_model
        activation = ctl.registry_dropdown("activation", act_mod.registry, cfg.activation, tooltip=self._help("activation"))
        self._bind("activation", activation)
        bn = widgets.Checkbox(value=cfg.batch_norm, indent=False, **ctl.common("batch-norm", self._help("batch_norm")))
        self._bind("batch_norm", bn)
        init = ctl.registry_dropdown("init", init_mod.registry, cfg.init, tooltip=self._help("init"))
        init.layout.width = "196px"
        self._bind("init", init)
        reinit = self._button("reinit", "re-init", "refresh", "re-initialise the weights now with this scheme",
                              self._on_reinit, width="86px")
        init_row = widgets.HBox([init, reinit], layout=ctl.layout())
        init_row.add_class("nbtrain-init-row")

        # optimisation
        opt = ctl.registry_dropdown("optimizer", optim.registry, cfg.optimizer, tooltip=self._help("optimizer"))
        self._bind("optimizer", opt)
        lr_row, lr = self._build_lr(cfg.lr)
        mom = ctl.float_slider("momentum", cfg.momentum, 0.0, 0.99, 0.01, tooltip=self._help("momentum"), fmt=".2f")
        self._bind("momentum", mom)
        bs = ctl.choice_slider("batch size", BATCH_SIZES, cfg.batch_size, tooltip=self._help("batch_size"), fmt="{:d}")
        self._bind("batch_size", bs)
        sched = ctl.registry_dropdown("schedule", schedules.registry, cfg.schedule, tooltip=self._help("schedule"))
        # one atomic update: the new schedule never meets the old schedule's parameters
        self._bind("schedule", sched, lambda v: {"schedule": v, "schedule_params": {}})
        self.schedule_params_box = widgets.VBox(layout=ctl.layout())
        self._rebuild_schedule_params()
        preview = self._build_preview()

        # regularisation
        wd = ctl.choice_slider("weight decay", WEIGHT_DECAYS, cfg.weight_decay, tooltip=self._help("weight_decay"))
        self._bind("weight_decay", wd)
        l1 = ctl.choice_slider("L1", L1S, cfg.l1, tooltip=self._help("l1"))
        self._bind("l1", l1)
        l2 = ctl.choice_slider("L2 penalty", WEIGHT_DECAYS, cfg.l2, tooltip=self._help("l2"))
        self._bind("l2", l2)
        drop = ctl.float_slider("dropout", cfg.dropout, 0.0, 0.9, 0.05, tooltip=self._help("dropout"), fmt=".2f")
        self._bind("dropout", drop)
        mix = ctl.float_slider("mixup α", cfg.mixup, 0.0, 1.0, 0.05, tooltip=self._help("mixup"), fmt=".2f")
        self._bind("mixup", mix)

        # run
        def optional_int(field: str) -> tuple[Callable, Callable]:
            return (lambda v: {field: int(v) or None}), (lambda: getattr(self.config, field) or 0)

        max_steps = widgets.BoundedIntText(min=0, max=10**9, **ctl.common("max steps (0 = ∞)", self._help("max_steps")))
        self._bind("max_steps", max_steps, *optional_int("max_steps"))
        total = widgets.BoundedIntText(min=0, max=10**9, **ctl.common("schedule T (0 = max steps)",
                                                                      self._help("total_steps")))
        self._bind("total_steps", total, *optional_int("total_steps"))
        ev = widgets.BoundedIntText(min=0, max=10**9, **ctl.common("eval every (0 = epoch)", self._help("eval_every")))
        self._bind("eval_every", ev)
        st = widgets.BoundedIntText(min=0, max=10**9, **ctl.common("layer stats every", self._help("stats_every")))
        self._bind("stats_every", st)
        self._refresh_enabled()

        tabs = widgets.Tab(children=[
            widgets.VBox([opt, lr_row, mom, bs, sched, self.schedule_params_box, preview]),
            widgets.VBox([model_dd, hidden, activation, init_row, bn]),
            widgets.VBox([drop, wd, l1, l2, mix]),
            widgets.VBox([data_dd, noise, n, split, pre, seed, data_note]),
            widgets.VBox([max_steps, total, ev, st]),
        ])
        # titles short enough for five tabs in the control column (longer ones get truncated)
        for i, title in enumerate(("optim", "model", "reg", "data", "run")):
            tabs.set_title(i, title)
        tabs.add_class("nbtrain-controls")
        self.control_tabs = tabs
        return tabs

    def _build_lr(self, value: float) -> tuple[widgets.Widget, widgets.FloatLogSlider]:
        """The learning rate: a typed value (exact) over a log slider spanning the whole control column
        (4 decades by default, widened when a value leaves them); both show the config's value."""
        help_ = self._help("lr")
        slider = ctl.log_slider("lr (log)", value, 1e-3, 10.0, tooltip=help_ + " (drag: log scale)", step=0.01)
        slider.readout = False
        self._bind("lr", slider)
        self.lr_text = widgets.FloatText(value=float(value), description="learning rate", step=None,
                                         tooltip=help_ + " (type a value, Enter applies it)",
                                         **{k: v for k, v in ctl.common("learning rate").items()
                                            if k not in ("description", "tooltip")})
        self.lr_text.add_class("nbtrain-control")
        self.lr_text.add_class("nbtrain-lr-text")
        self.lr_text.observe(self._on_lr_text, names="value")
        box = widgets.VBox([self.lr_text, slider], layout=ctl.layout())
        box.add_class("nbtrain-lr-row")
        return box, slider

    def _on_lr_text(self, change: dict) -> None:
        if self._syncing or self._closed:
            return
        try:
            self.config.lr = float(change["new"])
            self._set_ui_error("")
        except _ERRORS as exc:
            self._set_ui_error(str(exc))
            self._sync_lr_text()

    def _sync_lr_text(self) -> None:
        text = getattr(self, "lr_text", None)
        if text is None:
            return
        self._syncing += 1
        try:
            if text.value != self.config.lr:
                text.value = float(self.config.lr)
        finally:
            self._syncing -= 1

    def _dataset_default(self, param: str, value: Any, fallback: Any) -> Any:
        if value is not None:
            return value
        try:
            default = data_mod.datasets.get(self.config.data).params.get(param)
        except Exception:  # noqa: BLE001 - unknown data name
            default = None
        return default if isinstance(default, (int, float)) and not isinstance(default, bool) else fallback

    def _data_to_config(self, name: str) -> dict[str, Any]:
        params = data_mod.datasets.get(name).params
        return {"data": name, "noise": None, "n_samples": self.config.n_samples if "n" in params else None}

    @staticmethod
    def _hidden_to_config(text: str) -> dict[str, Any]:
        parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
        try:
            widths = [int(p) for p in parts]
        except ValueError:
            raise ConfigError(f"hidden widths {text!r} must be whole numbers separated by commas, e.g. '64, 64'") from None
        return {"hidden": widths}

    def _refresh_data_controls(self) -> None:
        """Noise and sample-count sliders: enabled (and ranged) only for datasets that take them."""
        try:
            params = data_mod.datasets.get(self.config.data).params
        except Exception:  # noqa: BLE001
            params = {}
        user = self.trainer.data_is_user
        noise, n = self.controls.get("noise"), self.controls.get("n_samples")
        if noise is not None:
            default = params.get("noise")
            if isinstance(default, (int, float)):
                noise.max = max(1.0, 3 * float(default), float(self.config.noise or 0))
            noise.disabled = user or "noise" not in params
        if n is not None:
            n.disabled = user or "n" not in params

    def _refresh_enabled(self) -> None:
        """Enable controls that apply to the current optimizer and model."""
        c = self.controls
        if "momentum" in c:
            c["momentum"].disabled = self.config.optimizer not in ("momentum", "nesterov")
        model = self.trainer.model
        if "batch_norm" in c:
            c["batch_norm"].disabled = not models.supports_batch_norm(model)
        if "activation" in c:
            c["activation"].disabled = not models.activation_slots(model)

    # ---- schedule parameters and preview ------------------------------------------------------------
    def _schedule_start(self) -> int:
        """The step the configured schedule starts at: the trainer's, or now for one chosen but not yet applied."""
        tr = self.trainer
        return tr.schedule_start if self.config.schedule == tr.schedule.name else tr.global_step

    def _horizon(self) -> int:
        cfg = self.config
        return schedule_horizon(cfg.total_steps, cfg.max_steps, self._schedule_start())

    def _specs(self, name: str) -> dict[str, Any]:
        try:
            return schedules.param_specs(name, self.config.lr, self._horizon())
        except KeyError:  # registered without UI hints: guess widgets from the factory's defaults
            return ctl.generic_specs(schedules.registry.get(name))

    def _rebuild_schedule_params(self) -> None:
        """Build (once per schedule, then reuse) the parameter widgets of the selected schedule."""
        for key in [k for k in self.controls if k.startswith("schedule.")]:
            del self.controls[key]
        name = self.config.schedule
        specs = self._specs(name)
        self._schedule_specs = specs
        box = self._param_boxes.get(name)
        if box is None:
            children = []
            for pname, spec in specs.items():
                w = ctl.param_widget(pname, spec)
                w.add_class("nbtrain-schedule-param")
                w.observe(lambda change, p=pname: self._on_schedule_param(p, change), names="value")
                children.append(w)
            box = widgets.VBox(children, layout=ctl.layout())
            guard_all([box])
            self._param_boxes[name] = box
        for pname, w in zip(specs, box.children):
            self.controls[f"schedule.{pname}"] = w
        self._refresh_schedule_params()
        self.schedule_params_box.children = [box]

    def _schedule_param_value(self, pname: str, spec: Any) -> Any:
        if pname == "warmup_steps":
            return self.config.warmup_steps
        return self.config.schedule_params.get(pname, spec.default)

    def _refresh_schedule_params(self) -> None:
        """Ranges (they depend on lr and T) and values (derived defaults follow T) of the parameter widgets."""
        specs = self._specs(self.config.schedule)
        self._schedule_specs = specs
        self._syncing += 1
        try:
            for pname, spec in specs.items():
                w = self.controls.get(f"schedule.{pname}")
                if w is None or not hasattr(w, "value"):
                    continue
                value = self._schedule_param_value(pname, spec)
                if isinstance(w, (widgets.IntSlider, widgets.FloatSlider)) and isinstance(spec.high, (int, float)):
                    if isinstance(spec.low, (int, float)) and spec.high > spec.low:
                        w.max = max(spec.high, w.min)
                        w.min = min(spec.low, w.max)
                if value is None:
                    continue
                if spec.kind == "list":
                    value = ", ".join(f"{v:g}" for v in value)
                try:
                    ctl.set_value(w, value)
                except TraitError:
                    pass
        finally:
            self._syncing -= 1

    def _on_schedule_param(self, pname: str, change: dict) -> None:
        if self._syncing:
            return
        spec = self._schedule_specs.get(pname)
        if spec is None:
            return
        try:
            value = ctl.read_param(change["owner"], spec)
            if pname == "warmup_steps":
                self.config.warmup_steps = int(value)
            else:
                params = dict(self.config.schedule_params)
                if value is None:
                    params.pop(pname, None)
                else:
                    params[pname] = value
                self.config.schedule_params = params
            self._set_ui_error("")
        except _ERRORS as exc:
            self._set_ui_error(str(exc))
            self._refresh_schedule_params()

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
        return fig

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
        # loss (step axes start at 0: marker padding would otherwise push them below)
        x = bq.LinearScale(min=0.0)
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
        loss = style.figure([train, val, ev_lines, ev_points], [style.axis(x, "step"), self._loss_axis], "loss")
        self.loss_lines = {"train": train, "val": val}
        self.marks.update(loss_train=train, loss_val=val, events=ev_lines, event_markers=ev_points)

        # accuracy
        x = bq.LinearScale(min=0.0)
        y = bq.LinearScale(min=0.0, max=100.0)
        a_train = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.TRAIN], stroke_width=2,
                           labels=["train"], display_legend=True)
        a_val = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": x, "y": y}, colors=[style.VAL], stroke_width=2.5,
                         line_style=style.DASHED, labels=["val"], display_legend=True)
        acc = style.figure([a_train, a_val], [style.axis(x, "step"), style.axis(y, "accuracy (%)", vertical=True,
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

        # per-layer panel
        def layer_fig(key: str, title: str, ylabel: str, log: bool = False, legend: bool = False,
                      ymax: float | None = None) -> bq.Figure:
            sx = bq.LinearScale(min=0.0)
            sy = bq.LogScale() if log else bq.LinearScale(min=0.0, max=ymax) if ymax else bq.LinearScale()
            lines = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": sx, "y": sy}, stroke_width=2,
                             display_legend=legend)
            self.marks[key] = lines
            extra = {"tick_values": PERCENT_TICKS} if ymax == 100.0 else {}
            return style.figure([lines], [style.axis(sx, "step"), style.axis(sy, ylabel, vertical=True, **extra)], title)

        std = layer_fig("act_std", "activation spread per layer", "std of activations", legend=True)
        sat = layer_fig("saturation", "saturated / dead units", "units (%)", ymax=100.0)
        grad = layer_fig("grad_norm", "weight-gradient norm per layer", "‖∇W‖ (L2)", log=True)
        self.layer_lines = {"act_std": self.marks["act_std"], "saturation": self.marks["saturation"],
                            "grad_norm": self.marks["grad_norm"]}
        self.figures.update(loss=loss, accuracy=acc, boundary=boundary, act_std=std, saturation=sat, grad_norm=grad)
        for name, fig in self.figures.items():
            fig.add_class(f"nbtrain-fig-{name.replace('_', '-')}")
        self._plot_children = [loss, acc, boundary, std, sat, grad]
        grid = widgets.Box(self._plot_children)  # a CSS grid (style.CSS): reflows with the width
        grid.add_class("nbtrain-plots")
        self._plot_grid = grid
        return grid

    # ------------------------------------------------------------------------------------------------
    # control -> config, config -> control
    # ------------------------------------------------------------------------------------------------
    def _on_control(self, field: str, change: dict) -> None:
        if self._syncing or self._closed:
            return
        to_config, _ = self._bindings[field]
        try:
            changes = to_config(change["new"])
            if len(changes) == 1:
                (name, value), = changes.items()
                setattr(self.config, name, value)
            else:
                self.config.update(**changes)  # atomic: the trainer sees them together
            self._set_ui_error("")
        except _ERRORS as exc:
            self._set_ui_error(str(exc))
            self._sync_control(field)  # snap back to what the config holds

    def _sync_control(self, field: str) -> None:
        widget = self.controls.get(field)
        if widget is None or field not in self._bindings:
            return
        _, from_config = self._bindings[field]
        self._syncing += 1
        try:
            ctl.set_value(widget, from_config())
        except TraitError:
            pass
        finally:
            self._syncing -= 1

    def _on_config_change(self, change: dict) -> None:
        """Config observer: mirror the new value in its control (from code, a search, another view...)."""
        if self._closed:
            return
        name = change["name"]
        self._note_change(name)  # "pending" at once, from a control or from code
        self._sync_control(name)
        if name == "lr":
            self._sync_lr_text()
        if name == "data":
            self._sync_control("noise")
            self._sync_control("n_samples")
            self._refresh_data_controls()
        elif name == "optimizer":
            self._refresh_enabled()
        if name == "schedule":
            self._rebuild_schedule_params()
        elif name in ("lr", "schedule_params", "warmup_steps", "total_steps", "max_steps"):
            self._refresh_schedule_params()
        if name in ("lr", "schedule", "schedule_params", "warmup_steps", "total_steps", "max_steps"):
            self._draw_preview()

    # ---- feedback: a live change is marked at once, and again when the training thread applies it -------
    def _note_change(self, field: str) -> None:
        """Called synchronously by the config observer: show "pending" now (the front end gets it right after
        the control's own message), "applied at step N" once the trainer took it at a step boundary."""
        trait = TrainConfig.class_traits().get(field)
        if trait is None or not trait.metadata.get("live"):
            return  # applies on reset: the status line says so
        value = getattr(self.config, field)
        self._change = {"field": field, "value": value, "future": None, "text": f"{field} → {_fmt(value)}"}
        self._show_change(pending=True)
        self._confirm_change()  # a paused/idle trainer applies it right away

    def _note_command(self, what: str, future: Any = None) -> None:
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
            value = f"<span class='nbtrain-confirmed'>✓ {text}: applied{where}</span>"
        if self.change_note.value != value:
            self.change_note.value = value

    def _change_applied(self) -> bool:
        c, tr = self._change, self.trainer
        if c["future"] is not None:
            return c["future"].done()
        if c["field"] is None:  # pause: applied when the trainer no longer runs
            return tr.state != "running"
        pending = getattr(tr, "_pending", {})
        live = getattr(tr, "_live", {})
        return c["field"] not in pending and live.get(c["field"], c["value"]) == c["value"]

    def _confirm_change(self) -> None:
        c = self._change
        if c is None or c.get("done"):
            return
        if self._change_applied():
            c["done"] = True
            self._show_change(pending=False, step=self.trainer.global_step)

    def _set_ui_error(self, text: str, hint: str = "") -> None:
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

    def _on_log_loss(self, change: dict) -> None:
        scale = self._loss_scales["log" if change["new"] else "linear"]
        marks = list(self.loss_lines.values())
        with style.hold([*marks, self._loss_axis]):
            for m in marks:
                m.scales = {**m.scales, "y": scale}
            self._loss_axis.scale = scale
            style.apply(self._loss_axis_updates())

    # ------------------------------------------------------------------------------------------------
    # publishing (publisher thread, or the caller's thread through publish())
    # ------------------------------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.comm is None:  # the widget was closed from the front end or by Widget.close_all()
            self._stop_publishing()
            return
        self.publish()

    def publish(self, force: bool = False) -> bool:
        """Bring every view up to date with the trainer; returns True if anything was sent.

        Called ≈10×/s by the publisher thread; call it yourself after driving the trainer directly.
        Does nothing when the history's version and the run state are unchanged (unless ``force``).
        """
        with self._lock:
            if self._closed:
                return False
            tr = self.trainer
            m = tr.metrics
            now = time.monotonic()
            self._track_rate(now, tr)
            self._confirm_change()
            boundary_sent = self._boundary_step(now)
            boundary_sent = self.image_panels.step(now) or boundary_sent
            key = (m.version, tr.state, tr.message, tuple(tr.needs_reset), id(tr.data), id(tr.model), self._ui_error,
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
            updates += self._curve_updates(m)
            updates += self._layer_updates(m)
            updates += self._event_updates(m)
            updates += self._progress_updates(tr)
            updates += self._step_axis_updates(tr.global_step)
            for addon in self._addons:
                updates += addon.updates()
            with style.hold([w for w, _ in updates]):
                for w, traits in updates:
                    for k, v in traits.items():
                        setattr(w, k, v)
            if getattr(self, "_preview_start", 0) != self._schedule_start():
                self._draw_preview()  # the trainer applied a schedule chosen mid-run at a later step
            self._render_status()
            self._diagnose(now, tr, force)
            self.publish_count += 1
            return True

    def _diagnose(self, now: float, tr: Trainer, force: bool = False) -> None:
        """Read the curves with ``nt.diagnose`` every ``diagnose_interval`` s (warnings and errors shown
        under the status line). Its cost grows with the history, so the interval stretches to ≥ 20× the
        time the last diagnosis took."""
        version = tr.metrics.version
        if not self.diagnose_interval or version == self._diag_version or (now < self._diag_at and not force):
            return
        t0 = time.perf_counter()
        try:
            findings = diagnose(tr.history)
        except Exception:  # a diagnosis is advice: it must never break the live view
            findings = []
        cost = time.perf_counter() - t0
        self._diag_version, self._diag_at = version, now + max(self.diagnose_interval, 20 * cost)
        self.findings = list(findings)
        shown = [f for f in findings if f.severity in ("error", "warning")][:3]
        colour = {"error": style.ERROR, "warning": style.WARN}
        import html as _html

        # one line per finding in a fixed-height panel (the whole text in its tooltip): nothing moves
        html = "".join(f"<div class='nbtrain-finding' title='{_html.escape(t, quote=True)}'>"
                       f"{style.html_status(t, colour[f.severity])}</div>"
                       for f in shown for t in [f"{f.rule}: {f.message} — {f.advice}"])
        if self.diagnosis.value != html:
            self.diagnosis.value = html

    def _step_axis_updates(self, step: int) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """Step axes from 0 to a round number ≥ the current step, with a few round ticks (never below 0,
        never running together); changes only when the run passes the last tick."""
        end, ticks = style.nice_step_ticks(step)
        if end == getattr(self, "_step_end", None):
            return []
        self._step_end = end
        out: list[tuple[widgets.Widget, dict[str, Any]]] = []
        for name in ("loss", "accuracy", "act_std", "saturation", "grad_norm"):
            ax = self.figures[name].axes[0]
            out.append((ax.scale, {"min": 0.0, "max": float(end)}))
            out.append((ax, {"tick_values": np.asarray(ticks, dtype=np.float64)}))
        return out

    def _track_rate(self, now: float, tr: Trainer) -> None:
        samples = self._rate_samples
        if tr.state != "running":
            samples.clear()
            return
        samples.append((now, tr.global_step))
        while len(samples) > 2 and now - samples[1][0] >= 2.0:
            samples.pop(0)
        (t0, s0), (t1, s1) = samples[0], samples[-1]
        if t1 - t0 >= 0.3:
            self._rate = (s1 - s0) / (t1 - t0)

    def _curve_updates(self, m: Any) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        series = self._series
        restarted, new = self._steps_feed.read(m)
        if restarted:
            series["train_loss"].clear()
            series["lr"].clear()
        series["train_loss"].extend(new["step"], new["train_loss"])
        series["lr"].extend(new["step"], new["lr"])
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
            if d.changed:
                d.changed = False
                x, y = d.arrays()
                out.append((mark, {"x": x.astype(np.int32), "y": y.astype(np.float32)}))
        if loss_changed:
            new = {id(w): t["y"] for w, t in out}
            out += self._loss_axis_updates(
                [new.get(id(m), m.y) for m in (self.loss_lines["train"], self.loss_lines["val"])])
        return out

    def _loss_axis_updates(self, ys: list | None = None) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        """Round domain and ticks for the loss shown (from 0 on the linear scale; decades on the log one)."""
        if ys is None:
            ys = [self.loss_lines[k].y for k in ("train", "val")]
        return style.fit_axis(self._loss_axis, np.concatenate([np.asarray(y, float).ravel() for y in ys]))

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

    def _progress_updates(self, tr: Trainer) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        cfg = tr.config
        step, state = tr.global_step, tr.state
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
        html = f"<span style='font-size:15px'>{' · '.join(parts)}</span>"
        b = self.buttons
        out: list[tuple[widgets.Widget, dict[str, Any]]] = [
            (self.progress, {"value": html}),
            (b["play"], {"disabled": state == "running"}),
            (b["pause"], {"disabled": state != "running"}),
            (b["reset"], {"button_style": "warning" if tr.needs_reset else "",
                          "tooltip": (f"rebuild with the new {', '.join(tr.needs_reset)}" if tr.needs_reset
                                      else "clear the history and start over at step 0")}),
            (self.marks["now"], {"x": np.array([step, step], np.int32), "y": np.array([0.0, 1.0], np.float32)}),
        ]
        if bound is not None:
            out.append((self.progress_bar, {"value": min(max(bound, 0.0), 1.0)}))
        visibility = "visible" if bound is not None else "hidden"
        if self.progress_bar.layout.visibility != visibility:
            out.append((self.progress_bar.layout, {"visibility": visibility}))
        return out

    def _render_status(self) -> None:
        tr = self.trainer
        msg = tr.message or ""
        if tr.state == "error":
            text, colour = msg or f"error: {tr.error!r}", style.ERROR
        elif tr.stop_reason == "diverged":
            text, colour = msg, style.ERROR
        elif self._ui_error:
            text, colour = self._ui_error, style.ERROR
        elif self._ui_hint:
            text, colour = self._ui_hint, style.WARN
        elif tr.needs_reset:
            text, colour = f"{', '.join(tr.needs_reset)} changed: press reset to rebuild", style.WARN
        elif tr.state in ("running", "paused") and tr.lr_note:
            text, colour = tr.lr_note, style.WARN
        elif tr.state == "finished":
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
            at = children.index(self.figures["boundary"])
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

    # ------------------------------------------------------------------------------------------------
    # the trainer's API, passed through
    # ------------------------------------------------------------------------------------------------
    @property
    def config(self) -> TrainConfig:
        """The trainer's live config (``lab.config.lr = 0.01`` takes effect at the next step)."""
        return self.trainer.config

    @property
    def history(self) -> Any:
        """The run's metrics as a pandas DataFrame (see ``Trainer.history``)."""
        return self.trainer.history

    @property
    def metrics(self) -> Any:
        return self.trainer.metrics

    @property
    def state(self) -> str:
        return self.trainer.state

    @property
    def message(self) -> str:
        return self.trainer.message

    @property
    def global_step(self) -> int:
        return self.trainer.global_step

    @property
    def device(self) -> Any:
        return self.trainer.device

    def start(self) -> Lab:
        """Start or resume training in the background (returns at once)."""
        self.trainer.start()
        return self

    def resume(self) -> Lab:
        self.trainer.resume()
        return self

    def pause(self) -> Lab:
        self.trainer.pause()
        return self

    def step(self, n: int = 1) -> Lab:
        """Run ``n`` steps in the background, then pause."""
        self.trainer.step(n)
        return self

    def stop(self) -> Lab:
        self.trainer.stop()
        return self

    def reset(self, same_init: bool = False) -> Lab:
        """Clear the history and rebuild from the config (``same_init=True``: the same initial weights)."""
        self.trainer.reset(same_init=same_init)
        self.publish(force=True)
        return self

    def reinit(self, scheme: str | None = None, **params: Any) -> Any:
        """Re-initialise the weights live (default scheme: ``config.init``); returns a Future."""
        return self.trainer.reinit(scheme, **params)

    def submit(self, fn: Callable[[Any], Any]) -> Any:
        return self.trainer.submit(fn)

    def wait(self, steps: int | None = None, timeout: float | None = None) -> str:
        """Block until the run ends or pauses (or ``global_step >= steps``); the views are then up to date."""
        try:
            return self.trainer.wait(steps, timeout)
        finally:
            self._boundary_t = 0.0  # the decision boundary too
            self._diag_at = 0.0  # and the diagnosis
            self.publish()

    def save(self, path: str) -> str:
        """Checkpoint the run (see ``Trainer.save``)."""
        return self.trainer.save(path)

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

    def script(self) -> dict[str, Any]:
        """The run's script (see ``Trainer.script``): replay it with ``Lab.replay(script)``."""
        return self.trainer.script()

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
