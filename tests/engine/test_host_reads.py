"""The training step never waits for the device: device→host reads on the training thread are counted by
wrapping every Tensor method that reads values back, and stay at one per chunk of steps."""

import math
import threading

import pytest
import torch

import nbtrain as nt
from nbtrain.engine.step import FLUSH_AGE, FLUSH_EVERY, SNAPSHOT_EVERY

READERS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")


@pytest.fixture
def reads(monkeypatch):
    """Counts device→host reads made on nbtrain's training threads."""
    count = {"n": 0}
    for name in READERS:
        original = getattr(torch.Tensor, name)

        def wrapper(self, *a, __original=original, **kw):
            if threading.current_thread().name == "nbtrain-trainer":
                count["n"] += 1
            return __original(self, *a, **kw)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    return count


@pytest.mark.parametrize("kw", [
    dict(data="spiral", hidden=[64, 64]),                                   # default per-layer stats (every 50)
    dict(data="spiral", hidden=[32], dropout=0.2, mixup=0.2, grad_clip=1.0, l1=1e-4, schedule="cosine"),
    dict(data="spiral", hidden=[32], max_norm=0.5),                         # max-norm projection every step
    dict(data="digits", model="cnn", hidden=[16], batch_size=64),
])
def test_reads_per_1000_steps_are_at_most_the_chunk_count(reads, kw):
    tr = nt.Trainer(**kw, lr=0.05, max_steps=1000, seed=0)
    tr.start()
    assert tr.wait(timeout=240) == "finished", tr.message
    evals = int(tr.metrics.evals.n)
    # a flush every FLUSH_EVERY steps, one more per evaluation, and one per FLUSH_AGE seconds of training at most
    # (a slow model's curve stays live)
    early = math.ceil(tr._run_time / FLUSH_AGE)
    chunks = math.ceil(1000 / FLUSH_EVERY) + evals + early
    assert reads["n"] == tr.host_reads, "every read on the training path goes through Trainer._flush"
    assert reads["n"] <= chunks, (reads["n"], chunks)
    assert reads["n"] <= 1000 / FLUSH_EVERY + 12 + early  # ≈ 16 + evaluations, against 1000+ of a loop that .item()s
    h = tr.history
    assert h["train_loss"].count() == 1000 and h["step"].is_monotonic_increasing
    tr.close()


def test_wait_and_step_n_stay_exact_with_losses_on_the_device():
    tr = nt.Trainer(data="spiral", hidden=[16], lr=0.1, seed=0)
    tr.step(45).wait()  # not a multiple of the chunk: the rest is read when stepping stops
    assert tr.global_step == 45 and len(tr.metrics.steps.column("step")) == 45
    tr.start()
    tr.wait(steps=77)
    steps = tr.metrics.steps.column("step")
    assert len(steps) >= 77 - 1 and tr.global_step >= 77  # rows up to the waited-for step are in the history
    tr.pause()
    assert len(tr.metrics.steps.column("step")) == tr.global_step  # pause returns with the history caught up
    tr.close()


def test_nan_is_detected_within_one_chunk_and_restore_finite_goes_back_before_it():
    tr = nt.Trainer(data="spiral", hidden=[16, 16], lr=0.1, seed=0)
    tr.step(150).wait()
    tr.reinit("large_gaussian", std=1e16).result(10)
    tr.start()
    assert tr.wait(timeout=60) == "paused"
    assert "loss became NaN at step 150" in tr.message or "loss became Inf at step 150" in tr.message, tr.message
    assert 150 <= tr.global_step <= 150 + FLUSH_EVERY
    h = tr.history
    assert h["train_loss"].count() == 150 and h["train_loss"].notna().all() is not None  # only finite steps logged
    step = tr.restore_finite()
    assert step == SNAPSHOT_EVERY - 1  # the last snapshot whose loss was finite: the first chunk's last step (127)
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())
    tr.close()


def test_a_divergence_in_the_first_chunk_goes_back_to_the_initial_weights():
    """The lecture's "lr = 100" demo: the loss is NaN within a few steps, before the first chunk's snapshot;
    restore_finite() goes back to step 0's snapshot, the initial weights."""
    with nt.Trainer(data="spiral", hidden=[32], lr=100.0, optimizer="sgd", activation="identity", head_init_scale=1.0,
                    seed=0) as tr:
        initial = {k: v.clone() for k, v in tr.model.state_dict().items()}
        tr.start()
        assert tr.wait(timeout=60) == "paused"
        bad = int(tr.message.split(" at step ")[1].split()[0])
        assert bad < SNAPSHOT_EVERY - 1, tr.message
        assert tr.restore_finite() == 0
        assert all(torch.equal(v, initial[k]) for k, v in tr.model.state_dict().items())


def test_the_last_step_of_a_chunk_takes_the_snapshot_its_read_confirms():
    """A snapshot in each chunk's last step, whose loss the read that ends it brings: confirmed there at once
    (steps 0 and 127 wait together for the first read; 127 is kept)."""
    with nt.Trainer(data="spiral", hidden=[16, 16], lr=0.1, seed=0) as tr:
        for chunk in (1, 2, 3):
            tr.step(chunk * FLUSH_EVERY - tr.global_step).wait()
            assert tr._finite_snapshot[0] == chunk * SNAPSHOT_EVERY - 1
            assert tr._snapshot_candidates == []


def test_a_snapshot_not_yet_confirmed_is_not_replaced_by_a_later_one(monkeypatch):
    """Snapshots more often than reads: a later snapshot may be taken from weights that already gave a NaN the
    next read will find, so the older ones, still unconfirmed, are kept (MAX_CANDIDATES of them; no later one is
    taken while they wait), and restore_finite() goes back to the newest of them before the NaN (replaced at
    every snapshot, the last candidate would come from NaN weights and none would be left)."""
    from nbtrain.engine import step as step_mod

    monkeypatch.setattr(step_mod, "FLUSH_EVERY", 1024)
    monkeypatch.setattr(step_mod, "SNAPSHOT_EVERY", 2)
    monkeypatch.setattr(step_mod, "SNAPSHOT_AT", 1)  # snapshots at steps 0, 1, 3, 5, ...
    with nt.Trainer(data="spiral", hidden=[32], lr=100.0, optimizer="sgd", activation="identity", head_init_scale=1.0,
                    seed=0) as tr:
        tr.start()
        assert tr.wait(timeout=60) == "paused"
        bad = int(tr.message.split(" at step ")[1].split()[0])
        assert bad > 1, tr.message  # snapshots at 0 and 1 came before the NaN, later ones after it
        assert tr.restore_finite() == 1
        assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_a_snapshot_written_into_reused_tensors_holds_exactly_the_weights_of_its_step():
    """From the third snapshot on (steps 0, 2·SNAPSHOT_EVERY − 1, 3·SNAPSHOT_EVERY − 1: the first chunk's last step
    is skipped, step 0's snapshot still waiting for its read), a snapshot is copied into the tensors of the one it
    retires: the finite snapshot of step 3·SNAPSHOT_EVERY − 1 still equals, tensor for tensor, a run stepped to
    that step."""
    n = 3 * SNAPSHOT_EVERY - 1
    with nt.Trainer(data="spiral", hidden=[16, 16], lr=0.1, seed=4) as a, \
         nt.Trainer(data="spiral", hidden=[16, 16], lr=0.1, seed=4) as b:
        a.step(n + 40).wait()
        step, state = a._finite_snapshot
        assert a._spare_snapshot is not None  # the snapshot it retired: its tensors take the next one
        b.step(n).wait()
        assert step == n
        reference = b.model.state_dict()
        assert state.keys() == reference.keys()
        assert all(torch.equal(state[k], reference[k]) for k in state)
        assert not any(state[k].data_ptr() == p.data_ptr() for k in state for p in a.model.state_dict().values())
