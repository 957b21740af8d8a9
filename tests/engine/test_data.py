"""Tests for nbtrain.engine.data: datasets, splits, preprocessing, mixup, augmentation."""

from __future__ import annotations

import hashlib
import math
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from nbtrain.engine import data as D
from nbtrain.engine.registry import UnknownNameError

TOYS = ["spiral", "moons", "circles", "xor", "blobs"]


# ------------------------------------------------------------------------------------------------ datasets


def test_registry_lists_every_builtin_dataset_with_a_summary():
    assert D.names() == D.datasets.names()
    for name in [*TOYS, "digits", "mnist", "fashion_mnist", "cifar10"]:
        assert name in D.names()
        assert D.datasets.get(name).summary
    assert D.preprocessors.names() == ["none", "center", "normalize", "pca", "whiten", "zca"]


@pytest.mark.parametrize("name", TOYS)
def test_toy_sets_have_shape_dtype_and_balanced_classes(name):
    X, y = D.datasets.make(name, n=240)
    assert X.shape == (240, 2) and X.dtype == torch.float32
    assert y.shape == (240,) and y.dtype == torch.int64
    counts = y.bincount()
    assert counts.max() - counts.min() == 0
    assert torch.isfinite(X).all()


@pytest.mark.parametrize("name", ["spiral", "blobs"])
def test_multiclass_toys_take_num_classes_and_stay_balanced_within_one(name):
    X, y = D.datasets.make(name, n=101, num_classes=5)
    counts = y.bincount()
    assert len(counts) == 5 and counts.max() - counts.min() <= 1 and counts.sum() == 101


@pytest.mark.parametrize("name", TOYS)
def test_toy_sets_are_deterministic_by_seed(name):
    X1, y1 = D.datasets.make(name, n=100, seed=3)
    X2, y2 = D.datasets.make(name, n=100, seed=3)
    X3, _ = D.datasets.make(name, n=100, seed=4)
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert not torch.equal(X1, X3)


def test_xor_without_noise_labels_by_quadrant_and_noise_scales_spread():
    X, y = D.xor(n=400, noise=0.0)
    assert torch.equal((X[:, 0] * X[:, 1] < 0).long(), y)
    assert X.abs().max() <= 1.0


def test_blobs_center_moves_the_cloud_far_from_origin():
    X, _ = D.blobs(n=90, center=(50.0, -50.0), spread=1.0, noise=0.5)
    assert X.mean(0).tolist() == pytest.approx([50.0, -50.0], abs=2.0)


def test_digits_are_1x8x8_images_in_unit_range():
    d = D.load_data("digits")
    assert d.input_shape == (1, 8, 8) and d.num_classes == 10 and not d.is_2d
    X, y = d.tensors()
    assert X.shape[1:] == (1, 8, 8) and X.min() >= 0 and X.max() <= 1
    assert len(d.train) + len(d.val) == 1797


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=2), "n must be an int >= the number of classes"),
        (dict(n=10.5), "n must be"),
        (dict(noise=-1.0), "noise must be"),
        (dict(num_classes=1), "num_classes must be"),
    ],
)
def test_bad_toy_parameters_raise_value_error_naming_value(kwargs, match):
    with pytest.raises(ValueError, match=match):
        D.load_data("spiral", **kwargs)


def test_unknown_dataset_error_lists_the_names():
    with pytest.raises(UnknownNameError, match="allowed: spiral, moons"):
        D.load_data("spirals")


def test_unknown_factory_parameter_is_named():
    with pytest.raises(TypeError, match="no parameter"):
        D.load_data("digits", n=100)


# ------------------------------------------------------------------------------------------------ load_data


def test_load_data_split_sizes_and_stratification():
    d = D.load_data("spiral", n=300, val_split=0.2, num_classes=3)
    assert len(d.train) == 240 and len(d.val) == 60
    _, yt = d.tensors("train")
    _, yv = d.tensors("val")
    assert yt.bincount().tolist() == [80, 80, 80]
    assert yv.bincount().tolist() == [20, 20, 20]
    assert d.num_classes == 3 and d.input_shape == (2,) and d.is_2d
    assert d.nbytes("train") == 240 * 2 * 4 + 240 * 8


def test_load_data_is_deterministic_and_train_val_disjoint():
    a = D.load_data("moons", n=200, seed=1)
    b = D.load_data("moons", n=200, seed=1)
    c = D.load_data("moons", n=200, seed=2)
    assert torch.equal(a.tensors("val")[0], b.tensors("val")[0])
    assert not torch.equal(a.tensors("val")[0], c.tensors("val")[0])
    Xt, Xv = a.tensors("train")[0], a.tensors("val")[0]
    rows = {tuple(r) for r in Xt.tolist()}
    assert not any(tuple(r) in rows for r in Xv.tolist())


def test_stratified_split_keeps_class_proportions_of_unbalanced_labels():
    y = torch.tensor([0] * 90 + [1] * 10)
    tr, va = D.stratified_split(y, 0.3, seed=0)
    assert len(va) == 30 and len(tr) == 70
    assert y[va].bincount().tolist() == [27, 3]
    assert set(tr.tolist()).isdisjoint(va.tolist())
    assert torch.equal(D.stratified_split(y, 0.3, seed=0)[1], va)
    assert not torch.equal(D.stratified_split(y, 0.3, seed=1)[1], va)


@pytest.mark.parametrize("val_split", [0.0, 1.0, -0.1, 1.5, "0.2", True])
def test_val_split_outside_open_unit_interval_is_rejected(val_split):
    with pytest.raises(ValueError, match=r"val_split must be a fraction in \(0, 1\)"):
        D.load_data("moons", val_split=val_split)


def test_val_split_none_means_no_validation_set():
    d = D.load_data("moons", n=50, val_split=None)
    assert d.val is None and len(d.train) == 50 and d.nbytes("val") == 0 and d.tensors("val") is None


def test_user_tensors_and_numpy_are_accepted_and_num_classes_inferred():
    X = np.random.default_rng(0).normal(size=(50, 4))
    y = np.arange(50) % 5
    for pair in [(X, y), (torch.as_tensor(X), torch.as_tensor(y)), [X, y.astype(float)]]:
        d = D.load_data(pair, val_split=0.2)
        assert d.name == "tensors" and d.num_classes == 5 and d.input_shape == (4,)
        Xt, yt = d.tensors()
        assert Xt.dtype == torch.float32 and yt.dtype == torch.int64 and len(Xt) == 40
        assert d.tensors("val")[1].bincount().tolist() == [2] * 5


def test_user_data_errors_name_the_problem():
    with pytest.raises(ValueError, match="same length, got 10 examples and 9 labels"):
        D.load_data((torch.randn(10, 2), torch.zeros(9)))
    with pytest.raises(ValueError, match="integer class indices"):
        D.load_data((torch.randn(10, 2), torch.rand(10)))
    with pytest.raises(ValueError, match="labels must be >= 0"):
        D.load_data((torch.randn(10, 2), -torch.ones(10)))
    with pytest.raises(ValueError, match="only apply to named datasets"):
        D.load_data((torch.randn(10, 2), torch.zeros(10)), n=5)
    with pytest.raises(ValueError, match="num_classes=2 is too small: labels go up to 4"):
        D.load_data((torch.randn(10, 2), torch.arange(10) % 5), num_classes=2)
    with pytest.raises(ValueError, match="must be a dataset name"):
        D.load_data(42)


def test_num_classes_can_exceed_seen_labels():
    d = D.load_data((torch.randn(20, 2), torch.arange(20) % 2), num_classes=4)
    assert d.num_classes == 4


def test_explicit_val_data_is_used_without_splitting():
    Xt, yt = torch.randn(30, 3), torch.arange(30) % 3
    Xv, yv = torch.randn(9, 3), torch.arange(9) % 3
    d = D.load_data((Xt, yt), (Xv, yv))
    assert len(d.train) == 30 and len(d.val) == 9
    assert torch.equal(d.tensors("val")[0], Xv)


class _Squares(Dataset):
    """A plain map-style dataset with no .targets: labels found by indexing."""

    def __init__(self, n: int = 40):
        self.n = n
        self.pixels = torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.pixels[i] + i, i % 4


def test_user_map_style_dataset_is_split_stratified_and_kept_lazy():
    d = D.load_data(_Squares(40), val_split=0.25, seed=0)
    assert d.name == "_Squares" and d.num_classes == 4 and d.input_shape == (1, 4, 4)
    assert len(d.train) == 30 and len(d.val) == 10
    assert d.tensors("train") is None
    assert d.nbytes("train") == 30 * (16 * 4 + 8)
    labels = [int(y) for _, y in d.val]
    assert sorted(np.bincount(labels).tolist()) == [2, 2, 3, 3]  # 2.5 per class, rounded to total 10


def test_tensor_dataset_is_treated_like_tensors():
    d = D.load_data(TensorDataset(torch.randn(20, 2), torch.arange(20) % 2))
    assert d.name == "tensors" and d.tensors() is not None and d.is_2d


def test_user_dataloader_batches_are_used_as_is():
    ds = TensorDataset(torch.randn(32, 3), torch.arange(32) % 4)
    loader = DataLoader(ds, batch_size=8)
    d = D.load_data(loader)
    assert d.loader is loader and d.train is ds and d.val is None
    assert d.input_shape == (3,) and d.num_classes == 4
    with pytest.raises(ValueError, match="cannot be applied to a DataLoader"):
        D.load_data(loader, preprocess="normalize")


def test_user_dataloader_over_iterable_dataset_finds_labels_by_one_pass():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            for i in range(12):
                yield torch.randn(2), i % 3

    d = D.load_data(DataLoader(Stream(), batch_size=4))
    assert d.num_classes == 3 and d.input_shape == (2,)


def test_iterable_dataset_alone_is_rejected_with_a_hint():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            yield torch.zeros(2), 0

    with pytest.raises(ValueError, match="wrap it in a DataLoader"):
        D.load_data(Stream())


def test_passing_a_data_object_returns_it():
    d = D.load_data("moons", n=40)
    assert D.load_data(d) is d


def test_bounds_cover_2d_points_and_refuse_images():
    d = D.load_data("blobs", n=60)
    xmin, xmax, ymin, ymax = d.bounds(margin=0.0)
    X = torch.cat([d.tensors("train")[0], d.tensors("val")[0]])
    assert xmin == pytest.approx(X[:, 0].min().item()) and xmax == pytest.approx(X[:, 0].max().item())
    assert ymin == pytest.approx(X[:, 1].min().item()) and ymax == pytest.approx(X[:, 1].max().item())
    lo, hi, _, _ = d.bounds(margin=0.1)
    assert lo < xmin and hi > xmax
    with pytest.raises(ValueError, match="needs 2-D data"):
        D.load_data("digits").bounds()


def test_repr_is_short_and_informative():
    r = repr(D.load_data("spiral", n=30, preprocess="center"))
    assert r == "Data('spiral', train=24, val=6, num_classes=3, input_shape=(2,), preprocess='center')"


# ------------------------------------------------------------------------------------------------ preprocessing


def _population_cov(X: torch.Tensor) -> torch.Tensor:
    return torch.cov(X.double().T, correction=0)


def test_center_and_normalize_follow_their_formulas():
    X = torch.tensor([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    c = D.Center().fit(X)
    assert torch.allclose(c.transform(X), X - X.mean(0))
    n = D.Normalize().fit(X)
    expected = (X - X.mean(0)) / torch.tensor([X[:, 0].std(correction=0).item(), 1.0])  # constant -> std 1
    assert torch.allclose(n.transform(X), expected)
    assert torch.allclose(n.std, torch.tensor([math.sqrt(8 / 3), 1.0]))


def test_preprocessing_is_fitted_on_the_training_split_only():
    g = torch.Generator().manual_seed(0)
    Xt, yt = torch.randn(200, 2, generator=g) * 3 + 5, torch.arange(200) % 2
    Xv, yv = torch.randn(100, 2, generator=g) + 100, torch.arange(100) % 2  # shifted far away
    for name in ["center", "normalize", "pca", "whiten"]:
        d = D.load_data((Xt, yt), (Xv, yv), preprocess=name)
        assert torch.allclose(d.preprocessor.mean, Xt.mean(0), atol=1e-4), name
        Zt, Zv = d.tensors("train")[0], d.tensors("val")[0]
        assert Zt.mean(0).abs().max() < 1e-4, name
        assert Zv.mean(0).abs().min() > 5, name  # val keeps its shift: its own stats were not used
        assert torch.allclose(d.transform(Xv), Zv)


def test_whitened_training_covariance_is_identity():
    g = torch.Generator().manual_seed(1)
    A = torch.tensor([[2.0, 0.0, 0.0], [1.5, 0.5, 0.0], [0.3, -0.2, 0.8]])
    X = torch.randn(2000, 3, generator=g) @ A + torch.tensor([4.0, -2.0, 7.0])
    Z = D.Whiten(eps=0.0).fit(X).transform(X)
    assert torch.allclose(_population_cov(Z), torch.eye(3, dtype=torch.float64), atol=1e-4)
    Ze = D.Whiten().fit(X).transform(X)  # with eps: diag(λ / (λ + eps))
    assert torch.allclose(_population_cov(Ze), torch.eye(3, dtype=torch.float64), atol=1e-3)


def test_pca_decorrelates_sorts_variances_and_keeps_top_k():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(1000, 3, generator=g) @ torch.tensor([[3.0, 1.0, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 0.2]])
    p = D.PCA().fit(X)
    Z = p.transform(X)
    C = _population_cov(Z)
    assert torch.allclose(C, torch.diag(C.diagonal()), atol=1e-4)  # decorrelated
    assert torch.allclose(C.diagonal().float(), p.eigvals, rtol=1e-4)
    assert (p.eigvals[:-1] >= p.eigvals[1:]).all()
    assert torch.allclose(p.components.T @ p.components, torch.eye(3), atol=1e-5)  # a rotation
    assert torch.allclose(Z.pow(2).sum(), (X - X.mean(0)).pow(2).sum(), rtol=1e-4)  # lengths kept
    p2 = D.PCA(k=2).fit(X)
    assert p2.transform(X).shape == (1000, 2) and p2.output_shape == (2,)
    assert torch.allclose(p2.transform(X), Z[:, :2], atol=1e-5)


def test_pca_k_out_of_range_is_rejected():
    with pytest.raises(ValueError, match=r"k must be in \[1, 2\]"):
        D.PCA(k=3).fit(torch.randn(10, 2))
    with pytest.raises(ValueError, match="k"):
        D.PCA(k=0)


def test_preprocessing_images_works_on_flattened_features_and_reshapes_back():
    d = D.load_data("digits", preprocess="normalize")
    assert d.input_shape == (1, 8, 8)
    X, _ = d.tensors()
    assert X.shape[1:] == (1, 8, 8) and X.flatten(1).mean(0).abs().max() < 1e-4
    d2 = D.load_data("digits", preprocess={"name": "pca", "k": 10})
    assert d2.input_shape == (10,) and d2.tensors()[0].shape[1:] == (10,)
    assert d2.preprocessor.components.shape == (64, 10)


def test_unknown_preprocessing_and_bad_spec_are_rejected():
    with pytest.raises(UnknownNameError, match="allowed: none, center, normalize, pca, whiten"):
        D.load_data("moons", preprocess="zscore")
    with pytest.raises(ValueError, match="'name' key"):
        D.load_data("moons", preprocess={"k": 2})


def test_streamed_moments_match_whole_tensor_statistics():
    X = torch.randn(300, 5) * 2 + 10
    m = D.Moments()
    for chunk in X.split(64):
        m.update(chunk)
    assert torch.allclose(m.mean.float(), X.mean(0), atol=1e-5)
    assert torch.allclose(m.cov, _population_cov(X), atol=1e-8)
    assert torch.allclose(D.Moments(full=False).update(X).var, _population_cov(X).diagonal(), atol=1e-8)


def test_preprocessing_a_lazy_dataset_matches_the_in_memory_result():
    lazy = D.load_data(_Squares(40), preprocess="whiten", val_split=0.25, seed=0)
    xs = torch.stack([_Squares(40)[i][0] for i in range(40)])
    ys = torch.arange(40) % 4
    eager = D.load_data((xs, ys), preprocess="whiten", val_split=0.25, seed=0)
    assert torch.allclose(lazy.preprocessor.mean, eager.preprocessor.mean)
    got = torch.stack([x for x, _ in lazy.val])
    assert torch.allclose(got, eager.tensors("val")[0], atol=1e-3)


# ------------------------------------------------------------------------------------------------ mixup


def test_mixup_targets_sum_to_one_and_mix_inputs_with_the_same_lambda():
    n = 16
    x = torch.randn(n, 3)
    y = torch.arange(n)  # every label distinct, so y_soft reveals lambda and the partner
    xm, ym = D.mixup(x, y, alpha=0.4, num_classes=n, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ym.sum(1), torch.ones(n))
    lam = ym[0, 0].item()
    for i in range(n):
        assert ym[i, i].item() == pytest.approx(lam, abs=1e-6) or ym[i, i].item() == pytest.approx(1.0)
        if ym[i, i] < 1 - 1e-6:
            others = [k for k in range(n) if k != i and ym[i, k] > 1e-6]
            (j,) = others
            assert ym[i, j].item() == pytest.approx(1 - lam, abs=1e-6)
            assert torch.allclose(xm[i], lam * x[i] + (1 - lam) * x[j], atol=1e-6)


def test_mixup_is_deterministic_given_a_generator_and_works_with_cross_entropy():
    x, y = torch.randn(8, 4), torch.arange(8) % 3
    a = D.mixup(x, y, 1.0, 3, generator=torch.Generator().manual_seed(5))
    b = D.mixup(x, y, 1.0, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    loss = F.cross_entropy(torch.randn(8, 3), a[1])
    assert torch.isfinite(loss)
    xm, ym = D.mixup(x, F.one_hot(y, 3).float(), 1.0, 3)  # soft targets in
    assert torch.allclose(ym.sum(1), torch.ones(8))


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan")])
def test_mixup_rejects_non_positive_alpha(alpha):
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        D.mixup(torch.randn(4, 2), torch.zeros(4, dtype=torch.long), alpha, 2)


def test_mixup_rejects_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 1\]"):
        D.mixup(torch.randn(4, 2), torch.tensor([0, 1, 2, 0]), 0.2, 2)


# ------------------------------------------------------------------------------------------------ augmentation


def _distinct_images(n: int = 64, c: int = 3, h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(0)) + 0.1  # no zeros inside


def test_flip_is_per_example_and_deterministic_given_a_generator():
    x = _distinct_images()
    aug = D.make_augment((3, 8, 8), flip=True, crop_padding=0, rotate=0, scale=0, color=0)
    out = aug(x, generator=torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x)])
    assert (flipped | kept).all() and 0 < flipped.sum() < len(x)  # some, not all
    again = aug(x, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    assert not torch.equal(out, aug(x, generator=torch.Generator().manual_seed(1)))


def test_random_crop_shifts_each_example_by_its_own_offset():
    x = _distinct_images(h=8, w=8)
    aug = D.make_augment((3, 8, 8), flip=False, crop_padding=2, rotate=0, scale=0, color=0)
    out = aug(x, generator=torch.Generator().manual_seed(3))
    assert out.shape == x.shape
    padded = F.pad(x, (2, 2, 2, 2))
    offsets = []
    for o, p in zip(out, padded):
        found = [(t, s) for t in range(5) for s in range(5) if torch.equal(o, p[:, t : t + 8, s : s + 8])]
        assert len(found) == 1
        offsets.append(found[0])
    assert len(set(offsets)) > 5  # per example, not one crop for the whole batch
    assert torch.equal(out, aug(x, generator=torch.Generator().manual_seed(3)))


def test_augment_default_padding_and_2d_data_is_refused():
    assert D.make_augment((3, 32, 32)).crop_padding == 4
    assert D.make_augment((1, 28, 28)).crop_padding == 3
    with pytest.raises(ValueError, match=r"needs images of shape \(C, H, W\), got input_shape \(2,\)"):
        D.make_augment((2,))
    with pytest.raises(ValueError, match="needs images"):
        D.load_data("moons", augment=True)


def test_load_data_builds_augment_for_images():
    d = D.load_data("digits", augment={"flip": False, "crop_padding": 1})
    assert isinstance(d.augment, D.Augment) and d.augment.crop_padding == 1 and not d.augment.flip
    X, _ = d.tensors()
    assert d.augment(X[:5], generator=torch.Generator().manual_seed(0)).shape == (5, 1, 8, 8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_augment_and_mixup_run_on_the_batch_device():
    x = _distinct_images().cuda()
    aug = D.make_augment((3, 8, 8))
    a = aug(x, generator=torch.Generator().manual_seed(0))
    b = aug(x.cpu(), generator=torch.Generator().manual_seed(0))
    assert a.device == x.device and torch.allclose(a.cpu(), b, atol=1e-5)  # bilinear warps: float rounding
    xm, ym = D.mixup(x, torch.arange(64, device="cuda") % 10, 0.2, 10, generator=torch.Generator().manual_seed(0))
    assert xm.device == x.device and ym.device == x.device


# ------------------------------------------------------------------------------------------------ torchvision


def _write_idx(path: Path, arr: np.ndarray) -> None:
    """An uncompressed IDX (SN3 / Pascal Vincent) file: big-endian magic 0x0000<type><ndim>, dims, data."""
    assert arr.dtype == np.uint8
    with open(path, "wb") as f:
        f.write(struct.pack(">I", (0x08 << 8) | arr.ndim))
        f.write(struct.pack(f">{arr.ndim}I", *arr.shape))
        f.write(arr.tobytes())


def _fake_mnist(root: Path, folder: str = "MNIST", n_train: int = 30, n_test: int = 10) -> None:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in [("train", n_train), ("t10k", n_test)]:
        _write_idx(raw / f"{split}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        _write_idx(raw / f"{split}-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))


def test_mnist_from_a_fake_raw_folder_without_network(tmp_path):
    _fake_mnist(tmp_path)
    d = D.load_data("mnist", root=tmp_path, val_split=0.2)
    assert d.input_shape == (1, 28, 28) and d.num_classes == 10
    assert len(d.train) == 24 and len(d.val) == 6 and d.tensors() is None
    x, y = d.train[0]
    assert type(x) is torch.Tensor and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert d.classes is not None and len(d.classes) == 10
    t = D.load_data("mnist", root=tmp_path, val_data="test", subset=20)
    assert len(t.train) == 20 and len(t.val) == 10


def test_fashion_mnist_subset_takes_the_first_n_and_preprocesses_lazily(tmp_path):
    _fake_mnist(tmp_path, folder="FashionMNIST")
    ds = D.fashion_mnist(root=tmp_path, subset=12)
    assert len(ds) == 12
    d = D.load_data("fashion_mnist", root=tmp_path, subset=20, preprocess="normalize")
    assert d.input_shape == (1, 28, 28)
    batch = next(iter(DataLoader(d.train, batch_size=len(d.train))))[0]
    assert batch.flatten(1).mean(0).abs().max() < 1e-4
    assert len(pickle.loads(pickle.dumps(d.train))) == len(d.train)  # DataLoader workers can receive it


def test_missing_torchvision_data_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        D.load_data("mnist", root=tmp_path)


def _fake_cifar10(root: Path, per_batch: int = 10) -> dict[str, str]:
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(0)
    md5 = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {
            "batch_label": name,
            "data": rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8),  # rows: R plane, G, B
            "labels": [int(v) for v in np.arange(per_batch) % 10],
            "filenames": [f"{name}_{i}.png" for i in range(per_batch)],
        }
        (base / name).write_bytes(pickle.dumps(entry))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    meta = {"num_cases_per_batch": per_batch, "label_names": names, "num_vis": 3072}
    (base / "batches.meta").write_bytes(pickle.dumps(meta))
    for f in base.iterdir():
        md5[f.name] = hashlib.md5(f.read_bytes()).hexdigest()
    return md5


def test_cifar10_from_fake_pickled_batches_with_their_md5s(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    md5 = _fake_cifar10(tmp_path)
    # torchvision checks every batch against the real files' md5s; point it at our fake files' md5s
    monkeypatch.setattr(tvd.CIFAR10, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {**tvd.CIFAR10.meta, "md5": md5["batches.meta"]})
    d = D.load_data("cifar10", root=tmp_path, augment=True)
    assert d.input_shape == (3, 32, 32) and d.num_classes == 10 and d.classes[0] == "airplane"
    assert len(d.train) == 40 and len(d.val) == 10
    x, _ = d.train[0]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and x.max() <= 1
    assert d.augment.crop_padding == 4
    t = D.load_data("cifar10", root=tmp_path, val_data="test", subset=25)
    assert len(t.train) == 25 and len(t.val) == 10


def test_cifar10_with_wrong_md5s_is_reported_not_found(tmp_path):
    _fake_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match="CIFAR10 not found"):
        D.load_data("cifar10", root=tmp_path)


def test_image_folder_of_pngs_via_the_user_dataset_route(tmp_path):
    from PIL import Image
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    rng = np.random.default_rng(0)
    for cls in ["cat", "dog"]:
        (tmp_path / cls).mkdir()
        for i in range(5):
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    plain = D.load_data(ImageFolder(tmp_path), val_split=0.2)  # PIL images become float tensors
    assert plain.name == "ImageFolder" and plain.classes == ["cat", "dog"]
    assert plain.num_classes == 2 and plain.input_shape == (3, 6, 6)
    assert len(plain.train) == 8 and len(plain.val) == 2
    assert sorted(int(y) for _, y in plain.val) == [0, 1]
    x, _ = plain.train[0]
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    tf = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    d = D.load_data(ImageFolder(tmp_path, transform=tf), preprocess="center", augment=True)
    xb = next(iter(DataLoader(d.train, batch_size=8)))[0]
    assert xb.shape == (8, 3, 6, 6)
    assert d.augment(xb, generator=torch.Generator().manual_seed(0)).shape == xb.shape
