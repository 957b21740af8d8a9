"""Argument checks shared by the demos: every error names the parameter, the bad value and what is allowed."""

from __future__ import annotations

import math
from typing import Any


def check_int(name: str, value: Any, lo: int, hi: int) -> int:
    """``value`` as an int in ``[lo, hi]``, else ``ValueError`` naming it and the range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} must be an integer in [{lo}, {hi}]")
    return int(value)


def check_float(name: str, value: Any, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """``value`` as a finite float in ``[lo, hi]`` (``(lo, hi]`` with ``lo_open``), else ``ValueError``."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (lo < value if lo_open else lo <= value) and value <= hi
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(f"{name}={value!r} must be a number in {left}{lo:g}, {hi:g}]")
    return float(value)


def check_choice(name: str, value: Any, allowed: list[str] | tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else ``ValueError`` listing the choices."""
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of: {', '.join(map(str, allowed))}")
    return value


def check_seed(seed: Any) -> int:
    """A seed is an integer in [0, 2**32 − 1]."""
    return check_int("seed", seed, 0, 2**32 - 1)
