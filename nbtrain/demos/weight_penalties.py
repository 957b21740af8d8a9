"""L1 vs L2: subtractive vs multiplicative shrinking, sparse vs diffuse weights.

The lecture notes write the two updates side by side (η = learning rate, λ = strength):

* L2: w ← w − η(∂C₀/∂w + λw) = (1 − ηλ)·w − η∂C₀/∂w — every weight is *multiplied* by 1 − ηλ ("weight decay");
* L1: w ← w − η·λ·sign(w) − η∂C₀/∂w — a constant amount ηλ is *subtracted*, so weights the data does not
  need reach exactly 0 (nbtrain takes this step as the proximal soft-threshold, which lands on 0 instead of
  jumping across it).

``l1_l2_data`` fits a linear regression with 20 inputs of which only 3 matter, full batch, once with each
penalty, and records every weight at every step. The tests check the end points against scikit-learn's
Lasso and Ridge.

>>> r = l1_l2_data(steps=300)
>>> r.zeros["l1"] > 10, r.zeros["l2"]
(True, 0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nbtrain.engine import regularizers

from ..engine.checks import check_float, check_int, check_seed

INFORMATIVE = (2.0, -1.5, 1.0)  # the true weights of the 3 inputs that matter; the other 17 are 0


@dataclass(frozen=True)
class L1L2Result:
    lam: float
    lr: float
    true_w: np.ndarray  # (d,)
    paths: dict[str, np.ndarray]  # "l1"/"l2" -> (steps + 1, d) weights per step
    shrink: dict[str, np.ndarray]  # one weight with no data gradient, from 1.0: L1 linear, L2 geometric
    X: np.ndarray
    y: np.ndarray

    @property
    def final(self) -> dict[str, np.ndarray]:
        return {k: v[-1] for k, v in self.paths.items()}

    @property
    def zeros(self) -> dict[str, int]:
        """Weights that are exactly 0 at the end."""
        return {k: int((v[-1] == 0).sum()) for k, v in self.paths.items()}


def problem(n: int = 200, d: int = 20, noise: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (n, d) standard normal, w* with 3 non-zeros, y = X w* + noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = np.zeros(d)
    w[: len(INFORMATIVE)] = INFORMATIVE
    return X, X @ w + noise * rng.standard_normal(n), w


def l1_l2_data(lam: float = 0.1, lr: float = 0.1, steps: int = 500, seed: int = 0) -> L1L2Result:
    """Gradient steps on C₀ = (1/2n)‖Xw − y‖², with λ‖w‖₁ (proximal) and with (λ/2)‖w‖² (weight decay)."""
    lam = check_float("lam", lam, 0.0, 10.0)
    lr = check_float("lr", lr, 0.0, 1.0, lo_open=True)
    steps = check_int("steps", steps, 1, 20_000)
    X, y, w_true = problem(seed=check_seed(seed))
    Xt, yt = torch.tensor(X), torch.tensor(y)
    n = len(y)
    paths = {}
    for kind in ("l1", "l2"):
        w = torch.zeros(X.shape[1], dtype=torch.float64)
        out = [w.clone()]
        for _ in range(steps):
            grad = Xt.T @ (Xt @ w - yt) / n
            if kind == "l2":
                w = (1 - lr * lam) * w - lr * grad
            else:
                w = w - lr * grad
                regularizers.soft_threshold_([w], lr * lam)
            out.append(w.clone())
        paths[kind] = torch.stack(out).numpy()
    t = np.arange(steps + 1)
    shrink = {"l1": np.maximum(1.0 - lr * lam * t, 0.0), "l2": (1.0 - lr * lam) ** t}
    return L1L2Result(lam, lr, w_true, paths, shrink, X, y)


def l1_l2(lam: float = 0.1, steps: int = 500):
    """Left: every weight's path under L1 and L2 (the 3 informative ones coloured). Right: one unused weight."""
    import bqplot as bq

    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    controls = {"lam": V.slider("λ", lam, 0.001, 1.0, 0.05, log=True),
                "steps": V.int_slider("steps", steps, 50, 2000, 50)}
    figures, marks = [], {}
    for kind, title in (("l1", "L1: subtract ηλ → exact zeros"), ("l2", "L2: multiply by 1 − ηλ")):
        sx, sy = bq.LinearScale(), bq.LinearScale()
        lines = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, stroke_width=1.5)
        figures.append(D.figure([lines], [D.axis(sx, "step"), D.axis(sy, "weight", vertical=True)], title,
                                width="33%"))
        marks[f"{kind}_paths"] = lines
    sx, sy = bq.LinearScale(), bq.LinearScale(min=0.0, max=1.0)
    sh = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.RUNS[1], style.RUNS[0]], stroke_width=2,
                  labels=["L1", "L2"], display_legend=True)
    figures.append(D.figure([sh], [D.axis(sx, "step"), D.axis(sy, "an unused weight", vertical=True)],
                            "no data gradient: the shrinking alone", width="33%"))
    marks["shrink"] = sh

    def compute() -> L1L2Result:
        return l1_l2_data(float(controls["lam"].value), steps=int(controls["steps"].value))

    def draw(r: L1L2Result) -> str:
        d = r.true_w.size
        colours = [style.RUNS[i + 1] if r.true_w[i] else style.CONTOUR for i in range(d)]
        for kind in ("l1", "l2"):
            p = r.paths[kind]
            m = marks[f"{kind}_paths"]
            m.x, m.y, m.colors = np.arange(len(p)), p.T, colours
        t = np.arange(len(r.shrink["l1"]))
        marks["shrink"].x, marks["shrink"].y = t, np.stack([r.shrink["l1"], r.shrink["l2"]])
        z = r.zeros
        return (f"exact zeros among {d} weights (17 unused): L1 {z['l1']}, L2 {z['l2']}; "
                f"largest unused weight: L1 {np.abs(r.final['l1'][3:]).max():.3g}, L2 {np.abs(r.final['l2'][3:]).max():.3g}")

    return V.DemoView(controls, figures, marks, compute, draw)
