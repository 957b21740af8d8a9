"""Steps 1–2 of the recipe: the initial loss against log C, and over-fitting a few mini-batches."""

import math

import pytest
import torch
from torch import nn

import nbtrain as nt


def state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_initial_loss_near_log_c_passes():
    r = nt.check_initial_loss(data="spiral", hidden=[64, 64], seed=0)
    assert r.passed and bool(r)
    assert r.evidence["log_C"] == round(math.log(3), 4) and r.evidence["classes"] == 3
    assert abs(r.evidence["loss"] - math.log(3)) < 0.25 * math.log(3)
    assert str(r).startswith("[PASS] initial loss")


def test_huge_init_fails_as_too_high_and_points_at_the_init():
    r = nt.check_initial_loss(data="spiral", hidden=[64, 64], init="large_gaussian", init_std=5.0)
    assert not r.passed and "too high" in r.summary
    assert any("init" in a for a in r.advice) and r.evidence["logit_std"] > 5


def test_somewhat_hot_logits_pass_with_a_note():
    # the default model with He init all the way to the output layer: logits start with std ≈ 1.8
    r = nt.check_initial_loss(data="digits", seed=0, head_init_scale=1.0)
    assert 1.25 < r.evidence["ratio"] <= 2.0
    assert r.passed and "somewhat high" in r.summary and "output layer" in r.advice[0]


def test_trained_weights_are_suspiciously_low_and_the_trainer_is_untouched():
    with nt.Trainer(data="spiral", hidden=[64, 64], lr=0.3, optimizer="momentum", max_steps=300, device="cpu") as tr:
        tr.start().wait(timeout=60)
        before = state(tr.model)
        assert nt.check_initial_loss(tr).passed  # the initial weights by default
        r = nt.check_initial_loss(tr, weights="current")
        assert not r.passed and "suspiciously low" in r.summary
        assert all(torch.equal(v, state(tr.model)[k]) for k, v in before.items())


def test_weight_decay_is_left_out_of_the_loss_and_reported():
    plain = nt.check_initial_loss(data="spiral", hidden=[32], seed=1)
    wd = nt.check_initial_loss(data="spiral", hidden=[32], seed=1, weight_decay=0.5)
    assert wd.evidence["loss"] == plain.evidence["loss"]
    assert wd.evidence["regularization_term"] > 0 and any("weight decay" in a for a in wd.advice)


def test_output_size_mismatch_fails():
    r = nt.check_initial_loss(nt.Trainer(model=nn.Linear(2, 5), data="spiral", device="cpu"))
    assert not r.passed and "5 logits" in r.summary


def test_overfit_small_reaches_100_percent_and_leaves_the_trainer_alone():
    with nt.Trainer(data="digits", model="mlp", hidden=[64], lr=0.5, dropout=0.5, weight_decay=0.1, device="cpu") as tr:
        before = state(tr.model)
        r = nt.overfit_small(tr, batches=5, max_steps=300)
        assert r.passed and r.curve["acc"].iloc[-1] == 1.0
        assert r.evidence["examples"] == 160 and r.evidence["batches"] == 5
        assert r.curve["loss"].iloc[-1] < r.curve["loss"].iloc[0] / 5
        assert all(torch.equal(v, state(tr.model)[k]) for k, v in before.items())
        assert tr.global_step == 0 and tr.config.dropout == 0.5  # regularization was off only in the copy


def test_overfit_small_flat_loss_hints_lr_too_low_or_bad_init():
    r = nt.overfit_small(data="spiral", hidden=[32], lr=1e-6, max_steps=60)
    assert not r.passed and "barely moved" in r.summary
    assert "too low" in r.advice[0] and "initialization" in r.advice[1]


def test_overfit_small_explosion_hints_lr_too_high():
    r = nt.overfit_small(data="spiral", hidden=[64, 64, 64], lr=100.0, optimizer="momentum", max_steps=60)
    assert not r.passed and ("exploded" in r.summary or "rose" in r.summary)
    assert "too high" in r.advice[0] and "lr=10" in r.advice[0]


@pytest.mark.parametrize("kw, match", [({"batches": 0}, r"batches=0.*\[1, 1000\]"), ({"max_steps": 0}, "max_steps=0"),
                                       ({"lr": -1}, r"lr=-1.*\(0, 100\]"), ({"target_acc": 1.5}, "target_acc=1.5")])
def test_overfit_small_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        nt.overfit_small(data="moons", **kw)


def test_fields_cannot_be_mixed_with_a_trainer():
    with nt.Trainer(data="moons", device="cpu") as tr, pytest.raises(ValueError, match="only apply when no trainer"):
        nt.check_initial_loss(tr, lr=0.1)
