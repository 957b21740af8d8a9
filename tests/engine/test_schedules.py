"""Tests for nbtrain.engine.schedules: every formula re-computed here, torch parity, warm-up, pickling, errors."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
import torch

from nbtrain.engine import schedules as S
from nbtrain.engine.registry import UnknownNameError

LR = 0.1
T = 1000
ALL = S.names()
PERIODIC = {"cyclic", "sgdr"}


def close(a: float, b: float, rel: float = 1e-12, abs_: float = 1e-15) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def assert_formula(schedule: S.Schedule, expected, steps) -> None:
    """schedule(t) and schedule.curve(steps) both equal expected(t) for every t in steps."""
    steps = list(steps)
    got = schedule.curve(steps)
    for t, g in zip(steps, got):
        want = expected(t)
        assert close(schedule(t), want), (schedule, t, schedule(t), want)
        assert close(float(g), want), (schedule, t, float(g), want)


def halve_every_10(step: int) -> float:  # module level, so a lambda schedule using it pickles
    return 0.5 ** (step // 10)


# ------------------------------------------------------------------------------------------------ registry, defaults


def test_registry_lists_every_schedule_of_the_lecture_with_a_summary():
    expected = {
        "constant", "step", "piecewise", "exponential", "natural_exp", "inverse_time", "inverse_sqrt", "linear",
        "polynomial", "cosine", "linear_cosine", "noisy_linear_cosine", "lambda", "cyclic", "sgdr", "one_cycle",
    }  # fmt: skip
    assert set(ALL) == expected
    assert S.names() == S.registry.names()
    for entry in S.registry.entries():
        assert entry.summary and "lr" in entry.summary, entry.name  # the first docstring line states the formula
        assert "base_lr" not in entry.params and "total_steps" not in entry.params  # positional-only


@pytest.mark.parametrize("name", ALL)
def test_every_schedule_works_with_defaults_and_is_finite_and_non_negative_over_two_runs(name):
    s = S.make(name, LR, T)
    lrs = s.curve(2 * T + 1)
    assert lrs.shape == (2 * T + 1,)
    assert np.isfinite(lrs).all()
    assert (lrs >= 0).all()
    assert (lrs[:T] > 0).all()  # only the decays to 0 (linear, polynomial, cosine) reach 0, at t = T
    assert lrs.max() <= 2 * LR  # noisy_linear_cosine's default noise (variance 1 at t=0) may exceed lr a bit
    assert s.name == name and s.base_lr == LR and s.total_steps == T


@pytest.mark.parametrize("name", sorted(set(ALL) - PERIODIC))
def test_decaying_schedules_hold_their_final_value_after_total_steps(name):
    s = S.make(name, LR, T)
    tail = s.curve(range(T, 3 * T, 7))
    assert np.all(tail == s(T))


@pytest.mark.parametrize("name", ALL)
def test_call_and_curve_agree_and_curve_defaults_to_the_training_steps(name):
    s = S.make(name, LR, 50)
    assert np.array_equal(s.curve(), s.curve(50))
    assert np.array_equal(s.curve(np.arange(50)), s.curve(range(50)))
    assert [s(t) for t in range(50)] == list(s.curve(50))
    assert s.curve([]).shape == (0,)


@pytest.mark.parametrize("name", ALL)
def test_params_hold_resolved_values_and_rebuild_the_same_schedule(name):
    s = S.make(name, LR, T)
    assert None not in [v for k, v in s.params.items() if k not in ("fn", "values", "multipliers")]
    assert S.make(s.name, s.base_lr, s.total_steps, **s.params) == s


def test_aliases_resolve_to_the_canonical_name():
    assert S.make("rsqrt", LR, T).name == "inverse_sqrt"
    assert S.make("cosine_restarts", LR, T).name == "sgdr"
    assert S.make("onecycle", LR, T).name == "one_cycle"
    assert S.make("triangular", LR, T).name == "cyclic"


# ------------------------------------------------------------------------------------------------ formulas


def test_constant_is_base_lr_everywhere():
    assert_formula(S.make("constant", 0.3, 10), lambda t: 0.3, [0, 5, 10, 10**6])


def test_step_multiplies_by_gamma_every_step_size_and_holds_after_total():
    s = S.make("step", 0.2, 100, step_size=30, gamma=0.5)
    assert_formula(s, lambda t: 0.2 * 0.5 ** (min(t, 100) // 30), [0, 1, 29, 30, 59, 60, 89, 90, 99, 100, 150])
    assert s(150) == 0.2 * 0.5**3
    assert S.make("step", 1.0, 90).params["step_size"] == 30  # ⌈T/3⌉: two drops during training
    assert S.make("step", 1.0, 100).params["step_size"] == 34


def test_piecewise_values_switch_at_each_boundary():
    s = S.make("piecewise", 1.0, 100, boundaries=[10, 20], values=[0.5, 0.25, 0.05])
    expected = {0: 0.5, 9: 0.5, 10: 0.25, 19: 0.25, 20: 0.05, 99: 0.05, 500: 0.05}
    assert_formula(s, expected.__getitem__, expected)


def test_piecewise_multipliers_scale_base_lr_and_default_to_half_and_three_quarters():
    s = S.make("piecewise", 0.2, 100, boundaries=[30], multipliers=[1.0, 0.3])
    assert_formula(s, lambda t: 0.2 if t < 30 else 0.2 * 0.3, [0, 29, 30, 99])
    d = S.make("piecewise", 0.2, 100)
    assert d.params["boundaries"] == (50, 75)
    assert_formula(d, lambda t: 0.2 * (1.0 if t < 50 else 0.1 if t < 75 else 0.01), [0, 49, 50, 74, 75, 200])


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_is_lr_times_rate_to_the_t_over_k(staircase):
    s = S.make("exponential", 0.1, 200, decay_rate=0.7, decay_steps=30, staircase=staircase)

    def expected(t):
        p = min(t, 200) / 30
        return 0.1 * 0.7 ** (math.floor(p) if staircase else p)

    assert_formula(s, expected, [0, 1, 15, 29, 30, 45, 60, 199, 200, 250, 1000])


@pytest.mark.parametrize("staircase", [False, True])
def test_natural_exp_is_lr_times_e_to_minus_rate_t_over_k(staircase):
    s = S.make("natural_exp", 0.1, 200, decay_rate=0.3, decay_steps=25, staircase=staircase)

    def expected(t):
        p = min(t, 200) / 25
        return 0.1 * math.exp(-0.3 * (math.floor(p) if staircase else p))

    assert_formula(s, expected, [0, 1, 12, 24, 25, 26, 199, 200, 400])


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_is_lr_over_one_plus_rate_t_over_k(staircase):
    s = S.make("inverse_time", 0.1, 200, decay_rate=2.0, decay_steps=40, staircase=staircase)

    def expected(t):
        p = min(t, 200) / 40
        return 0.1 / (1 + 2.0 * (math.floor(p) if staircase else p))

    assert_formula(s, expected, [0, 1, 39, 40, 41, 100, 199, 200, 300])


def test_inverse_sqrt_warms_up_linearly_then_decays_as_one_over_sqrt_t():
    w = 16
    s = S.make("inverse_sqrt", 0.1, 1000, warmup=w)

    def expected(t):
        t = min(t, 1000)
        return 0.1 * (t + 1) / w if t < w else 0.1 * math.sqrt(w) / math.sqrt(t)

    assert_formula(s, expected, [0, 1, 7, 15, 16, 17, 64, 100, 999, 1000, 5000])
    assert close(s(64), 0.05) and close(s(15), 0.1) and close(s(16), 0.1)
    one = S.make("inverse_sqrt", 0.1, 1000, warmup=1)  # the lecture's lr/√t, with lr at t = 0
    assert_formula(one, lambda t: 0.1 if t == 0 else 0.1 / math.sqrt(t), [0, 1, 2, 4, 100])
    assert S.make("inverse_sqrt", 0.1, 1000).params["warmup"] == 0  # default: the notes' α₀/√t, no warm-up


@pytest.mark.parametrize("end_lr", [0.0, 0.01])
def test_linear_goes_from_lr_to_end_lr_at_total_steps(end_lr):
    s = S.make("linear", 0.1, 80, end_lr=end_lr)
    assert_formula(s, lambda t: end_lr + (0.1 - end_lr) * (1 - min(t, 80) / 80), [0, 1, 20, 40, 79, 80, 200])
    assert close(s(80), end_lr) and close(s(40), (0.1 + end_lr) / 2)


def test_polynomial_decays_to_end_lr_at_decay_steps_and_holds():
    lr, end, p, d = 0.1, 0.001, 3.0, 50
    s = S.make("polynomial", lr, 100, decay_steps=d, power=p, end_lr=end)
    assert_formula(s, lambda t: (lr - end) * (1 - min(t, d) / d) ** p + end, [0, 1, 25, 49, 50, 51, 99, 100, 500])
    assert s(60) == s(50) == pytest.approx(end)


def test_polynomial_cycle_stretches_decay_steps_to_the_next_multiple_of_t():
    lr, end, p, d = 0.1, 0.001, 2.0, 50
    s = S.make("polynomial", lr, 100, decay_steps=d, power=p, end_lr=end, cycle=True)

    def expected(t):
        dd = d * (math.ceil(t / d) if t > 0 else 1)  # TF: t = 0 uses one period
        return (lr - end) * (1 - t / dd) ** p + end

    assert_formula(s, expected, [0, 1, 25, 49, 50, 51, 75, 100, 101, 120, 150, 151, 999])
    assert close(s(50), end) and close(s(51), (lr - end) * (1 - 51 / 100) ** p + end)
    assert s(51) > s(50)  # it goes back up: the point of cycle


@pytest.mark.parametrize("alpha", [0.0, 0.25])
def test_cosine_is_tf_cosine_decay_with_floor_fraction_alpha(alpha):
    lr, d = 0.1, 60
    s = S.make("cosine", lr, 100, decay_steps=d, alpha=alpha)

    def expected(t):
        t = min(t, d)
        return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / d)) + alpha)

    assert_formula(s, expected, [0, 1, 15, 30, 59, 60, 61, 100, 1000])
    # the same as end + ½(lr − end)(1 + cos πt/T) with end = α·lr
    end = alpha * lr
    assert close(s(15), end + 0.5 * (lr - end) * (1 + math.cos(math.pi * 15 / d)))
    assert close(s(60), end)


def tf_linear_cosine(t, lr, d, num_periods, alpha, beta, eps=0.0):
    t = min(t, d)
    linear = (d - t) / d
    cosine = 0.5 * (1 + math.cos(math.pi * 2 * num_periods * t / d))
    return lr * ((alpha + linear + eps) * cosine + beta)


def test_linear_cosine_matches_tf_linear_cosine_decay():
    kw = {"decay_steps": 80, "num_periods": 2.0, "alpha": 0.1, "beta": 0.01}
    s = S.make("linear_cosine", 0.1, 100, **kw)
    assert_formula(s, lambda t: tf_linear_cosine(t, 0.1, 80, 2.0, 0.1, 0.01), [0, 1, 10, 20, 33, 40, 79, 80, 300])
    default = S.make("linear_cosine", 0.1, 100)  # TF defaults: num_periods 0.5, alpha 0, beta 0.001
    assert_formula(default, lambda t: tf_linear_cosine(t, 0.1, 100, 0.5, 0.0, 0.001), [0, 50, 100])


def test_noisy_linear_cosine_without_noise_is_linear_cosine():
    kw = {"decay_steps": 80, "num_periods": 2.0, "alpha": 0.1, "beta": 0.01}
    s = S.make("noisy_linear_cosine", 0.1, 100, initial_variance=0.0, **kw)
    assert np.array_equal(s.curve(200), S.make("linear_cosine", 0.1, 100, **kw).curve(200))


def test_noisy_linear_cosine_noise_is_deterministic_per_step_and_seed():
    a = S.make("noisy_linear_cosine", 0.1, 500, seed=3)
    b = S.make("noisy_linear_cosine", 0.1, 500, seed=3)
    c = S.make("noisy_linear_cosine", 0.1, 500, seed=4)
    assert np.array_equal(a.curve(500), b.curve(500))
    assert [a(t) for t in (7, 300, 7)] == [a.curve([7])[0], a.curve([300])[0], a.curve([7])[0]]
    assert a(7) == a.curve(range(0, 20))[7]  # a step's value does not depend on which other steps are asked
    assert not np.array_equal(a.curve(500), c.curve(500))


def test_noisy_linear_cosine_noise_has_the_tf_variance():
    lr, d, v0, vd, beta = 1.0, 10_000, 1e-4, 0.55, 0.001
    s = S.make("noisy_linear_cosine", lr, d, initial_variance=v0, variance_decay=vd, beta=beta, seed=11)
    t = np.arange(0, 3000)  # cosine part ≥ 0.79 here, noise ≪ linear part: no clipping
    linear = (d - t) / d
    cosine = 0.5 * (1 + np.cos(np.pi * t / d))
    eps = (s.curve(t) / lr - beta) / cosine - linear  # alpha = 0
    z = eps / np.sqrt(v0 / (1.0 + t) ** vd)
    assert abs(z.mean()) < 0.1 and abs(z.std() - 1.0) < 0.06
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.1  # independent from step to step


def test_noisy_linear_cosine_is_clipped_at_beta_instead_of_going_negative():
    s = S.make("noisy_linear_cosine", 1.0, 200, initial_variance=25.0, beta=0.001)
    lrs = s.curve(400)
    assert lrs.min() == pytest.approx(0.001) and (lrs > 0).all()


def test_lambda_multiplies_base_lr_by_the_user_function():
    s = S.make("lambda", 0.2, 100, fn=halve_every_10)
    assert_formula(s, lambda t: 0.2 * 0.5 ** (t // 10), [0, 9, 10, 25, 99, 150])
    assert_formula(S.make("lambda", 0.2, 100), lambda t: 0.2, [0, 50, 200])  # no fn: constant


def cyclic_expected(t, lo, hi, s, mode, gamma=1.0):
    cycle = math.floor(1 + t / (2 * s))
    x = abs(t / s - 2 * cycle + 1)
    scale = {"triangular": 1.0, "triangular2": 1 / 2 ** (cycle - 1), "exp_range": gamma**t}[mode]
    return lo + (hi - lo) * max(0.0, 1 - x) * scale


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_triangle_between_min_lr_and_base_lr(mode):
    s = S.make("cyclic", 0.1, 200, min_lr=0.01, step_size=10, mode=mode, gamma=0.99)
    steps = [0, 1, 5, 9, 10, 11, 15, 20, 25, 30, 40, 50, 199, 250]
    assert_formula(s, lambda t: cyclic_expected(t, 0.01, 0.1, 10, mode, 0.99), steps)
    assert close(s(0), 0.01) and close(s(20), 0.01)
    assert close(s(10), 0.1 if mode != "exp_range" else 0.01 + 0.09 * 0.99**10)


def test_cyclic_triangular2_halves_the_amplitude_every_cycle():
    s = S.make("cyclic", 1.0, 200, min_lr=0.2, step_size=10, mode="triangular2")
    peaks = [s(10 + 20 * c) for c in range(4)]
    assert peaks == pytest.approx([1.0, 0.6, 0.4, 0.3])  # 0.2 + 0.8/2^c
    assert s(20) == s(40) == pytest.approx(0.2)


def test_cyclic_defaults_four_cycles_from_a_tenth_of_lr():
    s = S.make("cyclic", 0.1, 1000)
    assert s.params["min_lr"] == pytest.approx(0.01) and s.params["step_size"] == 125
    ex = S.make("cyclic", 0.1, 1000, mode="exp_range")  # default gamma: amplitude down to 10 % at T
    assert ex.params["gamma"] ** 1000 == pytest.approx(0.1)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_matches_torch_cyclic_lr(mode):
    s = S.make("cyclic", 0.1, 300, min_lr=0.02, step_size=13, mode=mode, gamma=0.995)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    ref = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.02, max_lr=0.1, step_size_up=13, mode=mode, gamma=0.995)
    for t in range(300):
        assert close(s(t), opt.param_groups[0]["lr"], rel=1e-10), t
        opt.step()
        ref.step()


def sgdr_expected(t, lr, t0, mult, eta_min):
    t_i, t_cur = t0, t
    while t_cur >= t_i:  # walk the restarts
        t_cur -= t_i
        t_i *= mult
    return eta_min + 0.5 * (lr - eta_min) * (1 + math.cos(math.pi * t_cur / t_i))


@pytest.mark.parametrize("t_mult", [1, 2, 3])
def test_sgdr_restarts_with_periods_growing_by_t_mult(t_mult):
    s = S.make("sgdr", 0.1, 500, T_0=10, T_mult=t_mult, eta_min=0.001)
    steps = [0, 1, 5, 9, 10, 11, 19, 20, 29, 30, 39, 40, 69, 70, 129, 130, 499, 1000, 12345]
    assert_formula(s, lambda t: sgdr_expected(t, 0.1, 10, t_mult, 0.001), steps)
    restarts = {1: [10, 20, 30], 2: [10, 30, 70], 3: [10, 40, 130]}[t_mult]
    for r in restarts:
        assert close(s(r), 0.1) and s(r - 1) < 0.01


@pytest.mark.parametrize(("t0", "t_mult", "eta_min"), [(10, 1, 0.0), (10, 2, 0.001), (7, 3, 0.0), (1, 2, 0.0)])
def test_sgdr_matches_torch_cosine_annealing_warm_restarts(t0, t_mult, eta_min):
    s = S.make("sgdr", 0.1, 1000, T_0=t0, T_mult=t_mult, eta_min=eta_min)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=t0, T_mult=t_mult, eta_min=eta_min)
    ours = s.curve(1000)
    for t in range(1000):
        assert close(ours[t], opt.param_groups[0]["lr"], rel=1e-10, abs_=1e-14), t
        opt.step()
        ref.step()


@pytest.mark.parametrize(
    ("total", "kw"),
    [
        (1000, {}),
        (100, {"pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}),
        (100, {"three_phase": True}),
        (100, {"anneal_strategy": "linear"}),
        (97, {"pct_start": 0.4, "three_phase": True, "anneal_strategy": "linear"}),
        (7, {}),
        (2, {}),
        (1, {}),
    ],
)
def test_one_cycle_matches_torch_one_cycle_lr(total, kw):
    s = S.make("one_cycle", 0.1, total, **kw)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    ref = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total, **kw)
    for t in range(total):
        assert close(s(t), opt.param_groups[0]["lr"], rel=1e-10), t
        opt.step()
        ref.step()
    d, f = kw.get("div_factor", 25.0), kw.get("final_div_factor", 1e4)
    assert close(s(total - 1), 0.1 / d / f) and s(total + 5) == s(total - 1)


def test_one_cycle_peaks_at_base_lr_after_pct_start():
    s = S.make("one_cycle", 0.1, 101, pct_start=0.5, div_factor=10.0, final_div_factor=10.0)
    assert close(s(0), 0.01) and close(s(49.5), 0.1) and close(s(100), 0.001)
    assert max(s.curve(101)) <= 0.1


# ------------------------------------------------------------------------------------------------ warm-up


def test_warmup_multiplies_the_schedule_by_a_linear_ramp():
    inner = S.make("cosine", 0.1, 100)
    s = S.warmup(inner, 10)
    assert_formula(s, lambda t: inner(t) * min(t, 10) / 10, [0, 1, 5, 9, 10, 11, 50, 100, 200])
    half = S.warmup(inner, 20, start_factor=0.5)
    assert_formula(half, lambda t: inner(t) * (0.5 + 0.5 * min(t, 20) / 20), [0, 10, 20, 40])
    assert S.warmup(inner, 0) is inner


def test_make_accepts_warmup_steps_for_every_schedule_and_round_trips_it():
    for name in ALL:
        plain = S.make(name, LR, T)
        s = S.make(name, LR, T, warmup_steps=50, warmup_start_factor=0.1)
        assert isinstance(s, S.Warmup) and s.name == plain.name
        assert s(0) == pytest.approx(0.1 * plain(0)) and s(25) == pytest.approx(0.55 * plain(25))
        assert s(50) == plain(50) and s(700) == plain(700)
        assert s.params["warmup_steps"] == 50
        assert S.make(s.name, s.base_lr, s.total_steps, **s.params) == s
    assert not isinstance(S.make("cosine", LR, T, warmup_steps=0), S.Warmup)


# ------------------------------------------------------------------------------------------------ pickling, equality


@pytest.mark.parametrize("name", ALL)
def test_every_schedule_pickles_and_computes_the_same_after(name):
    s = S.make(name, LR, T, warmup_steps=5)
    back = pickle.loads(pickle.dumps(s))
    assert back == s
    assert np.array_equal(back.curve(2 * T), s.curve(2 * T))


def test_lambda_schedule_pickles_with_a_module_level_function():
    s = S.make("lambda", 0.2, 100, fn=halve_every_10)
    back = pickle.loads(pickle.dumps(s))
    assert back(25) == s(25) == pytest.approx(0.05)


def test_schedules_compare_by_value_and_repr_shows_the_params():
    assert S.make("step", 0.1, 100, gamma=0.5) == S.make("step", 0.1, 100, gamma=0.5)
    assert S.make("step", 0.1, 100, gamma=0.5) != S.make("step", 0.1, 100, gamma=0.2)
    assert "gamma=0.5" in repr(S.make("step", 0.1, 100, gamma=0.5))


# ------------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("name", "kw", "message"),
    [
        ("step", {"gamma": -1}, "schedule 'step': gamma=-1 must be > 0"),
        ("step", {"step_size": 0}, "schedule 'step': step_size=0 must be an integer ≥ 1"),
        ("step", {"step_size": 2.5}, "step_size=2.5 must be an integer ≥ 1"),
        ("exponential", {"decay_rate": 0}, "decay_rate=0 must be > 0"),
        ("exponential", {"staircase": "yes"}, "staircase='yes' must be True or False"),
        ("natural_exp", {"decay_steps": -3}, "decay_steps=-3 must be an integer ≥ 1"),
        ("inverse_time", {"decay_rate": -0.5}, "decay_rate=-0.5 must be ≥ 0"),
        ("inverse_sqrt", {"warmup": -1}, "warmup=-1 must be an integer ≥ 0"),
        ("linear", {"end_lr": -0.1}, "end_lr=-0.1 must be ≥ 0"),
        ("polynomial", {"power": 0}, "power=0 must be > 0"),
        ("polynomial", {"cycle": 1}, "cycle=1 must be True or False"),
        ("cosine", {"alpha": 1.5}, r"schedule 'cosine': alpha=1.5 must be in \[0, 1\]"),
        ("cosine", {"alpha": float("nan")}, "alpha=nan must be a finite number"),
        ("linear_cosine", {"num_periods": -1}, "num_periods=-1 must be ≥ 0"),
        ("noisy_linear_cosine", {"initial_variance": -1.0}, "initial_variance=-1.0 must be ≥ 0"),
        ("noisy_linear_cosine", {"seed": -1}, "seed=-1 must be an integer ≥ 0"),
        ("cyclic", {"mode": "sine"}, "mode='sine' must be one of 'triangular', 'triangular2', 'exp_range'"),
        ("cyclic", {"min_lr": 0.5}, r"min_lr=0.5 must be in \[0, 0.1\]"),
        ("cyclic", {"gamma": 1.5}, r"gamma=1.5 must be in \(0, 1\]"),
        ("sgdr", {"T_mult": 0}, "T_mult=0 must be an integer ≥ 1"),
        ("sgdr", {"T_mult": 1.5}, "T_mult=1.5 must be an integer ≥ 1"),
        ("sgdr", {"T_0": 0}, "T_0=0 must be an integer ≥ 1"),
        ("one_cycle", {"pct_start": 2}, r"pct_start=2 must be in \[0, 1\]"),
        ("one_cycle", {"anneal_strategy": "cosine"}, "anneal_strategy='cosine' must be one of 'cos', 'linear'"),
        ("piecewise", {"boundaries": [20, 10]}, "boundaries=\\[20, 10\\] must be strictly increasing"),
        ("piecewise", {"boundaries": [10], "values": [0.1]}, "values=\\[0.1\\] must be 2 numbers"),
        ("piecewise", {"boundaries": [10], "multipliers": [1, -1]}, r"multipliers\[\]=-1 must be > 0"),
        ("piecewise", {"values": [1, 1, 1], "multipliers": [1, 1, 1]}, "give values or multipliers, not both"),
        ("lambda", {"fn": 3}, "fn=3 must be a function"),
        ("lambda", {"fn": lambda t: -1.0}, r"fn\(0\)=-1.0 must be a finite number ≥ 0"),
        ("cosine", {"warmup_steps": -1}, "warmup_steps=-1 must be an integer ≥ 0"),
        ("cosine", {"warmup_start_factor": 2}, r"warmup_start_factor=2 must be in \[0, 1\]"),
    ],
)
def test_bad_parameters_are_rejected_naming_the_value_and_the_allowed_range(name, kw, message):
    with pytest.raises(ValueError, match=message):
        S.make(name, 0.1, 100, **kw)


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    ("base_lr", "total_steps", "message"),
    [
        (0, 100, "base_lr=0 must be > 0"),
        (-0.1, 100, "base_lr=-0.1 must be > 0"),
        (float("inf"), 100, "base_lr=inf must be a finite number > 0"),
        ("0.1", 100, "base_lr='0.1' must be a finite number > 0"),
        (0.1, 0, "total_steps=0 must be an integer ≥ 1"),
        (0.1, 10.5, "total_steps=10.5 must be an integer ≥ 1"),
    ],
)
def test_base_lr_and_total_steps_are_checked_by_every_schedule(name, base_lr, total_steps, message):
    with pytest.raises(ValueError, match=f"schedule '{name}': {message}"):
        S.make(name, base_lr, total_steps)


def test_unknown_names_and_parameters_list_what_is_allowed():
    with pytest.raises(UnknownNameError, match="unknown schedule 'cosin'; allowed: constant, step"):
        S.make("cosin", 0.1, 100)
    with pytest.raises(TypeError, match="schedule 'cosine' has no parameter.*gama.*allowed: decay_steps, alpha"):
        S.make("cosine", 0.1, 100, gama=0.1)


def test_negative_steps_are_rejected():
    s = S.make("cosine", 0.1, 100)
    with pytest.raises(ValueError, match="step=-1 must be a number ≥ 0"):
        s(-1)
    with pytest.raises(ValueError, match="steps must be finite and ≥ 0"):
        s.curve([0, -2])


def test_lambda_function_errors_surface_at_the_bad_step():
    s = S.make("lambda", 0.1, 100, fn=lambda t: 1.0 if t < 5 else float("nan"))
    assert s(4) == 0.1
    with pytest.raises(ValueError, match=r"fn\(5\)=nan must be a finite number ≥ 0"):
        s(5)


def test_warmup_wrapper_checks_its_arguments():
    s = S.make("constant", 0.1, 100)
    with pytest.raises(ValueError, match="warmup_steps=1.5 must be an integer ≥ 0"):
        S.warmup(s, 1.5)
    with pytest.raises(ValueError, match=r"start_factor=-0.1 must be in \[0, 1\]"):
        S.warmup(s, 5, start_factor=-0.1)
    with pytest.raises(TypeError, match="schedule must be a Schedule"):
        S.warmup(lambda t: 0.1, 5)


# ------------------------------------------------------------------------------------------------ UI hints


@pytest.mark.parametrize("name", ALL)
def test_param_specs_cover_every_parameter_with_its_default(name):
    specs = S.param_specs(name)
    params = S.registry.get(name).params
    assert set(specs) == set(params) | {"warmup_steps", "warmup_start_factor"}
    for p, default in params.items():
        assert specs[p].default == default, p
        assert specs[p].kind in {"float", "log", "int", "bool", "choice", "list", "callable"}
        if specs[p].kind == "choice":
            assert specs[p].default in specs[p].choices


@pytest.mark.parametrize("name", ALL)
def test_param_specs_resolve_derived_defaults_and_bounds(name):
    specs = S.param_specs(name, LR, T)
    built = S.make(name, LR, T)
    for p, sp in specs.items():
        assert not isinstance(sp.low, str) and not isinstance(sp.high, str), p
        if p in built.params:
            assert sp.default == built.params[p], p
        if sp.kind in {"float", "log", "int"} and sp.low is not None and sp.high is not None:
            assert sp.low <= sp.default <= sp.high, (p, sp)
    assert S.param_specs("step", LR, T)["step_size"] == (334, 1, T, "int", ())
    assert S.param_specs("cyclic", LR, T)["min_lr"].high == LR


# ------------------------------------------------------------------------------------------------ torch adapter


def test_attach_drives_a_real_sgd_optimizer_step_by_step():
    torch.manual_seed(0)
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=123.0)  # overwritten by the schedule
    sched = S.make("step", 0.05, 30, step_size=10, gamma=0.5)
    scheduler = S.attach(opt, sched)
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    assert isinstance(scheduler, S.ScheduleLR)
    losses = []
    for t in range(30):
        assert opt.param_groups[0]["lr"] == sched(t)
        assert scheduler.get_last_lr() == [sched(t)]
        before = [p.detach().clone() for p in model.parameters()]
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        grads = [p.grad.detach().clone() for p in model.parameters()]
        opt.step()
        for p, b, g in zip(model.parameters(), before, grads):  # plain SGD: w ← w − lr·g with the schedule's lr
            torch.testing.assert_close(p.detach(), b - sched(t) * g)
        scheduler.step()
        losses.append(loss.item())
    assert scheduler.last_epoch == 30
    assert losses[-1] < losses[0]


def test_attach_keeps_the_ratio_of_extra_param_groups_and_can_start_later():
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.2}, {"params": [b], "lr": 0.02}])
    sched = S.make("cosine", 0.1, 100)
    scheduler = S.attach(opt, sched, start_step=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "lr_scheduler.step() before optimizer.step()" warning
        for t in range(40, 60):
            assert opt.param_groups[0]["lr"] == pytest.approx(sched(t))
            assert opt.param_groups[1]["lr"] == pytest.approx(sched(t) * 0.1)
            opt.step()
            scheduler.step()


def test_attach_state_dict_is_plain_data_and_resumes_the_step():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = S.make("sgdr", 0.1, 100, T_0=10)
    scheduler = S.attach(opt, sched)
    for _ in range(15):
        opt.step()
        scheduler.step()
    state = scheduler.state_dict()
    assert "schedule" not in state and state["last_epoch"] == 15
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    other = S.attach(opt2, sched)
    other.load_state_dict(state)
    opt2.step()
    other.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(sched(16))


def test_attach_schedule_can_be_swapped_between_steps():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = S.attach(opt, S.make("constant", 0.1, 100))
    opt.step()
    scheduler.step()
    scheduler.schedule = S.make("linear", 0.1, 100)
    opt.step()
    scheduler.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * (1 - 2 / 100))


def test_attach_rejects_a_negative_start_step():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ValueError, match="start_step=-1 must be an integer ≥ 0"):
        S.attach(opt, S.make("constant", 0.1, 10), start_step=-1)


def test_set_lr_sets_all_groups_or_each_group():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    S.set_lr(opt, 0.03)
    assert [g["lr"] for g in opt.param_groups] == [0.03, 0.03]
    S.set_lr(opt, [0.01, 0.002])
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.002]
    with pytest.raises(ValueError, match="got 1 lrs for 2 param groups"):
        S.set_lr(opt, [0.1])
    with pytest.raises(ValueError, match="lr=-1 must be a finite number ≥ 0"):
        S.set_lr(opt, -1)


def test_param_specs_of_a_schedule_registered_without_ui_hints():
    from nbtrain.engine import schedules as S

    @S.registry.register("halving_test")
    def _halving(base_lr, total_steps, /, *, every: int = 100, floor: float = 0.0):
        """lr·½^⌊t/every⌋, not below floor."""
        return S.make("step", base_lr, total_steps, step_size=every, gamma=0.5)

    try:
        specs = S.param_specs("halving_test")
        assert specs["every"] == S.ParamSpec(100, None, None, "int")
        assert specs["floor"].kind == "float" and "warmup_steps" in specs
    finally:
        S.registry.unregister("halving_test")
