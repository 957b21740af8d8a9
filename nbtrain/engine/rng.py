"""Random streams owned by a run, never the process-wide (global) torch generators.

A :class:`Streams` holds two ``torch.Generator`` objects seeded from one integer: ``cpu`` (weight
initialisation, permutations and other host-side draws) and ``device`` (per-batch draws made where the
batch lives: dropout and DropConnect masks, augmentation, mixup; on a CPU run it is a second CPU
generator). A Trainer owns one, seeded from its config, and so does every tool that trains a model copy
(``find_lr``, ``overfit_small``): whatever else runs in the process — other trainers, those tools, a
cell calling ``torch.manual_seed`` — leaves a run's draws unchanged.

How a layer finds the stream: ``with use(streams):`` makes ``streams`` the current one *of this thread*
(the training thread sets its trainer's streams once), and nbtrain's ``Dropout``/``DropConnectLinear``
draw their masks from ``generator_for(x.device)``. Outside any ``use`` they fall back to torch's global
generator, as torch's own layers do.

``isolated(generator)`` goes further for code that does not take a generator (building ``nn.Linear``
layers, whose constructors draw their default init; a user's initializer): inside it every random op of
this thread that was given no generator gets one, and ``F.dropout`` is computed with a mask from it. It
costs a Python call per op, so it wraps one-off work, not training steps.

>>> import torch
>>> from nbtrain.engine import rng
>>> before = torch.random.get_rng_state()
>>> with rng.isolated(torch.Generator().manual_seed(0)):
...     layer = torch.nn.Linear(3, 2)
>>> torch.equal(before, torch.random.get_rng_state())
True
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

__all__ = ["Streams", "use", "current", "generator_for", "isolated", "make_generator", "dropout", "deterministic",
           "deterministic_enabled"]

_tls = threading.local()


def make_generator(device: torch.device | str, seed: int) -> torch.Generator:
    """A generator on ``device`` (its index included), seeded with ``seed``."""
    device = torch.device(device)
    gen = torch.Generator(device=device) if device.type != "cpu" else torch.Generator()
    return gen.manual_seed(int(seed) % 2**63)


class Streams:
    """A run's generators: ``cpu`` and ``device`` (on the run's device), both seeded from ``seed``.

    ``state_dict()`` / ``load_state_dict()`` carry their states (CPU uint8 tensors) for checkpoints.
    """

    def __init__(self, seed: int, device: torch.device | str = "cpu"):
        self.seed = int(seed)
        self.on = torch.device(device)  # where ``device`` draws (its index included)
        self.cpu = make_generator("cpu", self.seed * 1_000_003 + 11)
        self.device = make_generator(self.on, self.seed * 1_000_003 + 17)

    def for_device(self, device: torch.device | str) -> torch.Generator | None:
        """The generator for draws on ``device``: ``device`` when it lives there, ``cpu`` for CPU tensors,
        else None (a tensor on some other device: torch's generator of that device)."""
        device = torch.device(device)
        own = self.on
        if device.type == own.type and (device.index is None or own.index is None or device.index == own.index):
            return self.device
        if device.type == "cpu":
            return self.cpu
        return None

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"cpu": self.cpu.get_state(), "device": self.device.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.cpu.set_state(state["cpu"])
        self.device.set_state(state["device"])

    def __repr__(self) -> str:
        return f"Streams(seed={self.seed}, device={str(self.on)!r})"


def current() -> Streams | None:
    """The streams made current in this thread by ``use()``, or None."""
    return getattr(_tls, "streams", None)


def set_current(streams: Streams | None) -> None:
    """Make ``streams`` current for this thread (the training thread does this once per chunk of steps)."""
    _tls.streams = streams


@contextlib.contextmanager
def use(streams: Streams | None) -> Iterator[Streams | None]:
    """Make ``streams`` this thread's current streams inside the block (restores the previous ones)."""
    before = current()
    _tls.streams = streams
    try:
        yield streams
    finally:
        _tls.streams = before


def generator_for(device: torch.device | str) -> torch.Generator | None:
    """This thread's generator for draws on ``device`` (None: torch's global one)."""
    streams = getattr(_tls, "streams", None)
    return streams.for_device(device) if streams is not None else None


def dropout(x: torch.Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> torch.Tensor:
    """Inverted dropout with the mask drawn from ``generator``: each element is kept with probability
    1 − p and scaled by 1/(1 − p), so the expectation is unchanged; identity when not training or p = 0.
    ``generator=None`` uses this thread's current stream for ``x.device`` (else torch's global one)."""
    if not training or p == 0.0:
        return x
    if p >= 1.0:
        return x * 0.0
    if generator is None:
        generator = generator_for(x.device)
    keep = 1.0 - p
    # u ~ U[0, 1) per element; kept where u < 1 − p (probability 1 − p), scaled by 1/(1 − p)
    mask = torch.rand(x.shape, generator=generator, device=x.device,
                      dtype=x.dtype if x.is_floating_point() else torch.float32)
    return x * mask.lt_(keep).div_(keep)


# ----------------------------------------------------------------------------------------------------
# isolated(): a thread-local torch-function mode that hands a generator to every random op without one
_RANDOM = {torch.rand, torch.randn, torch.randint, torch.randperm, torch.bernoulli, torch.multinomial,
           torch.normal, torch.poisson, torch.rand_like, torch.randn_like, torch.randint_like,
           torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.bernoulli_, torch.Tensor.bernoulli,
           torch.Tensor.random_, torch.Tensor.exponential_, torch.Tensor.geometric_, torch.Tensor.log_normal_,
           torch.Tensor.cauchy_, torch.Tensor.multinomial}
_DROPOUT = {F.dropout, F.dropout1d, F.dropout2d, F.dropout3d}


def _device_of(func: Any, args: tuple, kwargs: dict) -> torch.device:
    if "device" in kwargs and kwargs["device"] is not None:
        return torch.device(kwargs["device"])
    for a in args:
        if isinstance(a, torch.Tensor):
            return a.device
    return torch.get_default_device() if hasattr(torch, "get_default_device") else torch.device("cpu")


_TAKES: dict[Any, bool] = {}


def _takes_generator(func: Any) -> bool:
    """Does ``func`` accept ``generator=``? (torch's random ops, and Python functions such as nn.init.*_,
    which the mode sees as one call: their inner draws run with the mode off, so they get it here)."""
    if func in _RANDOM:
        return True
    known = _TAKES.get(func)
    if known is None:
        import inspect

        try:
            known = "generator" in inspect.signature(func).parameters
        except (TypeError, ValueError):
            known = False
        _TAKES[func] = known
    return known


class _Isolated(TorchFunctionMode):
    def __init__(self, streams: Streams):
        super().__init__()
        self.streams = streams

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func not in _DROPOUT and kwargs.get("generator") is None and _takes_generator(func):
            gen = self.streams.for_device(_device_of(func, args, kwargs))
            if gen is None:
                raise RuntimeError(f"{getattr(func, '__name__', func)} on {_device_of(func, args, kwargs)} inside "
                                   f"rng.isolated() with streams for {self.streams.on}")
            kwargs["generator"] = gen
        elif func in _DROPOUT:
            x, rest = args[0], list(args[1:])
            p = kwargs.get("p", rest[0] if rest else 0.5)
            training = kwargs.get("training", rest[1] if len(rest) > 1 else True)
            if func is F.dropout:
                return dropout(x, p, training, self.streams.for_device(x.device))
            # channel dropout: one draw per (example, channel)
            if not training or p == 0.0:
                return x
            lead = 2 if x.dim() > {F.dropout1d: 2, F.dropout2d: 3, F.dropout3d: 4}[func] else 1
            shape = tuple(x.shape[:lead]) + (1,) * (x.dim() - lead)
            ones = torch.ones(shape, dtype=x.dtype, device=x.device)
            return x * dropout(ones, p, True, self.streams.for_device(x.device))
        return func(*args, **kwargs)


@contextlib.contextmanager
def isolated(source: Streams | torch.Generator | int) -> Iterator[Streams]:
    """Inside the block, random ops of this thread without a generator draw from ``source`` (a Streams, a
    CPU generator, or a seed), and this thread's current streams are ``source``: the global generators
    are neither read nor advanced."""
    if isinstance(source, Streams):
        streams = source
    else:
        streams = Streams(0, "cpu")
        if isinstance(source, torch.Generator):
            if source.device.type == "cpu":
                streams.cpu = streams.device = source
            else:
                streams.device, streams.on = source, source.device
        else:
            streams = Streams(int(source), "cpu")
    with use(streams), _Isolated(streams):
        yield streams


# ----------------------------------------------------------------------------------------------------
# deterministic mode (opt-in)
def deterministic(on: bool = True) -> bool:
    """Opt-in exact replay on a GPU: ``torch.use_deterministic_algorithms(on, warn_only=True)``, cuDNN
    deterministic and not benchmarking, and ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (cuBLAS needs it; set it
    before the first CUDA matmul of the process for it to count). Process-wide, as torch's flags are;
    returns the previous setting.

    The cost, on a GPU: cuDNN no longer picks the fastest convolution algorithm for each shape
    (``benchmark=False``), some ops switch to slower deterministic kernels (scatter/index_add-style
    backward passes, e.g. of embedding or interpolation layers) and ops that have none warn once
    instead of running non-deterministically unnoticed. Convolution-heavy models lose the most; MLPs
    hardly anything. On the CPU, nbtrain's runs are already bit-exact for a given thread count without it.
    """
    before = deterministic_enabled()
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.use_deterministic_algorithms(False)
    torch.backends.cudnn.deterministic = bool(on)
    torch.backends.cudnn.benchmark = False if on else torch.backends.cudnn.benchmark
    return before


def deterministic_enabled() -> bool:
    """True while the deterministic mode (``deterministic(True)``) is on."""
    return bool(torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic)
