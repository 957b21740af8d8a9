"""A search space: config fields mapped to dimensions, and the points a grid or a random search tries.

``choice(...)`` is a finite set, ``uniform(low, high)`` and ``loguniform(low, high)`` are ranges (learning
rates and weight decays span decades, so sample their exponent: log x ~ U(log low, log high)), ``randint``
an integer range. Plain values are fixed; a plain list is a choice. Reached as ``nt.search.choice`` etc.

>>> [p["lr"] for p in grid_points({"lr": loguniform(0.01, 1), "hidden": [8]}, points=3)]
[0.01, 0.1, 1.0]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import checks
from ..engine.config import ConfigError, TrainConfig

LIST_FIELDS = ("hidden",)

__all__ = ["choice", "uniform", "loguniform", "randint", "Choice", "Uniform", "LogUniform", "RandInt", "Dim",
           "normalize_space", "grid_points", "random_points"]


@dataclass(frozen=True)
class Choice:
    """One of a finite set of values, each equally likely; a grid tries them all."""

    values: tuple
    log = False

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def grid(self, points: int) -> list:
        return list(self.values)

    def bounds(self) -> list:
        return list(self.values)

    def __repr__(self) -> str:
        return f"choice({', '.join(map(repr, self.values))})"


@dataclass(frozen=True)
class Uniform:
    """x ~ U(low, high); a grid takes ``points`` evenly spaced values, ends included."""

    low: float
    high: float
    log = False

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def grid(self, points: int) -> list:
        return [float(v) for v in np.linspace(self.low, self.high, points)]

    def bounds(self) -> list:
        return [self.low, self.high]

    def __repr__(self) -> str:
        return f"uniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class LogUniform:
    """log x ~ U(log low, log high): every decade equally likely; a grid is geometric (ends included)."""

    low: float
    high: float
    log = True

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def grid(self, points: int) -> list:
        return [float(v) for v in np.geomspace(self.low, self.high, points)]

    def bounds(self) -> list:
        return [self.low, self.high]

    def __repr__(self) -> str:
        return f"loguniform({self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class RandInt:
    """An integer uniform on {low, …, high} (both included); a grid takes ``points`` evenly spaced integers."""

    low: int
    high: int
    log = False

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def grid(self, points: int) -> list:
        return sorted({int(round(v)) for v in np.linspace(self.low, self.high, points)})

    def bounds(self) -> list:
        return [self.low, self.high]

    def __repr__(self) -> str:
        return f"randint({self.low}, {self.high})"


Dim = Choice | Uniform | LogUniform | RandInt


def _finite(name: str, x: Any) -> float:
    return checks.check_float(name, x, None, None)


def choice(*values: Any) -> Choice:
    """Pick one of ``values``. ``choice(0.0, 1e-5, 1e-4)``; ``choice([1, 2])`` also works (one list = the values).

    For a list-valued field give lists: ``choice([64], [64, 64])`` (hidden layer widths).

    >>> choice(0.0, 1e-4).grid(3)
    [0.0, 0.0001]
    """
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = tuple(values[0])
    if not values:
        raise ValueError("choice() needs at least one value")
    return Choice(tuple(values))


def uniform(low: float, high: float) -> Uniform:
    """Uniform on [low, high]. ``uniform(0.0, 0.5)`` for a dropout rate.

    >>> uniform(0, 1).grid(3)
    [0.0, 0.5, 1.0]
    """
    low, high = _finite("uniform low", low), _finite("uniform high", high)
    if not low < high:
        raise ValueError(f"uniform(low={low:g}, high={high:g}): low must be < high")
    return Uniform(low, high)


def loguniform(low: float, high: float) -> LogUniform:
    """Log-uniform on [low, high], both > 0: the exponent is uniform. ``loguniform(1e-4, 1e-1)`` for lr.

    >>> loguniform(1e-3, 1e-1).grid(3)
    [0.001, 0.01, 0.1]
    """
    low, high = _finite("loguniform low", low), _finite("loguniform high", high)
    if not 0 < low < high:
        raise ValueError(f"loguniform(low={low:g}, high={high:g}): need 0 < low < high")
    return LogUniform(low, high)


def randint(low: int, high: int) -> RandInt:
    """Integer uniform on {low, …, high}, both included. ``randint(16, 256)`` for a batch size.

    >>> randint(1, 3).grid(3)
    [1, 2, 3]
    """
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (low, high)) or not low <= high:
        raise ValueError(f"randint(low={low!r}, high={high!r}): need integers with low ≤ high")
    return RandInt(int(low), int(high))


def _as_dim(name: str, value: Any) -> Dim:
    if isinstance(value, (Choice, Uniform, LogUniform, RandInt)):
        return value
    if isinstance(value, (list, tuple)):
        if name in LIST_FIELDS and all(isinstance(v, (int, np.integer)) for v in value):
            return Choice((list(value),))  # hidden=[64, 64] is one fixed architecture
        return choice(*value) if value else choice()
    return Choice((value,))


_INT_FIELDS = {n for n, t in TrainConfig.class_traits().items() if type(t).__name__ == "Int"}


def _coerce(name: str, value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if name in _INT_FIELDS and isinstance(value, float) and value is not None:
        return int(round(value))
    return value


def normalize_space(space: Mapping[str, Any]) -> dict[str, Dim]:
    """Turn a user's space into ``{field: dimension}``, checking every field name and every bound.

    >>> normalize_space({"lr": loguniform(1e-3, 1), "hidden": [64, 64]})["hidden"]
    choice([64, 64])
    """
    if not isinstance(space, Mapping) or not space:
        raise ValueError(f"space must be a non-empty dict of config fields to dimensions, got {space!r}")
    fields = TrainConfig.field_names()
    unknown = sorted(set(space) - set(fields))
    if unknown:
        raise ConfigError(f"search space has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(fields)}")
    dims = {name: _as_dim(name, v) for name, v in space.items()}
    for name, dim in dims.items():
        for v in dim.bounds():
            try:
                TrainConfig(**{name: _coerce(name, v)})
            except ConfigError as exc:
                raise ConfigError(f"search space {name}={dim!r} reaches a value that is not allowed: {exc}") from None
    return dims


def grid_points(space: Mapping[str, Any], points: int = 3) -> list[dict[str, Any]]:
    """Every combination of the space's grid values (continuous dimensions take ``points`` values).

    >>> [p["lr"] for p in grid_points({"lr": loguniform(0.01, 1)}, points=3)]
    [0.01, 0.1, 1.0]
    """
    if isinstance(points, bool) or not isinstance(points, int) or points < 1:
        raise ValueError(f"points={points!r} must be an integer ≥ 1 (values per continuous dimension)")
    dims = normalize_space(space)
    names = list(dims)
    return [{n: _coerce(n, v) for n, v in zip(names, combo)}
            for combo in itertools.product(*(dims[n].grid(points) for n in names))]


def random_points(space: Mapping[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` independent draws from the space, reproducible by ``seed``.

    >>> a = random_points({"lr": loguniform(1e-4, 1)}, 3, seed=1); a == random_points({"lr": loguniform(1e-4, 1)}, 3, seed=1)
    True
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be an integer ≥ 1 (number of trials)")
    dims = normalize_space(space)
    rng = np.random.default_rng(seed)
    return [{name: _coerce(name, dim.sample(rng)) for name, dim in dims.items()} for _ in range(n)]
