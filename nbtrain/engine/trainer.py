"""``Trainer``: trains a model in one background thread that owns it; everything is live-tunable.

Read it as the training loop it is: ``_train_step`` is one optimizer step. Commands (reinit, submit,
restore) and config changes only ever take effect between two steps: while the thread is inside a step
(``_busy``) they are queued and ``_boundary`` applies them before the next one; otherwise the caller
applies them at once under the lock. The caller's thread never runs a training step.

>>> import nbtrain as nt
>>> tr = nt.Trainer(data="spiral", hidden=[16], lr=0.5, max_steps=50, seed=0)
>>> tr.start().wait()
'finished'
>>> h = tr.history
>>> int(h["train_loss"].count()), list(h.columns[:5])
(50, ['step', 'epoch', 'time', 'train_loss', 'lr'])
"""

from __future__ import annotations

import atexit
import bisect
import contextlib
import itertools
import json
import math
import os
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint, models, optim, regularizers, rng, rules, schedules
from . import data as data_mod
from . import init as init_mod
from . import threads as threads_mod
from .activations import name_of as activation_name
from .batches import materialise, safe_len
from .checkpoint import CheckpointError  # noqa: F401  (public here too)
from .config import ConfigError, TrainConfig
from .history import History

STATES = ("idle", "running", "paused", "finished", "stopped", "error")
RESIDENT_MAX_BYTES = 256 * 2**20  # datasets up to this size live on the device and are sampled by index
SNAPSHOT_EVERY = 100  # steps between copies of the weights kept for restore_finite()
#: why stepping stopped (``Trainer.stop_reason``): code branches on these names, ``message`` is for people
STOP_REASONS = ("paused", "stopped", "budget", "max_steps", "max_epochs", "early_stop", "diverged", "rollback", "error")
FLUSH_EVERY = 32  # steps whose losses stay on the device before one device→host read brings them to the history
AUTO_EVAL_MIN, AUTO_EVAL_MAX = 100, 1000  # eval_every=0: once per epoch, but within these step bounds
EVAL_SHARE = 0.02  # eval_every=0: evaluations' share of the training work at most (see _auto_eval_every)
LR_NOTE_FRACTION = 1e-3  # Trainer.lr_note: the lr in use below this fraction of the base rate


def schedule_horizon(total_steps: int | None, max_steps: int | None, start: int = 0) -> int:
    """Horizon T of a schedule chosen at global step ``start``: ``total_steps`` if set, else what remains of
    the run (``max_steps − start``), else 1000."""
    if total_steps:
        return int(total_steps)
    if max_steps and max_steps > start:
        return int(max_steps - start)
    return 1000


_LIVE: weakref.WeakSet[Trainer] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    """Stop every training thread and join it before the interpreter tears torch down (a daemon thread
    still inside torch at exit can abort the process: "terminate called without an active exception")."""
    for trainer in list(_LIVE):
        try:
            trainer.stop(timeout=1.0)
        except Exception:
            pass


def live_trainers() -> list[Trainer]:
    """Every trainer of this process that is not closed or collected, oldest first (for status/keyboard
    front ends such as the JupyterLab extension's comm)."""
    return sorted((t for t in list(_LIVE) if not t._closed), key=lambda t: t._created)


class TrainingError(RuntimeError):
    """Raised by ``wait()`` when the training thread failed; ``__cause__`` is the original exception."""


def resolve_device(device: str | torch.device = "auto", model: nn.Module | None = None) -> torch.device:
    """The ``torch.device`` a run trains on, with its index.

    ``"auto"``: where the user's ``model`` already is when that is an accelerator, else CUDA if available,
    else Apple MPS, else CPU. ``"cuda"`` (no index) is the *current* CUDA device
    (``torch.cuda.current_device()``, what ``torch.cuda.set_device`` chose), so ``cuda:1`` after
    ``set_device(1)``; anything else is passed to torch.
    """
    if str(device) == "auto":
        on = _model_device(model)
        if on is not None and on.type != "cpu":
            return _with_index(on)
        if torch.cuda.is_available():
            return _with_index(torch.device("cuda"))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:1', 'mps'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: no CUDA GPU is available here (torch.cuda.is_available() is False); "
                         f"use device='auto' (CUDA when present, else MPS or CPU) or device='cpu'")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r}: Apple MPS is not available here; use device='auto' or 'cpu'")
    return _with_index(dev)


def _with_index(dev: torch.device) -> torch.device:
    if dev.type == "cuda" and torch.cuda.is_available():
        n = torch.cuda.device_count()
        if dev.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        if not 0 <= dev.index < n:
            raise ValueError(f"device={str(dev)!r}: this machine has {n} CUDA device(s), cuda:0 … cuda:{n - 1}")
    return dev


def _model_device(model: Any) -> torch.device | None:
    """The device of a module's first parameter (or buffer), None for a module without any."""
    if model is None or not hasattr(model, "parameters"):
        return None
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return None


def _enter_device(device: torch.device) -> None:
    """Make ``device`` this thread's current CUDA device (the training thread's first act), so that
    whatever its steps create without naming a device lands on it too."""
    if device.type == "cuda":
        torch.cuda.set_device(device)


def _device_scope(device: torch.device) -> contextlib.AbstractContextManager:
    """Work on the run's model from another thread (commands, checkpoints): on the training device and its
    stream (the device's default stream, the one the training thread runs on), whatever is current in
    the caller's thread; nothing to do off CUDA."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(torch.cuda.device(device))
    stack.enter_context(torch.cuda.stream(torch.cuda.default_stream(device)))
    return stack


@dataclass
class Update:
    """What subscribers receive: a small snapshot of the run (never the model itself)."""

    step: int
    epoch: float
    state: str
    loss: float
    lr: float
    message: str
    version: int


class _Sampler:
    """Index sampler for a resident dataset: a fresh permutation per epoch (when shuffling), drawn from
    its own generator so runs are reproducible and checkpoints resume exactly."""

    def __init__(self, n: int, device: torch.device, seed: int):
        self.n, self.device = n, device
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.arange(n)
        self.pos = n  # forces a new permutation on the first draw
        self.epochs_done = -1

    def next(self, batch_size: int, shuffle: bool, merge_single: bool = False) -> torch.Tensor:
        """The next batch's indices; ``merge_single``: a last batch of one example joins this one instead."""
        if self.pos >= self.n:
            self.perm = torch.randperm(self.n, generator=self.gen) if shuffle else torch.arange(self.n)
            self.pos = 0
            self.epochs_done += 1
            self.perm_dev = self.perm.to(self.device)
        end = self.pos + batch_size
        if merge_single and self.n - end == 1:
            end += 1
        idx = self.perm_dev[self.pos : end]
        self.pos += len(idx)
        return idx

    @property
    def epoch(self) -> float:
        if self.epochs_done < 0:  # nothing drawn yet (pos = n only forces the first permutation)
            return 0.0
        return self.epochs_done + self.pos / self.n

    def state(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos, "epochs_done": self.epochs_done}

    def load(self, s: dict[str, Any]) -> None:
        self.gen.set_state(s["gen"])
        self.perm, self.pos, self.epochs_done = s["perm"].clone(), int(s["pos"]), int(s["epochs_done"])
        self.perm_dev = self.perm.to(self.device)


class _LiveBatchSampler(torch.utils.data.Sampler):
    """Batch sampler for the DataLoader path whose batch size can change between batches."""

    def __init__(self, n: int, trainer_live: dict, seed: int):
        self.n, self.live = n, trainer_live
        self.gen = torch.Generator().manual_seed(seed)

    def __iter__(self):
        perm = torch.randperm(self.n, generator=self.gen) if self.live["shuffle"] else torch.arange(self.n)
        pos = 0
        while pos < self.n:
            end = pos + self.live["batch_size"]
            if self.live["batch_norm"] and self.n - end == 1:  # no last batch of one under batch-norm: merge it
                end += 1
            yield perm[pos:end].tolist()
            pos = end

    def __len__(self) -> int:
        return math.ceil(self.n / self.live["batch_size"])


def _run_thread(ref: weakref.ReferenceType[Trainer], cv: threading.Condition) -> None:
    """Thread body. Holds the trainer only weakly between chunks, so a deleted trainer ends its thread."""
    trainer = ref()
    if trainer is not None:
        _enter_device(trainer.device)
    if trainer is not None:
        # thread-local with OpenMP: the caller's torch threads are left as they are
        threads_mod.set_for_this_thread(trainer._cpu_threads())
    del trainer
    while True:
        trainer = ref()
        if trainer is None or not trainer._run_chunk():
            return
        del trainer


class Trainer:
    """Background, live-tunable training of a classifier.

    ``model=None`` builds one from the config (``models.make(config.model, ...)``); otherwise any
    ``nn.Module`` mapping a batch of inputs to class logits. ``data`` is a dataset name, an ``(X, y)``
    pair, a ``Dataset`` or a ``DataLoader``; ``val_data`` likewise (default: a split of ``data``).
    Config fields may be given as keywords (``Trainer(lr=0.05, activation="tanh")``).

    ``device``: ``"auto"`` (where your model is, else CUDA, MPS, CPU), ``"cuda"`` (the current CUDA device,
    with its index), ``"cuda:1"``, ``"mps"``, ``"cpu"``. The run draws every random number (shuffling,
    dropout/DropConnect masks, augmentation, mixup) from its own generators seeded from ``config.seed``
    (``nbtrain.rng``): other runs and tools in the process, or your own ``torch.manual_seed``, do not change
    it. ``deterministic=True`` turns on the process-wide deterministic mode (``nbtrain.deterministic``) for
    exact replay on a GPU, at a cost in speed.
    """

    def __init__(
        self,
        model: nn.Module | None = None,
        data: Any = None,
        val_data: Any = None,
        config: TrainConfig | None = None,
        device: str | torch.device = "auto",
        *,
        resident: bool | None = None,
        num_workers: int = 0,
        threads: int | None = None,
        deterministic: bool = False,
        **config_fields: Any,
    ):
        if deterministic:  # opt-in exact replay on a GPU (process-wide; see nbtrain.deterministic)
            rng.deterministic(True)
        self.config = config if config is not None else TrainConfig()
        if isinstance(model, str):  # a builder name, e.g. Trainer(model="cnn")
            config_fields.setdefault("model", model)
            model = None
        if isinstance(data, str):
            config_fields.setdefault("data", data)
        if config_fields:
            self.config.update(**config_fields)
        self.device = resolve_device(device, model if isinstance(model, nn.Module) else None)
        self._user_model = model
        self._user_data = None if data is None or isinstance(data, str) else data
        self._user_val = val_data
        self._resident_pref = resident
        self._num_workers = num_workers
        if threads is not None and (isinstance(threads, bool) or int(threads) != threads or threads < 1):
            raise ValueError(f"threads={threads!r} must be None (auto) or an integer ≥ 1")
        self._threads = threads

        self.metrics = History()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._state = "idle"
        self.error: BaseException | None = None
        self.error_traceback = ""
        self.message = ""  # for people: why the run is where it is (code branches on stop_reason)
        self.stop_reason: str | None = None  # why stepping last stopped: one of STOP_REASONS, None while running
        self._commands: list[tuple[str, Any, Future]] = []
        self._pending: dict[str, tuple[Any, Any]] = {}  # field -> (old, new), applied at a boundary
        self._budget: int | None = None  # steps left before pausing (step(n))
        self._busy = False  # True while the thread runs a step (outside the lock)
        self.host_reads = 0  # device→host reads on the training path (one per _flush): bench, tests
        self._wake_step: int | None = None  # a wait(steps=) caller wants a notify at this step
        self._subscribers: list[Callable[[Update], None]] = []
        self._dispatch_event = threading.Event()
        self._dispatcher: threading.Thread | None = None
        self._closed = False
        self.needs_reset: list[str] = []
        # the run's script (engine/script.py): every change in the order it took effect, kept across resets
        self._script_log: list[dict[str, Any]] = []
        self._segment = 0
        self._hooks: list[list[Any]] = []  # [step, seq, fn, barrier], sorted: run at that step's boundary
        self._hook_seq = itertools.count()
        self._driver: threading.Thread | None = None  # a replay driver (script.replay) feeding this trainer
        self._driver_error: BaseException | None = None
        self.forked_from: dict[str, Any] | None = None  # set on a branch made by fork()
        self.scene_player: Any = None  # the ScenePlayer of a scene played on this trainer (engine/script.py)

        self._created = time.monotonic()
        self._to_revert: dict[str, tuple[Any, Any]] = {}  # changes the thread could not apply: config goes back
        self._applied: tuple[int, dict[str, tuple[Any, Any]], int] | None = None  # (step, changes, schedule start)
        self._resetting = False
        # Trainer(my_module) without data=: only allowed where the module fits the default dataset (then it says so)
        self._default_data = model is not None and data is None and config is None and "data" not in config_fields
        self._build()
        if self._default_data:
            warnings.warn(f"Trainer(model) without data=: training {type(model).__name__} on the built-in "
                          f"{self.data.name!r} dataset ({self._n_train} training examples, input shape "
                          f"{tuple(self.data.input_shape)}, {self.data.num_classes} classes); pass data=(X, y) "
                          f"(or a Dataset/DataLoader) to train on yours", UserWarning, stacklevel=2)
        _LIVE.add(self)
        if self._user_model is not None:
            self._sync_config_from_model()
        self.config.add_facts(self._facts)
        self.config.check()  # the whole config against the rules, now that the model and data are known
        # observe the config through a weak reference: no cycle, so a dropped trainer is freed at once
        # and its finaliser ends the thread
        ref = weakref.ref(self)

        def on_change(change: dict, ref=ref) -> None:
            trainer = ref()
            if trainer is not None:
                trainer._on_config_change(change)

        def on_update_done(ref=ref) -> None:
            trainer = ref()
            if trainer is not None:
                trainer._apply_pending_now()

        self._config_observer = on_change
        self._config_batch_done = on_update_done
        self.config.observe(on_change)
        self.config.on_update_done(on_update_done)
        self._script_config = self.config.to_json()  # the config the run was built with
        weakref.finalize(self, Trainer._shutdown, self._cv, self._dispatch_event, self.__dict__)

    # ------------------------------------------------------------------------------------------------
    # building
    # ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        """(Re)build data, model, optimizer and schedule from the config; clears the history."""
        with _device_scope(self.device):
            self._build_here()

    def _build_here(self) -> None:
        cfg = self.config
        # the run's own random streams (dropout/DropConnect masks, augmentation, mixup); nothing here
        # reads or advances torch's global generators
        self._rng = rng.Streams(cfg.seed, self.device)
        # mixup's λ ~ Beta(α, α) per batch, drawn on the host from the run's own numpy stream: no device read
        self._lam_rng = np.random.default_rng([int(cfg.seed) % 2**63, 0x6D6978])
        spec = self._user_data if self._user_data is not None else cfg.data
        self.data = data_mod.load_data(
            spec, self._user_val, n=cfg.n_samples, noise=cfg.noise, val_split=cfg.val_split,
            seed=cfg.seed if cfg.split_seed is None else cfg.split_seed, preprocess=cfg.preprocess, augment=cfg.augment,
        )
        from .budget import check_trainer

        check_trainer(self)  # the resource budget (nbtrain/engine/budget.py): refused before the model is allocated
        if self._user_model is not None:
            if cfg.dropconnect and not regularizers.dropconnect_layers(self._user_model):
                raise ConfigError(f"TrainConfig.dropconnect = {cfg.dropconnect!r} is not allowed: "
                                  f"{type(self._user_model).__name__} has no DropConnect layers (use "
                                  "nbtrain.regularizers.DropConnectLinear/DropConnectConv2d in it, or dropconnect=0)")
            # a user's module has no "fresh weights" recipe: every reset returns to its weights at the start
            self.model = self._user_model.to(self.device)
            regularizers.own_dropout(self.model)  # its nn.Dropout masks from the run's stream too
            if getattr(self, "_user_initial", None) is None:
                self._user_initial = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                self.model.load_state_dict(self._user_initial)
        else:
            if cfg.dropconnect and not models.accepts(cfg.model, self.data.input_shape, "dropconnect"):
                raise ConfigError(f"TrainConfig.dropconnect = {cfg.dropconnect!r} is not allowed: model "
                                  f"{cfg.model!r} has no DropConnect option (mlp, cnn and resmlp have one)")
            self.model = models.make(
                cfg.model, self.data.input_shape, self.data.num_classes, hidden=list(cfg.hidden),
                activation=cfg.activation, dropout=cfg.dropout, batch_norm=cfg.batch_norm,
                generator=torch.Generator().manual_seed(cfg.seed + 4),  # the layers' default init draws
                **({"dropconnect": cfg.dropconnect} if cfg.dropconnect else {}),
            )
            self._init_weights(cfg.init, cfg.init_std)
            self.model.to(self.device)
        self.initial_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self._live = cfg._values()
        self._setup_data()
        self._check_model_and_data()
        self._make_optimizer()
        self._sched_start = 0
        self._make_schedule()
        self.global_step = 0
        self._run_time = 0.0
        self._evals_since_best = 0
        self._best: tuple[float, int, dict] | None = None
        self._finite_snapshot: tuple[int, dict] | None = None
        self._snapshot_candidate: tuple[int, dict] | None = None  # kept once its loss is known finite
        self._pend: list[tuple[tuple[int, float, float, float], torch.Tensor]] = []  # (step, epoch, time, lr), loss
        self._pend_layers: list[tuple[int, list[list[Any]], torch.Tensor]] = []
        self._last_eval_step = -(10**12)
        self.message = "; ".join(self.data.notes)  # what loading changed (e.g. float64 → float32)
        self.needs_reset = []
        self.metrics.clear()
        for note in self.data.notes:
            self.metrics.log_event(0, "data", None, note)
        self._slots = models.activation_slots(self.model)
        self.metrics.layer_names = [f"{i}: {activation_name(m) or type(m).__name__}" for i, (_, _, m) in enumerate(self._slots)]
        self.model.train()  # the thread keeps it in train mode; eval/submit switch back after themselves

    def _cpu_threads(self) -> int | None:
        """Intra-op threads for the training thread: ``threads=`` if given; on the CPU, 1 for small models
        (< 1M parameters: their ops are too small to split, and spinning OpenMP workers collapse under
        load — measured 300 vs 2800 steps/s on a busy 2-core machine); otherwise torch's default."""
        return threads_mod.for_model(self.model, self.device, self._threads)

    def _sync_config_from_model(self) -> None:
        """Make the config describe a user's model as it is (its activation, dropout, no batch-norm)."""
        act = models.current_activation(self.model)
        drops = [m.p for m in self.model.modules() if isinstance(m, nn.Dropout)]
        changes: dict[str, Any] = {"batch_norm": any(getattr(b, "use_norm", False) for b in self.model.modules())}
        if act is not None:
            changes["activation"] = act
        if drops:
            changes["dropout"] = drops[0]
        self.config.update(**changes)
        self._live.update(changes)

    def _facts(self) -> dict[str, Any] | None:
        """What the config's cross-field rules need to know about this trainer's model and data."""
        if self._closed or getattr(self, "model", None) is None:
            return None
        loader = self.data.loader if getattr(self, "data", None) is not None else None
        return {
            "model": type(self.model).__name__,
            "n_train": self._n_train,
            "has_val": self._val is not None,
            "batch_norm_blocks": models.supports_batch_norm(self.model),
            "activation_slots": bool(self._slots),
            "can_swap_in": lambda name, model=self.model: models.can_swap_in(model, name),
            "activation": self._live.get("activation"),
            "loader_batch_size": getattr(loader, "batch_size", None) if loader is not None else None,
        }

    def _check_model_and_data(self) -> None:
        """Check a user's model/data before any training step: finite inputs (train and validation) and,
        for a user model, one dry forward pass on a few examples (eval mode, no gradient, weights and
        batch-norm statistics untouched): logits of shape (N, C) with C ≥ the number of classes, inputs the
        model can take. Errors name the problem and the fix; a model with more outputs than classes warns."""
        if self._user_model is None and self._user_data is None and self._user_val is None:
            return  # built-in model and data: consistent by construction
        d = self.data
        train = self._X if self._X is not None else (d.tensors("train") or (None,))[0]
        val = self._val[0] if self._val is not None else None
        for split, X in (("training", train), ("validation", val)):
            if X is not None and X.is_floating_point() and not bool(torch.isfinite(X).all()):
                bad = (~torch.isfinite(X.reshape(len(X), -1))).any(1)
                first = int(bad.nonzero()[0, 0])
                raise ValueError(f"the {split} inputs contain NaN/Inf values in {int(bad.sum())} of {len(X)} examples "
                                 f"(the first at index {first}): drop or repair those rows (e.g. torch.nan_to_num) "
                                 f"before training — a NaN input makes every loss NaN")
        if self._user_model is None:
            return
        xb, yb = self._sample_batch(8)
        if xb is None:
            return
        name = type(self.model).__name__
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model(xb)
        except Exception as exc:  # noqa: BLE001 - explained and re-raised
            if self._default_data:
                raise ValueError(f"Trainer({name}) needs data=: without it the built-in {d.name!r} dataset would be "
                                 f"used (input shape {tuple(d.input_shape)}, {d.num_classes} classes), which {name} "
                                 f"cannot take ({type(exc).__name__}: {exc}); pass Trainer(model, data=(X, y)) or "
                                 f"a Dataset/DataLoader") from exc
            raise ValueError(f"{name} cannot take the data's inputs: a batch of shape {tuple(xb.shape)} (input shape "
                             f"{tuple(d.input_shape)}) raised {type(exc).__name__}: {exc}. Make the model's first layer "
                             f"take inputs of this shape, or reshape the data") from exc
        finally:
            self.model.train(was)
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            raise ValueError(f"{name} must return a float tensor of logits, got {type(out).__name__}"
                             f"{f' of dtype {out.dtype}' if isinstance(out, torch.Tensor) else ''}")
        msg = rules.model_outputs(tuple(out.shape), len(xb), d.num_classes, name)
        if msg:
            if self._default_data:
                msg += f" (no data= was given, so the default dataset {d.name!r} was used: pass your data)"
            raise ValueError(msg)
        rules.warn_extra_outputs(int(out.shape[1]), d.num_classes, name)

    def _sample_batch(self, n: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """A few training examples on the device, without touching the batch order."""
        if self._X is not None:
            return self._X[:n], self._Y[:n]
        d = self.data
        t = d.tensors("train")
        if t is not None:
            return t[0][:n].to(self.device), t[1][:n].to(self.device)
        if d.loader is not None:
            first = next(iter(d.loader))
            return torch.as_tensor(first[0]).to(self.device), torch.as_tensor(first[1]).to(self.device)
        xs, ys = zip(*(d.train[i][:2] for i in range(min(n, len(d.train)))))
        return torch.stack([torch.as_tensor(x) for x in xs]).to(self.device), torch.as_tensor(ys).to(self.device)

    def in_use(self) -> dict[str, Any]:
        """The live fields as the engine runs them, read from the model, optimizer and schedule themselves
        where they hold the value (activation, dropout, batch-norm, optimizer, momentum, weight decay, lr and
        schedule), else from the values the training thread uses. After every accepted change has reached a
        step boundary, ``trainer.in_use() == {f: config[f] for f in config.live_fields()}``."""
        with self._cv:
            out = {name: self._live[name] for name in self.config.live_fields()}
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

    def _restore_architecture(self, saved: TrainConfig) -> None:
        """A user's module comes back as the user built it; live swaps of the saved run (activation,
        dropout, batch-norm) are applied again so that its saved weights fit (e.g. PReLU slopes)."""
        changes = {k: getattr(saved, k) for k in ("activation", "dropout", "batch_norm")
                   if getattr(saved, k) != getattr(self.config, k)}
        if changes and self._user_model is not None:
            self.config.update(**changes)

    def _init_weights(self, scheme: str, std: float | None) -> None:
        params = {}
        if std is not None and "std" in init_mod.registry.get(scheme).params:
            params["std"] = std
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        init_mod.apply(self.model, scheme, generator=gen, **params)
        models.scale_output_layer(self.model, self.config.head_init_scale)  # initial loss ≈ log C

    def _setup_data(self) -> None:
        d = self.data
        self._augment = d.augment
        tensors = d.tensors("train") if d.loader is None else None
        resident = self._resident_pref
        if resident is None:
            resident = tensors is not None and d.nbytes("train") <= RESIDENT_MAX_BYTES
        if resident and tensors is None and d.loader is None:
            tensors = materialise(d.train)
        if resident and tensors is not None:
            self._X, self._Y = (t.to(self.device) for t in tensors)
            self._sampler = _Sampler(len(self._Y), self.device, self.config.seed + 2)
            self._loader = None
            self.resident = True
        else:
            self._X = self._Y = None
            self._sampler = None
            if d.loader is not None:
                self._loader = d.loader
            else:
                self._batch_sampler = _LiveBatchSampler(len(d.train), self._live, self.config.seed + 2)
                self._loader = torch.utils.data.DataLoader(
                    d.train, batch_sampler=self._batch_sampler, num_workers=self._num_workers,
                    pin_memory=self.device.type == "cuda",
                )
            self._iter = None
            self._loader_epoch = 0
            self._loader_pos = 0
            self.resident = False
        # validation tensors (on the device when small)
        val = d.tensors("val") if d.val is not None else None
        if val is None and d.val is not None:
            val = materialise(d.val)
        self._val = tuple(t.to(self.device) for t in val) if val is not None else None
        if tensors is not None:
            g = torch.Generator().manual_seed(self.config.seed + 3)
            sub = torch.randperm(len(tensors[1]), generator=g)[:2048]
            self._train_eval = (tensors[0][sub].to(self.device), tensors[1][sub].to(self.device))
        else:
            self._train_eval = None
        self._n_train = safe_len(d.train) if d.train is not None else None
        self._user_bn = self._user_model is not None and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.model.modules())
        self._auto_every = None  # _auto_eval_every's cache: (batch size, steps)

    def _make_optimizer(self) -> None:
        self._lr_set = math.nan  # param groups get the lr at the next step
        live = self._live
        hyper = {}
        if live["optimizer"] in ("momentum", "nesterov"):
            hyper["momentum"] = live["momentum"]
        # a model may define param_groups() (e.g. a TransferNet: frozen parts left out, the backbone with
        # a smaller lr_scale); each step sets a group's lr to lr × its "lr_scale"
        groups = getattr(self.model, "param_groups", None)
        params = groups() if callable(groups) else self.model.parameters()
        self.optimizer = optim.make(live["optimizer"], params, lr=live["lr"],
                                    weight_decay=live["weight_decay"], **hyper)

    def _make_schedule(self) -> None:
        self._lr_table: tuple[int, list[float]] = (0, [])
        live = self._live
        total = schedule_horizon(live["total_steps"], live["max_steps"], self._sched_start)
        self.schedule = schedules.make(live["schedule"], live["lr"], total, warmup_steps=live["warmup_steps"],
                                       **live["schedule_params"])

    @property
    def schedule_start(self) -> int:
        """The global step at which the current schedule was chosen (0 unless it was changed mid-run): the
        lr of update t is ``schedule(t − schedule_start)``, and its horizon ``schedule.total_steps`` is
        ``total_steps`` if set, else what remained of ``max_steps`` then (else 1000)."""
        return self._sched_start

    def lr_in_use(self, step: int | None = None) -> float:
        """The learning rate of update ``step`` (default: the next one) under the current schedule."""
        step = self.global_step if step is None else int(step)
        return float(self.schedule(max(step - self._sched_start, 0)))

    @property
    def lr_note(self) -> str:
        """A warning when the lr in use has fallen below 1/1000 of the base rate (training has all but
        stopped, e.g. a decaying schedule past its horizon), else ""."""
        try:
            schedule, start, step, base = self.schedule, self._sched_start, self.global_step, float(self._live["lr"])
            t = max(step - start, 0)
            if t < self._live["warmup_steps"]:
                return ""
            lr = float(schedule(t))
        except Exception:  # noqa: BLE001 - read from another thread while the schedule is rebuilt
            return ""
        if not lr < LR_NOTE_FRACTION * base:
            return ""
        end = start + schedule.total_steps
        why = (f"schedule {schedule.name!r} (chosen at step {start:,}, horizon {schedule.total_steps:,}) ended at step {end:,}"
               if step >= end else f"schedule {schedule.name!r} has decayed it")
        return (f"the learning rate in use, {lr:.3g}, is below 1/1000 of the base rate {base:g}: {why}, so the "
                f"weights hardly change any more — raise total_steps or max_steps, or choose the schedule again")

    # ------------------------------------------------------------------------------------------------
    # public control (caller's thread)
    # ------------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """One of idle, running, paused, finished, stopped, error.

        Read under the trainer's lock: a state the training thread leaves ``running`` for is seen only once
        that thread's step boundary is complete (the pending losses are in the history).
        """
        with self._cv:
            return self._state

    @property
    def model_is_user(self) -> bool:
        """True when training the user's own ``nn.Module`` (not one built from the config)."""
        return self._user_model is not None

    @property
    def data_is_user(self) -> bool:
        """True when training on the user's own data (tensors, Dataset, DataLoader), not a named dataset."""
        return self._user_data is not None

    def start(self) -> Trainer:
        """Start (or continue) training in the background; returns at once."""
        with self._cv:
            self._check_usable()
            self._budget = None
            self._set_running()
        return self

    def resume(self) -> Trainer:
        """Continue after ``pause()`` (same as ``start()``)."""
        return self.start()

    def pause(self) -> Trainer:
        """Stop stepping after the current step; the thread waits, nothing is lost. Returns once the step in
        flight (if any) has ended, so that the step count and the history agree (at most ~1 s)."""
        with self._cv:
            if self._state == "running":
                self._state = "paused"
                self.stop_reason = "paused"
                self._budget = None
                self._cv.notify_all()
            self._await_step_in_flight()
        self._notify()
        return self

    def _await_step_in_flight(self, timeout: float = 1.0) -> None:
        """(lock held) Wait until the training thread is between steps, unless we are that thread."""
        end = time.monotonic() + timeout
        while self._busy and self._thread is not threading.current_thread() and time.monotonic() < end:
            self._cv.wait(0.005)

    def step(self, n: int = 1) -> Trainer:
        """Run exactly ``n`` optimizer steps in the background, then pause. ``wait()`` blocks until done."""
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"step(n={n!r}): n must be an integer ≥ 1")
        with self._cv:
            self._check_usable()
            self._budget = int(n)
            self._set_running()
        return self

    def stop(self, timeout: float | None = 1.0) -> Trainer:
        """End the run; the thread exits after the current step. ``start()`` continues from here later."""
        with self._cv:
            if self._state in ("running", "paused"):
                self._state = "stopped"
                self.stop_reason = "stopped"
                self._cv.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._notify()
        return self

    def reset(self, same_init: bool = False) -> Trainer:
        """Clear the history and start over at step 0 (paused/idle afterwards).

        ``same_init=True`` restores exactly this run's initial weights (compare two settings from one
        start); otherwise data and model are rebuilt from the config (fresh weights from the seed; a
        new seed gives new weights). Pending structural changes (hidden, data, ...) take effect here.
        """
        with self._cv:
            self._resetting = True  # start()/step() from other threads wait until the rebuild is done
        try:
            self.stop(timeout=60)
            self._reset_locked(same_init)
        finally:
            with self._cv:
                self._resetting = False
                self._cv.notify_all()
        self._notify()
        return self

    def _reset_locked(self, same_init: bool) -> None:
        with self._cv:
            deadline = time.monotonic() + 60
            while self._thread is not None and self._thread.is_alive() and time.monotonic() < deadline:
                if self._state in ("running", "paused"):
                    self._state = "stopped"
                self._cv.notify_all()
                self._cv.wait(0.05)
            if self._thread is not None and self._thread.is_alive():
                raise RuntimeError("reset(): the training thread did not finish its step within 60 s")
            self._thread = None
            saved, n_script = dict(self.__dict__), len(self._script_log)
            self._log_script(reset=bool(same_init))
            self._segment += 1
            self._hooks = []  # a scene or replay of the old run does not carry over
            try:
                self._rebuild(same_init)
            except BaseException as exc:
                del self._script_log[n_script:]
                self.__dict__.clear()
                self.__dict__.update(saved)  # the run as it was: a failed rebuild loses nothing
                if isinstance(exc, Exception):
                    raise ConfigError(f"reset() could not rebuild the run from the config: {type(exc).__name__}: "
                                      f"{exc}; nothing was changed (fix the field named above and reset again)") from exc
                raise
            self._state = "idle"
            self.stop_reason = None
            self.error, self.error_traceback = None, ""

    def _rebuild(self, same_init: bool) -> None:
        with self._cv:
            if same_init:
                initial = self.initial_state
                self._build()
                self.model.load_state_dict(initial)
                self.initial_state = initial
            else:
                self._build()

    def reinit(self, scheme: str | None = None, **params: Any) -> Future:
        """Re-initialise the weights with ``scheme`` (default ``config.init``) at the next step boundary.

        The run goes on from the new weights (an event marks it); optimizer state is reset.
        """
        scheme = init_mod.registry.resolve(scheme or self.config.init)
        # validate parameters now, in the caller's thread (gain="auto": the model's activation)
        init_mod.make(scheme, activation=models.current_activation(self.model), **params)
        left = init_mod.skipped(self.model)
        if left:
            import warnings

            warnings.warn(f"reinit({scheme!r}) re-initialises only Linear/Conv/ConvTranspose weights; left as they "
                          f"were: {', '.join(left)}", UserWarning, stacklevel=2)
        return self._command("reinit", (scheme, params))

    def submit(self, fn: Callable[[nn.Module], Any]) -> Future:
        """Run ``fn(model)`` between two steps (or now when no step is running); returns a Future.

        The safe way to look at the live model (predictions for a plot, weight statistics) while it
        trains: the function runs in eval mode under ``torch.no_grad()``.
        """
        return self._command("call", fn)

    def _needs_exclusive(self) -> bool:
        """Apple GPUs (MPS): two threads running work at once can abort the process."""
        return self.device.type == "mps"

    @contextlib.contextmanager
    def exclusive(self):
        """Hold the training device while this thread works on it with a copy of the model (the sanity
        checks, the LR finder and ensembles do): on an Apple GPU (MPS), where two threads running work at
        once can abort the process, the run pauses after its current step for the block and goes on after
        it; elsewhere nothing changes. Work on the live model itself goes through :meth:`submit`.
        """
        if not self._needs_exclusive() or self._thread is threading.current_thread():
            yield self
            return
        with self._cv:
            was_running = self._state == "running"
            if was_running:
                self._state = "paused"
                self._cv.notify_all()
            while self._busy:  # the step under way ends first
                self._cv.wait(0.05)
            budget = self._budget  # after that step counted itself against a step(n) budget
        try:
            yield self
        finally:
            if was_running:
                with self._cv:
                    if self._state == "paused" and not self._closed:
                        self._set_running()
                        self._budget = budget
            self._notify()

    def restore_finite(self) -> int:
        """Load the last weights known to give a finite loss (kept when a NaN/Inf paused training)."""
        if self._finite_snapshot is None:
            raise RuntimeError("no finite snapshot has been kept yet")
        return self._command("restore", "finite").result(10)

    def restore_best(self) -> int:
        """Load the best-on-validation weights kept by early stopping; returns their step."""
        if self._best is None:
            raise RuntimeError("no best snapshot yet: it is kept at evaluations when patience > 0 or after any eval")
        return self._command("restore", "best").result(10)

    def wait(self, steps: int | None = None, timeout: float | None = None) -> str:
        """Block until ``global_step >= steps`` (default: until the run ends or pauses), or ``timeout``.

        Returns the state. Re-raises the training thread's exception as :class:`TrainingError`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        driver = self._driver
        if driver is not None and driver is not threading.current_thread():
            while driver.is_alive() and (steps is None or self.global_step < steps):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return self._state
                driver.join(0.1 if remaining is None else min(remaining, 0.1))
            if self._driver_error is not None:
                raise TrainingError(f"replay failed at step {self.global_step}: {self._driver_error}") from self._driver_error
        with self._cv:
            while True:
                if self._state == "error":
                    raise TrainingError(f"training failed at step {self.global_step}: {self.error!r}") from self.error
                if steps is not None and self.global_step >= steps:
                    return self._state
                if steps is not None:
                    self._wake_step = steps if self._wake_step is None else min(self._wake_step, steps)
                if self._state not in ("running",):
                    self._await_step_in_flight(1.0 if deadline is None else max(deadline - time.monotonic(), 0.0))
                    return self._state
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return self._state
                self._cv.wait(0.1 if remaining is None else min(remaining, 0.1))

    def subscribe(self, callback: Callable[[Update], None]) -> Callable[[], None]:
        """Call ``callback(update)`` after steps, on a dispatcher thread (latest value only, never on the
        training thread). Returns a function that unsubscribes."""
        with self._cv:
            self._subscribers.append(callback)
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=_dispatch_thread, args=(weakref.ref(self), self._dispatch_event),
                                                    name="nbtrain-dispatch", daemon=True)
                self._dispatcher.start()

        def unsubscribe() -> None:
            with self._cv:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def close(self) -> None:
        """Stop training and end every thread of this trainer."""
        self.stop()
        self._closed = True
        try:
            self.config.unobserve(self._config_observer)
        except ValueError:
            pass
        self.config.remove_update_done(self._config_batch_done)
        self._dispatch_event.set()
        if self._dispatcher is not None and self._dispatcher is not threading.current_thread():
            self._dispatcher.join(1.0)

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def epoch(self) -> float:
        if self._sampler is not None:
            return self._sampler.epoch
        n = (safe_len(self._loader) or 0) if self._loader is not None else 0
        return self._loader_epoch + (self._loader_pos / n if n else 0.0)

    @property
    def history(self):
        """The run's metrics as a pandas DataFrame: one row per step (step, epoch, time, train_loss, lr)
        with the evaluation columns (val_loss, val_acc, train_eval_loss, train_acc) at evaluated steps.
        ``history.decimate(column, n)`` and ``history.events`` are added; the live store is ``metrics``."""
        return self.metrics.frame()

    def __repr__(self) -> str:
        return (f"Trainer(state={self._state!r}, step={self.global_step}, device={self.device.type!r}, "
                f"data={self.data.name!r}, model={type(self.model).__name__})")

    # ------------------------------------------------------------------------------------------------
    # internals: commands and the thread
    # ------------------------------------------------------------------------------------------------
    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("this trainer is closed")

    def _set_running(self) -> None:
        """Enter the running state, starting the thread if there is none (caller holds the lock)."""
        deadline = time.monotonic() + 120
        while self._resetting and time.monotonic() < deadline:  # a reset() in another thread: start after it
            self._cv.wait(0.05)
        self._check_usable()
        if self._state == "error":
            self.error, self.error_traceback = None, ""
        self._state = "running"
        self.message = ""
        self.stop_reason = None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=_run_thread, args=(weakref.ref(self), self._cv),
                                            name="nbtrain-trainer", daemon=True)
            self._thread.start()
        self._cv.notify_all()

    def _command(self, kind: str, arg: Any) -> Future:
        fut: Future = Future()
        with self._cv:
            if self._busy:  # the thread is inside a step: it runs the command at the next boundary
                self._commands.append((kind, arg, fut))
                self._cv.notify_all()
                return fut
            # no thread owns the model: do it here, under the lock
            self._do_command(kind, arg, fut)
        self._notify()
        return fut

    def _do_command(self, kind: str, arg: Any, fut: Future) -> None:
        with _device_scope(self.device):  # also from the caller's thread: the training device and stream
            self._run_command(kind, arg, fut)

    def _run_command(self, kind: str, arg: Any, fut: Future) -> None:
        try:
            if kind == "reinit":
                scheme, params = arg
                gen = torch.Generator().manual_seed(self.config.seed + 101 + self.global_step)
                if self.config.init_std is not None and "std" in init_mod.registry.get(scheme).params:
                    params = {"std": self.config.init_std, **params}
                self._log_script(reinit=scheme, params=dict(arg[1]))
                init_mod.apply(self.model, scheme, generator=gen, warn_skipped=False, **params)
                if self._user_model is None:
                    models.scale_output_layer(self.model, self.config.head_init_scale)
                self._make_optimizer()
                if self.global_step == 0:  # nothing trained yet: this is the run's start now
                    self.initial_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                self.metrics.log_event(self.global_step, "reinit", None, scheme)
                fut.set_result(scheme)
            elif kind == "call":
                was = self.model.training
                self.model.eval()
                try:
                    with torch.no_grad():
                        fut.set_result(arg(self.model))
                finally:
                    self.model.train(was)
            elif kind == "restore":
                step, state = self._finite_snapshot if arg == "finite" else self._best[1:]  # type: ignore[index,misc]
                self.model.load_state_dict(state)
                self._make_optimizer()
                self._log_script(restore=arg)
                self.metrics.log_event(self.global_step, f"restore_{arg}", None, step)
                fut.set_result(step)
        except BaseException as exc:  # the caller gets it through the future
            fut.set_exception(exc)

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
            if prev is None and new == self._live.get(name) and type(new) is type(self._live.get(name)):
                return  # the engine runs this value already (e.g. a rollback of a change it never applied)
            self._pending[name] = (prev[0] if prev else self._live.get(name, old), new)
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
        saved, sched_start = dict(self._live), self._sched_start
        done: list[str] = []
        try:
            self._apply_changes(pending, done)
        except Exception as exc:
            undo = {k: (pending[k][1], pending[k][0]) for k in reversed(done)}
            self._live.update(saved)
            try:
                self._apply_changes(undo, [], log=False)
            except Exception:  # noqa: BLE001 - best effort; the live values are restored above
                pass
            self._live.update(saved)
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
            self._budget = None
            self._cv.notify_all()
            return
        self._applied = (self.global_step, pending, sched_start)
        self._log_script(set={name: new for name, (old, new) in pending.items()})

    def _apply_changes(self, pending: dict[str, tuple[Any, Any]], done: list[str], log: bool = True) -> None:
        rebuild_opt = rebuild_groups = rebuild_sched = False
        for name, (old, new) in pending.items():
            self._live[name] = new
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

    def _run_chunk(self) -> bool:
        """Run steps for up to ~50 ms (or wait while paused). Returns False when the thread should end."""
        self._flush_reverts()
        with self._cv:
            if self._state == "paused" and not self._commands and not self._pending:
                # wait here, then return so that _run_thread drops its strong reference now and then
                self._cv.wait(0.25)
                if self._state == "paused" and not self._commands and not self._pending:
                    return True
            if self._state not in ("running", "paused"):
                self._drain_commands()
                self._cv.notify_all()
                self._thread = None if self._thread is threading.current_thread() else self._thread
                return False
        deadline = time.perf_counter() + 0.05
        live = self._live
        rng.set_current(self._rng)  # this thread's dropout/DropConnect masks: the run's stream
        try:
            with self._cv:
                self._boundary()
                if self._state != "running":
                    self._flush()
                    return True
                self._busy = True  # from here until the steps are done, only this thread touches the model
            while True:
                took = self._train_step()
                # Fast path: nothing was asked of this thread (reads of single attributes are atomic; a
                # request that lands just after this check is served after the next step), so the next
                # step follows without taking the lock.
                if (self._state == "running" and not self._commands and not self._pending
                        and self._budget is None and self._wake_step is None
                        and (live["max_steps"] is None or self.global_step < live["max_steps"])
                        and live["max_epochs"] is None and time.perf_counter() < deadline
                        and (not self._hooks or self._hooks[0][0] > self.global_step)):
                    continue
                with self._cv:
                    self._busy = False
                    if self._wake_step is not None or self._commands:
                        self._flush(act=False)  # a waiting caller or a command (save, submit) reads the history now
                    if self._budget is not None and took:  # (not when the step was skipped: early stop, pause)
                        self._budget -= 1
                        if self._budget <= 0:
                            self._budget = None
                            self._check_limits()  # step(n) that reaches max_steps finishes the run
                            if self._state == "running":
                                self._state = "paused"
                                self.stop_reason = "budget"
                                self._cv.notify_all()
                    if self._wake_step is not None and self.global_step >= self._wake_step:
                        self._wake_step = None
                        self._cv.notify_all()
                    if time.perf_counter() > deadline:
                        self._boundary()
                        if self._state != "running":
                            self._flush()
                        self._cv.notify_all()
                        self._notify()
                        return True
                    self._boundary()
                    if self._state != "running":
                        self._flush()  # stepping stops: every pending loss is read, a NaN/Inf among them acted on
                        self._cv.notify_all()
                        self._notify()
                        return True
                    self._busy = True
        except BaseException as exc:  # surfaced through state/error/wait(); never printed from this thread
            with self._cv:
                self._busy = False
                try:
                    self._flush(act=False)  # the steps before the error stay in the history
                except Exception:
                    self._pend, self._pend_layers = [], []
                applied = self._applied
                if applied is not None and applied[0] == self.global_step and isinstance(exc, Exception):
                    # the first step after a live change failed: the change is the cause; undo it and pause
                    self._applied = None
                    changes = applied[1]
                    undo = {k: (new, old) for k, (old, new) in changes.items()}
                    try:
                        self._apply_changes(undo, [], log=False)
                    except Exception:  # noqa: BLE001 - the live values below are what counts
                        pass
                    self._live.update({k: old for k, (old, _new) in changes.items()})
                    if self._sched_start != applied[2]:
                        self._sched_start = applied[2]
                        self._make_schedule()
                    self._to_revert.update(changes)
                    what = ", ".join(f"{k} {old!r} → {new!r}" for k, (old, new) in changes.items())
                    self.message = (f"step {self.global_step} failed right after changing {what} "
                                    f"({type(exc).__name__}: {exc}); the change was rolled back and the run paused")
                    self.metrics.log_event(self.global_step, "rollback", None, what)
                    self._state = "paused"
                    self.stop_reason = "rollback"
                    self._budget = None
                    self._cv.notify_all()
                    self._notify()
                    return True
                self.error = exc
                self.error_traceback = traceback.format_exc()
                self._state = "error"
                self.stop_reason = "error"
                self.message = f"error at step {self.global_step}: {type(exc).__name__}: {exc}"
                self._cv.notify_all()
            self._notify()
            return True

    def _drain_commands(self) -> None:
        if not self._commands and not self._pending:
            return
        cmds, self._commands = self._commands, []
        for kind, arg, fut in cmds:
            self._do_command(kind, arg, fut)
        self._apply_pending()

    def _boundary(self) -> None:
        """Between two steps (lock held): commands, config changes, step hooks, stop conditions."""
        self._drain_commands()
        if self._hooks:
            self._run_hooks()
        self._check_limits()

    # ------------------------------------------------------------------------------------------------
    # scripts and step hooks (engine/script.py: replay, scenes)
    # ------------------------------------------------------------------------------------------------
    def _log_script(self, **entry: Any) -> None:
        self._script_log.append({"segment": self._segment, "step": self.global_step, **entry})

    def script(self) -> dict[str, Any]:
        """The run as plain JSON-able data: its config, seeds and every live change in the order it took
        effect with its step (reinit, restore and reset included). ``Trainer.replay(script)`` reproduces it."""
        from .script import make_script

        return make_script(self)

    @classmethod
    def replay(cls, script: Any, model: nn.Module | None = None, data: Any = None, val_data: Any = None,
               device: Any = None, **kw: Any) -> Trainer:
        """A new trainer replaying ``script`` (from :meth:`script`) in the background up to the step it was
        taken at, bit for bit on the same device and library versions; ``wait()`` blocks until it is there."""
        from .script import replay

        return replay(script, model=model, data=data, val_data=val_data, device=device, **kw)

    def fork(self, *, start: bool | None = None, **changes: Any) -> Trainer:
        """A branch from this very step: same weights, optimizer state, RNG and data position, with
        ``changes`` (config fields) applied; it trains alongside when this run is running. See
        :func:`nbtrain.engine.script.fork`."""
        from .script import fork

        return fork(self, start=start, **changes)

    def at(self, step: int, fn: Callable[[Trainer], Any]) -> None:
        """Call ``fn(trainer)`` at the boundary before step ``step`` (at once-ish if it has passed): on the
        training thread between two steps, so config changes and commands made there apply before that
        step. What scenes are made of."""
        if isinstance(step, bool) or int(step) != step or step < 0:
            raise ValueError(f"at(step={step!r}): step must be an integer ≥ 0")
        self._add_hook(int(step), fn)

    def _add_hook(self, step: int, fn: Callable[[Trainer], Any], barrier: bool = False) -> None:
        with self._cv:
            bisect.insort(self._hooks, [step, next(self._hook_seq), fn, barrier])
            self._cv.notify_all()

    def _run_hooks(self) -> None:
        """Run the hooks due at this step (lock held, no step running). A barrier (a NaN/Inf pause the script
        went through) holds back the hooks after it until the replay meets that pause."""
        while self._hooks and self._hooks[0][0] <= self.global_step:
            step, _, fn, barrier = self._hooks[0]
            if barrier:
                if step < self.global_step:  # passed without meeting it: nothing left to hold back
                    self._hooks.pop(0)
                    continue
                return
            self._hooks.pop(0)
            self._call_unlocked(fn)

    def _call_unlocked(self, fn: Callable[[Trainer], Any]) -> None:
        """Run a step hook (a scene cue, a replayed change) at this boundary without holding our lock: it may
        change the config, whose lock comes before ours (an observer of a change takes ours), so holding ours
        while waiting for the config's could deadlock with another thread's change. The thread is not inside
        a step, so commands and changes from other threads meanwhile apply at once; the hook's own changes
        are applied before the next step."""
        self._cv.release()
        try:
            fn(self)
        finally:
            self._cv.acquire()
        self._drain_commands()

    def _barrier_at(self, step: int) -> bool:
        with self._cv:
            return bool(self._hooks) and self._hooks[0][3] and self._hooks[0][0] == step

    def _check_limits(self) -> None:
        live = self._live
        if live["max_steps"] is not None and self.global_step >= live["max_steps"]:
            self._finish("max_steps", f"finished: reached max_steps={live['max_steps']}")
        elif live["max_epochs"] is not None and self.epoch >= live["max_epochs"]:
            self._finish("max_epochs", f"finished: reached max_epochs={live['max_epochs']:g}")

    def _finish(self, reason: str, message: str) -> None:
        if self._state == "running":
            last_eval = self.metrics.last("val_loss", default=None) if self.metrics.evals.n else None
            if last_eval is None or int(self.metrics.evals.column("step")[-1]) != self.global_step:
                self._evaluate()  # the final metrics of a finished run always exist
            self._state = "finished"
            self.stop_reason = reason
            self.message = message
            self._budget = None
            self._cv.notify_all()

    # ------------------------------------------------------------------------------------------------
    # one optimizer step (training thread only)
    # ------------------------------------------------------------------------------------------------
    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        live = self._live
        if self._sampler is not None:
            idx = self._sampler.next(live["batch_size"], live["shuffle"], merge_single=self._bn_active())
            return self._X[idx], self._Y[idx]
        for _ in range(3):  # a user DataLoader's batch of one example is skipped while batch-norm trains
            if self._iter is None:
                self._iter = iter(self._loader)
            try:
                xb, yb = next(self._iter)[:2]
            except StopIteration:
                self._loader_epoch += 1
                self._loader_pos = 0
                self._iter = iter(self._loader)
                xb, yb = next(self._iter)[:2]
            self._loader_pos += 1
            if len(yb) > 1 or not self._bn_active() or self.data.loader is None:
                break
        nb = self.device.type == "cuda"
        if xb.dtype == torch.float64:  # a user's loader of float64 inputs (noted at load): float32 on the way
            return xb.to(self.device, torch.float32, non_blocking=nb), yb.to(self.device, non_blocking=nb)
        return xb.to(self.device, non_blocking=nb), yb.to(self.device, non_blocking=nb)

    def _bn_active(self) -> bool:
        """True when a batch-norm layer trains on the batches (ours switched on, or any in a user model)."""
        return bool(self._live["batch_norm"]) or self._user_bn

    def _train_step(self) -> bool:
        """One optimizer step; False when none was taken (an evaluation ended or paused the run first)."""
        live, model = self._live, self.model
        every = live["eval_every"] or self._auto_eval_every()
        if self.global_step - self._last_eval_step >= every:  # includes step 0: the initial loss
            self._evaluate()
            if self._state != "running":  # early stopping ended the run: no step after it
                return False
        xb, yb = self._next_batch()
        step = self.global_step
        lr = self._lr_at(step)
        if lr != self._lr_set:
            for g in self.optimizer.param_groups:
                g["lr"] = lr * g.get("lr_scale", 1.0)
            self._lr_set = lr
        if self._augment is not None:
            xb = self._augmented(xb)
        target = yb
        if live["mixup"] > 0:
            lam = float(self._lam_rng.beta(live["mixup"], live["mixup"]))
            xb, target = data_mod.mixup(xb, yb, live["mixup"], self.data.num_classes, generator=self._rng.device,
                                        lam=lam, check=False)
        stats_every = live["stats_every"]
        hooks = self._attach_stats() if stats_every and step % stats_every == 0 else None
        t0 = time.perf_counter()
        out = model(xb)
        loss = F.cross_entropy(out, target)
        proximal = live["l1"] and live.get("l1_mode", "proximal") == "proximal"
        penalty = regularizers.penalty(model, 0.0 if proximal else live["l1"], live["l2"])
        total = loss + penalty if penalty is not None else loss
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        # no device→host read here: the loss stays a device tensor until _flush (every FLUSH_EVERY steps, at an
        # evaluation, or when stepping stops), so a GPU's launch queue never drains at a step
        if live["grad_clip"] > 0:
            nn.utils.clip_grad_norm_(model.parameters(), live["grad_clip"])
        if hooks is not None:
            self._detach_stats(hooks, step)
        if step % SNAPSHOT_EVERY == 0:  # kept by restore_finite() once this step's loss is known to be finite
            self._snapshot_candidate = (step, {k: v.detach().clone() for k, v in model.state_dict().items()})
        self.optimizer.step()
        if proximal:
            regularizers.proximal_l1_(self.optimizer, model, live["l1"], count=False)
        if live.get("max_norm"):
            regularizers.max_norm_(model, live["max_norm"], count=False)
        self._run_time += time.perf_counter() - t0
        self.global_step = step + 1
        self._pend.append(((step, self.epoch, self._run_time, lr), loss.detach()))
        if self.global_step % FLUSH_EVERY == 0:
            self._flush()
        return True

    def _flush(self, act: bool = True, extra: torch.Tensor | None = None) -> list[float]:
        """Bring what the steps left on the device (losses, per-layer statistics, ``extra``) to the history in
        ONE device→host read; returns ``extra``'s values. A NaN/Inf loss among them pauses the run (``act``:
        at the deterministic points — every FLUSH_EVERY steps, evaluations, when stepping stops — so a
        replay pauses where the run did); otherwise only the finite steps before it are logged for now.

        Detection lags the bad step by at most FLUSH_EVERY steps; those steps were taken (the weights may
        have become NaN), and restore_finite() goes back to the last snapshot whose loss was finite.
        """
        pend, layers = self._pend, self._pend_layers
        if not pend and not layers and extra is None:
            return []
        parts = [torch.stack([t for _, t in pend]).float().reshape(-1)] if pend else []
        parts += [t for _, _, t in layers]
        if extra is not None:
            parts.append(extra.detach().float().reshape(-1))
        values = (torch.cat(parts) if len(parts) > 1 else parts[0]).tolist()
        self.host_reads += 1
        n = len(pend)
        losses = values[:n]
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        bad_step = pend[bad][0][0] if bad is not None else None
        good = pend if bad is None else pend[:bad]
        if good:
            self.metrics.log_steps([(r[0], r[1], r[2], v, r[3]) for (r, _), v in zip(good, losses)])
        pos = n
        kept_layers = []
        for entry in layers:
            step, cells, t = entry
            k = t.numel()
            if bad_step is None or step < bad_step:
                vals = values[pos : pos + k]
                self.metrics.log_layers(step, [[vals[v] if isinstance(v, int) else v for v in row] for row in cells])
            else:
                kept_layers.append(entry)
            pos += k
        cand = self._snapshot_candidate
        if cand is not None and (bad_step is None or cand[0] < bad_step) and (not good or cand[0] <= good[-1][0][0]):
            self._finite_snapshot, self._snapshot_candidate = cand, None
        if bad is None or act:
            self._pend, self._pend_layers = [], []
        else:
            self._pend, self._pend_layers = pend[bad:], kept_layers
        if bad is not None and act:
            if self._snapshot_candidate is not None and self._snapshot_candidate[0] >= bad_step:
                self._snapshot_candidate = None  # taken from weights that already gave a NaN/Inf loss
            self._on_nonfinite(losses[bad], pend[bad][0][3], bad_step)
        return values[pos:]

    def _augmented(self, xb: torch.Tensor) -> torch.Tensor:
        """The batch through the augmentation, drawing from the run's device stream (a callable without a
        ``generator`` parameter runs with every random op of it handed that stream)."""
        takes = self.__dict__.get("_augment_takes_generator")
        if takes is None or takes[0] is not self._augment:
            import inspect

            try:
                ok = "generator" in inspect.signature(self._augment).parameters
            except (TypeError, ValueError):
                ok = False
            takes = self._augment_takes_generator = (self._augment, ok)
        if takes[1]:
            return self._augment(xb, generator=self._rng.device)
        with rng.isolated(self._rng):
            return self._augment(xb)

    def _lr_at(self, step: int) -> float:
        """schedule(step), read from a table computed 256 steps at a time (the schedule is a pure
        function of the step; one vectorised call instead of 256 scalar ones)."""
        start, table = self._lr_table
        if not start <= step < start + len(table):
            t0 = max(step - self._sched_start, 0)
            table = self.schedule.curve(range(t0, t0 + 256)).tolist()
            self._lr_table = (step, table)
            start = step
        return table[step - start]

    def _on_nonfinite(self, value: float, lr: float, step: int | None = None) -> None:
        what = "NaN" if math.isnan(value) else "Inf"
        live = self._live
        from .batches import INPUT_RMS_LIMIT, input_rms

        rms = input_rms(self.data)
        if rms is not None and not math.isfinite(rms):
            cause = "the training inputs contain NaN/Inf values"
        elif rms is not None and rms > INPUT_RMS_LIMIT:
            cause = f"the inputs are not normalised (RMS {rms:.3g}): normalise the inputs, preprocess='normalize'"
        elif lr >= (1.0 if live["optimizer"] in ("sgd", "momentum", "nesterov", "adadelta") else 0.05):
            cause = f"learning rate {lr:g} is likely too high; try 10× smaller"
        else:
            cause = f"check the weight init ({live['init']}) and the data scale; a lower learning rate ({lr:g} now) may help"
        snap = self._finite_snapshot[0] if self._finite_snapshot else None
        kept = f"; the last finite snapshot (step {snap}) is kept: trainer.restore_finite()" if snap is not None else ""
        with self._cv:
            self._log_script(nonfinite=True)
            if self._hooks and self._hooks[0][3] and self._hooks[0][0] == self.global_step:
                self._hooks.pop(0)  # a replay met the pause its script went through
            at = self.global_step if step is None else step
            seen = f" (seen at step {self.global_step})" if at != self.global_step else ""
            self.message = f"loss became {what} at step {at}{seen} — {cause}{kept}"
            self.metrics.log_event(self.global_step, "nonfinite_loss", None, what)
            self.stop_reason = "diverged"
            if self._state == "running":
                self._state = "paused"
            self._budget = None
            self._cv.notify_all()
        self._notify()

    def _auto_eval_every(self) -> int:
        """Steps between evaluations for eval_every=0: one epoch, but at least as many steps as keep the
        evaluations' forward passes under EVAL_SHARE of the training work (an evaluation forwards n_eval
        examples, about n_eval / (3 · batch) steps' worth), clamped to [AUTO_EVAL_MIN, AUTO_EVAL_MAX].
        A pure function of the data sizes and the batch size, so a replay evaluates at the same steps."""
        bs = self._live["batch_size"]
        cached = self.__dict__.get("_auto_every")
        if cached is not None and cached[0] == bs:
            return cached[1]
        n = self._n_train or 0
        per_epoch = math.ceil(n / bs) if n else AUTO_EVAL_MAX
        n_eval = sum(len(t[1]) for t in (self._val, self._train_eval) if t is not None)
        share = math.ceil(n_eval / (3 * bs) / EVAL_SHARE)
        every = min(max(per_epoch, share, AUTO_EVAL_MIN), AUTO_EVAL_MAX)
        self._auto_every = (bs, every)
        return every

    @torch.no_grad()
    def _evaluate(self) -> None:
        model = self.model
        was = model.training
        model.eval()
        try:
            nan = torch.full((2,), math.nan)
            v = _loss_acc_tensors(model, self._val) if self._val is not None else nan
            t = _loss_acc_tensors(model, self._train_eval) if self._train_eval is not None else nan
        finally:
            model.train(was)
        # the evaluation's four numbers and the steps' pending losses: one device→host read
        vl, va, tl, ta = self._flush(extra=torch.cat([v.to(self.device), t.to(self.device)]))
        self.metrics.log_eval(self.global_step, self.epoch, vl, va, tl, ta)
        self._last_eval_step = self.global_step
        metric = self._live["early_stop_metric"]
        value = {"val_loss": vl, "val_acc": -va, "train_loss": tl, "train_acc": -ta}[metric]
        if math.isfinite(value) and (self._best is None or value < self._best[0]):
            self._best = (value, self.global_step, {k: v.detach().clone() for k, v in model.state_dict().items()})
            self._evals_since_best = 0
        else:
            self._evals_since_best += 1
            patience = self._live["patience"]
            if patience and self._evals_since_best >= patience and self._state == "running":
                best = self._best
                where = f"best at step {best[1] if best else '?'}"
                if best is not None and self._live.get("restore_best", True):
                    # the notes' early stopping keeps the best snapshot as the final model
                    model.load_state_dict(best[2])
                    self._make_optimizer()
                    self.metrics.log_event(self.global_step, "restore_best", None, best[1])
                    where += f" restored: {metric} {abs(best[0]):.4g}"
                else:
                    where += "; trainer.restore_best() loads it"
                with self._cv:
                    self._finish("early_stop", f"early stopping: {metric} has not improved for {patience} evaluations ({where})")

    def _attach_stats(self) -> tuple[list, list]:
        slots = self._slots
        outs: list[torch.Tensor] = []
        kinds = [activation_name(m) for _, _, m in slots]

        def hook(_m, _inp, out):
            outs.append(out.detach())

        handles = [m.register_forward_hook(hook) for _, _, m in slots]
        return handles, [outs, kinds, slots]

    def _detach_stats(self, hooks: tuple[list, list], step: int | None) -> None:
        handles, (outs, kinds, slots) = hooks
        for h in handles:
            h.remove()
        if step is None or not outs:
            return
        # a few small ops per layer and one device→host copy for all of them; a cell holding an int is
        # the index of its value in `tensors`
        cells: list[list[Any]] = []
        tensors: list[torch.Tensor] = []
        for a, kind, (parent, _, _) in zip(outs, kinds, slots):
            std, mean = torch.std_mean(a) if a.numel() > 1 else (a.new_zeros(()), a.mean())
            n = a.numel()
            sat: Any = 0.0
            if kind == "tanh":
                sat = torch.count_nonzero(a.abs() > 0.99) / n
            elif kind == "sigmoid":
                sat = torch.count_nonzero((a - 0.5).abs() > 0.49) / n
            dead: Any = 0.0
            if kind == "relu":  # a dead unit is zero for every example of the batch
                alive = (a > 0).flatten(2).any(2) if a.dim() > 2 else (a > 0)
                dead = 1.0 - torch.count_nonzero(alive.any(0)) / alive.shape[1]
            layer = getattr(parent, "layer", None) or getattr(parent, "residual_last", None)
            w = getattr(layer, "weight", None)
            g: Any = torch.linalg.vector_norm(w.grad) if w is not None and w.grad is not None else float("nan")
            row: list[Any] = []
            for v in (mean, std, sat, dead, g):
                if isinstance(v, torch.Tensor):
                    row.append(len(tensors))
                    tensors.append(v.float())
                else:
                    row.append(float(v))
            cells.append(row)
        if tensors:  # read at the next _flush, with the losses
            self._pend_layers.append((step, cells, torch.stack(tensors)))
        else:
            self.metrics.log_layers(step, cells)

    # ------------------------------------------------------------------------------------------------
    # subscribers
    # ------------------------------------------------------------------------------------------------
    def _notify(self) -> None:
        if self._subscribers:
            self._dispatch_event.set()

    def _update(self) -> Update:
        h = self.metrics
        return Update(self.global_step, self.epoch, self._state, h.last("train_loss"), h.last("lr"), self.message, h.version)

    # ------------------------------------------------------------------------------------------------
    # checkpoints
    # ------------------------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> str:
        """Write config, model, optimizer, schedule position, history and RNG states atomically.

        The state is copied at one step boundary (the run goes on while the file is written); the file
        holds only tensors and plain containers, so ``torch.load(weights_only=True)`` reads it, and a
        content hash that ``load`` verifies. Raises :class:`CheckpointError` when it cannot be written
        (disk full, no permission, a symbolic link or non-regular file at ``path``); an older file stays.
        """
        def snap(_m: nn.Module) -> dict[str, Any]:
            self._flush(act=False)  # the steps whose losses are still on the device belong in the file
            return checkpoint.snapshot(self)

        state = self._command("call", snap).result(30)
        return checkpoint.write(state, path)

    def _rng_state(self) -> dict[str, Any]:
        """The run's own random streams (not the process's global ones), for an exact resume."""
        return {"streams": self._rng.state_dict(), "mixup": json.dumps(self._lam_rng.bit_generator.state)}

    def _load_rng_state(self, state: dict[str, Any] | None) -> None:
        if not state:  # older files kept the global generators' states instead: fresh streams from the seed
            return
        streams = state["streams"]
        if "mixup" in state:
            self._lam_rng.bit_generator.state = json.loads(state["mixup"])
        self._rng.cpu.set_state(streams["cpu"])
        try:
            self._rng.device.set_state(streams["device"])
        except (RuntimeError, ValueError):  # saved on another kind of device: its stream starts afresh
            self.metrics.log_event(self.global_step, "rng", None, "device stream restarted (checkpoint from another device)")

    @classmethod
    def load(cls, path: str | os.PathLike, model: nn.Module | None = None, data: Any = None, val_data: Any = None,
             device: str | torch.device = "auto", **kw: Any) -> Trainer:
        """Rebuild a trainer from ``save(path)`` and resume exactly where it was (paused state).

        Pass ``model``/``data`` again when the run used your own (only built-ins are rebuilt from the config).
        The file is verified (hash, tensor sizes, shapes against the model) before anything is built from
        it; :class:`CheckpointError` says what is wrong and what to pass.
        """
        return checkpoint.restore(cls, path, model=model, data=data, val_data=val_data, device=device, **kw)

    # ------------------------------------------------------------------------------------------------
    @staticmethod
    def _shutdown(cv: threading.Condition, event: threading.Event, d: dict) -> None:
        """Finaliser (trainer collected or interpreter exit): stop the threads within one step."""
        with cv:
            if d.get("_state") in ("running", "paused"):
                d["_state"] = "stopped"
            d["_closed"] = True
            cv.notify_all()
        event.set()


def _dispatch_thread(ref: weakref.ReferenceType[Trainer], event: threading.Event) -> None:
    last: tuple = ()
    while True:
        event.wait(0.5)
        event.clear()
        trainer = ref()
        if trainer is None or trainer._closed:
            return
        subs = list(trainer._subscribers)
        update = trainer._update()
        del trainer
        if (update.version, update.state, update.message) == last:
            continue  # woken, but nothing new to tell
        last = (update.version, update.state, update.message)
        for cb in subs:
            try:
                cb(update)
            except Exception:  # a broken subscriber must not stop the others
                pass


def _loss_acc(model: nn.Module, tensors: tuple[torch.Tensor, torch.Tensor], chunk: int = 4096) -> tuple[float, float]:
    loss, acc = _loss_acc_tensors(model, tensors, chunk).tolist()
    return loss, acc


def _loss_acc_tensors(model: nn.Module, tensors: tuple[torch.Tensor, torch.Tensor], chunk: int = 4096) -> torch.Tensor:
    """Mean loss and accuracy as one device tensor of 2 (no host read)."""
    X, Y = tensors
    total_loss = torch.zeros((), device=X.device)
    correct = torch.zeros((), device=X.device)
    for i in range(0, len(Y), chunk):
        out = model(X[i : i + chunk])
        total_loss += F.cross_entropy(out.float(), Y[i : i + chunk], reduction="sum")
        correct += (out.argmax(1) == Y[i : i + chunk]).sum()
    n = max(len(Y), 1)
    return torch.stack([total_loss / n, correct.float() / n])
