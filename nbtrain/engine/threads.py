"""How many intra-op threads torch uses for nbtrain's work on the CPU: one policy for the whole package.

Small models (under :data:`SMALL_MODEL`, one million parameters) on the CPU train on **one** intra-op thread:
their ops are too small to split, and each op would open a parallel region whose OpenMP workers spin-wait for
each other. When other processes share the CPU (a lecture laptop running a browser, a CI machine running tests)
that spinning collapses throughput — measured 300 vs 2,800 steps/s on a busy 2-core machine, and one-second
demos taking 15–30 s. One thread costs such models nothing and is immune to it.

With torch's OpenMP backend the thread count is a per-thread setting, so :func:`limited` changes only the
calling thread and restores its value afterwards; the training thread, the sanity checks, the LR finder, the
demos and search workers all go through it.

>>> import torch
>>> from nbtrain.engine import threads
>>> threads.for_model(torch.nn.Linear(2, 3))
1
>>> with threads.limited(1):
...     torch.get_num_threads()
1
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

#: parameter count under which a model on the CPU runs on one intra-op thread
SMALL_MODEL = 1_000_000


def for_model(model: nn.Module, device: torch.device | str | None = None, threads: int | None = None) -> int | None:
    """Intra-op threads for running ``model``: ``threads`` if given; 1 for a small model on the CPU; otherwise
    ``None`` (torch's default). ``device`` defaults to the device of the model's first parameter."""
    if threads is not None:
        return int(threads)
    if device is None:
        device = next(iter(model.parameters()), torch.empty(0)).device
    if torch.device(device).type == "cpu" and sum(p.numel() for p in model.parameters()) < SMALL_MODEL:
        return 1
    return None


@contextmanager
def limited(n: int | None) -> Iterator[None]:
    """``with limited(n): ...`` runs this thread's torch CPU ops on ``n`` intra-op threads (``None``: as they
    are), then restores the thread's previous setting."""
    before = torch.get_num_threads()
    change = n is not None and n != before
    if change:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        if change:
            torch.set_num_threads(before)


@contextmanager
def for_small_model(model: nn.Module) -> Iterator[None]:
    """``with for_small_model(model): ...``: :func:`limited` to :func:`for_model`'s count for ``model``."""
    with limited(for_model(model)):
        yield


def set_for_this_thread(n: int | None) -> None:
    """Set this thread's intra-op threads for good (a worker thread or process that runs only nbtrain's work);
    ``None`` leaves torch's default."""
    if n is not None and torch.get_num_threads() != n:
        torch.set_num_threads(int(n))
