"""Regression tests of the lecture-notes defects (issue 18): each one trains/computes what the notes teach."""

import math

import numpy as np
import pytest
import torch

import nbtrain as nt

# ---- step 4 of the recipe: "coarse grid, train for 1-5 epochs" ------------------------------------------

@pytest.mark.parametrize("epochs", [1, 0.5, 2])
def test_max_epochs_trains_exactly_that_many_epochs(epochs):
    tr = nt.Trainer(data="moons", model="mlp", hidden=[8], n_samples=200, batch_size=32, max_epochs=epochs, seed=0)
    assert tr.epoch == 0.0  # nothing drawn yet
    assert tr.start().wait(timeout=60) == "finished"
    n_train = tr._n_train
    assert tr.global_step == math.ceil(epochs * n_train / 32)
    assert tr.epoch == pytest.approx(epochs, abs=32 / n_train)
    assert f"max_epochs={epochs:g}" in tr.message
    tr.close()


def test_one_epoch_digits_learns():
    tr = nt.Trainer(data="digits", model="mlp", max_epochs=1, seed=0, lr=0.1)
    tr.start().wait(timeout=120)
    assert tr.global_step == math.ceil(tr._n_train / 32)
    assert tr.history["val_acc"].dropna().iloc[-1] > 0.5  # chance is 0.1
    tr.close()


def test_random_search_with_one_epoch_trains_every_trial():
    s = nt.search.random({"lr": nt.search.loguniform(0.3, 1.0)}, n=2, data="moons", hidden=[16], n_samples=1000,
                         max_epochs=1, executor="sequential")
    res = s.results
    assert (res["steps"] == math.ceil(800 / 32)).all()
    assert (res["status"] == "finished").all()
    assert res["epochs"].tolist() == pytest.approx([1.0, 1.0])
    assert (res["val_acc"] > 0.6).all()  # chance is 0.5: the trials learned


# ---- inverse sqrt: the notes' α_t = α₀/√t ---------------------------------------------------------------

def test_inverse_sqrt_default_is_alpha0_over_sqrt_t():
    s = nt.schedules.make("inverse_sqrt", 0.1, 1000)
    assert s.params["warmup"] == 0
    for t in (1, 2, 4, 100, 400, 999):
        assert s(t) == pytest.approx(0.1 / math.sqrt(t), rel=1e-12)
    assert s(400) == pytest.approx(0.005)
    assert s(0) == pytest.approx(0.1)  # α₀/√0 is undefined: the first step uses α₀
    assert nt.schedules.make("inverse_sqrt", 0.1, 1000, warmup=0)(400) == pytest.approx(0.005)


# ---- SGDR: the notes' α_max, α_min of period m "can decrease as m grows" ----------------------------------

@pytest.mark.parametrize("T_mult", [1, 2])
def test_sgdr_decay_shrinks_both_bounds_at_every_restart(T_mult):
    lr, low, d, T0 = 0.4, 0.04, 0.5, 10
    s = nt.schedules.make("sgdr", lr, 200, T_0=T0, T_mult=T_mult, eta_min=low, decay=d)
    # independent: walk the periods by hand
    t, m, Ti, expected = 0, 0, T0, []
    while t < 150:
        for cur in range(Ti):
            hi_m, lo_m = lr * d**m, low * d**m
            expected.append(lo_m + (hi_m - lo_m) * (1 + math.cos(math.pi * cur / Ti)) / 2)
        t, m, Ti = t + Ti, m + 1, Ti * T_mult
    got = [s(i) for i in range(len(expected))]
    assert got == pytest.approx(expected, rel=1e-9)
    undecayed = nt.schedules.make("sgdr", lr, 200, T_0=T0, T_mult=T_mult, eta_min=low)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr), T_0=T0, T_mult=T_mult, eta_min=low)
    ref = []
    for _ in range(100):
        ref.append(sched.get_last_lr()[0])
        sched.optimizer.step()
        sched.step()
    assert [undecayed(i) for i in range(100)] == pytest.approx(ref, rel=1e-9)


# ---- ZCA is ZCA (not PCA whitening) ----------------------------------------------------------------------

def test_zca_is_the_symmetric_whitening_matrix_not_pca_whitening():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4)) @ rng.normal(size=(4, 4))
    eps = 1e-5
    # independent numpy computation: W = Σ^(−1/2) with Σ the (biased) training covariance
    C = np.cov(X, rowvar=False, bias=True)
    lam, U = np.linalg.eigh(C)
    W = U @ np.diag(1 / np.sqrt(lam + eps)) @ U.T
    expected = (X - X.mean(0)) @ W
    z = nt.data.make_preprocessor("zca").fit(torch.tensor(X, dtype=torch.float32))
    got = z.transform(torch.tensor(X, dtype=torch.float32)).double().numpy()
    assert np.allclose(got, expected, atol=2e-3)
    assert np.allclose(np.cov(got, rowvar=False, bias=True), np.eye(4), atol=1e-2)
    pca_white = nt.data.make_preprocessor("whiten").fit(torch.tensor(X, dtype=torch.float32))
    assert not np.allclose(pca_white.transform(torch.tensor(X, dtype=torch.float32)).numpy(), expected, atol=0.1)
    # on images it keeps the pixel layout (C, H, W)
    d = nt.data.load_data("digits", preprocess="zca")
    assert d.input_shape == (1, 8, 8)


# ---- early stopping keeps AND restores the best snapshot --------------------------------------------------

def _val_loss(tr):
    import torch.nn.functional as F

    X, y = tr._val
    with torch.no_grad():
        tr.model.eval()
        return F.cross_entropy(tr.model(X), y).item()


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_restores_the_best_weights_by_default(restore):
    # few noisy points, a big net, a high lr: validation loss rises after a while
    kw = dict(data="spiral", n_samples=60, noise=0.6, hidden=[128, 128], lr=0.3, optimizer="momentum",
              eval_every=10, patience=5, max_steps=3000, seed=0)
    if not restore:
        kw["restore_best"] = False
    tr = nt.Trainer(**kw)
    assert tr.config.restore_best is True or not restore
    assert tr.start().wait(timeout=120) == "finished"
    assert tr.message.startswith("early stopping")
    best_value, best_step, _ = tr._best
    ev = tr.history.dropna(subset=["val_loss"])
    assert ev["val_loss"].min() == pytest.approx(best_value)
    assert ev["val_loss"].iloc[-1] > best_value  # the run did get worse after its best
    now = _val_loss(tr)
    if restore:
        assert now == pytest.approx(best_value, rel=1e-5)
        assert f"best at step {best_step} restored" in tr.message
        assert [e["new"] for e in tr.metrics.events if e["field"] == "restore_best"] == [best_step]
    else:
        assert now == pytest.approx(ev["val_loss"].iloc[-1], rel=1e-5)
        assert "trainer.restore_best()" in tr.message
        tr.restore_best()
        assert _val_loss(tr) == pytest.approx(best_value, rel=1e-5)
    tr.close()


# ---- L1: the proximal (soft-threshold) step gives exact zeros -------------------------------------------

def test_proximal_l1_step_equals_soft_threshold_formula():
    torch.manual_seed(0)
    lin = torch.nn.Linear(5, 4)
    w0 = lin.weight.detach().clone()
    opt = torch.optim.SGD(lin.parameters(), lr=0.5)
    x = torch.randn(8, 5)
    lin(x).pow(2).mean().backward()
    g = lin.weight.grad.clone()
    opt.step()
    nt.regularizers.proximal_l1_(opt, lin, 0.2)
    z = w0 - 0.5 * g
    expected = np.sign(z.numpy()) * np.maximum(np.abs(z.numpy()) - 0.5 * 0.2, 0.0)
    assert np.allclose(lin.weight.detach().numpy(), expected, atol=1e-7)
    assert (lin.weight == 0).sum() == int((np.abs(z.numpy()) <= 0.1).sum()) > 0


def _zeros(tr):
    return sum(int((m.weight == 0).sum()) for m in tr.model.modules() if isinstance(m, torch.nn.Linear))


def test_l1_makes_weights_exactly_zero_by_default_and_not_as_a_subgradient():
    kw = dict(data="digits", model="mlp", hidden=[64], l1=1e-2, lr=0.1, max_steps=200, seed=0)
    tr = nt.Trainer(**kw)
    assert tr.config.l1_mode == "proximal"
    tr.start().wait(timeout=120)
    n = sum(m.weight.numel() for m in tr.model.modules() if isinstance(m, torch.nn.Linear))
    assert _zeros(tr) > 0.3 * n  # sparse
    assert tr.history["val_acc"].dropna().iloc[-1] > 0.7  # and it still classifies
    tr.close()
    sub = nt.Trainer(**kw, l1_mode="subgradient")
    sub.start().wait(timeout=120)
    assert _zeros(sub) == 0  # λ·sign(w) steps jump across 0, never onto it
    sub.close()
    with pytest.raises(nt.ConfigError, match="l1_mode = 'lasso'.*proximal, subgradient"):
        nt.TrainConfig(l1_mode="lasso")


# ---- DropConnect: present for every model that accepts it, a clear refusal otherwise --------------------

@pytest.mark.parametrize("model,data", [("mlp", "digits"), ("cnn", "digits"), ("resmlp", "digits"), ("auto", "digits"),
                                        ("mlp", "moons"), ("resmlp", "moons")])
def test_dropconnect_layers_exist_for_every_builtin_model(model, data):
    tr = nt.Trainer(data=data, model=model, hidden=[16, 16], dropconnect=0.5, max_steps=3, seed=0)
    layers = nt.regularizers.dropconnect_layers(tr.model)
    assert layers and all(m.p == 0.5 for m in layers)
    assert tr.start().wait(timeout=60) == "finished"
    tr.config.dropconnect = 0.25  # takes effect at reset (the layer types change)
    tr.reset()
    assert all(m.p == 0.25 for m in nt.regularizers.dropconnect_layers(tr.model))
    tr.close()


def test_dropconnect_masks_weights_with_the_given_generator():
    conv = nt.regularizers.DropConnectConv2d(2, 3, 3, padding=1, p=0.5)
    x = torch.randn(4, 2, 5, 5)
    conv.generator = torch.Generator().manual_seed(7)
    out = conv(x)
    keep = torch.rand(conv.weight.shape, generator=torch.Generator().manual_seed(7)) < 0.5  # kept: u < 1 − p
    ref = torch.nn.functional.conv2d(x, conv.weight * keep / 0.5, conv.bias, padding=1)
    assert torch.allclose(out, ref, atol=1e-6)
    conv.eval()
    assert torch.allclose(conv(x), torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding=1), atol=1e-6)
    lin = nt.regularizers.DropConnectLinear(5, 3, p=0.3)
    lin.generator = torch.Generator().manual_seed(1)
    keep = torch.rand(lin.weight.shape, generator=torch.Generator().manual_seed(1)) < 0.7
    xl = torch.randn(2, 5)
    assert torch.allclose(lin(xl), xl @ (lin.weight * keep / 0.7).T + lin.bias, atol=1e-6)


def test_dropconnect_on_a_user_model_without_dropconnect_layers_is_refused():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    with pytest.raises(nt.ConfigError, match="dropconnect = 0.5 is not allowed: Sequential has no DropConnect layers"):
        nt.Trainer(net, data="digits", dropconnect=0.5)
    ok = torch.nn.Sequential(torch.nn.Flatten(), nt.regularizers.DropConnectLinear(64, 10, p=0.5))
    nt.Trainer(ok, data="digits", dropconnect=0.5).close()


# ---- maxout = per-unit max over k affine maps of the input (Goodfellow et al.) ---------------------------

@pytest.mark.parametrize("k", [2, 3])
def test_maxout_block_is_a_max_over_k_affine_pieces_of_the_input(k):
    torch.manual_seed(0)
    if k == 2:
        net = nt.models.make("mlp", (5,), 3, hidden=[4], activation="maxout")
    else:
        net = nt.models.make("mlp", (5,), 3, hidden=[4], activation="relu")
        nt.models.set_activation(net, "maxout", k=k)
    block = net.blocks[0]
    x = torch.randn(7, 5)
    # independent computation: the k affine maps (W_j, b_j), j = 1..k, max per unit
    Ws = [block.layer.weight] + [p.weight for p in block.act.pieces]
    bs = [block.layer.bias] + [p.bias for p in block.act.pieces]
    assert len(Ws) == k and all(W.shape == (4, 5) for W in Ws)
    expected = torch.stack([x @ W.T + b for W, b in zip(Ws, bs)]).amax(0)
    assert torch.allclose(block(x), expected, atol=1e-6)
    assert not torch.allclose(expected, torch.relu(x @ Ws[0].T + bs[0]))  # not a function of one piece
    # its pieces are parameters of the model (the optimizer trains them)
    assert sum(p.numel() for p in block.parameters()) == k * (4 * 5 + 4 + 2 * 4)  # each piece has its batch-norm


def test_maxout_swap_keeps_weights_returns_the_new_pieces_and_trains():
    tr = nt.Trainer(data="moons", hidden=[8, 8], max_steps=20, seed=0)
    before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    new = nt.models.set_activation(nt.models.make("mlp", (2,), 2, hidden=[8, 8]), "maxout")
    assert len(new) == 2 * 4  # per layer: weight + bias of the extra piece and its batch-norm scale/shift
    tr.config.activation = "maxout"
    after = tr.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    pieces = [p for b in tr.model.blocks for p in b.act.parameters()]
    in_opt = {id(p) for g in tr.optimizer.param_groups for p in g["params"]}
    assert pieces and all(id(p) in in_opt for p in pieces)
    w0 = [p.detach().clone() for p in pieces]
    assert tr.start().wait(timeout=60) == "finished"
    assert any(not torch.equal(a, b) for a, b in zip(w0, pieces))  # the pieces learn


def test_maxout_refuses_to_be_a_pointwise_function():
    m = nt.activations.make("maxout")
    with pytest.raises(RuntimeError, match="max over k affine maps of the layer's input"):
        m(torch.randn(3))
    assert "maxout" not in nt.activations.pointwise_names()
    user = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with pytest.raises(ValueError, match="only nbtrain's models"):
        nt.models.set_activation(user, "maxout")
    assert isinstance(user[1], torch.nn.ReLU)  # nothing half-swapped


# ---- augmentation: label-safe per dataset, the notes' crop/flip/rotate/scale/colour ------------------------

def test_augment_presets_are_label_safe_per_dataset():
    digits = nt.data.load_data("digits", augment=True).augment
    assert digits.flip is False and digits.rotate > 0 and digits.scale > 0 and digits.crop_padding == 0
    assert nt.data.make_augment((1, 28, 28), dataset="mnist").flip is False
    assert nt.data.make_augment((1, 28, 28), dataset="fashion_mnist").flip is True
    photo = nt.data.make_augment((3, 32, 32), dataset="cifar10")
    assert photo.flip and photo.crop_padding == 4 and photo.rotate and photo.scale and photo.color
    assert nt.data.make_augment((1, 8, 8), dataset="digits", flip=True).flip is True  # explicit override
    # a digit never comes back mirrored: with rotation/zoom/colour off, only shifts remain
    x = torch.zeros(200, 1, 8, 8)
    x[:, 0, 2:6, 1] = 1.0  # a bar on the left edge
    aug = nt.data.make_augment((1, 8, 8), dataset="digits", rotate=0, scale=0, crop_padding=1)
    out = aug(x, generator=torch.Generator().manual_seed(0))
    assert out[:, 0, :, 4:].sum() == 0  # shifted by at most 1 pixel, never flipped to the right half


def test_augment_rotation_and_colour_match_torchvision():
    from torchvision.transforms.v2 import functional as TF

    g = torch.Generator().manual_seed(0)
    x = 0.3 + 0.3 * torch.rand(2, 3, 6, 6, generator=g)  # mid-range: torchvision's clamp to [0, 1] never acts
    rot = nt.data.affine(x, torch.tensor([90.0, 0.0]), torch.ones(2))
    assert torch.allclose(rot[0], TF.rotate(x[0], 90.0), atol=1e-5)
    assert torch.allclose(rot[1], x[1], atol=1e-5)
    b, c, s = torch.tensor([1.1, 0.9]), torch.tensor([0.8, 1.2]), torch.tensor([1.15, 0.85])
    got = nt.data.color_jitter(x, b, c, s)
    for i in range(2):
        ref = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(x[i], float(b[i])), float(c[i])), float(s[i]))
        assert torch.allclose(got[i], ref, atol=1e-5)
    # zoom by 2 about the centre: the centre pixel block of a smooth image stays, the edge content moves out
    ramp = torch.linspace(-1, 1, 8).repeat(8, 1)[None, None]
    zoomed = nt.data.affine(ramp, torch.zeros(1), torch.tensor([2.0]))
    assert torch.allclose(zoomed[0, 0, 0], ramp[0, 0, 0] / 2, atol=1e-5)


def test_digits_augmentation_does_not_hurt_validation_accuracy():
    # flips + one-pixel shifts took validation accuracy from 0.955 to 0.802 after 600 steps; the digits
    # preset (small rotations and zoom) must not hurt
    accs = {}
    for aug in (False, True):
        tr = nt.Trainer(data="digits", model="mlp", hidden=[64], preprocess="normalize", augment=aug, lr=0.1,
                        optimizer="momentum", max_steps=600, seed=0)
        tr.start().wait(timeout=120)
        accs[aug] = tr.history["val_acc"].dropna().iloc[-1]
        tr.close()
    assert accs[True] > accs[False] - 0.05, accs
