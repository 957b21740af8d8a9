"""Dropout demo: inverted dropout keeps the mean; dropout and L2 shrink the over-fitting gap."""

import numpy as np
import pytest

from nbtrain.demos import dropout, dropout_data, inverted_dropout_data


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_inverted_dropout_keeps_the_mean(p):
    r = inverted_dropout_data(p)
    assert r.train_mean == pytest.approx(r.eval_mean, rel=0.02)
    assert r.unscaled_mean == pytest.approx((1 - p) * r.eval_mean, rel=0.02)
    assert r.kept_fraction == pytest.approx(1 - p, abs=0.01)


@pytest.fixture(scope="module", params=[0, 1])
def runs(request):
    return dropout_data(seed=request.param)


def test_without_regularization_the_net_overfits(runs):
    none = runs.curves["none"]
    assert none.train_acc[-1] == 1.0
    assert none.loss_gap > 0.5
    assert none.val_loss[-1] > 2 * none.val_loss.min()  # validation loss turns back up


def test_dropout_reduces_the_train_val_gap(runs):
    assert runs.curves["dropout"].loss_gap < 0.6 * runs.curves["none"].loss_gap
    assert runs.curves["dropout"].val_loss[-1] < runs.curves["none"].val_loss[-1]


def test_l2_reduces_the_train_val_gap(runs):
    assert runs.curves["l2"].loss_gap < 0.6 * runs.curves["none"].loss_gap


def test_all_variants_start_from_the_same_weights(runs):
    first = {c.train_loss[0] for c in runs.curves.values()}
    assert len(first) == 1


def test_same_seed_same_curves():
    a = dropout_data(steps=30, hidden=(32,), seed=5)
    b = dropout_data(steps=30, hidden=(32,), seed=5)
    for k in a.curves:
        np.testing.assert_array_equal(a.curves[k].val_loss, b.curves[k].val_loss)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"p": 1.0}, r"p=1\.0 must be a number in \[0, 0\.95\]"), ({"l2": -1e-3}, r"l2=-0\.001")],
)
def test_bad_arguments_name_the_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dropout_data(**kwargs)


def test_view_builds_and_redraws_when_controls_change():
    view = dropout(steps=50)
    val, means = view.marks["val"], view.marks["means"]
    v0, m0 = np.array(val.y), np.array(means.y)
    view.controls["p"].value = 0.2
    assert not np.array_equal(np.array(val.y), v0)
    assert not np.array_equal(np.array(means.y), m0)
    assert np.array(val.y).shape == (3, 6)  # three variants, evaluated every 10 steps
