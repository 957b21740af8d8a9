"""Batches: what the training thread draws its mini-batches from.

``materialise`` turns a map-style dataset into resident tensors; ``safe_len`` is ``len`` for what may have no
length (an ``IterableDataset``, a ``DataLoader`` over one); ``input_rms`` measures the scale of a sample of the
training inputs (the trainer's NaN message and ``nt.diagnose`` name unnormalised inputs by it).
"""

from __future__ import annotations

import math
from typing import Any

import torch


def safe_len(obj: Any) -> int | None:
    """len(obj), or None for what has no length (an IterableDataset, a DataLoader over one)."""
    try:
        return len(obj)
    except TypeError:
        return None


def materialise(dataset: torch.utils.data.Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels) of every item of a map-style ``dataset`` as two tensors (float64 inputs become
    float32, labels long)."""
    xs, ys = zip(*(dataset[i][:2] for i in range(len(dataset))))
    X = torch.stack([torch.as_tensor(x) for x in xs])
    return X.float() if X.dtype == torch.float64 else X, torch.as_tensor(ys, dtype=torch.long)


#: inputs whose root-mean-square exceeds this are "not normalised" (the nan rule and the trainer's message)
INPUT_RMS_LIMIT = 100.0


def input_rms(data: Any, limit: int = 2048) -> float | None:
    """Root-mean-square of up to ``limit`` training inputs (``inf`` if any is NaN/Inf), None if unreadable."""
    try:
        t = data.tensors("train")
        if t is not None:
            x = t[0][:limit]
        else:
            n = min(len(data.train), 256)
            x = torch.stack([torch.as_tensor(data.train[i][0]) for i in range(n)])
        x = x.double()
        if not torch.isfinite(x).all():
            return math.inf
        return float(x.square().mean().sqrt()) if x.numel() else None
    except Exception:  # noqa: BLE001 - a user dataset we cannot sample: no input check
        return None
