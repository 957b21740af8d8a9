"""Optimizers, by name: ``make(name, params, lr, weight_decay=None, **hyper)`` -> ``torch.optim.Optimizer``.

Update rules (g = gradient, η = lr) are in each docstring; hyper-parameters a factory does not know are
rejected with the list of those it does. Every factory builds the torch optimizer named in its docstring
with torch's defaults (docs/reference.md has the mapping); ``weight_decay=None`` keeps the optimizer's own
default: 0.01 for ``adamw`` (as ``torch.optim.AdamW``), 0 for the others. ``TrainConfig.weight_decay``
is a number (default 0 for every optimizer): a Trainer with ``optimizer="adamw"`` decays only once
``weight_decay`` is set, until then it is Adam.

>>> import torch, nbtrain as nt
>>> w = torch.nn.Parameter(torch.zeros(3))
>>> type(nt.optimizers.make("nesterov", [w], lr=0.1)).__name__
'SGD'
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .registry import Registry

registry = Registry("optimizer")
names = registry.names

Params = Iterable[torch.nn.Parameter] | Iterable[dict]


@registry.register("sgd")
def sgd(params: Params, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Plain SGD: w ← w − η·g."""
    return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)


@registry.register("momentum")
def momentum(params: Params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> torch.optim.Optimizer:
    """SGD with momentum μ: v ← μ·v + g; w ← w − η·v."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


@registry.register("nesterov")
def nesterov(params: Params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> torch.optim.Optimizer:
    """Nesterov momentum: v ← μ·v + g; w ← w − η·(g + μ·v) (look-ahead gradient)."""
    return torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)


@registry.register("adagrad")
def adagrad(params: Params, lr: float, weight_decay: float = 0.0, eps: float = 1e-10) -> torch.optim.Optimizer:
    """Adagrad: G ← G + g²; w ← w − η·g/(√G + ε) (per-parameter rates that only shrink)."""
    return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay, eps=eps)


@registry.register("rmsprop")
def rmsprop(params: Params, lr: float, weight_decay: float = 0.0, alpha: float = 0.99, eps: float = 1e-8) -> torch.optim.Optimizer:
    """RMSprop: s ← α·s + (1−α)·g²; w ← w − η·g/(√s + ε) (leaky Adagrad)."""
    return torch.optim.RMSprop(params, lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay)


@registry.register("adadelta")
def adadelta(params: Params, lr: float, weight_decay: float = 0.0, rho: float = 0.9, eps: float = 1e-6) -> torch.optim.Optimizer:
    """AdaDelta: s ← ρs + (1−ρ)g²; Δ = √(u+ε)/√(s+ε)·g; u ← ρu + (1−ρ)Δ²; w ← w − η·Δ (η≈1 is usual)."""
    return torch.optim.Adadelta(params, lr=lr, rho=rho, eps=eps, weight_decay=weight_decay)


@registry.register("adam")
def adam(params: Params, lr: float, weight_decay: float = 0.0, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> torch.optim.Optimizer:
    """Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; w ← w − η·m̂/(√v̂ + ε) with bias-corrected m̂, v̂."""
    return torch.optim.Adam(params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)


@registry.register("adamw")
def adamw(params: Params, lr: float, weight_decay: float = 0.01, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> torch.optim.Optimizer:
    """AdamW: Adam with decoupled weight decay: w ← w − η·(m̂/(√v̂ + ε) + λ·w); λ = 0.01 by default (torch's)."""
    return torch.optim.AdamW(params, lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)


def make(name: str, params: Params, lr: float, weight_decay: float | None = None, **hyper) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over ``params``; errors name the bad value and the allowed range.

    ``weight_decay=None``: the optimizer's default (0.01 for adamw, like torch; 0 otherwise).
    """
    if not lr > 0:
        raise ValueError(f"optimizer lr={lr!r} must be > 0")
    if weight_decay is None:
        return registry.make(name, params, lr=lr, **hyper)
    if not weight_decay >= 0:
        raise ValueError(f"optimizer weight_decay={weight_decay!r} must be ≥ 0")
    return registry.make(name, params, lr=lr, weight_decay=weight_decay, **hyper)
