"""Datasets, preprocessing, mixup and augmentation.

``load_data`` turns a name (``"spiral"``, ``"digits"``, ``"mnist"``, ...), an ``(X, y)`` pair, a map-style
``Dataset`` or a ``DataLoader`` into a :class:`Data`: train and validation splits, the number of classes,
the per-example input shape, the preprocessing fitted on the training split, and an optional batch
augmentation. Small sets live in memory as ``TensorDataset``; torchvision sets stay map-style.

>>> from nbtrain.engine import data
>>> d = data.load_data("spiral", n=300, seed=0, preprocess="normalize")
>>> d
Data('spiral', train=240, val=60, num_classes=3, input_shape=(2,), preprocess='normalize')
>>> X, y = d.tensors("train"); X.shape, y.dtype
(torch.Size([240, 2]), torch.int64)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset, TensorDataset

from . import rules
from .registry import Registry

datasets = Registry("dataset")
preprocessors = Registry("preprocessing")
names = datasets.names

Tensors = tuple[torch.Tensor, torch.Tensor]

DEFAULT_ROOT = os.environ.get("NBTRAIN_DATA", os.path.join("~", ".cache", "nbtrain"))


# ----------------------------------------------------------------------------------------------------------
# small checks


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def _check_nonneg(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if not value >= 0 or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def _check_n(n: Any, num_classes: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < num_classes:
        raise ValueError(f"n must be an int >= the number of classes ({num_classes}), got {n!r}")
    return int(n)


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
    num_classes = _check_int("num_classes", num_classes, 2)
    n, noise = _check_n(n, num_classes), _check_nonneg("noise", noise)
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

    n, noise = _check_n(n, 2), _check_nonneg("noise", noise)
    X, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return _finish_toy(X, y, np.random.default_rng(seed))


@datasets.register("circles", tags=("2d", "toy"))
def circles(n: int = 300, noise: float = 0.05, seed: int = 0, factor: float = 0.5) -> Tensors:
    """A small circle inside a large one (sklearn ``make_circles``, inner radius ``factor``); 2 classes.

    >>> X, y = circles(n=100); X.shape, y.bincount().tolist()
    (torch.Size([100, 2]), [50, 50])
    """
    from sklearn.datasets import make_circles

    n, noise = _check_n(n, 2), _check_nonneg("noise", noise)
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
    n, noise = _check_n(n, 2), _check_nonneg("noise", noise)
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

    num_classes = _check_int("num_classes", num_classes, 2)
    n, noise = _check_n(n, num_classes), _check_nonneg("noise", noise)
    spread = _check_nonneg("spread", spread)
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
        subset = _check_int("subset", subset, 1)
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


# ----------------------------------------------------------------------------------------------------------
# preprocessing: fitted on the training split only, then applied to every split


class Moments:
    """Count, mean and (optionally) the full covariance of flattened examples, accumulated in float64.

    Lets preprocessing be fitted on a map-style dataset batch by batch instead of holding it whole.
    Covariances are population covariances (divide by N).

    >>> m = Moments().update(torch.tensor([[0.0, 1.0], [2.0, 3.0]])); m.mean.tolist(), m.var.tolist()
    ([1.0, 2.0], [1.0, 1.0])
    """

    def __init__(self, full: bool = True):
        self.full = full
        self.count = 0
        self._shift: torch.Tensor | None = None  # accumulate around a reference point: no cancellation
        self._sum: torch.Tensor | None = None
        self._sq: torch.Tensor | None = None

    def update(self, X: torch.Tensor) -> Moments:
        X = X.detach().reshape(len(X), -1).to("cpu", torch.float64)
        if self._shift is None:
            self._shift = X.mean(0)
            self._sum = torch.zeros_like(self._shift)
            d = len(self._shift)
            self._sq = torch.zeros(d, d, dtype=torch.float64) if self.full else torch.zeros(d, dtype=torch.float64)
        Z = X - self._shift
        self.count += len(X)
        self._sum += Z.sum(0)
        self._sq += Z.T @ Z if self.full else (Z * Z).sum(0)
        return self

    @classmethod
    def of(cls, X: torch.Tensor, full: bool = True) -> Moments:
        """Moments of a whole (N, ...) tensor."""
        return cls(full).update(X)

    def _need(self) -> None:
        if self.count == 0:
            raise ValueError("cannot fit preprocessing on an empty training set")

    @property
    def mean(self) -> torch.Tensor:
        self._need()
        return self._shift + self._sum / self.count

    @property
    def cov(self) -> torch.Tensor:
        self._need()
        if not self.full:
            raise ValueError("these moments were accumulated without the covariance (full=False)")
        m = self._sum / self.count
        return self._sq / self.count - torch.outer(m, m)

    @property
    def var(self) -> torch.Tensor:
        self._need()
        m = self._sum / self.count
        sq = self._sq.diagonal() if self.full else self._sq
        return (sq / self.count - m * m).clamp_min(0.0)


class Preprocessor:
    """Base class: ``fit(X or Moments)`` learns statistics, ``transform(X)`` maps (N, *shape) batches.

    Features are the flattened example (so images work too); outputs are reshaped back to the input shape
    unless the number of features changes (PCA with ``k``), then they are (N, k).
    """

    name = "base"
    needs_cov = False

    def __init__(self) -> None:
        self.input_shape: tuple[int, ...] | None = None
        self.mean: torch.Tensor | None = None

    @property
    def fitted(self) -> bool:
        return self.mean is not None

    @property
    def output_shape(self) -> tuple[int, ...]:
        self._need_fit()
        return self.input_shape

    def fit(self, X: torch.Tensor | Moments, input_shape: Sequence[int] | None = None) -> Preprocessor:
        """Learn the statistics from training examples (an (N, *shape) tensor or :class:`Moments`)."""
        if isinstance(X, Moments):
            if input_shape is None:
                raise ValueError("fit(Moments) needs input_shape=")
            m = X
            self.input_shape = tuple(input_shape)
        else:
            X = torch.as_tensor(X)
            if X.ndim < 2:
                raise ValueError(f"fit needs a batch of examples (N, *shape), got shape {tuple(X.shape)}")
            self.input_shape = tuple(X.shape[1:])
            m = Moments.of(X, full=self.needs_cov)
        if m.count < 2:
            raise ValueError(f"preprocessing {self.name!r} needs at least 2 training examples, got {m.count}")
        self._fit(m)
        return self

    def _fit(self, m: Moments) -> None:
        self.mean = m.mean.float()

    def _need_fit(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"preprocessing {self.name!r} is not fitted yet; call fit(X_train) first")

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Apply to an (N, *input_shape) batch; returns float32 on X's device."""
        self._need_fit()
        X = torch.as_tensor(X)
        if tuple(X.shape[1:]) != self.input_shape:
            raise ValueError(f"expected examples of shape {self.input_shape}, got batch shape {tuple(X.shape)}")
        Z = self._apply(X.reshape(len(X), -1).float())
        return Z.reshape(len(X), *self.output_shape)

    __call__ = transform

    def _apply(self, Z: torch.Tensor) -> torch.Tensor:
        return Z - self.mean.to(Z.device)

    def __repr__(self) -> str:
        state = "" if self.fitted else ", unfitted"
        return f"{type(self).__name__}({self.name!r}{state})"


@preprocessors.register("none", aliases=("identity",))
class Identity(Preprocessor):
    """x' = x (no preprocessing).

    >>> Identity().fit(torch.ones(3, 2)).transform(torch.ones(1, 2)).tolist()
    [[1.0, 1.0]]
    """

    name = "none"

    def _apply(self, Z: torch.Tensor) -> torch.Tensor:
        return Z


@preprocessors.register("center", aliases=("centre", "zero_center"))
class Center(Preprocessor):
    """x' = x − μ, μ the per-feature mean of the training split (zero-centring).

    >>> Center().fit(torch.tensor([[1.0], [3.0]])).transform(torch.tensor([[3.0]])).tolist()
    [[1.0]]
    """

    name = "center"


@preprocessors.register("normalize", aliases=("standardize", "normalise"))
class Normalize(Preprocessor):
    """x' = (x − μ) / σ per feature (training split; σ population std, σ < eps counts as 1).

    >>> Normalize().fit(torch.tensor([[0.0], [2.0]])).transform(torch.tensor([[2.0]])).tolist()
    [[1.0]]
    """

    name = "normalize"

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.std: torch.Tensor | None = None

    def _fit(self, m: Moments) -> None:
        super()._fit(m)
        std = m.var.sqrt()
        self.std = torch.where(std < self.eps, torch.ones_like(std), std).float()  # constant pixels stay put

    def _apply(self, Z: torch.Tensor) -> torch.Tensor:
        return (Z - self.mean.to(Z.device)) / self.std.to(Z.device)


@preprocessors.register("pca")
class PCA(Preprocessor):
    """x' = (x − μ) U_k: centre, then rotate onto the top-k principal axes (decorrelates; k reduces).

    U holds the eigenvectors of the training covariance Σ = E[(x − μ)(x − μ)ᵀ] as columns, ordered by
    eigenvalue λ (descending); ``components`` is U_k (D × k), ``eigvals`` the top k eigenvalues.
    ``k=None`` keeps all D components (a pure rotation).

    >>> p = PCA(k=1).fit(torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])); p.output_shape
    (1,)
    """

    name = "pca"
    needs_cov = True

    def __init__(self, k: int | None = None):
        super().__init__()
        if k is not None:
            _check_int("k (number of principal components)", k, 1)
        self.k = k
        self.components: torch.Tensor | None = None
        self.eigvals: torch.Tensor | None = None

    def _fit(self, m: Moments) -> None:
        super()._fit(m)
        d = m.mean.numel()
        if self.k is not None and self.k > d:
            raise ValueError(f"k must be in [1, {d}] (the number of features), got {self.k}")
        evals, evecs = torch.linalg.eigh(m.cov)
        evals, evecs = evals.flip(0).clamp_min(0.0), evecs.flip(1)  # descending
        # fix each axis' sign (largest |entry| positive) so the same data always gives the same rotation
        signs = torch.sign(evecs[evecs.abs().argmax(0), torch.arange(d)])
        evecs = evecs * torch.where(signs == 0, torch.ones_like(signs), signs)
        k = self.k or d
        self.components, self.eigvals = evecs[:, :k].float(), evals[:k].float()

    @property
    def output_shape(self) -> tuple[int, ...]:
        self._need_fit()
        return self.input_shape if self.k is None else (self.k,)

    def _apply(self, Z: torch.Tensor) -> torch.Tensor:
        return (Z - self.mean.to(Z.device)) @ self.components.to(Z.device)


@preprocessors.register("whiten", aliases=("whitening", "pca_whiten"))
class Whiten(PCA):
    """x' = (x − μ) U_k / √(λ + eps): PCA, then unit variance along every principal axis.

    The whitened training data has covariance ≈ I (exactly diag(λ/(λ+eps))).

    >>> X = torch.randn(500, 3) @ torch.tensor([[3.0, 0, 0], [1, 1, 0], [0, 0, 0.1]])
    >>> Z = Whiten().fit(X).transform(X); torch.allclose(Z.T @ Z / 500, torch.eye(3), atol=1e-2)
    True
    """

    name = "whiten"

    def __init__(self, k: int | None = None, eps: float = 1e-5):
        super().__init__(k)
        self.eps = _check_nonneg("eps", eps)

    def _apply(self, Z: torch.Tensor) -> torch.Tensor:
        return super()._apply(Z) / (self.eigvals.to(Z.device) + self.eps).sqrt()


@preprocessors.register("zca", aliases=("zca_whiten",))
class ZCA(Whiten):
    """x' = (x − μ) U diag(1/√(λ + eps)) Uᵀ: whitening rotated back to the input axes (ZCA, "Mahalanobis").

    Same covariance ≈ I as PCA whitening, but of all whitening matrices the one closest to the identity:
    each feature (pixel) stays where it was, so images still look like (edge-enhanced) images. Keeps all
    D dimensions (no ``k``).

    >>> X = torch.randn(500, 3) @ torch.tensor([[3.0, 0, 0], [1, 1, 0], [0, 0, 0.1]])
    >>> z = ZCA().fit(X); W = z.matrix
    >>> torch.allclose(W, W.T, atol=1e-5), torch.allclose(z.transform(X).T.cov(correction=0), torch.eye(3), atol=1e-2)
    (True, True)
    """

    name = "zca"

    def __init__(self, eps: float = 1e-5):
        super().__init__(None, eps)

    @property
    def matrix(self) -> torch.Tensor:
        """The symmetric whitening matrix W = U diag(1/√(λ + eps)) Uᵀ (x' = (x − μ) W)."""
        self._need_fit()
        U = self.components
        return (U / (self.eigvals + self.eps).sqrt()) @ U.T

    def _apply(self, Z: torch.Tensor) -> torch.Tensor:
        return (Z - self.mean.to(Z.device)) @ self.matrix.to(Z.device)


def make_preprocessor(spec: str | Mapping[str, Any] | Preprocessor) -> Preprocessor:
    """An (unfitted unless given fitted) preprocessor from a name, ``{"name": ..., **params}`` or an instance.

    >>> make_preprocessor({"name": "pca", "k": 2})
    PCA('pca', unfitted)
    """
    if isinstance(spec, Preprocessor):
        return spec
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "name" not in params:
            raise ValueError(f"a preprocessing dict needs a 'name' key; allowed names: {preprocessors.names()}")
        return preprocessors.make(params.pop("name"), **params)
    return preprocessors.make(spec)


# ----------------------------------------------------------------------------------------------------------
# mixup and augmentation (applied per batch by the trainer, on the batch's device)


def _draw_seed(generator: torch.Generator | None) -> int:
    device = generator.device if generator is not None else "cpu"
    return int(torch.randint(0, 2**62, (1,), generator=generator, device=device))


def mixup(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    num_classes: int,
    generator: torch.Generator | None = None,
    *,
    lam: float | None = None,
    check: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup: x̃ = λx + (1−λ)x[π], ỹ = λ·onehot(y) + (1−λ)·onehot(y[π]), λ ~ Beta(α, α), π a permutation.

    One λ per batch; ``y`` may be class indices (N,) or soft targets (N, C). ``ỹ`` rows sum to 1 and work
    with ``F.cross_entropy(logits, ỹ)``. ``lam`` given: that λ (the trainer draws it on the host, so a
    training step reads nothing back from the device); ``check=False`` skips the label-range check (a read of
    the labels; the trainer checked them once at load).

    >>> x, y = torch.randn(8, 2), torch.arange(8) % 2
    >>> xm, ym = mixup(x, y, alpha=0.4, num_classes=2, generator=torch.Generator().manual_seed(0))
    >>> xm.shape, ym.shape, bool(torch.allclose(ym.sum(1), torch.ones(8)))
    (torch.Size([8, 2]), torch.Size([8, 2]), True)
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0 or not math.isfinite(alpha):
        raise ValueError(f"mixup alpha must be a finite number > 0, got {alpha!r}")
    num_classes = _check_int("num_classes", num_classes, 1)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
    if y.ndim == 1:
        if check and len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
            raise ValueError(f"labels must be in [0, {num_classes - 1}], got range [{int(y.min())}, {int(y.max())}]")
        target = torch.nn.functional.one_hot(y.long(), num_classes)
    elif y.ndim == 2 and y.shape[1] == num_classes:
        target = y
    else:
        raise ValueError(f"y must be class indices (N,) or soft targets (N, {num_classes}), got {tuple(y.shape)}")
    dtype = x.dtype if x.is_floating_point() else torch.float32
    target = target.to(dtype)
    if lam is None:
        lam = float(np.random.default_rng(_draw_seed(generator)).beta(alpha, alpha))
    elif not 0.0 <= lam <= 1.0:
        raise ValueError(f"mixup lam={lam!r} must be in [0, 1]")
    gen_device = generator.device if generator is not None else "cpu"
    perm = torch.randperm(len(x), generator=generator, device=gen_device).to(x.device)
    return lam * x + (1.0 - lam) * x[perm], lam * target + (1.0 - lam) * target[perm]


AUGMENT_PRESETS: dict[str, dict[str, Any]] = {
    # digits are not mirror-symmetric (a flipped 2, 3, 7 is no digit): shifts, small rotations and scale only
    "digits": {"flip": False, "rotate": 10.0, "scale": 0.1, "color": 0.0},
    # clothing is left-right symmetric; grey images have no colour to jitter
    "fashion": {"flip": True, "rotate": 5.0, "scale": 0.05, "color": 0.0},
    # natural colour photos (CIFAR-like): the notes' crop, flip, rotate, scale and colour
    "photo": {"flip": True, "rotate": 10.0, "scale": 0.1, "color": 0.2},
}


def augment_preset(name: str | None, input_shape: Sequence[int]) -> str:
    """The label-safe preset for a dataset: ``"digits"`` for digits/MNIST and any other 1-channel set
    (flips are not safe for symbols), ``"fashion"`` for Fashion-MNIST, ``"photo"`` for colour images."""
    n = (name or "").lower()
    if n in ("fashion_mnist", "fashion-mnist", "fashionmnist"):
        return "fashion"
    if n in ("digits", "mnist") or int(input_shape[0]) != 3:
        return "digits"
    return "photo"


class Augment:
    """Per-example random image augmentation of a batch: horizontal flip, crop (pad + crop back, i.e. a
    shift), rotation by ±``rotate`` degrees and zoom by 1 ± ``scale`` (one bilinear affine warp, zero fill),
    and colour jitter: brightness, contrast and (RGB) saturation factors in 1 ± ``color``.

    Call it on an (N, C, H, W) batch on any device: ``augment(x, generator=g)``. Each example draws its own
    parameters from ``generator`` (torch's default when None); the same generator state gives the same
    result. Colour jitter is torchvision's adjust_brightness → adjust_contrast → adjust_saturation without
    the clamp to [0, 1] (batches are usually standardised).
    """

    def __init__(self, input_shape: Sequence[int], flip: bool = True, crop_padding: int = 0,
                 padding_mode: str = "constant", rotate: float = 0.0, scale: float = 0.0, color: float = 0.0):
        self.input_shape = tuple(input_shape)
        self.flip = bool(flip)
        self.crop_padding = _check_int("crop_padding", crop_padding, 0)
        allowed = ("constant", "edge", "reflect", "symmetric")
        if padding_mode not in allowed:
            raise ValueError(f"padding_mode must be one of {allowed}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        for nm, v, hi in (("rotate", rotate, 180.0), ("scale", scale, 0.9), ("color", color, 1.0)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= hi:
                raise ValueError(f"augment {nm}={v!r} must be a number in [0, {hi:g}]")
        self.rotate, self.scale, self.color = float(rotate), float(scale), float(color)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        from torchvision.transforms.v2 import functional as F

        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"augment expects a batch of shape (N, {self.input_shape}), got {tuple(x.shape)}")
        n, _, h, w = x.shape
        dev = generator.device if generator is not None else x.device

        def uniform(lo: float, hi: float) -> torch.Tensor:
            return (lo + (hi - lo) * torch.rand(n, generator=generator, device=dev)).to(x.device)

        if self.flip:
            flip = (torch.rand(n, generator=generator, device=dev) < 0.5).to(x.device)
            x = torch.where(flip[:, None, None, None], F.horizontal_flip(x), x)
        if self.rotate or self.scale:
            angle = uniform(-self.rotate, self.rotate) if self.rotate else torch.zeros(n, device=x.device)
            zoom = uniform(1.0 - self.scale, 1.0 + self.scale) if self.scale else torch.ones(n, device=x.device)
            x = affine(x, angle, zoom)
        p = self.crop_padding
        if p > 0:
            padded = F.pad(x, [p], fill=0, padding_mode=self.padding_mode)
            top = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=dev).to(x.device)
            left = torch.randint(0, 2 * p + 1, (n,), generator=generator, device=dev).to(x.device)
            rows = top[:, None] + torch.arange(h, device=x.device)  # (N, H)
            cols = left[:, None] + torch.arange(w, device=x.device)  # (N, W)
            batch = torch.arange(n, device=x.device)[:, None, None]
            x = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
        if self.color:
            c = self.color
            x = color_jitter(x, uniform(1 - c, 1 + c), uniform(1 - c, 1 + c), uniform(1 - c, 1 + c))
        return x.contiguous()

    def __repr__(self) -> str:
        return (f"Augment(flip={self.flip}, crop_padding={self.crop_padding}, padding_mode={self.padding_mode!r}, "
                f"rotate={self.rotate:g}, scale={self.scale:g}, color={self.color:g})")


def affine(x: torch.Tensor, angle_deg: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Rotate each image of (N, C, H, W) ``x`` by ``angle_deg[i]`` (counter-clockwise, about the centre) and
    zoom it by ``zoom[i]``; bilinear, zero outside."""
    a = angle_deg.to(x.dtype) * (math.pi / 180.0)
    cos, sin, inv = torch.cos(a), torch.sin(a), 1.0 / zoom.to(x.dtype)
    n, _, h, w = x.shape
    # output pixel p (normalised coordinates) samples the input at (1/zoom)·R(angle)ᵀ p; the aspect ratio is
    # undone around the rotation so non-square images rotate rigidly
    r = h / w
    theta = torch.zeros(n, 2, 3, dtype=x.dtype, device=x.device)
    theta[:, 0, 0], theta[:, 0, 1] = cos * inv, -sin * inv * r
    theta[:, 1, 0], theta[:, 1, 1] = sin * inv / r, cos * inv
    grid = torch.nn.functional.affine_grid(theta, list(x.shape), align_corners=False)
    return torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def color_jitter(x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor,
                 saturation: torch.Tensor) -> torch.Tensor:
    """Per-image brightness, contrast, saturation factors (torchvision's formulas, unclamped)."""
    x = x * brightness[:, None, None, None]
    gray = _grayscale(x)
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + contrast[:, None, None, None] * (x - mean)
    if x.shape[1] == 3:
        gray = _grayscale(x)
        x = gray + saturation[:, None, None, None] * (x - gray)
    return x


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    if x.shape[1] != 3:
        return x.mean(dim=1, keepdim=True)
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.2989 * r + 0.587 * g + 0.114 * b


def make_augment(
    input_shape: Sequence[int],
    flip: bool | None = None,
    crop_padding: int | None = None,
    padding_mode: str = "constant",
    rotate: float | None = None,
    scale: float | None = None,
    color: float | None = None,
    preset: str | None = None,
    dataset: str | None = None,
) -> Augment:
    """Label-safe batch augmentation for images, per dataset (any option given overrides the preset).

    ``preset`` (default: :func:`augment_preset` of ``dataset`` and the shape): ``"digits"`` — shifts,
    ±10° rotations, ±10 % zoom, **no flips** (a mirrored 2 or 7 is not a digit); ``"fashion"`` — flips,
    shifts, ±5°, ±5 %; ``"photo"`` (CIFAR-like) — flips, shifts, ±10°, ±10 %, colour jitter ±20 %.
    ``crop_padding=None`` picks H // 8 (4 for 32×32, 3 for 28×28) and 0 below 16 pixels (8×8 digits: a
    one-pixel shift is an eighth of the digit and costs accuracy). Images only: for
    feature vectors (e.g. 2-D points) it raises ``ValueError``.

    >>> aug = make_augment((3, 32, 32)); aug(torch.rand(5, 3, 32, 32)).shape
    torch.Size([5, 3, 32, 32])
    >>> make_augment((1, 8, 8), dataset="digits").flip
    False
    """
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(
            f"augmentation (flip, crop) needs images of shape (C, H, W), got input_shape {shape}; "
            f"use it with digits/mnist/cifar10-style data, or mixup for other data"
        )
    preset = preset or augment_preset(dataset, shape)
    if preset not in AUGMENT_PRESETS:
        raise ValueError(f"augment preset={preset!r} must be one of {', '.join(AUGMENT_PRESETS)}")
    opts = dict(AUGMENT_PRESETS[preset])
    for k, v in (("flip", flip), ("rotate", rotate), ("scale", scale), ("color", color)):
        if v is not None:
            opts[k] = v
    if crop_padding is None:
        # an 8×8 digit shifted by one pixel loses 1/8 of its width (measured on digits: val acc 0.96 → 0.81
        # after 600 steps); rotations and zoom move it less, so tiny images get no shift
        crop_padding = shape[1] // 8 if shape[1] >= 16 else 0
    return Augment(shape, crop_padding=crop_padding, padding_mode=padding_mode, **opts)


# ----------------------------------------------------------------------------------------------------------
# datasets helpers: labels, conversion, splitting, streaming


def _labels_of(ds: Dataset) -> torch.Tensor:
    """All labels of a map-style dataset as int64, cheaply where the dataset keeps them."""
    if isinstance(ds, TensorDataset):
        return ds.tensors[1]
    if isinstance(ds, Subset):
        return _labels_of(ds.dataset)[torch.as_tensor(list(ds.indices), dtype=torch.int64)]
    if isinstance(ds, _Wrapped):
        return _labels_of(ds.inner)
    targets = getattr(ds, "targets", None)
    if targets is not None and not callable(targets):
        labels = torch.as_tensor(np.asarray(targets))
    else:
        labels = torch.as_tensor([int(ds[i][1]) for i in range(len(ds))])
    return _as_labels(labels)


def _as_labels(y: Any) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(y) if not isinstance(y, torch.Tensor) else y)
    if y.ndim != 1:
        raise ValueError(f"labels must be a 1-D array of class indices, got shape {tuple(y.shape)}")
    if y.is_floating_point():
        if not torch.equal(y, y.round()):
            raise ValueError("labels must be integer class indices (classification), got non-integer floats")
    elif y.dtype == torch.bool or y.is_complex():
        raise ValueError(f"labels must be integer class indices, got dtype {y.dtype}")
    y = y.to(torch.int64)
    if len(y) and int(y.min()) < 0:
        raise ValueError(f"labels must be >= 0, got minimum {int(y.min())}")
    return y


def _as_tensors(X: Any, y: Any) -> Tensors:
    X = torch.as_tensor(np.asarray(X) if not isinstance(X, torch.Tensor) else X)
    if X.ndim < 2:
        raise ValueError(f"X must be (N, features...) with one row per example, got shape {tuple(X.shape)}")
    y = _as_labels(y)
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length, got {len(X)} examples and {len(y)} labels")
    if len(X) == 0:
        raise ValueError("the dataset is empty")
    return X.detach().to("cpu", torch.float32), y.detach().cpu()


class _Wrapped(Dataset):
    """A map-style dataset whose examples pass through ``fn``; labels come from the inner dataset."""

    def __init__(self, inner: Dataset, fn: Callable[[Any], torch.Tensor]):
        self.inner, self.fn = inner, fn

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, y = self.inner[i]
        return self.fn(x), int(y)

    @property
    def targets(self) -> torch.Tensor:
        return _labels_of(self.inner)


def _to_tensor_example(x: Any) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.float()
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        Image = None
    if Image is not None and isinstance(x, Image.Image):
        from torchvision.transforms.v2 import functional as F

        return F.to_dtype(F.to_image(x), torch.float32, scale=True).as_subclass(torch.Tensor)
    return torch.as_tensor(np.asarray(x), dtype=torch.float32)


def _as_map_dataset(ds: Dataset) -> Dataset:
    """Check a user dataset and make its examples float tensors (PIL images become C×H×W in [0, 1])."""
    if isinstance(ds, IterableDataset):
        raise ValueError("an IterableDataset has no length or indexing; wrap it in a DataLoader and pass that")
    if not hasattr(ds, "__getitem__") or not hasattr(ds, "__len__"):
        raise ValueError(f"expected a map-style Dataset (with __len__ and __getitem__), got {type(ds).__name__}")
    if len(ds) == 0:
        raise ValueError("the dataset is empty")
    first = ds[0]
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise ValueError(f"dataset examples must be (x, label) pairs, got {type(first).__name__}")
    if isinstance(first[0], torch.Tensor) and first[0].dtype == torch.float32:
        return ds
    return _Wrapped(ds, _to_tensor_example)  # float64, integers, numpy, PIL → float32 examples


def _example_shape(ds: Dataset) -> tuple[int, ...]:
    return tuple(torch.as_tensor(ds[0][0]).shape)


def stratified_split(y: torch.Tensor, val_split: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation indices, each class split in proportion ``val_split`` (deterministic by seed).

    The validation set gets round(val_split·N) examples in total, every class keeps at least one training
    example, and indices come back sorted.

    >>> tr, va = stratified_split(torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]), 0.5); len(tr), len(va)
    (4, 4)
    """
    _check_val_split(val_split)
    y = torch.as_tensor(y)
    n = len(y)
    rng = np.random.default_rng([int(seed), 7])  # its own stream, not the one that generated the data
    classes = np.unique(y.numpy())
    members = [np.flatnonzero(y.numpy() == c) for c in classes]
    exact = np.array([val_split * len(m) for m in members])
    take = np.floor(exact).astype(int)
    target = int(round(val_split * n))
    room = np.array([len(m) - 1 for m in members]) - take  # keep >= 1 training example per class
    for i in np.argsort(-(exact - take), kind="stable"):  # largest remainders first
        if take.sum() >= target:
            break
        if room[i] > 0:
            take[i] += 1
            room[i] -= 1
    if take.sum() == 0:
        raise ValueError(f"val_split={val_split} leaves no validation examples out of {n}; raise val_split or n")
    val = np.concatenate([rng.permutation(m)[:t] for m, t in zip(members, take)])
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return torch.as_tensor(np.flatnonzero(~mask)), torch.as_tensor(np.flatnonzero(mask))


def _check_val_split(val_split: Any) -> float:
    if isinstance(val_split, bool) or not isinstance(val_split, (int, float)) or not 0.0 < val_split < 1.0:
        raise ValueError(f"val_split must be a fraction in (0, 1), got {val_split!r}")
    return float(val_split)


def _moments_of_dataset(ds: Dataset, full: bool, batch_size: int = 1024) -> Moments:
    m = Moments(full)
    for x, _ in DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0):
        m.update(x)
    return m


# ----------------------------------------------------------------------------------------------------------
# the result


@dataclass(repr=False)
class Data:
    """What ``load_data`` returns: splits, label count, per-example input shape, fitted preprocessing.

    ``train``/``val`` yield already-preprocessed ``(x float32, label int64)`` pairs. ``loader`` is the
    user's DataLoader when one was given (then batches come from it as-is). ``augment`` is a callable
    ``augment(batch, generator=None)`` applied by the trainer on the batch's device, or None.

    >>> d = load_data("moons", n=100); d.is_2d, d.num_classes, len(d.train), len(d.val)
    (True, 2, 80, 20)
    """

    name: str
    train: Dataset
    val: Dataset | None
    num_classes: int
    input_shape: tuple[int, ...]
    loader: DataLoader | None = None
    preprocessor: Preprocessor | None = None
    augment: Callable[..., torch.Tensor] | None = None
    classes: list[str] | None = None
    notes: list[str] = field(default_factory=list)  # what loading changed, e.g. float64 inputs cast to float32

    def _split(self, split: str) -> Dataset | None:
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        return self.train if split == "train" else self.val

    def tensors(self, split: str = "train") -> Tensors | None:
        """The whole split as (X, y) tensors when it is held in memory (a TensorDataset), else None."""
        ds = self._split(split)
        if isinstance(ds, TensorDataset) and len(ds.tensors) == 2:
            return ds.tensors[0], ds.tensors[1]
        return None

    def nbytes(self, split: str = "train") -> int:
        """Bytes of the split as tensors: exact when in memory, else len × (float32 example + int64 label)."""
        ds = self._split(split)
        if ds is None:
            return 0
        t = self.tensors(split)
        if t is not None:
            return sum(a.element_size() * a.nelement() for a in t)
        return len(ds) * (4 * math.prod(self.input_shape) + 8)

    @property
    def is_2d(self) -> bool:
        """True for 2-D feature vectors (decision boundaries can be drawn)."""
        return tuple(self.input_shape) == (2,)

    def bounds(self, margin: float = 0.1) -> tuple[float, float, float, float]:
        """(xmin, xmax, ymin, ymax) of the (preprocessed) 2-D train+val points, widened by ``margin``·range."""
        if not self.is_2d:
            raise ValueError(f"bounds() needs 2-D data, got input_shape {self.input_shape}")
        pts = [t[0] for t in (self.tensors("train"), self.tensors("val")) if t is not None]
        if not pts:
            pts = [torch.stack([torch.as_tensor(x) for x, _ in self.train])]
        X = torch.cat(pts)
        lo, hi = X.min(0).values, X.max(0).values
        pad = (hi - lo).clamp_min(1e-6) * margin
        lo, hi = (lo - pad).tolist(), (hi + pad).tolist()
        return (lo[0], hi[0], lo[1], hi[1])

    def transform(self, X: torch.Tensor) -> torch.Tensor:
        """Apply the fitted preprocessing to new raw inputs (e.g. a decision-boundary grid)."""
        return self.preprocessor.transform(X) if self.preprocessor is not None else torch.as_tensor(X).float()

    def __repr__(self) -> str:
        val = _len_or_none(self.val) if self.val is not None else None
        pre = self.preprocessor.name if self.preprocessor is not None else "none"
        extra = ", loader" if self.loader is not None else ""
        extra += ", augment" if self.augment is not None else ""
        return (
            f"Data({self.name!r}, train={_len_or_none(self.train)}, val={val}, num_classes={self.num_classes}, "
            f"input_shape={self.input_shape}, preprocess={pre!r}{extra})"
        )


def _len_or_none(ds: Any) -> int | None:
    try:
        return len(ds)
    except TypeError:  # an IterableDataset has no length
        return None


# ----------------------------------------------------------------------------------------------------------
# load_data


def _resolve(
    source: Any, *, params: dict[str, Any], train: bool = True
) -> tuple[str, Tensors | Dataset | DataLoader, list[str] | None]:
    """(name, tensors | map-style dataset | loader, class names) for any accepted form of data."""
    if isinstance(source, str):
        entry = datasets.get(source)
        accepted = entry.params
        kwargs = {k: v for k, v in params.items() if v is not None or k not in ("n", "noise", "num_classes")}
        for k in ("seed", "root", "download", "num_classes"):  # passed only to factories that take them
            if k in kwargs and k not in accepted:
                kwargs.pop(k)
        if not train:
            if "train" not in accepted:
                raise ValueError(
                    f"val_data='test' needs a dataset with an official test split; {entry.name!r} has none"
                )
            kwargs["train"] = False
        out = datasets.make(entry.name, **kwargs)
        if isinstance(out, tuple):
            return entry.name, _as_tensors(*out), None
        base = out.dataset if isinstance(out, Subset) else out
        return entry.name, out, list(getattr(base, "classes", None) or []) or None
    if isinstance(source, DataLoader):
        return "loader", source, None
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError(f"data as a sequence must be an (X, y) pair, got {len(source)} items")
        return "tensors", _as_tensors(*source), None
    if isinstance(source, TensorDataset) and len(source.tensors) == 2:
        return "tensors", _as_tensors(*source.tensors), None
    if isinstance(source, Dataset) or (hasattr(source, "__getitem__") and hasattr(source, "__len__")):
        classes = getattr(source, "classes", None)
        return type(source).__name__, _as_map_dataset(source), list(classes) if classes else None
    raise ValueError(
        f"data must be a dataset name (one of {', '.join(datasets.names())}), an (X, y) pair, a map-style "
        f"Dataset or a DataLoader; got {type(source).__name__}"
    )


def _input_dtype(source: Any) -> Any:
    """The dtype of a user's inputs as given ((X, y), TensorDataset, Dataset example), or None."""
    try:
        if isinstance(source, (tuple, list)) and len(source) == 2:
            X = source[0]
        elif isinstance(source, TensorDataset):
            X = source.tensors[0]
        elif isinstance(source, Dataset) and not isinstance(source, IterableDataset) and len(source):
            X = source[0][0]
        else:
            return None
    except Exception:  # the dataset's own checks report what is wrong with it
        return None
    return getattr(X, "dtype", None)


def _float64_note(what: str) -> str:
    return (f"{what} inputs are float64: cast to float32 (the models' dtype) once at load; "
            "cast them yourself to silence this note")


def _loader_info(loader: DataLoader) -> tuple[tuple[int, ...], torch.Tensor | None, torch.dtype]:
    """(example shape, labels, dtype of the inputs) of a user's DataLoader, from its first batch."""
    ds = loader.dataset
    labels = None
    if not isinstance(ds, IterableDataset):
        try:
            labels = _labels_of(ds)
        except Exception:  # labels not cheaply reachable; fall back to one pass over the loader
            labels = None
    first = next(iter(loader))
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise ValueError(f"DataLoader batches must be (x, y) pairs, got {type(first).__name__}")
    shape = tuple(torch.as_tensor(first[0]).shape[1:])
    if labels is None:
        labels = torch.cat([_as_labels(torch.as_tensor(b[1]).reshape(-1)) for b in loader])
    return shape, labels, torch.as_tensor(first[0]).dtype


def load_data(
    data: Any = "spiral",
    val_data: Any = None,
    *,
    n: int | None = None,
    noise: float | None = None,
    val_split: float | None = 0.2,
    seed: int = 0,
    preprocess: str | Mapping[str, Any] | Preprocessor = "none",
    augment: bool | Mapping[str, Any] | Callable[..., torch.Tensor] = False,
    root: str | os.PathLike | None = None,
    download: bool = False,
    num_classes: int | None = None,
    **params: Any,
) -> Data:
    """Load a dataset, split it, fit preprocessing on the training split and apply it to both splits.

    data: a name from ``names()``, an ``(X, y)`` pair (tensors or numpy), a map-style ``Dataset`` or a
    ``DataLoader`` (used as-is: no split, no preprocessing). val_data: the same forms, or ``"test"`` for a
    named dataset's official test split; when None, a stratified ``val_split`` fraction of ``data`` is held
    out (deterministic by ``seed``; ``val_split=None`` for no validation set). ``n``/``noise``/``seed`` and
    ``**params`` go to the dataset factory; ``num_classes`` sets K for spiral/blobs, else checks the labels.
    preprocess: a name from ``preprocessors.names()``, ``{"name": "pca", "k": 2}`` or a Preprocessor (fitted
    ones are used as-is). augment: True, ``make_augment`` keyword arguments, or a callable.

    >>> d = load_data("digits", preprocess="normalize", augment=True); d.input_shape, d.augment is not None
    ((1, 8, 8), True)
    """
    if isinstance(data, Data):
        return data
    seed = _check_int("seed", seed, 0)
    if val_split is not None:
        val_split = _check_val_split(val_split)
    pre = None if preprocess is None else make_preprocessor(preprocess)
    if isinstance(pre, Identity) and not pre.fitted:
        pre = None
    if not isinstance(data, str):
        given = {k: v for k, v in dict(params, n=n, noise=noise).items() if v is not None}
        if given:
            raise ValueError(
                f"{', '.join(sorted(given))} only apply to named datasets ({', '.join(datasets.names())}); "
                f"got them with {type(data).__name__} data"
            )
    factory_params = dict(params, n=n, noise=noise, seed=seed, root=root, download=download, num_classes=num_classes)
    notes = [_float64_note(what) for what, src in (("the training", data), ("the validation", val_data))
             if str(_input_dtype(src)) in ("torch.float64", "float64")]
    name, train, classes = _resolve(data, params=factory_params)

    # --- a user DataLoader: its batches are used as they come
    loader: DataLoader | None = None
    if isinstance(train, DataLoader):
        loader = train
        if pre is not None:
            raise ValueError(
                f"preprocess={preprocess!r} cannot be applied to a DataLoader's batches; preprocess the data "
                f"yourself or pass the Dataset / (X, y) instead"
            )
        input_shape, labels, dtype = _loader_info(loader)
        if dtype == torch.float64:
            notes.append(_float64_note("the DataLoader's") + " (each batch, on its way to the device)")
        train = loader.dataset
        val = None
        if val_data is not None:
            val = _resolve_val(val_data, params=factory_params)[0]
        return _finish(name, train, val, labels, None, num_classes, input_shape, loader, None, augment, classes, notes)

    # --- validation split
    if val_data is not None:
        if isinstance(val_data, str) and val_data.lower() == "test":
            if not isinstance(data, str):
                raise ValueError("val_data='test' only works with a named dataset")
            val = _resolve(data, params=factory_params, train=False)[1]
            if isinstance(val, tuple):
                val = TensorDataset(*val)
        else:
            val, _ = _resolve_val(val_data, params=factory_params)
        if isinstance(train, tuple):
            train = TensorDataset(*train)
    elif val_split is not None:
        labels = train[1] if isinstance(train, tuple) else _labels_of(train)
        tr, va = stratified_split(labels, val_split, seed)
        if isinstance(train, tuple):
            X, y = train
            train, val = TensorDataset(X[tr], y[tr]), TensorDataset(X[va], y[va])
        else:
            train, val = Subset(train, tr.tolist()), Subset(train, va.tolist())
    else:
        val = None
        if isinstance(train, tuple):
            train = TensorDataset(*train)

    labels = _labels_of(train)
    val_labels = _labels_of(val) if val is not None else None
    input_shape = _example_shape(train)
    if val is not None and _example_shape(val) != input_shape:
        raise ValueError(f"val examples have shape {_example_shape(val)}, train examples {input_shape}")

    # --- preprocessing: fit on train only, apply to both
    if pre is not None:
        if not pre.fitted:
            if isinstance(train, TensorDataset):
                pre.fit(train.tensors[0])
            else:
                pre.fit(_moments_of_dataset(train, full=pre.needs_cov), input_shape=input_shape)
        train, val = _apply_pre(pre, train), _apply_pre(pre, val)
        input_shape = tuple(pre.output_shape)

    return _finish(name, train, val, labels, val_labels, num_classes, input_shape, None, pre, augment, classes, notes)


def _resolve_val(val_data: Any, *, params: dict[str, Any]) -> tuple[Dataset, str]:
    if isinstance(val_data, str):
        raise ValueError(f"val_data as a string must be 'test', got {val_data!r}")
    vname, val, _ = _resolve(val_data, params=params)
    if isinstance(val, DataLoader):
        val = val.dataset
    elif isinstance(val, tuple):
        val = TensorDataset(*val)
    return val, vname


def _apply_pre(pre: Preprocessor, ds: Dataset | None) -> Dataset | None:
    if ds is None:
        return None
    if isinstance(ds, TensorDataset):
        X, y = ds.tensors
        return TensorDataset(pre.transform(X), y)
    return _Wrapped(ds, _PerExample(pre))


class _PerExample:
    """A preprocessor applied to one example (picklable, so DataLoader workers can use it)."""

    def __init__(self, pre: Preprocessor):
        self.pre = pre

    def __call__(self, x: Any) -> torch.Tensor:
        return self.pre.transform(_to_tensor_example(x)[None])[0]


def _finish(
    name: str,
    train: Dataset,
    val: Dataset | None,
    labels: torch.Tensor,
    val_labels: torch.Tensor | None,
    num_classes: int | None,
    input_shape: tuple[int, ...],
    loader: DataLoader | None,
    pre: Preprocessor | None,
    augment: Any,
    classes: list[str] | None,
    notes: list[str] | None = None,
) -> Data:
    if isinstance(val, Dataset) and val_labels is None:
        val_labels = _labels_of(val)
    top = max(
        int(labels.max()) if len(labels) else 0,
        int(val_labels.max()) if val_labels is not None and len(val_labels) else 0,
    )
    inferred = max(top + 1, len(classes) if classes else 0)
    if num_classes is None:
        present = torch.unique(torch.cat([labels, val_labels]) if val_labels is not None else labels)
        msg = None if classes else rules.class_count(inferred, len(present), top)
        if msg:
            raise ValueError(msg)
        num_classes = inferred
    else:
        num_classes = _check_int("num_classes", num_classes, 1)
        if num_classes < top + 1:
            raise ValueError(f"num_classes={num_classes} is too small: labels go up to {top}")
    if augment is True or isinstance(augment, Mapping):
        opts = dict(augment) if isinstance(augment, Mapping) else {}
        opts.setdefault("dataset", name)
        aug = make_augment(input_shape, **opts)
    elif augment is False or augment is None:
        aug = None
    elif callable(augment):
        aug = augment
    else:
        raise ValueError(f"augment must be True/False, a dict of make_augment options or a callable, got {augment!r}")
    return Data(
        name=name,
        train=train,
        val=val,
        num_classes=num_classes,
        input_shape=tuple(input_shape),
        loader=loader,
        preprocessor=pre,
        augment=aug,
        classes=classes,
        notes=list(notes or []),
    )
