"""Grid vs random search demo: the layouts are nbtrain.search's, the scores the formula's."""

import itertools

import numpy as np
import pytest

import nbtrain as nt
from nbtrain.demos import hyperparameter_search as SL


def score(x, y, ripple=SL.RIPPLE):
    return np.exp(-((x - SL.PEAK) ** 2) / (2 * SL.WIDTH**2)) + ripple * np.sin(6 * np.pi * y)


@pytest.mark.parametrize("budget", [9, 16, 25])
def test_grid_tries_k_values_of_the_important_parameter_random_tries_n(budget):
    r = SL.search_layout_data(budget=budget, seed=3)
    k = int(budget**0.5)
    expected = sorted(itertools.product(np.linspace(0, 1, k), repeat=2))
    assert np.allclose(np.array(sorted(zip(r.grid_x, r.grid_y))), np.array(expected))
    assert r.distinct_x == (k, budget)
    assert np.allclose(r.grid_score, score(r.grid_x, r.grid_y))
    assert np.allclose(r.random_score, score(r.random_x, r.random_y))
    pts = nt.search.random_points({"lr": nt.search.loguniform(1e-3, 1.0), "dropout": nt.search.uniform(0, 0.5)},
                                  budget, seed=3)
    assert np.allclose(r.random_x, [(np.log10(p["lr"]) + 3) / 3 for p in pts])
    assert np.allclose(r.random_y, [p["dropout"] / 0.5 for p in pts])


def test_random_search_wins_on_average_with_the_same_budget():
    wins = [SL.search_layout_data(9, seed=s) for s in range(40)]
    best_random = np.mean([w.best_random for w in wins])
    best_grid = wins[0].best_grid  # the grid does not depend on the seed
    assert best_random > best_grid + 0.2
    # the grid's best is what its 3 x-values allow: max over the grid of g, plus the ripple at its y values
    assert best_grid == pytest.approx(score(np.array([0.5]), np.array([0.5])).item() + 0.0, abs=0.06)


def test_budget_must_be_a_square():
    with pytest.raises(ValueError, match="budget=10 must be a square number"):
        SL.search_layout_data(10)
