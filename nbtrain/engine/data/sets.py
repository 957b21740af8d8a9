"""The named datasets: the ``datasets`` registry and its entries, in the order ``names()`` lists them.

2-D toy sets (spiral, moons, circles, xor, blobs) return ``(X float32 (n, 2), y int64 (n,))``, classes
balanced to within one example; ``digits`` returns sklearn's bundled 8×8 images as tensors; MNIST,
Fashion-MNIST and CIFAR-10 are torchvision datasets read from ``root=`` (default ``$NBTRAIN_DATA`` or
``~/.cache/nbtrain``; ``download=True`` fetches them). Add one with ``@datasets.register("name", tags=...)``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

from ..checks import check_int_at_least, check_nonneg
from ..registry import Registry
from .convert import Tensors

datasets = Registry("dataset")
names = datasets.names

DEFAULT_ROOT = os.environ.get("NBTRAIN_DATA", os.path.join("~", ".cache", "nbtrain"))


# ----------------------------------------------------------------------------------------------------------
# 2-D toy datasets: each returns (X float32 (n, 2), y int64 (n,)), classes balanced to within one example


def _check_n(n: Any, num_classes: int) -> int:
    return check_int_at_least("n", n, num_classes, low_text=f"the number of classes ({num_classes})")


def _balanced_counts(n: int, k: int) -> list[int]:
    """``n`` split into ``k`` counts that differ by at most one."""
    return [n // k + (i < n % k) for i in range(k)]


def _finish_toy(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> Tensors:
    order = rng.permutation(len(y))  # shuffled once so no split or batch sees the classes in blocks
    return torch.as_tensor(X[order], dtype=torch.float32), torch.as_tensor(y[order], dtype=torch.int64)


# ----------------------------------------------------------------------------------------------------------
# 2-D toy datasets: each returns (X float32 (n, 2), y int64 (n,)), classes balanced to within one example


@datasets.register("spiral", tags=("2d", "toy"))
def spiral(n: int = 300, noise: float = 0.2, seed: int = 0, num_classes: int = 3) -> Tensors:
    """K interleaved spiral arms (CS231n), one class per arm; not linearly separable.

    Arm j: r = linspace(0, 1), θ = linspace(4j, 4(j+1)) + N(0, noise²); x = (r sin θ, r cos θ).

    >>> X, y = spiral(n=300); X.shape, y.bincount().tolist()
    (torch.Size([300, 2]), [100, 100, 100])
    """
    num_classes = check_int_at_least("num_classes", num_classes, 2)
    n, noise = _check_n(n, num_classes), check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for j, m in enumerate(_balanced_counts(n, num_classes)):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), m) + rng.normal(0.0, 1.0, m) * noise
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, j))
    return _finish_toy(np.concatenate(xs), np.concatenate(ys), rng)


@datasets.register("moons", tags=("2d", "toy"))
def moons(n: int = 300, noise: float = 0.1, seed: int = 0) -> Tensors:
    """Two interleaving half circles (sklearn ``make_moons``); 2 classes.

    >>> X, y = moons(n=200, noise=0.1); X.shape, y.bincount().tolist()
    (torch.Size([200, 2]), [100, 100])
    """
    from sklearn.datasets import make_moons

    n, noise = _check_n(n, 2), check_nonneg("noise", noise)
    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return _finish_toy(X, y, np.random.default_rng(seed))


@datasets.register("circles", tags=("2d", "toy"))
def circles(n: int = 300, noise: float = 0.05, seed: int = 0, factor: float = 0.5) -> Tensors:
    """A small circle inside a large one (sklearn ``make_circles``, inner radius ``factor``); 2 classes.

    >>> X, y = circles(n=100); X.shape, y.bincount().tolist()
    (torch.Size([100, 2]), [50, 50])
    """
    from sklearn.datasets import make_circles

    n, noise = _check_n(n, 2), check_nonneg("noise", noise)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor (inner radius / outer radius) must be in (0, 1), got {factor!r}")
    X, y = make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return _finish_toy(X, y, np.random.default_rng(seed))


@datasets.register("xor", tags=("2d", "toy"))
def xor(n: int = 300, noise: float = 0.1, seed: int = 0) -> Tensors:
    """Four quadrants of [-1, 1]², class = sign(x₁) ≠ sign(x₂) (XOR), plus N(0, noise²); 2 classes.

    >>> X, y = xor(n=100, noise=0.0); bool(((X[:, 0] * X[:, 1] < 0).long() == y).all())
    True
    """
    n, noise = _check_n(n, 2), check_nonneg("noise", noise)
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c, m in enumerate(_balanced_counts(n, 2)):
        p = rng.uniform(-1.0, 1.0, size=(m, 2))
        same = np.sign(p[:, 0]) * np.abs(p[:, 1])  # 2nd coordinate with the 1st one's sign
        p[:, 1] = same if c == 0 else -same
        xs.append(p + rng.normal(0.0, 1.0, size=(m, 2)) * noise)
        ys.append(np.full(m, c))
    return _finish_toy(np.concatenate(xs), np.concatenate(ys), rng)


@datasets.register("blobs", aliases=("gaussian",), tags=("2d", "toy"))
def blobs(
    n: int = 300,
    noise: float = 1.0,
    seed: int = 0,
    num_classes: int = 3,
    spread: float = 10.0,
    center: tuple[float, float] = (0.0, 0.0),
) -> Tensors:
    """Isotropic Gaussian blobs (sklearn ``make_blobs``): std ``noise``, centres uniform in center ± spread.

    Move ``center`` far from the origin to see why zero-centring matters.

    >>> X, y = blobs(n=90, num_classes=3); X.shape, y.bincount().tolist()
    (torch.Size([90, 2]), [30, 30, 30])
    """
    from sklearn.datasets import make_blobs

    num_classes = check_int_at_least("num_classes", num_classes, 2)
    n, noise = _check_n(n, num_classes), check_nonneg("noise", noise)
    spread = check_nonneg("spread", spread)
    counts = _balanced_counts(n, num_classes)
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-spread, spread, size=(num_classes, 2)) + np.asarray(center, dtype=float)
    X, y = make_blobs(n_samples=counts, centers=centers, cluster_std=noise, random_state=seed)
    return _finish_toy(X, y, rng)


# ----------------------------------------------------------------------------------------------------------
# image datasets


@datasets.register("digits", tags=("image", "offline"))
def digits() -> Tensors:
    """sklearn's bundled 8×8 handwritten digits (1797 images, 10 classes), offline; pixels in [0, 1].

    >>> X, y = digits(); X.shape, float(X.max())
    (torch.Size([1797, 1, 8, 8]), 1.0)
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    return X, torch.as_tensor(bunch.target, dtype=torch.int64)


def _to_float_image():
    from torchvision.transforms import v2

    return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.ToPureTensor()])


def _torchvision(cls_name: str, root: str | os.PathLike | None, download: bool, train: bool, subset: int | None):
    import torchvision.datasets as tvd

    root = os.path.expanduser(os.fspath(root if root is not None else DEFAULT_ROOT))
    cls = getattr(tvd, cls_name)
    try:
        ds = cls(root, train=train, transform=_to_float_image(), download=download)
    except RuntimeError as e:
        if download:
            raise
        raise FileNotFoundError(
            f"{cls_name} not found under root={root!r} ({e}); pass download=True to fetch it (needs internet) "
            f"or root= pointing at a folder that holds it"
        ) from e
    if subset is not None:
        subset = check_int_at_least("subset", subset, 1)
        if subset < len(ds):
            ds = Subset(ds, range(subset))  # the first N, so the same N always gives the same images
    return ds


@datasets.register("mnist", tags=("image", "torchvision"))
def mnist(root: str | None = None, download: bool = False, train: bool = True, subset: int | None = None) -> Dataset:
    """MNIST handwritten digits via torchvision: 1×28×28 in [0, 1], 10 classes (60k train / 10k test).

    >>> ds = mnist(root="data", download=True, subset=1000)  # doctest: +SKIP
    """
    return _torchvision("MNIST", root, download, train, subset)


@datasets.register("fashion_mnist", aliases=("fashion-mnist", "fashionmnist"), tags=("image", "torchvision"))
def fashion_mnist(
    root: str | None = None, download: bool = False, train: bool = True, subset: int | None = None
) -> Dataset:
    """Fashion-MNIST clothing images via torchvision: 1×28×28 in [0, 1], 10 classes.

    >>> ds = fashion_mnist(root="data", download=True)  # doctest: +SKIP
    """
    return _torchvision("FashionMNIST", root, download, train, subset)


@datasets.register("cifar10", aliases=("cifar-10",), tags=("image", "torchvision"))
def cifar10(root: str | None = None, download: bool = False, train: bool = True, subset: int | None = None) -> Dataset:
    """CIFAR-10 colour images via torchvision: 3×32×32 in [0, 1], 10 classes (50k train / 10k test).

    >>> ds = cifar10(root="data", download=True, subset=5000)  # doctest: +SKIP
    """
    return _torchvision("CIFAR10", root, download, train, subset)
