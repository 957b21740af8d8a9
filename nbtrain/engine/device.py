"""Device resolution: which ``torch.device`` a run trains on, and working on it from any thread.

``resolve_device`` turns ``"auto"``/``"cuda"``/``"cuda:1"``/``"mps"``/``"cpu"`` into a device with its index;
``enter_device`` is the training thread's first act; ``device_scope`` is how other threads (commands,
checkpoints) work on the run's model: on its device and stream.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn


def resolve_device(device: str | torch.device = "auto", model: nn.Module | None = None) -> torch.device:
    """The ``torch.device`` a run trains on, with its index.

    ``"auto"``: where the user's ``model`` already is when that is an accelerator, else CUDA if available,
    else Apple MPS, else CPU. ``"cuda"`` (no index) is the *current* CUDA device
    (``torch.cuda.current_device()``, what ``torch.cuda.set_device`` chose), so ``cuda:1`` after
    ``set_device(1)``; anything else is passed to torch.
    """
    if str(device) == "auto":
        on = model_device(model)
        if on is not None and on.type != "cpu":
            return with_index(on)
        if torch.cuda.is_available():
            return with_index(torch.device("cuda"))
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:1', 'mps'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r}: no CUDA GPU is available here (torch.cuda.is_available() is False); "
                         f"use device='auto' (CUDA when present, else MPS or CPU) or device='cpu'")
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device={device!r}: Apple MPS is not available here; use device='auto' or 'cpu'")
    return with_index(dev)


def with_index(dev: torch.device) -> torch.device:
    if dev.type == "cuda" and torch.cuda.is_available():
        n = torch.cuda.device_count()
        if dev.index is None:
            return torch.device("cuda", torch.cuda.current_device())
        if not 0 <= dev.index < n:
            raise ValueError(f"device={str(dev)!r}: this machine has {n} CUDA device(s), cuda:0 … cuda:{n - 1}")
    return dev


def model_device(model: Any) -> torch.device | None:
    """The device of a module's first parameter (or buffer), None for a module without any."""
    if model is None or not hasattr(model, "parameters"):
        return None
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return None


def enter_device(device: torch.device) -> None:
    """Make ``device`` this thread's current CUDA device (the training thread's first act), so that
    whatever its steps create without naming a device lands on it too."""
    if device.type == "cuda":
        torch.cuda.set_device(device)


def device_scope(device: torch.device) -> contextlib.AbstractContextManager:
    """Work on the run's model from another thread (commands, checkpoints): on the training device and its
    stream (the device's default stream, the one the training thread runs on), whatever is current in
    the caller's thread; nothing to do off CUDA."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    stack = contextlib.ExitStack()
    stack.enter_context(torch.cuda.device(device))
    stack.enter_context(torch.cuda.stream(torch.cuda.default_stream(device)))
    return stack
