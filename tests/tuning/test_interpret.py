"""nt.confusion / nt.top_losses / first-layer filters, each checked against an independent computation
(sklearn's metrics, a per-example loss written out here, the layer's weight tensor)."""


import numpy as np
import pytest
import torch
from leaks import _no_leaked_threads, nbtrain_threads  # noqa: F401 - the fixture checks every test
from sklearn.metrics import confusion_matrix, recall_score

import nbtrain as nt
from nbtrain.tuning import interpret


@pytest.fixture(scope="module")
def digits_cnn():
    """A CNN on digits trained a little (val accuracy well between chance and 100 %: real errors)."""
    tr = nt.Trainer(data="digits", model="cnn", lr=0.05, max_steps=60, seed=0, device="cpu")
    tr.start()
    assert tr.wait(timeout=120) == "finished"
    yield tr
    tr.close()


def _val(tr):
    X, Y = tr.data.tensors("val")
    return X, Y


def _direct_logits(tr):
    X, _ = _val(tr)
    return tr.submit(lambda model: model(X).float().clone()).result(30)


def test_confusion_equals_sklearn_on_the_same_predictions(digits_cnn):
    tr = digits_cnn
    _, Y = _val(tr)
    pred = _direct_logits(tr).argmax(1).numpy()
    cm = nt.confusion(tr)
    expected = confusion_matrix(Y.numpy(), pred, labels=list(range(10)))
    assert cm.shape == (10, 10) and cm.dtype.kind == "i"
    np.testing.assert_array_equal(cm, expected)
    assert 0 < np.trace(cm) < cm.sum()  # it does make mistakes: the test is not vacuous
    norm = nt.confusion(tr, normalize="true")
    np.testing.assert_allclose(norm, confusion_matrix(Y.numpy(), pred, labels=list(range(10)), normalize="true"))
    np.testing.assert_allclose(interpret.per_class_accuracy(tr), recall_score(Y.numpy(), pred, average=None))


def test_top_losses_equal_a_direct_per_example_cross_entropy(digits_cnn):
    tr = digits_cnn
    _, Y = _val(tr)
    logits = _direct_logits(tr).double()
    # cross-entropy written out: log Σ exp(z) − z_y, per example
    z_max = logits.max(1, keepdim=True).values
    lse = (logits - z_max).exp().sum(1).log() + z_max[:, 0]
    losses = (lse - logits[torch.arange(len(Y)), Y]).numpy()
    order = np.argsort(-losses, kind="stable")[:12]
    top = nt.top_losses(tr, 12)
    np.testing.assert_array_equal(top.indices, order)
    np.testing.assert_allclose(top.losses, losses[order], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(top.predictions, logits.argmax(1).numpy()[order])
    np.testing.assert_array_equal(top.targets, Y.numpy()[order])
    probs = torch.softmax(logits, 1).numpy()
    np.testing.assert_allclose(top.confidence, probs.max(1)[order], rtol=1e-4)
    assert np.all(np.diff(top.losses) <= 0)
    assert len(nt.top_losses(tr, 10_000).indices) == len(Y)  # k beyond the set: all of it


def test_a_confusion_cell_lists_exactly_its_examples(digits_cnn):
    ev = interpret.evaluate(digits_cnn)
    cm = ev.confusion()
    t, p = np.unravel_index(np.argmax(cm - np.diag(np.diag(cm))), cm.shape)  # the most frequent mistake
    idx = ev.where(int(t), int(p))
    assert len(idx) == cm[t, p] > 0
    assert (ev.targets[idx] == t).all() and (ev.predictions[idx] == p).all()
    assert np.all(np.diff(ev.losses[idx]) <= 0)
    assert ev.classes == [str(i) for i in range(10)] and ev.step == digits_cnn.global_step


def test_cnn_filter_tiles_equal_the_first_conv_weights_and_follow_reinit():
    with nt.Trainer(data="digits", model="cnn", max_steps=5, seed=0, device="cpu") as tr:
        name, w = interpret.filters(tr)
        conv = tr.model.blocks[0].layer
        assert name == "blocks.0.layer" and w.shape == (16, 1, 3, 3)
        np.testing.assert_array_equal(w, conv.weight.detach().numpy())
        tr.reinit("orthogonal").result(10)
        _, w2 = interpret.filters(tr, max_filters=4)
        np.testing.assert_array_equal(w2, conv.weight.detach()[:4].numpy())
        assert not np.allclose(w2, w[:4])


def test_mlp_filter_tiles_are_first_layer_rows_reshaped_to_the_image():
    with nt.Trainer(data="digits", model="mlp", hidden=[32], max_steps=5, seed=0, device="cpu") as tr:
        name, w = interpret.filters(tr)
        lin = tr.model.blocks[0].layer
        assert name == "blocks.0.layer" and w.shape == (32, 1, 8, 8)
        np.testing.assert_array_equal(w[5, 0], lin.weight.detach()[5].reshape(8, 8).numpy())


def test_no_drawable_first_layer_on_2d_data():
    with nt.Trainer(data="moons", hidden=[8], seed=0, device="cpu") as tr:
        assert interpret.filters(tr) is None
        assert not interpret.is_image(tr.data)


def test_user_nchw_tensors_and_an_image_folder_give_class_names(tmp_path):
    from PIL import Image
    from torchvision.datasets import ImageFolder

    rng = np.random.default_rng(0)
    X = torch.as_tensor(rng.random((40, 3, 6, 6)), dtype=torch.float32)
    y = torch.as_tensor(np.arange(40) % 4)
    with nt.Trainer(data=(X, y), seed=0, device="cpu") as tr:
        assert interpret.is_image(tr.data)
        cm = nt.confusion(tr)
        assert cm.shape == (4, 4) and cm.sum() == len(tr.data.val)
        assert interpret.class_names(tr.data) == ["0", "1", "2", "3"]
    for cls in ["cat", "dog", "fox"]:
        (tmp_path / cls).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    with nt.Trainer(data=ImageFolder(tmp_path), model="cnn", seed=0, device="cpu") as tr:
        ev = interpret.evaluate(tr)
        assert ev.classes == ["cat", "dog", "fox"] and len(ev) == len(tr.data.val)
        _, w = interpret.filters(tr)
        assert w.shape[1:] == (3, 3, 3)
        xs = interpret.examples(tr, [0, 1])
        assert xs.shape == (2, 3, 8, 8)


def test_examples_undo_normalisation_for_display():
    raw_X, raw_y = nt.data.digits()
    with nt.Trainer(data=(raw_X, raw_y), preprocess="normalize", seed=0, device="cpu") as tr:
        Xv, _ = tr.data.tensors("val")
        shown = interpret.examples(tr, [0, 3, 7])
        # the validation rows are a split of raw_X: find them by their (exactly invertible) normalisation
        pre = tr.data.preprocessor
        np.testing.assert_allclose(pre.transform(shown).numpy(), Xv[[0, 3, 7]].numpy(), atol=1e-5)
        assert shown.min() >= -1e-5 and shown.max() <= 1 + 1e-5  # back in pixel range


def test_bad_arguments_name_the_value():
    with nt.Trainer(data="digits", model="mlp", hidden=[8], seed=0, device="cpu") as tr:
        with pytest.raises(ValueError, match="k=0"):
            nt.top_losses(tr, 0)
        with pytest.raises(ValueError, match="normalize='rows'"):
            nt.confusion(tr, normalize="rows")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*nt.data.digits()), batch_size=32)
    with nt.Trainer(data=loader, model="mlp", hidden=[8], seed=0, device="cpu") as tr:  # a loader: no val split
        with pytest.raises(ValueError, match="no validation set"):
            nt.confusion(tr)
    with pytest.raises(TypeError, match="Trainer or Lab"):
        nt.confusion(object())


def test_confusion_while_training_runs_at_a_step_boundary():
    with nt.Trainer(data="digits", model="cnn", seed=0, device="cpu") as tr:
        tr.start()
        tr.wait(steps=5, timeout=30)
        cm = nt.confusion(tr)  # the training thread answers between two steps
        assert cm.sum() == len(tr.data.val)
        assert tr.state == "running"
        tr.pause()
