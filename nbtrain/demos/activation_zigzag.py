"""Why non-zero-centred activations make gradient descent zig-zag.

A unit computes ``y = w₁a₁ + w₂a₂`` from inputs ``a = f(h)`` produced by the previous layer's activation
``f``. For the squared error ``L = ½(y − t)²`` the gradient is ``∂L/∂wᵢ = (y − t)·aᵢ``: one shared
upstream factor times the input. If ``f`` is the sigmoid, every ``aᵢ > 0``, so both components always have
the sign of ``(y − t)``: a step moves both weights up or both down (quadrants I/III), and an optimum that
needs ``w₁`` to grow while ``w₂`` shrinks is reached only by zig-zagging. With tanh inputs (zero-centred)
the signs mix freely and the path heads straight for the optimum.

Batch size 1 (one sample per step) as in the lecture: averaging a batch would mix the signs.

>>> from nbtrain.demos import zigzag_data
>>> zigzag_data("sigmoid").same_sign_fraction
1.0
>>> zigzag_data("tanh").same_sign_fraction < 0.8
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from nbtrain.engine import activations

if TYPE_CHECKING:  # the views import ipywidgets/bqplot only when called
    from ._view import DemoView

from ..engine.checks import check_float, check_int, check_seed


@dataclass(frozen=True)
class ZigzagResult:
    """Numbers of one zig-zag run (all numpy arrays; ``steps_run`` ≤ the requested steps if it diverged).

    path: (steps_run + 1, 2) weights after each step, row 0 is the start.
    loss: (steps_run + 1,) full-data loss ½·mean((w·a − t)²) at each point of the path.
    grads: (steps_run, 2) the per-sample gradient used at each step.
    same_sign: (steps_run,) whether all gradient components shared one sign (zero gradients excluded).
    same_sign_fraction: mean of ``same_sign`` over the steps that still moved.
    steps_to_converge: first step with loss ≤ ``tol``·loss[0], or ``None``.
    optimum: (2,) the target weights; hessian: (2, 2) E[aaᵀ], so loss = ½(w − w*)ᵀH(w − w*).
    inputs: (n, 2) the activation outputs the unit sees.
    """

    activation: str
    lr: float
    path: np.ndarray
    loss: np.ndarray
    grads: np.ndarray
    same_sign: np.ndarray
    same_sign_fraction: float
    steps_to_converge: int | None
    diverged: bool
    optimum: np.ndarray
    hessian: np.ndarray
    inputs: np.ndarray

    @property
    def condition_number(self) -> float:
        """λ_max/λ_min of the loss Hessian: how elongated the contours are."""
        eig = np.linalg.eigvalsh(self.hessian)
        return float(eig[-1] / max(eig[0], 1e-300))


def zigzag_data(
    activation: str = "sigmoid",
    steps: int = 300,
    lr: float = 0.5,
    seed: int = 0,
    *,
    n: int = 64,
    start: tuple[float, float] = (0.0, 0.0),
    optimum: tuple[float, float] = (1.0, -1.0),
    input_std: float = 1.0,
    tol: float = 1e-3,
) -> ZigzagResult:
    """Train the two weights of one unit by SGD (batch size 1) on inputs from ``activation``.

    Inputs are ``a = f(h)`` with ``h ~ N(0, input_std²)`` (n samples, fixed by ``seed``) and ``f`` any
    name of ``nbtrain.engine.activations``; targets ``t = w*·a`` so the optimum ``w*`` is exact. Each step
    takes the next sample of a seeded shuffle and does ``w ← w − lr·(w·a − t)·a``.

    >>> r = zigzag_data("sigmoid", steps=50)
    >>> r.path.shape, bool(r.same_sign.all())
    ((51, 2), True)
    """
    activation = activations.registry.resolve(activation)
    steps = check_int("steps", steps, 1, 100_000)
    lr = check_float("lr", lr, 0.0, 10.0, lo_open=True)
    seed = check_seed(seed)
    n = check_int("n", n, 2, 100_000)
    input_std = check_float("input_std", input_std, 0.0, 100.0, lo_open=True)
    tol = check_float("tol", tol, 0.0, 1.0, lo_open=True)
    w_star = np.asarray(optimum, dtype=np.float64)
    w = np.asarray(start, dtype=np.float64).copy()
    if w_star.shape != (2,) or w.shape != (2,) or not (np.isfinite(w).all() and np.isfinite(w_star).all()):
        raise ValueError(f"start={start!r} and optimum={optimum!r} must each be two finite numbers")

    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(n, 2, generator=gen) * input_std
    with torch.no_grad():
        a = activations.make(activation)(h).double().numpy()
    t = a @ w_star
    hessian = a.T @ a / n

    def loss_at(v: np.ndarray) -> float:
        d = v - w_star
        return float(0.5 * d @ hessian @ d)

    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(n) for _ in range(steps // n + 1)])[:steps]
    path, losses, grads = [w.copy()], [loss_at(w)], []
    diverged = False
    for i in order:
        g = (w @ a[i] - t[i]) * a[i]
        w = w - lr * g
        grads.append(g)
        path.append(w.copy())
        losses.append(loss_at(w))
        if not np.isfinite(losses[-1]) or losses[-1] > 1e12 * max(losses[0], 1e-12):
            diverged = True
            break

    grads_a = np.array(grads).reshape(-1, 2)
    loss_a = np.array(losses)
    # A step "moved" if its gradient is not (numerically) zero; zero has no sign.
    scale = max(float(np.abs(grads_a).max(initial=0.0)), 1e-300)
    moving = np.abs(grads_a).max(axis=1) > 1e-9 * scale
    same = (np.all(grads_a >= 0, axis=1) | np.all(grads_a <= 0, axis=1)) & moving
    fraction = float(same[moving].mean()) if moving.any() else 1.0
    hit = np.flatnonzero(loss_a <= tol * loss_a[0])
    return ZigzagResult(
        activation=activation,
        lr=lr,
        path=np.array(path),
        loss=loss_a,
        grads=grads_a,
        same_sign=same,
        same_sign_fraction=fraction,
        steps_to_converge=int(hit[0]) if hit.size and not diverged else None,
        diverged=diverged,
        optimum=w_star,
        hessian=hessian,
        inputs=a,
    )


def contour_ellipses(
    hessian: np.ndarray, centre: np.ndarray, levels: np.ndarray, points: int = 97
) -> tuple[np.ndarray, np.ndarray]:
    """x, y arrays (len(levels), points) of the loss contours ½dᵀHd = level around ``centre``.

    A quadratic loss has elliptical contours, so they are drawn exactly (no grid, no marching squares).

    >>> x, y = contour_ellipses(np.eye(2), np.zeros(2), np.array([0.5]), points=5)
    >>> round(float(x[0, 0]), 6), round(float(y[0, 0]), 6)
    (1.0, 0.0)
    """
    eig, vec = np.linalg.eigh(hessian)
    eig = np.maximum(eig, 1e-12)
    theta = np.linspace(0.0, 2 * np.pi, points)
    circle = np.stack([np.cos(theta), np.sin(theta)])  # (2, points)
    xs, ys = [], []
    for level in levels:
        d = vec @ (np.sqrt(2 * level / eig)[:, None] * circle)
        xs.append(centre[0] + d[0])
        ys.append(centre[1] + d[1])
    return np.array(xs), np.array(ys)


def zigzag(left: str = "sigmoid", right: str = "tanh", steps: int = 300, lr: float = 0.5, seed: int = 0) -> DemoView:
    """Side-by-side SGD paths of a unit fed by two activations, over the loss contours.

    Red dots are steps whose gradient components all share one sign; the shaded quadrants (around the
    start) are the only directions such a step can take. Below: the loss per step (log scale).

    >>> view = zigzag()                      # doctest: +SKIP
    >>> view.controls["lr"].value = 0.2      # doctest: +SKIP
    """
    import bqplot as bq

    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    names = activations.pointwise_names()
    controls = {
        "left": V.dropdown("left inputs", names, activations.registry.resolve(left)),
        "right": V.dropdown("right inputs", names, activations.registry.resolve(right)),
        "lr": V.slider("learning rate", lr, 0.01, 2.0, 0.01),
        "steps": V.int_slider("steps", steps, 10, 1000, 10),
        "seed": V.int_slider("seed", seed, 0, 20),
    }
    marks: dict[str, bq.Mark] = {}
    figures = []
    sx, sy = bq.LinearScale(), bq.LinearScale()  # the weight-plane window is set in draw()
    for side in ("left", "right"):
        shade = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, fill="inside", colors=[style.SHADE, style.SHADE],
                         fill_colors=[style.SHADE, style.SHADE], fill_opacities=[0.5, 0.5], stroke_width=0)
        contours = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.CONTOUR], stroke_width=1)
        path = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.CURVE], stroke_width=1.5)
        same = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.SAME_SIGN], default_size=18,
                          labels=["all signs equal"], display_legend=True)
        mixed = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.MIXED_SIGN], default_size=18,
                           labels=["mixed signs"], display_legend=True)
        goal = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sy}, marker="cross", colors=["#000000"],
                          default_size=120, labels=["optimum w*"], display_legend=True)
        fig = D.figure([shade, contours, path, same, mixed, goal],
                       [D.axis(sx, "w₁"), D.axis(sy, "w₂", vertical=True)], height="400px")
        fig.legend_location = "bottom-left"
        marks.update({f"{side}_shade": shade, f"{side}_contours": contours, f"{side}_path": path,
                      f"{side}_same": same, f"{side}_mixed": mixed, f"{side}_goal": goal})
        figures.append(fig)
    ls_x, ls_y = bq.LinearScale(), bq.LogScale()
    loss_lines = bq.Lines(x=[], y=[], scales={"x": ls_x, "y": ls_y}, colors=["#000", "#000"],
                          stroke_width=2.5, display_legend=True, labels=["left", "right"])
    loss_axis = D.axis(ls_y, "loss (full data)", vertical=True, tick_format=".0e")
    loss_fig = D.figure([loss_lines], [D.axis(ls_x, "step (one sample each)"), loss_axis],
                        "Loss per step", width="100%", height="260px")
    marks["loss"] = loss_lines
    figures.append(loss_fig)

    def compute() -> tuple[ZigzagResult, ZigzagResult]:
        kw = dict(steps=controls["steps"].value, lr=controls["lr"].value, seed=controls["seed"].value)
        return zigzag_data(controls["left"].value, **kw), zigzag_data(controls["right"].value, **kw)

    def draw(results: tuple[ZigzagResult, ZigzagResult]) -> str:
        first = results[0]
        start, goal = first.path[0], first.optimum
        span = max(float(np.abs(goal - start).max()), 1e-3)
        lo_x, hi_x = min(start[0], goal[0]) - 0.6 * span, max(start[0], goal[0]) + 0.6 * span
        lo_y, hi_y = min(start[1], goal[1]) - 0.6 * span, max(start[1], goal[1]) + 0.6 * span
        sx.min, sx.max, sy.min, sy.max = lo_x, hi_x, lo_y, hi_y
        # Quadrants I and III around the start: where a step lands when both components share a sign.
        big = 10 * span
        quad_x = [[start[0], start[0] + big, start[0] + big, start[0]], [start[0], start[0] - big, start[0] - big, start[0]]]
        quad_y = [[start[1], start[1], start[1] + big, start[1] + big], [start[1], start[1], start[1] - big, start[1] - big]]
        summary = []
        for side, r, fig in zip(("left", "right"), results, figures):
            levels = r.loss[0] * np.array([0.02, 0.1, 0.3, 0.6, 1.0, 1.5])
            cx, cy = contour_ellipses(r.hessian, r.optimum, levels)
            marks[f"{side}_shade"].x, marks[f"{side}_shade"].y = quad_x, quad_y
            marks[f"{side}_contours"].x, marks[f"{side}_contours"].y = cx, cy
            colour = style.activation_colour(r.activation)
            marks[f"{side}_path"].colors = [colour]
            marks[f"{side}_path"].x, marks[f"{side}_path"].y = r.path[:, 0], r.path[:, 1]
            after = r.path[1:]
            marks[f"{side}_same"].x, marks[f"{side}_same"].y = after[r.same_sign, 0], after[r.same_sign, 1]
            marks[f"{side}_mixed"].x, marks[f"{side}_mixed"].y = after[~r.same_sign, 0], after[~r.same_sign, 1]
            marks[f"{side}_goal"].x, marks[f"{side}_goal"].y = [r.optimum[0]], [r.optimum[1]]
            conv = "diverged" if r.diverged else (
                f"converged in {r.steps_to_converge} steps" if r.steps_to_converge is not None else "not converged")
            short = "diverged" if r.diverged else (
                f"{r.steps_to_converge} steps" if r.steps_to_converge is not None else "no convergence")
            fig.title = f"{r.activation}: {r.same_sign_fraction:.0%} same-sign, {short}"  # (all of it below)
            summary.append(f"<b>{r.activation}</b>: same-sign {r.same_sign_fraction:.2f}, {conv}, "
                           f"Hessian condition number {r.condition_number:.1f}")
        longest = max(len(r.loss) for r in results)
        ys = [np.pad(np.maximum(r.loss, 1e-8 * r.loss[0] + 1e-30), (0, longest - len(r.loss)), constant_values=np.nan) for r in results]
        loss_lines.x = np.arange(longest)
        loss_lines.y = np.array(ys)
        style.set_log_ticks(loss_axis, *ys)
        loss_lines.colors = [style.activation_colour(r.activation) for r in results]
        loss_lines.labels = [f"{r.activation} inputs" for r in results]
        return " · ".join(summary)

    return V.DemoView(controls, figures, marks, compute, draw, rows=[["left", "right", "lr"], ["steps", "seed"]],
                      figure_rows=[figures[:2], figures[2:]],
                      intro="Shaded: the quadrants a step can point into when every input is positive. "
                            "Red dots: steps whose gradient components all share one sign.")
