"""Activation functions, by name.

Each factory returns a fresh ``nn.Module`` (learnable ones such as PReLU and maxout own parameters, so
every layer gets its own instance). Maxout is the one that is not pointwise: it maxes over affine maps of
the layer's input (tag ``"layer"``; :func:`pointwise_names` lists the others). The formula is in each docstring; tests check it numerically.

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
    """SELU(x) = λ·(x if x > 0 else α(e^x − 1)), α ≈ 1.6733, λ ≈ 1.0507; range (−λα, ∞) ≈ (−1.758, ∞);
    self-normalising."""
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
    """Maxout (Goodfellow et al., 2013): h_i(x) = max_j (w_ijᵀx + b_ij), j = 1..k, a max over k affine maps
    of the layer's *input* x, per unit i.

    In an nbtrain block the layer's own map (Wx + b, batch-normed when batch-norm is on) is piece 1, and
    this module owns the other k − 1 pieces: copies of that layer (same shape and kind, fresh weights), made
    by :meth:`bind`. So maxout adds (k − 1)× the layer's parameters: swapping it in keeps every existing
    weight and hands the new ones to the optimizer (``models.set_activation`` returns them). It is not a
    function of the pre-activation alone: ``forward(z, x)`` needs the layer's input too.
    """

    takes_input = True

    def __init__(self, k: int = 2):
        super().__init__()
        if isinstance(k, bool) or int(k) != k or k < 2:
            raise ValueError(f"maxout: k={k!r} must be an integer ≥ 2")
        self.k = int(k)
        self.pieces = nn.ModuleList()  # k − 1 affine maps of the input, set by bind()
        self.norms = nn.ModuleList()  # their batch-norms (used when the block normalises)

    @property
    def bound(self) -> bool:
        return len(self.pieces) == self.k - 1

    def bind(self, layer: nn.Module, norm: nn.Module | None = None) -> Maxout:
        """Create the k − 1 extra pieces as fresh copies of ``layer`` (and of ``norm``)."""
        import copy

        pieces, norms = [], []
        for _ in range(self.k - 1):
            piece = copy.deepcopy(layer)
            piece.reset_parameters()
            pieces.append(piece)
            if norm is not None:
                nm = copy.deepcopy(norm)
                nm.reset_parameters()
                norms.append(nm)
        self.pieces, self.norms = nn.ModuleList(pieces), nn.ModuleList(norms)
        return self

    def forward(self, z: torch.Tensor, x: torch.Tensor | None = None, use_norm: bool = False) -> torch.Tensor:
        if x is None or not self.bound:
            raise RuntimeError("maxout is a max over k affine maps of the layer's input, not a function of one "
                               "pre-activation: use it inside nbtrain's models (Block), or bind(layer) it and "
                               "call maxout(layer(x), x)")
        outs = [z]
        for j, piece in enumerate(self.pieces):
            y = piece(x)
            outs.append(self.norms[j](y) if use_norm and len(self.norms) > j else y)
        return torch.stack(outs).amax(dim=0)

    def extra_repr(self) -> str:
        return f"k={self.k}"


@registry.register("maxout", tags=("learnable", "layer"))
def maxout(k: int = 2) -> nn.Module:
    """Maxout: h_i(x) = max over k affine maps w_ijᵀx + b_ij of the input, per unit (adds k − 1 pieces)."""
    return Maxout(k)


def pointwise_names() -> list[str]:
    """Activations that are functions of one pre-activation value (what curve/1-D demos can plot)."""
    return [n for n in names() if "layer" not in registry.get(n).tags]


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
