"""A small, safe expression language for formulas typed into widgets (the ``lambda`` schedule's ``fn(t)``).

Text is parsed with :mod:`ast` and checked against a whitelist before anything is evaluated; it is never
given to ``eval``/``exec``. Allowed: numbers, the variables a caller names (``t`` for a schedule), the
constants ``pi``, ``e``, ``tau``, ``inf``; ``+ - * / // % **``, unary ``+ - not``, comparisons (chained too),
``and``/``or``, ``a if cond else b``, and calls of a fixed set of math functions (also spelled
``math.exp``/``np.exp``). Everything else — attribute access, subscripts, comprehensions, lambdas,
f-strings, strings, keyword arguments, other names — is refused with :class:`ExpressionError` naming the
construct. Evaluation is bounded: at most :data:`MAX_LENGTH` characters, :data:`MAX_NODES` syntax nodes
nested at most :data:`MAX_DEPTH` deep, all arithmetic in floats (``9**9**9`` overflows at once instead of
building a huge integer), and every failure (overflow, division by zero, a math domain error, a
non-finite result) is an :class:`ExpressionError` naming the expression and the variables.

>>> f = Expression("0.5 ** (t // 100)")
>>> f(0), f(250)
(1.0, 0.25)
>>> round(Expression("min(1, (t + 1) / 10) * exp(-t / 1000)")(4), 6)
0.498004
>>> Expression("().__class__")
Traceback (most recent call last):
...
nbtrain.engine.expr.ExpressionError: '().__class__' is not allowed: attribute access (.__class__) is not part of the expression language (allowed: numbers, t, pi, e, tau, inf, + - * / // % **, comparisons, and/or/not, a if c else b, and the functions abs, acos, asin, atan, ceil, clip, cos, cosh, exp, floor, log, log10, log2, max, min, sign, sin, sinh, sqrt, tan, tanh)
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

from .checks import is_real

MAX_LENGTH = 1000  # characters of text
MAX_NODES = 400  # syntax nodes
MAX_DEPTH = 40  # nesting of syntax nodes
MAX_ARGS = 16  # arguments of one call (min/max)

CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf}


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


def _log(x: float, base: float | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


# name -> (function, least and most arguments)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    "abs": (abs, 1, 1),
    "acos": (math.acos, 1, 1),
    "asin": (math.asin, 1, 1),
    "atan": (math.atan, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "clip": (_clip, 3, 3),
    "cos": (math.cos, 1, 1),
    "cosh": (math.cosh, 1, 1),
    "exp": (math.exp, 1, 1),
    "floor": (math.floor, 1, 1),
    "log": (_log, 1, 2),
    "log10": (math.log10, 1, 1),
    "log2": (math.log2, 1, 1),
    "max": (max, 2, MAX_ARGS),
    "min": (min, 2, MAX_ARGS),
    "sign": (_sign, 1, 1),
    "sin": (math.sin, 1, 1),
    "sinh": (math.sinh, 1, 1),
    "sqrt": (math.sqrt, 1, 1),
    "tan": (math.tan, 1, 1),
    "tanh": (math.tanh, 1, 1),
}
MODULE_ALIASES = ("math", "np", "numpy")  # math.exp / np.exp are spellings of exp


def _pow(a: float, b: float) -> float:
    if a == 0 and b < 0:
        raise ZeroDivisionError("0 cannot be raised to a negative power")
    r = math.pow(a, b)  # floats: OverflowError at once instead of a giant integer
    return r


_BINOPS: dict[type, tuple[Callable[[float, float], float], str]] = {
    ast.Add: (operator.add, "+"),
    ast.Sub: (operator.sub, "-"),
    ast.Mult: (operator.mul, "*"),
    ast.Div: (operator.truediv, "/"),
    ast.FloorDiv: (operator.floordiv, "//"),
    ast.Mod: (operator.mod, "%"),
    ast.Pow: (_pow, "**"),
}
_CMPOPS: dict[type, Callable[[float, float], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_UNARY: dict[type, Callable[[float], float]] = {
    ast.UAdd: lambda x: +x, ast.USub: lambda x: -x, ast.Not: lambda x: float(not x),
}

# What a refused node is called in the error message.
_NAMES: dict[type, str] = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts ([...])", ast.Lambda: "lambda",
    ast.ListComp: "comprehensions", ast.SetComp: "comprehensions", ast.DictComp: "comprehensions",
    ast.GeneratorExp: "generator expressions", ast.JoinedStr: "f-strings", ast.FormattedValue: "f-strings",
    ast.NamedExpr: "assignment (:=)", ast.Starred: "star arguments", ast.List: "lists", ast.Tuple: "tuples",
    ast.Set: "sets", ast.Dict: "dicts", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Slice: "slices",
}
for _op in (ast.BitAnd, ast.BitOr, ast.BitXor, ast.LShift, ast.RShift, ast.MatMult, ast.Invert):
    _NAMES[_op] = "bitwise and matrix operators"
for _op in (ast.Is, ast.IsNot, ast.In, ast.NotIn):
    _NAMES[_op] = "is / in comparisons"


class ExpressionError(ValueError):
    """An expression outside the language, or one whose evaluation failed (names the text and why)."""


def allowed_summary(variables: Sequence[str] = ("t",)) -> str:
    return (f"numbers, {', '.join([*variables, *CONSTANTS])}, + - * / // % **, comparisons, and/or/not, "
            f"a if c else b, and the functions {', '.join(sorted(FUNCTIONS))}")


class Expression:
    """A parsed, checked formula of the given ``variables``; call it with their values (positionally or by
    keyword) to get a float. Pickles as its text; ``str(expr)`` is the text.

    >>> Expression("t if t < 10 else 10 + (t - 10) / 2")(30)
    20.0
    >>> Expression("x * y", variables=("x", "y"))(3, y=4)
    12.0
    """

    def __init__(self, text: str, variables: Sequence[str] = ("t",)):
        if not isinstance(text, str):
            raise ExpressionError(f"an expression must be text, got {type(text).__name__}")
        self.text = text.strip()
        self.variables = tuple(variables)
        self._fn = self._compile(self.text)

    # ---- checking and compiling ---------------------------------------------------------------------
    def _refuse(self, why: str) -> ExpressionError:
        return ExpressionError(f"{_short(self.text)!r} is not allowed: {why} (allowed: {allowed_summary(self.variables)})")

    def _compile(self, text: str) -> Callable[[dict[str, float]], float]:
        if not text:
            raise ExpressionError("an empty expression is not allowed: type a formula, e.g. 0.5 ** (t // 100)")
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"an expression of {len(text)} characters is not allowed: at most {MAX_LENGTH}")
        try:
            tree = ast.parse(text, mode="eval")
        except SyntaxError as err:
            raise ExpressionError(f"{_short(text)!r} is not an expression: {err.msg}") from None
        except (RecursionError, MemoryError, ValueError) as err:  # parser limits (deep nesting, huge literals)
            raise ExpressionError(f"{_short(text)!r} is not allowed: too complex to parse ({type(err).__name__})") from None
        # size and depth first, iteratively (no recursion on untrusted nesting)
        count, stack = 0, [(tree.body, 1)]
        while stack:
            node, depth = stack.pop()
            count += 1
            if count > MAX_NODES:
                raise self._refuse(f"more than {MAX_NODES} syntax elements")
            if depth > MAX_DEPTH:
                raise self._refuse(f"nesting deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
        return self._node(tree.body)

    def _node(self, node: ast.AST) -> Callable[[dict[str, float]], float]:
        if isinstance(node, ast.Constant):
            v = node.value
            if not is_real(v):
                kind = {str: "text", bytes: "bytes", complex: "complex numbers"}.get(type(v), repr(v))
                raise self._refuse(f"{kind} literals ({_short(repr(v))}) are not part of the expression language")
            try:
                value = float(v)
            except OverflowError:
                raise self._refuse(f"the number {_short(str(v))} is too large") from None
            return lambda env: value
        if isinstance(node, ast.Name):
            name = node.id
            if name in self.variables:
                return lambda env: env[name]
            if name in CONSTANTS:
                value = CONSTANTS[name]
                return lambda env: value
            what = "function" if name in FUNCTIONS else "name"
            raise self._refuse(f"{what} {name!r} cannot be used here" if what == "function"
                               else f"unknown name {name!r}")
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id in MODULE_ALIASES and node.attr in CONSTANTS:
                value = CONSTANTS[node.attr]
                return lambda env: value
            raise self._refuse(f"attribute access (.{node.attr}) is not part of the expression language")
        if isinstance(node, ast.BinOp):
            op = _BINOPS.get(type(node.op))
            if op is None:
                raise self._refuse(f"{_NAMES.get(type(node.op), type(node.op).__name__)} are not part of the expression language")
            fn, left, right = op[0], self._node(node.left), self._node(node.right)
            return lambda env: fn(left(env), right(env))
        if isinstance(node, ast.UnaryOp):
            fn = _UNARY.get(type(node.op))
            if fn is None:
                raise self._refuse(f"{_NAMES.get(type(node.op), type(node.op).__name__)} are not part of the expression language")
            operand = self._node(node.operand)
            return lambda env: fn(operand(env))
        if isinstance(node, ast.Compare):
            ops = []
            for op in node.ops:
                f = _CMPOPS.get(type(op))
                if f is None:
                    raise self._refuse(f"{_NAMES.get(type(op), type(op).__name__)} are not part of the expression language")
                ops.append(f)
            first, rest = self._node(node.left), [self._node(c) for c in node.comparators]

            def compare(env: dict[str, float]) -> float:
                a = first(env)
                for f, c in zip(ops, rest):
                    b = c(env)
                    if not f(a, b):
                        return 0.0
                    a = b
                return 1.0

            return compare
        if isinstance(node, ast.BoolOp):
            parts = [self._node(v) for v in node.values]
            if isinstance(node.op, ast.And):
                def and_(env: dict[str, float]) -> float:
                    v = 1.0
                    for p in parts:
                        v = p(env)
                        if not v:
                            return v
                    return v
                return and_

            def or_(env: dict[str, float]) -> float:
                v = 0.0
                for p in parts:
                    v = p(env)
                    if v:
                        return v
                return v
            return or_
        if isinstance(node, ast.IfExp):
            test, body, orelse = self._node(node.test), self._node(node.body), self._node(node.orelse)
            return lambda env: body(env) if test(env) else orelse(env)
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in MODULE_ALIASES:
                name = func.attr
            elif isinstance(func, ast.Name):
                name = func.id
            elif isinstance(func, ast.Attribute):
                raise self._refuse(f"attribute access (.{func.attr}) is not part of the expression language")
            else:
                self._node(func)  # refuses the construct being called (a subscript, a lambda, ...)
                raise self._refuse("only the listed functions can be called, by name")
            if name not in FUNCTIONS:
                raise self._refuse(f"the function {name!r} is not one of the allowed functions")
            if node.keywords:
                raise self._refuse("keyword arguments are not part of the expression language")
            fn, lo, hi = FUNCTIONS[name]
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise self._refuse("star arguments are not part of the expression language")
            if not lo <= len(node.args) <= hi:
                raise self._refuse(f"{name}() takes {lo if lo == hi else f'{lo} to {hi}'} argument(s), "
                                   f"got {len(node.args)}")
            args = [self._node(a) for a in node.args]
            return lambda env: float(fn(*[a(env) for a in args]))
        what = _NAMES.get(type(node), type(node).__name__)
        raise self._refuse(f"{what} are not part of the expression language" if what.split(" (")[0].endswith("s")
                           else f"{what} is not part of the expression language")

    # ---- evaluation ---------------------------------------------------------------------------------
    def __call__(self, *args: float, **kwargs: float) -> float:
        if len(args) > len(self.variables):
            raise TypeError(f"expression {self.text!r} takes {len(self.variables)} value(s) ({', '.join(self.variables)})")
        env = dict(zip(self.variables, args))
        env.update(kwargs)
        missing = [v for v in self.variables if v not in env]
        if missing or set(env) - set(self.variables):
            raise TypeError(f"expression {self.text!r} needs exactly {', '.join(self.variables)}")
        where = ", ".join(f"{k}={v!r}" for k, v in env.items())
        try:
            env = {k: float(v) for k, v in env.items()}
            result = float(self._fn(env))
        except (ArithmeticError, ValueError, TypeError) as err:  # overflow, division by zero, math domain
            raise ExpressionError(f"{_short(self.text)!r} fails at {where}: {type(err).__name__}: {err}") from None
        if not math.isfinite(result):
            raise ExpressionError(f"{_short(self.text)!r} is {result} at {where}: the result must be a finite number")
        return result

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and (self.text, self.variables) == (other.text, other.variables)

    def __hash__(self) -> int:
        return hash((self.text, self.variables))

    def __reduce__(self) -> tuple[Any, ...]:
        return (Expression, (self.text, self.variables))


def _short(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def parse(text: str, variables: Sequence[str] = ("t",)) -> Expression:
    """``Expression(text, variables)``: refuse anything outside the language (:class:`ExpressionError`)."""
    return Expression(text, variables)
