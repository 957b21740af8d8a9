"""Batches: what the training thread draws its mini-batches from.

``materialise`` turns a map-style dataset into resident tensors; ``safe_len`` is ``len`` for what may have no
length (an ``IterableDataset``, a ``DataLoader`` over one).
"""

from __future__ import annotations

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

