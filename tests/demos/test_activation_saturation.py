"""Saturation demo: saturated share grows with weight scale, gradients vanish, ReLUs die."""

import numpy as np
import pytest

from nbtrain.demos import dead_relu_data, saturation, saturation_data
from nbtrain.demos.activation_saturation import activation_curve

SCALES = [0.25, 0.5, 1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturated_share_rises_with_weight_scale(activation):
    shares = [saturation_data(activation, scale=s, depth=4, width=128).saturated_fraction.mean() for s in SCALES]
    assert all(b >= a for a, b in zip(shares, shares[1:])), shares
    assert shares[0] < 0.01 and shares[-1] > 0.45


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturated_units_have_small_local_gradients(activation):
    slopes = [saturation_data(activation, scale=s, depth=4, width=128).mean_local_grad.mean() for s in SCALES]
    assert all(b < a for a, b in zip(slopes, slopes[1:])), slopes


def test_tiny_weights_make_the_backward_signal_vanish_layer_by_layer():
    small = saturation_data("tanh", "small_gaussian", depth=6, width=256)
    xavier = saturation_data("tanh", "xavier_normal", depth=6, width=256)
    assert (np.diff(small.delta_norm) > 0).all()  # shrinks going back towards the input
    assert small.delta_norm[0] < 1e-3 * small.delta_norm[-1]
    assert small.grad_norm.max() < 1e-2 * xavier.grad_norm.min()  # dL/dW = δ·xᵀ with x ≈ 0 too: no learning
    assert xavier.delta_norm[0] > 0.2 * xavier.delta_norm[-1]


def test_sigmoid_slopes_below_a_quarter_make_gradients_vanish_even_with_xavier():
    r = saturation_data("sigmoid", "xavier_normal", depth=6, width=256)
    assert (r.mean_local_grad <= 0.25).all()
    assert r.delta_norm[0] < 1e-2 * r.delta_norm[-1]


def test_saturation_shrinks_the_backward_signal():
    ok, saturated = saturation_data("sigmoid", scale=1.0), saturation_data("sigmoid", scale=8.0)
    assert saturated.mean_local_grad.mean() < 0.5 * ok.mean_local_grad.mean()


def test_large_negative_bias_kills_relu_units():
    ok = saturation_data("relu", "he_normal", depth=4, width=128, bias=0.0)
    killed = saturation_data("relu", "he_normal", depth=4, width=128, bias=-3.0)
    assert ok.dead_units[0] == 0
    assert (killed.dead_units[1:] == 128).all()
    assert killed.saturated_fraction[-1] == 1.0  # for ReLU the "stuck" share is the dead share


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_too_high_learning_rate_kills_relu_units(seed):
    gentle, hot = dead_relu_data(lr=0.01, seed=seed), dead_relu_data(lr=1.0, seed=seed)
    np.testing.assert_array_equal(gentle.dead_before, hot.dead_before)  # same start
    assert gentle.dead_after.sum() - gentle.dead_before.sum() <= 2
    assert hot.dead_after.sum() >= hot.dead_before.sum() + 30


def test_activation_curve_derivative_matches_the_formulas():
    x = np.linspace(-4, 4, 17)
    y, dy = activation_curve("tanh", x)
    np.testing.assert_allclose(dy, 1 - np.tanh(x) ** 2, atol=1e-6)
    y, dy = activation_curve("sigmoid", x)
    np.testing.assert_allclose(dy, y * (1 - y), atol=1e-6)


def test_histograms_are_shares_over_a_fixed_window():
    r = saturation_data("tanh", scale=10.0, depth=3, width=64)
    np.testing.assert_allclose(r.hist.sum(axis=1), 1.0, atol=1e-6)
    assert r.edges[0] == -6.0 and r.edges[-1] == 6.0
    assert r.hist[:, [0, -1]].sum() > 0.3  # at scale 10 many pre-activations pile up beyond ±6


def test_activations_that_neither_saturate_nor_die_report_zero_share():
    r = saturation_data("gelu", depth=3, width=64)
    assert r.kind == "" and (r.saturated_fraction == 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0.0}, r"scale=0\.0 must be a number in \(0, 1000\]"),
        ({"depth": 0}, r"depth=0 must be an integer in \[1, 50\]"),
        ({"init": "ones"}, r"unknown initializer 'ones'; allowed: zeros"),
    ],
)
def test_bad_arguments_name_the_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        saturation_data(**kwargs)


def test_view_builds_and_redraws_when_controls_change():
    view = saturation(depth=4, width=64)
    hist, bars, dead = view.marks["hist"], view.marks["saturation"], view.marks["dead"]
    h0, s0, d0 = np.array(hist.y), np.array(bars.y), np.array(dead.y)
    view.controls["scale"].value = 8.0
    assert not np.array_equal(np.array(hist.y), h0)
    assert np.array(bars.y).mean() > s0.mean()
    view.controls["lr"].value = 0.01
    assert not np.array_equal(np.array(dead.y), d0)
    view.controls["depth"].value = 3
    assert len(bars.x) == 3 and view.controls["layer"].max == 3
