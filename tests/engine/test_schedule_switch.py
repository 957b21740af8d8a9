"""A schedule chosen mid-run starts at the step it was chosen; the run says when the lr has all but vanished."""

import math

import numpy as np
import pytest

import nbtrain as nt


def cosine(t, base, T):  # the lecture's ½·lr·(1 + cos πt/T), held at 0 after T
    return 0.5 * base * (1 + math.cos(math.pi * min(t, T) / T))


@pytest.fixture
def trainer():
    tr = nt.Trainer(data="spiral", hidden=[32], lr=0.3, optimizer="momentum", device="cpu", seed=0)
    yield tr
    tr.close()


def test_cosine_chosen_after_its_default_horizon_starts_at_the_base_rate_and_keeps_training(trainer):
    trainer.step(1200).wait(timeout=120)  # past the default horizon of 1000: evaluated at the global step, cosine is 0
    trainer.config.schedule = "cosine"
    assert trainer.schedule_start == 1200 and trainer.schedule.total_steps == 1000
    trainer.step(600).wait(timeout=120)
    h = trainer.history.dropna(subset=["train_loss"])
    lr = h.set_index("step")["lr"]
    for t in (0, 1, 250, 500, 599):
        assert lr[1200 + t] == pytest.approx(cosine(t, 0.3, 1000), rel=1e-9)
    before, after = h[h.step.between(1100, 1199)].train_loss.mean(), h[h.step >= 1700].train_loss.mean()
    assert after < before  # it keeps learning: the lr is ≈ 0.3·0.35 at the end, not 0
    assert trainer.lr_note == ""


def test_the_horizon_is_what_remains_of_the_run_or_the_schedules_own(trainer):
    trainer.config.max_steps = 1000
    trainer.step(400).wait(timeout=60)
    trainer.config.schedule = "linear"
    assert trainer.schedule.total_steps == 600  # what remains of max_steps
    assert trainer.lr_in_use(400) == 0.3 and trainer.lr_in_use(700) == pytest.approx(0.15)
    trainer.config.total_steps = 200  # its own horizon, from where it was chosen
    assert trainer.schedule_start == 400 and trainer.schedule.total_steps == 200
    assert trainer.lr_in_use(500) == pytest.approx(0.15)


def test_changing_the_lr_or_parameters_does_not_restart_the_schedule(trainer):
    trainer.config.update(schedule="step", schedule_params={"step_size": 100, "gamma": 0.5})
    trainer.step(250).wait(timeout=60)
    assert trainer.schedule_start == 0
    trainer.config.lr = 0.2
    trainer.config.schedule_params = {"step_size": 100, "gamma": 0.1}
    assert trainer.schedule_start == 0 and trainer.lr_in_use() == pytest.approx(0.2 * 0.01)


def test_reset_and_checkpoints_keep_the_start_right(trainer, tmp_path):
    trainer.step(300).wait(timeout=60)
    trainer.config.schedule = "cosine"
    trainer.step(50).wait(timeout=60)
    path = trainer.save(tmp_path / "run.pt")
    loaded = nt.Trainer.load(path, device="cpu")
    try:
        assert loaded.schedule_start == 300 and loaded.lr_in_use() == pytest.approx(cosine(50, 0.3, 1000))
        loaded.step(10).wait(timeout=60)
        np.testing.assert_allclose(loaded.history.lr.dropna().to_numpy()[-10:],
                                   [cosine(t, 0.3, 1000) for t in range(50, 60)], rtol=1e-9)
    finally:
        loaded.close()
    trainer.reset()
    assert trainer.schedule_start == 0 and trainer.lr_in_use() == 0.3


def test_lr_note_says_when_the_rate_in_use_fell_below_a_thousandth(trainer):
    trainer.config.update(schedule="cosine", total_steps=100)
    assert trainer.lr_note == ""
    trainer.step(99).wait(timeout=60)  # cosine(99/100) = 2.5e-4 of the base rate
    assert "below 1/1000 of the base rate 0.3" in trainer.lr_note
    trainer.step(5).wait(timeout=60)
    assert "ended at step 100" in trainer.lr_note
    trainer.config.schedule = "constant"
    assert trainer.lr_note == ""


def test_no_lr_note_during_a_warmup_from_zero():
    with nt.Trainer(data="spiral", hidden=[8], warmup_steps=10, device="cpu") as tr:
        assert tr.lr_in_use() == 0.0 and tr.lr_note == ""
