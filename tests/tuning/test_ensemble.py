"""Ensembles of independent runs and snapshot ensembles from one cyclic run."""

import threading
import warnings

import numpy as np
import pytest
import torch

import nbtrain as nt
from nbtrain.engine import schedules
from nbtrain.tuning.ensemble import snapshot_steps


@pytest.fixture(scope="module")
def digits_split():
    d = nt.load_data("digits", seed=0)
    return d.tensors("train"), d.tensors("val")


@pytest.fixture(scope="module")
def digit_runs(digits_split):
    """Three small MLPs on one fixed digits split, differing only in their seed (init and batch order)."""
    train, val = digits_split
    runs = [nt.Trainer(data=train, val_data=val, model="mlp", hidden=[32], lr=0.05, optimizer="momentum",
                       max_steps=150, seed=s, device="cpu") for s in (1, 2, 3, 4, 5)]
    for tr in runs:
        tr.start()
    for tr in runs:
        tr.wait(timeout=120)
    yield runs
    for tr in runs:
        tr.close()


def test_ensemble_accuracy_is_at_least_the_mean_of_its_members_on_digits(digit_runs):
    r = nt.ensemble(digit_runs)
    assert len(r.members) == 5 and r.members["val_acc"].between(0.5, 1.0).all()
    assert r.accuracy >= r.mean_member_accuracy
    assert r.loss < r.members["val_loss"].mean()  # averaging probabilities also lowers the loss
    assert 0 <= r.vote_accuracy <= 1 and r.gain == pytest.approx(r.accuracy - r.mean_member_accuracy)
    assert "gain" in str(r) and "run 0 (seed 1)" in str(r)


def test_predict_with_mean_and_vote(digit_runs, digits_split):
    r = nt.ensemble(digit_runs, method="vote")
    X, y = digits_split[1]
    proba = r.predict_proba(X)
    assert proba.shape == (len(y), 10) and torch.allclose(proba.sum(1), torch.ones(len(y)))
    assert (r.predict(X, "mean") == y).float().mean().item() == pytest.approx(r.accuracy)
    assert (r.predict(X) == y).float().mean().item() == pytest.approx(r.vote_accuracy)


def test_members_can_be_checkpoints(tmp_path):
    # runs on a built-in dataset with one seed (one split), different learning rates; a checkpoint of a
    # run on your own tensors is loaded with nt.Trainer.load(path, data=...) and passed as a Trainer
    runs = [nt.Trainer(data="digits", model="mlp", hidden=[16], lr=lr, max_steps=60, device="cpu") for lr in (0.1, 0.3)]
    try:
        for tr in runs:
            tr.start().wait(timeout=60)
        paths = [tr.save(tmp_path / f"run{i}.pt") for i, tr in enumerate(runs)]
        from_files = nt.ensemble(paths)
        live = nt.ensemble(runs)
        assert list(from_files.members["name"]) == ["run0.pt", "run1.pt"]
        assert from_files.accuracy == pytest.approx(live.accuracy) and not live.notes
    finally:
        for tr in runs:
            tr.close()


def test_members_validated_on_different_splits_are_flagged():
    a = nt.Trainer(data="moons", hidden=[8], seed=1, max_steps=5, device="cpu")
    b = nt.Trainer(data="moons", hidden=[8], seed=2, max_steps=5, device="cpu")
    try:
        with pytest.warns(UserWarning, match="different split"):
            r = nt.ensemble([a, b])
        assert r.notes
    finally:
        a.close()
        b.close()


def test_bad_ensembles_are_refused():
    with pytest.raises(ValueError, match="at least 2"):
        nt.ensemble([torch.nn.Linear(2, 2)])
    with pytest.raises(ValueError, match="method='avg'"):
        nt.ensemble([torch.nn.Linear(2, 2)] * 2, (torch.zeros(3, 2), torch.zeros(3).long()), method="avg")
    with pytest.raises(ValueError, match="need validation data"):
        nt.ensemble([torch.nn.Linear(2, 2)] * 2)


def test_snapshot_steps_are_the_ends_of_the_cycles():
    sgdr = schedules.make("sgdr", 0.1, 120, T_0=30, T_mult=1)
    assert snapshot_steps(sgdr, 120) == [30, 60, 90, 120]
    assert snapshot_steps(sgdr, 120, start=45) == [60, 90, 120]
    cyc = schedules.make("cyclic", 0.1, 100, step_size=10)  # starts at min_lr, min every 2·10 steps
    ends = snapshot_steps(cyc, 100)
    lrs = cyc.curve(101)
    # after the update that used the lowest rate (step 20, 40, ...), and the run's last step
    assert ends == [21, 41, 61, 81, 100] and all(lrs[s - 1] < lrs[s] for s in ends[:-1])
    assert snapshot_steps(schedules.make("cosine", 0.1, 100), 100) == [100]


def test_snapshot_ensemble_collects_the_lr_minima_of_one_sgdr_run(digits_split):
    train, val = digits_split
    with nt.Trainer(data=train, val_data=val, model="mlp", hidden=[32], lr=0.2, optimizer="momentum",
                    schedule="sgdr", schedule_params={"T_0": 60, "T_mult": 1}, max_steps=240, device="cpu") as tr:
        lrs = tr.schedule.curve(240)
        r = nt.snapshot_ensemble(tr)
        assert list(r.members["name"]) == ["step 60", "step 120", "step 180", "step 240"]
        assert all(lrs[s - 1] == lrs[s - 60:s].min() for s in (60, 120, 180, 240))  # taken at the LR minima
        assert tr.global_step == 240
        assert r.accuracy >= r.mean_member_accuracy - 0.01


def test_snapshot_ensemble_needs_a_periodic_schedule():
    with pytest.raises(ValueError, match="periodic schedule"):
        nt.snapshot_ensemble(data="moons", hidden=[8], schedule="cosine", max_steps=50)
    with pytest.raises(ValueError, match="max_steps"):
        nt.snapshot_ensemble(data="moons", hidden=[8])


def test_snapshot_ensemble_from_fields_keeps_the_last_k():
    r = nt.snapshot_ensemble(data="spiral", hidden=[32], lr=0.5, max_steps=200, snapshots=2)
    assert list(r.members["name"]) == ["step 150", "step 200"]
    assert threading.active_count() >= 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(r.loss)
