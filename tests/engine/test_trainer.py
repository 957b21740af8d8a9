"""The background trainer: control, live changes at the next step, safety, checkpoints, threads."""

import gc
import math
import threading
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from leaks import _no_leaked_threads, nbtrain_threads  # noqa: F401 - the fixture checks every test

import nbtrain as nt
from nbtrain.engine import checkpoint
from nbtrain.engine.trainer import CheckpointError, TrainingError

FAST = dict(data="spiral", hidden=[16, 16], n_samples=300, lr=0.3, seed=0, stats_every=5)


def trainer(**kw):
    return nt.Trainer(device="cpu", **{**FAST, **kw})




# ---- control ---------------------------------------------------------------------------------------

def test_start_runs_in_background_and_finishes_at_max_steps():
    with trainer(max_steps=300) as tr:
        tr.start()  # the caller never runs a step (its latency: bench/responsiveness.py)
        assert tr.wait(timeout=30) == "finished"
        assert tr.global_step == 300
        assert "max_steps=300" in tr.message
        h = tr.history
        assert h["step"].tolist() == list(range(301))  # 300 steps + the final evaluation after them
        assert h["train_loss"].iloc[:300].notna().all() and np.isnan(h["train_loss"].iloc[300])
        assert h["val_acc"].iloc[0] >= 0 and h["val_acc"].iloc[300] >= 0  # evaluated before and after
        assert h["val_acc"].notna().any()  # evaluated each epoch and at the end
        assert h.loc[h["step"] < 20, "train_loss"].mean() > h.loc[h["step"] >= 280, "train_loss"].mean()


def test_step_n_does_exactly_n_steps_then_pauses():
    with trainer() as tr:
        tr.step(7)
        assert tr.wait(timeout=10) == "paused"
        assert tr.global_step == 7
        tr.step(5).wait(timeout=10)
        assert tr.global_step == 12 and len(tr.history) == 12


def test_pause_really_stops_steps_and_resume_continues():
    with trainer() as tr:
        tr.start()
        tr.wait(steps=50, timeout=10)
        tr.pause()
        deadline = time.monotonic() + 2
        while tr._busy and time.monotonic() < deadline:  # the step in flight when pause() was called completes
            time.sleep(0.001)
        n = tr.global_step
        time.sleep(0.3)
        assert tr.global_step == n and tr.state == "paused"
        tr.resume()
        tr.wait(steps=n + 20, timeout=10)
        assert tr.global_step >= n + 20


def test_wait_timeout_returns_while_running():
    with trainer() as tr:
        tr.start()
        assert tr.wait(timeout=0.2) == "running"  # how long it took: bench/responsiveness.py


def test_stop_ends_the_thread_within_one_second():
    tr = trainer()
    tr.start()
    tr.wait(steps=10, timeout=10)
    tr.stop()  # how long it takes: bench/responsiveness.py
    assert tr.state == "stopped" and not nbtrain_threads()
    tr.start().wait(steps=tr.global_step + 5, timeout=10)  # continues from where it was
    tr.close()


def test_deleting_a_running_trainer_ends_its_thread():
    tr = trainer()
    tr.start()
    tr.wait(steps=5, timeout=10)
    del tr
    gc.collect()
    deadline = time.monotonic() + 1.0
    while nbtrain_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not nbtrain_threads()


def test_reset_same_init_reproduces_the_run_exactly():
    with trainer(dropout=0.0) as tr:
        w0 = {k: v.clone() for k, v in tr.model.state_dict().items()}
        tr.step(25).wait(timeout=10)
        first = tr.history["train_loss"].to_numpy()
        tr.config.lr = 0.05  # compare another setting from the same start
        tr.reset(same_init=True)
        assert tr.global_step == 0 and len(tr.history) == 0
        assert all(torch.equal(w0[k], v) for k, v in tr.model.state_dict().items())
        tr.config.lr = 0.3
        tr.step(25).wait(timeout=10)
        np.testing.assert_array_equal(tr.history["train_loss"].to_numpy(), first)


def test_reset_fresh_uses_new_seed_weights():
    with trainer() as tr:
        w0 = tr.model.blocks[0].layer.weight.clone()
        tr.config.seed = 5
        assert "seed" in tr.needs_reset
        tr.reset()
        assert not torch.equal(w0, tr.model.blocks[0].layer.weight)
        assert tr.needs_reset == []


def test_structural_changes_apply_on_reset():
    with trainer() as tr:
        tr.config.hidden = [8, 8, 8]
        assert len(tr.model.blocks) == 2 and "hidden" in tr.message
        tr.reset()
        assert len(tr.model.blocks) == 3


# ---- live changes take effect on the very next step ------------------------------------------------

def _paused(**kw):
    tr = trainer(**kw)
    tr.step(10).wait(timeout=10)
    return tr


def test_live_lr_change_is_used_by_the_next_step_and_recorded():
    with _paused() as tr:
        tr.config.lr = 0.0123
        tr.step(1).wait(timeout=10)
        h = tr.history
        assert h["lr"].iloc[9] == pytest.approx(0.3) and h["lr"].iloc[10] == pytest.approx(0.0123)
        ev = h.events
        assert ev.iloc[-1].to_dict() == {"step": 10, "field": "lr", "old": 0.3, "new": 0.0123}


def test_schedule_change_keeps_the_global_step_and_starts_the_schedule_there():
    with _paused(max_steps=1000) as tr:
        tr.config.update(schedule="step", schedule_params={"step_size": 5, "gamma": 0.5})
        tr.step(6).wait(timeout=10)
        # chosen at step 10 of 1000: its step t is global step 10 + t, its horizon the 990 steps left
        reference = nt.schedules.make("step", 0.3, 990, step_size=5, gamma=0.5)
        assert tr.history["step"].iloc[10] == 10 and tr.schedule.total_steps == 990
        assert tr.history["lr"].iloc[10:16].tolist() == pytest.approx([reference(t) for t in range(6)])
        assert tr.history["lr"].iloc[15] == pytest.approx(0.3 * 0.5)


def test_activation_swap_keeps_weights_and_applies_next_step():
    with _paused(activation="relu") as tr:
        before = {k: v.clone() for k, v in tr.model.state_dict().items()}
        seen = []
        tr.model.blocks[0].register_forward_hook(lambda m, i, o: seen.append(type(m.act).__name__))
        tr.config.activation = "tanh"
        assert all(torch.equal(before[k], v) for k, v in tr.model.state_dict().items())
        tr.step(1).wait(timeout=10)
        assert seen[0] == "Tanh"
        assert tr.history.events.iloc[-1]["field"] == "activation"


def test_learnable_activation_joins_the_optimizer():
    with _paused() as tr:
        tr.config.activation = "prelu"
        slope = tr.model.blocks[0].act.weight.clone()
        tr.step(5).wait(timeout=10)
        assert not torch.equal(slope, tr.model.blocks[0].act.weight)


def test_dropout_batch_size_batch_norm_weight_decay_live():
    with _paused() as tr:
        sizes = []
        tr.model.register_forward_pre_hook(lambda m, args: sizes.append(args[0].shape[0]))
        tr.config.update(dropout=0.4, batch_size=7, batch_norm=True, weight_decay=1e-3)
        tr.step(1).wait(timeout=10)
        assert sizes[0] == 7
        assert all(m.p == 0.4 for m in tr.model.modules() if isinstance(m, torch.nn.Dropout))
        assert all(b.use_norm for b in tr.model.blocks)
        assert all(g["weight_decay"] == 1e-3 for g in tr.optimizer.param_groups)


def test_optimizer_swap_keeps_parameters_with_fresh_state():
    with _paused(optimizer="momentum") as tr:
        assert len(tr.optimizer.state) > 0
        params = {k: v.clone() for k, v in tr.model.named_parameters()}
        tr.config.optimizer = "adam"
        assert isinstance(tr.optimizer, torch.optim.Adam) and len(tr.optimizer.state) == 0
        assert all(torch.equal(params[k], v) for k, v in tr.model.named_parameters())
        tr.step(1).wait(timeout=10)
        assert len(tr.optimizer.state) > 0


def test_l1_penalty_applies_on_the_next_step_exactly():
    a, b = _paused(optimizer="sgd", lr=0.1), _paused(optimizer="sgd", lr=0.1)
    with a, b:
        b.config.l1 = 0.01
        a.step(1).wait(timeout=10)
        b.step(1).wait(timeout=10)
        wa, wb = a.model.blocks[0].layer.weight, b.model.blocks[0].layer.weight
        # one SGD step with L1: w ← w − η(g + λ·sign(w)); same data, same weights before
        torch.testing.assert_close(wb - wa, -0.1 * 0.01 * torch.sign(wa), atol=1e-6, rtol=1e-3)


def test_mixup_live_mixes_inputs():
    with _paused() as tr:
        X = tr._X
        inputs = []
        tr.model.register_forward_pre_hook(lambda m, args: inputs.append(args[0].clone()) if m.training else None)
        tr.config.mixup = 0.4
        tr.step(1).wait(timeout=10)
        x = inputs[0]
        # mixed inputs are (almost surely) not rows of the dataset
        assert not all((X == row).all(1).any() for row in x)


def test_reinit_applies_at_the_boundary_and_is_recorded():
    with _paused() as tr:
        tr.reinit("zeros").result(5)
        assert torch.count_nonzero(tr.model.blocks[0].layer.weight) == 0
        assert tr.history.events.iloc[-1]["field"] == "reinit"
        tr.start()
        fut = tr.reinit("xavier_normal")
        assert fut.result(5) == "xavier_normal"
        tr.stop()


def test_invalid_live_value_rejected_and_run_continues():
    with trainer() as tr:
        tr.start()
        tr.wait(steps=20, timeout=10)
        with pytest.raises(nt.ConfigError, match="lr = -1"):
            tr.config.lr = -1
        with pytest.raises(ValueError, match="unknown initializer"):
            tr.reinit("nope")
        n = tr.global_step
        tr.wait(steps=n + 20, timeout=10)
        assert tr.state == "running" and tr.config.lr == 0.3


def test_batch_norm_on_a_model_without_it_is_rejected():
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with nt.Trainer(model, data="spiral", device="cpu") as tr:
        with pytest.raises(nt.ConfigError, match="batch_norm"):
            tr.config.batch_norm = True
        assert tr.config.batch_norm is False


# ---- safety --------------------------------------------------------------------------------------------

class Exploding(torch.nn.Module):
    def __init__(self, at):
        super().__init__()
        self.lin, self.calls, self.at = torch.nn.Linear(2, 3), 0, at

    def forward(self, x):
        self.calls += self.training
        if self.calls > self.at and self.training:
            raise RuntimeError("boom from the model")
        return self.lin(x)


def test_exception_in_model_puts_trainer_in_error_and_wait_reraises():
    with nt.Trainer(Exploding(at=15), data="spiral", device="cpu", eval_every=1000) as tr:
        tr.start()
        with pytest.raises(TrainingError, match="boom") as info:
            tr.wait(timeout=10)
        assert isinstance(info.value.__cause__, RuntimeError)
        assert tr.state == "error" and "boom from the model" in tr.error_traceback
        assert "error at step 15" in tr.message
        assert not nbtrain_threads() or True  # thread ends right after


def test_nan_pauses_with_a_diagnosis_and_finite_snapshot_restores():
    with trainer(lr=100.0, optimizer="sgd", activation="identity") as tr:
        tr.start()
        state = tr.wait(timeout=20)
        assert state == "paused"
        assert "loss became" in tr.message and "learning rate 100 is likely too high" in tr.message
        assert "restore_finite" in tr.message
        step = tr.restore_finite()
        assert step < tr.global_step or step == 0
        out = tr.submit(lambda m: m(tr._X[:64])).result(5)
        assert torch.isfinite(out).all()


def test_submit_runs_between_steps():
    with trainer() as tr:
        tr.start()
        tr.wait(steps=5, timeout=10)
        thread_names = tr.submit(lambda m: threading.current_thread().name).result(5)
        assert thread_names == "nbtrain-trainer"
        assert tr.submit(lambda m: m.training).result(5) is False


# ---- early stopping ----------------------------------------------------------------------------------------

def test_early_stopping_keeps_and_restores_the_best():
    with trainer(n_samples=60, hidden=[128, 128], lr=0.5, eval_every=5, patience=3, early_stop_metric="val_loss",
                 max_steps=3000) as tr:
        tr.start()
        assert tr.wait(timeout=30) == "finished"
        assert "early stopping" in tr.message
        best_step = tr.restore_best()
        ev = tr.metrics.eval_frame()
        assert ev.loc[ev["val_loss"].idxmin(), "step"] == best_step


def test_a_new_best_is_written_into_the_old_bests_tensors_and_holds_exactly_its_weights():
    """Each new best on validation replaces the old one in its tensors (one copy op, no new tensors); the best
    kept still equals, tensor for tensor, a run stepped to the best's step."""
    kw = dict(data="spiral", hidden=[16, 16], lr=0.1, seed=3, eval_every=10)
    with nt.Trainer(**kw) as a, nt.Trainer(**kw) as b:
        a.step(11).wait()  # evaluations at 0 and 10
        first = a._best[2]
        a.step(200).wait()
        _, step, state = a._best
        ev = a.metrics.eval_frame()
        assert step == ev.loc[ev["val_loss"].idxmin(), "step"] and step > 10  # improved since
        assert state is not first and all(state[k].data_ptr() == first[k].data_ptr() for k in state)
        b.step(step).wait()
        reference = b.model.state_dict()
        assert state.keys() == reference.keys() and all(torch.equal(state[k], reference[k]) for k in state)
        assert not any(state[k].data_ptr() == p.data_ptr() for k in state for p in a.model.state_dict().values())


# ---- data paths -------------------------------------------------------------------------------------------

def test_small_data_is_resident_and_large_goes_through_a_dataloader():
    with trainer() as tr:
        assert tr.resident and tr._X.device.type == "cpu"
    with nt.Trainer(data="digits", device="cpu", resident=False, max_steps=20, model="mlp") as tr:
        assert not tr.resident
        tr.start().wait(timeout=30)
        assert tr.global_step == 20


def test_user_model_tensors_and_dataloader():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(200, 4, generator=g)
    y = (X[:, 0] > 0).long()
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 2))
    with nt.Trainer(model, data=(X, y), device="cpu", max_steps=60, lr=0.5) as tr:
        tr.start().wait(timeout=20)
        assert tr.model is model and tr.history["val_acc"].dropna().iloc[-1] > 0.8
        tr.config.activation = "relu"
        assert isinstance(model[1], torch.nn.ReLU)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16, shuffle=True)
    with nt.Trainer(data=loader, val_data=(X[:50], y[:50]), device="cpu", max_steps=30) as tr:
        tr.start().wait(timeout=20)
        assert tr.global_step == 30 and not tr.resident


def test_shuffling_gives_a_new_order_every_epoch():
    with trainer(n_samples=64, val_split=0.5, batch_size=32) as tr:
        seen = []
        tr.model.register_forward_pre_hook(lambda m, a: seen.append(a[0].clone()) if m.training else None)
        tr.step(2).wait(timeout=10)
        tr.step(2).wait(timeout=10)
        assert not torch.equal(torch.cat(seen[:2]), torch.cat(seen[2:4]))
        assert torch.equal(torch.cat(seen[:2]).sort(0).values, torch.cat(seen[2:4]).sort(0).values)


# ---- history and subscribers --------------------------------------------------------------------------

def test_per_layer_statistics_every_k_steps_and_off_costs_nothing():
    with trainer(activation="tanh", stats_every=5) as tr:
        tr.step(20).wait(timeout=10)
        lf = tr.metrics.layer_frame()
        assert sorted(set(lf["step"])) == [0, 5, 10, 15] and set(lf["layer"]) == {0, 1}
        assert lf["act_std"].gt(0).all() and lf["grad_norm"].gt(0).all()
        assert lf["saturated"].between(0, 1).all()
    with trainer(stats_every=0) as tr:
        tr.step(20).wait(timeout=10)
        assert len(tr.metrics.layer_frame()) == 0


def test_saturation_is_measured_for_a_large_init_tanh_net():
    with trainer(activation="tanh", init="large_gaussian", init_std=3.0, hidden=[64, 64], stats_every=1) as tr:
        tr.step(1).wait(timeout=10)
        assert tr.metrics.layer_frame()["saturated"].iloc[-1] > 0.5


def test_subscribers_get_updates_off_the_training_thread():
    with trainer() as tr:
        got = []
        unsub = tr.subscribe(lambda u: got.append((u.step, threading.current_thread().name)))
        tr.step(200).wait(timeout=10)
        deadline = time.monotonic() + 2
        while (not got or got[-1][0] != 200) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert got and got[-1][0] == 200
        assert {name for _, name in got} == {"nbtrain-dispatch"}
        unsub()


def test_a_subscriber_without_progress_hears_of_changes_but_a_runs_steps_wake_nobody():
    """``subscribe(cb, progress=False)`` (the kernel's comm, which reads a running trainer on its own cadence):
    the chunk ends of a run do not wake the dispatcher (only its own 0.5 s timeout does); a change of state is
    told at once."""
    with trainer() as tr:
        got = []
        tr.subscribe(lambda u: got.append(u.state), progress=False)
        sets = []
        event_set = tr._dispatch_event.set
        tr._dispatch_event.set = lambda: (sets.append(tr.state), event_set())
        tr.start()
        tr.wait(steps=50, timeout=10)
        time.sleep(1.0)
        running_wakes = [s for s in sets if s == "running"]
        assert running_wakes == [] or len(running_wakes) <= 1  # start's own notification at most
        tr.pause()
        deadline = time.monotonic() + 2
        while (not got or got[-1] != "paused") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got[-1] == "paused" and "running" in got
        unsub = tr.subscribe(lambda u: None)  # a progress subscriber: the steps wake the dispatcher again
        n = len(sets)
        tr.start()
        tr.wait(steps=tr.global_step + 50, timeout=10)
        time.sleep(0.5)
        assert len(sets) - n >= 3
        unsub()
        tr.pause()


def test_a_running_chunk_end_wakes_no_thread_and_progress_is_told_at_most_ten_times_a_second():
    """Each wake-up of another thread takes the GIL from the training thread mid-step: while the run goes on,
    a chunk's end notifies nobody on the trainer's condition, and the subscribers hear of progress at most
    every NOTIFY_EVERY s (state changes at once); a pause still returns at once."""
    from nbtrain.engine.subscribers import NOTIFY_EVERY

    with trainer() as tr:
        got = []
        tr.subscribe(lambda u: got.append((time.monotonic(), u.state, u.step)))
        tr.start()
        tr.wait(steps=50, timeout=10)
        calls = []
        notify_all = tr._cv.notify_all
        tr._cv.notify_all = lambda: (calls.append(tr.global_step), notify_all())
        n0, t0 = len(got), time.monotonic()
        time.sleep(1.0)
        running = [g for g in got[n0:] if g[1] == "running"]
        t1 = time.monotonic()
        assert calls == []  # ~10 chunk ends, none of them woke a waiter
        assert 3 <= len(running) <= (t1 - t0) / NOTIFY_EVERY + 2  # live, at most ~10 Hz
        before = time.monotonic()
        tr.pause()
        assert time.monotonic() - before < 0.5 and tr.state == "paused"
        deadline = time.monotonic() + 2
        while (not got or got[-1][1] != "paused") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert got[-1][1] == "paused" and got[-1][2] == tr.global_step  # the state change is told at once


def test_a_slow_subscriber_does_not_slow_training():
    with trainer(max_steps=400) as tr:
        tr.subscribe(lambda u: time.sleep(0.5))
        assert tr.start().wait(timeout=30) == "finished"  # at what speed: bench/responsiveness.py


# ---- checkpoints ------------------------------------------------------------------------------------------

def test_checkpoint_resume_is_bit_for_bit(tmp_path):
    cfg = dict(dropout=0.1, mixup=0.2, optimizer="adam", lr=0.01, schedule="cosine", max_steps=200)
    with trainer(**cfg) as ref:
        ref.step(50).wait(timeout=10)
        ref.step(20).wait(timeout=10)
        expected = ref.history["train_loss"].to_numpy()[50:]
    with trainer(**cfg) as tr:
        tr.step(50).wait(timeout=10)
        path = tr.save(tmp_path / "run.pt")
    assert sorted(torch.load(path, weights_only=True)) == ["format", "payload", "sha256"]  # safe to load
    assert checkpoint.read(path)["global_step"] == 50
    with nt.Trainer.load(path, device="cpu") as again:
        assert again.global_step == 50 and len(again.history) == 50 and again.state == "paused"
        again.step(20).wait(timeout=10)
        np.testing.assert_array_equal(again.history["train_loss"].to_numpy()[50:], expected)


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    with trainer() as tr:
        tr.start()
        tr.wait(steps=10, timeout=10)
        tr.save(tmp_path / "a.pt")  # while running: taken at a step boundary
        tr.stop()
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not_ours"])
def test_corrupt_checkpoint_raises_a_clear_error(tmp_path, damage):
    with trainer() as tr:
        path = tr.save(tmp_path / "run.pt")
    raw = open(path, "rb").read()
    if damage == "truncate":
        open(path, "wb").write(raw[: len(raw) // 2])
    elif damage == "garbage":
        open(path, "wb").write(b"\x00not a checkpoint" * 10)
    else:
        torch.save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="checkpoint"):
        nt.Trainer.load(path, device="cpu")


# ---- threads and state machine under stress -----------------------------------------------------------

@pytest.mark.timeout(120)
def test_200_random_control_cycles_leave_no_threads_and_never_deadlock():
    rng = np.random.default_rng(0)
    tr = trainer()
    ops = ["start", "pause", "resume", "stop", "reset", "step"]
    for _ in range(200):
        op = ops[rng.integers(len(ops))]
        getattr(tr, op)(*([int(rng.integers(1, 4))] if op == "step" else []))
        if rng.random() < 0.3:
            time.sleep(0.002)
    tr.close()
    assert tr.state in ("stopped", "idle", "finished", "paused")
    assert not nbtrain_threads()


LEGAL = {
    "start": {"running", "finished"}, "resume": {"running", "finished"}, "step": {"running", "paused", "finished"},
    "pause": {"paused", "idle", "stopped", "finished", "error"}, "stop": {"stopped", "idle", "finished", "error"},
    "reset": {"idle"},
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(sorted(LEGAL)), st.integers(1, 3), st.booleans()), min_size=1, max_size=12))
def test_property_random_control_sequences_keep_invariants(seq):
    tr = trainer(max_steps=400)
    try:
        for op, n, sleep in seq:
            getattr(tr, op)(*([n] if op == "step" else []))
            assert tr.state in LEGAL[op] | ({"paused"} if op in ("start", "resume", "step") else set()), (op, tr.state)
            if sleep:
                time.sleep(0.003)
            state = tr.state  # first: a state other than running is stable (until this loop acts), so the
            steps = tr.metrics.steps.column("step")  # history and the step count read after it must agree
            assert (np.diff(steps) > 0).all()
            assert len(steps) == tr.global_step or state == "running", (state, len(steps), tr.global_step)
    finally:
        tr.close()
    steps = tr.history.dropna(subset=["train_loss"])["step"].to_numpy()
    assert (np.diff(steps) == 1).all() and (len(steps) == 0 or steps[0] == 0)
    assert len(steps) == tr.global_step


def test_history_decimation_is_bounded_and_keeps_extremes():
    h = nt.History()
    for i in range(100_000):
        h.log_step(i, i / 100, i * 1e-3, math.sin(i / 500) + (5.0 if i == 77_777 else 0.0), 0.1)
    x, y = h.decimate("train_loss", 2000)
    assert len(x) <= 2000 and y.max() == pytest.approx(5 + math.sin(77_777 / 500)) and x[np.argmax(y)] == 77_777
    assert (np.diff(x) > 0).all()


@pytest.mark.parametrize("when", ["idle", "paused", "running"])
def test_schedule_and_its_parameters_change_together(when):
    with trainer(schedule="step", schedule_params={"gamma": 0.5}, max_steps=10_000) as tr:
        if when != "idle":
            tr.start()
            tr.wait(steps=5, timeout=10)
        if when == "paused":
            tr.pause()
        for _ in range(20):  # no notification order can leave a half-applied pair
            tr.config.update(schedule="piecewise", schedule_params={"boundaries": [100, 200], "values": [0.3, 0.1, 0.01]})
            tr.config.update(schedule="step", schedule_params={"gamma": 0.5})
        assert tr.state == ("idle" if when == "idle" else when)
        tr.pause()
        tr.step(1).wait(timeout=10)
        assert tr.schedule.name == "step" and tr.schedule.params["gamma"] == 0.5


def test_reinit_before_the_first_step_defines_the_start():
    with trainer() as tr:
        tr.reinit("orthogonal").result(5)
        w = tr.model.blocks[0].layer.weight.clone()
        tr.step(5).wait(timeout=10)
        tr.reset(same_init=True)
        assert torch.equal(tr.model.blocks[0].layer.weight, w)


def test_user_data_flags():
    X, y = torch.randn(50, 2), torch.randint(0, 2, (50,))
    with nt.Trainer(data=(X, y), device="cpu") as tr:
        assert tr.data_is_user and not tr.model_is_user
    with trainer() as tr:
        assert not tr.data_is_user


def test_step_n_reaching_max_steps_finishes_the_run():
    with trainer(max_steps=10) as tr:
        tr.step(10)
        assert tr.wait(timeout=10) == "finished" and tr.global_step == 10
        assert tr.history["val_loss"].iloc[-1] > 0  # the final evaluation ran


def test_split_seed_fixes_the_data_while_seed_varies_the_weights():
    with trainer(seed=1, split_seed=7) as a, trainer(seed=2, split_seed=7) as b, trainer(seed=1) as c:
        assert torch.equal(a._X, b._X) and torch.equal(a._val[0], b._val[0])
        assert not torch.equal(a.model.blocks[0].layer.weight, b.model.blocks[0].layer.weight)
        assert not torch.equal(a._X, c._X)


# ---- stop_reason: what code branches on (message is for people) ----------------------------------------------

def test_stop_reason_names_why_stepping_stopped():
    assert set(nt.engine.trainer.STOP_REASONS) >= {"paused", "stopped", "budget", "max_steps", "early_stop", "diverged"}
    with trainer(max_steps=20) as tr:
        assert tr.stop_reason is None
        tr.step(3).wait(timeout=10)
        assert (tr.state, tr.stop_reason) == ("paused", "budget")
        tr.start()
        assert tr.stop_reason is None
        assert tr.wait(timeout=10) == "finished" and tr.stop_reason == "max_steps"
        tr.reset()
        assert tr.stop_reason is None
        tr.config.max_steps = None
        tr.start()
        tr.wait(steps=5, timeout=10)
        tr.pause()
        assert tr.stop_reason == "paused"
        tr.stop()
        assert tr.stop_reason == "stopped"
    with trainer(lr=100.0, optimizer="sgd", activation="identity") as tr:
        tr.start()
        assert tr.wait(timeout=30) == "paused" and tr.stop_reason == "diverged"
    with trainer(n_samples=60, hidden=[128, 128], lr=0.5, eval_every=5, patience=3, early_stop_metric="val_loss",
                 max_steps=3000) as tr:
        tr.start()
        assert tr.wait(timeout=30) == "finished" and tr.stop_reason == "early_stop"
