"""Weight-scale demo: the lecture's five claims about per-layer activation std, as inequalities."""

import numpy as np
import pytest

from nbtrain.demos import weight_scale, weight_scale_data
from nbtrain.demos.init_scale import histogram_outlines


@pytest.fixture(scope="module")
def runs():
    settings = {
        "tanh/0.01": ("tanh", 0.01),
        "tanh/1.0": ("tanh", 1.0),
        "tanh/xavier": ("tanh", "xavier_normal"),
        "relu/xavier": ("relu", "xavier_normal"),
        "relu/he": ("relu", "he_normal"),
    }
    return {k: weight_scale_data(a, i) for k, (a, i) in settings.items()}  # 10 × 500 × 1000, the lecture size


def test_tanh_with_std_001_collapses_towards_zero(runs):
    std = runs["tanh/0.01"].std
    assert (np.diff(std) < 0).all()
    assert std[-1] < 1e-3 * std[0]


def test_tanh_with_std_1_saturates_at_plus_minus_one(runs):
    r = runs["tanh/1.0"]
    assert (r.saturated_fraction > 0.85).all()  # |a| > 0.99 in every layer
    assert (r.std > 0.9).all()


def test_tanh_with_xavier_stays_in_a_stable_band(runs):
    std = runs["tanh/xavier"].std
    assert ((std > 0.2) & (std < 0.7)).all(), std
    assert std[-1] > 0.3 * std[0]


def test_relu_with_xavier_loses_half_the_variance_per_layer(runs):
    std = runs["relu/xavier"].std
    ratios = std[1:] / std[:-1]
    assert ((ratios > 0.6) & (ratios < 0.8)).all(), ratios  # ≈ 1/√2
    assert std[-1] < 0.05 * std[0]


def test_relu_with_he_is_stable(runs):
    std = runs["relu/he"].std
    ratios = std[1:] / std[:-1]
    assert ((ratios > 0.85) & (ratios < 1.15)).all(), ratios
    assert (std > 0.5 * std[0]).all() and (std < 2 * std[0]).all()


def test_relu_zeros_are_counted_apart_from_the_histogram(runs):
    r = runs["relu/he"]
    np.testing.assert_allclose(r.zero_fraction, 0.5, atol=0.03)
    np.testing.assert_allclose(r.hist.sum(axis=1) + r.zero_fraction, 1.0, atol=0.03)


def test_weights_follow_the_initializer_times_scale():
    r = weight_scale_data("relu", "he_normal", depth=2, width=400, n=10, scale=3.0)
    np.testing.assert_allclose(r.weight_std, 3.0 * np.sqrt(2 / 400), rtol=0.02)
    r = weight_scale_data("tanh", 0.05, depth=2, width=400, n=10)
    np.testing.assert_allclose(r.weight_std, 0.05, rtol=0.02)
    assert r.init == "N(0, 0.05²)"


def test_same_seed_same_numbers():
    a = weight_scale_data("tanh", depth=3, width=50, n=100, seed=7)
    b = weight_scale_data("tanh", depth=3, width=50, n=100, seed=7)
    np.testing.assert_array_equal(a.std, b.std)
    np.testing.assert_array_equal(a.hist, b.hist)


def test_histogram_outlines_are_closed_and_offset_per_layer():
    hist = np.array([[0.2, 0.8], [0.5, 0.5]])
    xs, ys = histogram_outlines(hist, np.array([-1.0, 0.0, 1.0]))
    assert xs.shape == ys.shape == (2, 6)
    np.testing.assert_allclose(xs[:, 0], [1, 2])
    np.testing.assert_allclose(xs[:, -1], [1, 2])
    np.testing.assert_allclose(xs.max(axis=1), [1.85, 2.85])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tanh", -0.1), r"init_or_std \(a std\)=-0\.1 must be a number in \(0, 1000\]"),
        (("tanh", "bogus"), r"unknown initializer 'bogus'"),
        (("swish2", "he_normal"), r"unknown activation 'swish2'"),
    ],
)
def test_bad_arguments_name_the_value_and_what_is_allowed(args, message):
    with pytest.raises(ValueError, match=message):
        weight_scale_data(*args, depth=2, width=10, n=10)


def test_view_builds_and_redraws_when_controls_change():
    view = weight_scale(depth=4, width=100, n=200)
    hist, std = view.marks["hist"], view.marks["std"]
    h0, s0 = np.array(hist.x), np.array(std.y)
    assert s0[-1] < 1e-2 * s0[0]  # default: tanh, std 0.01 → collapse
    view.controls["scale"].value = 100.0  # std 1: saturation
    assert not np.array_equal(np.array(hist.x), h0)
    assert np.array(std.y).min() > 0.9
    view.controls["activation"].value = "relu"
    view.controls["init"].value = "he_normal"
    view.controls["scale"].value = 1.0
    assert "he_normal" in view.figures[0].title
