"""Preprocessing, fitted on the training split only and then applied to every split: the registry
``preprocessors`` (none, center, normalize, pca, whiten, zca), their base class and :class:`Moments`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..checks import check_int_at_least, check_nonneg
from ..registry import Registry

preprocessors = Registry("preprocessing")


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
            check_int_at_least("k (number of principal components)", k, 1)
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
        self.eps = check_nonneg("eps", eps)

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
