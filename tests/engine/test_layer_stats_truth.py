"""The per-layer statistics the Lab plots (activation mean/std, saturation, dead ReLU units, weight-gradient
norm) against plain torch on the same step: the activations and gradients are captured with hooks of the
test's own, and every statistic recomputed with a different formula."""

import pytest
import torch

import nbtrain as nt


def captured_step(tr):
    """Run one probed step of ``tr``; return (history rows of that step, activations, weight gradients)."""
    acts, grads = [], []
    handles = [m.register_forward_hook(lambda _m, _i, out: acts.append(out.detach().clone()))
               for _, _, m in tr._slots]
    weights = []
    for parent, _, _ in tr._slots:
        layer = getattr(parent, "layer", None) or getattr(parent, "residual_last", None)
        weights.append(layer.weight)
    grad_handles = [w.register_hook(lambda g: grads.append(g.detach().clone())) for w in weights]
    try:
        tr.step(1).wait(timeout=30)
    finally:
        for h in handles + grad_handles:
            h.remove()
    lf = tr.metrics.layer_frame()
    rows = lf[lf["step"] == lf["step"].max()].sort_values("layer")
    grads.reverse()  # backward reaches the last layer first
    return rows, acts, grads


@pytest.mark.parametrize("kw", [
    dict(data="spiral", hidden=[32, 16], activation="relu"),
    dict(data="spiral", hidden=[32, 16], activation="tanh", init="large_gaussian", init_std=1.5),
    dict(data="spiral", hidden=[24], activation="sigmoid", init="large_gaussian", init_std=2.0),
    dict(data="digits", model="cnn", hidden=[8], activation="relu", batch_size=16),
    # layers of one shape are reduced together (stacked): equal widths, and equal widths among others
    dict(data="spiral", hidden=[32, 32], activation="relu"),
    dict(data="spiral", hidden=[16, 24, 16, 16], activation="tanh", init="large_gaussian", init_std=1.5),
    dict(data="spiral", hidden=[12, 12, 12], activation="sigmoid", init="large_gaussian", init_std=2.0),
    # activations that can be negative (their Σa from two norms), and a ReLU net with a convolution in it
    dict(data="spiral", hidden=[32, 16], activation="elu"),
    dict(data="spiral", hidden=[20, 20], activation="gelu", init="large_gaussian", init_std=1.5),
    # nearly constant activations: a sigmoid net with tiny weights (mean ½, a std thousands of times smaller)
    # is where a one-pass variance loses its digits unless summed in float64
    dict(data="spiral", hidden=[32, 32], activation="sigmoid", init="small_gaussian", init_std=1e-3),
])
def test_layer_statistics_match_plain_torch(kw):
    check_layer_statistics(kw)


@pytest.mark.parametrize("kw", [
    dict(data="spiral", hidden=[32, 16], activation="relu"),
    dict(data="spiral", hidden=[16, 24], activation="tanh", init="large_gaussian", init_std=1.5),
    dict(data="spiral", hidden=[32, 32], activation="sigmoid", init="small_gaussian", init_std=1e-3),
    dict(data="digits", model="cnn", hidden=[8], activation="relu", batch_size=16),
])
def test_layer_statistics_on_a_device_without_float64_match_plain_torch(kw, monkeypatch):
    """Apple's MPS has no float64: there the mean and std take two float32 passes (Σa, then ‖a − mean‖).
    The same checks, with the CPU taken for such a device."""
    from nbtrain.engine import probes

    monkeypatch.setattr(probes, "NO_FLOAT64", ("cpu",))
    monkeypatch.setattr(probes, "_PLANS", {})
    check_layer_statistics(kw)
    assert all(plan[0][0] for plan in probes._PLANS.values())  # the two-pass plan is what ran


def check_layer_statistics(kw):
    with nt.Trainer(**kw, lr=0.05, seed=3, stats_every=1) as tr:
        tr.step(3).wait(timeout=30)
        rows, acts, grads = captured_step(tr)
        assert len(rows) == len(acts) == len(grads) == len(tr._slots)
        act = kw["activation"]
        if kw.get("init") == "small_gaussian":  # the case is as demanding as it says
            assert all(a.double().std() < 2e-3 * a.double().mean().abs() for a in acts)
        for (_, row), a, g in zip(rows.iterrows(), acts, grads):
            flat = a.double().reshape(-1)
            assert row["act_mean"] == pytest.approx(flat.mean().item(), rel=1e-4, abs=1e-6)
            assert row["act_std"] == pytest.approx(flat.std().item(), rel=1e-4)
            assert row["grad_norm"] == pytest.approx(g.double().pow(2).sum().sqrt().item(), rel=1e-4)
            if act == "tanh":
                assert row["saturated"] == pytest.approx((flat.abs() > 0.99).double().mean().item(), abs=1e-9)
            elif act == "sigmoid":
                assert row["saturated"] == pytest.approx(((flat < 0.01) | (flat > 0.99)).double().mean().item(), abs=1e-9)
            else:
                assert row["saturated"] == 0.0
            if act == "relu":  # a unit (a channel of a conv) that is 0 on every example and position of the batch
                units = a.transpose(0, 1).reshape(a.shape[1], -1)
                assert row["dead"] == pytest.approx((units <= 0).all(1).double().mean().item(), abs=1e-9)
            else:
                assert row["dead"] == 0.0


@pytest.mark.parametrize("kw", [
    dict(data="spiral", hidden=[32, 32]),
    dict(data="spiral", hidden=[32, 32], dropout=0.5, batch_norm=True),  # eval mode: no dropout, running stats
    dict(data="digits", model="cnn", hidden=[8], dropout=0.3, batch_size=32),
])
def test_evaluation_numbers_match_plain_torch_in_eval_mode(kw):
    """The four numbers of an evaluation (val and training-subset loss and accuracy) against a plain
    ``model.eval()`` forward pass over each set on its own, after live changes that add and remove dropout."""
    import torch.nn.functional as F

    with nt.Trainer(**kw, lr=0.05, seed=1, max_steps=60) as tr:
        tr.step(20).wait(timeout=60)
        tr.config.dropout = 0.2  # a live change between two evaluations
        tr.start()
        assert tr.wait(timeout=60) == "finished"
        last = tr.metrics.evals
        row = {c: float(last.column(c)[-1]) for c in ("step", "val_loss", "val_acc", "train_eval_loss", "train_acc")}
        row["train_loss"] = row.pop("train_eval_loss")
        assert row["step"] == 60
        model = tr.model
        assert model.training  # the thread leaves it in training mode
        model.eval()
        with torch.no_grad():
            for prefix, (X, Y) in (("val", tr._val), ("train", tr._train_eval)):
                out = model(X).double()
                assert row[f"{prefix}_loss"] == pytest.approx(F.cross_entropy(out, Y).item(), rel=1e-4)
                correct = int((out.argmax(1) == Y).sum())
                # the float32 nearest to a multiple of 1/n, exactly
                assert row[f"{prefix}_acc"] == torch.tensor(correct / len(Y), dtype=torch.float32).item()
        model.train()
