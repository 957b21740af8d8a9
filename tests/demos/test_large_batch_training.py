"""Large-batch demo: the rates the runs used are k·η with the linear warm-up formula; the lessons hold."""

import numpy as np

from nbtrain.demos import large_batch_training as LB


def test_rates_follow_linear_scaling_and_warmup_formula():
    r = LB.large_batch_data(k=4, base_batch=16, base_lr=0.05, epochs=2, warmup_epochs=1, hidden=(64,))
    base, big, scaled, warm = (r.runs[n] for n in LB.RUNS)
    assert (base.batch_size, big.batch_size, scaled.batch_size) == (16, 64, 64)
    assert np.allclose(base.lr_per_step, 0.05) and np.allclose(big.lr_per_step, 0.05)
    assert np.allclose(scaled.lr_per_step, 0.2)
    w = warm.warmup_steps
    assert w == -(-1437 // 64)  # one epoch of the large batch (1437 training images)
    t = np.arange(len(warm.lr_per_step))
    assert np.allclose(warm.lr_per_step, 0.2 * np.minimum(t, w) / w)  # linear from 0 to k·η over one epoch
    # the same number of epochs: k times fewer steps
    assert base.steps >= 4 * big.steps - 4
    assert all(abs(run.epoch[-1] - 2.0) < 0.05 for run in r.runs.values())


def test_the_lessons_at_the_defaults():
    r = LB.large_batch_data()  # k = 16: batch 256, scaled rate 1.6
    acc = r.final("val_acc")
    assert acc["big"] < acc["base"] - 0.1  # k× fewer steps at the same rate: behind after the same epochs
    assert max(r.runs["big_scaled"].val_loss) > 100  # the scaled rate from step 0 diverges
    assert acc["big_scaled_warmup"] > acc["big_scaled"] + 0.3  # warmed up, it trains
    r8 = LB.large_batch_data(k=8)
    acc8 = r8.final("val_acc")
    assert acc8["big_scaled"] > acc8["big"] + 0.05 and acc8["big_scaled"] > acc8["base"] - 0.05  # k = 8: scaling works
