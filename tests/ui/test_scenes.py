"""Lab.play (scenes), Lab.fork (overlays), Lab.replay / from_script and Lab.export, as widget state."""

import json

import bqplot as bq
import pytest
import torch

import nbtrain as nt


def test_scene_plays_in_the_lab_pauses_at_its_cue_and_shows_the_note(make_lab):
    lab = make_lab(max_steps=None, eval_every=20)
    scene = nt.Scene([nt.cue(0, note="sigmoid & <tiny> weights"), nt.cue(40, activation="tanh", note="tanh now"),
                      nt.cue(70, pause=True, note="Question: why did it work?"), nt.cue(None, lr=0.05, note="by key")])
    lab.play(scene)
    view = lab.scene_view
    assert view.box in lab.children
    lab.start()
    assert lab.wait(timeout=60) == "paused"
    assert lab.trainer.global_step == 70 and lab.config.activation == "tanh"
    assert "Question: why did it work?" in view.note.value
    lab.publish(force=True)
    assert "&lt;tiny&gt;" not in view.note.value  # (an earlier note) and the current one is escaped text
    assert "cue 3/4" in view.count.value and not view.next_button.disabled
    # cues are marked on the curves: one event marker per cue step
    marker_steps = set(lab.marks["event_markers"].x.tolist())
    assert {0, 40, 70} <= marker_steps
    view.next_button.click()
    assert lab.config.lr == 0.05 and lab.scene.current == 3
    lab.publish(force=True)
    assert view.next_button.disabled and "cue 4/4" in view.count.value
    with pytest.raises(RuntimeError, match="already playing"):
        lab.play(scene)


def test_scene_note_is_escaped(make_lab):
    lab = make_lab(max_steps=None)
    lab.play(nt.Scene([nt.cue(None, note="<img src=x onerror=alert(1)>")]))
    lab.next_cue()
    lab.publish(force=True)
    assert "<img" not in lab.scene_view.note.value and "&lt;img" in lab.scene_view.note.value


def test_fork_is_overlaid_dashed_with_a_legend_naming_what_differs(make_lab):
    lab = make_lab(max_steps=300, eval_every=25)
    lab.step(60).wait()
    n_loss = len(lab.figures["loss"].marks)
    branch = lab.fork(activation="tanh", lr=0.05)
    assert branch in lab.forks and branch.global_step == 60
    loss_marks = lab.figures["loss"].marks
    assert len(loss_marks) == n_loss + 1
    overlay = loss_marks[-1]
    assert isinstance(overlay, bq.Lines) and overlay.line_style == "dashed"
    assert overlay.labels == ["tanh, lr=0.05 @60"]
    branch.step(40).wait()
    lab.publish(force=True)
    x = overlay.x
    assert len(x) > 0 and x.min() >= 60 and x.max() == 99  # the branch's own steps, from the fork on
    # named in the legend rows under loss and accuracy, not in a bqplot legend over the curves
    assert not overlay.display_legend
    assert all("tanh, lr=0.05 @60" in lab.legends[k][1].value for k in ("loss", "accuracy"))
    acc = lab.figures["accuracy"].marks[-1]
    assert acc.labels == ["tanh, lr=0.05 @60"] and len(acc.x) > 0
    lab.close_fork(branch)
    assert overlay not in lab.figures["loss"].marks and branch not in lab.forks
    lab.publish(force=True)
    assert "@60" not in lab.legends["loss"][1].value
    assert branch._closed


def test_lab_close_closes_its_forks(make_lab):
    lab = make_lab(max_steps=None)
    lab.step(10).wait()
    branch = lab.fork(lr=0.01)
    lab.close()
    assert branch._closed


def test_script_from_a_lab_driven_through_its_widgets_replays_bit_for_bit(make_lab):
    lab = make_lab(max_steps=None, eval_every=20)
    lab.step_count.value = 30
    lab.buttons["step"].click()
    lab.wait(timeout=60)
    lab.controls["activation"].value = "tanh"
    lab.controls["optimizer"].value = "adam"
    lab.controls["lr"].value = 0.01
    lab.controls["dropout"].value = 0.2
    lab.buttons["step"].click()
    lab.wait(timeout=60)
    lab.buttons["reinit"].click()
    lab.controls["batch_size"].value = 16
    lab.buttons["step"].click()
    lab.wait(timeout=60)
    a = lab.trainer
    script = json.loads(json.dumps(lab.script()))
    replayed = nt.Lab.replay(script, interval=0.05)
    try:
        replayed.wait(timeout=120)
        b = replayed.trainer
        assert b.global_step == a.global_step == 90
        cols = [c for c in a.history.columns if c != "time"]
        assert a.history[cols].equals(b.history[cols])
        for x, y in zip(a.model.state_dict().values(), b.model.state_dict().values()):
            assert torch.equal(x, y)
        assert nt.Lab.from_script.__func__ is nt.Lab.replay.__func__
    finally:
        replayed.close()
        replayed.trainer.close()


def test_export_writes_one_self_contained_file(make_lab, tmp_path):
    lab = make_lab(max_steps=120, eval_every=20)
    lab.step(60).wait()
    lab.config.lr = 0.1
    lab.step(60).wait()
    path = lab.export(tmp_path / "run.html")
    text = open(path, encoding="utf-8").read()
    assert "application/vnd.jupyter.widget-state+json" in text and "widget-view+json" in text
    assert 'define("bqplot",' in text and 'define("bqscales",' in text
    assert "cdn.jsdelivr.net/npm/@jupyter-widgets" not in text.split("embed-amd")[0]
    assert "<script src=" not in text  # everything inline
    assert "nbtrain-script/1" in text and ">lr<" in text
    assert not list(tmp_path.glob(".nbtrain-export-*"))  # atomic write, no temp file left
