"""Weight initializers applied to any module, by name.

``apply(module, scheme, **params)`` re-initialises every ``nn.Linear`` / ``nn.Conv*`` weight in place
(biases to zero) and returns the module. Variance formulas are in the docstrings; tests check the
empirical std of a 1000×1000 layer against them.

>>> import torch, nbtrain as nt
>>> layer = nt.initializers.apply(torch.nn.Linear(1000, 1000), "he_normal")
>>> round(layer.weight.std().item() / (2 / 1000) ** 0.5, 1)
1.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from . import rng
from .registry import Registry

registry = Registry("initializer")
names = registry.names

WeightFn = Callable[[torch.Tensor], None]
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _gain_for(activation: str | None) -> float:
    """Recommended gain of ``torch.nn.init.calculate_gain`` for a registry activation name."""
    table = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "leaky_relu": "leaky_relu",
             "selu": "selu", "identity": "linear"}
    key = table.get(activation or "", None)
    return nn.init.calculate_gain(key) if key else 1.0


@registry.register("zeros")
def zeros() -> WeightFn:
    """W = 0. Every unit computes the same thing and gets the same gradient: symmetry is never broken."""
    return lambda w: nn.init.zeros_(w)


@registry.register("small_gaussian", aliases=("small", "gaussian"))
def small_gaussian(std: float = 0.01) -> WeightFn:
    """W ~ N(0, std²), std = 0.01 by default; fine for shallow nets, activations collapse in deep tanh nets."""
    _check_std(std)
    return lambda w: nn.init.normal_(w, 0.0, std)


@registry.register("large_gaussian", aliases=("large",))
def large_gaussian(std: float = 1.0) -> WeightFn:
    """W ~ N(0, std²), std = 1 by default; tanh/sigmoid units saturate and gradients vanish."""
    _check_std(std)
    return lambda w: nn.init.normal_(w, 0.0, std)


@registry.register("xavier_normal", aliases=("xavier", "glorot", "glorot_normal"))
def xavier_normal(gain: float = 1.0) -> WeightFn:
    """Glorot: W ~ N(0, gain²·2/(fan_in+fan_out)); for a square layer Var = 1/fan_in (tanh)."""
    return lambda w: nn.init.xavier_normal_(w, gain=gain)


@registry.register("xavier_uniform", aliases=("glorot_uniform",))
def xavier_uniform(gain: float = 1.0) -> WeightFn:
    """Glorot: W ~ U(−a, a), a = gain·√(6/(fan_in+fan_out)); same variance as xavier_normal."""
    return lambda w: nn.init.xavier_uniform_(w, gain=gain)


@registry.register("he_normal", aliases=("he", "kaiming", "kaiming_normal", "msra"))
def he_normal(a: float = 0.0) -> WeightFn:
    """He/MSRA: W ~ N(0, 2/((1+a²)·fan_in)); keeps ReLU activations' scale constant over depth."""
    return lambda w: nn.init.kaiming_normal_(w, a=a, nonlinearity="leaky_relu" if a else "relu")


@registry.register("he_uniform", aliases=("kaiming_uniform",))
def he_uniform(a: float = 0.0) -> WeightFn:
    """He/MSRA: W ~ U(−b, b), b = √(6/((1+a²)·fan_in)); same variance as he_normal."""
    return lambda w: nn.init.kaiming_uniform_(w, a=a, nonlinearity="leaky_relu" if a else "relu")


@registry.register("orthogonal")
def orthogonal(gain: float = 1.0) -> WeightFn:
    """W = gain·Q with Q a random (semi-)orthogonal matrix: WᵀW = gain²·I; std = gain/√fan_in (square)."""
    return lambda w: nn.init.orthogonal_(w, gain=gain)


@registry.register("pytorch_default", aliases=("default",))
def pytorch_default() -> WeightFn:
    """PyTorch's own Linear/Conv default: W ~ U(−1/√fan_in, 1/√fan_in) (Var = 1/(3·fan_in))."""
    return lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5))


def _check_std(std: float) -> None:
    if not (isinstance(std, (int, float)) and math.isfinite(std) and std > 0):
        raise ValueError(f"initializer std={std!r} must be a finite number > 0")


def make(name: str, **params) -> WeightFn:
    """The in-place weight function of scheme ``name`` (``w -> None``)."""
    return registry.make(name, **params)


def layers(module: nn.Module) -> list[nn.Module]:
    """The weight layers (Linear/Conv) of ``module`` in forward-definition order."""
    return [m for m in module.modules() if isinstance(m, _LAYERS)]


@torch.no_grad()
def apply(
    module: nn.Module,
    scheme: str,
    *,
    generator: torch.Generator | None = None,
    zero_bias: bool = True,
    zero_init_residual: bool = False,
    **params,
) -> nn.Module:
    """Re-initialise every Linear/Conv weight of ``module`` with ``scheme`` (biases → 0); returns it.

    ``zero_init_residual=True`` then zeroes the last layer of every residual block (any submodule that
    exposes ``residual_last`` or torchvision's ``BasicBlock.bn2``/``Bottleneck.bn3``), so each block
    starts as the identity map. With ``generator`` the draw is reproducible and the global RNG is neither
    read nor advanced (every random op of the scheme gets ``generator``, also in a custom scheme).
    """
    fn = make(scheme, **params)
    zero_init_residual = zero_init_residual or registry.resolve(scheme) == "zero_init_residual"
    for layer in layers(module):
        if generator is not None:
            # one CPU stream per layer seeded from ``generator`` (the same weights on every device); every
            # random op of ``fn`` is handed it (nn.init.*_(…, generator=…)), the global RNG is not involved
            seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
            w = torch.empty_like(layer.weight, device="cpu")
            with rng.isolated(torch.Generator().manual_seed(seed)):
                fn(w)
            layer.weight.copy_(w)
        else:
            fn(layer.weight)
        if zero_bias and layer.bias is not None:
            layer.bias.zero_()
    if zero_init_residual:
        zero_residual_last(module)
    return module


@torch.no_grad()
def zero_residual_last(module: nn.Module) -> int:
    """Zero the last layer of each residual block so the block starts as identity; returns how many.

    A block marks its last layer with an attribute ``residual_last`` (our ``ResidualBlock``); torchvision
    ResNet blocks are recognised by ``bn3`` (Bottleneck) or ``bn2`` (BasicBlock), whose scale is zeroed.
    """
    count = 0
    for m in module.modules():
        last = getattr(m, "residual_last", None)
        if last is None and hasattr(m, "downsample"):  # torchvision BasicBlock / Bottleneck
            last = getattr(m, "bn3", None) or getattr(m, "bn2", None)
        if isinstance(last, nn.Module) and getattr(last, "weight", None) is not None:
            last.weight.zero_()
            count += 1
    return count


@registry.register("zero_init_residual", aliases=("fixup",))
def zero_init_residual(a: float = 0.0) -> WeightFn:
    """He normal everywhere, then the last layer of each residual block zeroed (each block starts as identity)."""
    return he_normal(a)
