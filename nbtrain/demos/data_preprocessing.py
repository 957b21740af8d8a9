"""Data preprocessing, stage by stage: raw → zero-centred → normalized → PCA-decorrelated → whitened.

Every stage is a fitted preprocessor of ``nbtrain.engine.data.preprocessors`` applied to the same raw
cloud. Next to each stage's covariance we measure what it does to learning: a unit with two weights
fitting ``t = w*·z`` has the loss ½(w − w*)ᵀH(w − w*) with H = E[zzᵀ], and full-batch gradient descent
needs about κ(H) = λ_max/λ_min times more steps the more elongated the contours. Data far from the origin
adds μμᵀ to H: a huge κ, so plain gradient descent zig-zags exactly as with sigmoid inputs.

>>> from nbtrain.demos import preprocessing_data
>>> r = preprocessing_data()
>>> [s.name for s in r.stages]
['raw', 'center', 'normalize', 'pca', 'whiten']
>>> bool(abs(r.stage("whiten").cov - np.eye(2)).max() < 1e-3)
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from nbtrain.engine import data

if TYPE_CHECKING:  # the views import ipywidgets/bqplot only when called
    from ._view import DemoView

from ..engine.checks import check_float, check_int, check_seed

STAGES = ("raw", "center", "normalize", "pca", "whiten")
STAGE_TITLES = {"raw": "raw", "center": "zero-centred", "normalize": "normalized", "pca": "PCA-rotated",
                "whiten": "whitened"}


@dataclass(frozen=True)
class Stage:
    """One preprocessing stage of the cloud.

    points: (n, 2); mean: (2,); cov: (2, 2) population covariance; hessian: (2, 2) E[zzᵀ] (includes the
    mean); condition_number: κ(hessian); path / loss: gradient descent from w = 0 at lr = 1/λ_max;
    steps_to_converge: first step with loss ≤ tol·loss[0] (None if not within ``max_steps``).
    """

    name: str
    points: np.ndarray
    mean: np.ndarray
    cov: np.ndarray
    hessian: np.ndarray
    condition_number: float
    path: np.ndarray
    loss: np.ndarray
    steps_to_converge: int | None


@dataclass(frozen=True)
class PreprocessingResult:
    """The five stages in order; ``stage(name)`` picks one. ``optimum`` is w* of the two-weight unit."""

    stages: tuple[Stage, ...]
    optimum: np.ndarray

    def stage(self, name: str) -> Stage:
        for s in self.stages:
            if s.name == name:
                return s
        raise ValueError(f"stage={name!r} is not one of: {', '.join(STAGES)}")


def preprocessing_data(
    n: int = 400,
    mean: tuple[float, float] = (6.0, 4.0),
    stds: tuple[float, float] = (3.0, 0.6),
    angle: float = 30.0,
    seed: int = 0,
    *,
    optimum: tuple[float, float] = (1.0, -1.0),
    max_steps: int = 2000,
    tol: float = 1e-4,
) -> PreprocessingResult:
    """A correlated, off-centre Gaussian cloud (std ``stds`` along axes rotated by ``angle`` degrees,
    centred at ``mean``) and its five preprocessing stages with covariance and loss conditioning.

    >>> r = preprocessing_data(n=200, mean=(0.0, 0.0), stds=(1.0, 1.0))
    >>> round(r.stage("raw").condition_number) < 3
    True
    """
    n = check_int("n", n, 3, 1_000_000)
    seed = check_seed(seed)
    angle = check_float("angle", angle, -360.0, 360.0)
    max_steps = check_int("max_steps", max_steps, 1, 1_000_000)
    tol = check_float("tol", tol, 0.0, 1.0, lo_open=True)
    mu = np.asarray(mean, dtype=np.float64)
    sd = np.asarray(stds, dtype=np.float64)
    w_star = np.asarray(optimum, dtype=np.float64)
    if mu.shape != (2,) or not np.isfinite(mu).all() or np.abs(mu).max() > 1e4:
        raise ValueError(f"mean={mean!r} must be two finite numbers in [-1e4, 1e4]")
    if sd.shape != (2,) or not (np.isfinite(sd).all() and (sd > 0).all() and sd.max() <= 1e4):
        raise ValueError(f"stds={stds!r} must be two numbers in (0, 1e4]")
    if w_star.shape != (2,) or not np.isfinite(w_star).all() or not w_star.any():
        raise ValueError(f"optimum={optimum!r} must be two finite numbers, not both 0")

    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(n, 2, generator=gen, dtype=torch.float64).numpy()
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    raw = (g * sd) @ rot.T + mu
    x = torch.as_tensor(raw, dtype=torch.float32)

    stages = []
    for name in STAGES:
        z = raw if name == "raw" else data.preprocessors.make(name).fit(x).transform(x).double().numpy()
        stages.append(_stage(name, z, w_star, max_steps, tol))
    return PreprocessingResult(stages=tuple(stages), optimum=w_star)


def _stage(name: str, z: np.ndarray, w_star: np.ndarray, max_steps: int, tol: float) -> Stage:
    m = z.mean(axis=0)
    cov = (z - m).T @ (z - m) / len(z)
    hessian = z.T @ z / len(z)
    eig = np.linalg.eigvalsh(hessian)
    kappa = float(eig[-1] / max(eig[0], 1e-300))
    lr = 1.0 / eig[-1]
    w = np.zeros(2)
    path, loss = [w.copy()], [0.5 * (w - w_star) @ hessian @ (w - w_star)]
    hit = None
    for step in range(1, max_steps + 1):
        w = w - lr * hessian @ (w - w_star)  # full-batch gradient of ½(w − w*)ᵀH(w − w*)
        path.append(w.copy())
        loss.append(0.5 * (w - w_star) @ hessian @ (w - w_star))
        if loss[-1] <= tol * loss[0]:
            hit = step
            break
    return Stage(name=name, points=z, mean=m, cov=cov, hessian=hessian, condition_number=kappa,
                 path=np.array(path), loss=np.array(loss), steps_to_converge=hit)


def preprocessing(n: int = 400, mean: tuple[float, float] = (6.0, 4.0), stds: tuple[float, float] = (3.0, 0.6),
                  angle: float = 30.0, seed: int = 0) -> DemoView:
    """Interactive view: the cloud at each stage with its covariance, and gradient descent on the loss
    surface of the chosen stage (contours and path) next to the raw data's.

    >>> view = preprocessing()                 # doctest: +SKIP
    >>> view.controls["offset"].value = 0.0    # data already centred: κ drops  # doctest: +SKIP
    """
    import bqplot as bq
    import ipywidgets as widgets

    from nbtrain.ui import style

    from . import _view as V
    from .activation_zigzag import contour_ellipses

    D = style.DEMO  # the demos' sizes

    mu = np.asarray(mean, dtype=float)
    offset0 = float(np.hypot(*mu))
    direction = math.degrees(math.atan2(mu[1], mu[0])) if offset0 else 45.0
    controls = {
        "offset": V.slider("distance of the mean from 0", offset0, 0.0, 20.0, 0.5),
        "angle": V.slider("tilt (degrees)", float(angle), -90.0, 90.0, 5.0),
        "stretch": V.slider("std ratio", float(stds[0] / stds[1]), 1.0, 20.0, 0.5),
        "stage": V.dropdown("loss surface of", list(STAGES[1:]), "whiten"),
        "seed": V.int_slider("seed", seed, 0, 20),
    }
    texts, figures, marks = [], [], {}
    for i, name in enumerate(STAGES):
        sx, sy = bq.LinearScale(), bq.LinearScale()
        dots = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.RUNS[i]], default_size=8,
                          opacities=[0.5])
        origin = bq.Scatter(x=[0.0], y=[0.0], scales={"x": sx, "y": sy}, marker="cross", colors=["#000000"],
                            default_size=80)
        fig = D.figure([dots, origin], [D.axis(sx, "x₁", num_ticks=5), D.axis(sy, "x₂", vertical=True, num_ticks=5)],
                       STAGE_TITLES[name], width="100%", height="260px",
                       margin={"top": 40, "bottom": 45, "left": 50, "right": 10})
        marks[f"{name}_points"] = dots
        figures.append(fig)
        texts.append(widgets.HTML(layout=widgets.Layout(width="100%", overflow="hidden")))
    cx, cy = bq.LinearScale(), bq.LinearScale()
    surf = {}
    for side in ("raw", "chosen"):
        contours = bq.Lines(x=[], y=[], scales={"x": cx, "y": cy}, colors=[style.CONTOUR], stroke_width=1)
        path = bq.Lines(x=[], y=[], scales={"x": cx, "y": cy}, marker="circle", marker_size=12, stroke_width=2)
        surf[side] = (contours, path)
        marks[f"{side}_contours"], marks[f"{side}_path"] = contours, path
    goal = bq.Scatter(x=[], y=[], scales={"x": cx, "y": cy}, marker="cross", colors=["#000000"], default_size=120)
    marks["optimum"] = goal
    raw_fig = D.figure([surf["raw"][0], surf["raw"][1], goal], [D.axis(cx, "w₁"), D.axis(cy, "w₂", vertical=True)],
                       height="330px")
    cx2, cy2 = bq.LinearScale(), bq.LinearScale()
    for mark in surf["chosen"]:
        mark.scales = {"x": cx2, "y": cy2}
    goal2 = bq.Scatter(x=[], y=[], scales={"x": cx2, "y": cy2}, marker="cross", colors=["#000000"], default_size=120)
    marks["optimum_chosen"] = goal2
    chosen_fig = D.figure([surf["chosen"][0], surf["chosen"][1], goal2],
                          [D.axis(cx2, "w₁"), D.axis(cy2, "w₂", vertical=True)], height="330px")
    figures += [raw_fig, chosen_fig]

    def compute() -> PreprocessingResult:
        d = math.radians(direction)
        r = controls["offset"].value
        ratio = controls["stretch"].value
        return preprocessing_data(n=n, mean=(r * math.cos(d), r * math.sin(d)),
                                  stds=(stds[1] * ratio, stds[1]), angle=controls["angle"].value,
                                  seed=controls["seed"].value)

    def draw(res: PreprocessingResult) -> str:
        for stage, fig, text in zip(res.stages, figures, texts):
            pts = stage.points
            centre = pts.mean(axis=0) if stage.name == "raw" else np.zeros(2)
            half = float(np.abs(pts - centre).max()) * 1.05
            if stage.name == "raw":  # keep the origin in view: the offset is the point
                lo = np.minimum(pts.min(axis=0), 0.0)
                hi = np.maximum(pts.max(axis=0), 0.0)
                centre, half = (lo + hi) / 2, float((hi - lo).max()) / 2 * 1.05
            sx, sy = fig.marks[0].scales["x"], fig.marks[0].scales["y"]
            sx.min, sx.max = float(centre[0] - half), float(centre[0] + half)
            sy.min, sy.max = float(centre[1] - half), float(centre[1] + half)
            fig.marks[0].x, fig.marks[0].y = pts[:, 0], pts[:, 1]
            c = stage.cov
            text.value = (f"<div style='font-size:15px; text-align:center; line-height:1.3'>"
                          f"cov = [{c[0, 0]:.2f}, {c[0, 1]:.2f};<br>{c[1, 0]:.2f}, {c[1, 1]:.2f}]<br>"
                          f"κ(E[zzᵀ]) = {stage.condition_number:.3g}</div>")
        chosen = res.stage(controls["stage"].value)
        for side, stage, fig, (sx, sy), goal_mark in (
            ("raw", res.stage("raw"), raw_fig, (cx, cy), goal),
            ("chosen", chosen, chosen_fig, (cx2, cy2), goal2),
        ):
            contours, path = surf[side]
            levels = stage.loss[0] * np.array([0.01, 0.05, 0.2, 0.5, 1.0])
            ex, ey = contour_ellipses(stage.hessian, res.optimum, levels)
            shown = stage.path[:200]
            allx = np.concatenate([ex.ravel(), shown[:, 0]])
            ally = np.concatenate([ey.ravel(), shown[:, 1]])
            mid = np.array([(allx.min() + allx.max()) / 2, (ally.min() + ally.max()) / 2])
            half = max(allx.max() - allx.min(), ally.max() - ally.min()) / 2 * 1.05
            sx.min, sx.max, sy.min, sy.max = mid[0] - half, mid[0] + half, mid[1] - half, mid[1] + half
            contours.x, contours.y = ex, ey
            colour = style.RUNS[STAGES.index(stage.name)]
            path.colors = [colour]
            path.x, path.y = shown[:, 0], shown[:, 1]
            goal_mark.x, goal_mark.y = [res.optimum[0]], [res.optimum[1]]
            steps = (f"{stage.steps_to_converge} step" + ("s" if stage.steps_to_converge > 1 else "")) if stage.steps_to_converge else f"> {len(stage.loss) - 1} steps"
            fig.title = f"GD on {STAGE_TITLES[stage.name]} inputs: κ = {stage.condition_number:.3g}, {steps}"
        return ("Contours: loss ½(w − w*)ᵀE[zzᵀ](w − w*) of a two-weight unit; gradient descent from 0 at "
                "lr = 1/λ_max (first 200 steps shown).")

    view = V.DemoView(controls, figures, marks, compute, draw,
                      rows=[["offset", "angle", "stretch"], ["stage", "seed"]],
                      figure_rows=[[widgets.VBox([f, t], layout=widgets.Layout(width="19.6%", overflow="hidden"))
                                    for f, t in zip(figures[:5], texts)],
                                   [raw_fig, chosen_fig]])
    view.texts = texts
    return view
