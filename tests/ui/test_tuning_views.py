"""Tuning views: widget state only (no browser): log axes, points per finished trial, live updates."""

import time
from concurrent.futures import ThreadPoolExecutor

import bqplot as bq
import numpy as np
import pytest

import nbtrain as nt
from nbtrain.ui.tuning import LRFinderPlot, LRFinderView, SearchView, lr_finder_view, search_view

TINY = dict(data="moons", hidden=[8], n_samples=200, max_steps=15, eval_every=5)


def fake_finder():
    lrs = np.geomspace(1e-6, 1.0, 60)
    loss = 2.3 - 1.5 / (1 + np.exp(-(np.log10(lrs) + 3) * 2)) + np.where(lrs > 0.1, 10 * lrs, 0)
    return LRFinderPlot(lrs, loss + 0.01, loss, {"steepest": 1e-3, "min/10": 1e-2}, "finished", (6, 54))


def test_lr_finder_view_has_a_log_x_axis_and_marks_the_suggestions():
    r = fake_finder()
    v = lr_finder_view(r)
    assert isinstance(v, LRFinderView)
    assert isinstance(v.marks["smoothed"].scales["x"], bq.LogScale)
    assert len(v.marks["raw"].x) == 60 and np.allclose(v.marks["smoothed"].y, r.smoothed)
    assert list(v.marks["steepest"].x) == [1e-3, 1e-3] and list(v.marks["min/10"].x) == [1e-2, 1e-2]
    assert "steepest = 0.001" in v.summary.value
    y = v.marks["smoothed"].scales["y"]
    assert y.max < r.smoothed.max()  # the exploding tail does not squash the interesting part


def test_lr_finder_result_plot_returns_the_view_and_skips_missing_suggestions():
    r = fake_finder()
    r.suggestions["min/10"] = float("nan")
    v = r.plot()
    assert "min/10" not in v.marks and "steepest" in v.marks


def test_search_view_scales_points_best_runs_and_table():
    space = {"lr": nt.search.loguniform(0.01, 1.0), "dropout": nt.search.uniform(0.0, 0.3),
             "activation": ["relu", "tanh"]}
    s = nt.search.random(space, n=5, search_seed=1, executor="sequential", **TINY)
    v = search_view(s, top=3)
    assert isinstance(v, SearchView)
    assert isinstance(v.scatters["lr"].scales["x"], bq.LogScale)
    assert isinstance(v.scatters["dropout"].scales["x"], bq.LinearScale)
    assert isinstance(v.scatters["activation"].scales["x"], bq.OrdinalScale)
    df = s.results
    assert len(v.scatters["lr"].x) == 5 and np.allclose(sorted(v.scatters["lr"].x), sorted(df["lr"]))
    assert v.best_marks["lr"].x[0] == pytest.approx(df.loc[0, "lr"])
    assert v.best_marks["lr"].y[0] == pytest.approx(df.loc[0, "val_acc"])
    assert [len(c.x) > 0 for c in v.curves] == [True, True, True]
    assert np.allclose(v.curves[0].y, df.loc[0, "curve"]["val_acc"])
    assert f"#{int(df.loc[0, 'trial'])}:" in v.curves[0].labels[0]
    assert v.table.value.count("<tr") == 6 and "curve" not in v.table.value
    assert "5/5" in v.status.value and v.cancel_button.disabled


def test_search_view_updates_live_and_its_button_cancels():
    long = {**TINY, "max_steps": 10_000_000, "eval_every": 0}
    with ThreadPoolExecutor(1) as ex:
        quick = nt.search.grid({"lr": [0.1, 0.3]}, executor=ex, wait=False, **TINY)
        v = search_view(quick)
        quick.wait(timeout=60)
        assert len(v.scatters["lr"].x) == 2 and "2/2" in v.status.value  # redrawn as trials finished
        slow = nt.search.grid({"lr": [0.1, 0.3, 0.5]}, executor=ex, wait=False, timeout_s=60, **long)
        w = search_view(slow)
        time.sleep(0.5)
        assert not w.cancel_button.disabled
        w.cancel_button.click()
        df = slow.wait(timeout=30)
    assert (df["status"] == "cancelled").all() and w.cancel_button.disabled
    w.close()


def test_search_view_checks_top():
    s = nt.search.grid({"lr": [0.1]}, executor="sequential", **TINY)
    with pytest.raises(ValueError, match="top=0"):
        search_view(s, top=0)


def test_the_tuning_tools_accept_a_lab():
    lab = nt.Lab(data="moons", hidden=[8], max_steps=60, device="cpu")
    try:
        lab.start()
        lab.wait()
        assert nt.check_initial_loss(lab).passed
        assert nt.diagnose(lab).rules == []  # shuffled by the trainer: no periodicity alarm on a short run
        assert nt.find_lr(lab, num_iter=20).stopped
        s = nt.search.grid({"lr": [0.1, 0.2]}, base=lab, executor="sequential", max_steps=10)
        assert list(s.results["status"]) == ["finished", "finished"] and s.config()["hidden"] == [8]
    finally:
        lab.close()
