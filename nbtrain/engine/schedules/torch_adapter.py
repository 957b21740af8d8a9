"""Driving a torch optimizer from a schedule: :func:`attach` (a torch ``LRScheduler``, ``ScheduleLR``) and
:func:`set_lr`. torch is imported on first use so that previews (``Schedule.curve``) stay cheap."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .base import _int, make  # noqa: F401  (make: the examples below build schedules by name)

if TYPE_CHECKING:  # pragma: no cover
    import torch

_schedule_lr_class: type | None = None


def _scheduler_class() -> type:
    global _schedule_lr_class
    if _schedule_lr_class is None:
        from torch.optim.lr_scheduler import LRScheduler

        class ScheduleLR(LRScheduler):
            """A torch LRScheduler whose lr is ``schedule(step)``; ``scheduler.step()`` advances the global step.

            Group i gets schedule(step)·lr_i/lr_0, with the groups' lrs taken when attached (all 1 if equal).
            ``scheduler.schedule`` may be replaced between steps; it is not part of ``state_dict()``.
            """

            def __init__(self, optimizer: torch.optim.Optimizer, schedule: Callable[[int], float],
                         start_step: int = 0):
                start = _int(getattr(schedule, "name", "attach"), "start_step", start_step, 0)
                self.schedule = schedule
                lrs = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
                self.multipliers = [x / lrs[0] if lrs[0] > 0 else 1.0 for x in lrs]
                if start > 0:  # torch resumes from 'initial_lr'
                    for g in optimizer.param_groups:
                        g.setdefault("initial_lr", g["lr"])
                super().__init__(optimizer, last_epoch=start - 1)

            def get_lr(self) -> list[float]:
                lr = float(self.schedule(self.last_epoch))
                return [lr * m for m in self.multipliers]

            def state_dict(self) -> dict[str, Any]:
                return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "schedule")}

        ScheduleLR.__qualname__ = "ScheduleLR"
        _schedule_lr_class = ScheduleLR
    return _schedule_lr_class


def __getattr__(name: str) -> Any:
    if name == "ScheduleLR":
        return _scheduler_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def attach(optimizer: torch.optim.Optimizer, schedule: Callable[[int], float],
           start_step: int = 0) -> torch.optim.lr_scheduler.LRScheduler:
    """Drive ``optimizer``'s lr from ``schedule``: sets lr = schedule(start_step) now, then each
    ``scheduler.step()`` moves to the next global step. Extra param groups keep their lr ratio to group 0.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> opt = torch.optim.SGD([w], lr=1.0)
    >>> sched = attach(opt, make("step", 0.1, 100, step_size=1, gamma=0.5))
    >>> opt.step(); sched.step(); opt.param_groups[0]["lr"]
    0.05
    """
    return _scheduler_class()(optimizer, schedule, start_step)


def set_lr(optimizer: torch.optim.Optimizer, lr: float | Sequence[float]) -> None:
    """Set every param group's lr to ``lr``, or group i's to ``lr[i]`` for a sequence.

    >>> import torch
    >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> set_lr(opt, 0.01); opt.param_groups[0]["lr"]
    0.01
    """
    groups = optimizer.param_groups
    lrs = [lr] * len(groups) if isinstance(lr, numbers.Real) else list(lr)
    if len(lrs) != len(groups):
        raise ValueError(f"set_lr: got {len(lrs)} lrs for {len(groups)} param groups")
    for group, value in zip(groups, lrs):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"set_lr: lr={value!r} must be a finite number ≥ 0")
        if hasattr(group["lr"], "fill_"):  # a tensor lr: update in place, as torch's schedulers do
            group["lr"].fill_(float(value))
        else:
            group["lr"] = float(value)
