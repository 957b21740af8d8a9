"""The training step's two paths: the plain one (most steps: nothing but the step is due) and the full one
(an evaluation, per-layer statistics, a snapshot, an option acting inside the step). They must give the same
numbers: a run forced onto the full path at every step is the reference."""

import torch

import nbtrain as nt
from nbtrain.engine import step as step_mod


def _count_full_steps(monkeypatch) -> dict:
    """Count the steps that take the full path (``_full_step_body``) from now on."""
    calls = {"full": 0}
    body = step_mod.StepMixin._full_step_body

    def counted(self):
        calls["full"] += 1
        return body(self)

    monkeypatch.setattr(step_mod.StepMixin, "_full_step_body", counted)
    return calls


def _run(monkeypatch, full_always: bool, steps: int = 700, **kw):
    if full_always:
        def plan(self):
            self._plain_until = self.global_step  # the next step takes the full path too
        monkeypatch.setattr(step_mod.StepMixin, "_plan", plan)
    calls = _count_full_steps(monkeypatch)
    with nt.Trainer(data="spiral", hidden=[16, 16], lr=0.1, seed=3, **kw) as tr:
        tr.step(steps // 2).wait()
        tr.config.batch_size = 24  # live changes at a boundary: the plan starts again
        tr.config.batch_norm = True  # and batch-norm switched on mid-run
        tr.step(steps - steps // 2).wait()
        assert tr.global_step == steps, tr.message
        h = tr.metrics
        out = (h.steps.column("train_loss").copy(), h.evals.column("val_loss").copy(), h.layers.column("act_std").copy(),
               {k: v.clone() for k, v in tr.model.state_dict().items()})
    monkeypatch.undo()
    return out, calls["full"]


def test_the_plain_path_gives_exactly_the_full_paths_numbers(monkeypatch):
    (loss_a, val_a, std_a, w_a), full_a = _run(monkeypatch, full_always=False)
    (loss_b, val_b, std_b, w_b), full_b = _run(monkeypatch, full_always=True)
    assert full_b == 700 and full_a < 700 / 3  # the reference took the full path every time; the run mostly not
    assert len(loss_a) == 700 and (loss_a == loss_b).all()
    assert (val_a == val_b).all() and len(val_a) >= 3
    assert len(std_a) > 0 and (std_a == std_b).all()
    for k in w_a:
        assert torch.equal(w_a[k], w_b[k]), k


def test_the_full_path_runs_only_where_something_is_due(monkeypatch):
    """Over 1000 steps of the lecture default: an evaluation every ~232 steps and the first step after each
    boundary; not the per-layer statistics (every 50 steps) or the snapshots (every SNAPSHOT_EVERY), which the plain
    path takes itself, nor the epoch starts (one every 8 steps here: 240 examples, batch 32), which it draws."""
    calls = _count_full_steps(monkeypatch)
    with nt.Trainer(data="spiral", hidden=[64, 64], lr=0.1, seed=0) as tr:
        tr.step(1000).wait()
        assert tr.epoch > 100
        due = 1000 // tr._auto_eval_every() + 1
        layer_steps = sorted(set(tr.metrics.layers.column("step").astype(int).tolist()))
        snapshot = tr._finite_snapshot
    assert calls["full"] <= due + 40, (calls["full"], due)  # + the chunk boundaries (one per ~100 ms)
    assert layer_steps == list(range(0, 1000, 50))  # every probe taken, on whichever path
    # the last snapshot whose loss is known finite: the last full chunk's last step (895)
    assert snapshot is not None and snapshot[0] == 1000 // step_mod.SNAPSHOT_EVERY * step_mod.SNAPSHOT_EVERY - 1


def test_an_option_acting_inside_the_step_keeps_every_step_on_the_full_path(monkeypatch):
    calls = _count_full_steps(monkeypatch)
    with nt.Trainer(data="spiral", hidden=[16], lr=0.1, seed=0, grad_clip=1.0) as tr:
        tr.step(200).wait()
        assert calls["full"] == 200
        tr.config.grad_clip = 0.0
        tr.step(200).wait()
        assert calls["full"] < 200 + 200 // 3


def test_epoch_order_copies_are_rewritten_in_place_and_give_exactly_the_indexed_batches():
    """A small resident set is gathered in each epoch's order into the same two buffers (its batches stay at
    the same addresses); every batch is still exactly X[idx], Y[idx] of the permutation drawn (a sampler that
    indexes instead, same seed, is the reference), over several epochs and a last short batch."""
    from nbtrain.engine.batches import IndexSampler

    X, Y = torch.randn(50, 3), torch.randint(0, 4, (50,))
    views, ref = IndexSampler(50, torch.device("cpu"), seed=5), IndexSampler(50, torch.device("cpu"), seed=5)
    addresses = set()
    for i in range(40):  # four batches an epoch (16, 16, 16, 2), ten epochs
        if i == 0:
            xb, yb = views.batch(X, Y, 16, True)
        else:
            xb, yb = views.next_views(16, True, X, Y)
        addresses.add(views._gathered[3].data_ptr())
        idx = ref.next(16, True)
        assert torch.equal(xb, X[idx]) and torch.equal(yb, Y[idx]), i
    assert views.epochs_done == ref.epochs_done == 9
    assert len(addresses) == 1  # one buffer for every epoch
