"""Learning-rate schedules, by name: ``make(name, base_lr, total_steps, **params)`` -> :class:`Schedule`.

A schedule is a pure, deterministic function of the global step: ``schedule(t) -> lr`` for t = 0, 1, 2, …
(the lr used by update number t). In the formulas lr = ``base_lr`` and T = ``total_steps``.

Conventions (docs/reference.md maps every schedule to torch.optim.lr_scheduler and Keras/TF)
- Decaying schedules hold their final value for t ≥ T: they evaluate f(min(t, T)). This is nbtrain's rule
  for all of them (``polynomial``, ``cosine`` and the linear-cosines clamp at their ``decay_steps``, T by
  default). Keras/TF do the same only for PolynomialDecay, CosineDecay and the linear-cosines; their
  ExponentialDecay / InverseTimeDecay / natural_exp_decay, and torch's StepLR / ExponentialLR, keep
  decaying after T, and torch's CosineAnnealingLR rises again after T_max. ``one_cycle`` holds its minimum
  where torch's OneCycleLR refuses to step past ``total_steps``. The periodic ones (``cyclic``, ``sgdr``,
  ``polynomial`` with ``cycle=True``) keep cycling; ``lambda`` is whatever ``fn`` says.
- ``piecewise`` switches at the boundary step itself (torch's MultiStepLR); Keras's PiecewiseConstantDecay
  switches one step later (its value at step b is still the previous one).
- In a Trainer, t counts from the step the schedule was chosen at (0 unless it was changed mid-run).
- Every schedule works with defaults only; a parameter whose default is ``None`` is derived from T (or lr) and
  its resolved value is in ``schedule.params``, so ``make(s.name, s.base_lr, s.total_steps, **s.params)``
  rebuilds ``s``.
- ``make`` also takes ``warmup_steps`` and ``warmup_start_factor`` for every schedule (see :func:`warmup`).
- A schedule holds only numbers and module-level functions, so it pickles (``lambda`` only if its ``fn`` does).
- :func:`attach` drives a torch optimizer from a schedule; :func:`param_specs` gives UI slider hints.

The machinery (registry, :class:`Schedule`, warm-up, checks) is in :mod:`.base`, the formulas in :mod:`.formulas`,
the torch adapter in :mod:`.torch_adapter`.

>>> s = make("cosine", 0.1, 100, alpha=0.1)
>>> [round(s(t), 4) for t in (0, 50, 100, 1000)]
[0.1, 0.055, 0.01, 0.01]
>>> s.curve(3).round(6)  # vectorised, for previews: steps 0, 1, 2
array([0.1     , 0.099978, 0.099911])
"""

from __future__ import annotations

from typing import Any

from . import formulas  # noqa: F401  (registers the schedules)
from .base import ParamSpec, Schedule, Warmup, make, names, param_specs, registry, warmup
from .formulas import (  # noqa: F401  (each factory stays reachable as schedules.<name>)
    constant,
    cosine,
    cyclic,
    exponential,
    inverse_sqrt,
    inverse_time,
    lambda_,
    linear,
    linear_cosine,
    natural_exp,
    noisy_linear_cosine,
    one_cycle,
    piecewise,
    polynomial,
    sgdr,
    step,
)
from .torch_adapter import _scheduler_class, attach, set_lr

__all__ = [
    "ParamSpec",
    "Schedule",
    "Warmup",
    "attach",
    "make",
    "names",
    "param_specs",
    "registry",
    "set_lr",
    "warmup",
]


def __getattr__(name: str) -> Any:
    if name == "ScheduleLR":  # built on first use: importing torch's lr_scheduler is not free
        return _scheduler_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
