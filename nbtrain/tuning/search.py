"""Grid and random search over any ``TrainConfig`` field, on any executor with a ``submit`` method.

A *space* maps config fields to dimensions: ``choice(...)`` (a finite set), ``uniform(low, high)`` and
``loguniform(low, high)`` (learning rates and weight decays span decades, so sample their exponent:
log x ~ U(log low, log high)). Plain values are fixed; a plain list is a choice. Each trial is one
headless :class:`~nbtrain.engine.trainer.Trainer` run with a step/epoch budget (and optional early
stopping) inside :func:`run_trial`, a module-level function of a plain dict, so it pickles to a local
process pool (the default, one worker per core) or to a Dask cluster (``executor=dask.distributed.Client``).
The space lives in :mod:`nbtrain.tuning.space`, one trial in :mod:`nbtrain.tuning.trial`; this module runs
them and holds the results (every name is reached as ``nt.search.<name>``).

>>> import nbtrain as nt
>>> space = {"lr": nt.search.loguniform(1e-3, 1.0), "weight_decay": nt.search.choice(0.0, 1e-4)}
>>> s = nt.search.random(space, n=2, data="spiral", hidden=[8], max_steps=20, executor="sequential")
>>> s.results[["trial", "lr", "weight_decay", "val_acc", "status"]].shape
(2, 5)

Why random beats grid (the lecture notes' tuning recipe): when only one of two hyper-parameters matters, a 3×3 grid
tries 3 distinct values of it, nine random trials try nine.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from ..engine.config import TrainConfig
from .space import (
    Choice,
    Dim,
    LogUniform,
    RandInt,
    Uniform,
    choice,
    grid_points,
    loguniform,
    normalize_space,
    randint,
    random_points,
    uniform,
)
from .trial import METRICS, STATUSES, _failed_row, run_trial  # noqa: F401 (nt.search.STATUSES)

GPU_WORKERS_PER_DEVICE = 2  # trials sharing one GPU: its host-side work overlaps, its memory is not exhausted

__all__ = ["choice", "uniform", "loguniform", "randint", "grid", "random", "Search", "run_trial", "local_pool",
           "Choice", "Uniform", "LogUniform", "RandInt"]


# ----------------------------------------------------------------------------------------------------
# executors
# ----------------------------------------------------------------------------------------------------
class InlineExecutor(Executor):
    """Runs each submitted call at once in the caller's thread (the sequential baseline; for debugging)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        fut: Future = Future()
        if fut.set_running_or_notify_cancel():
            try:
                fut.set_result(fn(*args, **kwargs))
            except BaseException as exc:
                fut.set_exception(exc)
        return fut


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS/Windows
        return os.cpu_count() or 1


def local_pool(max_workers: int | None = None) -> ProcessPoolExecutor:
    """A process pool for trials: ``max_workers`` (default: the cores) workers started by a forkserver
    that has already imported torch and nbtrain (so each worker starts in ~0.1 s, not ~2 s), or by
    ``spawn`` where there is no forkserver. Never ``fork``: torch's threads do not survive it.

    Use it as a context manager to keep it warm across several searches:

    >>> with local_pool(2) as pool:                                    # doctest: +SKIP
    ...     s1 = grid({"lr": [0.1, 0.3]}, executor=pool, max_steps=50)
    """
    if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1):
        raise ValueError(f"max_workers={max_workers!r} must be an integer ≥ 1")
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["nbtrain.tuning.search", "nbtrain.engine.trainer"])
    else:  # pragma: no cover - Windows
        ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=max_workers or _cores(), mp_context=ctx)


def _is_dask(executor: Any) -> bool:
    return type(executor).__module__.startswith("distributed") and hasattr(executor, "scheduler_info")


def _dask_gpu_resources(executor: Any) -> bool:
    """True when some worker of a Dask cluster declares a ``GPU`` resource (``dask worker --resources GPU=1``,
    each worker seeing its own device): trials then ask for one and train on their worker's device."""
    try:
        workers = executor.scheduler_info().get("workers", {})
    except Exception:
        return False
    return any("GPU" in (w.get("resources") or {}) for w in workers.values())


def gpu_plan(device: Any, n_trials: int, executor: Any = None) -> tuple[list[str], int | None, dict[str, Any]]:
    """Where the trials run: (device of each trial, default number of workers, extra ``submit`` keywords).

    On CUDA (``device="cuda"``/``"auto"`` with GPUs) trial *i* trains on ``cuda:{i % n}`` for the *n*
    visible devices and a local pool defaults to ``GPU_WORKERS_PER_DEVICE`` workers per device (not one
    per core: each worker holds a CUDA context and its model's memory on its device); ``"cuda:k"`` puts
    every trial on device *k*. With a Dask cluster whose workers declare a ``GPU`` resource each trial asks
    for one (``resources={"GPU": 1}``) and uses its worker's current device. Elsewhere: ``device`` for all,
    and the CPU defaults (None).
    """
    plain = [str(device)] * n_trials
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return plain, None, {}
    name = str(device)
    if name == "auto":
        if not torch.cuda.is_available():
            return plain, None, {}
        dev = torch.device("cuda")
    else:
        try:
            dev = torch.device(name)
        except (RuntimeError, TypeError):
            return plain, None, {}  # the trial reports the bad device
    if dev.type != "cuda" or not torch.cuda.is_available():
        return plain, None, {}
    if executor is not None and _is_dask(executor) and dev.index is None and _dask_gpu_resources(executor):
        return ["cuda"] * n_trials, None, {"resources": {"GPU": 1}}
    if dev.index is not None:
        return [f"cuda:{dev.index}"] * n_trials, GPU_WORKERS_PER_DEVICE, {}
    n = max(1, torch.cuda.device_count())
    return [f"cuda:{i % n}" for i in range(n_trials)], GPU_WORKERS_PER_DEVICE * n, {}


def _shippable(obj: Any) -> Any:
    """What travels to a trial's process: a module or (X, y) tensors on an accelerator are copied to the
    CPU first (else they would travel by CUDA IPC, pinning the sender's device memory); the trial's
    Trainer moves them to its own device."""
    try:
        import torch
        from torch import nn
    except ImportError:  # pragma: no cover
        return obj
    if isinstance(obj, nn.Module):
        if any(t.device.type != "cpu" for t in (*obj.parameters(), *obj.buffers())):
            return copy.deepcopy(obj).to("cpu")
        return obj
    if isinstance(obj, (tuple, list)) and len(obj) == 2 and any(isinstance(t, torch.Tensor) and t.device.type != "cpu" for t in obj):
        return type(obj)(t.detach().cpu() if isinstance(t, torch.Tensor) else t for t in obj)
    return obj


# ----------------------------------------------------------------------------------------------------
# the search
# ----------------------------------------------------------------------------------------------------
class Search:
    """A running or finished search: its trials, their futures and the results table.

    ``results`` is a pandas DataFrame, one row per trial (pending ones included), sorted by the metric
    (best first; failed and pending trials last): ``trial``, one column per searched field, the metric
    (its best evaluated value in the run, where early stopping would restore), ``status`` (finished,
    early_stopped, diverged, cancelled, timeout, error, pending), ``error``, ``steps``, ``epochs``,
    ``best_step``, ``last_<metric>``, ``time_s`` and ``curve`` (a small dict of decimated curves).
    ``cancel()`` stops outstanding trials; ``wait()`` blocks and returns ``results``;
    ``subscribe(fn)`` calls ``fn(search)`` after every finished trial (from a background thread).
    """

    def __init__(self, kind: str, space: dict[str, Dim], specs: list[dict[str, Any]], *, metric: str, mode: str,
                 executor: Any, owns_executor: bool, cancel_dir: str):
        self.kind, self.space, self.metric, self.mode = kind, space, metric, mode
        self.params = list(space)
        self._specs = specs
        self._executor = executor
        self._owns_executor = owns_executor
        self._cancel_dir = cancel_dir
        self._rows: dict[int, dict[str, Any]] = {}
        self._reported = 0
        self._futures: list[Any] = []
        self._lock = threading.Condition()
        self._subscribers: list[Callable[[Search], None]] = []
        self._cancelled = False
        self._closed = False
        self.started = time.perf_counter()
        self.wall_s: float | None = None

    # ---- running ------------------------------------------------------------------------------------
    def _start(self) -> Search:
        submit_kw = {"pure": False} if _is_dask(self._executor) else {}
        submit_kw.update(getattr(self, "_submit_kw", {}))
        for spec in self._specs:
            i = spec["trial"]
            try:
                fut = self._executor.submit(run_trial, spec, **submit_kw)
            except Exception as exc:  # e.g. a pool that is shut down: record it, try the rest
                self._record(i, _failed_row(spec, f"could not submit: {type(exc).__name__}: {exc}"))
                continue
            self._futures.append(fut)
            fut.add_done_callback(lambda f, spec=spec: self._collect(spec, f))
        self._maybe_close()
        return self

    def _collect(self, spec: dict[str, Any], fut: Any) -> None:
        try:
            if fut.cancelled():
                row = _failed_row(spec, "search cancelled", status="cancelled")
            else:
                row = fut.result()
        except BaseException as exc:  # a worker that died, a Dask cancellation, ...
            status = "cancelled" if self._cancelled else "error"
            row = _failed_row(spec, f"{type(exc).__name__}: {exc}", status=status)
        self._record(spec["trial"], row)

    def _record(self, i: int, row: dict[str, Any]) -> None:
        with self._lock:
            self._rows[i] = row
            if len(self._rows) == len(self._specs) and self.wall_s is None:
                self.wall_s = time.perf_counter() - self.started
            subs = list(self._subscribers)
        for fn in subs:  # views update before wait() returns
            try:
                fn(self)
            except Exception:  # a broken view must not break the search
                pass
        with self._lock:
            self._reported += 1
            finished = self._reported == len(self._specs)
            self._lock.notify_all()
        if finished:
            self._maybe_close()

    def _maybe_close(self) -> None:
        with self._lock:
            if self._closed or self._reported < len(self._specs):
                return
            self._closed = True
        if self._owns_executor:
            self._executor.shutdown(wait=False)
        shutil.rmtree(self._cancel_dir, ignore_errors=True)

    @property
    def done(self) -> bool:
        """True when every trial has a result (finished, failed or cancelled)."""
        return len(self._rows) == len(self._specs)

    @property
    def n_done(self) -> int:
        return len(self._rows)

    def __len__(self) -> int:
        return len(self._specs)

    def wait(self, timeout: float | None = None) -> pd.DataFrame:
        """Block until all trials are done (or ``timeout`` seconds) and return ``results``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._reported < len(self._specs):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._lock.wait(0.5 if remaining is None else min(remaining, 0.5))
        if self._reported == len(self._specs):
            self._maybe_close()
            if self._owns_executor:
                self._executor.shutdown(wait=True)
        return self.results

    def cancel(self) -> Search:
        """Stop outstanding trials: queued ones never start, running ones stop within ~0.2 s (their
        partial result is kept with status ``cancelled``). Finished trials keep their results."""
        self._cancelled = True
        if not os.path.isdir(self._cancel_dir):
            os.makedirs(self._cancel_dir, exist_ok=True)
        with open(os.path.join(self._cancel_dir, "cancel"), "w") as f:
            f.write("cancelled")
        for fut in self._futures:
            if not fut.done():
                try:
                    fut.cancel()
                except Exception:
                    pass
        return self

    def subscribe(self, fn: Callable[[Search], None]) -> Callable[[], None]:
        """Call ``fn(search)`` after each finished trial (from a background thread). Returns an unsubscribe."""
        with self._lock:
            self._subscribers.append(fn)

        def unsubscribe() -> None:
            with self._lock:
                if fn in self._subscribers:
                    self._subscribers.remove(fn)

        return unsubscribe

    # ---- results ------------------------------------------------------------------------------------
    @property
    def results(self) -> pd.DataFrame:
        """The results table (see the class docstring), best trial first."""
        with self._lock:
            rows = dict(self._rows)
        records = []
        for spec in self._specs:
            r = rows.get(spec["trial"]) or _failed_row(spec, "", status="pending")
            rec = {"trial": r["trial"], **{p: r["params"].get(p) for p in self.params}, self.metric: r["value"],
                   "status": r["status"], "error": r["error"], "steps": r["steps"], "epochs": r["epochs"],
                   "best_step": r["best_step"], f"last_{self.metric}": r["last"], "time_s": r["time_s"],
                   "curve": r["curve"]}
            records.append(rec)
        df = pd.DataFrame.from_records(records, columns=["trial", *self.params, self.metric, "status", "error", "steps",
                                                         "epochs", "best_step", f"last_{self.metric}", "time_s", "curve"])
        df = df.sort_values([self.metric, "trial"], ascending=[self.mode == "min", True], na_position="last",
                             kind="mergesort").reset_index(drop=True)
        df.attrs.update(metric=self.metric, mode=self.mode, params=list(self.params),
                        log_params=[p for p, d in self.space.items() if d.log])
        return df

    def best(self, k: int = 1) -> pd.DataFrame:
        """The ``k`` best finished trials (rows of ``results`` with a finite metric)."""
        df = self.results
        return df[np.isfinite(df[self.metric].to_numpy(float))].head(k)

    @property
    def best_params(self) -> dict[str, Any]:
        """The searched values of the best trial."""
        best = self.best(1)
        if best.empty:
            raise RuntimeError("no trial has finished with a finite metric yet")
        return {p: _plain(best.iloc[0][p]) for p in self.params}

    def config(self, trial: int | None = None) -> dict[str, Any]:
        """The full config dict of ``trial`` (default: the best one), e.g. to train it longer."""
        if trial is None:
            best = self.best(1)
            if best.empty:
                raise RuntimeError("no trial has finished with a finite metric yet")
            trial = int(best.iloc[0]["trial"])
        for spec in self._specs:
            if spec["trial"] == trial:
                return dict(spec["config"])
        raise ValueError(f"trial={trial!r} is not in this search (0 … {len(self._specs) - 1})")

    def traceback(self, trial: int) -> str:
        """The full Python traceback of a trial that failed with status ``error`` ('' when none)."""
        with self._lock:
            row = self._rows.get(trial)
        return (row or {}).get("traceback", "")

    def __repr__(self) -> str:
        state = "done" if self.done else f"{self.n_done}/{len(self)} done"
        return f"Search({self.kind}, {len(self)} trials, {state}, metric={self.metric!r})"

    def _repr_html_(self) -> str:
        df = self.results.drop(columns=["curve"])
        head = f"<b>{self.kind} search</b>: {self.n_done}/{len(self)} trials done; metric {self.metric} ({self.mode})"
        return head + df.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="")

    def __del__(self) -> None:
        try:
            if self._owns_executor and self.done:
                self._executor.shutdown(wait=False)
        except Exception:
            pass


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _base_config(base: Any, fields: dict[str, Any]) -> dict[str, Any]:
    if base is None:
        cfg = TrainConfig()
    elif isinstance(base, TrainConfig):
        cfg = base.copy()
    elif isinstance(base, Mapping):
        cfg = TrainConfig.from_dict(dict(base))
    elif hasattr(base, "config") and isinstance(base.config, TrainConfig):  # a Trainer or a Lab
        cfg = base.config.copy()
    else:
        raise ValueError(f"base must be a TrainConfig, a dict of config fields, a Trainer or a Lab; got {type(base).__name__}")
    if fields:
        cfg.update(**fields)
    return cfg.to_dict()


def _launch(kind: str, points: list[dict[str, Any]], dims: dict[str, Dim], *, base: Any, metric: str, mode: str | None,
            executor: Any, max_workers: int | None, max_steps: int | None, max_epochs: float | None, patience: int,
            eval_every: int | None, model: Any, data: Any, val_data: Any, device: str, timeout_s: float | None,
            curve_points: int, wait: bool, on_result: Callable[[Search], None] | None, fields: dict[str, Any]) -> Search:
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not allowed; one of {', '.join(METRICS)}")
    mode = mode or ("max" if metric.endswith("acc") else "min")
    if mode not in ("max", "min"):
        raise ValueError(f"mode={mode!r} must be 'max' or 'min'")
    if isinstance(model, str):  # a builder name is a config field, not a module to ship
        fields, model = {**fields, "model": model}, None
    if isinstance(data, str):
        fields, data = {**fields, "data": data}, None
    budget: dict[str, Any] = {"patience": patience}
    if max_steps is not None:
        budget["max_steps"] = max_steps
    if max_epochs is not None:
        budget["max_epochs"] = max_epochs
    if eval_every is not None:
        budget["eval_every"] = eval_every
    base_cfg = _base_config(base, {**fields, **budget})
    if base_cfg["max_steps"] is None and base_cfg["max_epochs"] is None and not any(
            "max_steps" in p or "max_epochs" in p for p in points):
        raise ValueError("a search needs a budget per trial: give max_steps=… or max_epochs=…")
    if base_cfg["patience"] and metric != base_cfg["early_stop_metric"] and metric in ("val_loss", "val_acc"):
        base_cfg["early_stop_metric"] = metric
    if executor in ("sequential", "inline"):
        executor = InlineExecutor()
    devices, gpu_workers, gpu_submit = gpu_plan(device, len(points), executor)
    if gpu_workers is not None:  # trials on GPUs: shipped from the CPU, to their own device
        model, data, val_data = _shippable(model), _shippable(data), _shippable(val_data)
    cancel_dir = tempfile.mkdtemp(prefix="nbtrain-search-")
    specs = []
    for i, params in enumerate(points):
        specs.append({"trial": i, "params": params, "config": {**base_cfg, **params}, "metric": metric, "model": model,
                      "data": data, "val_data": val_data, "device": devices[i], "timeout_s": timeout_s,
                      "cancel_path": os.path.join(cancel_dir, "cancel"), "curve_points": curve_points,
                      "num_threads": 1})
    owns = False
    if executor is None:
        executor, owns = local_pool(min(max_workers or gpu_workers or _cores(), len(specs))), True
    elif isinstance(executor, str) or not callable(getattr(executor, "submit", None)):
        raise ValueError(f"executor={executor!r} must have a submit() method (a concurrent.futures pool, a "
                         "dask.distributed.Client), or be None (a local process pool) or 'sequential'")
    search = Search(kind, dims, specs, metric=metric, mode=mode, executor=executor, owns_executor=owns,
                    cancel_dir=cancel_dir)
    search._submit_kw = gpu_submit
    if on_result is not None:
        search.subscribe(on_result)
    search._start()
    if wait:
        search.wait()
    return search


_DOC_COMMON = """
    Each trial trains ``TrainConfig(base, **fields, **params)`` headless for ``max_steps``/``max_epochs``
    (``patience`` > 0 adds early stopping on the metric) and reports the best evaluated ``metric``
    (``val_acc`` by default, maximised; losses are minimised). ``executor``: None (a local process pool,
    one worker per core, or ``GPU_WORKERS_PER_DEVICE`` per GPU when trials run on GPUs; shut down at the
    end), ``"sequential"`` (in this process), any object with ``submit`` (``concurrent.futures`` pools,
    ``dask.distributed.Client``). ``device``: ``"cpu"``, ``"cuda"`` (trial *i* on ``cuda:{i % n}`` of the n
    GPUs; with Dask workers declaring a ``GPU`` resource, one GPU per trial from its worker), ``"cuda:k"``
    or ``"auto"`` (see ``gpu_plan``). ``model``/``data``/``val_data`` are sent to every trial (an
    ``nn.Module`` is copied, from the CPU when it lives on a GPU; a class defined in a notebook needs Dask,
    whose cloudpickle ships it). ``wait=False`` returns at once: the search runs in the background; use
    ``search.results``, ``search.cancel()``, ``search.wait()``.
"""


def grid(space: Mapping[str, Any], *, points: int = 3, base: Any = None, metric: str = "val_acc",
         mode: str | None = None, executor: Any = None, max_workers: int | None = None, max_steps: int | None = None,
         max_epochs: float | None = None, patience: int = 0, eval_every: int | None = None, model: Any = None,
         data: Any = None, val_data: Any = None, device: str = "cpu", timeout_s: float | None = None,
         curve_points: int = 100, wait: bool = True, on_result: Callable[[Search], None] | None = None,
         **fields: Any) -> Search:
    """Grid search: one trial per combination of the space's values (``points`` per continuous range).

    >>> s = grid({"lr": [0.1, 0.5], "hidden": choice([8], [16])}, data="moons", max_steps=20,
    ...          executor="sequential")
    >>> len(s), sorted(s.results["lr"].unique().tolist())
    (4, [0.1, 0.5])
    """
    dims = normalize_space(space)
    return _launch("grid", grid_points(space, points), dims, base=base, metric=metric, mode=mode, executor=executor,
                   max_workers=max_workers, max_steps=max_steps, max_epochs=max_epochs, patience=patience,
                   eval_every=eval_every, model=model, data=data, val_data=val_data, device=device,
                   timeout_s=timeout_s, curve_points=curve_points, wait=wait, on_result=on_result, fields=fields)


def random(space: Mapping[str, Any], n: int = 10, *, search_seed: int = 0, base: Any = None, metric: str = "val_acc",
           mode: str | None = None, executor: Any = None, max_workers: int | None = None,
           max_steps: int | None = None, max_epochs: float | None = None, patience: int = 0,
           eval_every: int | None = None, model: Any = None, data: Any = None, val_data: Any = None,
           device: str = "cpu", timeout_s: float | None = None, curve_points: int = 100, wait: bool = True,
           on_result: Callable[[Search], None] | None = None, **fields: Any) -> Search:
    """Random search: ``n`` draws from the space, reproducible by ``search_seed``. (``seed`` is the
    trials' config field — data split, initial weights, batch order — the same for every trial unless
    you search over it.)

    >>> s = random({"lr": loguniform(0.01, 1.0)}, n=3, search_seed=0, data="moons", max_steps=20,
    ...            executor="sequential")
    >>> bool(s.results["lr"].between(0.01, 1.0).all())
    True
    """
    dims = normalize_space(space)
    return _launch("random", random_points(space, n, search_seed), dims, base=base, metric=metric, mode=mode,
                   executor=executor, max_workers=max_workers, max_steps=max_steps, max_epochs=max_epochs,
                   patience=patience, eval_every=eval_every, model=model, data=data, val_data=val_data,
                   device=device, timeout_s=timeout_s, curve_points=curve_points, wait=wait, on_result=on_result,
                   fields=fields)


grid.__doc__ = (grid.__doc__ or "") + _DOC_COMMON
random.__doc__ = (random.__doc__ or "") + _DOC_COMMON
