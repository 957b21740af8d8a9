"""Activation functions, by name.

Each factory returns a fresh ``nn.Module`` (learnable ones such as PReLU and maxout own parameters, so
every layer gets its own instance). The formula is in each docstring; tests check it numerically.

>>> import torch, nbtrain as nt
>>> nt.activations.make("leaky_relu")(torch.tensor([-1.0, 2.0]))
tensor([-0.0100,  2.0000])
"""

from __future__ import annotations

import torch
from torch import nn

from .registry import Registry

registry = Registry("activation")
names = registry.names
make = registry.make


@registry.register("sigmoid", tags=("saturating",))
def sigmoid() -> nn.Module:
    """σ(x) = 1 / (1 + e^(−x)); saturates at 0 and 1, outputs not zero-centred."""
    return nn.Sigmoid()


@registry.register("tanh", tags=("saturating",))
def tanh() -> nn.Module:
    """tanh(x) = 2σ(2x) − 1; zero-centred, saturates at ±1."""
    return nn.Tanh()


@registry.register("relu", tags=("rectifier",))
def relu() -> nn.Module:
    """ReLU(x) = max(0, x); no saturation for x > 0, units can die (always 0)."""
    return nn.ReLU()


@registry.register("leaky_relu", tags=("rectifier",))
def leaky_relu(negative_slope: float = 0.01) -> nn.Module:
    """LeakyReLU(x) = x if x > 0 else 0.01·x; never fully dead."""
    return nn.LeakyReLU(negative_slope)


@registry.register("prelu", tags=("rectifier", "learnable"))
def prelu(init: float = 0.25) -> nn.Module:
    """PReLU(x) = x if x > 0 else a·x with a learned slope a (initially 0.25)."""
    return nn.PReLU(num_parameters=1, init=init)


@registry.register("elu", tags=("rectifier",))
def elu(alpha: float = 1.0) -> nn.Module:
    """ELU(x) = x if x > 0 else α(e^x − 1); mean activations closer to zero than ReLU."""
    return nn.ELU(alpha)


@registry.register("selu", tags=("rectifier",))
def selu() -> nn.Module:
    """SELU(x) = λ·(x if x > 0 else α(e^x − 1)), α ≈ 1.6733, λ ≈ 1.0507; self-normalising."""
    return nn.SELU()


@registry.register("gelu")
def gelu() -> nn.Module:
    """GELU(x) = x·Φ(x) with Φ the standard normal CDF (transformers' default)."""
    return nn.GELU()


@registry.register("silu", aliases=("swish",))
def silu() -> nn.Module:
    """SiLU(x) = x·σ(x) (a.k.a. swish)."""
    return nn.SiLU()


class Maxout(nn.Module):
    """f(z) = max_j (a_j·z + b_j), j = 1..k, per unit, with learnable slopes a and offsets b.

    This is maxout applied to each unit's pre-activation z = wᵀx + c: every piece shares the unit's
    weight direction, so the layer widths stay the same and maxout can be swapped in place in a running
    network (weights kept). With one unit it can learn any convex piecewise-linear function with k
    pieces; it starts as ReLU (slopes 0 and 1, further pieces spread between them, offsets 0).
    """

    def __init__(self, k: int = 2):
        super().__init__()
        if int(k) != k or k < 2:
            raise ValueError(f"maxout: k={k!r} must be an integer ≥ 2")
        self.k = int(k)
        self.slopes = nn.Parameter(torch.linspace(0.0, 1.0, self.k))
        self.offsets = nn.Parameter(torch.zeros(self.k))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (z.unsqueeze(-1) * self.slopes + self.offsets).amax(dim=-1)

    def extra_repr(self) -> str:
        return f"k={self.k}"


@registry.register("maxout", tags=("learnable",))
def maxout(k: int = 2) -> nn.Module:
    """Maxout with k pieces: f(z) = max_j (a_j z + b_j), learnable, starts as ReLU."""
    return Maxout(k)


@registry.register("identity", aliases=("linear", "none"))
def identity() -> nn.Module:
    """f(x) = x; a deep net of linear layers collapses to one linear map."""
    return nn.Identity()


def name_of(module: nn.Module) -> str | None:
    """Registry name of an activation module instance (``None`` when it is not one of ours)."""
    table = {
        nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu",
        nn.PReLU: "prelu", nn.ELU: "elu", nn.SELU: "selu", nn.GELU: "gelu", nn.SiLU: "silu",
        Maxout: "maxout", nn.Identity: "identity",
    }
    return table.get(type(module))


def saturation_kind(name: str) -> str:
    """How a unit of this activation is 'stuck': ``'saturated'`` (sigmoid/tanh), ``'dead'`` (ReLU) or ``''``."""
    name = registry.resolve(name)
    if name in ("sigmoid", "tanh"):
        return "saturated"
    if name == "relu":
        return "dead"
    return ""
