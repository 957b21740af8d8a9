"""The Lab widget, without a kernel or browser: controls <-> config, streaming curves, closing, status."""

import json
import math
import time

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from torch import nn
from ui_helpers import nbtrain_threads, wait_until

import nbtrain as nt
from nbtrain.engine import data as data_mod
from nbtrain.engine import schedules


def options(dropdown):
    return [o[1] if isinstance(o, tuple) else o for o in dropdown.options]


# ---- controls come from the registries -------------------------------------------------------------

def test_controls_list_every_registry_entry(make_lab):
    lab = make_lab()
    c = lab.controls
    assert options(c["activation"]) == nt.activations.names()
    assert options(c["init"]) == nt.initializers.names()
    assert options(c["optimizer"]) == nt.optimizers.names()
    assert options(c["schedule"]) == nt.schedules.names()
    assert options(c["data"]) == nt.datasets.names()
    assert options(c["preprocess"]) == data_mod.preprocessors.names()
    labels = [o[0] for o in c["data"].options]
    assert "mnist (needs files)" in labels and "spiral" in labels  # torchvision sets say they need files
    assert "ReLU(x) = max(0, x)" in c["activation"].tooltip  # the registry summary is the tooltip


def test_a_newly_registered_activation_appears_in_the_dropdown_without_ui_code(make_lab):
    registry = nt.activations.registry
    registry.register("dummy_act", lambda: nn.Tanh(), summary="a test activation")
    try:
        lab = make_lab()
        assert "dummy_act" in options(lab.controls["activation"])
        lab.controls["activation"].value = "dummy_act"
        assert lab.config.activation == "dummy_act"
        assert lab.controls["activation"].tooltip.startswith("a test activation")
    finally:
        if "dummy_act" in registry:
            registry.unregister("dummy_act")


def test_a_schedule_registered_without_ui_hints_still_gets_parameter_widgets(make_lab):
    def halving(base_lr, total_steps, /, *, every: int = 100, floor: float = 0.0):
        """Halve every k steps."""
        return schedules.make("step", base_lr, total_steps, step_size=every, gamma=0.5)

    schedules.registry.register("halving_test", halving)
    try:
        lab = make_lab()
        assert "halving_test" in options(lab.controls["schedule"])
        lab.controls["schedule"].value = "halving_test"
        assert lab.config.schedule == "halving_test"
        assert isinstance(lab.controls["schedule.every"], widgets.IntText)
        lab.controls["schedule.every"].value = 7
        assert lab.config.schedule_params == {"every": 7}
    finally:
        if "halving_test" in schedules.registry:
            schedules.registry.unregister("halving_test")


def test_schedule_parameter_widgets_follow_the_param_specs(make_lab):
    lab = make_lab(max_steps=900)
    lab.controls["schedule"].value = "cyclic"
    specs = schedules.param_specs("cyclic", lab.config.lr, 900)
    for name, spec in specs.items():
        w = lab.controls[f"schedule.{name}"]
        kind = {"int": widgets.IntSlider, "float": widgets.FloatSlider, "log": widgets.FloatLogSlider,
                "choice": widgets.Dropdown, "bool": widgets.Checkbox}[spec.kind]
        assert isinstance(w, kind), (name, type(w))
    assert lab.controls["schedule.mode"].options == ("triangular", "triangular2", "exp_range")
    assert lab.controls["schedule.step_size"].max == 900  # high = total steps


# ---- control -> config -> control ------------------------------------------------------------------

def test_changing_a_control_sets_the_trainer_config(make_lab):
    lab = make_lab()
    c, cfg = lab.controls, lab.trainer.config
    c["lr"].value = 0.05
    c["activation"].value = "tanh"
    c["optimizer"].value = "adam"
    c["dropout"].value = 0.25
    c["batch_size"].value = 64
    c["weight_decay"].value = 1e-4
    c["mixup"].value = 0.2
    c["batch_norm"].value = True
    c["hidden"].value = "32, 8"
    c["schedule"].value = "step"
    c["schedule.gamma"].value = 0.5
    c["schedule.warmup_steps"].value = 20
    c["max_steps"].value = 500
    assert (cfg.lr, cfg.activation, cfg.optimizer, cfg.dropout, cfg.batch_size) == (0.05, "tanh", "adam", 0.25, 64)
    assert (cfg.weight_decay, cfg.mixup, cfg.batch_norm, cfg.hidden) == (1e-4, 0.2, True, [32, 8])
    assert (cfg.schedule, cfg.schedule_params, cfg.warmup_steps, cfg.max_steps) == ("step", {"gamma": 0.5}, 20, 500)
    assert lab.status.value == ""  or "reset" in lab.status.value  # hidden waits for reset, nothing failed
    assert lab.trainer.needs_reset == ["hidden"]


def test_a_control_change_while_running_takes_effect_at_the_next_step(make_lab):
    lab = make_lab(max_steps=100_000, lr=0.3)
    lab.start()
    lab.wait(steps=20, timeout=30)
    lab.controls["lr"].value = 0.01
    step = lab.global_step
    assert wait_until(lambda: lab.global_step > step + 20)
    lab.pause()
    lab.wait(timeout=10)
    h = lab.history
    changed = [e for e in lab.metrics.events if e["field"] == "lr"]
    assert changed and changed[0]["old"] == 0.3 and changed[0]["new"] == 0.01
    at = changed[0]["step"]
    assert (h.loc[h.step >= at, "lr"] == 0.01).all() and (h.loc[h.step < at, "lr"] == 0.3).all()


def test_a_config_change_from_code_shows_in_the_control_without_clamping(make_lab):
    lab = make_lab()
    lab.config.lr = 50.0  # beyond the slider's 1e-4..10 range: the slider widens, the config keeps 50
    assert lab.controls["lr"].value == pytest.approx(50.0) and lab.config.lr == 50.0
    lab.config.weight_decay = 2e-4  # not one of the slider's stops: added
    assert lab.controls["weight_decay"].value == 2e-4 and lab.config.weight_decay == 2e-4
    lab.config.update(schedule="cosine", schedule_params={"alpha": 0.1})
    assert lab.controls["schedule"].value == "cosine" and lab.controls["schedule.alpha"].value == pytest.approx(0.1)


def test_a_refused_value_shows_in_the_status_and_the_control_snaps_back(make_lab):
    lab = make_lab()
    lab.controls["hidden"].value = "16, 0"
    assert "hidden" in lab.status.value and "[1, 65536]" in lab.status.value
    assert lab.controls["hidden"].value == "16, 16" and lab.config.hidden == [16, 16]
    lab.controls["hidden"].value = "sixteen"
    assert "whole numbers" in lab.status.value and lab.controls["hidden"].value == "16, 16"
    lab.controls["lr"].value = 0.2  # the next good change clears the message
    assert lab.status.value == ""


def test_an_engine_refusal_shows_in_the_status_and_the_control_snaps_back(make_lab):
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))  # a user model: no batch-norm blocks
    X, y = data_mod.spiral(n=150)
    lab = make_lab(model=model, data=(X, y), n_samples=None)
    assert lab.controls["batch_norm"].disabled and lab.controls["data"].disabled and lab.controls["hidden"].disabled
    lab.controls["batch_norm"].value = True  # disabled in the browser, but a script can still try
    assert "batch_norm" in lab.status.value and lab.controls["batch_norm"].value is False


def test_a_data_change_waits_for_reset_and_says_so(make_lab):
    lab = make_lab()
    lab.controls["data"].value = "digits"
    assert lab.config.data == "digits" and "data" in lab.trainer.needs_reset
    assert lab.controls["noise"].disabled and lab.controls["n_samples"].disabled  # digits takes neither
    lab.publish()
    assert "press reset" in lab.status.value and lab.buttons["reset"].button_style == "warning"
    lab.buttons["reset"].click()
    assert lab.trainer.data.name == "digits" and lab.buttons["reset"].button_style == ""
    assert "needs 2-D inputs" in lab.figures["boundary"].title and not lab.marks["boundary"].visible


def test_a_missing_dataset_is_reported_on_reset_not_raised(make_lab, tmp_path, monkeypatch):
    monkeypatch.setattr(data_mod.sets, "DEFAULT_ROOT", str(tmp_path))
    lab = make_lab()
    lab.controls["data"].value = "mnist"
    lab.buttons["reset"].click()
    assert "FileNotFoundError" in lab.status.value and "download=True" in lab.status.value
    assert lab.trainer.data.name == "spiral"


# ---- transport -------------------------------------------------------------------------------------

def test_buttons_drive_the_trainer(make_lab):
    lab = make_lab()
    lab.step_count.value = 7
    lab.buttons["step"].click()
    assert lab.trainer.wait(timeout=30) == "paused" and lab.global_step == 7
    lab.buttons["play"].click()
    assert lab.state == "running" and lab.buttons["play"].disabled and not lab.buttons["pause"].disabled
    lab.buttons["pause"].click()
    assert lab.trainer.wait(timeout=30) == "paused"
    lab.publish()
    assert not lab.buttons["play"].disabled and lab.buttons["pause"].disabled
    first = lab.trainer.initial_state["net.0.layer.weight"].clone() if "net.0.layer.weight" in lab.trainer.initial_state else None
    lab.same_init.value = True
    lab.buttons["reset"].click()
    assert lab.global_step == 0 and lab.state == "idle" and len(lab.loss_lines["train"].x) == 0
    if first is not None:
        assert torch.equal(lab.trainer.initial_state["net.0.layer.weight"], first)
    before = [p.detach().clone() for p in lab.trainer.model.parameters()]
    lab.controls["init"].value = "xavier_normal"
    lab.buttons["reinit"].click()
    after = list(lab.trainer.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    assert lab.metrics.events[-1]["field"] == "reinit"


def test_stable_css_classes_for_the_lab_extension_and_browser_tests(make_lab):
    lab = make_lab()
    assert "nbtrain-lab" in lab._dom_classes
    for key in ("play", "pause", "step", "reset", "reinit"):
        assert f"nbtrain-{key}" in lab.buttons[key]._dom_classes
    assert "nbtrain-status" in lab.status._dom_classes
    assert "nbtrain-control-lr" in lab.controls["lr"]._dom_classes


# ---- streaming ---------------------------------------------------------------------------------------

def test_curves_grow_while_running(make_lab):
    lab = make_lab(max_steps=100_000, interval=0.05)
    ends = []
    lab.start()
    for _ in range(3):  # the curve reaches further each time (its length stops growing at max_points)
        end = lab.loss_lines["train"].x[-1] if len(lab.loss_lines["train"].x) else -1
        assert wait_until(lambda end=end: len(lab.loss_lines["train"].x) and lab.loss_lines["train"].x[-1] > end), (
            "the publisher thread sent nothing new")
        ends.append(int(lab.loss_lines["train"].x[-1]))
    lab.pause()
    lab.wait(timeout=10)
    assert ends == sorted(ends) and ends[-1] > ends[0]
    train = lab.loss_lines["train"]
    assert len(train.x) == len(train.y) and train.x[-1] <= lab.global_step
    assert wait_until(lambda: len(lab.loss_lines["val"].x) > 0 and len(lab.acc_lines["val"].x) > 0)
    assert 0 <= lab.acc_lines["val"].y.min() and lab.acc_lines["val"].y.max() <= 100  # percent
    assert lab._publisher.errors == 0, lab._publisher.last_error


def test_while_a_run_goes_on_the_publisher_takes_at_most_its_share_of_a_core(make_lab):
    """The publisher's Python holds the GIL the training thread needs: while the run goes on it keeps to
    PUBLISH_BUDGET of a core (a dearer publish means fewer publishes, not a slower run)."""
    from nbtrain.ui.lab_publish import PUBLISH_BUDGET

    lab = make_lab(max_steps=10**7)
    pub = lab._publisher
    assert pub.budget == PUBLISH_BUDGET
    lab.start()
    assert wait_until(lambda: lab.state == "running" and pub.calls > 0)
    cpu0, calls0, t0 = pub.cpu_total, pub.calls, time.perf_counter()
    time.sleep(3.0)
    share = (pub.cpu_total - cpu0) / (time.perf_counter() - t0)
    calls = pub.calls - calls0
    lab.pause()
    lab.wait(timeout=10)
    assert calls >= 3, "the curves must still move"
    assert share <= 1.5 * PUBLISH_BUDGET, f"the publisher took {share:.1%} of a core over {calls} publishes"
    assert pub.errors == 0, pub.last_error


def test_the_schedule_figures_now_line_stands_at_the_step_reached_once_the_run_stops(make_lab):
    """While a run goes on the "now" line moves with the learning-rate line (every LAYER_INTERVAL); when it stops,
    it stands at the step reached."""
    lab = make_lab(max_steps=400)
    lab.start()
    lab.wait(timeout=60)
    assert lab.global_step == 400
    assert wait_until(lambda: list(lab.marks["now"].x) == [400, 400]), list(lab.marks["now"].x)


def test_between_two_full_publishes_of_a_run_only_the_training_loss_curve_moves(make_lab, sent, monkeypatch):
    """While a run goes on, a publish within MEDIUM_INTERVAL of the last full one sends the training-loss curve
    (and its axes, when they change) and nothing else; the next full one brings every view up to date, and once
    the run stops every view shows its last row."""
    import types

    from nbtrain.ui import lab_publish

    clock = [1000.0]
    monkeypatch.setattr(lab_publish, "time", types.SimpleNamespace(monotonic=lambda: clock[0],
                                                                   perf_counter=time.perf_counter))
    lab = make_lab(max_steps=10**7, interval=60)  # this test publishes, not the publisher thread
    m = lab.metrics
    lab.start()
    assert wait_until(lambda: lab.state == "running" and m.evals.n >= 2)
    assert lab.publish()  # the first publish of the run: a full one
    progress, evals_drawn = lab.progress.value, len(lab.acc_lines["val"].x)
    steps_seen, evals_seen = m.steps.n, m.evals.n
    assert wait_until(lambda: m.steps.n > steps_seen + 50 and m.evals.n > evals_seen)
    fast = {lab.loss_lines["train"], lab.figures["loss"].axes[0], lab.figures["loss"].axes[0].scale,
            lab._loss_axis, lab._loss_axis.scale}
    clock[0] += 0.4 * lab_publish.MEDIUM_INTERVAL
    sent.clear()
    assert lab.publish()
    senders = {w for w, _ in sent}
    assert lab.loss_lines["train"] in senders and senders <= fast, [type(w).__name__ for w in senders - fast]
    assert lab.loss_lines["train"].x[-1] > steps_seen - 1
    assert lab.progress.value == progress and len(lab.acc_lines["val"].x) == evals_drawn  # they wait
    clock[0] += 0.7 * lab_publish.MEDIUM_INTERVAL  # 1.1 intervals after the full publish: the next full one
    sent.clear()
    assert lab.publish()
    assert lab.progress.value != progress and len(lab.acc_lines["val"].x) > evals_drawn
    assert {lab.progress, lab.acc_lines["val"], lab.loss_lines["val"]} <= {w for w, _ in sent}
    lab.pause()
    lab.wait(timeout=30)
    clock[0] += 0.1 * lab_publish.MEDIUM_INTERVAL  # not running: a full publish whenever it comes
    lab.publish()
    assert lab.loss_lines["train"].x[-1] == m.steps.column("step")[-1]
    assert lab.acc_lines["val"].x[-1] == m.evals.column("step")[-1]
    assert "paused" in lab.progress.value


def test_the_five_step_figures_share_one_step_axis(make_lab, sent):
    """The loss, accuracy and per-layer figures have one step axis (and scale): when the run passes its last
    tick, one scale and one axis message move all five."""
    lab = make_lab(interval=60)
    names = ("loss", "accuracy", "act_std", "saturation", "grad_norm")
    axes = {lab.figures[n].axes[0] for n in names}
    assert len(axes) == 1 and {m.scales["x"] for n in names for m in lab.figures[n].marks} == {axes.pop().scale}
    lab.publish()
    sent.clear()
    lab.step(60)
    lab.wait(timeout=30)
    lab.publish()
    axis = lab.figures["loss"].axes[0]
    assert [w for w, _ in sent].count(axis) == 1 and [w for w, _ in sent].count(axis.scale) == 1
    assert axis.scale.max == 60 and list(axis.tick_values)[-1] == 60


def test_the_first_points_of_a_one_layer_net_are_drawn(make_lab):
    lab = make_lab(hidden=[8], interval=60)
    lab.step(1)
    lab.wait(timeout=30)  # one step, one eval, one layer-stats row: single points everywhere
    assert lab.loss_lines["train"].x.tolist() == [0] and np.asarray(lab.marks["act_std"].x).shape == (2,)


def test_curves_stay_under_the_point_cap_after_1e5_logged_steps(make_lab):
    lab = make_lab(max_points=500, interval=60)
    m = lab.metrics
    for i in range(100_000):
        m.log_step(i, i / 10, i * 1e-3, 1.0 + math.sin(i / 500), 0.1)
        if i % 50 == 0:
            m.log_eval(i, i / 10, 1.0, 0.5, 1.0, 0.6)
        if i % 10 == 0:
            m.log_layers(i, [[0.0, 0.5, 0.1, 0.0, 1.0], [0.0, 0.4, 0.2, 0.0, 2.0]])
    assert lab.publish()
    for name, mark in lab.marks.items():
        x = np.asarray(mark.x)
        assert x.shape[-1] <= 500, name
        assert np.asarray(mark.y).shape == x.shape or name == "boundary", name
    assert lab.loss_lines["train"].x[-1] == 99_999 and lab.loss_lines["train"].y.max() == pytest.approx(2.0, abs=1e-4)
    assert lab.marks["act_std"].x.shape == (2, lab.marks["act_std"].x.shape[1])  # one line per layer
    m.log_step(100_000, 0, 0, 1.0, 0.1)
    assert lab.publish() and len(lab.loss_lines["train"].x) <= 500


def test_nothing_is_sent_when_nothing_changed(make_lab, sent):
    lab = make_lab(interval=60)
    lab.step(5)
    lab.wait(timeout=30)
    lab.publish()
    sent.clear()
    assert lab.publish() is False
    assert sent == []


def test_an_update_sends_each_mark_once_with_x_and_y_together(make_lab, sent):
    lab = make_lab(interval=60)
    lab.step(5)
    lab.trainer.wait(timeout=30)  # (Lab.wait would publish already)
    sent.clear()
    lab.publish()
    per_widget = {}
    for w, msg in sent:
        per_widget.setdefault(id(w), []).append(msg)
    assert all(len(msgs) == 1 for msgs in per_widget.values())
    msgs = per_widget[id(lab.loss_lines["train"])]
    assert {"x", "y"} <= set(msgs[0]["state"])


def test_the_loss_curve_can_switch_to_a_log_axis(make_lab):
    lab = make_lab()
    lab.log_loss.value = True
    assert all(type(m.scales["y"]).__name__ == "LogScale" for m in lab.loss_lines.values())
    lab.log_loss.value = False
    assert all(type(m.scales["y"]).__name__ == "LinearScale" for m in lab.loss_lines.values())


def test_live_changes_are_marked_on_the_loss_curve_with_what_changed(make_lab):
    lab = make_lab(interval=60)
    lab.step(10)
    lab.wait(timeout=30)
    lab.controls["lr"].value = 0.1
    lab.controls["activation"].value = "tanh"
    lab.publish()
    markers = lab.marks["event_markers"]
    assert markers.x.tolist() == [10]
    assert "lr 0.3 → 0.1" in markers.names[0] and "activation relu → tanh" in markers.names[0]
    assert np.asarray(lab.marks["events"].x).reshape(-1, 2).tolist() == [[10, 10]]  # one vertical line


def test_the_decision_boundary_covers_the_points_in_the_preprocessed_space(make_lab):
    lab = make_lab(data="blobs", preprocess="normalize", n_samples=200, max_steps=50, boundary_resolution=32)
    lab.start()
    lab.wait(timeout=30)
    heat, points = lab.marks["boundary"], lab.marks["points"]
    assert wait_until(lambda: heat.visible)
    assert heat.color.shape == (32, 32)
    k = lab.trainer.data.num_classes
    assert heat.color.min() >= 0 and heat.color.max() <= 2 * k - 1
    x0, x1, y0, y1 = lab.trainer.data.bounds()
    assert heat.x[0] == pytest.approx(x0) and heat.y[-1] == pytest.approx(y1)
    assert x0 < points.x.min() and points.x.max() < x1  # raw blobs lie far outside: the points are normalised
    assert abs(float(np.mean(points.x))) < 0.5
    assert "x₁ (normalize)" == lab.figures["boundary"].axes[0].label
    assert "step 50" in lab.figures["boundary"].title


def test_the_layer_panel_shows_saturation_per_layer(make_lab):
    lab = make_lab(activation="sigmoid", init="large_gaussian", hidden=[32, 32, 32], stats_every=2, max_steps=40)
    lab.start()
    lab.wait(timeout=30)
    std, sat, grad = (lab.marks[k] for k in ("act_std", "saturation", "grad_norm"))
    assert std.x.shape[0] == sat.x.shape[0] == 3 and len(std.labels) == 3
    assert std.labels[0] == "0: sigmoid" and len(set(std.colors)) == 3
    assert sat.y.max() > 20  # large weights push sigmoid units into saturation: visible in percent
    assert grad.x.shape[0] == 3


# ---- status line -----------------------------------------------------------------------------------------

def test_a_nan_diagnosis_appears_in_the_status(make_lab):
    lab = make_lab(lr=100.0, optimizer="sgd", activation="identity", max_steps=2000)
    lab.start()
    assert lab.wait(timeout=30) == "paused"
    assert "loss became" in lab.status.value and "learning rate 100 is likely too high" in lab.status.value
    assert "#c62828" in lab.status.value  # shown as an error
    assert lab.marks["event_markers"].names[-1].startswith("loss became")


def test_curve_diagnosis_findings_show_live_under_the_status(make_lab):
    lab = make_lab(lr=100.0, optimizer="sgd", activation="identity", max_steps=2000)
    lab.start()
    lab.wait(timeout=30)
    lab.publish(force=True)
    assert [f.rule for f in lab.findings][:1] == ["nan"]
    assert "nan: the loss became NaN" in lab.diagnosis.value and "#c62828" in lab.diagnosis.value
    assert "nbtrain-diagnosis" in lab.diagnosis._dom_classes


def test_the_live_diagnosis_is_nt_diagnose_of_the_lab(make_lab):
    """The findings under the status line are ``nt.diagnose(lab)``'s: from the trainer, with what only it knows
    (here its model, whose logits pass through a ReLU), not from the history frame, which knows less."""
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 3), nn.ReLU())
    lab = make_lab(model=model, data="spiral", max_steps=300)
    lab.start()
    assert lab.wait(timeout=60) == "finished"
    lab.publish(force=True)
    expected = nt.diagnose(lab)
    assert [(f.rule, f.evidence) for f in lab.findings] == [(f.rule, f.evidence) for f in expected]
    assert "activation_before_softmax" in [f.rule for f in lab.findings]
    assert "activation_before_softmax: the model&#x27;s last layer is a relu" in lab.diagnosis.value  # shown
    assert "activation_before_softmax" not in [f.rule for f in nt.diagnose(lab.trainer.history)]


def test_a_training_error_appears_in_the_status(make_lab):
    class Broken(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 3)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            if self.training and self.calls > 3:
                raise RuntimeError("the model broke")
            return self.fc(x)

    X, y = data_mod.spiral(n=90)
    lab = make_lab(model=Broken(), data=(X, y), n_samples=None)
    lab.start()
    with pytest.raises(nt.engine.trainer.TrainingError):
        lab.wait(timeout=30)
    assert "error at step" in lab.status.value and "the model broke" in lab.status.value


def test_progress_shows_step_epoch_and_bounded_progress(make_lab):
    lab = make_lab(max_steps=30)
    lab.start()
    lab.wait(timeout=30)
    assert "step 30 / 30" in lab.progress.value and "epoch" in lab.progress.value
    assert lab.progress_bar.value == 1.0 and lab.progress_bar.layout.visibility == "visible"
    assert "cpu" in lab.device_label.value
    assert "finished: reached max_steps=30" in lab.status.value


def test_run_on_a_finished_lab_continues_and_says_so(make_lab):
    """run at max_steps is never a silent no-op: the limit is raised by the run's length (≥ 100 steps),
    the config and the run tab show it, and the status line says what happened."""
    lab = make_lab(max_steps=150)
    lab.start()
    lab.wait(timeout=30)
    assert lab.state == "finished" and lab.global_step == 150
    lab.buttons["play"].click()
    assert "continuing (max steps 150 → 300" in lab.status.value
    assert lab.config.max_steps == 300 and lab.controls["max_steps"].value == 300
    assert lab.trainer.wait(timeout=30) == "finished" and lab.global_step == 300
    # step at the limit: raised by just the steps asked for
    lab.step_count.value = 7
    lab.buttons["step"].click()
    lab.trainer.wait(timeout=30)
    assert lab.global_step == 307 and lab.config.max_steps == 307
    # a run that has not reached its limit is left alone
    lab.controls["max_steps"].value = 400
    lab.buttons["play"].click()
    assert "continuing" not in lab.status.value and lab.config.max_steps == 400
    assert lab.trainer.wait(timeout=30) == "finished" and lab.global_step == 400


# ---- closing -------------------------------------------------------------------------------------------

def test_closing_stops_publishing_and_leaves_no_thread_while_the_trainer_goes_on(make_lab, sent):
    lab = make_lab(max_steps=1_000_000, interval=0.02)
    lab.start()
    assert wait_until(lambda: len(lab.loss_lines["train"].x) > 0)
    assert wait_until(lambda: any(w is lab.loss_lines["train"] for w, _ in sent))  # publishing reaches the comm
    lab.close()
    assert not lab.publishing and not [t for t in nbtrain_threads() if "publisher" in t.name]
    sent.clear()
    frozen, count, step = len(lab.loss_lines["train"].x), lab.publish_count, lab.global_step
    assert wait_until(lambda: lab.global_step > step + 50)  # close_stops=False: training goes on headless
    assert lab.state == "running"
    assert sent == [] and lab.publish_count == count and len(lab.loss_lines["train"].x) == frozen
    assert lab.publish() is False
    lab.trainer.close()


def test_closing_with_close_stops_ends_every_thread_and_comm(make_lab):
    lab = make_lab(max_steps=1_000_000, close_stops=True)
    lab.start()
    assert wait_until(lambda: lab.global_step > 5)
    everything = lab._all_widgets()
    assert len(everything) > 50
    lab.close()
    assert lab.state == "stopped"
    assert wait_until(lambda: not nbtrain_threads(), timeout=5), nbtrain_threads()
    assert all(w.comm is None for w in everything)


def test_closing_the_root_widget_alone_also_stops_the_publisher(make_lab):
    lab = make_lab(interval=0.02)
    widgets.Widget.close(lab)  # e.g. Widget.close_all(): the comm goes, the Lab notices at its next tick
    assert wait_until(lambda: not lab.publishing, timeout=5)


# ---- construction and pass-through ------------------------------------------------------------------------

def test_config_round_trips_through_json(make_lab):
    lab = make_lab(activation="tanh", lr=0.05, schedule="cosine", schedule_params={"alpha": 0.1})
    s = lab.config.to_json()
    twin = nt.Lab.from_json(s, interval=60)
    try:
        assert twin.config == lab.config and twin.controls["activation"].value == "tanh"
        assert json.loads(s)["schedule_params"] == {"alpha": 0.1}
    finally:
        twin.close()
        twin.trainer.close()


def test_save_and_load_pass_through_to_the_trainer(make_lab, tmp_path):
    lab = make_lab()
    lab.step(12)
    lab.wait(timeout=30)
    path = lab.save(tmp_path / "run.pt")
    again = nt.Lab.load(path, interval=60)
    try:
        assert again.global_step == 12 and len(again.history) == 12
        assert len(again.loss_lines["train"].x) == 12  # the loaded history is drawn at once
    finally:
        again.close()
        again.trainer.close()


def test_load_takes_every_ui_option_of_the_constructor(make_lab, tmp_path):
    lab = make_lab()
    lab.step(3)
    lab.wait(timeout=30)
    path = lab.save(tmp_path / "run.pt")
    again = nt.Lab.load(path, interval=60, diagnose_interval=0, image_panels=False)
    try:
        assert again.diagnose_interval == 0.0 and again.global_step == 3
        assert not again.image_panels.enabled
    finally:
        again.close()
        again.trainer.close()


def test_the_trainer_names_passed_through_are_the_trainers(make_lab):
    lab = make_lab(max_steps=4)
    tr = lab.trainer
    for name in ("config", "history", "metrics", "state", "message", "stop_reason", "global_step", "device"):
        assert name in dir(lab)
    assert lab.config is tr.config and lab.metrics is tr.metrics and lab.device == tr.device
    assert lab.step(2) is lab and lab.wait(timeout=30) == "paused"
    assert lab.global_step == tr.global_step == 2 and lab.state == tr.state and lab.message == tr.message
    assert lab.stop_reason == tr.stop_reason == "budget"
    assert lab.script() == tr.script()
    assert lab.submit(lambda model: 7).result(timeout=30) == 7


def test_a_lab_can_wrap_an_existing_trainer_but_not_also_build_one(make_lab):
    tr = nt.Trainer(data="moons", hidden=[8], device="cpu")
    lab = make_lab(trainer=tr)
    assert lab.trainer is tr and lab.config is tr.config and lab.controls["data"].value == "moons"
    with pytest.raises(ValueError, match="existing trainer"):
        nt.Lab(trainer=tr, lr=0.1)


def test_views_both_threads_write_wait_for_a_publish_in_progress(make_lab):
    """A publish hands its messages over in one batch when it ends (nbtrain.ui.iopub): the status line, the change
    note and the controls, which the kernel's thread writes too, are written under the publisher's lock, so such a
    write never reaches the page before the older values of a publish still in progress."""
    import threading

    lab = make_lab(interval=60)
    done = []
    held, release = threading.Event(), threading.Event()

    def publishing():  # stands for a publish in progress
        with lab._lock:
            held.set()
            release.wait(10)

    t = threading.Thread(target=publishing)
    t.start()
    assert held.wait(5)
    writers = [threading.Thread(target=lambda: (lab._set_ui_error("ValueError: no"), done.append("status"))),
               threading.Thread(target=lambda: (setattr(lab.config, "lr", 0.05), done.append("config")))]
    for w in writers:
        w.start()
    time.sleep(0.3)
    assert done == []  # both wait for the publish
    release.set()
    for w in [t, *writers]:
        w.join(10)
    assert sorted(done) == ["config", "status"]
    assert "ValueError: no" in lab.status.value and "lr" in lab.change_note.value
