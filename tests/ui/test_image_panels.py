"""The Lab's image panels (widget state, no browser): they replace the decision boundary for images, and
every number and pixel they draw is checked against an independent computation (sklearn's metrics, the
model's own logits, the layer's weight tensor)."""

import base64
import io
import re

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import confusion_matrix, recall_score

from nbtrain.ui import image_panels as ipm

URI = re.compile(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'")


@pytest.fixture
def digits_lab(make_lab):
    def make(**kw):
        params = dict(data="digits", model="cnn", lr=0.05, seed=0, max_steps=80, hidden=[64], n_samples=None)
        params.update(kw)
        return make_lab(**params)

    return make


def _cells(lab):
    return list(lab._plot_grid.children)


def _grid(lab):
    """The plot grid's children, a figure's box (with its download toolbar) as the figure."""
    return [getattr(w, "figure", w) for w in _cells(lab)]


def _pngs(html):
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(b)))) for b in URI.findall(html)]


def _val_logits(lab):
    X, _ = lab.trainer.data.tensors("val")
    return lab.trainer.submit(lambda m: m(X).float().clone()).result(30)


def test_image_data_get_the_image_panels_and_2d_data_the_decision_boundary(make_lab, digits_lab):
    lab = digits_lab()
    ip = lab.image_panels
    grid = _grid(lab)
    assert ip.shown and lab.figures["boundary"] not in grid
    assert [w for w in _cells(lab) if w in ip.panels] == ip.panels  # all four, in order
    assert grid.index(ip.figures["class_acc"]) == 2  # per-class accuracy beside the two curves
    flat = make_lab(data="moons", hidden=[8], n_samples=None)
    assert not flat.image_panels.shown
    assert flat.figures["boundary"] in _grid(flat) and not set(_cells(flat)) & set(flat.image_panels.panels)
    off = digits_lab(image_panels=False)
    assert not off.image_panels.shown and off.figures["boundary"] in _grid(off)


def test_switching_the_data_swaps_the_panels_at_reset(make_lab):
    lab = make_lab()  # spiral
    assert lab.figures["boundary"] in _grid(lab)
    lab.controls["data"].value = "digits"
    lab.controls["model"].value = "cnn"
    lab.buttons["reset"].click()
    assert lab.image_panels.shown and lab.image_panels.figures["confusion"] in _grid(lab)
    assert lab.figures["boundary"] not in _grid(lab)
    assert lab.image_panels.evaluation is not None and lab.image_panels.evaluation.step == 0
    lab.controls["data"].value = "moons"
    lab.controls["model"].value = "mlp"
    lab.buttons["reset"].click()
    assert lab.figures["boundary"] in _grid(lab) and lab.image_panels.figures["confusion"] not in _grid(lab)


def test_confusion_heat_map_and_bars_equal_sklearn_on_the_models_predictions(digits_lab):
    lab = digits_lab()
    lab.start()
    lab.wait()
    ip = lab.image_panels
    _, Y = lab.trainer.data.tensors("val")
    pred = _val_logits(lab).argmax(1).numpy()
    cm = confusion_matrix(Y.numpy(), pred, labels=list(range(10)))
    share = cm / cm.sum(1, keepdims=True)
    assert ip.evaluation.step == lab.global_step == 80
    np.testing.assert_allclose(ip.marks["confusion"].color, np.sqrt(share), atol=1e-6)  # colour: √share
    names = ip.marks["cells"].names
    assert len(names) == 100
    for t, p in [(0, 0), (3, 8), (9, 4)]:  # the hover text of a cell: its count and its class's total
        assert names[t * 10 + p].startswith(f"true {t} → predicted {p}: {cm[t, p]} of {cm[t].sum()} ")
    np.testing.assert_allclose(ip.marks["class_acc"].y, 100 * recall_score(Y.numpy(), pred, average=None), atol=1e-4)
    assert list(ip.marks["class_acc"].x) == [str(i) for i in range(10)]
    assert ip.marks["class_acc_mean"].x[0] == pytest.approx(100 * (pred == Y.numpy()).mean(), abs=1e-4)
    assert "step 80" in ip.figures["confusion"].title


def test_gallery_shows_the_highest_losses_as_small_pngs_of_the_validation_images(digits_lab):
    lab = digits_lab()
    lab.start()
    lab.wait()
    ip = lab.image_panels
    X, Y = lab.trainer.data.tensors("val")
    logits = _val_logits(lab)
    losses = torch.nn.functional.cross_entropy(logits, Y, reduction="none").numpy()
    order = np.argsort(-losses, kind="stable")[: ip.k]
    np.testing.assert_array_equal(ip.gallery_indices, order)
    images = _pngs(ip.gallery.value)
    assert len(images) == ip.k
    for i, img in zip(order, images):  # the very pixels of the example, 8×8 grey
        expected = np.clip(X[i, 0].numpy() * 255 + 0.5, 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(img, expected)
    pred, conf = logits.argmax(1), torch.softmax(logits, 1).max(1).values
    first = ip.gallery.value.split("<figure")[1]
    assert f"→ {int(pred[order[0]])} {100 * float(conf[order[0]]):.0f}%" in first  # label and confidence
    assert "[[" not in ip.gallery.value and len(ip.gallery.value) < 12_000  # no JSON pixels; bounded


def test_random_sample_mode_keeps_a_fixed_sample_until_asked_for_another(digits_lab):
    lab = digits_lab()
    ip = lab.image_panels
    ip.gallery_mode.value = "random sample"
    first = ip.gallery_indices.copy()
    assert len(first) == ip.k and len(set(first.tolist())) == ip.k
    lab.step(5)
    lab.wait()
    np.testing.assert_array_equal(ip.gallery_indices, first)  # the same examples, newer predictions
    ip.resample.click()
    assert not np.array_equal(ip.gallery_indices, first)
    assert len(_pngs(ip.gallery.value)) == ip.k


def test_clicking_a_confusion_cell_shows_exactly_its_examples(digits_lab):
    lab = digits_lab(max_steps=30)
    lab.start()
    lab.wait()
    ip = lab.image_panels
    _, Y = lab.trainer.data.tensors("val")
    pred = _val_logits(lab).argmax(1).numpy()
    cm = confusion_matrix(Y.numpy(), pred, labels=list(range(10)))
    off = cm - np.diag(np.diag(cm))
    t, p = (int(v) for v in np.unravel_index(np.argmax(off), off.shape))
    assert cm[t, p] > 0
    ip.marks["cells"].selected = [t * 10 + p]  # what a click in the browser sets
    assert ip.selected_cell == (t, p) and ip.gallery_mode.value == "selected cell"
    shown = ip.gallery_indices
    assert len(shown) == min(cm[t, p], ip.k)
    assert (Y.numpy()[shown] == t).all() and (pred[shown] == p).all()
    assert len(_pngs(ip.gallery.value)) == len(shown)
    assert f"true {t} → predicted {p} ({cm[t, p]})" in ip.gallery_title.value
    ip.gallery_mode.value = "highest loss"  # leaving the mode clears the selection
    assert ip.selected_cell is None and not ip.marks["cells"].selected
    ip.select_cell(t, t)  # from code: the diagonal cell = the correctly classified examples of t
    assert ip.marks["cells"].selected == [t * 10 + t] and (pred[ip.gallery_indices] == t).all()
    with pytest.raises(ValueError, match="predicted=10"):
        ip.select_cell(0, 10)


def _tile_cells(tile_png, n, h, w):
    """Centre pixel of every weight of every filter in the decoded tile (grid layout of filter_tile)."""
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    base = (rows * (h + 1) + 1, cols * (w + 1) + 1)
    factor = tile_png.shape[0] // base[0]
    assert tile_png.shape[:2] == (base[0] * factor, base[1] * factor)
    out = np.zeros((n, h, w))
    for f in range(n):
        r, c = divmod(f, cols)
        for i in range(h):
            for j in range(w):
                y = (1 + r * (h + 1) + i) * factor + factor // 2
                x = (1 + c * (w + 1) + j) * factor + factor // 2
                px = tile_png[y, x]
                assert px[0] == px[1] == px[2]  # a grey pixel of a 1-channel filter, not the grid
                out[f, i, j] = px[0]
    return out


def test_filter_tile_equals_the_first_conv_weights_and_is_reset_by_reinit(digits_lab):
    lab = digits_lab(max_steps=60)
    lab.start()
    lab.wait()
    ip = lab.image_panels
    conv = lab.trainer.model.blocks[0].layer
    W = conv.weight.detach().numpy()
    np.testing.assert_array_equal(ip.filter_weights, W)
    (tile,) = _pngs(ip.filters.value)
    got = _tile_cells(tile, 16, 3, 3)
    lo, hi = W.min(axis=(1, 2, 3), keepdims=True), W.max(axis=(1, 2, 3), keepdims=True)
    expected = np.round((W - lo) / (hi - lo) * 255)[:, 0]  # each filter from its own min (black) to max
    assert np.abs(got - expected).max() <= 1
    ip.filter_contrast.value = "shared"
    (tile,) = _pngs(ip.filters.value)
    shared = np.round((W - W.min()) / (W.max() - W.min()) * 255)[:, 0]
    assert np.abs(_tile_cells(tile, 16, 3, 3) - shared).max() <= 1
    trained = W.copy()
    lab.reinit("orthogonal").result(10)
    lab.publish()
    W2 = conv.weight.detach().numpy()
    np.testing.assert_array_equal(ip.filter_weights, W2)  # the tile shows the fresh weights at once
    assert not np.allclose(W2, trained)


def test_mlp_first_layer_rows_are_drawn_as_images(digits_lab):
    lab = digits_lab(model="mlp", hidden=[32])
    ip = lab.image_panels
    W = lab.trainer.model.blocks[0].layer.weight.detach().numpy()
    assert ip.filter_weights.shape == (32, 1, 8, 8)
    np.testing.assert_array_equal(ip.filter_weights.reshape(32, 64), W)
    (tile,) = _pngs(ip.filters.value)
    got = _tile_cells(tile, 32, 8, 8)
    Wr = W.reshape(32, 8, 8)
    lo, hi = Wr.min(axis=(1, 2), keepdims=True), Wr.max(axis=(1, 2), keepdims=True)
    assert np.abs(got - np.round((Wr - lo) / (hi - lo) * 255)).max() <= 1
    assert "32 × 1×8×8" in ip.filters_title.value


def test_user_image_folder_class_names_label_the_bars_and_the_gallery(make_lab, tmp_path):
    from torchvision.datasets import ImageFolder

    rng = np.random.default_rng(0)
    for cls in ["cat", "dog", "<i>fox&"]:
        (tmp_path / cls).mkdir()
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    lab = make_lab(data=ImageFolder(tmp_path), model="cnn", hidden=[16], n_samples=None)
    ip = lab.image_panels
    assert ip.shown
    assert sorted(ip.marks["class_acc"].x) == sorted(["cat", "dog", "<i>fox&"])
    assert "<i>fox&" not in ip.gallery.value  # names are escaped in HTML
    images = _pngs(ip.gallery.value)
    assert images and images[0].shape == (12, 12, 3)  # colour PNGs


def test_user_nchw_tensors_without_a_validation_set_say_so(make_lab):
    X = torch.rand(64, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    y = torch.arange(64) % 2
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=16)
    lab = make_lab(data=loader, model="cnn", hidden=[8], n_samples=None)
    ip = lab.image_panels
    assert ip.shown and "no validation set" in ip.gallery.value
    assert ip.filter_weights is not None  # the filters need no validation set
    assert lab.image_panels.figures["confusion"] in _grid(lab)


def test_one_update_is_bounded_whatever_the_validation_set_size(make_lab, sent):
    sizes = {}
    for n_val in (100, 2000):
        g = torch.Generator().manual_seed(0)
        X, y = torch.rand(5 * n_val, 1, 8, 8, generator=g), torch.randint(0, 10, (5 * n_val,), generator=g)
        lab = make_lab(data=(X, y), model="cnn", hidden=[16], interval=3600, eval_every=1000, n_samples=None)
        lab.step(3)
        lab.wait()
        sent.clear()
        lab.step(1)
        lab.trainer.wait()
        assert lab.image_panels.step()
        sizes[n_val] = sum(len(str(m)) for _, m in sent)
    assert sizes[2000] < 1.3 * sizes[100] < 60_000, sizes


def test_tile_and_encoding_helpers():
    w = np.arange(2 * 1 * 2 * 2, dtype=np.float32).reshape(2, 1, 2, 2)
    tile = ipm.filter_tile(w)
    assert tile.dtype == np.uint8 and tile.ndim == 3 and tuple(tile[0, 0]) == ipm.GAP
    big = ipm.png(np.zeros((300, 200), np.uint8))
    assert Image.open(io.BytesIO(big)).size == (43, 64)  # downsampled to ≤ 64 a side, aspect kept
    assert ipm.to_uint8(np.full((1, 2, 2), 0.5)).tolist() == [[128, 128], [128, 128]]  # [0, 1] kept as is
    assert ipm.to_uint8(np.array([[[-2.0, 2.0]]])).tolist() == [[0, 255]]  # otherwise stretched


def test_titles_say_the_step_each_panel_shows(digits_lab):
    from ui_helpers import wait_until

    lab = digits_lab(max_steps=None, eval_every=10**6, boundary_interval=0.2, interval=0.05)
    ip = lab.image_panels
    lab.start()  # evaluated at step 0 (and the panels re-evaluate once as it starts running), not since
    assert wait_until(lambda: ip.evaluation is not None and (ip.filter_step or 0) > ip.evaluation.step + 10,
                      timeout=60)
    with ip._lock:  # (the publisher keeps drawing)
        ev_step, titles = ip.evaluation.step, (ip.figures["confusion"].title, ip.figures["class_acc"].title)
        filter_step, filters_title = ip.filter_step, ip.filters_title.value
    lab.pause()
    assert all(f"(step {ev_step:,})" in t for t in titles)
    assert f"(step {filter_step:,})" in filters_title and filter_step > ev_step
