"""What a tuning tool is pointed at: a Trainer, a Lab (its trainer) or config fields for a new one, and
the copies a tool works on (the model, the training examples), so a running trainer is never disturbed.

>>> import nbtrain as nt
>>> tr, owned = trainer_of(None, {"data": "moons", "hidden": [8]})
>>> trainer_in(tr) is tr, owned, trainer_in("not a run")
(True, True, None)
>>> tr.close()
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["trainer_in", "trainer_of", "holding", "model_copy", "train_tensors"]


def trainer_in(obj: Any) -> Any:
    """The :class:`~nbtrain.engine.trainer.Trainer` ``obj`` is, or the one it holds (a Lab's
    ``.trainer``); None for anything else."""
    from ..engine.trainer import Trainer

    if isinstance(obj, Trainer):
        return obj
    inner = getattr(obj, "trainer", None)
    return inner if isinstance(inner, Trainer) else None


def trainer_of(target: Any, fields: Mapping[str, Any]) -> tuple[Any, bool]:
    """(trainer, owned): ``target`` itself when it is a Trainer, a Lab's trainer, or a new headless
    Trainer built from ``fields`` (owned: the caller closes it)."""
    if target is None:
        from ..engine.trainer import Trainer

        kw = dict(fields)
        kw.setdefault("device", "cpu")
        return Trainer(**kw), True
    if fields:
        raise ValueError(f"config fields ({', '.join(sorted(fields))}) only apply when no trainer is given; "
                         f"change trainer.config instead")
    trainer = trainer_in(target)
    if trainer is None:
        raise ValueError(f"expected a Trainer or a Lab (or config fields to build one), got {type(target).__name__}")
    return trainer, False


def holding(trainer: Any) -> contextlib.AbstractContextManager:
    """``trainer.exclusive()``: the training device held while a tool runs a model copy in this thread
    (pauses the run on an Apple GPU only, see ``Trainer.exclusive``)."""
    hold = getattr(trainer, "exclusive", None)
    return hold() if callable(hold) else contextlib.nullcontext()


def model_copy(trainer: Any, weights: str = "initial") -> nn.Module:
    """A deep copy of the trainer's model, taken between two steps; ``weights="initial"`` loads the run's
    initial weights into it (what the model was at step 0), ``"current"`` keeps the live ones."""
    if weights not in ("initial", "current"):
        raise ValueError(f"weights={weights!r} must be 'initial' or 'current'")
    model = trainer.submit(copy.deepcopy).result(60)
    if weights == "initial":
        model.load_state_dict(trainer.initial_state)
    return model


def train_tensors(trainer: Any, limit: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``limit`` training examples as tensors on the trainer's device, in a seeded random order."""
    d = trainer.data
    t = d.tensors("train")
    g = torch.Generator().manual_seed(seed)
    if t is not None:
        X, y = t
        idx = torch.randperm(len(y), generator=g)[: limit or len(y)]
        X, y = X[idx], y[idx]
    else:
        n = len(d.train)
        idx = torch.randperm(n, generator=g)[: limit or n].tolist()
        items = [d.train[i] for i in idx]
        X = torch.stack([torch.as_tensor(it[0]) for it in items])
        y = torch.as_tensor([int(it[1]) for it in items], dtype=torch.long)
    return X.to(trainer.device).float(), y.to(trainer.device)
