"""Guards of the curve diagnosis: over-fitting needs a real, sustained gap above chance; contradicting
findings are not shown together; a NaN from unnormalised inputs says so. Each on real runs, both ways."""

import numpy as np
import pandas as pd
import pytest

import nbtrain as nt
from nbtrain.engine import data as data_mod
from nbtrain.tuning.diagnose import SUPPRESSED_BY


def run(**kw):
    tr = nt.Trainer(device="cpu", **kw)
    tr.start()
    tr.wait(timeout=120)
    tr.close()
    return tr


def frame(train_acc, val_acc, n=600, num_classes=None):
    """A falling loss with evaluations at evenly spread steps (step 0 included)."""
    df = pd.DataFrame({"step": np.arange(n), "train_loss": 1.1 * np.exp(-np.arange(n) / 200) + 0.2, "lr": 0.1})
    for c in ("val_loss", "train_eval_loss", "val_acc", "train_acc"):
        df[c] = np.nan
    steps = np.linspace(0, n - 1, len(train_acc)).round().astype(int)
    df.loc[steps, "train_acc"], df.loc[steps, "val_acc"] = train_acc, val_acc
    if num_classes:
        df.attrs["num_classes"] = num_classes
    return df


# ---- over-fitting: above chance and sustained -------------------------------------------------------------

def test_one_noisy_evaluation_is_not_overfitting_but_a_sustained_gap_is():
    up = np.linspace(0.4, 0.9, 10)
    spike = frame(up.tolist() + [0.95], up.tolist() + [0.8])  # the gap appears at the last evaluation only
    assert "overfitting" not in nt.diagnose(spike).rules
    held = frame(up.tolist() + [0.95, 0.96, 0.97], up.tolist() + [0.8, 0.8, 0.8])
    assert "overfitting" in nt.diagnose(held).rules


def test_a_gap_at_chance_level_is_not_overfitting():
    # 3 classes: 34 % vs 28 % is a model stuck at chance, not one that memorises; nor is 34 % of 10 classes
    for acc, chance, classes in ((0.34, 1 / 3, 3), (0.34, 0.1, 10)):
        stuck = frame([chance] + [acc] * 10, [chance] + [acc - 0.12] * 10, num_classes=classes)
        assert "overfitting" not in nt.diagnose(stuck).rules
    learnt = frame([0.1] + [0.9] * 10, [0.1] + [0.7] * 10, num_classes=10)
    assert "overfitting" in nt.diagnose(learnt).rules


def test_real_run_stuck_near_chance_is_no_progress_only():
    # lr 1e-5: the weights hardly move; the train subset's accuracy (≈ 40 %) is the init's luck, 3 classes
    for seed in (0, 1):
        f = nt.diagnose(run(data="spiral", hidden=[64], lr=1e-5, max_steps=600, eval_every=50, seed=seed))
        assert "no_progress" in f.rules
        assert not {"overfitting", "underfitting", "keep_training", "plateau"} & set(f.rules), f.rules


def test_real_run_bad_init_drop_never_reads_as_overfitting():
    # during the sudden drop after a bad-init plateau train and val accuracy jump unevenly from one
    # evaluation to the next; no truncation of this run over-fits (train ≈ val at the end)
    tr = run(data="spiral", hidden=[64, 64, 64], init="small_gaussian", init_std=0.02, optimizer="momentum",
             lr=0.1, max_steps=1000, eval_every=25, seed=0)
    h = tr.history
    for s in range(400, 1001, 25):
        part = h[h.step <= s].copy()
        part.attrs = {**h.attrs, "num_classes": 3}
        assert "overfitting" not in nt.diagnose(part).rules, s
    assert "bad_init_plateau" in nt.diagnose(tr).rules


def test_real_run_that_memorises_a_tiny_training_set_overfits():
    for seed in (0, 1):
        tr = run(data="digits", model="mlp", hidden=[128], val_split=0.95, lr=0.1, optimizer="momentum",
                 max_steps=400, eval_every=25, seed=seed)
        f = nt.diagnose(tr)
        assert "overfitting" in f.rules and "underfitting" not in f.rules
        ev = f[f.rules.index("overfitting")].evidence
        assert ev["train_acc"] > 0.9 and ev["gap"] > 0.05


# ---- contradictions ---------------------------------------------------------------------------------------

def test_contradicting_rules_are_never_shown_together():
    pairs = [(r, s) for r, by in SUPPRESSED_BY.items() for s in by]
    assert ("underfitting", "no_progress") in pairs and ("keep_training", "plateau") in pairs
    for kw in (dict(data="spiral", hidden=[64, 64], init="zeros", lr=0.1, max_steps=600, eval_every=50),
               dict(data="spiral", hidden=[32], lr=0.5, optimizer="momentum", max_steps=600, eval_every=50)):
        rules = set(nt.diagnose(run(**kw)).rules)
        assert not any(r in rules and s in rules for r, s in pairs), rules


# ---- NaN/Inf: the data's scale first --------------------------------------------------------------------

def _huge_spiral(scale):
    X, y = data_mod.spiral()
    return (X.double() * scale).float(), y


def test_real_run_on_unnormalised_inputs_says_normalise_the_inputs():
    tr = run(data=_huge_spiral(1e18), hidden=[32], lr=0.1, max_steps=200)
    assert "normalise the inputs" in tr.message and "learning rate" not in tr.message.split("—")[1].split(";")[0]
    f = nt.diagnose(tr)
    assert f.rules[0] == "nan" and "not normalised" in f[0].message and "normalise the inputs" in f[0].advice
    assert f[0].evidence["input_rms"] > 1e17


def test_normalised_inputs_then_train_and_a_high_lr_nan_still_blames_the_lr():
    tr = run(data=_huge_spiral(1e18), preprocess="normalize", hidden=[32], lr=0.1, max_steps=200)
    assert tr.state == "finished" and "nan" not in nt.diagnose(tr).rules
    tr = run(data="spiral", hidden=[64, 64, 64], lr=100.0, optimizer="momentum", max_steps=300, head_init_scale=1.0)
    f = nt.diagnose(tr)
    assert f.rules[0] == "nan" and "learning rate too high" in f[0].advice and "input_rms" not in f[0].evidence


def test_non_finite_inputs_are_named_as_the_cause():
    from nbtrain.engine.data import input_rms

    X, y = data_mod.spiral()
    X[5, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN/Inf"):  # a Trainer refuses them at construction
        nt.Trainer(data=(X, y), hidden=[16], device="cpu")
    assert input_rms(data_mod.load_data((X, y), val_split=None)) == float("inf")  # what the nan rule reads
    assert input_rms(data_mod.load_data(data_mod.spiral(), val_split=None)) < 2
