"""Columnar history store and decimation."""

import threading

import numpy as np
import pytest

from nbtrain.engine.history import History, Table, decimate


def test_table_grows_amortised_and_keeps_rows():
    t = Table(("a", "b"), capacity=2)
    for i in range(1000):
        t.append((i, 2 * i))
    assert t.n == 1000 and t._data.shape[1] == 1024
    np.testing.assert_array_equal(t.column("b"), 2 * np.arange(1000))
    with pytest.raises(ValueError):
        t.column("a")[0] = 5  # read-only view


def test_a_block_is_a_copy_of_the_named_columns_from_a_row_on_unflushed_rows_included():
    t = Table(("a", "b", "c"), capacity=4)
    for i in range(10):
        t.append((i, 2 * i, 3 * i))  # fewer than FLUSH_ROWS: still in the row list
    block = t.block(("c", "a"), 7)
    np.testing.assert_array_equal(block, [[21, 24, 27], [7, 8, 9]])
    block[0, 0] = -1
    assert t.column("c")[7] == 21  # a copy
    assert t.block(("b",), 10).shape == (1, 0)
    with pytest.raises(KeyError, match="'d'"):
        t.block(("a", "d"))


def test_decimate_bounds_and_keeps_extremes_in_order():
    x = np.arange(1_000_003, dtype=float)
    y = np.random.default_rng(0).normal(size=x.size)
    y[500_000], y[7] = 50.0, -50.0
    xs, ys = decimate(x, y, 2000)
    assert len(xs) <= 2000 and (np.diff(xs) > 0).all()
    assert ys.max() == 50.0 and ys.min() == -50.0


def test_decimate_small_input_unchanged_and_nan_dropped():
    xs, ys = decimate([0, 1, 2, 3], [1.0, np.nan, 3.0, np.inf], 10)
    np.testing.assert_array_equal(xs, [0, 2]) and np.testing.assert_array_equal(ys, [1.0, 3.0])
    with pytest.raises(ValueError, match="max_points=1"):
        decimate([0], [0], 1)


def test_frame_joins_evals_and_events():
    h = History()
    for s in range(5):
        h.log_step(s, s / 5, s * 0.01, 1.0 / (s + 1), 0.1)
    h.log_eval(0, 0.0, 2.0, 0.1, 2.1, 0.2)
    h.log_eval(5, 1.0, 0.5, 0.9, 0.4, 0.95)
    h.log_event(3, "lr", 0.1, 0.05)
    df = h.frame()
    assert list(df["step"]) == [0, 1, 2, 3, 4, 5]
    assert df["val_loss"].iloc[0] == 2.0 and np.isnan(df["val_loss"].iloc[2]) and df["val_acc"].iloc[5] == 0.9
    assert df["epoch"].iloc[5] == 1.0
    assert df.events.to_dict("records") == [{"step": 3, "field": "lr", "old": 0.1, "new": 0.05}]
    xs, ys = df.decimate("train_loss", 100)
    assert len(xs) == 5


def test_layer_rows_and_per_layer_decimation():
    h = History()
    h.layer_names = ["0: tanh", "1: tanh"]
    for s in range(0, 100, 10):
        h.log_layers(s, [[0.0, 1.0, 0.1, 0.0, 0.5], [0.0, 0.5, 0.2, 0.0, 0.25]])
    lf = h.layer_frame()
    assert len(lf) == 20 and set(lf["name"]) == {"0: tanh", "1: tanh"}
    xs, ys = h.decimate("act_std", 100, layer=1)
    assert (ys == 0.5).all() and len(xs) == 10


def test_concurrent_writer_and_readers_stay_consistent():
    h = History()
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set() and i < 300_000:  # bounded: each read below is O(rows)
            h.log_step(i, 0, 0, float(i), 0.1)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(200):
            xs, ys = h.decimate("train_loss", 500)
            np.testing.assert_array_equal(xs, ys)  # each loss equals its step: no torn rows
    finally:
        stop.set()
        t.join()


def test_state_dict_round_trip():
    h = History()
    h.log_step(0, 0, 0, 1.0, 0.1)
    h.log_event(0, "x", 1, 2)
    g = History()
    g.load_state_dict(h.state_dict())
    assert g.frame().equals(h.frame()) and g.events == h.events
