"""How values read in messages meant for people (findings, check results, refusals)."""

from __future__ import annotations

import numbers
from typing import Any

__all__ = ["fmt"]


def fmt(v: Any, digits: int = 4) -> str:
    """``v`` as a message shows it: a real number that is not an integer to ``digits`` significant digits
    (numpy floats included), lists, tuples and dicts item by item, anything else as ``str``.

    Measured values read best short (the default, 4 digits); a value the user typed is echoed with 6
    (``digits=6``, Python's ``:g``), so it reads as typed.

    >>> fmt(0.123456), fmt(3), fmt("relu"), fmt(True), fmt(0.00012345, digits=6)
    ('0.1235', '3', 'relu', 'True', '0.00012345')
    >>> fmt([0.5, 1 / 3]), fmt((1, 2.0)), fmt({"lr": 1 / 3, "act": "tanh"})
    ('[0.5, 0.3333]', '[1, 2]', '{lr=0.3333, act=tanh}')
    """
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
        return f"{v:.{digits}g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x, digits) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}={fmt(x, digits)}" for k, x in v.items()) + "}"
    return str(v)
