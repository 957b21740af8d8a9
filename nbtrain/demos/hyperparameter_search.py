"""Grid vs random search when one hyper-parameter matters and one does not (the lecture notes' figure, computed).

The score of a setting (x, y) is g(x) + h(y): ``g`` is a sharp bump in the *important* hyper-parameter (the
learning rate's exponent, x) and ``h`` a small ripple in the *unimportant* one (the dropout rate, y). With the same budget of n = k² trials, a k × k
grid tries only k distinct values of x — every column repeats them — while n random trials try n distinct
values of x, so random search lands closer to the peak of g. The points come from :mod:`nbtrain.search`'s own
``grid_points`` and ``random_points``, i.e. exactly the settings ``nt.search.grid``/``random`` would train.

>>> r = search_layout_data(budget=9, seed=0)
>>> len(set(r.grid_x)), len(set(r.random_x))
(3, 9)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nbtrain.tuning import search

from ..engine.checks import check_float, check_int, check_seed

PEAK = 0.63  # where the important hyper-parameter is best (off the 3×3 grid's values 0, 0.5, 1)
WIDTH = 0.06
RIPPLE = 0.05


#: the hyper-parameters as nbtrain searches them: lr log-uniform (x = its exponent, rescaled to [0, 1]) and
#: dropout uniform (y = dropout / 0.5)
SPACE = {"lr": search.loguniform(1e-3, 1.0), "dropout": search.uniform(0.0, 0.5)}


def unit_square(points: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Search points → (x, y) in [0, 1]²: x = (log10 lr + 3)/3, y = dropout/0.5."""
    lr = np.array([p["lr"] for p in points], dtype=float)
    dropout = np.array([p["dropout"] for p in points], dtype=float)
    return (np.log10(lr) + 3.0) / 3.0, dropout / 0.5


def important(x: np.ndarray) -> np.ndarray:
    """g(x): a sharp bump of height 1 at PEAK."""
    return np.exp(-((np.asarray(x, dtype=float) - PEAK) ** 2) / (2 * WIDTH**2))


def unimportant(y: np.ndarray, ripple: float = RIPPLE) -> np.ndarray:
    """h(y): a small ripple (amplitude ``ripple``)."""
    return ripple * np.sin(6 * np.pi * np.asarray(y, dtype=float))


@dataclass(frozen=True)
class SearchLayoutResult:
    budget: int
    grid_x: np.ndarray
    grid_y: np.ndarray
    random_x: np.ndarray
    random_y: np.ndarray
    grid_score: np.ndarray
    random_score: np.ndarray
    ripple: float

    @property
    def best_grid(self) -> float:
        return float(self.grid_score.max())

    @property
    def best_random(self) -> float:
        return float(self.random_score.max())

    @property
    def distinct_x(self) -> tuple[int, int]:
        """How many different values of the important hyper-parameter each layout tried."""
        return len(np.unique(self.grid_x)), len(np.unique(self.random_x))


def search_layout_data(budget: int = 9, seed: int = 0, ripple: float = RIPPLE) -> SearchLayoutResult:
    """Score a k × k grid and ``budget`` = k² random points of the unit square with g(x) + h(y)."""
    budget = check_int("budget", budget, 4, 400)
    k = int(round(budget**0.5))
    if k * k != budget:
        raise ValueError(f"budget={budget} must be a square number (a k × k grid), e.g. 9, 16, 25")
    seed = check_seed(seed)
    ripple = check_float("ripple", ripple, 0.0, 1.0)
    grid = search.grid_points(SPACE, points=k)
    rand = search.random_points(SPACE, budget, seed=seed)
    gx, gy = unit_square(grid)
    rx, ry = unit_square(rand)
    return SearchLayoutResult(budget, gx, gy, rx, ry, important(gx) + unimportant(gy, ripple),
                              important(rx) + unimportant(ry, ripple), ripple)


def search_layout(budget: int = 9, seed: int = 0):
    """The unit square with both layouts (left: grid, right: random), g(x) drawn above each."""
    import bqplot as bq

    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    controls = {"budget": V.dropdown("trials", [4, 9, 16, 25, 36], budget),
                "seed": V.int_slider("random seed", seed, 0, 50)}
    figures, marks = [], {}
    xs = np.linspace(0, 1, 301)
    for side in ("grid", "random"):
        sx, sy = bq.LinearScale(min=0.0, max=1.0), bq.LinearScale(min=0.0, max=1.0)
        curve = bq.Lines(x=xs, y=0.75 + 0.25 * important(xs), scales={"x": sx, "y": sy},
                         colors=[style.RUNS[1]], stroke_width=2)
        pts = bq.Scatter(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.RUNS[0]], default_size=80)
        drops = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.CONTOUR], stroke_width=1)
        fig = D.figure([drops, curve, pts], [D.axis(sx, "important: lr exponent x"),
                                             D.axis(sy, "unimportant: dropout y", vertical=True)], f"{side} layout")
        figures.append(fig)
        marks.update({f"{side}_points": pts, f"{side}_drops": drops, f"{side}_curve": curve})

    def compute() -> SearchLayoutResult:
        return search_layout_data(int(controls["budget"].value), int(controls["seed"].value))

    def draw(r: SearchLayoutResult) -> str:
        for side, x, y in (("grid", r.grid_x, r.grid_y), ("random", r.random_x, r.random_y)):
            marks[f"{side}_points"].x, marks[f"{side}_points"].y = x, y
            marks[f"{side}_drops"].x = np.stack([x, x], 1)
            marks[f"{side}_drops"].y = np.stack([y, 0.75 + 0.25 * important(x)], 1)
        g, rnd = r.distinct_x
        return (f"{r.budget} trials each — distinct values of x: grid {g}, random {rnd}; "
                f"best score: grid {r.best_grid:.3f}, random {r.best_random:.3f} (the optimum is {1 + r.ripple:.3f})")

    return V.DemoView(controls, figures, marks, compute, draw,
                      intro="The orange bump (top) is how much x matters; y barely matters. Same budget, two layouts.")
