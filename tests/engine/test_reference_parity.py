"""nbtrain against references it did not write: torch.optim.lr_scheduler, torch.nn.init, torch.optim, and the
Keras 3 / TensorFlow schedule formulas (written here from their documentation). Every convention in which
nbtrain differs from a reference is asserted explicitly; docs/reference.md lists the same mapping."""

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim import lr_scheduler as L

import nbtrain as nt
from nbtrain.engine import init as init_mod
from nbtrain.engine import schedules

BASE, T, STEPS = 0.1, 1000, 1200  # every comparison runs past the horizon T


def torch_lrs(make_scheduler, steps=STEPS, base=BASE):
    """The lr torch uses for update t = 0 … steps−1 (read before each optimizer step)."""
    w = nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([w], lr=base)
    sched = make_scheduler(opt)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Detected call of lr_scheduler.step() before optimizer.step()" etc.
        for i in range(steps):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            if i < steps - 1:
                sched.step()
    return np.array(out)


def ours(name, steps=STEPS, total=T, base=BASE, **params):
    return schedules.make(name, base, total, **params).curve(steps)


# ---- schedules vs torch.optim.lr_scheduler ------------------------------------------------------------------

TORCH_EQUIVALENT = {
    # name: (our params, torch scheduler factory, steps where they agree (None: all of them))
    "constant": ({}, lambda o: L.ConstantLR(o, factor=1.0, total_iters=0), None),
    "step": ({"step_size": 100, "gamma": 0.5}, lambda o: L.StepLR(o, step_size=100, gamma=0.5), T + 1),
    "piecewise": ({"boundaries": [300, 700], "multipliers": [1.0, 0.1, 0.01]},
                  lambda o: L.MultiStepLR(o, milestones=[300, 700], gamma=0.1), None),
    "exponential": ({"decay_rate": 0.5, "decay_steps": 100},
                    lambda o: L.ExponentialLR(o, gamma=0.5 ** (1 / 100)), T + 1),
    "exponential_staircase": ({"decay_rate": 0.5, "decay_steps": 100, "staircase": True},
                              lambda o: L.StepLR(o, step_size=100, gamma=0.5), T + 1),
    "natural_exp": ({"decay_rate": 0.3, "decay_steps": 100},
                    lambda o: L.ExponentialLR(o, gamma=math.exp(-0.3 / 100)), T + 1),
    "linear": ({"end_lr": 0.01}, lambda o: L.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=T), None),
    "polynomial": ({"power": 2.0}, lambda o: L.PolynomialLR(o, total_iters=T, power=2.0), None),
    "cosine": ({"alpha": 0.1}, lambda o: L.CosineAnnealingLR(o, T_max=T, eta_min=0.1 * BASE), T + 1),
    "sgdr": ({"T_0": 100, "T_mult": 2, "eta_min": 0.001},
             lambda o: L.CosineAnnealingWarmRestarts(o, T_0=100, T_mult=2, eta_min=0.001), None),
    "sgdr_constant_period": ({"T_0": 150, "T_mult": 1},
                             lambda o: L.CosineAnnealingWarmRestarts(o, T_0=150, T_mult=1), None),
    "one_cycle": ({"pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4},
                  lambda o: L.OneCycleLR(o, max_lr=BASE, total_steps=T, pct_start=0.3, div_factor=25.0,
                                         final_div_factor=1e4, cycle_momentum=False), T),
    "one_cycle_three_phase_linear": ({"three_phase": True, "anneal_strategy": "linear"},
                                     lambda o: L.OneCycleLR(o, max_lr=BASE, total_steps=T, three_phase=True,
                                                            anneal_strategy="linear", cycle_momentum=False), T),
    "cyclic": ({"min_lr": 0.01, "step_size": 125},
               lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=BASE, step_size_up=125, cycle_momentum=False), None),
    "cyclic_triangular2": ({"min_lr": 0.01, "step_size": 125, "mode": "triangular2"},
                           lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=BASE, step_size_up=125, mode="triangular2",
                                                cycle_momentum=False), None),
    "cyclic_exp_range": ({"min_lr": 0.01, "step_size": 125, "mode": "exp_range", "gamma": 0.999},
                         lambda o: L.CyclicLR(o, base_lr=0.01, max_lr=BASE, step_size_up=125, mode="exp_range",
                                              gamma=0.999, cycle_momentum=False), None),
    "lambda": ({"fn": lambda t: 0.5 ** (t // 200)}, lambda o: L.LambdaLR(o, lambda t: 0.5 ** (t // 200)), None),
    "warmup": ({"warmup_steps": 100, "warmup_start_factor": 0.1},
               lambda o: L.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=100), None),
}


def _name(key):
    return {"exponential_staircase": "exponential", "sgdr_constant_period": "sgdr", "one_cycle_three_phase_linear":
            "one_cycle", "cyclic_triangular2": "cyclic", "cyclic_exp_range": "cyclic", "warmup": "constant"}.get(key, key)


@pytest.mark.parametrize("key", sorted(TORCH_EQUIVALENT))
def test_schedule_equals_torch_lr_scheduler(key):
    params, factory, agree = TORCH_EQUIVALENT[key]
    n = agree or STEPS
    ref = torch_lrs(factory, steps=STEPS if key != "one_cycle" and not key.startswith("one_cycle") else n)
    mine = ours(_name(key), **params)
    assert n >= 1000
    # torch's chainable schedulers multiply step by step (float drift ~1e-13); ours evaluate the closed form
    np.testing.assert_allclose(mine[:n], ref[:n], rtol=1e-9, atol=1e-15)


def test_every_schedule_is_compared_to_a_reference():
    with_torch = {_name(k) for k in TORCH_EQUIVALENT}
    with_formula = {"inverse_time", "linear_cosine", "noisy_linear_cosine", "polynomial", "inverse_sqrt"}
    assert set(schedules.names()) <= with_torch | with_formula


def test_convention_hold_after_T_differs_from_torch_for_step_exponential_and_cosine():
    # nbtrain holds a decaying schedule's value at t ≥ T; StepLR/ExponentialLR keep decaying, and
    # CosineAnnealingLR climbs back up (it is periodic in 2·T_max)
    for key in ("step", "exponential", "natural_exp", "cosine"):
        params, factory, _ = TORCH_EQUIVALENT[key]
        ref, mine = torch_lrs(factory), ours(key, **params)
        assert (mine[T:] == mine[T]).all(), key
        assert not np.allclose(ref[T + 100:], mine[T + 100:], rtol=1e-6), key
    ref = torch_lrs(TORCH_EQUIVALENT["cosine"][1])
    assert ref[T + 150] > ref[T]  # torch's cosine rises again after T_max


def test_convention_one_cycle_holds_its_minimum_where_torch_stops():
    params, factory, _ = TORCH_EQUIVALENT["one_cycle"]
    mine = ours("one_cycle", **params)
    assert (mine[T - 1:] == mine[T - 1]).all() and mine[T - 1] == pytest.approx(BASE / 25 / 1e4)
    with pytest.raises(ValueError, match="Tried to step"):  # torch's OneCycleLR refuses to step past total_steps
        torch_lrs(factory, steps=T + 2)


# ---- schedules vs Keras 3 / TensorFlow formulas (from their documentation) ---------------------------------

def keras_piecewise_constant(step, boundaries, values):
    """keras.optimizers.schedules.PiecewiseConstantDecay: values[0] while step <= b0, values[1] while
    b0 < step <= b1, …"""
    for b, v in zip(boundaries, values):
        if step <= b:
            return v
    return values[-1]


def keras_polynomial(step, lr, decay_steps, end, power, cycle):
    if cycle:
        decay_steps = decay_steps * max(1.0, math.ceil(step / decay_steps))
    else:
        step = min(step, decay_steps)
    return (lr - end) * (1 - step / decay_steps) ** power + end


def keras_cosine(step, lr, decay_steps, alpha):
    step = min(step, decay_steps)
    return lr * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * step / decay_steps)) + alpha)


def keras_exponential(step, lr, decay_steps, rate, staircase):
    p = step / decay_steps
    return lr * rate ** (math.floor(p) if staircase else p)


def keras_inverse_time(step, lr, decay_steps, rate, staircase):
    p = step / decay_steps
    return lr / (1 + rate * (math.floor(p) if staircase else p))


def tf_natural_exp(step, lr, decay_steps, rate):  # tf.compat.v1.train.natural_exp_decay
    return lr * math.exp(-rate * step / decay_steps)


def tf_linear_cosine(step, lr, decay_steps, num_periods, alpha, beta):  # tf.compat.v1.train.linear_cosine_decay
    step = min(step, decay_steps)
    linear = (decay_steps - step) / decay_steps
    cosine = 0.5 * (1 + math.cos(math.pi * 2 * num_periods * step / decay_steps))
    return lr * ((alpha + linear) * cosine + beta)


def test_piecewise_switches_at_the_boundary_keras_one_step_later():
    s = schedules.make("piecewise", BASE, T, boundaries=[300, 700], values=[0.1, 0.05, 0.01])
    for t in range(STEPS):
        k = keras_piecewise_constant(t, [300, 700], [0.1, 0.05, 0.01])
        if t in (300, 700):  # the documented difference: ours (like MultiStepLR) has switched, Keras not yet
            assert s(t) != k and s(t) == keras_piecewise_constant(t + 1, [300, 700], [0.1, 0.05, 0.01])
        else:
            assert s(t) == k, t


@pytest.mark.parametrize("cycle", [False, True])
def test_polynomial_equals_keras_polynomial_decay(cycle):
    s = schedules.make("polynomial", BASE, T, decay_steps=300, power=1.5, end_lr=0.001, cycle=cycle)
    ref = [keras_polynomial(t, BASE, 300, 0.001, 1.5, cycle) for t in range(STEPS)]
    np.testing.assert_allclose(s.curve(STEPS), ref, rtol=1e-12)


def test_cosine_equals_keras_cosine_decay_including_hold_after_decay_steps():
    s = schedules.make("cosine", BASE, T, decay_steps=800, alpha=0.05)
    np.testing.assert_allclose(s.curve(STEPS), [keras_cosine(t, BASE, 800, 0.05) for t in range(STEPS)], rtol=1e-12)


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_and_inverse_time_equal_keras_up_to_T_then_hold(staircase):
    e = schedules.make("exponential", BASE, T, decay_rate=0.7, decay_steps=90, staircase=staircase)
    i = schedules.make("inverse_time", BASE, T, decay_rate=0.5, decay_steps=90, staircase=staircase)
    for t in range(STEPS):
        ke, ki = keras_exponential(t, BASE, 90, 0.7, staircase), keras_inverse_time(t, BASE, 90, 0.5, staircase)
        if t <= T:
            assert e(t) == pytest.approx(ke, rel=1e-12) and i(t) == pytest.approx(ki, rel=1e-12)
        else:  # Keras keeps decaying after T; nbtrain holds the value of T (documented convention)
            assert e(t) == e(T) >= ke and i(t) == i(T) >= ki
    assert e(STEPS) > keras_exponential(STEPS, BASE, 90, 0.7, staircase)
    assert i(STEPS) > keras_inverse_time(STEPS, BASE, 90, 0.5, staircase)


def test_natural_exp_and_linear_cosine_equal_the_tf_formulas():
    n = schedules.make("natural_exp", BASE, T, decay_rate=0.4, decay_steps=100)
    lc = schedules.make("linear_cosine", BASE, T, decay_steps=800, num_periods=2.0, alpha=0.1, beta=0.01)
    for t in range(T + 1):
        assert n(t) == pytest.approx(tf_natural_exp(t, BASE, 100, 0.4), rel=1e-12)
    np.testing.assert_allclose(lc.curve(STEPS), [tf_linear_cosine(t, BASE, 800, 2.0, 0.1, 0.01) for t in range(STEPS)],
                               rtol=1e-12)


def test_noisy_linear_cosine_clips_where_tf_would_go_negative_and_that_biases_the_mean_up():
    p = dict(decay_steps=T, num_periods=0.5, alpha=0.0, beta=0.0, initial_variance=1.0, variance_decay=0.55)
    t = np.array([0.0, 900.0])
    clipped, tf = [], []
    for seed in range(3000):
        eps = np.sqrt(1.0 / (1 + t) ** 0.55) * schedules.formulas._gaussian(seed, t)  # the noise of this seed
        linear, cos = (T - t) / T, 0.5 * (1 + np.cos(np.pi * t / T))
        tf.append(BASE * (linear + eps) * cos)  # TF's noisy_linear_cosine_decay: no clip, can be negative
        clipped.append(schedules.make("noisy_linear_cosine", BASE, T, seed=seed, **p).curve(t))
        np.testing.assert_allclose(clipped[-1], BASE * np.maximum(linear + eps, 0) * cos, rtol=1e-12)
    clipped, tf = np.array(clipped), np.array(tf)
    assert (tf < 0).any(axis=0).all()  # what the clip prevents
    bias = clipped.mean(axis=0) / (BASE * (T - t) / T * 0.5 * (1 + np.cos(np.pi * t / T)))  # vs the noise-free rate
    # E[max(μ + σZ, 0)] / μ = Φ(μ/σ) + (σ/μ)·φ(μ/σ): ×1.083 at t = 0 (μ = σ = 1), more as μ/σ falls
    def expected(mu, sigma):
        r = mu / sigma
        return 0.5 * (1 + math.erf(r / math.sqrt(2))) + math.exp(-r * r / 2) / math.sqrt(2 * math.pi) / r

    sigmas = np.sqrt(1.0 / (1 + t) ** 0.55)
    ref = [expected((T - ti) / T, si) for ti, si in zip(t, sigmas)]
    np.testing.assert_allclose(bias, ref, rtol=0.03)
    assert ref[0] == pytest.approx(1.083, abs=1e-3) and ref[1] > ref[0]


# ---- initializers vs torch.nn.init ----------------------------------------------------------------------------

SHAPES = [(300, 200), (16, 8, 3, 3), (8, 4, 5), (6, 4, 2, 3, 3), (4, 6, 3, 3)]  # linear, conv2d, conv1d, conv3d, convT
TORCH_INIT = {
    "zeros": ({}, nn.init.zeros_),
    "small_gaussian": ({"std": 0.03}, lambda w: nn.init.normal_(w, 0.0, 0.03)),
    "large_gaussian": ({}, lambda w: nn.init.normal_(w, 0.0, 1.0)),
    "xavier_normal": ({"gain": 1.3}, lambda w: nn.init.xavier_normal_(w, gain=1.3)),
    "xavier_uniform": ({}, nn.init.xavier_uniform_),
    "he_normal": ({}, lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")),
    "he_normal_leaky": ({"a": 0.2}, lambda w: nn.init.kaiming_normal_(w, a=0.2, nonlinearity="leaky_relu")),
    "he_uniform": ({}, lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu")),
    "orthogonal": ({"gain": 2.0}, lambda w: nn.init.orthogonal_(w, gain=2.0)),
    "pytorch_default": ({}, lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5))),
    "lecun_normal": ({}, lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear")),
    "lecun_uniform": ({}, lambda w: nn.init.kaiming_uniform_(w, nonlinearity="linear")),
    "zero_init_residual": ({}, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
}


def _draw(fn, shape, seed):
    w = torch.empty(shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fn(w)
    return w


@pytest.mark.parametrize("key", sorted(TORCH_INIT))
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s) for s in SHAPES])
def test_initializer_draw_is_identical_to_torch_nn_init(key, shape):
    params, ref = TORCH_INIT[key]
    name = key.removesuffix("_leaky")
    for seed in (0, 7):
        mine = _draw(init_mod.make(name, **params), shape, seed)
        assert torch.equal(mine, _draw(ref, shape, seed)), (key, shape, seed)


def test_every_initializer_is_compared_with_torch():
    assert set(init_mod.names()) == {k.removesuffix("_leaky") for k in TORCH_INIT}


def test_pytorch_default_is_what_nn_linear_and_nn_conv_draw_themselves():
    for make_layer in (lambda: nn.Linear(50, 30), lambda: nn.Conv2d(3, 8, 5)):
        torch.manual_seed(3)
        layer = make_layer()  # reset_parameters(): weight first, then bias
        mine = _draw(init_mod.make("pytorch_default"), tuple(layer.weight.shape), 3)
        assert torch.equal(mine, layer.weight.detach())


@pytest.mark.parametrize("activation, torch_name, param", [
    ("sigmoid", "sigmoid", None), ("tanh", "tanh", None), ("relu", "relu", None),
    ("leaky_relu", "leaky_relu", 0.01), ("identity", "linear", None)])
def test_gain_auto_is_torchs_calculate_gain(activation, torch_name, param):
    expected = nn.init.calculate_gain(torch_name, param)
    assert init_mod.gain_for(activation) == expected
    net = nt.models.make("mlp", input_shape=(40,), num_classes=3, hidden=[60, 60], activation=activation)
    init_mod.apply(net, "xavier_normal", gain="auto", generator=torch.Generator().manual_seed(0))
    std = net.blocks[0].layer.weight.std().item()
    assert abs(std / (expected * math.sqrt(2 / (40 + 60))) - 1) < 0.1
    for shape in SHAPES[:2]:
        mine = _draw(init_mod.make("xavier_uniform", activation=activation, gain="auto"), shape, 1)
        assert torch.equal(mine, _draw(lambda w: nn.init.xavier_uniform_(w, gain=expected), shape, 1))


def test_gain_auto_for_selu_is_1_not_calculate_gains_three_quarters():
    # torch's docs: for self-normalising nets use nonlinearity='linear' (Var = 1/fan_in), not calculate_gain('selu')
    assert nn.init.calculate_gain("selu") == 0.75 and init_mod.gain_for("selu") == 1.0
    net = nt.models.make("mlp", input_shape=(8,), num_classes=2, hidden=[8], activation="leaky_relu")
    net.blocks[0].act.negative_slope = 0.3
    name, slope = init_mod._auto_gain_activation(net)
    assert (name, slope) == ("leaky_relu", 0.3)
    assert init_mod.gain_for(name, slope) == nn.init.calculate_gain("leaky_relu", 0.3)
    with pytest.raises(ValueError, match="gain='auto' needs the activation"):
        init_mod.registry.make("xavier_normal", gain="auto")


def test_selu_self_normalises_with_lecun_normal_and_not_with_he():
    lecun = nt.demos.weight_scale_data("selu", "lecun_normal", depth=20, width=300, n=500)
    he = nt.demos.weight_scale_data("selu", "he_normal", depth=20, width=300, n=500)
    assert ((lecun.std > 0.85) & (lecun.std < 1.15)).all(), lecun.std
    assert np.abs(lecun.mean).max() < 0.15
    assert he.std[-1] > 3 * he.std[0]  # SELU + He grows layer after layer


def test_apply_reinitialises_conv_transpose_and_names_the_layers_it_skips():
    net = nn.Sequential(nn.Embedding(10, 4), nn.LSTM(4, 6), nn.Bilinear(3, 3, 2), nn.ConvTranspose2d(3, 5, 3),
                        nn.Linear(5, 2), nn.LayerNorm(2))
    assert init_mod.skipped(net) == ["0 (Embedding)", "1 (LSTM)", "2 (Bilinear)"]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.warns(UserWarning, match=r"left as they were: 0 \(Embedding\), 1 \(LSTM\), 2 \(Bilinear\)"):
        init_mod.apply(net, "zeros")
    assert torch.count_nonzero(net[3].weight) == 0 and torch.count_nonzero(net[4].weight) == 0
    for k in ("0.weight", "1.weight_ih_l0", "2.weight", "5.weight"):
        assert torch.equal(net.state_dict()[k], before[k]), k
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init_mod.apply(nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3)), "he_normal")  # nothing skipped


def test_trainer_reinit_warns_about_skipped_layers_of_a_user_model():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Bilinear(2, 2, 8), nn.Linear(8, 3)

        def forward(self, x):
            return self.fc(torch.relu(self.emb(x, x)))

    with nt.Trainer(model=Net(), data="spiral", device="cpu") as tr:
        with pytest.warns(UserWarning, match=r"emb \(Bilinear\)"):
            tr.reinit("he_normal").result(10)


# ---- optimizers vs torch.optim --------------------------------------------------------------------------------

TORCH_OPTIM = {
    "sgd": (0.1, {}, lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (0.05, {}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "nesterov": (0.05, {}, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    "adagrad": (0.1, {}, lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-10)),
    "rmsprop": (0.01, {}, lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8)),
    "adadelta": (1.0, {}, lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-6)),
    "adam": (0.01, {}, lambda p: torch.optim.Adam(p, lr=0.01)),
    "adamw": (0.01, {}, lambda p: torch.optim.AdamW(p, lr=0.01)),  # torch's default weight_decay 0.01
}


def _trajectory(make_opt, steps=50, weight_decay_model=False):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    X, y = torch.randn(64, 4, generator=torch.Generator().manual_seed(1)), torch.arange(64) % 3
    opt = make_opt(list(model.parameters()))
    out = []
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
        out.append(torch.cat([p.detach().flatten().clone() for p in model.parameters()]))
    return out


@pytest.mark.parametrize("name", sorted(TORCH_OPTIM))
def test_optimizer_trajectory_is_identical_to_torch_optim(name):
    lr, hyper, ref = TORCH_OPTIM[name]
    mine = _trajectory(lambda p: nt.optimizers.make(name, p, lr=lr, **hyper))
    theirs = _trajectory(ref)
    for step, (a, b) in enumerate(zip(mine, theirs)):
        assert torch.equal(a, b), (name, step)


@pytest.mark.parametrize("name", sorted(TORCH_OPTIM))
def test_optimizer_with_weight_decay_is_identical_to_torch_optim(name):
    lr, _, _ = TORCH_OPTIM[name]
    cls = type(nt.optimizers.make(name, [nn.Parameter(torch.zeros(1))], lr=lr))
    defaults = dict(nt.optimizers.make(name, [nn.Parameter(torch.zeros(1))], lr=lr).defaults)
    defaults.update(lr=lr, weight_decay=1e-2 if name != "adamw" else 0.1)
    mine = _trajectory(lambda p: nt.optimizers.make(name, p, lr=lr, weight_decay=defaults["weight_decay"]))
    theirs = _trajectory(lambda p: cls(p, **{k: v for k, v in defaults.items() if k in _ctor_args(cls)}))
    for a, b in zip(mine, theirs):
        assert torch.equal(a, b), name


def _ctor_args(cls):
    import inspect

    return set(inspect.signature(cls.__init__).parameters) - {"self", "params"}


def test_every_optimizer_is_compared_with_torch():
    assert set(nt.optimizers.names()) == set(TORCH_OPTIM)


def test_convention_adamw_default_decay_is_torchs_but_the_trainer_starts_at_zero():
    w = [nn.Parameter(torch.zeros(1))]
    assert nt.optimizers.make("adamw", w, lr=0.1).defaults["weight_decay"] == 0.01 == torch.optim.AdamW(w).defaults["weight_decay"]
    assert nt.optimizers.make("adamw", w, lr=0.1, weight_decay=0.0).defaults["weight_decay"] == 0.0
    with nt.Trainer(data="spiral", optimizer="adamw", hidden=[8], device="cpu") as tr:  # TrainConfig.weight_decay = 0
        assert tr.optimizer.defaults["weight_decay"] == 0.0
        tr.config.weight_decay = 0.01
        tr.step(1).wait(timeout=10)
        assert tr.optimizer.param_groups[0]["weight_decay"] == 0.01


def test_the_reference_table_lists_every_schedule_initializer_and_optimizer():
    import pathlib

    doc = (pathlib.Path(__file__).parents[2] / "docs" / "reference.md").read_text()
    rows = {line.split("|")[1].strip() for line in doc.splitlines() if line.startswith("| `")}
    names = {r.split("`")[1] for r in rows}
    assert set(schedules.names()) | set(init_mod.names()) | set(nt.optimizers.names()) <= names
