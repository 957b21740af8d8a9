"""The loaded result: :class:`Data`, what ``load_data`` returns; :func:`input_rms`, the scale of its training inputs
(the trainer's NaN message and ``nt.diagnose`` name unnormalised inputs by it)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from .convert import Tensors
from .preprocess import Preprocessor


@dataclass(repr=False)
class Data:
    """What ``load_data`` returns: splits, label count, per-example input shape, fitted preprocessing.

    ``train``/``val`` yield already-preprocessed ``(x float32, label int64)`` pairs. ``loader`` is the
    user's DataLoader when one was given (then batches come from it as-is). ``augment`` is a callable
    ``augment(batch, generator=None)`` applied by the trainer on the batch's device, or None.

    >>> from nbtrain.engine.data import load_data
    >>> d = load_data("moons", n=100); d.is_2d, d.num_classes, len(d.train), len(d.val)
    (True, 2, 80, 20)
    """

    name: str
    train: Dataset
    val: Dataset | None
    num_classes: int
    input_shape: tuple[int, ...]
    loader: DataLoader | None = None
    preprocessor: Preprocessor | None = None
    augment: Callable[..., torch.Tensor] | None = None
    classes: list[str] | None = None
    notes: list[str] = field(default_factory=list)  # what loading changed, e.g. float64 inputs cast to float32

    def _split(self, split: str) -> Dataset | None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return self.train if split == "train" else self.val

    def tensors(self, split: str = "train") -> Tensors | None:
        """The whole split as (X, y) tensors when it is held in memory (a TensorDataset), else None."""
        ds = self._split(split)
        if isinstance(ds, TensorDataset) and len(ds.tensors) == 2:
            return ds.tensors[0], ds.tensors[1]
        return None

    def nbytes(self, split: str = "train") -> int:
        """Bytes of the split as tensors: exact when in memory, else len × (float32 example + int64 label)."""
        ds = self._split(split)
        if ds is None:
            return 0
        t = self.tensors(split)
        if t is not None:
            return sum(a.element_size() * a.nelement() for a in t)
        return len(ds) * (4 * math.prod(self.input_shape) + 8)

    @property
    def is_2d(self) -> bool:
        """True for 2-D feature vectors (decision boundaries can be drawn)."""
        return tuple(self.input_shape) == (2,)

    def bounds(self, margin: float = 0.1) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the (preprocessed) 2-D train+val points, widened by ``margin``·range."""
        if not self.is_2d:
            raise ValueError(f"bounds() needs 2-D data, got input_shape {self.input_shape}")
        pts = [t[0] for t in (self.tensors("train"), self.tensors("val")) if t is not None]
        if not pts:
            pts = [torch.stack([torch.as_tensor(x) for x, _ in self.train])]
        X = torch.cat(pts)
        lo, hi = X.min(0).values, X.max(0).values
        pad = (hi - lo).clamp_min(1e-6) * margin
        lo, hi = (lo - pad).tolist(), (hi + pad).tolist()
        return (lo[0], hi[0], lo[1], hi[1])

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Apply the fitted preprocessing to new raw inputs (e.g. a decision-boundary grid)."""
        return self.preprocessor.transform(X) if self.preprocessor is not None else torch.as_tensor(X).float()

    def __repr__(self) -> str:
        val = _len_or_none(self.val) if self.val is not None else None
        pre = self.preprocessor.name if self.preprocessor is not None else "none"
        extra = ", loader" if self.loader is not None else ""
        extra += ", augment" if self.augment is not None else ""
        return (
            f"Data({self.name!r}, train={_len_or_none(self.train)}, val={val}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape}, preprocess={pre!r}{extra})"
        )


def _len_or_none(ds: Any) -> int | None:
    try:
        return len(ds)
    except TypeError:  # an IterableDataset has no length
        return None
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
