"""The Lab's schedule preview and status line for a schedule chosen mid-run."""

import numpy as np


def test_preview_starts_at_the_step_the_schedule_was_chosen(make_lab):
    lab = make_lab(max_steps=None)
    lab.trainer.step(300).wait(timeout=60)
    lab.config.schedule = "cosine"
    lab.publish(force=True)
    mark = lab.marks["schedule_preview"]
    assert mark.x[0] == 300 and mark.x[-1] == 1300  # default horizon 1000 from the switch
    np.testing.assert_allclose(mark.y[0], lab.config.lr, rtol=1e-6)
    assert lab.trainer.schedule_start == 300


def test_status_line_says_when_the_lr_in_use_is_below_a_thousandth(make_lab):
    lab = make_lab(max_steps=None, schedule="linear", total_steps=50)
    lab.trainer.step(60).wait(timeout=60)
    lab.publish(force=True)
    assert "below 1/1000 of the base rate" in lab.status.value and "ended at step 50" in lab.status.value
    lab.config.schedule = "constant"
    lab.publish(force=True)
    assert "below 1/1000" not in lab.status.value
