"""The machinery of :mod:`nbtrain.engine.schedules`: the registry, :class:`Schedule`, warm-up, ``make``,
UI hints (:class:`ParamSpec`, :func:`param_specs`) and the parameter checks every schedule uses."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple, NoReturn

import numpy as np

from ..registry import Registry

registry = Registry("schedule")
names = registry.names


class ParamSpec(NamedTuple):
    """UI hint for one parameter: its default, slider range and kind.

    ``kind`` is "float", "log" (log-scaled float), "int", "bool", "choice" (one of ``choices``), "list" or
    "callable". Until :func:`param_specs` gets ``base_lr`` and ``total_steps``, ``low``/``high`` may be the
    strings "base_lr" / "total_steps" and a derived ``default`` is ``None``.
    """

    default: Any
    low: float | str | None = None
    high: float | str | None = None
    kind: str = "float"
    choices: tuple[str, ...] = ()


_SPECS: dict[str, dict[str, ParamSpec]] = {}
_WARMUP_SPECS = {
    "warmup_steps": ParamSpec(0, 0, "total_steps", "int"),
    "warmup_start_factor": ParamSpec(0.0, 0.0, 1.0, "float"),
}


def _register(name: str, *, aliases: tuple[str, ...] = (), tags: tuple[str, ...] = (), **specs: ParamSpec):
    """Register a factory under ``name`` together with its parameters' UI hints."""

    def deco(fn: Callable[..., Schedule]) -> Callable[..., Schedule]:
        registry.register(name, aliases=aliases, tags=tags)(fn)
        _SPECS[name] = specs
        return fn

    return deco


# --------------------------------------------------------------------------------------------------------------
# Schedule objects


class Schedule:
    """lr as a function of the global step: ``schedule(step) -> float``, ``schedule.curve(n) -> np.ndarray``.

    Built by :func:`make`; holds ``name``, ``base_lr``, ``total_steps``, ``params`` and a module-level,
    vectorised formula ``formula(t, base_lr, total_steps, **params)``.

    >>> s = make("step", 0.1, 100, step_size=10, gamma=0.5)
    >>> s(9), s(10), s.name, s.params
    (0.1, 0.05, 'step', {'step_size': 10, 'gamma': 0.5})
    """

    def __init__(self, name: str, formula: Callable[..., np.ndarray], base_lr: float, total_steps: int,
                 params: dict[str, Any]):
        self.name = name
        self.base_lr = float(base_lr)
        self.total_steps = int(total_steps)
        self.params = dict(params)
        self._formula = formula

    def _lr(self, t: np.ndarray) -> np.ndarray:
        return self._formula(t, self.base_lr, self.total_steps, **self.params)

    def __call__(self, step: int) -> float:
        if isinstance(step, bool) or not isinstance(step, numbers.Real) or not (math.isfinite(step) and step >= 0):
            raise ValueError(f"schedule {self.name!r}: step={step!r} must be a number ≥ 0")
        return float(self._lr(np.array([step], dtype=float))[0])

    def curve(self, steps: int | Iterable[int] | None = None) -> np.ndarray:
        """lrs at steps 0..steps−1 (an int), at the given steps (a sequence), or at 0..T−1 (None).

        >>> make("linear", 1.0, 4).curve()
        array([1.  , 0.75, 0.5 , 0.25])
        """
        if steps is None:
            t = np.arange(self.total_steps, dtype=float)
        elif isinstance(steps, numbers.Integral):
            t = np.arange(int(steps), dtype=float)
        else:
            t = np.asarray(list(steps) if not isinstance(steps, np.ndarray) else steps, dtype=float)
        if t.size and not (np.isfinite(t).all() and t.min() >= 0):
            raise ValueError(f"schedule {self.name!r}: steps must be finite and ≥ 0, got min {t.min()!r}")
        return np.asarray(self._lr(t), dtype=float)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable params

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({self.name!r}, base_lr={self.base_lr!r}, total_steps={self.total_steps}{params})"


class Warmup(Schedule):
    """``inner`` times a linear ramp: lr(t) = inner(t)·(s + (1 − s)·min(t, w)/w); see :func:`warmup`."""

    def __init__(self, inner: Schedule, warmup_steps: int, start_factor: float = 0.0):
        self.name = inner.name
        self.base_lr = inner.base_lr
        self.total_steps = inner.total_steps
        self.params = {**inner.params, "warmup_steps": warmup_steps, "warmup_start_factor": start_factor}
        self.inner = inner
        self.warmup_steps = warmup_steps
        self.start_factor = start_factor

    def _lr(self, t: np.ndarray) -> np.ndarray:
        w, s = self.warmup_steps, self.start_factor
        return self.inner._lr(t) * (s + (1.0 - s) * np.minimum(t, w) / w)


def warmup(schedule: Schedule, warmup_steps: int, start_factor: float = 0.0) -> Schedule:
    """Linear warm-up: lr(t) = schedule(t)·(s + (1 − s)·min(t, w)/w), w = warmup_steps, s = start_factor.

    The ramp multiplies the schedule (like torch's LinearLR chained with it), so the global step and T are
    unchanged and the join at t = w is continuous. With s = 0 the first step's lr is 0. ``warmup_steps=0``
    returns ``schedule`` itself. ``make(..., warmup_steps=w, warmup_start_factor=s)`` does the same.

    >>> s = warmup(make("constant", 0.1, 100), 10)
    >>> s(0), s(5), s(10), s(50)
    (0.0, 0.05, 0.1, 0.1)
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"warmup: schedule must be a Schedule (from make), got {type(schedule).__name__}")
    w = _int(schedule.name, "warmup_steps", warmup_steps, 0)
    s = _real(schedule.name, "start_factor", start_factor, 0.0, 1.0)
    return Warmup(schedule, w, s) if w else schedule


def make(name: str, base_lr: float, total_steps: int, *, warmup_steps: int = 0, warmup_start_factor: float = 0.0,
         **params: Any) -> Schedule:
    """Build schedule ``name`` (an alias is fine); unknown names and parameters are errors listing the choices.

    ``warmup_steps`` > 0 wraps the result in a linear warm-up (:func:`warmup`) for any schedule.

    >>> make("exponential", 0.1, 1000, decay_rate=0.5, decay_steps=100, staircase=True)(250)
    0.025
    >>> make("cosine", 0.1, 1000, warmup_steps=100)(50) < make("cosine", 0.1, 1000)(50)
    True
    """
    schedule = registry.make(name, base_lr, total_steps, **params)
    _int(schedule.name, "warmup_steps", warmup_steps, 0)
    _real(schedule.name, "warmup_start_factor", warmup_start_factor, 0.0, 1.0)
    return warmup(schedule, warmup_steps, warmup_start_factor)


def param_specs(name: str, base_lr: float | None = None, total_steps: int | None = None) -> dict[str, ParamSpec]:
    """Each parameter of schedule ``name`` (plus ``warmup_steps``, ``warmup_start_factor``) -> :class:`ParamSpec`.

    Given ``base_lr`` and ``total_steps``, derived defaults (``None``) and the symbolic bounds "base_lr" /
    "total_steps" are resolved to numbers.

    >>> param_specs("step")["gamma"]
    ParamSpec(default=0.1, low=0.001, high=1.0, kind='log', choices=())
    >>> param_specs("step", 0.1, 1000)["step_size"]
    ParamSpec(default=334, low=1, high=1000, kind='int', choices=())
    """
    key = registry.resolve(name)
    specs = {**(_SPECS[key] if key in _SPECS else _specs_from_signature(key)), **_WARMUP_SPECS}
    if base_lr is None or total_steps is None:
        return specs
    resolved = make(key, base_lr, total_steps).params
    bounds = {"base_lr": float(base_lr), "total_steps": int(total_steps)}
    return {
        p: sp._replace(
            default=resolved.get(p) if sp.default is None else sp.default,
            low=bounds.get(sp.low, sp.low) if isinstance(sp.low, str) else sp.low,
            high=bounds.get(sp.high, sp.high) if isinstance(sp.high, str) else sp.high,
        )
        for p, sp in specs.items()
    }


def _specs_from_signature(key: str) -> dict[str, ParamSpec]:
    """Specs for a schedule registered directly on ``registry`` (no UI hints): kinds from its keyword
    parameters' defaults, no bounds."""
    kinds = {bool: "bool", int: "int", float: "float"}
    return {
        p: ParamSpec(d, None, None, kinds.get(type(d), "callable" if callable(d) else "float"))
        for p, d in registry.get(key).params.items()
        if p not in ("base_lr", "total_steps") and d is not inspect.Parameter.empty
    }


# --------------------------------------------------------------------------------------------------------------
# Validation: every error names the schedule, the parameter, its value and what is allowed.


def _fail(sched: str, param: str, value: Any, rule: str) -> NoReturn:
    raise ValueError(f"schedule {sched!r}: {param}={value!r} must be {rule}")


def _real(sched: str, param: str, value: Any, lo: float | None = None, hi: float | None = None, *,
          lo_open: bool = False, hi_open: bool = False) -> float:
    if lo is not None and hi is not None:
        rule = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    elif lo is not None:
        rule = f"{'>' if lo_open else '≥'} {lo:g}"
    else:
        rule = "finite"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        _fail(sched, param, value, f"a finite number {rule}" if lo is not None else "a finite number")
    v = float(value)
    if lo is not None and (v <= lo if lo_open else v < lo):
        _fail(sched, param, value, rule)
    if hi is not None and (v >= hi if hi_open else v > hi):
        _fail(sched, param, value, rule)
    return v


def _int(sched: str, param: str, value: Any, lo: int = 1) -> int:
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))) or (
        isinstance(value, float) and value.is_integer()
    )
    if not ok or value < lo:
        _fail(sched, param, value, f"an integer ≥ {lo}")
    return int(value)


def _bool(sched: str, param: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        _fail(sched, param, value, "True or False")
    return bool(value)


def _choice(sched: str, param: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        _fail(sched, param, value, "one of " + ", ".join(map(repr, choices)))
    return value


def _base(sched: str, base_lr: Any, total_steps: Any) -> tuple[float, int]:
    return _real(sched, "base_lr", base_lr, 0.0, lo_open=True), _int(sched, "total_steps", total_steps, 1)


def _default_steps(value: Any, default: int) -> Any:
    """``value``, or ``default`` (at least 1) when it is None."""
    return max(1, default) if value is None else value
