"""A random stream per trainer: initialisation, sampling, dropout, DropConnect, augmentation and mixup draw
from the trainer's own generators, so nothing else running in the process changes a run."""

import threading

import pytest
import torch
import torch.nn.functional as F

import nbtrain as nt
from nbtrain.engine import regularizers, rng

# dropout, DropConnect and mixup on points; dropout, augmentation and mixup on digit images
RUNS = {
    "mlp": dict(data="spiral", hidden=[32, 32], n_samples=300, lr=0.3, dropout=0.3, dropconnect=0.2, mixup=0.4,
                max_steps=120, seed=3, stats_every=0),
    "cnn": dict(data="digits", model="cnn", hidden=[16], lr=0.1, dropout=0.25, augment=True, mixup=0.3,
                max_steps=40, seed=5, stats_every=0, batch_size=32),
}


def _run(fields):
    tr = nt.Trainer(device="cpu", **fields)
    try:
        assert tr.start().wait(timeout=120) == "finished"
        return tr.history, {k: v.clone() for k, v in tr.model.state_dict().items()}
    finally:
        tr.close()


def _noise(stop: threading.Event, errors: list) -> list[threading.Thread]:
    """Everything a notebook may run meanwhile: other trainers with dropout, find_lr, overfit_small and a
    user's cell reseeding and drawing from the global RNG."""

    def other_trainers():
        while not stop.is_set():
            with nt.Trainer(device="cpu", data="moons", hidden=[16], dropout=0.5, mixup=0.2, max_steps=30,
                            seed=int(torch.randint(0, 100, (1,)))) as t:
                t.start().wait(timeout=60)

    def tools():
        while not stop.is_set():
            nt.find_lr(data="spiral", hidden=[16], dropout=0.3, num_iter=20, device="cpu")
            nt.overfit_small(data="spiral", hidden=[16], max_steps=20, device="cpu")

    def user_cell():
        while not stop.is_set():
            torch.manual_seed(int(torch.randint(0, 1000, (1,))))
            F.dropout(torch.rand(64, 64), 0.5)
            torch.randperm(100)

    def guard(fn):
        def body():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)
        return body

    threads = [threading.Thread(target=guard(f), name=f"noise-{f.__name__}") for f in (other_trainers, tools, user_cell)]
    for t in threads:
        t.start()
    return threads


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_a_run_is_the_same_whatever_else_runs_in_the_process(kind):
    fields = RUNS[kind]
    alone_hist, alone_w = _run(fields)
    stop, errors = threading.Event(), []
    threads = _noise(stop, errors)
    try:
        busy_hist, busy_w = _run(fields)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    assert not errors, errors
    cols = ["step", "train_loss", "lr", "val_loss", "val_acc"]
    assert alone_hist[cols].equals(busy_hist[cols])
    assert alone_w.keys() == busy_w.keys()
    for k in alone_w:
        assert torch.equal(alone_w[k], busy_w[k]), k


# ---- the dropout of nbtrain's layers is inverted dropout, on the run's stream -------------------------

def test_dropout_layer_is_inverted_dropout_with_a_mask_from_the_threads_stream():
    x = torch.rand(400, 300, generator=torch.Generator().manual_seed(0)) + 0.5
    layer = regularizers.Dropout(0.3).train()
    streams = rng.Streams(7)
    with rng.use(streams):
        out = layer(x)
    # independent computation: keep where a uniform draw of the same stream is < 1 − p, scale by 1/(1 − p)
    keep = (torch.rand(x.shape, generator=rng.Streams(7).device) < 0.7).float()
    assert torch.allclose(out, x * keep / 0.7)
    kept = out != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.01
    assert torch.allclose(out[kept], x[kept] / 0.7)
    assert abs(out.mean().item() / x.mean().item() - 1) < 0.01  # the expectation is unchanged
    assert torch.equal(layer.eval()(x), x)  # identity in eval mode
    # the gradient flows through the kept units only, scaled like them
    xg = x.clone().requires_grad_()
    with rng.use(rng.Streams(7)):
        layer.train()(xg).sum().backward()
    assert torch.allclose(xg.grad, keep / 0.7)


def test_dropconnect_masks_weights_from_the_stream():
    lin = regularizers.DropConnectLinear(50, 40, p=0.5).train()
    x = torch.rand(8, 50, generator=torch.Generator().manual_seed(1))
    with rng.use(rng.Streams(3)):
        a = lin(x)
    keep = (torch.rand(lin.weight.shape, generator=rng.Streams(3).device) < 0.5).float()
    assert torch.allclose(a, F.linear(x, lin.weight * keep / 0.5, lin.bias), atol=1e-6)


def test_a_users_nn_dropout_is_put_on_the_runs_stream():
    net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Dropout(0.4), torch.nn.Linear(32, 2))
    X = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    y = (X[:, 0] > 0).long()
    with nt.Trainer(model=net, data=(X, y), device="cpu", max_steps=5) as tr:
        drops = [m for m in tr.model.modules() if isinstance(m, torch.nn.Dropout)]
        assert len(drops) == 1 and isinstance(drops[0], regularizers.Dropout) and drops[0].p == 0.4
        assert tr.config.dropout == 0.4


# ---- the global generators are never read nor advanced ------------------------------------------------

def _global_state():
    return torch.random.get_rng_state().clone()


def test_building_training_and_tools_leave_the_global_rng_alone():
    torch.manual_seed(1234)
    body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    lin = torch.nn.Linear(5, 5)
    before = _global_state()
    with nt.Trainer(device="cpu", **{**RUNS["mlp"], "max_steps": 30}) as tr:
        tr.start().wait(timeout=60)
        tr.reinit("xavier_normal").result(10)
        nt.find_lr(tr, num_iter=10)
        nt.overfit_small(tr, max_steps=10)
        nt.check_initial_loss(tr)
        tr.reset(same_init=True)
    with nt.Trainer(device="cpu", **{**RUNS["cnn"], "max_steps": 5}) as tr:
        tr.start().wait(timeout=60)
    nt.transfer(body, num_classes=2)
    nt.initializers.apply(lin, "orthogonal", generator=torch.Generator().manual_seed(0))
    assert torch.equal(before, _global_state())


def test_isolated_hands_the_generator_to_ops_that_take_none_and_to_functional_dropout():
    def draws():
        return torch.rand(3), torch.randn(2, 2), torch.nn.init.kaiming_normal_(torch.empty(4, 4)), \
            F.dropout(torch.ones(100), 0.5), F.dropout2d(torch.ones(4, 6, 3, 3), 0.5)

    before = _global_state()
    with rng.isolated(torch.Generator().manual_seed(9)):
        a = draws()
    with rng.isolated(torch.Generator().manual_seed(9)):
        b = draws()
    assert torch.equal(before, _global_state())
    for u, v in zip(a, b):
        assert torch.equal(u, v)
    d2 = a[4]
    assert set(d2.unique().tolist()) <= {0.0, 2.0}
    assert (d2 == d2[:, :, :1, :1]).all()  # one draw per (example, channel)


def test_reset_same_init_replays_the_same_dropout_and_mixup():
    with nt.Trainer(device="cpu", **{**RUNS["mlp"], "max_steps": 40}) as tr:
        tr.start().wait(timeout=60)
        first = tr.history["train_loss"].copy()
        tr.reset(same_init=True)
        tr.start().wait(timeout=60)
        assert first.equals(tr.history["train_loss"])


def test_resume_from_a_checkpoint_continues_the_runs_streams(tmp_path):
    fields = {**RUNS["mlp"], "max_steps": 60}
    with nt.Trainer(device="cpu", **fields) as straight:
        straight.start().wait(timeout=60)
        want = straight.history["train_loss"]
    with nt.Trainer(device="cpu", **fields) as first:
        first.step(25).wait(timeout=60)
        path = first.save(tmp_path / "half.pt")
    torch.manual_seed(999)  # the user's own seeding in between changes nothing
    with nt.Trainer.load(path, device="cpu") as resumed:
        resumed.start().wait(timeout=60)
        assert resumed.history["train_loss"].equals(want)


# ---- the opt-in deterministic mode -------------------------------------------------------------------

def test_deterministic_mode_sets_torchs_flags_and_is_undone(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    assert not rng.deterministic_enabled()
    bench = torch.backends.cudnn.benchmark
    try:
        assert rng.deterministic(True) is False
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        import os

        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        assert rng.deterministic_enabled()
    finally:
        assert rng.deterministic(False) is True
        torch.backends.cudnn.benchmark = bench
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_a_trainer_can_turn_the_deterministic_mode_on_and_its_run_is_unchanged_on_the_cpu():
    fields = {**RUNS["mlp"], "max_steps": 40}
    plain, _ = _run(fields)
    try:
        with nt.Trainer(device="cpu", deterministic=True, **fields) as tr:
            assert rng.deterministic_enabled()
            tr.start().wait(timeout=60)
            assert tr.history["train_loss"].equals(plain["train_loss"])
    finally:
        nt.deterministic(False)
