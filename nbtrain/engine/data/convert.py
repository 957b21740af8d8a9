"""From what a user gives to checked examples: labels, conversion to tensors, map-style wrapping, the
stratified train/validation split, and a dataset's moments streamed in batches (for fitting preprocessing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset, TensorDataset

from ..checks import Range, refuse
from .preprocess import Moments

Tensors = tuple[torch.Tensor, torch.Tensor]


def _labels_of(ds: Dataset) -> torch.Tensor:
    """All labels of a map-style dataset as int64, cheaply where the dataset keeps them."""
    if isinstance(ds, TensorDataset):
        return ds.tensors[1]
    if isinstance(ds, Subset):
        return _labels_of(ds.dataset)[torch.as_tensor(list(ds.indices), dtype=torch.int64)]
    if isinstance(ds, _Wrapped):
        return _labels_of(ds.inner)
    targets = getattr(ds, "targets", None)
    if targets is not None and not callable(targets):
        labels = torch.as_tensor(np.asarray(targets))
    else:
        labels = torch.as_tensor([int(ds[i][1]) for i in range(len(ds))])
    return _as_labels(labels)


def _as_labels(y: Any) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class indices, got shape {tuple(y.shape)}")
    if y.is_floating_point():
        if not torch.equal(y, y.round()):
            raise ValueError("labels must be integer class indices (classification), got non-integer floats")
    elif y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    y = y.to(torch.int64)
    if len(y) and int(y.min()) < 0:
        raise ValueError(f"labels must be >= 0, got minimum {int(y.min())}")
    return y


def _as_tensors(X: Any, y: Any) -> Tensors:
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if X.ndim < 2:
        raise ValueError(f"X must be (N, features...) with one row per example, got shape {tuple(X.shape)}")
    y = _as_labels(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} examples and {len(y)} labels")
    if len(X) == 0:
        raise ValueError("the dataset is empty")
    return X.detach().to("cpu", torch.float32), y.detach().cpu()


class _Wrapped(Dataset):
    """A map-style dataset whose examples pass through ``fn``; labels come from the inner dataset."""

    def __init__(self, inner: Dataset, fn: Callable[[Any], torch.Tensor]):
        self.inner, self.fn = inner, fn

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.inner[i]
        return self.fn(x), int(y)

    @property
    def targets(self) -> torch.Tensor:
        return _labels_of(self.inner)


def _to_tensor_example(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.float()
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        Image = None
    if Image is not None and isinstance(x, Image.Image):
        from torchvision.transforms.v2 import functional as F

        return F.to_dtype(F.to_image(x), torch.float32, scale=True).as_subclass(torch.Tensor)
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def _as_map_dataset(ds: Dataset) -> Dataset:
    """Check a user dataset and make its examples float tensors (PIL images become C×H×W in [0, 1])."""
    if isinstance(ds, IterableDataset):
        raise ValueError("an IterableDataset has no length or indexing; wrap it in a DataLoader and pass that")
    if not hasattr(ds, "__getitem__") or not hasattr(ds, "__len__"):
        raise ValueError(f"expected a map-style Dataset (with __len__ and __getitem__), got {type(ds).__name__}")
    if len(ds) == 0:
        raise ValueError("the dataset is empty")
    first = ds[0]
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise ValueError(f"dataset examples must be (x, label) pairs, got {type(first).__name__}")
    if isinstance(first[0], torch.Tensor) and first[0].dtype == torch.float32:
        return ds
    return _Wrapped(ds, _to_tensor_example)  # float64, integers, numpy, PIL → float32 examples


def _example_shape(ds: Dataset) -> tuple[int, ...]:
    return tuple(torch.as_tensor(ds[0][0]).shape)


def stratified_split(y: torch.Tensor, val_split: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation indices, each class split in proportion ``val_split`` (deterministic by seed).

    The validation set gets round(val_split·N) examples in total, every class keeps at least one training
    example, and indices come back sorted.

    >>> tr, va = stratified_split(torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), 0.5); len(tr), len(va)
    (4, 4)
    """
    _check_val_split(val_split)
    y = torch.as_tensor(y)
    n = len(y)
    rng = np.random.default_rng([int(seed), 7])  # its own stream, not the one that generated the data
    classes = np.unique(y.numpy())
    members = [np.flatnonzero(y.numpy() == c) for c in classes]
    exact = np.array([val_split * len(m) for m in members])
    take = np.floor(exact).astype(int)
    target = int(round(val_split * n))
    room = np.array([len(m) - 1 for m in members]) - take  # keep >= 1 training example per class
    for i in np.argsort(-(exact - take), kind="stable"):  # largest remainders first
        if take.sum() >= target:
            break
        if room[i] > 0:
            take[i] += 1
            room[i] -= 1
    if take.sum() == 0:
        raise ValueError(f"val_split={val_split} leaves no validation examples out of {n}; raise val_split or n")
    val = np.concatenate([rng.permutation(m)[:t] for m, t in zip(members, take)])
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return torch.as_tensor(np.flatnonzero(~mask)), torch.as_tensor(np.flatnonzero(mask))




def _check_val_split(val_split: Any) -> float:
    if val_split not in Range(0, 1, lo_open=True, hi_open=True):
        refuse("val_split", val_split, "a fraction in (0, 1)")
    return float(val_split)


def _moments_of_dataset(ds: Dataset, full: bool, batch_size: int = 1024) -> Moments:
    m = Moments(full)
    for x, _ in DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0):
        m.update(x)
    return m
