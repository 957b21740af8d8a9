"""``TrainConfig``: every tunable of a run as validated, observable traits.

A bad value raises :class:`ConfigError` naming the field, the value and what is allowed, and leaves the
config unchanged. ``to_dict``/``to_json`` and ``TrainConfig.from_dict``/``from_json`` round-trip exactly.
Fields tagged ``live=True`` are applied to a running trainer at the next step boundary; the others
(data, model shape, seed, ...) take effect when the trainer rebuilds (``reset()``).

>>> from nbtrain import TrainConfig
>>> cfg = TrainConfig(activation="tanh", lr=0.05)
>>> cfg.lr = -1
Traceback (most recent call last):
...
nbtrain.engine.config.ConfigError: TrainConfig.lr = -1.0 is not allowed: must be a number > 0 and ≤ 100
>>> cfg.lr
0.05
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Callable
from typing import Any

from traitlets import Bool, Dict, Float, HasTraits, Int, List, TraitError, Unicode, validate

from . import rules
from .checks import Range


class ConfigError(TraitError, ValueError):
    """A configuration value outside its allowed range (a ``ValueError`` and a traitlets ``TraitError``)."""


def _fields() -> frozenset[str]:
    global _FIELD_SET
    if _FIELD_SET is None:
        _FIELD_SET = frozenset(TrainConfig.class_trait_names())
    return _FIELD_SET


_FIELD_SET: frozenset[str] | None = None


def _registry(module: str, attr: str = "registry"):
    """Lazily look up a registry (keeps ``import nbtrain`` free of torch until a name is checked)."""

    def get():
        import importlib

        return getattr(importlib.import_module(f"nbtrain.engine.{module}"), attr)

    return get


# field -> the numbers it allows; registries are handled separately below.
_NUMERIC: dict[str, Range] = {
    "n_samples": Range(10, 10_000_000, integer=True),
    "noise": Range(0, 10),
    "val_split": Range(0, 1, lo_open=True, hi_open=True),
    "seed": Range(0, 2**63 - 1, integer=True),
    "split_seed": Range(0, 2**63 - 1, integer=True),
    "lr": Range(0, 100, lo_open=True),
    "momentum": Range(0, 1, hi_open=True),
    "weight_decay": Range(0, 10),
    "l1": Range(0, 10),
    "l2": Range(0, 10),
    "warmup_steps": Range(0, None, integer=True),
    "dropout": Range(0, 1, hi_open=True),
    "dropconnect": Range(0, 1, hi_open=True),
    "batch_size": Range(1, 1_048_576, integer=True),
    "mixup": Range(0, 10),
    "max_steps": Range(1, None, integer=True),
    "max_epochs": Range(0, None, lo_open=True),
    "eval_every": Range(0, None, integer=True),
    "stats_every": Range(0, None, integer=True),
    "init_std": Range(0, 100, lo_open=True),
    "head_init_scale": Range(0, 10),
    "grad_clip": Range(0, None),
    "max_norm": Range(0, 1000),
    "patience": Range(0, None, integer=True),
    "total_steps": Range(1, None, integer=True),
}

_NAMED = {
    "data": _registry("data", "datasets"),
    "preprocess": _registry("data", "preprocessors"),
    "activation": _registry("activations"),
    "init": _registry("init"),
    "optimizer": _registry("optim"),
    "schedule": _registry("schedules"),
}

_WIDTH = Range(1, 65536, integer=True)  # of one hidden layer
_METRICS = ("val_loss", "val_acc", "train_loss", "train_acc")
_BUDGETED = ("batch_size", "n_samples", "optimizer")  # (and model, hidden): checked against the resource budget


class TrainConfig(HasTraits):
    """Every tunable of a training run. Assignments are validated; observers see every change.

    Live fields (applied at the next step of a running trainer): activation, dropout, dropconnect,
    batch_norm, optimizer, lr, momentum, weight_decay, l1, l1_mode, l2, schedule, schedule_params, warmup_steps,
    total_steps, batch_size, mixup, grad_clip, max_norm, eval_every, stats_every, max_steps, max_epochs, patience,
    early_stop_metric, restore_best, shuffle, init, init_std, head_init_scale (the last three on the next ``reinit``).
    """

    # data (rebuild on reset)
    data = Unicode("spiral", help="dataset name (a registry entry); user data is passed to Trainer directly")
    n_samples = Int(None, allow_none=True, help="examples to generate for toy sets (None: dataset default)")
    noise = Float(None, allow_none=True, help="noise of toy sets (None: dataset default)")
    val_split = Float(0.2, allow_none=True,
                      help="fraction held out for validation when no val_data is given (None: no validation set)")
    preprocess = Unicode("none", help="preprocessing fitted on the training split")
    augment = Bool(False, help="label-safe random augmentation of image batches, per dataset (digits: shifts, "
                                "small rotations/zoom, no flips; colour images: also flips and colour jitter)")
    seed = Int(0, help="seed for data split, weights and batch order")
    split_seed = Int(None, allow_none=True,
                     help="seed of the toy data and train/val split only (None: seed); fix it to vary the weights alone")
    # model (rebuild on reset)
    model = Unicode("auto", help="model builder: auto, mlp, cnn, resmlp")
    hidden = List(Int(), default_value=[64, 64], help="hidden layer widths")
    # live: architecture knobs that keep weights
    activation = Unicode("relu", help="activation of every hidden layer").tag(live=True)
    batch_norm = Bool(False, help="batch-norm after each hidden linear/conv layer").tag(live=True)
    dropout = Float(0.0, help="inverted dropout rate p").tag(live=True)
    dropconnect = Float(0.0, help="DropConnect rate on hidden weights (mlp, cnn, resmlp; set before reset)")
    init = Unicode("he_normal", help="weight initializer (used at reset and reinit)").tag(live=True)
    init_std = Float(None, allow_none=True, help="std for the gaussian initializers (None: their default)").tag(live=True)
    head_init_scale = Float(0.01, help="the output layer's initial weights × this (built-in models): 0.01 starts the "
                            "logits at ≈ 0, so the initial loss is ≈ log C; 1 = the head keeps the initializer's scale"
                            ).tag(live=True)
    # live: optimisation
    optimizer = Unicode("sgd", help="optimizer name").tag(live=True)
    lr = Float(0.1, help="base learning rate").tag(live=True)
    momentum = Float(0.9, help="momentum for momentum/nesterov").tag(live=True)
    weight_decay = Float(0.0, help="optimizer weight decay (L2 for SGD, decoupled for AdamW)").tag(live=True)
    l1 = Float(0.0, help="L1 strength λ of λΣ|w| (see l1_mode)").tag(live=True)
    l1_mode = Unicode("proximal", help="how L1 acts: proximal (soft-threshold after each step: exact zeros) "
                                       "or subgradient (λΣ|w| added to the loss)").tag(live=True)
    l2 = Float(0.0, help="L2 penalty strength ½λΣw² added to the loss").tag(live=True)
    schedule = Unicode("constant", help="learning-rate schedule").tag(live=True)
    schedule_params = Dict(help="parameters of the schedule").tag(live=True)
    warmup_steps = Int(0, help="linear warm-up steps in front of the schedule").tag(live=True)
    total_steps = Int(None, allow_none=True, help="horizon T of the schedule (None: max_steps or 1000)").tag(live=True)
    batch_size = Int(32, help="mini-batch size").tag(live=True)
    mixup = Float(0.0, help="mixup α (Beta(α, α) mixing of pairs); 0 = off").tag(live=True)
    grad_clip = Float(0.0, help="clip the global gradient norm to this value; 0 = off").tag(live=True)
    max_norm = Float(0.0, help="max-norm constraint: each unit's incoming weights ‖w‖₂ ≤ c after every step; 0 = off").tag(live=True)
    shuffle = Bool(True, help="reshuffle the training set every epoch").tag(live=True)
    # live: run control and measurement
    max_steps = Int(None, allow_none=True, help="stop after this many steps (None: run until stopped)").tag(live=True)
    max_epochs = Float(None, allow_none=True, help="stop after this many epochs").tag(live=True)
    eval_every = Int(0, help="evaluate every N steps; 0 = auto: once per epoch, clamped to every 100–1000 steps").tag(live=True)
    stats_every = Int(50, help="per-layer statistics every N steps; 0 = off").tag(live=True)
    patience = Int(0, help="early stopping after this many evaluations without improvement; 0 = off").tag(live=True)
    early_stop_metric = Unicode("val_loss", help="metric watched by early stopping").tag(live=True)
    restore_best = Bool(True, help="when early stopping ends the run, load the best evaluated weights").tag(live=True)

    def __init__(self, **kwargs: Any):
        unknown = sorted(set(kwargs) - set(self.field_names()))
        if unknown:
            raise ConfigError(
                f"TrainConfig has no field(s) {', '.join(unknown)}; allowed: {', '.join(self.field_names())}"
            )
        super().__init__()
        self.__dict__["_snapshot"] = {name: getattr(self, name) for name in self.field_names()}
        if kwargs:
            self.update(**kwargs)

    def __setattr__(self, name: str, value: Any) -> None:
        # a single field is a one-field transaction: checked with every rule against the whole new config
        if name in _fields():
            self.update(**{name: value})
        else:
            super().__setattr__(name, value)

    # ---- validation -------------------------------------------------------------------------------
    def _fail(self, name: str, value: Any, allowed: str) -> ConfigError:
        return ConfigError(f"TrainConfig.{name} = {value!r} is not allowed: {allowed}")

    @validate(*_NUMERIC)
    def _check_number(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        if value is None and proposal["trait"].allow_none:
            return value
        allowed = _NUMERIC[name]
        if value not in allowed:
            raise self._fail(name, value, f"must be {allowed.words()}")
        if name in _BUDGETED:
            self._check_budget(name, value)
        return value

    @validate(*_NAMED)
    def _check_name(self, proposal):
        name, value = proposal["trait"].name, proposal["value"]
        reg = _NAMED[name]()
        if value not in reg:
            raise self._fail(name, value, f"one of {', '.join(reg.names())}")
        canonical = reg.resolve(value)
        if name in _BUDGETED:
            self._check_budget(name, canonical)
        return canonical

    @validate("schedule_params")
    def _check_schedule_params(self, proposal):
        value = proposal["value"]
        if not all(isinstance(k, str) for k in value):
            raise self._fail("schedule_params", value, "a dict of parameter name -> value")
        return dict(value)

    @validate("model")
    def _check_model(self, proposal):
        from .models import registry

        value = proposal["value"]
        if value != "auto" and value not in registry:
            raise self._fail("model", value, f"one of auto, {', '.join(registry.names())}")
        self._check_budget("model", value)
        return value

    @validate("hidden")
    def _check_hidden(self, proposal):
        value = list(proposal["value"])
        if len(value) > 32 or not all(w in _WIDTH for w in value):
            raise self._fail("hidden", value, "must be a list of at most 32 layer widths, each an integer in [1, 65536]")
        value = [int(w) for w in value]
        self._check_budget("hidden", value)
        return value

    # ---- resource budget (nbtrain/engine/budget.py: model size, memory, samples) ------------------------
    def _check_budget(self, name: str, value: Any) -> None:
        from .budget import check_config

        check_config(self, name, value)

    @validate("l1_mode")
    def _check_l1_mode(self, proposal):
        if proposal["value"] not in ("proximal", "subgradient"):
            raise self._fail("l1_mode", proposal["value"], "one of proximal, subgradient")
        return proposal["value"]

    @validate("early_stop_metric")
    def _check_metric(self, proposal):
        if proposal["value"] not in _METRICS:
            raise self._fail("early_stop_metric", proposal["value"], f"one of {', '.join(_METRICS)}")
        return proposal["value"]

    # ---- (de)serialisation ------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return list(cls.class_trait_names())

    @classmethod
    def live_fields(cls) -> list[str]:
        return list(cls.class_trait_names(live=True))

    def _values(self) -> dict[str, Any]:
        """Every field's value as of the last completed assignment (never a half-applied ``update()``);
        lock-free, so it may be read from any thread, including while holding a trainer's lock."""
        snap = self.__dict__.get("_snapshot")
        return dict(snap) if snap is not None else {name: getattr(self, name) for name in self.field_names()}

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain Python values (lists/dicts copied), read as one consistent snapshot."""
        return {name: json.loads(json.dumps(v)) for name, v in self._values().items()}

    def to_json(self, **kw: Any) -> str:
        try:
            return json.dumps(self.to_dict(), **kw)
        except TypeError as exc:  # e.g. a user function in schedule_params of the 'lambda' schedule
            raise ConfigError(f"TrainConfig cannot be written as JSON: {exc}") from None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        return cls(**d)

    @classmethod
    def from_json(cls, s: str) -> TrainConfig:
        return cls.from_dict(json.loads(s))

    def copy(self, **changes: Any) -> TrainConfig:
        d = self._values()
        d = {k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v) for k, v in d.items()}
        d.update(changes)
        return type(self)(**d)

    # ---- transactions -----------------------------------------------------------------------------
    @property
    def _lock(self) -> threading.RLock:
        lock = self.__dict__.get("_lock_")
        if lock is None:
            lock = self.__dict__.setdefault("_lock_", threading.RLock())
        return lock

    def update(self, **changes: Any) -> None:
        """Set several fields as one transaction (thread-safe): each value is checked, then the whole new
        config against every cross-field rule (:mod:`nbtrain.engine.rules`); on any error nothing changes.

        Observers are notified after all values are in place (so ``schedule`` and ``schedule_params``
        can change together); an observer that refuses a change (raises) rolls the whole update back.
        """
        unknown = sorted(set(changes) - set(self.field_names()))
        if unknown:
            raise ConfigError(f"TrainConfig has no field(s) {', '.join(unknown)}; allowed: {', '.join(self.field_names())}")
        with self._lock:
            trial = self._trial()
            for k, v in changes.items():  # one field at a time: range and registry checks
                HasTraits.__setattr__(trial, k, v)
            new = {k: getattr(trial, k) for k in changes}
            # in the order given (a list, not a set): observers, the trainer's events and a replay of its
            # script then see the fields in the same order every time
            changed = [k for k, v in new.items() if v != getattr(self, k) or type(v) is not type(getattr(self, k))]
            if not changed:
                return
            candidate = {name: getattr(trial, name) for name in self.field_names()}
            msg = rules.check(candidate, self._facts(), set(changed))
            if msg:
                if len(changes) == 1:
                    (k, v), = changes.items()
                    raise self._fail(k, v, msg)
                args = ", ".join(f"{k}={v!r}" for k, v in changes.items())
                raise ConfigError(f"TrainConfig.update({args}) is not allowed: {msg}")
            old = {k: getattr(self, k) for k in changed}
            try:
                self._apply({k: new[k] for k in changed})
            except BaseException as exc:
                self._apply(old, notify=True, quiet=True)  # observers see the values go back
                if isinstance(exc, (ConfigError, TraitError)):
                    raise
                raise ConfigError(f"{', '.join(sorted(changed))} could not be applied, nothing was changed: "
                                  f"{type(exc).__name__}: {exc}") from exc

    def _trial(self) -> TrainConfig:
        """A copy that shares this config's values and none of its observers (for checking a change)."""
        trial = TrainConfig.__new__(TrainConfig)
        HasTraits.__init__(trial)
        values = trial._trait_values
        for name in self.field_names():
            values[name] = getattr(self, name)  # already checked: no need to validate again
        return trial

    def _apply(self, values: dict[str, Any], notify: bool = True, quiet: bool = False) -> None:
        """Assign checked values under the lock; observers (and ``on_update_done`` callbacks) run after all."""
        self._updating = True
        try:
            with self.hold_trait_notifications():
                for k, v in values.items():
                    HasTraits.__setattr__(self, k, v)
                self.__dict__["_snapshot"] = {name: getattr(self, name) for name in self.field_names()}
        except BaseException:
            if not quiet:
                raise
        finally:
            self._updating = False
        for callback in list(self._update_done):
            try:
                callback()
            except BaseException:
                if not quiet:
                    raise

    def check(self) -> None:
        """Check the whole config against every rule and the facts of the trainers using it."""
        with self._lock:
            msg = rules.check(self._values(), self._facts())
        if msg:
            raise ConfigError(msg)

    def revert(self, values: dict[str, Any]) -> dict[str, Any]:
        """Set fields back to earlier values (a change the training thread could not apply) without the
        rules — for each field only if it still holds ``values[field][1]``. Returns what was reverted."""
        with self._lock:
            back = {k: old for k, (old, new) in values.items() if getattr(self, k) == new}
            if back:
                self._apply(back, quiet=True)
            return back

    def add_facts(self, provider: Callable[[], dict[str, Any] | None]) -> None:
        """Register ``provider() -> facts`` (a trainer's model/data facts; None when it is gone) for the rules.
        Held weakly when it is a bound method."""
        ref = weakref.WeakMethod(provider) if hasattr(provider, "__self__") else (lambda: provider)
        self.__dict__.setdefault("_fact_providers", []).append(ref)

    def remove_facts(self, provider: Callable[[], dict[str, Any] | None]) -> None:
        providers = self.__dict__.get("_fact_providers", [])
        providers[:] = [r for r in providers if r() is not None and r() != provider]

    def _facts(self) -> list[dict[str, Any]]:
        out = []
        for ref in list(self.__dict__.get("_fact_providers", [])):
            fn = ref()
            facts = fn() if fn is not None else None
            if facts is not None:
                out.append(facts)
        return out or [{}]

    _updating = False

    @property
    def updating(self) -> bool:
        """True while ``update()`` is notifying observers of its changes one by one."""
        return self._updating

    def on_update_done(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every ``update()``, once all its changes have been notified."""
        self._update_done.append(callback)

    def remove_update_done(self, callback: Callable[[], None]) -> None:
        if callback in self._update_done:
            self._update_done.remove(callback)

    @property
    def _update_done(self) -> list[Callable[[], None]]:
        return self.__dict__.setdefault("_update_done_list", [])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrainConfig) and self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        defaults = TrainConfig.__new__(TrainConfig)
        HasTraits.__init__(defaults)
        diff = {k: v for k, v in self.to_dict().items() if v != getattr(defaults, k)}
        return f"TrainConfig({', '.join(f'{k}={v!r}' for k, v in diff.items())})"
