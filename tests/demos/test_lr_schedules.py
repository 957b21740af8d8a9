"""Schedule gallery: curves come from the engine's schedules; the view builds controls from their specs."""

import numpy as np
import pytest

from nbtrain.demos import schedule_gallery, schedule_gallery_data, schedules
from nbtrain.engine import schedules as engine_schedules


def test_gallery_has_every_registered_schedule_with_engine_numbers():
    curves = schedule_gallery_data(base_lr=0.2, total_steps=300)
    assert list(curves) == engine_schedules.names()
    for name, c in curves.items():
        assert c.steps.tolist() == list(range(301))
        np.testing.assert_array_equal(c.lr, engine_schedules.make(name, 0.2, 300).curve(range(301)))
        assert c.formula


def test_parameters_pass_through_and_aliases_resolve():
    c = schedule_gallery_data(["multistep"], 1.0, 10, {"piecewise": {"boundaries": [3], "multipliers": [1, 0.5]}})
    assert list(c) == ["piecewise"]
    assert c["piecewise"].lr.tolist() == [1.0] * 3 + [0.5] * 8


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"names": ["warp"]}, r"unknown schedule 'warp'; allowed: constant"),
        ({"names": ["cosine"], "params": {"step": {}}}, r"params given for \['step'\]"),
        ({"base_lr": 0.0}, r"base_lr=0\.0 must be a number in \(0, 1000\]"),
        ({"names": ["step"], "params": {"step": {"gamma": -1.0}}}, r"gamma=-1\.0"),
    ],
)
def test_bad_arguments_name_the_value_and_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message):
        schedule_gallery_data(**kwargs)


def test_schedules_is_the_gallery():
    assert schedules is schedule_gallery


def test_view_builds_controls_from_specs_and_redraws():
    view = schedule_gallery("cosine", "step", total_steps=200)
    a, b = view.marks["first"], view.marks["second"]
    assert set(view.param_controls["first"]) >= {"alpha", "decay_steps", "warmup_steps"}
    y0 = np.array(a.y)
    view.param_controls["first"]["alpha"].value = 0.5
    assert np.array(a.y)[-1] == pytest.approx(0.05)
    view.controls["first"].value = "sgdr"
    assert "T_mult" in view.param_controls["first"]
    assert not np.array_equal(np.array(a.y), y0)
    view.param_controls["first"]["T_mult"].value = 1
    t0 = view.param_controls["first"]["T_0"].value
    np.testing.assert_allclose(np.array(a.y)[:: t0][:3], 0.1)  # restarts every T_0 steps
    view.controls["second"].value = "(none)"
    assert not b.visible and view.param_controls["second"] == {}
    view.controls["second"].value = "cosine"  # same schedule twice, compared with other parameters
    assert b.visible


def test_view_keeps_set_parameters_when_total_steps_changes():
    view = schedule_gallery("exponential", None, total_steps=1000)
    view.param_controls["first"]["decay_rate"].value = 0.5
    view.controls["total_steps"].value = 500
    assert view.param_controls["first"]["decay_rate"].value == 0.5
    assert len(view.marks["first"].x) == 501


def test_view_lambda_expression_and_errors_go_to_the_status_line():
    view = schedule_gallery("lambda", None, total_steps=300)
    view.param_controls["first"]["fn"].value = "0.5 ** (t // 100)"
    np.testing.assert_allclose(np.array(view.marks["first"].y)[[0, 100, 200]], [0.1, 0.05, 0.025])
    view.param_controls["first"]["fn"].value = "0.5 ** ("
    assert "is not an expression" in view.status.value
    view.param_controls["first"]["fn"].value = "undefined_name * t"
    assert "unknown name" in view.status.value and "undefined_name" in view.status.value
    view.param_controls["first"]["fn"].value = ""
    assert view.status.value.count("#c00") == 0


def test_view_log_axis_and_all_schedules_overlay():
    view = schedule_gallery("cosine", None, total_steps=100)
    view.controls["all"].value = True
    assert np.array(view.marks["all"].y).shape == (len(engine_schedules.names()), 101)
    view.controls["log"].value = True
    assert np.array(view.marks["first"].y).min() > 0  # cosine reaches 0: floored for the log axis
    assert view.marks["first"].scales["y"].__class__.__name__ == "LogScale"
