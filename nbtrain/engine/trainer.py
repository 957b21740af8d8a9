"""``Trainer``: trains a model in one background thread that owns it; everything is live-tunable.

Read it as the training loop it is: ``_train_step`` is one optimizer step. Commands (reinit, submit,
restore) and config changes only ever take effect between two steps: while the thread is inside a step
(``_busy``) they are queued and ``_boundary`` applies them before the next one; otherwise the caller
applies them at once under the lock. The caller's thread never runs a training step.

This module is the state machine, the commands and the training thread; each other part of a ``Trainer`` is
a mixin in a module of its own: building from the config (``build``), live config changes (``live``), the one
optimizer step, its history flush and evaluation (``step``, with ``probes`` for per-layer statistics), the
script log and step hooks (``script``), subscribers (``subscribers``), save/load (``checkpoint``); the device
is resolved by ``device`` and the batches drawn by ``batches``.

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
import contextlib
import itertools
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import torch
from torch import nn

from . import init as init_mod
from . import models, rng
from . import threads as threads_mod
from .build import BuildMixin
from .checkpoint import CheckpointError, CheckpointMixin  # noqa: F401  (CheckpointError: public here too)
from .config import ConfigError, TrainConfig
from .device import device_scope, enter_device, resolve_device
from .history import History
from .live import LiveMixin
from .script import ScriptMixin
from .step import FLUSH_AGE, StepMixin
from .subscribers import SubscribeMixin, Update

#: seconds of steps the training thread runs between two visits to the lock (commands, subscribers, waiters)
CHUNK_SECONDS = 0.1
STATES = ("idle", "running", "paused", "finished", "stopped", "error")
#: why stepping stopped (``Trainer.stop_reason``): code branches on these names, ``message`` is for people
# Trainer(compile=...): off, torch.compile's default mode, or one of its named modes ("reduce-overhead" captures
# CUDA graphs on a GPU). Off by default: on the CPU the compiled step measured slower than eager for the built-in
# models (2,100–2,300 vs 3,700–4,000 steps/s on a 2-core VM), after a first compile of 4–18 s (bench/overhead.py
# part f)
COMPILE_MODES = (False, True, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
STOP_REASONS = ("paused", "stopped", "budget", "max_steps", "max_epochs", "early_stop", "diverged", "rollback", "error")

_OPEN: weakref.WeakSet[Trainer] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    """Stop every training thread and join it before the interpreter tears torch down (a daemon thread
    still inside torch at exit can abort the process: "terminate called without an active exception")."""
    for trainer in list(_OPEN):
        try:
            trainer.stop(timeout=1.0)
        except Exception:
            pass


def live_trainers() -> list[Trainer]:
    """Every trainer of this process that is not closed or collected, oldest first (what
    ``nbtrain.kernel_comm`` looks trainers up in)."""
    return sorted((t for t in list(_OPEN) if not t._closed), key=lambda t: t._created)


class TrainingError(RuntimeError):
    """Raised by ``wait()`` when the training thread failed; ``__cause__`` is the original exception."""


def _run_thread(ref: weakref.ReferenceType[Trainer], cv: threading.Condition) -> None:
    """Thread body. Holds the trainer only weakly between chunks, so a deleted trainer ends its thread."""
    trainer = ref()
    if trainer is not None:
        enter_device(trainer.device)
    if trainer is not None:
        # thread-local with OpenMP: the caller's torch threads are left as they are
        threads_mod.set_for_this_thread(trainer._cpu_threads())
    del trainer
    while True:
        trainer = ref()
        if trainer is None or not trainer._run_chunk():
            return
        del trainer


class Trainer(BuildMixin, LiveMixin, StepMixin, ScriptMixin, SubscribeMixin, CheckpointMixin):
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

    ``compile=True`` (or a ``torch.compile`` mode such as ``"reduce-overhead"``, CUDA graphs on a GPU) runs the
    training step's forward and backward through ``torch.compile``; steps that take per-layer statistics and
    evaluations stay eager. Live changes that alter the graph (activation, dropout, batch-norm, batch size)
    recompile at their first step. Opt-in: measure it on your device first (``bench/overhead.py``, part f).
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
        compile: bool | str = False,  # noqa: A002 - torch.compile's name, as users know it
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
        if compile not in COMPILE_MODES:
            raise ValueError(f"compile={compile!r} is not allowed: one of {', '.join(map(repr, COMPILE_MODES))}")
        self._compile = compile
        self._compiled: tuple[nn.Module, nn.Module] | None = None  # (model, its torch.compile wrapper)
        # bumped wherever the model's structure may change (build, command, live change, start/resume):
        # StepMixin._model_cache keeps the model's state tensors and modules until then
        self._model_gen = 0

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
        self._budget_end: int | None = None  # step(n): pause when global_step reaches this
        self._plain_until = -1  # steps before this one take the plain path (StepMixin._plan)
        self._probe_at = self._snap_at = -1  # where the plain path takes the layer statistics, a snapshot
        self._busy = False  # True while the thread runs a step (outside the lock)
        self._in_hook = False  # True while the thread runs a step hook at a boundary (our lock released)
        self._busy_waiters = 0  # callers in _await_step_in_flight: a chunk's end wakes them even while running
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
        _OPEN.add(self)
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
            self._budget_end = None
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
                self._budget_end = None
                self._cv.notify_all()
            self._await_step_in_flight()
        self._notify()
        return self

    def _await_step_in_flight(self, timeout: float = 1.0) -> None:
        """(lock held) Wait until the training thread is between steps and not inside a boundary's step hook
        (whose boundary ends with the history flushed), unless we are that thread."""
        end = time.monotonic() + timeout
        self._busy_waiters += 1
        try:
            while (self._busy or self._in_hook) and self._thread is not threading.current_thread() and time.monotonic() < end:
                self._cv.wait(0.005)
        finally:
            self._busy_waiters -= 1

    def step(self, n: int = 1) -> Trainer:
        """Run exactly ``n`` optimizer steps in the background, then pause. ``wait()`` blocks until done."""
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"step(n={n!r}): n must be an integer ≥ 1")
        with self._cv:
            self._check_usable()
            self._budget_end = self.global_step + int(n)  # a step under way now is the first of the n
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
            budget = self._budget_end
        try:
            yield self
        finally:
            if was_running:
                with self._cv:
                    if self._state == "paused" and not self._closed:
                        self._set_running()
                        self._budget_end = budget
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
        self._model_gen += 1  # whatever was done to the model while it was not running
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
        with device_scope(self.device):  # also from the caller's thread: the training device and stream
            self._run_command(kind, arg, fut)

    def _run_command(self, kind: str, arg: Any, fut: Future) -> None:
        self._model_gen += 1  # a command may change the model (reinit, restore, a submitted function)
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
                    self.initial_state = self._state_copy()
                self.metrics.log_event(self.global_step, "reinit", None, scheme)
                fut.set_result(scheme)
            elif kind == "call":
                was = self.model.training
                self._set_training(False)
                try:
                    with torch.no_grad():
                        fut.set_result(arg(self.model))
                finally:
                    self._model_gen += 1  # the function may have changed the model
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

    def _run_chunk(self) -> bool:
        """Run steps for up to CHUNK_SECONDS (or wait while paused). Returns False when the thread should end."""
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
        deadline = time.perf_counter() + CHUNK_SECONDS
        live = self._in_use
        rng.set_current(self._rng)  # this thread's dropout/DropConnect masks: the run's stream
        try:
            with self._cv:
                self._boundary()
                if self._state != "running":
                    self._flush()
                    return True
                self._busy = True  # from here until the steps are done, only this thread touches the model
            while True:
                self._train_step()
                # Fast path: nothing was asked of this thread (reads of single attributes are atomic; a
                # request that lands just after this check is served after the next step), so the next
                # step follows without taking the lock.
                if (self._state == "running" and not self._commands and not self._pending
                        and (self._budget_end is None or self.global_step < self._budget_end)
                        and (self._wake_step is None or self.global_step < self._wake_step)
                        and (live["max_steps"] is None or self.global_step < live["max_steps"])
                        and live["max_epochs"] is None and time.perf_counter() < deadline
                        and (not self._hooks or self._hooks[0][0] > self.global_step)):
                    continue
                with self._cv:
                    self._busy = False
                    if self._wake_step is not None or self._commands:
                        self._flush(act=False)  # a waiting caller or a command (save, submit) reads the history now
                    if self._budget_end is not None and self.global_step >= self._budget_end:
                        # (a step skipped by an early stop or a pause did not advance global_step)
                        self._budget_end = None
                        self._check_limits()  # step(n) that reaches max_steps finishes the run
                        if self._state == "running":
                            self._state = "paused"
                            self.stop_reason = "budget"
                            self._cv.notify_all()
                    if self._wake_step is not None and self.global_step >= self._wake_step:
                        self._wake_step = None
                        self._cv.notify_all()
                    if time.perf_counter() > deadline:
                        pend = self._pend
                        if pend and self._run_time - pend[0][0][2] > FLUSH_AGE:
                            self._flush(act=False)  # a slow model: its curve moves between two chunks
                        self._boundary()
                        if self._state != "running":
                            self._flush()
                            self._cv.notify_all()
                            self._notify()
                        else:
                            # still running: nobody waits for this chunk's end but a caller of
                            # _await_step_in_flight (wait() for the state is told when it changes), and the
                            # subscribers hear of progress at most every NOTIFY_EVERY s — each wake-up of
                            # another thread takes the GIL from this one in the middle of its next step
                            if self._busy_waiters:
                                self._cv.notify_all()
                            self._notify(progress=True)
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
                    self._in_use.update({k: old for k, (old, _new) in changes.items()})
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
                    self._budget_end = None
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
        self._plain_until = -1  # whatever changes here, the next step takes the full path and plans again
        self._drain_commands()
        if self._hooks:
            self._run_hooks()
        self._check_limits()

    def _check_limits(self) -> None:
        live = self._in_use
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
            self._budget_end = None
            self._cv.notify_all()

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

