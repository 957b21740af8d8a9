"""One trial of a search: a headless Trainer run on a budget, from a plain dict to a plain dict.

:func:`run_trial` is a module-level function of a plain dict, so it pickles to a local process pool or to
a Dask cluster, and it never raises: a failing trial is a row with status ``error`` and its message.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import os
import time
import traceback
from typing import Any

import numpy as np

from ..engine.config import TrainConfig

METRICS = {"val_acc": "val_acc", "val_loss": "val_loss", "train_acc": "train_acc", "train_loss": "train_eval_loss"}
STATUSES = ("pending", "finished", "early_stopped", "diverged", "cancelled", "timeout", "error")

__all__ = ["run_trial", "METRICS", "STATUSES"]


def _limit_threads(n: int | None) -> None:
    """One intra-op thread per worker process, so two workers use two cores (not 2×N threads)."""
    if n and multiprocessing.parent_process() is not None:
        from ..engine import threads

        threads.set_for_this_thread(n)


def _curve(tr: Any, points: int) -> dict[str, list[float]]:
    ev = tr.metrics.eval_frame()
    if len(ev) > points:
        ev = ev.iloc[np.unique(np.linspace(0, len(ev) - 1, points).round().astype(int))]
    xs, ys = tr.metrics.decimate("train_loss", max(2, points))
    return {"step": ev["step"].astype(float).tolist(), "val_loss": ev["val_loss"].tolist(),
            "val_acc": ev["val_acc"].tolist(), "train_eval_loss": ev["train_eval_loss"].tolist(),
            "train_acc": ev["train_acc"].tolist(), "loss_step": xs.tolist(), "train_loss": ys.tolist()}


def run_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one trial described by a plain dict and return a plain dict row; never raises.

    ``spec``: ``trial`` (index), ``params`` (the sampled values), ``config`` (a full ``TrainConfig``
    dict), ``metric``, and optionally ``model`` (an ``nn.Module``, copied, or a factory), ``data``,
    ``val_data``, ``device``, ``cancel_path`` (the trial stops when this file exists), ``timeout_s``,
    ``curve_points``, ``num_threads``.

    >>> row = run_trial({"trial": 0, "params": {}, "config": {"data": "spiral", "hidden": [8], "max_steps": 10},
    ...                  "metric": "val_acc"})
    >>> row["status"], row["steps"]
    ('finished', 10)
    """
    t0 = time.perf_counter()
    metric = spec.get("metric", "val_acc")
    row: dict[str, Any] = {"trial": spec.get("trial", 0), "params": dict(spec.get("params", {})), "metric": metric,
                           "value": math.nan, "last": math.nan, "status": "error", "error": "", "steps": 0,
                           "epochs": 0.0, "best_step": -1, "time_s": 0.0, "curve": None}
    try:
        _limit_threads(spec.get("num_threads", 1))
        if _cancelled(spec.get("cancel_path")):
            row.update(status="cancelled", error="search cancelled before this trial started")
            return row
        from ..engine.trainer import Trainer, TrainingError

        config = TrainConfig.from_dict(spec["config"])
        model = spec.get("model")
        if model is not None:
            from torch import nn

            model = copy.deepcopy(model) if isinstance(model, nn.Module) else model()
        tr = Trainer(model, data=spec.get("data"), val_data=spec.get("val_data"), config=config,
                     device=spec.get("device", "cpu"))
        with tr:
            tr.start()
            deadline = None if spec.get("timeout_s") is None else time.monotonic() + float(spec["timeout_s"])
            status = None
            while True:
                try:
                    state = tr.wait(timeout=0.2)
                except TrainingError as exc:
                    cause = exc.__cause__ or exc
                    row.update(status="error", error=f"{type(cause).__name__}: {cause}")
                    status = "error"
                    break
                if state != "running":
                    break
                if _cancelled(spec.get("cancel_path")):
                    tr.stop(timeout=30)
                    status = "cancelled"
                    break
                if deadline is not None and time.monotonic() > deadline:
                    tr.stop(timeout=30)
                    status = "timeout"
                    break
            if status is None:
                if tr.state == "paused" and tr.stop_reason == "diverged":
                    status = "diverged"
                elif tr.stop_reason == "early_stop":
                    status = "early_stopped"
                else:
                    status = "finished"
            if status in ("diverged", "cancelled", "timeout"):
                row["error"] = tr.message or {"cancelled": "search cancelled", "timeout": "trial timed out"}[status]
            row["status"] = status
            row["steps"], row["epochs"] = int(tr.global_step), float(tr.epoch)
            ev = tr.metrics.eval_frame()
            col = METRICS[metric]
            values = ev[col].to_numpy(float) if len(ev) else np.array([])
            finite = np.isfinite(values)
            if finite.any():
                pick = np.nanargmax if metric.endswith("acc") else np.nanargmin
                i = int(pick(np.where(finite, values, np.nan)))
                row.update(value=float(values[i]), best_step=int(ev["step"].iloc[i]), last=float(values[finite][-1]))
            row["curve"] = _curve(tr, int(spec.get("curve_points", 100)))
    except Exception as exc:  # recorded, never raised: one failing trial must not stop the search
        row.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    row["time_s"] = time.perf_counter() - t0
    return row


def _cancelled(path: str | None) -> bool:
    return bool(path) and os.path.exists(path)


def _failed_row(spec: dict[str, Any], error: str, status: str = "error") -> dict[str, Any]:
    """The row of a trial that did not run (or whose worker failed): :func:`run_trial`'s row, no result."""
    return {"trial": spec["trial"], "params": dict(spec["params"]), "metric": spec.get("metric"), "value": math.nan,
            "last": math.nan, "status": status, "error": error, "steps": 0, "epochs": 0.0, "best_step": -1,
            "time_s": 0.0, "curve": None}
