"""Value checks: is an argument a number, an integer, inside a range, one of a few choices?

Each ``check_*`` returns the value as a plain Python ``int``/``float`` (or the choice) or raises
``ValueError`` naming the argument, its value and what is allowed. :class:`Range` is the test and the words
behind the numeric checks; ``TrainConfig`` uses it for its fields ("must be a number > 0 and ≤ 100").

Two wordings, both read by code and tests:

- ``check_int``, ``check_float``, ``check_choice``, ``check_seed`` (the demos, augmentation options):
  ``lr=-1.0 must be a number in (0, 10]``;
- ``check_int_at_least``, ``check_nonneg``, ``refuse`` (the datasets' and ``load_data``'s arguments):
  ``noise must be a finite number >= 0, got -1.0``.

>>> check_int("steps", 10, 1, 100_000), check_float("lr", 0.5, 0.0, 10.0, lo_open=True)
(10, 0.5)
>>> check_float("lr", -1.0, 0.0, 10.0, lo_open=True)
Traceback (most recent call last):
...
ValueError: lr=-1.0 must be a number in (0, 10]
>>> 0.5 in Range(0, 1, hi_open=True), Range(0, 100, lo_open=True).words()
(True, 'a number > 0 and ≤ 100')
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, NoReturn

# ---- what counts as a number ----------------------------------------------------------------------------


def is_real(x: Any) -> bool:
    """A Python ``int`` or ``float`` (numpy's float64 is one), not a ``bool``; nan and ±inf included."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_finite(x: Any) -> bool:
    """:func:`is_real` and neither nan nor ±inf."""
    return is_real(x) and math.isfinite(x)


@dataclass(frozen=True)
class Range:
    """Finite numbers from ``lo`` to ``hi`` (either may be None: unbounded), ends closed unless ``*_open``;
    ``integer``: integral values only (3 and 3.0, not 2.5). ``x in r`` tests a value; ``words()`` and
    ``describe()`` say what is allowed.

    >>> r = Range(1, 50, integer=True); 3 in r, 3.0 in r, 2.5 in r, True in r, r.describe()
    (True, True, False, False, 'an integer in [1, 50]')
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def __contains__(self, x: Any) -> bool:
        if not is_finite(x) or (self.integer and int(x) != x):
            return False
        if self.lo is not None and (x <= self.lo if self.lo_open else x < self.lo):
            return False
        if self.hi is not None and (x >= self.hi if self.hi_open else x > self.hi):
            return False
        return True

    @property
    def kind(self) -> str:
        return "an integer" if self.integer else "a number"

    def words(self) -> str:
        """The range as comparisons, bounds written with ``:g``: ``"a number > 0 and ≤ 100"``."""
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '≥'} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '≤'} {self.hi:g}")
        return f"{self.kind} " + " and ".join(parts)

    def _bound(self, v: float) -> str:
        return str(int(v)) if self.integer else f"{v:g}"

    def describe(self) -> str:
        """Two bounds as an interval, one as a comparison: ``"an integer in [1, 50]"``, ``"a number in (0, 1)"``,
        ``"an integer ≥ 0"``, ``"a finite number > 0"`` (a finite bound-less side is worth saying)."""
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            return f"{self.kind} in {left}{self._bound(self.lo)}, {self._bound(self.hi)}{right}"
        kind = self.kind if self.integer else "a finite number"
        if self.lo is not None:
            return f"{kind} {'>' if self.lo_open else '≥'} {self._bound(self.lo)}"
        if self.hi is not None:
            return f"{kind} {'<' if self.hi_open else '≤'} {self._bound(self.hi)}"
        return kind


# ---- "name=value must be ..." -----------------------------------------------------------------------------


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """``value`` as an int in ``[lo, hi]`` (``≥ lo`` when ``hi`` is None; 3.0 counts as 3), else ``ValueError``
    naming it and the range."""
    allowed = Range(lo, hi, integer=True)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} must be {allowed.describe()}")
    return int(value)


def check_float(name: str, value: Any, lo: float | None, hi: float | None, *, lo_open: bool = False) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``; no upper bound when ``hi``
    is None), else ``ValueError``."""
    allowed = Range(lo, hi, lo_open=lo_open)
    if value not in allowed:
        raise ValueError(f"{name}={value!r} must be {allowed.describe()}")
    return float(value)


def check_choice(name: str, value: Any, allowed: list[str] | tuple[str, ...]) -> Any:
    """``value`` if it is one of ``allowed``, else ``ValueError`` listing the choices."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}")
    return value


def check_seed(seed: Any) -> int:
    """A seed is an integer in [0, 2**32 − 1]."""
    return check_int("seed", seed, 0, 2**32 - 1)


# ---- "name must be ..., got value" (datasets and load_data) -----------------------------------------------


def refuse(name: str, value: Any, allowed: str) -> NoReturn:
    """Raise ``ValueError("{name} must be {allowed}, got {value!r}")``."""
    raise ValueError(f"{name} must be {allowed}, got {value!r}")


def check_int_at_least(name: str, value: Any, low: int, *, low_text: str | None = None) -> int:
    """``value`` as an int ≥ ``low``; only an integer type counts (Python's or numpy's: 3.0 and True do not).
    ``low_text`` says what the bound is (``"the number of classes (3)"``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        refuse(name, value, f"an int >= {low_text or low}")
    return int(value)


def check_nonneg(name: str, value: Any) -> float:
    """``value`` (a Python or numpy number, not a bool) as a finite float ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        refuse(name, value, "a number >= 0")
    if not value >= 0 or not math.isfinite(value):
        refuse(name, value, "a finite number >= 0")
    return float(value)
