"""Bounded streaming pieces: incremental min/max decimation, table tails, the publisher thread."""

import gc
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ui_helpers import wait_until

from nbtrain.engine.history import History
from nbtrain.ui.stream import Publisher, StreamDecimator, TableFeed


@settings(max_examples=60, deadline=None)
@given(cap=st.integers(5, 80), chunks=st.lists(st.integers(0, 400), min_size=1, max_size=25), seed=st.integers(0, 99))
def test_decimation_stays_under_the_cap_keeps_extremes_and_only_real_points(cap, chunks, seed):
    rng = np.random.default_rng(seed)
    d = StreamDecimator(cap)
    xs, ys, n = [], [], 0
    for m in chunks:
        x, y = np.arange(n, n + m, dtype=float), rng.normal(size=m)
        n += m
        d.extend(x, y)
        xs.append(x)
        ys.append(y)
        X, Y = np.concatenate(xs), np.concatenate(ys)
        ox, oy = d.arrays()
        assert len(ox) == len(oy) <= cap
        assert np.all(np.diff(ox) > 0)
        if len(Y):
            assert oy.max() == Y.max() and oy.min() == Y.min()
            assert ox[-1] == X[-1] and oy[-1] == Y[-1]  # the latest point is always drawn
            assert np.array_equal(Y[np.searchsorted(X, ox)], oy)  # every point shown is a real point


def test_short_series_are_sent_exactly():
    d = StreamDecimator(1000)
    x, y = np.arange(300.0), np.random.default_rng(0).normal(size=300)
    d.extend(x[:100], y[:100])
    d.extend(x[100:], y[100:])
    ox, oy = d.arrays()
    assert np.array_equal(ox, x) and np.array_equal(oy, y)


def test_nonfinite_values_are_skipped_not_drawn():
    d = StreamDecimator(10)
    d.extend([0, 1, 2, 3], [1.0, np.nan, np.inf, 2.0])
    assert d.arrays()[0].tolist() == [0.0, 3.0]


def test_table_feed_hands_out_new_rows_and_notices_a_cleared_history():
    h = History()
    feed = TableFeed("steps", ("step", "train_loss"))
    for i in range(3):
        h.log_step(i, 0.0, 0.0, float(i), 0.1)
    restarted, rows = feed.read(h)
    assert restarted and rows["step"].tolist() == [0, 1, 2]
    h.log_step(3, 0.0, 0.0, 3.0, 0.1)
    restarted, rows = feed.read(h)
    assert not restarted and rows["train_loss"].tolist() == [3.0]
    assert feed.read(h)[1]["step"].size == 0
    h.clear()
    h.log_step(0, 0.0, 0.0, 9.0, 0.1)
    restarted, rows = feed.read(h)
    assert restarted and rows["train_loss"].tolist() == [9.0]


def test_publisher_keeps_errors_instead_of_printing(capsys):
    class View:
        def tick(self):
            raise RuntimeError("boom")

    v = View()
    p = Publisher(v.tick, interval=0.01).start()
    assert wait_until(lambda: p.errors >= 2, timeout=10)
    p.stop()
    assert not p.alive and isinstance(p.last_error, RuntimeError)
    assert capsys.readouterr() == ("", "")


def test_publisher_ends_when_its_view_is_collected():
    class View:
        def tick(self):
            pass

    v = View()
    p = Publisher(v.tick, interval=0.01).start()
    del v
    gc.collect()
    assert wait_until(lambda: not p.alive, timeout=5)


def test_publisher_backs_off_when_publishing_is_expensive():
    class View:
        def tick(self):
            t = time.thread_time()
            while time.thread_time() - t < 0.02:  # 20 ms of CPU per publish
                pass

    v = View()
    p = Publisher(v.tick, interval=0.01, budget=0.1).start()
    time.sleep(1.0)
    p.stop()
    assert p.calls <= 8  # ≥ 0.2 s between 20 ms publishes (≤ 10 % of a core), not 100 calls


def test_one_expensive_publish_slows_the_next_few_a_little_instead_of_stalling_the_view():
    """The pause follows the publishes' average cost (weight 0.25 for the newest), so one 40 ms call among
    cheap ones (a diagnosis) pauses ≈ 0.1 s at a 10 % budget, not its 0.4 s; the average share stays the budget's."""
    calls = []

    class View:
        def tick(self):
            calls.append(time.monotonic())
            if len(calls) == 6:
                t = time.thread_time()
                while time.thread_time() - t < 0.04:
                    pass
            calls[-1] = (calls[-1], time.monotonic())

    v = View()
    p = Publisher(v.tick, interval=0.01, budget=0.1).start()
    assert wait_until(lambda: len(calls) >= 8, timeout=10)
    p.stop()
    (_, end6), (start7, _) = calls[5], calls[6]
    assert start7 - end6 < 0.3  # 0.25 × 40 ms ÷ 10 % = 0.1 s (+ a busy machine's slack), where the last cost gave 0.4 s
    assert 0 < p.avg_cost <= 0.25 * 0.04 + 0.005  # the spike's share of the average, fading with each cheap call


def test_publisher_rejects_a_nonpositive_interval():
    with pytest.raises(ValueError, match="interval"):
        Publisher(lambda: None, interval=0)


def test_streaming_and_history_decimation_are_one_min_max_rule():
    """A series streamed in one chunk and the same series decimated from the history keep the same extremes
    (the streaming decimator is built on engine.history's bucket functions)."""
    from nbtrain.engine.history import decimate

    x = np.arange(50_000.0)
    y = np.random.default_rng(3).normal(size=x.size)
    d = StreamDecimator(400)
    d.extend(x, y)
    sx, sy = d.arrays()
    hx, hy = decimate(x, y, 400)
    assert len(sx) <= 400 and len(hx) <= 400
    assert sy.max() == hy.max() == y.max() and sy.min() == hy.min() == y.min()
    assert sx[np.argmax(sy)] == hx[np.argmax(hy)] == x[np.argmax(y)]
