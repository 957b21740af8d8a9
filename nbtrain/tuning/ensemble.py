"""After training, as the lecture notes teach it: model ensembles and snapshot ensembles.

``ensemble(members)`` averages the predicted class probabilities of independently trained models (and, as a
second read-out, takes their majority vote); it usually adds a few points of accuracy, because the members'
errors are partly independent. ``snapshot_ensemble(...)`` gets several members from *one* run: with a
cyclic or SGDR (cosine with warm restarts) schedule the model settles into a minimum at the end of every
cycle, where the learning rate is lowest; a copy of the weights there is one member.

>>> import nbtrain as nt, torch
>>> d = nt.load_data("spiral", seed=0); (X, y), val = d.tensors("train"), d.tensors("val")
>>> runs = [nt.Trainer(data=(X, y), val_data=val, hidden=[32], lr=0.3, max_steps=200, seed=s) for s in (1, 2, 3)]
>>> for tr in runs: _ = tr.start()
>>> for tr in runs: _ = tr.wait()
>>> r = nt.ensemble(runs)
>>> r.accuracy >= r.mean_member_accuracy - 0.05
True
>>> for tr in runs: tr.close()
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from .targets import holding, model_copy, trainer_in, trainer_of

__all__ = ["EnsembleResult", "ensemble", "snapshot_ensemble", "snapshot_steps"]

METHODS = ("mean", "vote")


@dataclass
class EnsembleResult:
    """Members' and ensemble's validation scores, and the member models (copies) for ``predict``.

    ``members``: one row per member (name, val_acc, val_loss). ``accuracy``/``loss``: the averaged
    probabilities; ``vote_accuracy``: the majority vote (ties go to the higher mean probability).
    ``gain`` = ``accuracy`` − the members' mean accuracy.
    """

    members: pd.DataFrame
    accuracy: float
    loss: float
    vote_accuracy: float
    models: list[nn.Module] = field(repr=False, default_factory=list)
    method: str = "mean"
    notes: list[str] = field(default_factory=list)

    @property
    def mean_member_accuracy(self) -> float:
        return float(self.members["val_acc"].mean())

    @property
    def best_member_accuracy(self) -> float:
        return float(self.members["val_acc"].max())

    @property
    def gain(self) -> float:
        return self.accuracy - self.mean_member_accuracy

    @torch.no_grad()
    def predict_proba(self, X: torch.Tensor) -> torch.Tensor:
        """Mean class probabilities of the members for inputs ``X`` (already preprocessed like the data)."""
        return torch.stack([_probs(m, X) for m in self.models]).mean(0)

    @torch.no_grad()
    def predict(self, X: torch.Tensor, method: str | None = None) -> torch.Tensor:
        """Predicted labels: ``"mean"`` (argmax of the mean probabilities) or ``"vote"`` (majority)."""
        method = _check_method(method or self.method)
        probs = torch.stack([_probs(m, X) for m in self.models])
        return _combine(probs, method)

    def __str__(self) -> str:
        lines = [f"ensemble of {len(self.members)}: val accuracy {self.accuracy:.2%} (mean of probabilities), "
                 f"{self.vote_accuracy:.2%} (majority vote); members {self.mean_member_accuracy:.2%} on average, "
                 f"best {self.best_member_accuracy:.2%} → gain {self.gain:+.2%}"]
        lines += [f"  {r.name}: {r.val_acc:.2%}" for r in self.members.itertuples()]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed; one of {', '.join(METHODS)}")
    return method


@torch.no_grad()
def _probs(model: nn.Module, X: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    was = model.training
    model.eval()
    dev = next(iter(model.parameters()), torch.empty(0)).device
    try:
        out = [F.softmax(model(X[i:i + chunk].to(dev)).float(), dim=1).cpu() for i in range(0, len(X), chunk)]
    finally:
        model.train(was)
    return torch.cat(out)


def _combine(probs: torch.Tensor, method: str) -> torch.Tensor:
    """probs: members × examples × classes → labels."""
    mean = probs.mean(0)
    if method == "mean":
        return mean.argmax(1)
    votes = F.one_hot(probs.argmax(2), probs.shape[2]).sum(0).float()
    return (votes + 1e-3 * mean).argmax(1)  # ties → the higher mean probability


def _member(obj: Any, index: int) -> tuple[str, nn.Module, tuple[torch.Tensor, torch.Tensor] | None]:
    """(name, model copy, its validation tensors or None) for a Trainer, Lab, checkpoint path or nn.Module."""
    from ..engine.trainer import Trainer

    if isinstance(obj, (str, os.PathLike)):
        tr = Trainer.load(obj, device="cpu")
        try:
            return os.path.basename(os.fspath(obj)), model_copy(tr, "current"), _val_of(tr)
        finally:
            tr.close()
    if isinstance(obj, nn.Module):
        return f"model {index}", obj, None
    trainer, _ = trainer_of(obj, {})
    return f"run {index} (seed {trainer.config.seed})", model_copy(trainer, "current"), _val_of(trainer)


def _val_of(trainer: Any) -> tuple[torch.Tensor, torch.Tensor] | None:
    t = trainer.data.tensors("val")
    if t is None and trainer.data.val is not None:
        from ..engine.batches import materialise

        t = materialise(trainer.data.val)
    return t


def _evaluate(names: list[str], models: list[nn.Module], X: torch.Tensor, y: torch.Tensor, method: str,
              notes: list[str]) -> EnsembleResult:
    probs = torch.stack([_probs(m, X) for m in models])
    y = y.cpu()
    rows = []
    for name, p in zip(names, probs):
        rows.append({"name": name, "val_acc": float((p.argmax(1) == y).float().mean()),
                     "val_loss": float(F.nll_loss(p.clamp_min(1e-12).log(), y))})
    mean = probs.mean(0)
    acc = float((_combine(probs, "mean") == y).float().mean())
    vote = float((_combine(probs, "vote") == y).float().mean())
    loss = float(F.nll_loss(mean.clamp_min(1e-12).log(), y))
    return EnsembleResult(pd.DataFrame(rows), acc, loss, vote, models, method, notes)


def _as_tensors(data: Any) -> tuple[torch.Tensor, torch.Tensor]:
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return torch.as_tensor(data[0]).float(), torch.as_tensor(data[1]).long()
    if hasattr(data, "tensors") and callable(data.tensors):  # a Data object: its validation split
        t = data.tensors("val")
        if t is not None:
            return t
    raise ValueError(f"data must be an (X, y) pair or a loaded Data object with a validation split; got {type(data).__name__}")


def ensemble(members: Sequence[Any], data: Any = None, *, method: str = "mean") -> EnsembleResult:
    """Evaluate an ensemble of ``members`` on validation data: each member's accuracy and the ensemble's.

    ``members``: Trainers, Labs, checkpoint paths (``trainer.save(path)`` of runs on a named dataset; for a
    run on your own data load it with ``nt.Trainer.load(path, data=...)`` and pass the trainer) or
    ``nn.Module``s. Copies of the trainers' current weights are taken: a running trainer is not disturbed. ``data``: an ``(X, y)``
    pair; by default the first trainer's validation split (every trainer must share it: give the runs the
    same data split, e.g. ``Trainer(data=(X, y), val_data=val, seed=…)``, since ``seed`` also draws the split).
    ``method`` picks what ``predict`` uses; both read-outs are reported.

    >>> import nbtrain as nt, torch
    >>> nets = [torch.nn.Linear(2, 3) for _ in range(3)]
    >>> X, y = torch.randn(50, 2), torch.randint(0, 3, (50,))
    >>> nt.ensemble(nets, (X, y)).members.shape
    (3, 3)
    """
    method = _check_method(method)
    if isinstance(members, (str, os.PathLike, nn.Module)) or not isinstance(members, Sequence) or len(members) < 2:
        raise ValueError(f"members must be a list of at least 2 trainers / checkpoints / models; got {members!r:.80}")
    with contextlib.ExitStack() as held:  # on an Apple GPU, live runs pause while their copies are evaluated here
        for m in members:
            tr = trainer_in(m)
            if tr is not None:
                held.enter_context(holding(tr))
        return _ensemble(members, data, method)


def _ensemble(members: Sequence[Any], data: Any, method: str) -> EnsembleResult:
    names, models, vals = [], [], []
    for i, m in enumerate(members):
        name, model, val = _member(m, i)
        names.append(name)
        models.append(model)
        vals.append(val)
    notes: list[str] = []
    if data is not None:
        X, y = _as_tensors(data)
    else:
        given = [v for v in vals if v is not None]
        if not given:
            raise ValueError("ensemble(models, data=(X, y)): bare nn.Modules need validation data")
        X, y = given[0]
        for i, v in enumerate(vals):
            if v is not None and (v[0].shape != X.shape or not torch.equal(v[1].cpu(), y.cpu()) or
                                  not torch.equal(v[0].cpu(), X.cpu())):
                msg = (f"member {i} was validated on a different split than member 0 (the config seed also draws "
                       "the split): its validation examples may be member 0's training examples; pass the same "
                       "data=(X, y), val_data=… to every run, or data= here")
                notes.append(msg)
                warnings.warn(msg, stacklevel=2)
    return _evaluate(names, models, X, y, method, notes)


# ---------------------------------------------------------------------------------------------------------
# snapshot ensembles
# ---------------------------------------------------------------------------------------------------------
def snapshot_steps(schedule: Any, total_steps: int, start: int = 0) -> list[int]:
    """Global steps after which to take a snapshot: the end of every cycle of a periodic schedule (a
    local minimum of the learning rate, just before it rises again) and the last step.

    >>> from nbtrain.engine import schedules
    >>> snapshot_steps(schedules.make("sgdr", 0.1, 100, T_0=25, T_mult=1), 100)
    [25, 50, 75, 100]
    """
    t = np.arange(total_steps)
    lrs = schedule.curve(t) if hasattr(schedule, "curve") else np.array([schedule(int(i)) for i in t])
    lrs = np.asarray(lrs, float)
    ends = [int(i) + 1 for i in range(1, total_steps - 1) if lrs[i] <= lrs[i - 1] and lrs[i] < lrs[i + 1]]
    if total_steps >= 2 and lrs[-1] <= lrs[-2]:
        ends.append(total_steps)
    return [s for s in ends if s > start]


def snapshot_ensemble(target: Any = None, *, snapshots: int | None = None, eval_data: Any = None,
                      method: str = "mean", timeout: float | None = None, **fields: Any) -> EnsembleResult:
    """Train one run with a periodic schedule and ensemble the weights at the end of each cycle.

    ``target``: an idle or paused Trainer/Lab whose config has a periodic schedule (``sgdr`` or ``cyclic``)
    and ``max_steps``; or nothing and config fields (default ``schedule="sgdr"`` with four equal cycles).
    ``snapshots`` keeps the last k (default all). ``eval_data``: an ``(X, y)`` pair to score on (default:
    the trainer's validation split). The trainer is left at the end of the run.

    >>> import nbtrain as nt
    >>> r = nt.snapshot_ensemble(data="spiral", hidden=[32], lr=0.5, max_steps=200)
    >>> list(r.members["name"])
    ['step 50', 'step 100', 'step 150', 'step 200']
    """
    method = _check_method(method)
    if target is None:
        fields = dict(fields)
        if "schedule" not in fields:
            total = fields.get("max_steps")
            if not total:
                raise ValueError("snapshot_ensemble(...) needs max_steps=… (the run length)")
            fields["schedule"] = "sgdr"
            fields.setdefault("schedule_params", {"T_0": max(1, int(total) // 4), "T_mult": 1})
    trainer, owned = trainer_of(target, fields)
    try:
        cfg = trainer.config
        if cfg.max_steps is None:
            raise ValueError("snapshot_ensemble needs config.max_steps (the run length) to place the snapshots")
        if trainer.state == "running":
            raise RuntimeError("snapshot_ensemble: pause the trainer first (it drives the run itself)")
        steps = snapshot_steps(trainer.schedule, int(cfg.max_steps), start=int(trainer.global_step))
        if len(steps) < 2:
            raise ValueError(f"schedule={cfg.schedule!r} has {len(steps)} cycle end(s) before max_steps={cfg.max_steps}; "
                             "a snapshot ensemble needs a periodic schedule with ≥ 2 cycles: schedule='sgdr' "
                             "(T_mult=1) or 'cyclic'")
        if snapshots is not None:
            if isinstance(snapshots, bool) or not isinstance(snapshots, int) or snapshots < 2:
                raise ValueError(f"snapshots={snapshots!r} must be an integer ≥ 2")
            keep = set(steps[-snapshots:])
        else:
            keep = set(steps)
        names, models = [], []
        for s in steps:
            n = s - trainer.global_step
            if n > 0:
                trainer.step(n)
                state = trainer.wait(timeout=timeout)
                if state == "running":
                    trainer.pause()
                    raise TimeoutError(f"snapshot_ensemble: the run did not reach step {s} within timeout={timeout} s")
                if trainer.global_step < s:
                    raise RuntimeError(f"the run stopped at step {trainer.global_step} before snapshot step {s}: "
                                       f"{trainer.message}")
            if s in keep:
                names.append(f"step {s}")
                models.append(model_copy(trainer, "current"))
        if eval_data is not None:
            X, y = _as_tensors(eval_data)
        else:
            val = _val_of(trainer)
            if val is None:
                raise ValueError("the trainer has no validation split: pass eval_data=(X, y)")
            X, y = val
        result = _evaluate(names, models, X, y, method, [])
        if math.isnan(result.accuracy):  # pragma: no cover - defensive
            result.notes.append("no validation examples")
        return result
    finally:
        if owned:
            trainer.close()
