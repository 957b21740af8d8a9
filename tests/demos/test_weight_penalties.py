"""L1 vs L2 demo: its end points are scikit-learn's Lasso and Ridge solutions; the shrink curves the formulas."""

import numpy as np
import pytest
from sklearn.linear_model import Lasso, Ridge

from nbtrain.demos import weight_penalties as LL


def test_l1_path_ends_at_the_lasso_solution_and_l2_at_ridge():
    lam = 0.1
    r = LL.l1_l2_data(lam=lam, lr=0.2, steps=3000)
    n = len(r.y)
    # sklearn Lasso minimises (1/2n)‖y − Xw‖² + α‖w‖₁: α = λ
    lasso = Lasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100_000).fit(r.X, r.y)
    assert np.allclose(r.final["l1"], lasso.coef_, atol=1e-6)
    assert r.zeros["l1"] == int((lasso.coef_ == 0).sum()) >= 15
    # sklearn Ridge minimises ‖y − Xw‖² + α‖w‖²; ours is (1/2n)‖·‖² + (λ/2)‖w‖²: α = nλ
    ridge = Ridge(alpha=n * lam, fit_intercept=False, tol=1e-12).fit(r.X, r.y)
    assert np.allclose(r.final["l2"], ridge.coef_, atol=1e-6)
    assert r.zeros["l2"] == 0


def test_shrink_curves_are_subtractive_and_multiplicative():
    r = LL.l1_l2_data(lam=0.5, lr=0.1, steps=30)
    t = np.arange(31)
    assert np.allclose(np.diff(r.shrink["l1"][:20]), -0.05)  # minus ηλ every step, until 0
    assert r.shrink["l1"][-1] == 0.0
    assert np.allclose(r.shrink["l2"][1:] / r.shrink["l2"][:-1], 0.95)  # × (1 − ηλ) every step
    assert np.allclose(r.shrink["l2"], 0.95**t)


def test_one_step_is_the_notes_update():
    r = LL.l1_l2_data(lam=0.3, lr=0.1, steps=2)
    X, y, n = r.X, r.y, len(r.y)
    w1 = r.paths["l2"][1]
    w2 = (1 - 0.1 * 0.3) * w1 - 0.1 * X.T @ (X @ w1 - y) / n
    assert np.allclose(r.paths["l2"][2], w2)
    v1 = r.paths["l1"][1]
    z = v1 - 0.1 * X.T @ (X @ v1 - y) / n
    assert np.allclose(r.paths["l1"][2], np.sign(z) * np.maximum(np.abs(z) - 0.03, 0))


def test_bad_arguments():
    with pytest.raises(ValueError, match="lr=0 must be a number in"):
        LL.l1_l2_data(lr=0)
