"""Batches: what the training thread draws its mini-batches from.

``materialise`` turns a map-style dataset into resident tensors; ``safe_len`` is ``len`` for what may have no
length (an ``IterableDataset``, a ``DataLoader`` over one). ``IndexSampler`` draws the batches of a resident
dataset (indices on the device); ``LiveBatchSampler`` those of the DataLoader path, whose batch size may change
between two batches.
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


#: a resident training set of at most this many bytes is gathered in its epoch's order once per epoch, so each
#: batch is a slice (a view) instead of an indexing copy: a tiny per-epoch copy against one fewer op per batch
GATHER_MAX_BYTES = 8 * 2**20


class IndexSampler:
    """Index sampler for a resident dataset: a fresh permutation per epoch (when shuffling), drawn from
    its own generator so runs are reproducible and checkpoints resume exactly."""

    def __init__(self, n: int, device: torch.device, seed: int):
        self.n, self.device = n, device
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.arange(n)
        self.pos = n  # forces a new permutation on the first draw
        self.epochs_done = -1
        self._gathered: tuple[Any, ...] | None = None  # (perm_dev, X, Y, X in epoch order, Y in epoch order)

    def batch(self, X: torch.Tensor, Y: torch.Tensor, batch_size: int, shuffle: bool,
              merge_single: bool = False, views: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch of ``(X, Y)``: exactly ``X[idx], Y[idx]`` for ``idx = next(...)``; for a small
        dataset (≤ GATHER_MAX_BYTES) and ``views``, a slice of the epoch's gathered copy (so nothing may write
        into the batch in place)."""
        start = self.pos
        idx = self.next(batch_size, shuffle, merge_single)
        if not views or X.nbytes + Y.nbytes > GATHER_MAX_BYTES:
            return X[idx], Y[idx]
        g = self._gathered
        if g is None or g[0] is not self.perm_dev or g[1] is not X or g[2] is not Y:
            g = self._gather(X, Y)
        start = 0 if start >= self.n else start
        return g[3][start : start + len(idx)], g[4][start : start + len(idx)]

    def next_views(self, batch_size: int, shuffle: bool, X: torch.Tensor,
                   Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The next batch, exactly as :meth:`batch` (with ``views``) would return it, as two slices of the
        epoch's gathered copy of ``(X, Y)``, computed from the position alone (no index tensor; a new epoch
        is drawn and gathered here too); None when :meth:`batch` must draw it: nothing gathered yet (or not
        for these tensors), a last batch of one that may merge."""
        g = self._gathered
        if g is None or g[1] is not X or g[2] is not Y:
            return None
        if self.pos >= self.n:
            self._start_epoch(shuffle)
            g = self._gather(X, Y)
        elif g[0] is not self.perm_dev:
            return None
        pos, n = self.pos, self.n
        end = pos + batch_size
        if n - end == 1:
            return None
        if end > n:
            end = n
        self.pos = end
        return g[3][pos:end], g[4][pos:end]

    def _gather(self, X: torch.Tensor, Y: torch.Tensor) -> tuple[Any, ...]:
        """(X, Y) in this epoch's order, kept with what they were gathered from. For the same tensors the new
        order is written into the last epoch's copies: every epoch's batches then sit at the same addresses,
        warm in the caches (a fresh copy each epoch made the steps of a small model ~4 % slower), and nothing
        holds a batch from one epoch to the next (the batches are the training step's alone)."""
        g, perm = self._gathered, self.perm_dev
        if g is not None and g[1] is X and g[2] is Y and len(g[3]) == len(perm):
            xs, ys = torch.index_select(X, 0, perm, out=g[3]), torch.index_select(Y, 0, perm, out=g[4])
        else:
            xs, ys = X[perm], Y[perm]
        self._gathered = (perm, X, Y, xs, ys)
        return self._gathered

    def _start_epoch(self, shuffle: bool) -> None:
        self.perm = torch.randperm(self.n, generator=self.gen) if shuffle else torch.arange(self.n)
        self.pos = 0
        self.epochs_done += 1
        self.perm_dev = self._to_device(self.perm)

    def _to_device(self, perm: torch.Tensor) -> torch.Tensor:
        """The permutation on the device; to a GPU from pinned memory without waiting (a copy from pageable
        memory would wait for the queued steps: a sync at every epoch). The permutation is drawn on the CPU
        so that a run's batch order is the same on every device."""
        if self.device.type == "cuda":
            return perm.pin_memory().to(self.device, non_blocking=True)
        return perm.to(self.device)

    def next(self, batch_size: int, shuffle: bool, merge_single: bool = False) -> torch.Tensor:
        """The next batch's indices; ``merge_single``: a last batch of one example joins this one instead."""
        if self.pos >= self.n:
            self._start_epoch(shuffle)
        end = self.pos + batch_size
        if merge_single and self.n - end == 1:
            end += 1
        idx = self.perm_dev[self.pos : end]
        self.pos += len(idx)
        return idx

    @property
    def epoch(self) -> float:
        if self.epochs_done < 0:  # nothing drawn yet (pos = n only forces the first permutation)
            return 0.0
        return self.epochs_done + self.pos / self.n

    def state(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos, "epochs_done": self.epochs_done}

    def load(self, s: dict[str, Any]) -> None:
        self.gen.set_state(s["gen"])
        self.perm, self.pos, self.epochs_done = s["perm"].clone(), int(s["pos"]), int(s["epochs_done"])
        self.perm_dev = self._to_device(self.perm)


class LiveBatchSampler(torch.utils.data.Sampler):
    """Batch sampler for the DataLoader path whose batch size can change between batches."""

    def __init__(self, n: int, in_use: dict, seed: int):
        self.n, self.in_use = n, in_use
        self.gen = torch.Generator().manual_seed(seed)

    def __iter__(self):
        perm = torch.randperm(self.n, generator=self.gen) if self.in_use["shuffle"] else torch.arange(self.n)
        pos = 0
        while pos < self.n:
            end = pos + self.in_use["batch_size"]
            if self.in_use["batch_norm"] and self.n - end == 1:  # no last batch of one under batch-norm: merge it
                end += 1
            yield perm[pos:end].tolist()
            pos = end

    def __len__(self) -> int:
        return math.ceil(self.n / self.in_use["batch_size"])
