"""Regularizers: weight penalties by name, inverted dropout and DropConnect layers.

Penalties are functions of a model: ``make("elastic_net", l1=1e-4, l2=1e-4)(model)`` -> scalar tensor to add
to the loss. They act on weights (Linear/Conv ``weight`` tensors), not on biases or norm scales, as usual.

>>> import torch, nbtrain as nt
>>> lin = torch.nn.Linear(2, 1, bias=False); _ = torch.nn.init.ones_(lin.weight)
>>> float(nt.regularizers.make("l1", strength=0.5)(lin))
1.0
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import rng
from .registry import Registry

registry = Registry("regularizer")
names = registry.names

Penalty = Callable[[nn.Module], torch.Tensor]


def penalized_weights(model: nn.Module) -> list[torch.Tensor]:
    """The tensors weight penalties act on: weights of Linear/Conv layers (including DropConnect)."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d))]


def _check(name: str, value: float) -> float:
    if not (isinstance(value, (int, float)) and value >= 0 and value == value):
        raise ValueError(f"{name}={value!r} must be a number ≥ 0")
    return float(value)


@registry.register("l1")
def l1(strength: float = 1e-4) -> Penalty:
    """L1: λ·Σ|w| as a loss term (its subgradient λ·sign(w) is subtracted: weights shrink by a constant
    amount but rarely land exactly on 0; the trainer's default ``l1_mode="proximal"`` uses
    :func:`soft_threshold_` instead, which does give exact zeros)."""
    lam = _check("l1 strength", strength)
    return lambda model: lam * sum(w.abs().sum() for w in penalized_weights(model))


@registry.register("l2")
def l2(strength: float = 1e-4) -> Penalty:
    """L2: ½·λ·Σw² — its gradient λ·w is SGD's weight decay; prefers diffuse small weights."""
    lam = _check("l2 strength", strength)
    return lambda model: 0.5 * lam * sum(w.pow(2).sum() for w in penalized_weights(model))


@registry.register("elastic_net")
def elastic_net(l1: float = 1e-4, l2: float = 1e-4) -> Penalty:
    """Elastic net: λ₁·Σ|w| + ½·λ₂·Σw²."""
    a, b = _check("elastic_net l1", l1), _check("elastic_net l2", l2)
    return lambda model: sum(a * w.abs().sum() + 0.5 * b * w.pow(2).sum() for w in penalized_weights(model))


def make(name: str, **params) -> Penalty:
    return registry.make(name, **params)


def penalty(model: nn.Module, l1: float = 0.0, l2: float = 0.0) -> torch.Tensor | None:
    """λ₁·Σ|w| + ½·λ₂·Σw² over ``model``'s weights, or ``None`` when both strengths are 0 (no cost)."""
    if not l1 and not l2:
        return None
    if l1 and l2:
        return make("elastic_net", l1=l1, l2=l2)(model)
    return make("l1", strength=l1)(model) if l1 else make("l2", strength=l2)(model)


@torch.no_grad()
def soft_threshold_(weights, amount: float, count: bool = True) -> int | None:
    """Proximal step of λ·Σ|w| in place: w ← sign(w)·max(|w| − amount, 0), amount = lr·λ; returns #zeros
    (``count=False``: None, and no read of the weights back to the host — the training step's way).

    This is how L1 makes weights *exactly* zero: a subgradient step w − lr·λ·sign(w) only jumps across 0
    (it never lands on it), the proximal (soft-threshold) step sets every |w| ≤ lr·λ to 0.

    >>> w = torch.tensor([0.5, -0.05, 0.02, -2.0]); soft_threshold_([w], 0.1), w.tolist()
    (2, [0.4000000059604645, -0.0, 0.0, -1.899999976158142])
    """
    zeros = 0
    for w in weights:
        w.copy_(torch.sign(w) * torch.clamp(w.abs() - amount, min=0.0))
        if count:
            zeros += int((w == 0).sum())
    return zeros if count else None


def proximal_l1_(optimizer: torch.optim.Optimizer, model: nn.Module, l1: float, count: bool = False) -> None:
    """After ``optimizer.step()``: soft-threshold every penalised weight by its group's lr × ``l1``."""
    if not l1:
        return
    targets = {id(w) for w in penalized_weights(model)}
    for group in optimizer.param_groups:
        ws = [p for p in group["params"] if id(p) in targets]
        if ws:
            soft_threshold_(ws, group["lr"] * l1, count=count)


@torch.no_grad()
def max_norm_(model: nn.Module, c: float, count: bool = True) -> int | None:
    """Max-norm constraint in place: every unit's incoming weight vector w_i (a row of a Linear weight, one
    output channel of a Conv kernel) is projected back onto ‖w_i‖₂ ≤ c: w_i ← w_i·min(1, c/‖w_i‖).
    Returns how many units were clipped (``count=False``: None, and nothing is read back to the host — the
    training step's way). Applied after each optimizer step (``TrainConfig.max_norm``).

    >>> lin = torch.nn.Linear(2, 2); _ = lin.weight.data.copy_(torch.tensor([[3.0, 4.0], [0.3, 0.4]]))
    >>> max_norm_(lin, 1.0), lin.weight.tolist()
    (1, [[0.6000000238418579, 0.800000011920929], [0.30000001192092896, 0.4000000059604645]])
    """
    clipped = 0
    for w in penalized_weights(model):
        norms = torch.linalg.vector_norm(w.flatten(1), dim=1)
        over = norms > c
        if not count or bool(over.any()):  # rows within the bound are multiplied by exactly 1
            scale = torch.where(over, c / norms.clamp_min(1e-12), torch.ones_like(norms))
            w.mul_(scale.view(-1, *([1] * (w.dim() - 1))))
            if count:
                clipped += int(over.sum())
    return clipped if count else None


def _check_p(p: float) -> float:
    if not (isinstance(p, (int, float)) and 0.0 <= p < 1.0):
        raise ValueError(f"dropout p={p!r} must be in [0, 1)")
    return float(p)


class Dropout(nn.Dropout):
    """Inverted dropout: in training keep each unit with prob 1−p and scale by 1/(1−p); identity in eval.

    Same as ``torch.nn.Dropout`` but ``p`` is validated on every assignment, so a live change can
    never leave an invalid rate in a running model, and the mask comes from the run's own random stream
    (``rng.generator_for``: the training thread's trainer, or a tool's copy), never torch's global one.
    """

    def __setattr__(self, name, value):
        if name == "p":
            value = _check_p(value)
        super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rng.dropout(x, self.p, self.training)


def own_dropout(model: nn.Module) -> int:
    """Replace every plain ``torch.nn.Dropout`` of ``model`` by nbtrain's :class:`Dropout` (same rate; no
    parameters, so the state dict is unchanged), whose masks come from the run's stream. Returns how many."""
    count = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:
                setattr(parent, name, Dropout(child.p, inplace=child.inplace))
                count += 1
    return count


class DropConnectLinear(nn.Linear):
    """Linear layer with DropConnect: in training each *weight* is dropped with prob p (scaled 1/(1−p)).

    y = x·(M ⊙ W / (1−p))ᵀ + b, with a fresh Bernoulli(1−p) mask M per forward pass; eval uses W.
    The mask is drawn from ``generator`` when one is set (``layer.generator = g``), else from the run's stream
    (:func:`nbtrain.engine.rng.generator_for`, set by the training thread), else torch's global generator.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, p: float = 0.0):
        super().__init__(in_features, out_features, bias)
        self.p = _check_p(p)
        self.generator: torch.Generator | None = None

    def __setattr__(self, name, value):
        if name == "p":
            value = _check_p(value)
        super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return F.linear(x, self.weight, self.bias)
        return F.linear(x, rng.dropout(self.weight, self.p, generator=self.generator), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", p={self.p}"


class DropConnectConv2d(nn.Conv2d):
    """Conv2d with DropConnect: each kernel weight is dropped with prob p per forward pass (scaled 1/(1−p));
    masks drawn like :class:`DropConnectLinear`'s."""

    def __init__(self, *args, p: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.p = _check_p(p)
        self.generator: torch.Generator | None = None

    def __setattr__(self, name, value):
        if name == "p":
            value = _check_p(value)
        super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return self._conv_forward(x, self.weight, self.bias)
        return self._conv_forward(x, rng.dropout(self.weight, self.p, generator=self.generator), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", p={self.p}"


DROPCONNECT_TYPES = (DropConnectLinear, DropConnectConv2d)


def dropconnect_layers(model: nn.Module) -> list[nn.Module]:
    """Every DropConnect layer of ``model``."""
    return [m for m in model.modules() if isinstance(m, DROPCONNECT_TYPES)]
