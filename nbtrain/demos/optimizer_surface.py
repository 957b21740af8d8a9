"""Optimizers side by side: SGD, momentum, Nesterov, Adagrad, RMSprop, AdaDelta and Adam on one 2-D loss.

The loss is a quadratic ravine f(w) = ½ (w − w*)ᵀ H (w − w*): curvature 20× larger across the valley than
along it (``"ravine"``, axis-aligned) or the same valley turned by 30° (``"rotated"``). Every update rule is
written out below in numpy, one line per formula of the lecture notes; the tests check each path against
``torch.optim`` step by step.

>>> r = optimizer_paths_data("ravine", steps=50)
>>> sorted(r.paths) == sorted(OPTIMIZERS)
True
>>> bool(r.paths["sgd"].loss[-1] < r.paths["sgd"].loss[0])
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activation_zigzag import contour_ellipses

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam")
SURFACES = ("ravine", "rotated")
#: learning rates that make each method do its best-known thing on these surfaces (override with ``lr=``)
DEFAULT_LR = {"sgd": 0.9, "momentum": 0.1, "nesterov": 0.1, "adagrad": 1.0, "rmsprop": 0.1, "adadelta": 1.0,
              "adam": 0.3}
#: the hyper-parameters used (torch's defaults, momentum 0.9 as in nbtrain's registry)
HYPER = {"momentum": 0.9, "adagrad_eps": 1e-10, "rmsprop_alpha": 0.99, "rmsprop_eps": 1e-8, "adadelta_rho": 0.9,
         "adadelta_eps": 1e-6, "adam_betas": (0.9, 0.999), "adam_eps": 1e-8}
START = np.array([-8.0, 2.0])


@dataclass
class OptimizerPath:
    name: str
    lr: float
    w: np.ndarray  # (steps + 1, 2): the start and every iterate
    loss: np.ndarray  # (steps + 1,)

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])

    def steps_to(self, tol: float) -> int | None:
        """First step whose loss is ≤ ``tol`` (None if never)."""
        hit = np.nonzero(self.loss <= tol)[0]
        return int(hit[0]) if hit.size else None


@dataclass
class OptimizerPathsResult:
    surface: str
    hessian: np.ndarray
    optimum: np.ndarray
    paths: dict[str, OptimizerPath]

    def loss(self, w: np.ndarray) -> np.ndarray:
        d = np.asarray(w, dtype=float) - self.optimum
        return 0.5 * np.einsum("...i,ij,...j->...", d, self.hessian, d)

    def contours(self, levels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """x, y arrays of the loss contours (exact ellipses)."""
        if levels is None:
            levels = float(self.loss(START)) * np.array([0.01, 0.05, 0.15, 0.35, 0.7, 1.2])
        return contour_ellipses(self.hessian, self.optimum, levels)


def surface(name: str = "ravine") -> tuple[np.ndarray, np.ndarray]:
    """(H, w*) of a named quadratic surface."""
    if name not in SURFACES:
        raise ValueError(f"surface={name!r} must be one of {', '.join(SURFACES)}")
    h = np.diag([0.1, 2.0])
    if name == "rotated":
        a = np.pi / 6
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        h = rot @ h @ rot.T
    return h, np.zeros(2)


def run_path(name: str, grad, w0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    """Iterates of optimizer ``name`` from ``w0``: the update rules, written out (torch.optim's conventions)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer={name!r} must be one of {', '.join(OPTIMIZERS)}")
    if not (isinstance(lr, (int, float)) and 0 < lr <= 10):
        raise ValueError(f"lr={lr!r} must be a number in (0, 10]")
    w = np.array(w0, dtype=float)
    out = [w.copy()]
    v = np.zeros_like(w)  # momentum buffer / Adam's m
    s = np.zeros_like(w)  # accumulated or averaged squared gradients
    u = np.zeros_like(w)  # AdaDelta's average squared update
    mu = HYPER["momentum"]
    for t in range(1, steps + 1):
        g = grad(w)
        if name == "sgd":  # w ← w − η g
            w = w - lr * g
        elif name in ("momentum", "nesterov"):  # v ← μ v + g (v = g at the first step)
            v = g.copy() if t == 1 else mu * v + g
            w = w - lr * (g + mu * v if name == "nesterov" else v)  # Nesterov: the look-ahead g + μ v
        elif name == "adagrad":  # G ← G + g²; w ← w − η g / (√G + ε)
            s = s + g * g
            w = w - lr * g / (np.sqrt(s) + HYPER["adagrad_eps"])
        elif name == "rmsprop":  # s ← α s + (1 − α) g²; w ← w − η g / (√s + ε)
            a = HYPER["rmsprop_alpha"]
            s = a * s + (1 - a) * g * g
            w = w - lr * g / (np.sqrt(s) + HYPER["rmsprop_eps"])
        elif name == "adadelta":  # Δ = √(u + ε)/√(s + ε)·g; u ← ρ u + (1 − ρ) Δ²; w ← w − η Δ
            rho, eps = HYPER["adadelta_rho"], HYPER["adadelta_eps"]
            s = rho * s + (1 - rho) * g * g
            delta = np.sqrt(u + eps) / np.sqrt(s + eps) * g
            u = rho * u + (1 - rho) * delta * delta
            w = w - lr * delta
        else:  # adam: m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²; w ← w − η m̂/(√v̂ + ε)
            b1, b2 = HYPER["adam_betas"]
            v = b1 * v + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            m_hat, v_hat = v / (1 - b1**t), s / (1 - b2**t)
            w = w - lr * m_hat / (np.sqrt(v_hat) + HYPER["adam_eps"])
        out.append(w.copy())
    return np.array(out)


def optimizer_paths_data(surface_name: str = "ravine", optimizers: tuple[str, ...] = OPTIMIZERS, steps: int = 100,
                         lr: dict[str, float] | None = None, start: tuple[float, float] | None = None
                         ) -> OptimizerPathsResult:
    """Paths of each optimizer on a quadratic ravine, from the same start, for ``steps`` full-gradient steps."""
    if isinstance(steps, bool) or int(steps) != steps or not 1 <= steps <= 5000:
        raise ValueError(f"steps={steps!r} must be an integer in [1, 5000]")
    h, opt = surface(surface_name)
    rates = {**DEFAULT_LR, **(lr or {})}
    w0 = START if start is None else np.asarray(start, dtype=float)

    def grad(w: np.ndarray) -> np.ndarray:
        return h @ (w - opt)

    paths = {}
    for name in optimizers:
        w = run_path(name, grad, w0, float(rates.get(name, 0.1)), int(steps))
        d = w - opt
        paths[name] = OptimizerPath(name, float(rates.get(name, 0.1)), w, 0.5 * np.einsum("ni,ij,nj->n", d, h, d))
    return OptimizerPathsResult(surface_name, h, opt, paths)


def optimizer_paths(surface_name: str = "ravine", steps: int = 100):
    """Every optimizer's path over the ravine's contours (left) and its loss per step (right, log scale)."""
    import bqplot as bq

    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    controls = {
        "surface": V.dropdown("surface", list(SURFACES), surface_name),
        "steps": V.int_slider("steps", steps, 10, 500, 10),
        "which": V.dropdown("lr of", list(OPTIMIZERS), "sgd"),
        "lr": V.slider("its learning rate", DEFAULT_LR["sgd"], 1e-3, 10.0, 0.05, log=True),
    }
    rates = dict(DEFAULT_LR)
    sx, sy = bq.LinearScale(min=-9.0, max=9.0), bq.LinearScale(min=-4.0, max=4.0)
    contours = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.CONTOUR], stroke_width=1)
    colours = {n: style.RUNS[i % len(style.RUNS)] for i, n in enumerate(OPTIMIZERS)}
    colours["adam"] = "#000000"
    lines = {n: bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=[colours[n]], stroke_width=2,
                         labels=[n], display_legend=True) for n in OPTIMIZERS}
    left = D.figure([contours, *lines.values()], [D.axis(sx, "w₁"), D.axis(sy, "w₂", vertical=True)],
                    "paths on the loss surface")
    tx, ty = bq.LinearScale(), bq.LogScale()
    curves = {n: bq.Lines(x=[], y=[], scales={"x": tx, "y": ty}, colors=[colours[n]], stroke_width=2)
              for n in OPTIMIZERS}
    ay = D.axis(ty, "loss", vertical=True)
    right = D.figure(list(curves.values()), [D.axis(tx, "step"), ay], "loss per step")
    marks = {"contours": contours, **{f"path_{n}": m for n, m in lines.items()},
             **{f"loss_{n}": m for n, m in curves.items()}}
    state = {"which": "sgd"}

    def compute() -> OptimizerPathsResult:
        c = controls
        if c["which"].value != state["which"]:  # show the chosen optimizer's rate on the slider
            state["which"] = c["which"].value
            c["lr"].value = rates[state["which"]]
        rates[state["which"]] = float(c["lr"].value)
        return optimizer_paths_data(c["surface"].value, steps=int(c["steps"].value), lr=rates)

    def draw(r: OptimizerPathsResult) -> str:
        cx, cy = r.contours()
        contours.x, contours.y = cx, cy
        floor = 1e-8
        for n, p in r.paths.items():
            lines[n].x, lines[n].y = np.clip(p.w[:, 0], -50, 50), np.clip(p.w[:, 1], -50, 50)
            curves[n].x, curves[n].y = np.arange(len(p.loss)), np.maximum(p.loss, floor)
        style.set_log_ticks(ay, *[np.maximum(p.loss, floor) for p in r.paths.values()])
        best = min(r.paths.values(), key=lambda p: p.final_loss)
        return (f"after {len(best.loss) - 1} steps: lowest loss {best.final_loss:.2e} ({best.name}); "
                + ", ".join(f"{n} {p.final_loss:.1e}" for n, p in r.paths.items()))

    return V.DemoView(controls, [left, right], marks, compute, draw,
                      intro="Same start, same loss, seven update rules. Pick an optimizer to change its learning rate.")
