"""Zig-zag demo: sigmoid inputs make every gradient step one-signed; zero-centred inputs do not."""

import numpy as np
import pytest

from nbtrain.demos import zigzag, zigzag_data
from nbtrain.demos.activation_zigzag import contour_ellipses

SEEDS = range(5)


@pytest.mark.parametrize("seed", SEEDS)
def test_sigmoid_inputs_give_same_sign_gradient_components_on_every_step(seed):
    r = zigzag_data("sigmoid", seed=seed)
    assert r.same_sign_fraction == 1.0
    assert (r.inputs > 0).all()


@pytest.mark.parametrize("seed", SEEDS)
def test_tanh_inputs_mix_gradient_signs(seed):
    assert zigzag_data("tanh", seed=seed).same_sign_fraction < 0.8


def test_relu_inputs_are_one_signed_too():
    assert zigzag_data("relu").same_sign_fraction == 1.0


@pytest.mark.parametrize("seed", SEEDS)
def test_zero_centred_inputs_converge_several_times_faster(seed):
    sig, tanh = zigzag_data("sigmoid", seed=seed), zigzag_data("tanh", seed=seed)
    assert sig.steps_to_converge is not None and tanh.steps_to_converge is not None
    assert tanh.steps_to_converge * 3 < sig.steps_to_converge
    assert sig.condition_number > 5 * tanh.condition_number


def test_path_follows_the_sgd_rule_with_the_stated_gradient():
    r = zigzag_data("sigmoid", steps=40, lr=0.3)
    steps = np.diff(r.path, axis=0)
    np.testing.assert_allclose(steps, -0.3 * r.grads, atol=1e-12)
    # the gradient is (w·a − t)·a for one input row a: parallel to a positive vector
    for g in r.grads:
        assert (g >= 0).all() or (g <= 0).all()
    d = r.path - r.optimum
    np.testing.assert_allclose(r.loss, 0.5 * np.einsum("ni,ij,nj->n", d, r.hessian, d), rtol=1e-9, atol=1e-15)


def test_same_seed_same_numbers_and_other_seed_other_numbers():
    a, b, c = zigzag_data("tanh", seed=3), zigzag_data("tanh", seed=3), zigzag_data("tanh", seed=4)
    np.testing.assert_array_equal(a.path, b.path)
    assert not np.array_equal(a.path, c.path)


def test_too_high_learning_rate_is_reported_as_divergence():
    r = zigzag_data("tanh", lr=9.0)
    assert r.diverged and r.steps_to_converge is None
    assert len(r.path) == len(r.loss) == len(r.grads) + 1


def test_contour_ellipses_lie_on_their_loss_level():
    h = np.array([[2.0, 0.5], [0.5, 0.3]])
    centre = np.array([1.0, -1.0])
    levels = np.array([0.1, 1.0])
    xs, ys = contour_ellipses(h, centre, levels)
    for level, x, y in zip(levels, xs, ys):
        d = np.stack([x, y], axis=1) - centre
        np.testing.assert_allclose(0.5 * np.einsum("ni,ij,nj->n", d, h, d), level, rtol=1e-9)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": -1.0}, r"lr=-1\.0 must be a number in \(0, 10\]"),
        ({"steps": 0}, r"steps=0 must be an integer in \[1, 100000\]"),
        ({"seed": -2}, r"seed=-2"),
        ({"activation": "softplus"}, r"unknown activation 'softplus'; allowed: sigmoid, tanh"),
        ({"start": (0.0,)}, r"start=\(0\.0,\)"),
    ],
)
def test_bad_arguments_name_the_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        zigzag_data(**kwargs)


def test_view_builds_and_redraws_when_controls_change():
    view = zigzag(steps=100)
    path = view.marks["left_path"]
    x0 = np.array(path.x)
    assert len(x0) == 101 and "100% same-sign" in view.figures[0].title
    view.controls["lr"].value = 0.2
    assert not np.array_equal(np.array(path.x), x0)
    view.controls["left"].value = "tanh"
    assert view.figures[0].title.startswith("tanh:")
    assert len(view.marks["left_mixed"].x) > 0
    view.controls["steps"].value = 50
    assert len(view.marks["loss"].x) == 51
