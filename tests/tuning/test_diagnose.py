"""Curve diagnosis: every rule of the lecture notes on a synthetic history, the main ones on real runs."""

import math

import numpy as np
import pandas as pd
import pytest
from torch import nn

import nbtrain as nt
from nbtrain.tuning.diagnose import RULES, Finding, Findings


def history(loss, *, lr=0.1, epoch=None, evals=None):
    """A history DataFrame like ``trainer.history``: per-step rows, eval columns NaN between evaluations.

    ``evals``: dict of column -> values at evenly spread steps, the first and the last included.
    """
    loss = np.asarray(loss, float)
    n = len(loss)
    df = pd.DataFrame({"step": np.arange(n), "epoch": epoch if epoch is not None else np.arange(n) / 10,
                       "train_loss": loss, "lr": np.broadcast_to(lr, n).astype(float)})
    for c in ("val_loss", "val_acc", "train_eval_loss", "train_acc"):
        df[c] = np.nan
    if evals:
        steps = np.linspace(0, n - 1, len(next(iter(evals.values())))).round().astype(int)
        for col, vals in evals.items():
            df.loc[steps, col] = vals
    return df


def rules(h):
    return nt.diagnose(h).rules


rng = np.random.default_rng(0)


def noise(n, scale=0.01):
    return rng.normal(0, scale, n)


# ---- synthetic histories, one per rule ------------------------------------------------------------------

def test_healthy_curves_give_no_findings():
    t = np.arange(1000)
    loss = 2.3 * np.exp(-t / 300) + 0.1 + noise(1000)
    acc = np.linspace(0.3, 0.9, 21)
    h = history(loss, evals={"val_acc": acc, "train_acc": acc + 0.02, "val_loss": np.linspace(2, 0.4, 21),
                             "train_eval_loss": np.linspace(2, 0.35, 21)})
    assert rules(h) == []
    assert str(nt.diagnose(h)) == "no problem found in these curves"


def test_nan_rule_reports_step_value_and_lr():
    loss = np.r_[np.linspace(2, 1, 100), [np.inf]]
    f = nt.diagnose(history(loss, lr=3.0))
    assert f.rules[0] == "nan" and f[0].severity == "error"
    assert f[0].evidence["step"] == 100 and f[0].evidence["lr"] == 3.0
    assert "lr=0.3" in f[0].advice


def test_a_nan_loss_at_an_evaluation_step_is_the_runs_nan_and_the_final_evaluation_row_is_not():
    """A row with evaluation values and no training loss is an evaluation's own row (the final evaluation, or
    evaluations logged apart), not a NaN loss; but a run whose loss became NaN at an evaluation step reports
    that step (it reported the next one, the evaluation's row taken for an evaluation-only row)."""
    steps = np.arange(100)
    loss = np.r_[np.linspace(2, 1, 50), np.full(50, np.nan)]
    val = np.where(steps % 10 == 0, 1.2, np.nan)
    h = pd.DataFrame({"step": steps, "train_loss": loss, "val_loss": val, "lr": 0.5})
    f = nt.diagnose(h)
    assert f.rules[0] == "nan" and f[0].evidence["step"] == 50  # step 50 evaluated, then its loss was NaN
    # healthy runs: a final evaluation row after the last step, and evaluations logged as rows of their own
    healthy = pd.DataFrame({"step": steps, "train_loss": np.linspace(2, 0.5, 100), "val_loss": val, "lr": 0.5})
    final = pd.concat([healthy, pd.DataFrame({"step": [100], "train_loss": [np.nan], "val_loss": [0.6]})])
    apart = pd.concat([healthy.assign(val_loss=np.nan),
                       pd.DataFrame({"step": steps[::10], "train_loss": np.nan, "val_loss": 1.0})]).sort_values(
                           "step", kind="stable")
    for frame in (final, apart):
        assert "nan" not in nt.diagnose(frame).rules


def test_nan_rule_reads_the_trainer_event_even_without_a_nan_row():
    h = history(np.linspace(2, 1, 50))
    h.attrs["events"] = [{"step": 50, "field": "nonfinite_loss", "old": None, "new": "NaN"}]
    assert rules(h)[0] == "nan"


def test_rising_loss():
    loss = np.linspace(1.0, 3.0, 300) + noise(300)
    f = nt.diagnose(history(loss))
    assert "rising_loss" in f.rules
    assert f[0].evidence["end_loss"] > 2.5 and "sign error" in f[0].advice


def test_no_progress():
    assert "no_progress" in rules(history(2.3 + noise(400, 0.005)))


def test_bad_init_plateau_flat_then_sudden_drop():
    loss = np.r_[np.full(400, 2.3), 2.3 - 2.0 * (1 - np.exp(-np.arange(600) / 40))] + noise(1000, 0.005)
    f = nt.diagnose(history(loss))
    assert f.rules[0] == "bad_init_plateau"  # (then it flattens out: a plateau may follow)
    assert 380 <= f[0].evidence["plateau_until_step"] <= 430 and f[0].evidence["drop_by_step"] < 600


def test_plateau_at_constant_lr_suggests_decay():
    t = np.arange(900)
    f = nt.diagnose(history(1.5 * np.exp(-t / 60) + 0.6 + noise(900, 0.002)))
    assert f.rules == ["plateau"] and "decay" in f[0].advice


def test_no_plateau_finding_when_the_lr_already_decays():
    t = np.arange(900)
    lr = np.where(t < 600, 0.1, 0.01)
    assert "plateau" not in rules(history(1.5 * np.exp(-t / 60) + 0.6 + noise(900, 0.002), lr=lr))


def test_decay_too_early():
    t = np.arange(1000)
    d = 200
    lr = np.where(t < d, 0.1, 0.01)
    fast = 2.3 * np.exp(-t / 300)  # still falling fast at step 200...
    slow = fast[d] * np.exp(-(t - d) / 3000)  # ...then ten times slower after the cut
    loss = np.where(t < d, fast, slow) + 0.05 + noise(1000, 0.002)
    f = nt.diagnose(history(loss, lr=lr))
    assert "decay_too_early" in f.rules
    ev = next(x for x in f if x.rule == "decay_too_early").evidence
    assert ev["decay_step"] == d and ev["lr_before"] == 0.1 and ev["lr_after"] == 0.01


def test_decay_at_a_plateau_is_not_too_early():
    t = np.arange(1000)
    lr = np.where(t < 600, 0.1, 0.01)
    loss = np.where(t < 600, 2.3 * np.exp(-t / 60) + 0.3, 0.3 - 0.2 * (1 - np.exp(-(t - 600) / 50))) + noise(1000, 0.002)
    assert "decay_too_early" not in rules(history(loss, lr=lr))


def _loss(n=1000):
    return 2.3 * np.exp(-np.arange(n) / 200) + 0.05 + noise(n)


def test_overfitting_train_far_above_val_and_val_loss_rising():
    k = 21
    f = nt.diagnose(history(_loss(), evals={
        "train_acc": np.linspace(0.5, 1.0, k), "val_acc": np.r_[np.linspace(0.5, 0.85, 8), np.linspace(0.85, 0.8, k - 8)],
        "train_eval_loss": np.linspace(1.5, 0.01, k), "val_loss": np.r_[np.linspace(1.5, 0.5, 8), np.linspace(0.5, 0.9, k - 8)]}))
    assert f.rules == ["overfitting"]
    assert f[0].evidence["best_val_step"] == round(7 * 999 / 20) and f[0].evidence["gap"] == pytest.approx(0.2)
    assert "regularize" in f[0].advice


def test_keep_training_gap_but_both_improving():
    k = 21
    f = nt.diagnose(history(_loss(), evals={
        "train_acc": np.linspace(0.5, 0.9, k), "val_acc": np.linspace(0.45, 0.82, k),
        "train_eval_loss": np.linspace(1.5, 0.3, k), "val_loss": np.linspace(1.6, 0.5, k)}))
    assert f.rules == ["keep_training"]


def test_underfitting_no_gap_low_accuracy():
    k = 21
    f = nt.diagnose(history(_loss(), evals={
        "train_acc": np.linspace(0.4, 0.62, k), "val_acc": np.linspace(0.4, 0.61, k),
        "train_eval_loss": np.linspace(1.5, 1.0, k), "val_loss": np.linspace(1.5, 1.02, k)}))
    assert f.rules == ["underfitting"] and "bigger model" in f[0].advice


def test_unshuffled_repeating_pattern_with_the_epoch_period():
    n, period = 900, 30
    pattern = np.tile(rng.uniform(-0.2, 0.2, period), n // period)  # the same batches in the same order
    loss = 2.3 * np.exp(-np.arange(n) / 150) + 0.4 + pattern + noise(n)
    f = nt.diagnose(history(loss, epoch=np.arange(n) / period))
    assert "unshuffled" in f.rules
    ev = next(x for x in f if x.rule == "unshuffled").evidence
    assert ev["period_steps"] == period and ev["autocorrelation"] > 0.8


def test_shuffled_noise_is_not_periodic():
    n = 900
    assert "unshuffled" not in rules(history(2.3 * np.exp(-np.arange(n) / 150) + 0.4 + noise(n, 0.2),
                                             epoch=np.arange(n) / 30))


def test_noisy_val_from_a_tiny_validation_set_read_off_the_accuracy_steps():
    k = 21
    val_acc = np.round(np.clip(np.linspace(0.5, 0.8, k) + rng.normal(0, 0.08, k), 0, 1) * 20) / 20  # 20 examples
    f = nt.diagnose(history(_loss(), evals={"val_acc": val_acc, "train_acc": np.linspace(0.5, 0.82, k)}))
    assert "noisy_val" in f.rules
    assert next(x for x in f if x.rule == "noisy_val").evidence["val_examples"] == 20


def test_findings_print_readably_and_sort_by_severity():
    loss = np.r_[np.linspace(1.0, 3.0, 300), [np.nan]]
    f = nt.diagnose(history(loss))
    assert isinstance(f, Findings) and all(isinstance(x, Finding) for x in f)
    assert [x.severity for x in f] == sorted((x.severity for x in f), key=("error", "warning", "info").index)
    text = str(f[0])
    assert text.startswith("[error] nan:") and "evidence: step=300" in text and "→" in text
    assert set(f.rules) <= set(RULES)


def test_diagnose_rejects_what_it_cannot_read():
    with pytest.raises(ValueError, match="train_loss"):
        nt.diagnose(pd.DataFrame({"step": [0, 1]}))
    with pytest.raises(ValueError, match="Trainer, a Lab or a history DataFrame"):
        nt.diagnose([1, 2, 3])
    with pytest.raises(ValueError, match="min_steps"):
        nt.diagnose(history([1.0, 1.0]), min_steps=0)


# ---- real runs ---------------------------------------------------------------------------------------------

def run(**kw):
    tr = nt.Trainer(device="cpu", **kw)
    tr.start()
    tr.wait(timeout=60)
    tr.close()
    return tr


def test_real_run_too_high_lr_gives_nan():
    # with the output layer at full He scale (head_init_scale=1) the logits overflow to NaN
    tr = run(data="spiral", hidden=[64, 64, 64], lr=100.0, optimizer="momentum", max_steps=300, head_init_scale=1.0)
    assert "loss became NaN" in tr.message
    f = nt.diagnose(tr)
    assert f.rules[0] == "nan" and f[0].evidence["lr"] == 100.0 and "lr=10" in f[0].advice
    assert nt.diagnose(tr.history).rules[0] == "nan"  # the DataFrame alone (its events) says the same


def test_real_run_far_too_high_lr_without_nan_gives_rising_loss():
    assert "rising_loss" in nt.diagnose(run(data="spiral", hidden=[32], lr=100.0, max_steps=300)).rules


def test_real_run_tiny_init_gives_a_plateau_then_drop():
    tr = run(data="spiral", hidden=[64, 64, 64], init="small_gaussian", init_std=0.02, lr=0.1, optimizer="momentum",
             max_steps=1000, eval_every=50)
    f = nt.diagnose(tr)
    assert "bad_init_plateau" in f.rules
    ev = next(x for x in f if x.rule == "bad_init_plateau").evidence
    assert ev["plateau_loss"] == pytest.approx(math.log(3), abs=0.02) and ev["plateau_until_step"] > 100


def test_real_run_no_regularization_on_tiny_data_overfits():
    tr = run(data="digits", model="mlp", hidden=[128], val_split=0.95, lr=0.1, optimizer="momentum", max_steps=400,
             eval_every=25)
    f = nt.diagnose(tr)
    assert "overfitting" in f.rules
    ev = next(x for x in f if x.rule == "overfitting").evidence
    assert ev["train_acc"] == 1.0 and ev["gap"] > 0.05


def test_real_run_unshuffled_data_repeats_every_epoch():
    tr = run(data="spiral", hidden=[64, 64], lr=0.3, optimizer="momentum", max_steps=900, shuffle=False, batch_size=48,
             n_samples=600)
    f = nt.diagnose(tr)
    ev = next(x for x in f if x.rule == "unshuffled").evidence
    assert ev["period_steps"] == 10 and ev["shuffle"] is False


def test_real_run_step_decay_too_early():
    tr = run(data="spiral", hidden=[64, 64], lr=0.3, optimizer="momentum", max_steps=1000, schedule="step",
             schedule_params={"step_size": 100, "gamma": 0.1})
    assert "decay_too_early" in nt.diagnose(tr).rules


def test_real_healthy_run_has_no_warnings():
    tr = run(data="digits", model="mlp", hidden=[64], lr=0.1, optimizer="momentum", max_steps=800, eval_every=50)
    assert [x for x in nt.diagnose(tr) if x.severity != "info"] == []


def test_relu_before_softmax_is_flagged_from_the_model():
    net = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3), nn.ReLU())
    tr = run(model=net, data="spiral", lr=0.1, max_steps=30)
    f = nt.diagnose(tr)
    assert "activation_before_softmax" in f.rules
    assert next(x for x in f if x.rule == "activation_before_softmax").evidence["last_module"] == "ReLU"


@pytest.mark.parametrize("n,window", [(1, 5), (30, 5), (400, 101), (2000, 41), (5001, 101), (40_000, 801)])
def test_running_median_is_pandas_rolling_median_value_for_value(n, window):
    from nbtrain.tuning.diagnose import _smooth

    y = np.random.default_rng(n).standard_normal(n).cumsum()
    y[::7] = np.round(y[::7])  # ties
    expected = pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
    assert np.array_equal(_smooth(y, window), expected)


def test_a_trainer_is_read_as_its_history_frame_says():
    """diagnose(trainer) reads the step and evaluation tables directly (no joined frame, for the live view):
    the same findings and evidence as the DataFrame of the same run, on runs where rules fire."""
    for kw in (dict(data="spiral", hidden=[64, 64], lr=0.3, optimizer="momentum", max_steps=1000, schedule="step",
                    schedule_params={"step_size": 100, "gamma": 0.1}),
               dict(data="digits", model="mlp", hidden=[128], val_split=0.95, lr=0.1, optimizer="momentum",
                    max_steps=400, eval_every=25)):
        tr = run(**kw)
        live, frame = nt.diagnose(tr), nt.diagnose(tr.history)
        core = [f for f in live if f.rule not in ("noisy_val", "unshuffled")]  # these need the trainer's data
        assert core and [(f.rule, f.evidence) for f in core] == [
            (f.rule, f.evidence) for f in frame if f.rule not in ("noisy_val", "unshuffled")]


def test_a_trainers_input_scale_is_measured_once_per_data_object(monkeypatch):
    """A live Lab diagnoses every few seconds; the inputs' RMS (256 examples read for a dataset not in memory)
    is measured once for each data object, again for a new one, and is the value input_rms gives."""
    from nbtrain.engine.data import input_rms
    from nbtrain.tuning import diagnose as diagnose_mod

    calls = []
    monkeypatch.setattr(diagnose_mod, "input_rms", lambda data: calls.append(data) or input_rms(data))
    with nt.Trainer(data="spiral", hidden=[8], seed=0) as a, nt.Trainer(data="moons", hidden=[8], seed=0) as b:
        a.step(30).wait()
        b.step(30).wait()
        for _ in range(3):
            nt.diagnose(a)
        assert calls == [a.data]
        nt.diagnose(b)
        nt.diagnose(a)
        assert calls == [a.data, b.data]
        assert diagnose_mod._curves(b).input_rms == input_rms(b.data)
        a.data.train = b.data.train  # a training split put in the data's place: measured again
        assert diagnose_mod._curves(a).input_rms == input_rms(b.data)
