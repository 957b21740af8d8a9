"""nt.compare: overlaid curves of several runs, labelled by what differs, streaming while runs train."""

import numpy as np
import pytest
from ui_helpers import nbtrain_threads, wait_until

import nbtrain as nt
from nbtrain.ui.compare import differing_settings

SMALL = dict(data="moons", hidden=[8], n_samples=200, seed=0, device="cpu")


@pytest.fixture
def runs():
    made = []

    def make(n_steps=40, **kw):
        tr = nt.Trainer(**{**SMALL, "max_steps": n_steps, **kw})
        made.append(tr)
        return tr

    yield make
    for tr in made:
        tr.close()


def finished(*trainers):
    for tr in trainers:
        tr.start()
    for tr in trainers:
        tr.wait(timeout=30)
    return list(trainers)


def test_the_legend_names_only_the_settings_that_differ():
    a, b = nt.TrainConfig(lr=0.1, seed=1), nt.TrainConfig(lr=0.5, activation="tanh", seed=1, eval_every=5)
    assert differing_settings([a, b]) == ["lr=0.1 · activation=relu", "lr=0.5 · activation=tanh"]
    assert differing_settings([a, a.copy()]) == ["", ""]


def test_each_run_gets_one_colour_train_solid_and_validation_dashed(runs):
    a, b = finished(runs(lr=0.1), runs(lr=1.0))
    view = nt.compare([a, b], live=False)
    try:
        assert view.labels == ["lr=0.1", "lr=1"]
        for name in ("train_loss", "val_loss", "train_acc", "val_acc", "lr"):
            lines = view.lines[name]
            assert len(lines) == 2 and lines[0].colors != lines[1].colors
            assert all(len(m.x) > 0 for m in lines), name
            assert all(m.line_style == ("dashed" if name.startswith("val") else "solid") for m in lines)
        assert view.lines["train_loss"][0].x[-1] == 39
        assert "lr=0.1" in view.legend.value and "best val acc" in view.legend.value
    finally:
        view.close()


def test_labs_and_trainers_can_be_mixed_and_labels_given(runs):
    a = finished(runs(activation="tanh"))[0]
    lab = nt.Lab(**{**SMALL, "max_steps": 20}, interval=60)
    try:
        lab.start()
        lab.wait(timeout=30)
        view = nt.compare([a, lab], labels=["tanh", "relu"], live=False)
        assert view.runs[1] is lab.trainer and view.labels == ["tanh", "relu"]
        view.close()
        with pytest.raises(TypeError, match="Labs or Trainers"):
            nt.compare([a, "not a run"])
        with pytest.raises(ValueError, match="labels"):
            nt.compare([a, lab], labels=["one"])
    finally:
        lab.close()
        lab.trainer.close()


def test_live_runs_keep_streaming_until_the_view_is_closed(runs):
    a = runs(n_steps=100_000)
    view = nt.compare([a], interval=0.02)
    a.start()
    assert wait_until(lambda: len(view.lines["train_loss"][0].x) > 10)
    view.close()
    assert not view.publishing and not [t for t in nbtrain_threads() if "compare" in t.name]
    n = len(view.lines["train_loss"][0].x)
    step = a.global_step
    assert wait_until(lambda: a.global_step > step + 20)
    assert len(view.lines["train_loss"][0].x) == n


def test_long_runs_are_decimated(runs):
    a = runs()
    for i in range(20_000):
        a.metrics.log_step(i, 0.0, 0.0, float(np.cos(i / 100)), 0.1)
    view = nt.compare([a], live=False, max_points=300)
    try:
        assert len(view.lines["train_loss"][0].x) <= 300 and view.lines["train_loss"][0].y.min() == -1.0
    finally:
        view.close()
