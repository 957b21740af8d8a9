"""Augmentation / mixup / batch-norm demo: the table is the mean of the trained models' own evaluations."""

import numpy as np
import pytest

from nbtrain.demos import regularizer_effects as RE


@pytest.fixture(scope="module")
def result():
    return RE.regularizer_effects_data(seeds=(0, 1), steps=400)


def test_table_entries_are_the_models_validation_numbers(result):
    for variant in RE.VARIANTS:
        losses, accs = [], []
        for seed in (0, 1):
            run = result.runs[(variant, seed)]
            loss, acc = RE.evaluate(run["model"], run["val"])
            assert loss == pytest.approx(run["val_loss"], rel=1e-4)
            assert acc == pytest.approx(run["val_acc"], abs=1e-6)
            losses.append(loss)
            accs.append(acc)
        assert result.table.loc[variant, "val_loss"] == pytest.approx(np.mean(losses), rel=1e-4)
        assert result.table.loc[variant, "val_acc"] == pytest.approx(np.mean(accs), abs=1e-6)
    n_val = len(result.runs[("none", 0)]["val"][1])
    assert n_val > 0.85 * 1797  # 10 % of the digits train, the rest validates


def test_label_safe_augmentation_does_not_cost_accuracy(result):
    t = result.table
    assert t.loc["augment", "val_acc"] > t.loc["none", "val_acc"] - 0.02
    assert (t["train_acc"] > t["val_acc"]).all()  # every variant still over-fits ~180 images a little
