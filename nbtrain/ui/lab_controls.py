"""The Lab's control panel: widgets generated from the registries and the config's fields, bound both ways.

Part of :class:`~nbtrain.ui.lab.Lab` (a mixin: it reads the Lab's ``trainer``, ``config``, ``controls`` and
status helpers). Every control is generated from a registry (data, models, activations, inits, optimizers,
schedules) or a config field; a change goes to ``trainer.config`` (the training thread applies it at the next
step), and a refused value (``ConfigError``) shows in the status line while the control snaps back to the
config's value. A config change made elsewhere (code, a search, another view) is mirrored in its control.
The selected schedule's parameters get widgets from its parameter specs (``schedules.param_specs``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from traitlets import TraitError

from nbtrain.engine import activations as act_mod
from nbtrain.engine import data as data_mod
from nbtrain.engine import init as init_mod
from nbtrain.engine import models, optim, schedules
from nbtrain.engine.build import schedule_horizon
from nbtrain.engine.config import ConfigError, TrainConfig

from . import controls as ctl
from .guard import guard_all

WEIGHT_DECAYS = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)
L1S = (0.0, 1e-5, 1e-4, 1e-3, 1e-2, 0.1)
BATCH_SIZES = tuple(2**i for i in range(11))
SAMPLES = (50, 100, 200, 300, 500, 1000, 2000, 5000, 10000)
_ERRORS = (ConfigError, TraitError, ValueError, TypeError, KeyError, RuntimeError)  # a refused change


class LabControls:
    """The control tabs (optim, model, reg, data, run), the learning-rate row and the schedule's parameters."""

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


    # ---- schedule parameters --------------------------------------------------------------------
    def _schedule_start(self) -> int:
        """The step the configured schedule starts at: the trainer's, or now for one chosen but not yet applied."""
        tr = self.trainer
        return tr.schedule_start if self.config.schedule == tr.schedule.name else tr.global_step

    def _horizon(self) -> int:
        cfg = self.config
        return schedule_horizon(cfg.total_steps, cfg.max_steps, self._schedule_start())

    def _specs(self, name: str) -> dict[str, Any]:
        return schedules.param_specs(name, self.config.lr, self._horizon())

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
        with self._lock:  # one writer at a time: a publish hands its messages over when it ends
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
