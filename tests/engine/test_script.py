"""Scripts replay bit for bit; scenes fire their cues at their steps; forks start where the original is."""

import json
import time

import pytest
import torch

import nbtrain as nt
from nbtrain.engine.script import ScriptError, check_script

FAST = dict(data="spiral", n_samples=300, hidden=[16, 16], seed=5, eval_every=20, stats_every=10)


def same_run(a, b):
    """Same history (every column but wall-clock time), same events, same weights, same config."""
    ha, hb = a.history, b.history
    cols = [c for c in ha.columns if c != "time"]
    assert list(ha.columns) == list(hb.columns)
    assert ha[cols].equals(hb[cols]), "histories differ"
    assert a.history.events.equals(b.history.events)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    assert a.config == b.config
    assert a.global_step == b.global_step


def mixed_run():
    """Every kind of live change, at step boundaries chosen by step(n), with a reset in the middle."""
    tr = nt.Trainer(**FAST, lr=0.1, dropout=0.1)
    tr.step(30).wait()
    tr.config.activation = "relu"
    tr.config.init = "xavier_normal"
    tr.step(25).wait()
    tr.reinit().result(10)
    tr.config.update(schedule="step", schedule_params={"step_size": 20, "gamma": 0.5}, lr=0.2)
    tr.step(21).wait()
    tr.config.dropout = 0.3
    tr.config.optimizer = "adam"
    tr.config.lr = 0.01
    tr.config.batch_size = 17
    tr.step(19).wait()
    tr.reset(same_init=True)
    tr.config.update(lr=0.05, optimizer="momentum")
    tr.step(27).wait()
    tr.config.activation = "prelu"  # a learnable activation joins the optimizer
    tr.step(11).wait()
    tr.config.weight_decay = 1e-3  # done while paused at the last step: part of the script's end state
    return tr


def test_replay_of_every_kind_of_change_is_bit_identical():
    a = mixed_run()
    script = a.script()
    json.dumps(script)  # plain JSON-able data
    kinds = {k for act in script["actions"] for k in act if k in ("set", "reinit", "reset", "restore")}
    assert kinds == {"set", "reinit", "reset"}
    fields = {f for act in script["actions"] if "set" in act for f in act["set"]}
    assert {"activation", "init", "schedule", "schedule_params", "dropout", "optimizer", "lr", "batch_size"} <= fields
    b = nt.Trainer.replay(script)
    assert b.wait(timeout=120) == "paused"
    same_run(a, b)
    assert b.script()["actions"] == script["actions"]  # the replay's own script is the same script
    a.close(), b.close()


def test_replay_of_changes_made_while_running():
    a = nt.Trainer(**FAST, lr=0.1, max_steps=900)
    a.start()
    for change in ({"lr": 0.3}, {"activation": "tanh"}, {"batch_size": 8}, {"dropout": 0.2}, {"lr": 0.05}):
        time.sleep(0.03)
        a.config.update(**change)
    a.reinit("xavier_uniform")
    assert a.wait(timeout=120) == "finished"
    script = a.script()
    steps = [act["step"] for act in script["actions"]]
    assert len(steps) >= 5 and steps == sorted(steps)
    b = nt.Trainer.replay(json.loads(json.dumps(script)))
    b.wait(timeout=120)
    same_run(a, b)
    a.close(), b.close()


def test_replay_through_a_nan_pause_and_restore():
    a = nt.Trainer(**FAST, lr=0.1)
    a.step(120).wait()
    a.reinit("large_gaussian", std=1e16).result(10)  # blows up: NaN/Inf pauses the run
    a.step(50).wait()
    assert "became" in a.message
    a.restore_finite()
    a.config.lr = 0.05
    a.step(40).wait()
    script = a.script()
    assert any("nonfinite" in act for act in script["actions"])
    assert any(act.get("restore") == "finite" for act in script["actions"])
    b = nt.Trainer.replay(script)
    b.wait(timeout=120)
    same_run(a, b)
    a.close(), b.close()


def test_script_checks_name_the_problem():
    with pytest.raises(ScriptError, match="format"):
        check_script({"config": {}})
    good = nt.Trainer(**FAST).script()
    bad = dict(good, actions=[{"segment": 0, "step": 3, "set": {"lr": 0.1}, "reinit": "xavier"}])
    with pytest.raises(ScriptError, match="exactly one"):
        check_script(bad)
    bad = dict(good, actions=[{"segment": 0, "step": 9, "set": {"lr": 0.1}}, {"segment": 0, "step": 3, "set": {"lr": 0.2}}])
    with pytest.raises(ScriptError, match="before"):
        check_script(bad)
    with pytest.raises(ScriptError, match="invalid JSON"):
        check_script("{not json")
    user = nt.Trainer(torch.nn.Sequential(torch.nn.Linear(2, 3)), data=(torch.randn(64, 2), torch.randint(0, 3, (64,))))
    with pytest.raises(ScriptError, match="model="):
        nt.Trainer.replay(user.script())
    user.close()


def test_scene_round_trips_and_is_checked():
    scene = nt.Scene([nt.cue(0, note="start"), nt.cue(100, activation="relu", init="he_normal", reinit=True, note="ReLU"),
                      nt.cue(None, lr=0.01, note="on key"), nt.cue(200, pause=True, fork={"lr": 0.5})], title="demo")
    assert nt.Scene.from_json(scene.to_json()) == scene
    assert nt.Scene.from_dict(json.loads(scene.to_json())).cues[1].changes == {"activation": "relu", "init": "he_normal"}
    with pytest.raises(ScriptError, match="before the previous"):
        nt.Scene([nt.cue(100), nt.cue(50)])
    with pytest.raises(ScriptError, match="not a config field"):
        nt.Scene([nt.cue(10, learning_rate=0.1)])
    with pytest.raises(nt.ConfigError, match="lr"):
        nt.Scene([nt.cue(10, lr=-1.0)])


def test_scene_cues_fire_at_their_steps_and_pause_where_asked():
    from nbtrain.engine.script import ScenePlayer

    tr = nt.Trainer(**FAST, lr=0.1, max_steps=2000)
    scene = nt.Scene([nt.cue(0, note="go"), nt.cue(37, lr=0.02, activation="relu", note="relu"),
                      nt.cue(61, reinit="xavier_normal", pause=True, note="why?"), nt.cue(None, lr=0.3, note="key")])
    player = ScenePlayer(tr, scene)
    tr.start()
    assert tr.wait(timeout=60) == "paused"
    assert tr.global_step == 61 and player.current == 2 and player.note == "why?"
    ev = tr.history.events
    assert set(ev[ev.field == "cue"].step) == {0, 37, 61}
    assert ev[(ev.field == "lr")].step.tolist() == [37]
    lr = tr.history.set_index("step")["lr"]
    assert lr[36] == pytest.approx(0.1) and lr[37] == pytest.approx(0.02)  # applied before step 37 exactly
    assert (ev[ev.field == "reinit"].step == 61).all()
    assert player.next() == 3 and tr.config.lr == 0.3 and player.next() is None
    tr.close()


def test_fork_without_changes_continues_exactly_like_the_original():
    tr = nt.Trainer(**FAST, lr=0.1, optimizer="adam")
    tr.step(43).wait()
    branch = tr.fork()
    assert branch.global_step == 43 and branch.forked_from["step"] == 43
    branch.step(30).wait()
    tr.step(30).wait()
    same_run(tr, branch)
    tr.close(), branch.close()


def test_fork_first_step_is_the_step_the_original_would_take_with_the_changes(tmp_path):
    tr = nt.Trainer(**FAST, lr=0.1, optimizer="momentum")
    tr.step(50).wait()
    tr.save(tmp_path / "at50.pt")
    branch = tr.fork(activation="tanh", lr=0.02)
    assert branch.config.activation == "tanh" and tr.config.activation == "relu"
    ref = nt.Trainer.load(tmp_path / "at50.pt")
    ref.config.update(activation="tanh", lr=0.02)
    branch.step(1).wait()
    ref.step(1).wait()
    for (k, x), y in zip(branch.model.state_dict().items(), ref.model.state_dict().values()):
        assert torch.equal(x, y), k
    with pytest.raises(nt.ConfigError):
        tr.fork(lr=-3)
    with pytest.raises(ValueError, match="not a config field"):
        tr.fork(learning_rate=0.1)
    tr.close(), branch.close(), ref.close()


def test_fork_of_a_running_trainer_trains_alongside():
    tr = nt.Trainer(**FAST, lr=0.1, max_steps=400)
    tr.start()
    tr.wait(steps=50)
    branch = tr.fork(lr=0.01)
    assert branch.state == "running"
    assert branch.wait(timeout=60) == "finished" and tr.wait(timeout=60) == "finished"
    assert branch.global_step == tr.global_step == 400
    tr.close(), branch.close()
