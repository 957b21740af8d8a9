"""Run tiny-tensor training loops on one intra-op thread.

The demos that train small nets (tens of units, tens of samples) gain nothing from torch's intra-op threads,
but each op then opens a parallel region whose threads spin-wait for each other. When other processes share
the CPU (a lecture laptop running a browser, a CI machine running tests) that spinning made a one-second demo
take 15–30 s. One thread costs nothing here and is immune to it.

With torch's OpenMP backend the thread count is a per-thread setting, so this changes only the calling thread
(the same mechanism the Trainer uses for its training thread); the previous value is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """``with one_thread(): ...`` runs torch CPU ops of this thread on a single intra-op thread."""
    saved = torch.get_num_threads()
    if saved != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if saved != 1:
            torch.set_num_threads(saved)
