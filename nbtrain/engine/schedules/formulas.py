"""The schedules: each formula is a private vectorised function of the step array t; each factory validates
its parameters and returns a :class:`~nbtrain.engine.schedules.Schedule` built on that formula. Registering a
factory here adds it to ``schedules.registry`` (the order here is the order of ``schedules.names()``)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .base import (
    ParamSpec,
    Schedule,
    _base,
    _bool,
    _choice,
    _default_steps,
    _fail,
    _int,
    _real,
    _register,
    make,  # noqa: F401  (the examples in the docstrings build schedules by name)
)


def _constant(t: np.ndarray, lr: float, T: int) -> np.ndarray:
    return np.full_like(t, lr)


@_register("constant")
def constant(base_lr: float, total_steps: int, /) -> Schedule:
    """Constant: lr(t) = lr.

    >>> make("constant", 0.1, 100)(999)
    0.1
    """
    lr, T = _base("constant", base_lr, total_steps)
    return Schedule("constant", _constant, lr, T, {})


def _step(t: np.ndarray, lr: float, T: int, *, step_size: int, gamma: float) -> np.ndarray:
    return lr * gamma ** np.floor(np.minimum(t, T) / step_size)


@_register(
    "step",
    aliases=("step_decay",),
    step_size=ParamSpec(None, 1, "total_steps", "int"),
    gamma=ParamSpec(0.1, 1e-3, 1.0, "log"),
)
def step(base_lr: float, total_steps: int, /, *, step_size: int | None = None, gamma: float = 0.1) -> Schedule:
    """Step decay: lr(t) = lr·γ^⌊t/k⌋, k = step_size (default ⌈T/3⌉: two drops during training).

    >>> s = make("step", 0.1, 90, step_size=30, gamma=0.1)
    >>> [round(s(t), 6) for t in (0, 29, 30, 60, 89)]
    [0.1, 0.1, 0.01, 0.001, 0.001]
    """
    lr, T = _base("step", base_lr, total_steps)
    k = _int("step", "step_size", _default_steps(step_size, -(-T // 3)))
    g = _real("step", "gamma", gamma, 0.0, lo_open=True)
    return Schedule("step", _step, lr, T, {"step_size": k, "gamma": g})


def _piecewise(t: np.ndarray, lr: float, T: int, *, boundaries: tuple[int, ...], values: tuple[float, ...] | None,
               multipliers: tuple[float, ...] | None) -> np.ndarray:
    levels = np.asarray(values, dtype=float) if values is not None else lr * np.asarray(multipliers, dtype=float)
    return levels[np.searchsorted(np.asarray(boundaries, dtype=float), np.minimum(t, T), side="right")]


@_register(
    "piecewise",
    aliases=("piecewise_constant", "multistep"),
    boundaries=ParamSpec(None, 1, "total_steps", "list"),
    values=ParamSpec(None, 0.0, None, "list"),
    multipliers=ParamSpec(None, 0.0, 1.0, "list"),
)
def piecewise(base_lr: float, total_steps: int, /, *, boundaries: Sequence[int] | None = None,
              values: Sequence[float] | None = None, multipliers: Sequence[float] | None = None) -> Schedule:
    """Piecewise constant: lr(t) = lr·m_i (or v_i) for b_{i−1} ≤ t < b_i, boundaries b, multipliers m / values v.

    The new value starts at the boundary step itself (like torch's MultiStepLR; Keras's PiecewiseConstantDecay,
    despite the alias ``piecewise_constant``, switches one step later: at t = b it still gives the previous
    value). Holds the last level after T like every decaying schedule. ``values`` are absolute lrs
    (``base_lr`` is then unused); ``multipliers`` scale ``base_lr``. Either needs ``len(boundaries) + 1`` entries.
    Defaults: boundaries at T/2 and 3T/4, multipliers 1, 0.1, 0.01.

    >>> s = make("piecewise", 0.1, 100, boundaries=[50, 75], values=[0.1, 0.05, 0.01])
    >>> s(49), s(50), s(75)
    (0.1, 0.05, 0.01)
    """
    lr, T = _base("piecewise", base_lr, total_steps)
    if values is not None and multipliers is not None:
        raise ValueError("schedule 'piecewise': give values or multipliers, not both")
    if boundaries is None:
        b: tuple[int, ...] = tuple(sorted({max(1, T // 2), max(1, 3 * T // 4)}))
    else:
        if isinstance(boundaries, (str, bytes)) or not isinstance(boundaries, Iterable):
            _fail("piecewise", "boundaries", boundaries, "a sequence of increasing integer steps ≥ 1")
        b = tuple(_int("piecewise", "boundaries[]", x, 1) for x in boundaries)
        if any(x >= y for x, y in zip(b, b[1:])):
            _fail("piecewise", "boundaries", boundaries, "strictly increasing")
    levels = values if values is not None else multipliers
    which = "values" if values is not None else "multipliers"
    if levels is None:
        m: tuple[float, ...] | None = tuple(10.0**-i for i in range(len(b) + 1))
        v: tuple[float, ...] | None = None
    else:
        if isinstance(levels, (str, bytes)) or not isinstance(levels, Iterable):
            _fail("piecewise", which, levels, f"a sequence of {len(b) + 1} numbers > 0")
        checked = tuple(_real("piecewise", f"{which}[]", x, 0.0, lo_open=True) for x in levels)
        if len(checked) != len(b) + 1:
            _fail("piecewise", which, levels, f"{len(b) + 1} numbers (len(boundaries) + 1), not {len(checked)}")
        m, v = (None, checked) if values is not None else (checked, None)
    return Schedule("piecewise", _piecewise, lr, T, {"boundaries": b, "values": v, "multipliers": m})


def _decay_exponent(t: np.ndarray, T: int, decay_steps: int, staircase: bool) -> np.ndarray:
    p = np.minimum(t, T) / decay_steps
    return np.floor(p) if staircase else p


def _exponential(t: np.ndarray, lr: float, T: int, *, decay_rate: float, decay_steps: int,
                 staircase: bool) -> np.ndarray:
    return lr * decay_rate ** _decay_exponent(t, T, decay_steps, staircase)


def _natural_exp(t: np.ndarray, lr: float, T: int, *, decay_rate: float, decay_steps: int,
                 staircase: bool) -> np.ndarray:
    return lr * np.exp(-decay_rate * _decay_exponent(t, T, decay_steps, staircase))


def _inverse_time(t: np.ndarray, lr: float, T: int, *, decay_rate: float, decay_steps: int,
                  staircase: bool) -> np.ndarray:
    return lr / (1.0 + decay_rate * _decay_exponent(t, T, decay_steps, staircase))


_DECAY_STEPS = ParamSpec(None, 1, "total_steps", "int")
_STAIRCASE = ParamSpec(False, None, None, "bool")


def _rate_decay(name: str, formula: Callable[..., np.ndarray], *, default_rate: float, rate_low_open: bool,
                rate_range: tuple[float, float], aliases: tuple[str, ...], doc: str) -> Callable[..., Schedule]:
    """Register schedule ``name``: ``formula`` of the exponent p = t/k (⌊t/k⌋ with staircase) and a rate r.

    The three TF-style decays (exponential, natural_exp, inverse_time) take the same parameters and checks:
    ``decay_rate`` r ≥ 0 (> 0 if ``rate_low_open``), ``decay_steps`` k (default T/10) and ``staircase``.
    """

    def factory(base_lr: float, total_steps: int, /, *, decay_rate: float = default_rate,
                decay_steps: int | None = None, staircase: bool = False) -> Schedule:
        lr, T = _base(name, base_lr, total_steps)
        r = _real(name, "decay_rate", decay_rate, 0.0, lo_open=rate_low_open)
        k = _int(name, "decay_steps", _default_steps(decay_steps, T // 10))
        st = _bool(name, "staircase", staircase)
        return Schedule(name, formula, lr, T, {"decay_rate": r, "decay_steps": k, "staircase": st})

    factory.__name__ = factory.__qualname__ = name
    factory.__doc__ = doc
    return _register(
        name,
        aliases=aliases,
        decay_rate=ParamSpec(default_rate, *rate_range, "float"),
        decay_steps=_DECAY_STEPS,
        staircase=_STAIRCASE,
    )(factory)


exponential = _rate_decay(
    "exponential", _exponential, default_rate=0.8, rate_low_open=True, rate_range=(0.01, 1.0),
    aliases=("exp", "exponential_decay"),
    doc="""Exponential decay: lr(t) = lr·r^(t/k); staircase: lr·r^⌊t/k⌋ (r = decay_rate, k = decay_steps ≈ T/10).

    With the defaults lr(T) ≈ 0.8^10·lr ≈ lr/10.

    >>> s = make("exponential", 1.0, 100, decay_rate=0.5, decay_steps=10)
    >>> s(10), s(15), make("exponential", 1.0, 100, decay_rate=0.5, decay_steps=10, staircase=True)(15)
    (0.5, 0.3535533905932738, 0.5)
    """,
)

natural_exp = _rate_decay(
    "natural_exp", _natural_exp, default_rate=0.2, rate_low_open=False, rate_range=(0.0, 2.0),
    aliases=("natural_exp_decay",),
    doc="""Natural-exp decay: lr(t) = lr·e^(−r·t/k); staircase: lr·e^(−r·⌊t/k⌋) (k = decay_steps ≈ T/10).

    (The lecture notes print e^(−r/t); TensorFlow's natural_exp_decay, used here, is e^(−r·t/k).)
    With the defaults lr(T) = e^(−2)·lr ≈ 0.135·lr.

    >>> round(make("natural_exp", 1.0, 100, decay_rate=1.0, decay_steps=10)(20), 6)
    0.135335
    """,
)

inverse_time = _rate_decay(
    "inverse_time", _inverse_time, default_rate=1.0, rate_low_open=False, rate_range=(0.0, 10.0),
    aliases=("inverse_time_decay",),
    doc="""Inverse-time decay: lr(t) = lr/(1 + r·t/k); staircase: lr/(1 + r·⌊t/k⌋) (k = decay_steps ≈ T/10).

    >>> make("inverse_time", 1.0, 100, decay_rate=1.0, decay_steps=10)(30)
    0.25
    """,
)


def _inverse_sqrt(t: np.ndarray, lr: float, T: int, *, warmup: int) -> np.ndarray:
    t = np.minimum(t, T)
    if warmup == 0:
        return lr / np.sqrt(np.maximum(t, 1.0))
    return lr * np.minimum((t + 1.0) / warmup, np.sqrt(warmup / np.maximum(t, warmup)))


@_register("inverse_sqrt", aliases=("rsqrt",), warmup=ParamSpec(0, 0, "total_steps", "int"))
def inverse_sqrt(base_lr: float, total_steps: int, /, *, warmup: int = 0) -> Schedule:
    """Inverse square root: lr(t) = lr/√t (the lecture notes' α₀/√t; lr at t = 0), held after T.

    ``warmup`` = w ≥ 1 puts a linear warm-up in front, the transformer form: lr·min((t+1)/w, √w/√max(t, w)),
    i.e. lr/w, 2·lr/w, …, lr over steps 0..w−1, then lr·√(w/t) (anchored so that lr(w) = lr). The default
    w = 0 is no warm-up: exactly α₀/√t.

    >>> s = make("inverse_sqrt", 0.1, 1000)
    >>> s(0), s(1), round(s(400), 6)
    (0.1, 0.1, 0.005)
    >>> s = make("inverse_sqrt", 1.0, 1000, warmup=100)
    >>> s(0), s(99), s(100), s(400)
    (0.01, 1.0, 1.0, 0.5)
    """
    lr, T = _base("inverse_sqrt", base_lr, total_steps)
    w = _int("inverse_sqrt", "warmup", 0 if warmup is None else warmup, 0)
    return Schedule("inverse_sqrt", _inverse_sqrt, lr, T, {"warmup": w})


def _linear(t: np.ndarray, lr: float, T: int, *, end_lr: float) -> np.ndarray:
    return end_lr + (lr - end_lr) * (1.0 - np.minimum(t, T) / T)


@_register("linear", end_lr=ParamSpec(0.0, 0.0, "base_lr", "float"))
def linear(base_lr: float, total_steps: int, /, *, end_lr: float = 0.0) -> Schedule:
    """Linear decay: lr(t) = end + (lr − end)·(1 − t/T), end = end_lr (lr(1 − t/T) for end = 0).

    >>> make("linear", 0.1, 100)(75), make("linear", 0.1, 100, end_lr=0.02)(100)
    (0.025, 0.02)
    """
    lr, T = _base("linear", base_lr, total_steps)
    end = _real("linear", "end_lr", end_lr, 0.0)
    return Schedule("linear", _linear, lr, T, {"end_lr": end})


def _polynomial(t: np.ndarray, lr: float, T: int, *, decay_steps: int, power: float, end_lr: float,
                cycle: bool) -> np.ndarray:
    d = float(decay_steps)
    if cycle:  # TF: decay_steps ← decay_steps·⌈t/decay_steps⌉, one period at t = 0
        d = d * np.maximum(1.0, np.ceil(t / d))
    else:
        t = np.minimum(t, d)
    return (lr - end_lr) * (1.0 - t / d) ** power + end_lr


@_register(
    "polynomial",
    aliases=("poly", "polynomial_decay"),
    decay_steps=_DECAY_STEPS,
    power=ParamSpec(2.0, 0.1, 5.0, "float"),
    end_lr=ParamSpec(0.0, 0.0, "base_lr", "float"),
    cycle=ParamSpec(False, None, None, "bool"),
)
def polynomial(base_lr: float, total_steps: int, /, *, decay_steps: int | None = None, power: float = 2.0,
               end_lr: float = 0.0, cycle: bool = False) -> Schedule:
    """Polynomial decay: lr(t) = (lr − end)·(1 − t/D)^p + end, t ≤ D = decay_steps (default T); cycle: D ← D·⌈t/D⌉.

    Without ``cycle`` the rate holds ``end_lr`` after D. With ``cycle`` (TensorFlow's rule) D grows to the
    first multiple of decay_steps ≥ t, so each period the rate jumps back up, lower than lr, and decays again.

    >>> s = make("polynomial", 1.0, 100, decay_steps=10, power=1.0, cycle=True)
    >>> [round(s(t), 6) for t in (0, 5, 10, 11, 15)]
    [1.0, 0.5, 0.0, 0.45, 0.25]
    """
    lr, T = _base("polynomial", base_lr, total_steps)
    d = _int("polynomial", "decay_steps", _default_steps(decay_steps, T))
    p = _real("polynomial", "power", power, 0.0, lo_open=True)
    end = _real("polynomial", "end_lr", end_lr, 0.0)
    cyc = _bool("polynomial", "cycle", cycle)
    return Schedule("polynomial", _polynomial, lr, T, {"decay_steps": d, "power": p, "end_lr": end, "cycle": cyc})


def _cosine(t: np.ndarray, lr: float, T: int, *, decay_steps: int, alpha: float) -> np.ndarray:
    t = np.minimum(t, decay_steps)
    return lr * ((1.0 - alpha) * 0.5 * (1.0 + np.cos(np.pi * t / decay_steps)) + alpha)


@_register(
    "cosine",
    aliases=("cosine_decay",),
    decay_steps=_DECAY_STEPS,
    alpha=ParamSpec(0.0, 0.0, 1.0, "float"),
)
def cosine(base_lr: float, total_steps: int, /, *, decay_steps: int | None = None, alpha: float = 0.0) -> Schedule:
    """Cosine decay: lr(t) = lr·((1 − α)·½(1 + cos(π·t/D)) + α), t ≤ D = decay_steps (default T).

    α is the floor as a fraction of lr (TF's cosine_decay): the same as end + ½(lr − end)(1 + cos πt/D) with
    end = α·lr. α = 0 gives the lecture's ½·lr·(1 + cos πt/T).

    >>> s = make("cosine", 1.0, 100, alpha=0.2)
    >>> [round(s(t), 6) for t in (0, 50, 100)]
    [1.0, 0.6, 0.2]
    """
    lr, T = _base("cosine", base_lr, total_steps)
    d = _int("cosine", "decay_steps", _default_steps(decay_steps, T))
    a = _real("cosine", "alpha", alpha, 0.0, 1.0)
    return Schedule("cosine", _cosine, lr, T, {"decay_steps": d, "alpha": a})


def _linear_cosine_parts(t: np.ndarray, decay_steps: int, num_periods: float) -> tuple[np.ndarray, np.ndarray]:
    t = np.minimum(t, decay_steps)
    linear = (decay_steps - t) / decay_steps
    cos = 0.5 * (1.0 + np.cos(np.pi * 2.0 * num_periods * t / decay_steps))
    return linear, cos


def _linear_cosine(t: np.ndarray, lr: float, T: int, *, decay_steps: int, num_periods: float, alpha: float,
                   beta: float) -> np.ndarray:
    linear, cos = _linear_cosine_parts(t, decay_steps, num_periods)
    return lr * ((alpha + linear) * cos + beta)


_LINEAR_COSINE_SPECS = {
    "decay_steps": _DECAY_STEPS,
    "num_periods": ParamSpec(0.5, 0.0, 10.0, "float"),
    "alpha": ParamSpec(0.0, 0.0, 1.0, "float"),
    "beta": ParamSpec(0.001, 0.0, 0.1, "float"),
}


@_register("linear_cosine", aliases=("linear_cosine_decay",), **_LINEAR_COSINE_SPECS)
def linear_cosine(base_lr: float, total_steps: int, /, *, decay_steps: int | None = None, num_periods: float = 0.5,
                  alpha: float = 0.0, beta: float = 0.001) -> Schedule:
    """Linear-cosine decay: lr(t) = lr·((α + (D − t)/D)·½(1 + cos(2π·n·t/D)) + β), t ≤ D, n = num_periods.

    TF's linear_cosine_decay (Bello et al. 2017): a linear decay times a cosine with n periods, plus a floor β.

    >>> s = make("linear_cosine", 1.0, 100, num_periods=0.5, alpha=0.0, beta=0.0)
    >>> s(0), s(50), s(100)
    (1.0, 0.25, 0.0)
    """
    lr, T = _base("linear_cosine", base_lr, total_steps)
    params = _linear_cosine_params("linear_cosine", T, decay_steps, num_periods, alpha, beta)
    return Schedule("linear_cosine", _linear_cosine, lr, T, params)


def _linear_cosine_params(sched: str, T: int, decay_steps: Any, num_periods: Any, alpha: Any,
                          beta: Any) -> dict[str, Any]:
    return {
        "decay_steps": _int(sched, "decay_steps", _default_steps(decay_steps, T)),
        "num_periods": _real(sched, "num_periods", num_periods, 0.0),
        "alpha": _real(sched, "alpha", alpha, 0.0),
        "beta": _real(sched, "beta", beta, 0.0),
    }


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a well-mixed 64-bit hash (uint64 arithmetic wraps, as intended)."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _gaussian(seed: int, steps: np.ndarray) -> np.ndarray:
    """N(0, 1) draws that depend only on (seed, step): counter-based, so any step can be evaluated alone."""
    key = _mix64(np.array([seed], dtype=np.uint64))
    n = np.floor(steps).astype(np.uint64) * np.uint64(2)
    u1 = ((_mix64(key ^ n) >> np.uint64(11)).astype(float) + 1.0) / 2.0**53  # (0, 1]
    u2 = (_mix64(key ^ (n + np.uint64(1))) >> np.uint64(11)).astype(float) / 2.0**53  # [0, 1)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)  # Box–Muller


def _noisy_linear_cosine(t: np.ndarray, lr: float, T: int, *, decay_steps: int, num_periods: float, alpha: float,
                         beta: float, initial_variance: float, variance_decay: float, seed: int) -> np.ndarray:
    linear, cos = _linear_cosine_parts(t, decay_steps, num_periods)
    t = np.minimum(t, decay_steps)
    eps = np.sqrt(initial_variance / (1.0 + t) ** variance_decay) * _gaussian(seed, t)
    return lr * (np.maximum(alpha + linear + eps, 0.0) * cos + beta)


@_register(
    "noisy_linear_cosine",
    aliases=("noisy_linear_cosine_decay",),
    **_LINEAR_COSINE_SPECS,
    initial_variance=ParamSpec(1.0, 0.0, 2.0, "float"),
    variance_decay=ParamSpec(0.55, 0.0, 2.0, "float"),
    seed=ParamSpec(0, 0, None, "int"),
)
def noisy_linear_cosine(base_lr: float, total_steps: int, /, *, decay_steps: int | None = None,
                        num_periods: float = 0.5, alpha: float = 0.0, beta: float = 0.001,
                        initial_variance: float = 1.0, variance_decay: float = 0.55, seed: int = 0) -> Schedule:
    """Noisy linear-cosine: lr(t) = lr·(max(α + (D − t)/D + ε_t, 0)·½(1 + cos(2π·n·t/D)) + β), t ≤ D.

    ε_t ~ N(0, v₀/(1 + t)^d) with v₀ = initial_variance, d = variance_decay (TF's noisy_linear_cosine_decay).
    The noise is a fixed function of (seed, t): the same step always gives the same lr. Unlike TF, the noisy
    factor is clipped at 0, so lr(t) ≥ β·lr never goes negative. The clip biases the mean rate upwards:
    E[max(μ + σZ, 0)] = μ·Φ(μ/σ) + σ·φ(μ/σ) > μ, i.e. ×1.08 at t = 0 (μ = σ = 1 by default) and more as the
    linear part μ = (D − t)/D falls towards the end (with β = 0 the mean is many times TF's near t = D).

    >>> s = make("noisy_linear_cosine", 1.0, 100, seed=1)
    >>> s(10) == s(10) == make("noisy_linear_cosine", 1.0, 100, seed=1)(10)
    True
    """
    lr, T = _base("noisy_linear_cosine", base_lr, total_steps)
    params = _linear_cosine_params("noisy_linear_cosine", T, decay_steps, num_periods, alpha, beta)
    params["initial_variance"] = _real("noisy_linear_cosine", "initial_variance", initial_variance, 0.0)
    params["variance_decay"] = _real("noisy_linear_cosine", "variance_decay", variance_decay, 0.0)
    params["seed"] = _int("noisy_linear_cosine", "seed", seed, 0)
    if params["seed"] >= 2**64:
        _fail("noisy_linear_cosine", "seed", seed, "an integer in [0, 2**64)")
    return Schedule("noisy_linear_cosine", _noisy_linear_cosine, lr, T, params)


def _lambda_factor(fn: Callable[[int], float], step: int) -> float:
    f = fn(step)
    if isinstance(f, (bool, np.bool_)) or not isinstance(f, numbers.Real) or not (math.isfinite(f) and f >= 0):
        _fail("lambda", f"fn({step})", f, "a finite number ≥ 0")
    return float(f)


def _lambda(t: np.ndarray, lr: float, T: int, *, fn: Callable[[int], float] | None) -> np.ndarray:
    if fn is None:
        return np.full_like(t, lr)
    return lr * np.array([_lambda_factor(fn, int(s)) for s in t.ravel()], dtype=float).reshape(t.shape)


@_register("lambda", fn=ParamSpec(None, None, None, "callable"))
def lambda_(base_lr: float, total_steps: int, /, *, fn: Callable[[int], float] | None = None) -> Schedule:
    """User function: lr(t) = lr·fn(t), fn(step: int) -> multiplier ≥ 0 (default: 1, i.e. constant).

    ``fn`` may also be a formula of ``t`` as text (``"0.5 ** (t // 100)"``), parsed by the safe expression
    language of :mod:`nbtrain.engine.expr`; such a config stays JSON and pickles.

    Like torch's LambdaLR. The schedule pickles only if ``fn`` does (a module-level function, not a lambda).

    >>> make("lambda", 0.1, 100, fn=lambda t: 0.5 ** (t // 10))(25)
    0.025
    """
    lr, T = _base("lambda", base_lr, total_steps)
    if isinstance(fn, str):  # a formula of t in the safe expression language (never Python's eval)
        from ..expr import Expression

        fn = Expression(fn, variables=("t",))
    if fn is not None:
        if not callable(fn):
            _fail("lambda", "fn", fn, "a function step -> multiplier of base_lr")
        _lambda_factor(fn, 0)  # fail now, not in the middle of training
    return Schedule("lambda", _lambda, lr, T, {"fn": fn})


def _cyclic(t: np.ndarray, lr: float, T: int, *, min_lr: float, step_size: int, mode: str,
            gamma: float) -> np.ndarray:
    cycle = np.floor(1.0 + t / (2.0 * step_size))
    x = np.abs(t / step_size - 2.0 * cycle + 1.0)
    height = (lr - min_lr) * np.maximum(0.0, 1.0 - x)
    if mode == "triangular2":
        height = height / 2.0 ** (cycle - 1.0)
    elif mode == "exp_range":
        height = height * gamma**t
    return min_lr + height


@_register(
    "cyclic",
    aliases=("triangular", "clr", "cyclic_triangular"),
    tags=("periodic",),
    min_lr=ParamSpec(None, 0.0, "base_lr", "float"),
    step_size=ParamSpec(None, 1, "total_steps", "int"),
    mode=ParamSpec("triangular", None, None, "choice", ("triangular", "triangular2", "exp_range")),
    gamma=ParamSpec(None, 0.9, 1.0, "float"),
)
def cyclic(base_lr: float, total_steps: int, /, *, min_lr: float | None = None, step_size: int | None = None,
           mode: str = "triangular", gamma: float | None = None) -> Schedule:
    """Cyclic triangular (CLR): lr(t) = min + (lr − min)·max(0, 1 − |t/s − 2c + 1|)·scale, c = ⌊1 + t/2s⌋.

    base_lr is the top of the triangle, ``min_lr`` (default lr/10) the bottom; a cycle is 2s steps
    (s = step_size, default T/8: four cycles), starting at min_lr. ``mode``: "triangular" (scale 1),
    "triangular2" (scale 1/2^(c−1): the amplitude halves every cycle, i.e. the max decays) or "exp_range"
    (scale γ^t, γ default 0.1^(1/T): the amplitude falls to 10 % by T). Same as torch's CyclicLR with
    base_lr=min_lr, max_lr=base_lr, step_size_up=step_size.

    >>> s = make("cyclic", 1.0, 100, min_lr=0.2, step_size=10, mode="triangular2")
    >>> [round(s(t), 6) for t in (0, 5, 10, 20, 30)]
    [0.2, 0.6, 1.0, 0.2, 0.6]
    """
    lr, T = _base("cyclic", base_lr, total_steps)
    low = _real("cyclic", "min_lr", lr / 10.0 if min_lr is None else min_lr, 0.0, lr)
    s = _int("cyclic", "step_size", _default_steps(step_size, T // 8))
    m = _choice("cyclic", "mode", mode, ("triangular", "triangular2", "exp_range"))
    g = _real("cyclic", "gamma", 0.1 ** (1.0 / T) if gamma is None else gamma, 0.0, 1.0, lo_open=True)
    return Schedule("cyclic", _cyclic, lr, T, {"min_lr": low, "step_size": s, "mode": m, "gamma": g})


def _sgdr(t: np.ndarray, lr: float, T: int, *, T_0: int, T_mult: int, eta_min: float, decay: float = 1.0) -> np.ndarray:
    if T_mult == 1:
        n, t_cur, t_i = np.floor(t / T_0), np.mod(t, T_0), float(T_0)
    else:
        m = float(T_mult)

        def start(n: np.ndarray) -> np.ndarray:  # first step of restart period n: T_0·(m^n − 1)/(m − 1)
            return T_0 * (m**n - 1.0) / (m - 1.0)

        n = np.floor(np.log(t / T_0 * (m - 1.0) + 1.0) / np.log(m))
        n = np.where(start(n) > t, n - 1, n)  # float log can be one period off right at a restart
        n = np.where(start(n + 1) <= t, n + 1, n)
        t_cur, t_i = t - start(n), T_0 * m**n
    scale = decay**n  # the bounds of period n: α_max = lr·decay^n, α_min = η_min·decay^n
    return scale * (eta_min + (lr - eta_min) * (1.0 + np.cos(np.pi * t_cur / t_i)) / 2.0)


@_register(
    "sgdr",
    aliases=("cosine_restarts", "warm_restarts", "cosine_warm_restarts"),
    tags=("periodic",),
    T_0=ParamSpec(None, 1, "total_steps", "int"),
    T_mult=ParamSpec(2, 1, 4, "int"),
    eta_min=ParamSpec(0.0, 0.0, "base_lr", "float"),
    decay=ParamSpec(1.0, 0.1, 1.0, "float"),
)
def sgdr(base_lr: float, total_steps: int, /, *, T_0: int | None = None, T_mult: int = 2,
         eta_min: float = 0.0, decay: float = 1.0) -> Schedule:
    """SGDR, cosine with warm restarts: lr(t) = d^m·(η_min + ½(lr − η_min)(1 + cos(π·T_cur/T_m))), T_m ← T_m·T_mult.

    T_cur counts steps since the last restart, m is the restart's number (0, 1, 2, …); the first period is
    T_0 steps (default ⌈T/7⌉, so with T_mult = 2 three periods T_0, 2T_0, 4T_0 fill the run). ``decay`` = d
    shrinks both bounds at every restart (the lecture notes' α_max and α_min that "decrease as m grows");
    the default d = 1 keeps them, numerically equal to torch's CosineAnnealingWarmRestarts stepped once per step.

    >>> s = make("sgdr", 1.0, 100, T_0=10, T_mult=2)
    >>> s(0), s(5), s(10), s(20), s(30)
    (1.0, 0.5, 1.0, 0.5, 1.0)
    >>> s = make("sgdr", 1.0, 100, T_0=10, T_mult=1, decay=0.5)
    >>> s(0), s(10), s(20), s(25)
    (1.0, 0.5, 0.25, 0.125)
    """
    lr, T = _base("sgdr", base_lr, total_steps)
    t0 = _int("sgdr", "T_0", _default_steps(T_0, -(-T // 7)))
    tm = _int("sgdr", "T_mult", T_mult, 1)
    low = _real("sgdr", "eta_min", eta_min, 0.0, lr)
    d = _real("sgdr", "decay", decay, 0.0, 1.0, lo_open=True)
    return Schedule("sgdr", _sgdr, lr, T, {"T_0": t0, "T_mult": tm, "eta_min": low, "decay": d})


def _anneal(start: float, end: float, pct: np.ndarray, strategy: str) -> np.ndarray:
    if strategy == "cos":
        return end + (start - end) / 2.0 * (np.cos(np.pi * pct) + 1.0)
    return (end - start) * pct + start


def _one_cycle(t: np.ndarray, lr: float, T: int, *, pct_start: float, div_factor: float, final_div_factor: float,
               three_phase: bool, anneal_strategy: str) -> np.ndarray:
    initial = lr / div_factor
    low = initial / final_div_factor
    if three_phase:
        phases = [(pct_start * T - 1, initial, lr), (2 * pct_start * T - 2, lr, initial), (T - 1, initial, low)]
    else:
        phases = [(pct_start * T - 1, initial, lr), (T - 1, lr, low)]
    t = np.minimum(t, T - 1)  # hold min lr; torch would extrapolate one step past the end
    out = np.empty_like(t)
    todo = np.ones(t.shape, dtype=bool)
    start_step = 0.0
    for i, (end_step, a, b) in enumerate(phases):  # same phase walk as torch's OneCycleLR.get_lr
        sel = todo & ((t <= end_step) | (i == len(phases) - 1))
        span = end_step - start_step
        pct = (t[sel] - start_step) / span if span else np.ones(int(sel.sum()))  # empty phase: at its end
        out[sel] = _anneal(a, b, pct, anneal_strategy)
        todo &= ~sel
        start_step = end_step
    return out


@_register(
    "one_cycle",
    aliases=("onecycle", "1cycle"),
    pct_start=ParamSpec(0.3, 0.0, 1.0, "float"),
    div_factor=ParamSpec(25.0, 1.0, 1000.0, "log"),
    final_div_factor=ParamSpec(1e4, 1.0, 1e6, "log"),
    three_phase=ParamSpec(False, None, None, "bool"),
    anneal_strategy=ParamSpec("cos", None, None, "choice", ("cos", "linear")),
)
def one_cycle(base_lr: float, total_steps: int, /, *, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4, three_phase: bool = False, anneal_strategy: str = "cos") -> Schedule:
    """One-cycle: anneal lr/d → lr over the first pct_start·T steps, then lr → lr/(d·f) by step T − 1.

    d = div_factor, f = final_div_factor; base_lr is the peak (torch's max_lr). Cosine anneal between phase
    ends: end + ½(start − end)(1 + cos(π·pct)). ``three_phase`` goes back down to lr/d symmetrically first.
    Numerically equal to torch's OneCycleLR for t < T; holds lr/(d·f) after.

    >>> s = make("one_cycle", 1.0, 101, pct_start=0.5, div_factor=10.0, final_div_factor=10.0)
    >>> round(s(0), 6), round(s(49.5), 6), round(s(100), 6)
    (0.1, 1.0, 0.01)
    """
    lr, T = _base("one_cycle", base_lr, total_steps)
    params = {
        "pct_start": _real("one_cycle", "pct_start", pct_start, 0.0, 1.0),
        "div_factor": _real("one_cycle", "div_factor", div_factor, 0.0, lo_open=True),
        "final_div_factor": _real("one_cycle", "final_div_factor", final_div_factor, 0.0, lo_open=True),
        "three_phase": _bool("one_cycle", "three_phase", three_phase),
        "anneal_strategy": _choice("one_cycle", "anneal_strategy", anneal_strategy, ("cos", "linear")),
    }
    return Schedule("one_cycle", _one_cycle, lr, T, params)
