"""What a classifier gets right and wrong on the validation set, and what its first layer has learned.

Plain torch, headless. Every function that looks at a live :class:`~nbtrain.engine.trainer.Trainer` runs
its forward pass through ``trainer.submit``: on the training thread, between two steps, in eval mode
under ``torch.no_grad()`` — never on a model another thread is stepping.

- :func:`evaluate` — per-example predictions, confidences and losses on the validation set
  (:class:`Evaluation`); :func:`confusion`, :func:`top_losses` and :func:`per_class_accuracy` read it;
- :func:`first_layer` / :func:`filters` — the first layer's weights as images: a convolution's
  ``(out, in, kh, kw)`` kernels, or an MLP's first ``Linear`` rows reshaped to the input image;
- :func:`examples` — validation inputs for display, with the data's preprocessing undone where it can be.

>>> import nbtrain as nt
>>> tr = nt.Trainer(data="digits", model="cnn", max_steps=30, seed=0)
>>> tr.start().wait()
'finished'
>>> cm = nt.confusion(tr); cm.shape, int(cm.sum()) == len(tr.data.val)
((10, 10), True)
>>> top = nt.top_losses(tr, 3); len(top.indices), bool(top.losses[0] >= top.losses[-1])
(3, True)
>>> tr.close()
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .targets import trainer_in

TIMEOUT = 120.0  # seconds to wait for the training thread to reach a step boundary
CHUNK = 1024  # validation examples per forward pass


class TopLosses(NamedTuple):
    """The ``k`` validation examples with the highest loss, highest first."""

    indices: np.ndarray  # (k,) int64: positions in the validation set
    losses: np.ndarray  # (k,) float32: per-example cross-entropy (nats)
    predictions: np.ndarray  # (k,) int64: predicted class (argmax of the logits)
    targets: np.ndarray  # (k,) int64: true class
    confidence: np.ndarray  # (k,) float32: softmax probability of the predicted class


@dataclass
class Evaluation:
    """Per-example results of one model on one labelled set (the validation set of a trainer).

    ``targets``, ``predictions`` (argmax of the logits), ``confidence`` (softmax probability of the
    predicted class), ``target_prob`` (softmax probability of the true class) and ``losses`` (cross-entropy
    per example, nats) all have one entry per example, in the set's order.
    """

    targets: np.ndarray
    predictions: np.ndarray
    confidence: np.ndarray
    target_prob: np.ndarray
    losses: np.ndarray
    num_classes: int
    classes: list[str] = field(default_factory=list)
    step: int | None = None

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def accuracy(self) -> float:
        return float((self.predictions == self.targets).mean()) if len(self) else math.nan

    def confusion(self, normalize: str | None = None) -> np.ndarray:
        """(K, K) counts, rows = true class, columns = predicted class. ``normalize="true"`` divides each
        row by its class's count (rows of absent classes stay 0)."""
        k = self.num_classes
        cm = np.bincount(self.targets * k + self.predictions, minlength=k * k).reshape(k, k)
        if normalize is None:
            return cm
        if normalize != "true":
            raise ValueError(f"normalize={normalize!r} must be None or 'true'")
        rows = cm.sum(1, keepdims=True)
        return np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)

    def per_class_accuracy(self) -> np.ndarray:
        """(K,) fraction of each true class predicted correctly (NaN for a class with no examples)."""
        cm = self.confusion()
        rows = cm.sum(1)
        return np.divide(np.diag(cm), rows, out=np.full(self.num_classes, np.nan), where=rows > 0)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.targets, minlength=self.num_classes)

    def top_losses(self, k: int = 16) -> TopLosses:
        """The ``k`` highest-loss examples, highest first (ties: the earlier example first)."""
        k = _check_k(k)
        order = np.argsort(-self.losses, kind="stable")[:k]
        return TopLosses(order.astype(np.int64), self.losses[order], self.predictions[order], self.targets[order],
                         self.confidence[order])

    def where(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the examples of class ``true`` predicted as ``predicted`` (a confusion-matrix cell),
        highest loss first."""
        idx = np.flatnonzero((self.targets == true) & (self.predictions == predicted))
        return idx[np.argsort(-self.losses[idx], kind="stable")]


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k={k!r} must be an integer ≥ 1")
    return int(k)


def _trainer_of(obj: Any) -> Any:
    """A Trainer from a Trainer or anything holding one (a Lab)."""
    tr = trainer_in(obj)
    if tr is None:
        raise TypeError(f"expected an nbtrain Trainer or Lab, got {type(obj).__name__}")
    return tr


def class_names(data: Any) -> list[str]:
    """The dataset's class names (``classes`` of a torchvision dataset / ImageFolder) or "0", "1", ..."""
    k = int(data.num_classes)
    names = list(getattr(data, "classes", None) or [])
    return [str(n) for n in names[:k]] + [str(i) for i in range(len(names), k)]


def is_image(data: Any) -> bool:
    """True when examples are images: input shape (C, H, W) with 1–4 channels."""
    shape = tuple(getattr(data, "input_shape", ()))
    return len(shape) == 3 and 1 <= shape[0] <= 4 and shape[1] >= 2 and shape[2] >= 2


@torch.no_grad()
def evaluate_model(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, num_classes: int | None = None,
                   chunk: int = CHUNK) -> Evaluation:
    """Per-example results of ``model`` on ``(X, Y)`` (the caller owns the model: call it inside
    ``trainer.submit`` for a live one). The loss is the training loss, ``F.cross_entropy`` per example."""
    preds, conf, tprob, losses = [], [], [], []
    k = num_classes
    for i in range(0, len(Y), chunk):
        y = Y[i : i + chunk]
        logits = model(X[i : i + chunk]).float()
        k = k or logits.shape[1]
        logp = F.log_softmax(logits, dim=1)
        c, p = logp.max(dim=1)
        preds.append(p)
        conf.append(c.exp())
        lt = logp.gather(1, y[:, None])[:, 0]
        tprob.append(lt.exp())
        losses.append(F.cross_entropy(logits, y, reduction="none"))

    def cat(parts: list[torch.Tensor], dtype: Any) -> np.ndarray:
        return torch.cat(parts).cpu().numpy().astype(dtype) if parts else np.zeros(0, dtype)

    return Evaluation(targets=Y.cpu().numpy().astype(np.int64), predictions=cat(preds, np.int64),
                      confidence=cat(conf, np.float32), target_prob=cat(tprob, np.float32),
                      losses=cat(losses, np.float32), num_classes=int(k or 0))


def val_tensors(trainer: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation inputs and labels as the trainer feeds them (preprocessed, on its device). Read them
    on the training thread — inside a ``trainer.submit`` function — where a reset cannot swap them."""
    val = getattr(_trainer_of(trainer), "_val", None)
    if val is None:
        raise ValueError("this run has no validation set (val_split=None and no val_data): nothing to evaluate")
    return val


def evaluate(trainer: Any, timeout: float = TIMEOUT) -> Evaluation:
    """Per-example predictions, confidences and losses of the live model on the validation set.

    Runs at the next step boundary on the training thread (``trainer.submit``); blocks until then.
    """
    tr = _trainer_of(trainer)
    k = int(tr.data.num_classes)

    def job(model: nn.Module) -> Evaluation:
        X, Y = val_tensors(tr)
        ev = evaluate_model(model, X, Y, k)
        ev.step = tr.global_step
        return ev

    ev = tr.submit(job).result(timeout)
    ev.classes = class_names(tr.data)
    return ev


def confusion(trainer: Any, normalize: str | None = None) -> np.ndarray:
    """Confusion matrix of the live model on the validation set: (K, K) counts, rows = true class,
    columns = predicted class (``normalize="true"``: each row divided by its class's count).

    The same layout as ``sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(K))``.
    """
    return evaluate(trainer).confusion(normalize)


def top_losses(trainer: Any, k: int = 16) -> TopLosses:
    """The ``k`` validation examples the live model gets most wrong (highest cross-entropy first):
    ``(indices, losses, predictions, targets, confidence)``; ``indices`` are positions in the validation
    set (``trainer.data.val[i]``)."""
    _check_k(k)
    return evaluate(trainer).top_losses(k)


def per_class_accuracy(trainer: Any) -> np.ndarray:
    """(K,) validation accuracy per true class (NaN for a class without validation examples)."""
    return evaluate(trainer).per_class_accuracy()


# ---------------------------------------------------------------------------------------------------------
# the first layer


def first_layer(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> tuple[str, nn.Module] | None:
    """(qualified name, module) of the first ``Conv2d`` or ``Linear`` in definition order, or None.

    A ``Linear`` counts only when its inputs can be drawn as the input image (``in_features`` equals
    C·H·W of ``input_shape``), i.e. an MLP's first layer on flattened images.
    """
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and m.groups == 1:
            return name, m
        if isinstance(m, nn.Linear):
            if input_shape is not None and len(input_shape) == 3 and m.in_features == math.prod(input_shape):
                return name, m
            return None  # a Linear before any conv that does not see the image: nothing to draw
    return None


def layer_filters(model: nn.Module, input_shape: tuple[int, ...] | None = None,
                  max_filters: int | None = None) -> tuple[str, np.ndarray] | None:
    """The first layer's weights as images: (name, (F, C, h, w) float32 copy) — a convolution's kernels
    as they are, a ``Linear``'s rows reshaped to ``input_shape``. The first ``max_filters`` only."""
    found = first_layer(model, input_shape)
    if found is None:
        return None
    name, layer = found
    w = layer.weight.detach()
    if max_filters is not None:
        w = w[: int(max_filters)]
    if isinstance(layer, nn.Linear):
        w = w.reshape(len(w), *input_shape)
    return name, w.float().cpu().numpy().copy()


def filters(trainer: Any, max_filters: int | None = None, timeout: float = TIMEOUT) -> tuple[str, np.ndarray] | None:
    """:func:`layer_filters` of a trainer's live model, read at a step boundary."""
    tr = _trainer_of(trainer)
    shape = tuple(tr.data.input_shape)
    return tr.submit(lambda model: layer_filters(model, shape, max_filters)).result(timeout)


# ---------------------------------------------------------------------------------------------------------
# inputs for display


def undo_preprocessing(data: Any, X: torch.Tensor) -> torch.Tensor:
    """Inputs as they were before the data's preprocessing when it is invertible (none, center,
    normalize); otherwise ``X`` unchanged (e.g. whitened pixels are shown as they are fed)."""
    from ..engine import data as data_mod

    pre = getattr(data, "preprocessor", None)
    X = X.float()
    if pre is None or type(pre) is data_mod.Identity:
        return X
    if type(pre) in (data_mod.Center, data_mod.Normalize) and pre.output_shape == tuple(X.shape[1:]):
        Z = X.reshape(len(X), -1)
        if type(pre) is data_mod.Normalize:
            Z = Z * pre.std.to(Z.device)
        return (Z + pre.mean.to(Z.device)).reshape(X.shape)
    return X


def examples(trainer: Any, indices: Any, timeout: float = TIMEOUT) -> torch.Tensor:
    """Validation inputs ``indices`` (CPU float32, preprocessing undone where it can be), for display."""
    tr = _trainer_of(trainer)
    idx = torch.as_tensor(np.asarray(indices, dtype=np.int64))

    def job(_model: nn.Module) -> torch.Tensor:
        X, _ = val_tensors(tr)
        return X[idx.to(X.device)].detach().cpu().clone()

    return undo_preprocessing(tr.data, tr.submit(job).result(timeout))
