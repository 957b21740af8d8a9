"""The new lessons' views build, draw the numbers of their *_data functions, and redraw on a control change."""

import numpy as np
import pytest

import nbtrain as nt


def test_optimizer_paths_view_draws_every_path_and_follows_the_lr_control():
    view = nt.demos.optimizer_paths(steps=50)
    r = view.result
    assert np.allclose(view.marks["path_adam"].x, r.paths["adam"].w[:, 0])
    assert "lowest loss" in view.status.value
    view.controls["which"].value = "adam"
    assert view.controls["lr"].value == pytest.approx(nt.demos.optimizer_surface.DEFAULT_LR["adam"])
    view.controls["lr"].value = 0.05
    assert view.result.paths["adam"].lr == pytest.approx(0.05, rel=1e-3)
    assert view.result.paths["sgd"].lr == pytest.approx(0.9)  # the others keep theirs


def test_search_layout_view():
    view = nt.demos.search_layout(budget=9)
    assert len(view.marks["grid_points"].x) == 9 and "distinct values of x: grid 3, random 9" in view.status.value
    view.controls["budget"].value = 16
    assert len(view.marks["random_points"].x) == 16


def test_l1_l2_loss_choice_and_max_norm_views():
    v = nt.demos.l1_l2(steps=100)
    assert np.asarray(v.marks["l1_paths"].y).shape == (20, 101) and "exact zeros" in v.status.value
    v = nt.demos.loss_choice(steps=50)
    assert np.asarray(v.marks["gradients"].y).shape == (2, 200) and "cross-entropy" in v.status.value
    v = nt.demos.max_norm()
    assert np.asarray(v.marks["norms"].y).shape[0] == 2 and "max-norm" in v.status.value


def test_large_batch_view_draws_each_run():
    v = nt.demos.large_batch(k=4, epochs=1)
    r = v.result
    assert np.allclose(v.marks["lr_big_scaled"].y, r.runs["big_scaled"].lr_per_step)
    assert len(v.marks["loss_base"].x) == len(r.runs["base"].epoch) and "final validation accuracy" in v.status.value
