"""Step 3 of the recipe: find a learning rate that makes the loss drop clearly within ~100 iterations.

The LR range test (Smith 2017): train for ``num_iter`` mini-batches while the learning rate grows
exponentially, lr_i = start·(end/start)^(i/(n−1)), record the loss, and stop once it diverges (smoothed
loss > ``diverge``× the best so far, or NaN). Read the curve: flat (too small to matter), falling (useful),
rising (too large). Two hints, ignoring the noisy first ``skip_start`` fraction and the last ``skip_end``
points: the *steepest descent* of the smoothed loss on the way down to its minimum, and the *minimum / 10*
(a safe margin below the rate where the loss stops falling). They are hints: look at the curve (``result.plot()``:
``nt.find_lr`` returns this result with its view, :func:`nbtrain.ui.tuning.find_lr`).

The sweep runs on a copy of a trainer's model (a running trainer is not disturbed), at the run's *initial*
weights by default: the range test answers "which rate trains this model from the start", and swept from
trained weights it suggests a meaningless, tiny rate. ``weights="current"`` sweeps the live weights (with a
warning once the run has trained). A bare ``nn.Module`` is swept in place from its current weights, and its
exact weights and buffers are restored afterwards. ``result.settings["weights"]`` says which were swept.

>>> import nbtrain as nt
>>> r = nt.find_lr(data="moons", hidden=[32], num_iter=60)
>>> 1e-7 <= r.suggestions["steepest"] <= 10, len(r.lrs) <= 60
(True, True)
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..engine import data as data_mod
from ..engine import optim, regularizers, rng, threads
from .targets import holding, model_copy, train_tensors, trainer_of

__all__ = ["LRFinderResult", "find_lr"]


@dataclass
class LRFinderResult:
    """The sweep: learning rates, raw and smoothed losses, the suggestions and why it stopped.

    ``smoothed`` is a zero-lag (centred) smoothing of ``losses``, so its features sit at the learning
    rate that caused them. ``window`` = (first, last) index used for the
    suggestions. ``suggestions``: ``steepest`` and ``min/10``; ``lr`` is the steepest one.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestions: dict[str, float]
    stopped: str
    window: tuple[int, int]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def lr(self) -> float:
        """The steepest-descent suggestion."""
        return self.suggestions["steepest"]

    def frame(self) -> pd.DataFrame:
        """The curve as a DataFrame: lr, loss, smoothed."""
        return pd.DataFrame({"lr": self.lrs, "loss": self.losses, "smoothed": self.smoothed})

    def descending_region(self, frac: float = 0.1) -> tuple[float, float]:
        """(lr_lo, lr_hi): where the smoothed loss falls, from the first point that is ``frac`` of the way
        from the starting level down to the minimum, to the minimum itself."""
        s = self.smoothed
        i_min = int(np.nanargmin(s))
        start = float(np.nanmedian(s[: max(1, self.window[0])]))
        level = start - frac * (start - s[i_min])
        below = np.nonzero(s[: i_min + 1] <= level)[0]
        i_lo = int(below[0]) if len(below) else i_min
        return float(self.lrs[i_lo]), float(self.lrs[i_min])

    def __str__(self) -> str:
        lo, hi = (self.lrs[0], self.lrs[-1]) if len(self.lrs) else (math.nan, math.nan)
        sug = ", ".join(f"{k} {v:.3g}" for k, v in self.suggestions.items())
        swept = f" from {self.settings['weights']}" if self.settings.get("weights") else ""
        return (f"LR finder: {len(self.lrs)} iterations over lr {lo:.2g} … {hi:.2g}{swept} ({self.stopped}); "
                f"suggested: {sug}. Treat them as hints and read the curve: result.plot()")

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def _zero_lag(y: np.ndarray, beta: float) -> np.ndarray:
    """Centred Gaussian smoothing of log(loss), σ = max(1, 0.25/(1 − β)) points (2.5 for β = 0.9).

    Centred, so features stay at the learning rate that caused them (a running average lags by
    β/(1 − β) points: almost a decade of lr in a 100-step sweep); in log space, so the exploding tail of a
    diverging sweep does not leak into the points before it.
    """
    n = len(y)
    if n == 0:
        return y.copy()
    sigma = max(1.0, 0.25 / (1 - beta)) if beta > 0 else 0.0
    if sigma == 0:
        return y.copy()
    half = int(math.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    logy = np.log(np.maximum(y, 1e-12))
    num = np.convolve(np.pad(logy, half), k, mode="valid")
    den = np.convolve(np.pad(np.ones(n), half), k, mode="valid")  # renormalised at the edges
    return np.exp(num / den)


def _caller_level() -> int:
    """The ``stacklevel`` of a warning from the caller of this function that names the first frame outside
    the nbtrain package (the user's call, also when it went through ``nt.find_lr``'s view wrapper)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _check(name: str, value: Any, ok: bool, allowed: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} is not allowed: {allowed}")


def find_lr(target: Any = None, *, data: Any = None, start_lr: float = 1e-7, end_lr: float = 10.0,
            num_iter: int = 100, smooth: float = 0.9, diverge: float = 4.0, skip_start: float = 0.1,
            skip_end: int = 5, batch_size: int | None = None, optimizer: str | None = None,
            weight_decay: float | None = None, weights: str = "initial", seed: int | None = None,
            **fields: Any) -> LRFinderResult:
    """Exponential LR sweep from ``start_lr`` to ``end_lr`` over ``num_iter`` mini-batches.

    ``target``: a Trainer or a Lab (its model is copied at its ``"initial"`` weights, the default, or its
    ``"current"`` ones: a warning then says that a trained model's suggestion is not a training rate), an
    ``nn.Module`` with ``data`` (a dataset name or an ``(X, y)`` pair; swept in place, restored exactly),
    or nothing and config fields for a new trainer. ``optimizer``/``weight_decay``/``batch_size`` default to
    the trainer's config (the recipe keeps a small weight decay on). ``smooth`` is the factor β of the
    running average that stops the sweep once it exceeds ``diverge``× its best; the curve shown and used
    for the suggestions is a centred smoothing of the same strength (no lag).

    >>> import nbtrain as nt
    >>> r = nt.find_lr(data="spiral", hidden=[32], start_lr=1e-4, end_lr=100, num_iter=50)
    >>> r.stopped in ("diverged", "finished"), bool(r.suggestions["min/10"] < r.lrs[r.smoothed.argmin()])
    (True, True)
    """
    _check("start_lr", start_lr, isinstance(start_lr, (int, float)) and 0 < start_lr, "must be a number > 0")
    _check("end_lr", end_lr, isinstance(end_lr, (int, float)) and end_lr > start_lr, f"must be > start_lr={start_lr:g}")
    _check("num_iter", num_iter, isinstance(num_iter, int) and not isinstance(num_iter, bool) and 10 <= num_iter <= 100_000,
           "must be an integer in [10, 100000]")
    _check("smooth", smooth, isinstance(smooth, (int, float)) and 0 <= smooth < 1, "must be in [0, 1)")
    _check("diverge", diverge, isinstance(diverge, (int, float)) and diverge > 1, "must be a number > 1")
    _check("skip_start", skip_start, isinstance(skip_start, (int, float)) and 0 <= skip_start < 0.5, "must be in [0, 0.5)")
    _check("skip_end", skip_end, isinstance(skip_end, int) and not isinstance(skip_end, bool) and skip_end >= 0,
           "must be an integer ≥ 0")

    restore: dict[str, torch.Tensor] | None = None
    owned_trainer = None
    hold: contextlib.AbstractContextManager = contextlib.nullcontext()
    if isinstance(target, nn.Module):
        if data is None:
            raise ValueError("find_lr(model, data=...): a bare nn.Module needs data (a dataset name or an (X, y) pair)")
        model = target
        restore = {k: v.detach().clone() for k, v in model.state_dict().items()}
        was_training = model.training
        dev = next(iter(model.parameters())).device
        tensors = data_mod.load_data(data, val_split=None, **fields).tensors("train")
        if tensors is None:
            raise ValueError(f"find_lr(model, data=...) needs data held in memory (a name or an (X, y) pair), got {type(data).__name__}")
        X, y = tensors[0].float().to(dev), tensors[1].long().to(dev)
        g = torch.Generator().manual_seed(seed or 0)
        perm = torch.randperm(len(y), generator=g)
        X, y = X[perm], y[perm]
        opt_name, wd, bs, l1, l2, momentum = optimizer or "sgd", weight_decay or 0.0, batch_size or 32, 0.0, 0.0, 0.9
        seed = seed or 0
        swept = "the module's current weights"
    else:
        if data is not None:
            fields = {**fields, "data": data}
        trainer, owned = trainer_of(target, fields)
        owned_trainer = trainer if owned else None
        cfg = trainer.config
        hold = holding(trainer)  # on an Apple GPU the run pauses while the copy trains here
        hold.__enter__()
        try:
            model = model_copy(trainer, weights)
            seed = cfg.seed if seed is None else seed
            X, y = train_tensors(trainer, None, seed=seed)
        except BaseException:
            hold.__exit__(None, None, None)
            if owned_trainer is not None:
                owned_trainer.close()
            raise
        step = trainer.global_step
        if weights == "initial":
            swept = "the run's initial weights (step 0)"
        else:
            swept = f"the current weights (step {step:,})"
            if step > 0:
                import warnings

                warnings.warn(f"find_lr(weights='current') sweeps weights trained for {step:,} steps: the loss is "
                              "already low, so the suggestion is a rate for fine-tuning them, not for training "
                              "from the start (the default, weights='initial')", UserWarning,
                              stacklevel=_caller_level())
        opt_name = optimizer or cfg.optimizer
        wd = cfg.weight_decay if weight_decay is None else weight_decay
        bs, l1, l2, momentum = batch_size or cfg.batch_size, cfg.l1, cfg.l2, cfg.momentum
    try:
        hyper = {"momentum": momentum} if opt_name in ("momentum", "nesterov") else {}
        opt = optim.make(opt_name, model.parameters(), lr=start_lr, weight_decay=wd, **hyper)
        ratio = (end_lr / start_lr) ** (1 / (num_iter - 1))
        lrs, losses = [], []
        best, avg, stopped = math.inf, 0.0, "finished"
        n = len(y)
        # dropout masks of the copy from its own stream (never the global RNG nor the trainer's)
        with rng.use(rng.Streams(seed, X.device)), threads.for_small_model(model):
            model.train()
            for i in range(num_iter):
                lr = start_lr * ratio**i
                for grp in opt.param_groups:
                    grp["lr"] = lr
                lo = (i * bs) % n
                xb, yb = X[lo:lo + bs], y[lo:lo + bs]
                if len(yb) < bs and n >= bs:  # wrap around the end of the data
                    xb, yb = torch.cat([xb, X[: bs - len(yb)]]), torch.cat([yb, y[: bs - len(yb)]])
                loss = F.cross_entropy(model(xb), yb)
                value = loss.item()
                lrs.append(lr)
                losses.append(value)
                if not math.isfinite(value):
                    stopped = "diverged"
                    break
                avg = smooth * avg + (1 - smooth) * value
                sm = avg / (1 - smooth ** (i + 1))
                if i > 0 and sm > diverge * best:
                    stopped = "diverged"
                    break
                best = min(best, sm)
                penalty = regularizers.penalty(model, l1, l2)
                total = loss + penalty if penalty is not None else loss
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
    finally:
        hold.__exit__(None, None, None)
        if restore is not None:
            model.load_state_dict(restore)
            model.train(was_training)
            for p in model.parameters():
                p.grad = None
        if owned_trainer is not None:
            owned_trainer.close()

    lrs_a, losses_a = np.asarray(lrs, float), np.asarray(losses, float)
    finite = np.isfinite(losses_a)
    if not finite.all():  # keep the curve up to the last finite point
        cut = int(np.argmin(finite))
        lrs_a, losses_a = lrs_a[:cut], losses_a[:cut]
    smoothed = _zero_lag(losses_a, smooth)
    first = int(round(skip_start * len(lrs_a)))
    last = len(lrs_a) - skip_end
    suggestions = {"steepest": math.nan, "min/10": math.nan}
    if last - first >= 3:
        logs = np.log10(lrs_a)
        slope = np.gradient(smoothed, logs)
        i_min = first + int(np.argmin(smoothed[first:last]))
        # steepest descent on the way down to the minimum (after it the loss may fall again as the
        # network dies or recovers from a blow-up: that is not a usable rate)
        i_steep = first + int(np.argmin(slope[first:i_min + 1]))
        suggestions = {"steepest": float(lrs_a[i_steep]), "min/10": float(lrs_a[i_min] / 10)}
    else:
        stopped += f"; too few points ({len(lrs_a)}) for a suggestion: widen the range or raise num_iter"
    return LRFinderResult(lrs_a, losses_a, smoothed, suggestions, stopped, (first, max(first, last - 1)),
                          {"start_lr": start_lr, "end_lr": end_lr, "num_iter": num_iter, "optimizer": opt_name,
                           "weight_decay": wd, "batch_size": bs, "smooth": smooth, "diverge": diverge,
                           "weights": swept})
