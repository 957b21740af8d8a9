"""Data augmentation, mixup and batch norm, each on its own, where over-fitting shows: few training images.

The lecture notes list data augmentation (crop, flip, rotate, scale, colour), mixup and batch norm among the
regularizers. ``regularizer_effects_data`` trains the same digits MLP (64 → 64 → 10, momentum SGD) on only
10 % of the images (about 180) — once plainly and once with each of

* ``augment``: nbtrain's label-safe digits augmentation (±10° rotations, ±10 % zoom, no flips);
* ``mixup``: pairs of images and their labels blended with λ ~ Beta(0.4, 0.4);
* ``batch_norm``: batch-norm after every hidden layer,

for a few seeds, and reports validation loss and accuracy (means over the seeds), with nbtrain's ``Trainer``.

>>> r = regularizer_effects_data(seeds=(0,), steps=100)   # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from ..engine.checks import check_float, check_int

VARIANTS: dict[str, dict[str, Any]] = {
    "none": {},
    "augment": {"augment": True},
    "mixup": {"mixup": 0.4},
    "batch_norm": {"batch_norm": True},
}


@dataclass
class RegularizerEffectsResult:
    table: pd.DataFrame  # index: variant; columns: val_loss, val_acc, train_acc (means over seeds), gap
    runs: dict[tuple[str, int], dict[str, Any]]  # (variant, seed) -> {"model", "val": (X, y), "val_acc", ...}

    def helps(self, variant: str, metric: str = "val_loss") -> bool:
        """Whether ``variant`` beats no regularization on ``metric`` (lower loss / higher accuracy)."""
        a, b = self.table.loc[variant, metric], self.table.loc["none", metric]
        return bool(a < b) if metric.endswith("loss") else bool(a > b)


def regularizer_effects_data(train_fraction: float = 0.1, steps: int = 600, seeds: tuple[int, ...] = (0, 1, 2),
                             lr: float = 0.05, hidden: tuple[int, ...] = (64,)) -> RegularizerEffectsResult:
    """Train every variant for every seed; the table holds the means."""
    import nbtrain as nt

    train_fraction = check_float("train_fraction", train_fraction, 0.02, 0.9)
    steps = check_int("steps", steps, 1, 20_000)
    lr = check_float("lr", lr, 0.0, 10.0, lo_open=True)
    seeds = tuple(check_int("seed", s, 0, 2**31) for s in seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    rows, runs = [], {}
    for name, extra in VARIANTS.items():
        for seed in seeds:
            with nt.Trainer(data="digits", model="mlp", hidden=list(hidden), preprocess="normalize", optimizer="momentum",
                            lr=lr, val_split=1.0 - train_fraction, max_steps=steps, seed=seed, split_seed=0,
                            **extra) as tr:
                tr.start().wait()
                m = tr.metrics
                row = {"variant": name, "seed": seed, "val_loss": m.last("val_loss"), "val_acc": m.last("val_acc"),
                       "train_acc": m.last("train_acc")}
                rows.append(row)
                runs[(name, seed)] = {**row, "model": tr.model, "val": tr._val}
    per_run = pd.DataFrame(rows)
    table = per_run.groupby("variant", sort=False)[["val_loss", "val_acc", "train_acc"]].mean()
    table["gap"] = table["train_acc"] - table["val_acc"]
    return RegularizerEffectsResult(table, runs)


def evaluate(model: torch.nn.Module, val: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, float]:
    """(cross-entropy, accuracy) of ``model`` on ``val`` in eval mode (plain torch)."""
    X, y = val
    was = model.training
    model.eval()
    with torch.no_grad():
        out = model(X)
        loss = float(torch.nn.functional.cross_entropy(out, y))
        acc = float((out.argmax(1) == y).float().mean())
    model.train(was)
    return loss, acc


__all__ = ["VARIANTS", "RegularizerEffectsResult", "regularizer_effects_data", "evaluate"]
