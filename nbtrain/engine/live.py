"""Live changes: config fields the engine takes at a step boundary (all or none, rolled back when one
fails), and :meth:`Trainer.in_use`, the live fields as the engine runs them."""

from __future__ import annotations

import threading
from typing import Any

import torch
from torch import nn

from . import models, regularizers
from .config import ConfigError


class LiveMixin:
    """The Trainer's live changes: config observer → pending changes → applied between two steps."""

    def in_use(self) -> dict[str, Any]:
        """The live fields as the engine runs them, read from the model, optimizer and schedule themselves
        where they hold the value (activation, dropout, batch-norm, optimizer, momentum, weight decay, lr and
        schedule), else from the values the training thread uses. After every accepted change has reached a
        step boundary, ``trainer.in_use() == {f: config[f] for f in config.live_fields()}``."""
        with self._cv:
            out = {name: self._in_use[name] for name in self.config.live_fields()}
            model = self.model
            act = models.current_activation(model) if self._slots else None
            if act is not None:
                out["activation"] = act
            drops = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
            if drops and self._user_model is None:
                out["dropout"] = drops[0]
            if models.supports_batch_norm(model):
                out["batch_norm"] = any(getattr(b, "use_norm", False) for b in model.modules() if isinstance(b, models.Block))
            opt = self.optimizer
            g = opt.param_groups[0]
            kind = {torch.optim.SGD: "sgd", torch.optim.Adagrad: "adagrad", torch.optim.RMSprop: "rmsprop",
                    torch.optim.Adadelta: "adadelta", torch.optim.Adam: "adam", torch.optim.AdamW: "adamw"}.get(type(opt))
            if kind == "sgd":
                kind = "nesterov" if g.get("nesterov") else "momentum" if out["optimizer"] == "momentum" else "sgd"
                if kind != "sgd":
                    out["momentum"] = g["momentum"]
            if kind is not None:
                out["optimizer"] = kind
            out["weight_decay"] = g["weight_decay"]
            sched = self.schedule
            out["lr"] = sched.base_lr
            out["schedule"] = sched.name
            out["warmup_steps"] = getattr(sched, "warmup_steps", 0)
            return out

    def _on_config_change(self, change: dict) -> None:
        """Config observer (caller's thread, config lock held): queue a live change for the next boundary.

        The change was already checked against the whole config and this trainer's facts (``rules``)."""
        name, old, new = change["name"], change["old"], change["new"]
        if not self.config.trait_metadata(name, "live"):
            with self._cv:
                self._log_script(set={name: new})
            if name not in self.needs_reset:
                self.needs_reset.append(name)
            self.metrics.log_event(self.global_step, name, old, new)
            self.message = f"{', '.join(self.needs_reset)} changed: reset() rebuilds the run with it"
            self._notify()
            return
        with self._cv:
            prev = self._pending.get(name)
            if prev is None and new == self._in_use.get(name) and type(new) is type(self._in_use.get(name)):
                return  # the engine runs this value already (e.g. a rollback of a change it never applied)
            self._pending[name] = (prev[0] if prev else self._in_use.get(name, old), new)
        if not self.config.updating:  # an update() applies its changes together, when it is done
            self._apply_pending_now()

    def _apply_pending_now(self) -> None:
        """Apply queued config changes now if no step is running (we hold the lock), else at the boundary."""
        with self._cv:
            if not self._busy:
                self._apply_pending()
            else:
                self._cv.notify_all()
        self._notify()

    def _apply_pending(self) -> None:
        """Apply queued config changes (at a step boundary, or now when no step runs), all or none.

        If one cannot be applied, the ones already applied are undone; in the caller's thread this raises
        (the config's update rolls back), in the training thread the config is set back (``_to_revert``) and
        the run pauses with the reason. Either way config and engine agree again."""
        if not self._pending or self.config.updating:
            return
        pending, self._pending = self._pending, {}
        pending = {k: v for k, v in pending.items() if v[0] != v[1] or type(v[0]) is not type(v[1])}
        if not pending:
            return
        saved, sched_start = dict(self._in_use), self._sched_start
        done: list[str] = []
        try:
            self._apply_changes(pending, done)
        except Exception as exc:
            undo = {k: (pending[k][1], pending[k][0]) for k in reversed(done)}
            self._in_use.update(saved)
            try:
                self._apply_changes(undo, [], log=False)
            except Exception:  # noqa: BLE001 - best effort; the live values are restored above
                pass
            self._in_use.update(saved)
            if self._sched_start != sched_start:
                self._sched_start = sched_start
                self._make_schedule()
            what = ", ".join(f"{k} {pending[k][0]!r} → {pending[k][1]!r}" for k in pending)
            msg = f"could not apply {what}: {type(exc).__name__}: {exc}; the change was rolled back"
            if threading.current_thread() is not self._thread:
                raise ConfigError(msg) from exc
            self._to_revert.update(pending)
            self.message = msg + " and the run paused"
            self.stop_reason = "rollback"
            if self._state == "running":
                self._state = "paused"
            self._budget_end = None
            self._cv.notify_all()
            return
        self._applied = (self.global_step, pending, sched_start)
        self._log_script(set={name: new for name, (old, new) in pending.items()})

    def _apply_changes(self, pending: dict[str, tuple[Any, Any]], done: list[str], log: bool = True) -> None:
        rebuild_opt = rebuild_groups = rebuild_sched = False
        self._model_gen += 1
        for name, (_old, new) in pending.items():
            self._in_use[name] = new
            if name == "activation":
                models.set_activation(self.model, new)
                self._slots = models.activation_slots(self.model)
                self.metrics.layer_names = [f"{i}: {new}" for i in range(len(self._slots))]
                rebuild_groups = True
            elif name == "dropout":
                models.set_dropout(self.model, new)
            elif name == "dropconnect":
                for m in regularizers.dropconnect_layers(self.model):
                    m.p = new
            elif name == "batch_norm":
                models.set_batch_norm(self.model, new)
            elif name in ("optimizer", "momentum"):
                rebuild_opt = True
            elif name == "weight_decay":
                for g in self.optimizer.param_groups:
                    g["weight_decay"] = new
            elif name in ("lr", "schedule", "schedule_params", "warmup_steps", "total_steps", "max_steps"):
                rebuild_sched = True
                if name == "schedule":  # a schedule chosen mid-run starts now, not at step 0
                    self._sched_start = self.global_step
            done.append(name)
        if rebuild_opt:
            self._make_optimizer()
        elif rebuild_groups:
            self._rebuild_param_groups()
        if rebuild_sched:
            self._make_schedule()
        if log:
            for name, (old, new) in pending.items():
                self.metrics.log_event(self.global_step, name, old, new)

    def _rebuild_param_groups(self) -> None:
        """A new optimizer over the model's parameters as they are now (e.g. after an activation swap added
        or removed PReLU slopes), keeping the state (momentum, Adam moments) of every parameter that survived."""
        old = self.optimizer
        self._make_optimizer()
        alive = {p for g in self.optimizer.param_groups for p in g["params"]}
        for p, state in old.state.items():
            if p in alive:
                self.optimizer.state[p] = state

    def _flush_reverts(self) -> None:
        """Set the config back for changes the training thread had to roll back (never under ``_cv``: the
        config's lock comes first, then ours)."""
        if not self._to_revert:
            return
        with self._cv:
            back, self._to_revert = self._to_revert, {}
        self.config.revert(back)
