"""Regression tests of the lecture-notes defects (issue 18): each one trains/computes what the notes teach."""

import math

import numpy as np
import pytest
import torch

import nbtrain as nt


# ---- step 4 of the recipe: "coarse grid, train for 1-5 epochs" ------------------------------------------

@pytest.mark.parametrize("epochs", [1, 0.5, 2])
def test_max_epochs_trains_exactly_that_many_epochs(epochs):
    tr = nt.Trainer(data="moons", model="mlp", hidden=[8], n_samples=200, batch_size=32, max_epochs=epochs, seed=0)
    assert tr.epoch == 0.0  # nothing drawn yet
    assert tr.start().wait(timeout=60) == "finished"
    n_train = tr._n_train
    assert tr.global_step == math.ceil(epochs * n_train / 32)
    assert tr.epoch == pytest.approx(epochs, abs=32 / n_train)
    assert f"max_epochs={epochs:g}" in tr.message
    tr.close()


def test_one_epoch_digits_learns():
    tr = nt.Trainer(data="digits", model="mlp", max_epochs=1, seed=0, lr=0.1)
    tr.start().wait(timeout=120)
    assert tr.global_step == math.ceil(tr._n_train / 32)
    assert tr.history["val_acc"].dropna().iloc[-1] > 0.5  # chance is 0.1
    tr.close()


def test_random_search_with_one_epoch_trains_every_trial():
    s = nt.search.random({"lr": nt.search.loguniform(0.3, 1.0)}, n=2, data="moons", hidden=[16], n_samples=1000,
                         max_epochs=1, executor="sequential")
    res = s.results
    assert (res["steps"] == math.ceil(800 / 32)).all()
    assert (res["status"] == "finished").all()
    assert res["epochs"].tolist() == pytest.approx([1.0, 1.0])
    assert (res["val_acc"] > 0.6).all()  # chance is 0.5: the trials learned
