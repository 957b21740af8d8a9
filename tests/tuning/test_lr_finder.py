"""LR range test: exact restoration, divergence stop, suggestions inside the descending region."""

import numpy as np
import pytest
import torch
from torch import nn

import nbtrain as nt
from nbtrain.tuning.lr_finder import LRFinderResult, _zero_lag


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_trainer_model_optimizer_and_rng_are_left_exactly_as_they_were():
    with nt.Trainer(data="spiral", hidden=[32, 32], optimizer="momentum", lr=0.1, device="cpu") as tr:
        tr.step(20).wait(timeout=30)  # some momentum state to keep
        weights, opt_state = state(tr.model), tr.optimizer.state_dict()
        rng = torch.get_rng_state()
        r = nt.find_lr(tr, num_iter=50)
        assert len(r.lrs) > 10
        assert same(weights, state(tr.model))
        after = tr.optimizer.state_dict()
        assert all(torch.equal(opt_state["state"][k]["momentum_buffer"], after["state"][k]["momentum_buffer"])
                   for k in opt_state["state"])
        assert torch.equal(rng, torch.get_rng_state()) and tr.global_step == 20


def test_a_bare_module_is_swept_in_place_and_restored_exactly_buffers_included():
    net = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    net.eval()
    before = state(net)
    r = nt.find_lr(net, data="spiral", num_iter=40, end_lr=100)
    assert same(before, state(net)) and not net.training
    assert all(p.grad is None for p in net.parameters())
    assert r.stopped.startswith(("diverged", "finished"))


def test_suggestions_lie_in_the_descending_region_on_digits():
    r = nt.find_lr(data="digits", model="mlp", hidden=[64], batch_size=32, seed=0)
    lo, hi = r.descending_region()
    assert lo < hi
    for name in ("steepest", "min/10"):
        assert lo <= r.suggestions[name] <= hi, (name, r.suggestions, (lo, hi))
    i = int(np.searchsorted(r.lrs, r.lr))
    assert r.smoothed[i] < r.smoothed[: r.window[0]].mean()  # the loss is already falling there
    # and training at the suggestion works: the loss clearly drops within ~100 iterations
    with nt.Trainer(data="digits", model="mlp", hidden=[64], lr=r.lr, max_steps=100, device="cpu") as tr:
        tr.start().wait(timeout=60)
        h = tr.history["train_loss"].dropna()
        assert h.tail(10).mean() < 0.7 * h.head(10).mean()


def test_sweep_is_exponential_and_stops_on_divergence():
    r = nt.find_lr(data="spiral", hidden=[32], start_lr=1e-4, end_lr=1e4, num_iter=80)
    ratios = r.lrs[1:] / r.lrs[:-1]
    assert np.allclose(ratios, ratios[0]) and r.lrs[0] == pytest.approx(1e-4)
    assert r.stopped.startswith("diverged") and len(r.lrs) < 80
    assert np.isfinite(r.losses).all()
    assert r.frame().columns.tolist() == ["lr", "loss", "smoothed"]
    assert "suggested" in str(r)


def test_smoothing_has_no_lag():
    y = np.r_[np.full(50, 2.0), np.full(50, 1.0)]
    s = _zero_lag(y, 0.9)
    # smoothing log(loss): the step's geometric midpoint √2 is crossed exactly between points 49 and 50
    assert s[49] > 2**0.5 > s[50] and s[49] * s[50] == pytest.approx(2.0)
    assert s[0] == pytest.approx(2.0) and s[-1] == pytest.approx(1.0)


def test_too_few_points_give_no_suggestion_but_say_why():
    r = LRFinderResult(np.array([1e-3]), np.array([1.0]), np.array([1.0]), {"steepest": np.nan, "min/10": np.nan},
                       "diverged; too few points (1) for a suggestion", (0, 0))
    assert "too few points" in str(r)


@pytest.mark.parametrize("kw, match", [
    ({"start_lr": 0}, "start_lr=0"), ({"end_lr": 1e-8}, "must be > start_lr"), ({"num_iter": 5}, r"num_iter=5.*\[10"),
    ({"smooth": 1.0}, "smooth=1.0"), ({"diverge": 1}, "diverge=1"), ({"skip_start": 0.7}, "skip_start=0.7"),
])
def test_bad_arguments_name_the_value_and_the_range(kw, match):
    with pytest.raises(ValueError, match=match):
        nt.find_lr(data="moons", **kw)


def test_a_bare_module_needs_data():
    with pytest.raises(ValueError, match="needs data"):
        nt.find_lr(nn.Linear(2, 2))


def test_a_trained_trainer_is_swept_from_its_initial_weights_and_the_result_says_so():
    kw = dict(data="spiral", hidden=[32, 32], optimizer="momentum", lr=0.1, device="cpu", seed=0)
    with nt.Trainer(**kw) as fresh, nt.Trainer(**kw) as trained:
        trained.step(300).wait(timeout=60)
        a, b = nt.find_lr(fresh, num_iter=60), nt.find_lr(trained, num_iter=60)
        np.testing.assert_array_equal(a.losses, b.losses)  # the same sweep: from the same initial weights
        assert b.settings["weights"] == "the run's initial weights (step 0)" and "initial weights" in str(b)
        with pytest.warns(UserWarning, match="trained for 300 steps"):
            c = nt.find_lr(trained, num_iter=60, weights="current")
        assert c.settings["weights"] == "the current weights (step 300)"
        assert c.losses[0] < 0.5 * b.losses[0]  # it started from a model that already fits the data
    r = nt.find_lr(nn.Linear(2, 3), data="spiral", num_iter=20)
    assert r.settings["weights"] == "the module's current weights"
