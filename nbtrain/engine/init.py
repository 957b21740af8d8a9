"""Weight initializers applied to any module, by name.

``apply(module, scheme, **params)`` re-initialises every ``nn.Linear`` / ``nn.Conv*`` / ``nn.ConvTranspose*``
weight in place (biases to zero) and returns the module; other weight-bearing layers (Embedding, Bilinear,
RNN/LSTM/GRU, attention in-projections) keep their own initialisation and are named in a warning
(:func:`skipped`). Variance formulas are in the docstrings; tests check the empirical std of a 1000×1000
layer against them and every draw against ``torch.nn.init`` (docs/reference.md maps each scheme to it).

``gain="auto"`` (xavier_*, orthogonal) takes the gain of the activation: ``torch.nn.init.calculate_gain``
(sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2/(1 + slope²)), identity 1), except for selu, where it is 1
(Var = 1/fan_in for a square layer) as torch's documentation advises for self-normalising networks instead
of calculate_gain's 3/4; prelu uses leaky_relu's gain at its initial slope 0.25; activations torch has no
gain for (elu, gelu, silu, maxout) get 1.

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

from . import checks, rng
from .registry import Registry

registry = Registry("initializer")
names = registry.names

WeightFn = Callable[[torch.Tensor], None]
_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def gain_for(activation: str | None, negative_slope: float | None = None) -> float:
    """The gain ``gain="auto"`` uses for a registry activation name (see the module docstring).

    >>> round(gain_for("tanh"), 4), round(gain_for("relu"), 4), gain_for("selu")
    (1.6667, 1.4142, 1.0)
    """
    name = activation or "identity"
    if name in ("leaky_relu", "prelu"):
        slope = negative_slope if negative_slope is not None else (0.01 if name == "leaky_relu" else 0.25)
        return nn.init.calculate_gain("leaky_relu", slope)
    table = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "relu", "identity": "linear"}
    return nn.init.calculate_gain(table[name]) if name in table else 1.0  # selu: 1 (torch's advice), others 1


def _check_gain(scheme: str, gain: float | str) -> float:
    if gain == "auto":
        raise ValueError(f"initializer {scheme!r}: gain='auto' needs the activation; pass activation= to make(), "
                         "or use apply(module, ...), which reads it from the module")
    if isinstance(gain, bool) or not isinstance(gain, (int, float)) or not (math.isfinite(gain) and gain > 0):
        raise ValueError(f"initializer {scheme!r}: gain={gain!r} must be a finite number > 0 or 'auto'")
    return float(gain)


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
def xavier_normal(gain: float | str = 1.0) -> WeightFn:
    """Glorot: W ~ N(0, gain²·2/(fan_in+fan_out)); for a square layer Var = 1/fan_in (tanh). gain="auto": per activation."""
    g = _check_gain("xavier_normal", gain)
    return lambda w: nn.init.xavier_normal_(w, gain=g)


@registry.register("xavier_uniform", aliases=("glorot_uniform",))
def xavier_uniform(gain: float | str = 1.0) -> WeightFn:
    """Glorot: W ~ U(−a, a), a = gain·√(6/(fan_in+fan_out)); same variance as xavier_normal."""
    g = _check_gain("xavier_uniform", gain)
    return lambda w: nn.init.xavier_uniform_(w, gain=g)


@registry.register("lecun_normal", aliases=("lecun",))
def lecun_normal() -> WeightFn:
    """LeCun: W ~ N(0, 1/fan_in), untruncated (torch's kaiming_normal_(nonlinearity="linear")); with SELU
    the activations self-normalise (mean 0, std 1 over depth). Keras's lecun_normal truncates at 2σ."""
    return lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear")


@registry.register("lecun_uniform")
def lecun_uniform() -> WeightFn:
    """LeCun: W ~ U(−b, b), b = √(3/fan_in) (torch's kaiming_uniform_(nonlinearity="linear")); Var = 1/fan_in."""
    return lambda w: nn.init.kaiming_uniform_(w, nonlinearity="linear")


@registry.register("he_normal", aliases=("he", "kaiming", "kaiming_normal", "msra"))
def he_normal(a: float = 0.0) -> WeightFn:
    """He/MSRA: W ~ N(0, 2/((1+a²)·fan_in)); keeps ReLU activations' scale constant over depth."""
    return lambda w: nn.init.kaiming_normal_(w, a=a, nonlinearity="leaky_relu" if a else "relu")


@registry.register("he_uniform", aliases=("kaiming_uniform",))
def he_uniform(a: float = 0.0) -> WeightFn:
    """He/MSRA: W ~ U(−b, b), b = √(6/((1+a²)·fan_in)); same variance as he_normal."""
    return lambda w: nn.init.kaiming_uniform_(w, a=a, nonlinearity="leaky_relu" if a else "relu")


@registry.register("orthogonal")
def orthogonal(gain: float | str = 1.0) -> WeightFn:
    """W = gain·Q with Q a random (semi-)orthogonal matrix: WᵀW = gain²·I; std = gain/√fan_in (square)."""
    g = _check_gain("orthogonal", gain)
    return lambda w: nn.init.orthogonal_(w, gain=g)


@registry.register("pytorch_default", aliases=("default",))
def pytorch_default() -> WeightFn:
    """PyTorch's own Linear/Conv default: W ~ U(−1/√fan_in, 1/√fan_in) (Var = 1/(3·fan_in))."""
    return lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5))


def _check_std(std: float) -> None:
    checks.check_float("initializer std", std, 0, None, lo_open=True)


def make(name: str, activation: str | None = None, **params) -> WeightFn:
    """The in-place weight function of scheme ``name`` (``w -> None``); ``gain="auto"`` takes
    :func:`gain_for` ``(activation)``."""
    if params.get("gain") == "auto":
        params["gain"] = gain_for(activation)
    return registry.make(name, **params)


def layers(module: nn.Module) -> list[nn.Module]:
    """The weight layers (Linear/Conv/ConvTranspose) of ``module`` in forward-definition order."""
    return [m for m in module.modules() if isinstance(m, _LAYERS)]


def skipped(module: nn.Module) -> list[str]:
    """Dotted names of the submodules with weights that :func:`apply` leaves alone (Embedding, Bilinear,
    RNN/LSTM/GRU, MultiheadAttention's in-projection, …: any matrix-shaped ``*weight*`` parameter of a
    module that is not a Linear/Conv/ConvTranspose). Norm layers' 1-D scales are not weights in this sense."""
    out = []
    for name, m in module.named_modules():
        if isinstance(m, _LAYERS):
            continue
        if any("weight" in pname and p.dim() >= 2 for pname, p in m.named_parameters(recurse=False)):
            out.append(f"{name or '(root)'} ({type(m).__name__})")
    return out


def _auto_gain_activation(module: nn.Module) -> tuple[str | None, float | None]:
    from .models import activation_slots

    slots = activation_slots(module)
    if not slots:
        return None, None
    from .activations import name_of

    act = slots[0][2]
    return name_of(act), getattr(act, "negative_slope", None)


@torch.no_grad()
def apply(
    module: nn.Module,
    scheme: str,
    *,
    generator: torch.Generator | None = None,
    zero_bias: bool = True,
    zero_init_residual: bool = False,
    activation: str | None = None,
    warn_skipped: bool = True,
    **params,
) -> nn.Module:
    """Re-initialise every Linear/Conv/ConvTranspose weight of ``module`` with ``scheme`` (biases → 0); returns it.

    ``gain="auto"`` uses the gain of ``activation`` (default: the module's first activation module, see
    :func:`gain_for`). Other weight-bearing layers are left as they are and named in a ``UserWarning``
    (``warn_skipped=False`` silences it; :func:`skipped` lists them).

    ``zero_init_residual=True`` then zeroes the last layer of every residual block (any submodule that
    exposes ``residual_last`` or torchvision's ``BasicBlock.bn2``/``Bottleneck.bn3``), so each block
    starts as the identity map. With ``generator`` the draw is reproducible and the global RNG is neither
    read nor advanced (every random op of the scheme gets ``generator``, also in a custom scheme).
    """
    if params.get("gain") == "auto":
        name, slope = (activation, None) if activation is not None else _auto_gain_activation(module)
        params["gain"] = gain_for(name, slope)
    fn = make(scheme, **params)
    if warn_skipped:
        left = skipped(module)
        if left:
            import warnings

            warnings.warn(f"initializers.apply({scheme!r}) re-initialised only Linear/Conv/ConvTranspose weights; "
                          f"left as they were: {', '.join(left)}", UserWarning, stacklevel=2)
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
