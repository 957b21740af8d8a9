"""The resource budget (nbtrain/engine/budget.py): refusals at construction, on live changes and from a
checkpoint's config, named and raisable by the server's owner; exact parameter counts; bounded history
(compaction) for unbounded runs; demo sizes."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nbtrain as nt
from nbtrain.engine import budget, models
from nbtrain.engine.budget import Budget, BudgetError
from nbtrain.engine.config import ConfigError, TrainConfig
from nbtrain.engine.history import History

HUGE = [65536, 65536]  # 4.3e9 parameters


@pytest.fixture(autouse=True)
def _default_budget(monkeypatch):
    monkeypatch.delenv(budget.ENV, raising=False)
    budget.configure()
    yield
    budget.configure()


def _peak_rss_mib(code: str, env: dict | None = None) -> tuple[str, float]:
    """Run ``code`` in a fresh interpreter; its output and its peak resident memory (MiB)."""
    prog = code + "\nimport resource; print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    out = subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True,
                         env={**os.environ, **(env or {})}).stdout
    peak = float(out.rsplit("PEAK", 1)[1])
    return out, peak


def test_huge_hidden_is_refused_at_construction_naming_the_limit():
    with pytest.raises(BudgetError) as err:
        TrainConfig(hidden=HUGE)
    msg = str(err.value)
    assert "hidden = [65536, 65536]" in msg and "4.3e+09 parameters" in msg and "NBTRAIN_BUDGET='params=" in msg
    assert isinstance(err.value, ConfigError) and isinstance(err.value, ValueError)
    with pytest.raises(BudgetError, match="params"):
        nt.Trainer(data="spiral", hidden=HUGE)


def test_refusal_allocates_nothing():
    out, peak = _peak_rss_mib(
        "import nbtrain as nt\n"
        "try:\n    nt.Trainer(data='spiral', hidden=[65536, 65536])\nexcept ValueError as e:\n    print('REFUSED', e)\n")
    assert "REFUSED" in out and "resource budget" in out
    assert peak < 1500, peak  # 4.3e9 float32 parameters would be 16 GiB


def test_live_changes_are_refused_and_training_goes_on():
    tr = nt.Trainer(data="spiral", hidden=[8], n_samples=200, max_steps=10**6)
    try:
        tr.start()
        with pytest.raises(BudgetError, match="params"):
            tr.config.hidden = HUGE
        with pytest.raises(BudgetError):
            tr.config.update(hidden=HUGE, lr=0.01)
        assert tr.config.hidden == [8] and tr.config.lr == 0.1
        step = tr.global_step
        tr.wait(steps=step + 20, timeout=60)
        assert tr.state == "running" and tr.global_step >= step + 20
    finally:
        tr.close()


def test_batch_size_is_checked_against_memory_with_the_trainers_shapes():
    tr = nt.Trainer(data="digits", hidden=[4096, 4096], n_samples=None)  # 64 inputs: ≈ 1.7e7 params
    try:
        tr.config.batch_size = 256  # fine
        with pytest.raises(BudgetError, match=r"memory.*NBTRAIN_BUDGET='memory=") as err:
            tr.config.batch_size = 1_048_576
        assert "batch_size = 1048576" in str(err.value)
        assert tr.config.batch_size == 256
        with pytest.raises(BudgetError, match="memory"):  # Adam keeps two more numbers per weight
            budget.configure(memory="300MiB")
            tr.config.optimizer = "adam"
        assert tr.config.optimizer == "sgd"
    finally:
        budget.configure()
        tr.close()


def test_checkpoint_config_beyond_the_budget_is_refused(tmp_path):
    import io
    import json

    import torch

    from nbtrain.engine import checkpoint

    tr = nt.Trainer(data="spiral", hidden=[8], n_samples=200, max_steps=20)
    try:
        tr.step(5)
        tr.wait()
        small = tr.save(tmp_path / "small.pt")
    finally:
        tr.close()
    # a crafted, well-formed file (valid hash: what anyone handing out a file can do) whose config asks for 4.3e9
    outer = torch.load(small, weights_only=True)
    state = torch.load(io.BytesIO(outer["payload"].numpy().tobytes()), weights_only=True)
    state["config"] = json.dumps({**json.loads(state["config"]), "hidden": HUGE})
    huge = tmp_path / "huge.pt"
    huge.write_bytes(checkpoint.encode(state))
    assert os.path.getsize(huge) < 200_000
    code = ("import nbtrain as nt, sys\n"
            f"try:\n    nt.Trainer.load({str(huge)!r})\nexcept Exception as e:\n"
            "    print('REFUSED', type(e).__name__, e)\n")
    out, peak = _peak_rss_mib(code)
    assert "REFUSED CheckpointError" in out and "resource budget" in out and "65536" in out, out
    assert peak < 1500, peak  # refused before anything of that size is allocated
    load_small = (f"import nbtrain as nt\ntry:\n    print('LOADED', nt.Trainer.load({str(small)!r}).global_step)\n"
                  "except Exception as e:\n    print('REFUSED', e)\n")
    assert "LOADED 5" in _peak_rss_mib(load_small)[0]
    out, _ = _peak_rss_mib(load_small, env={budget.ENV: "params=10"})  # a budget the server's owner lowered
    assert "REFUSED" in out and "params=" in out and "allows 10 " in out, out


def test_whoever_starts_the_server_can_raise_the_budget():
    out, _ = _peak_rss_mib("from nbtrain import TrainConfig\nprint('OK', TrainConfig(hidden=[65536, 65536]).hidden)",
                           env={budget.ENV: "params=5G, memory=1TiB"})
    assert "OK [65536, 65536]" in out
    budget.configure(params="5G", memory="1TiB")
    assert TrainConfig(hidden=HUGE).hidden == HUGE
    budget.configure("unlimited")
    assert budget.current().is_unlimited
    budget.configure()
    with pytest.raises(BudgetError):
        TrainConfig(hidden=HUGE)


@pytest.mark.parametrize("text", ["params", "params=lots", "size=3", "memory=-1", "params=0"])
def test_bad_budget_text_is_refused_naming_the_variable(text):
    with pytest.raises(ValueError, match="NBTRAIN_BUDGET"):
        Budget.parse(text)


@pytest.mark.parametrize("name, shape, classes, hidden", [
    ("mlp", (2,), 3, [64, 64]), ("mlp", (1, 28, 28), 10, [300, 100]), ("cnn", (1, 8, 8), 10, [64]),
    ("cnn", (3, 32, 32), 10, [128, 32]), ("resmlp", (64,), 10, [32, 32, 32]), ("auto", (3, 32, 32), 10, [64]),
])
def test_parameter_count_is_exact(name, shape, classes, hidden):
    real = models.make(name, shape, classes, hidden=hidden)
    assert budget.estimate(name, shape, classes, hidden).params == sum(p.numel() for p in real.parameters())


# ---- history rows: unbounded runs are compacted --------------------------------------------------------------
def test_history_compaction_keeps_recent_rows_and_spreads_old_ones():
    h = History(max_rows=1000)
    f = lambda s: 1.0 / (1.0 + s) + (s % 7) * 1e-3  # noqa: E731 - a value we can recompute for any step
    for s in range(50_000):
        h.log_step(s, s / 100, s * 1e-3, f(s), 0.1)
    steps = h.steps.column("step")
    assert len(h) <= 1000 and h.compactions > 0
    assert steps[0] == 0 and steps[-1] == 49_999 and np.all(np.diff(steps) > 0)
    np.testing.assert_array_equal(steps[-400:], np.arange(49_600, 50_000))  # the recent part at full resolution
    counts, _ = np.histogram(steps[steps < 45_000], bins=9, range=(0, 45_000))
    assert counts.min() >= 5  # the old part covers the whole run, not only its start
    np.testing.assert_allclose(h.steps.column("train_loss"), [f(s) for s in steps])  # kept rows are the logged ones


def test_per_layer_rows_of_a_step_stay_together():
    h = History(max_rows=200)
    for s in range(0, 10_000, 10):
        h.log_layers(s, [(0.0, 1.0, 0.0, 0.0, float(s))] * 3)
    df = h.layer_frame()
    assert len(df) <= 200 and (df.groupby("step").size() == 3).all()


def test_unbounded_run_keeps_at_most_the_budgets_rows():
    budget.configure(history_rows=300)
    tr = nt.Trainer(data="spiral", hidden=[8], n_samples=200, max_steps=None, stats_every=5)
    try:
        tr.step(2000)
        tr.wait(timeout=120)
        assert tr.global_step == 2000
        for table in (tr.metrics.steps, tr.metrics.layers, tr.metrics.evals):
            assert table.n <= 300
        steps = tr.metrics.steps.column("step")
        assert steps[0] == 0 and steps[-1] == 1999
        assert not tr.metrics.frame().empty
    finally:
        tr.close()
        budget.configure()


# ---- demo sizes -------------------------------------------------------------------------------------------------
def test_demo_sizes_are_bounded():
    with pytest.raises(BudgetError, match="demo_points") as err:  # 16 schedules × 10⁶ steps
        nt.demos.schedule_gallery_data(None, 0.1, 1_000_000)
    assert "total_steps=1000000" in str(err.value) and "NBTRAIN_BUDGET='demo_points=" in str(err.value)
    assert len(nt.demos.schedule_gallery_data(["cosine"], 0.1, 100_000)["cosine"].lr) == 100_001
    with pytest.raises(BudgetError, match="demo_points"):
        nt.demos.weight_scale_data("relu", "he_normal", depth=100, width=8192, n=1_000_000)
    view = nt.demos.schedules()  # the view's own bound (T ≤ 10,000), enforced by the kernel
    from nbtrain.ui.guard import update_from_page

    update_from_page(view.controls["total_steps"], {"value": 10**6})
    update_from_page(view.controls["all"], {"value": True})
    assert view.controls["total_steps"].value == 10_000 and len(view.marks["first"].x) == 10_001
    view.close()
