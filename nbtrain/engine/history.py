"""Columnar metric store with amortised growth, plus decimation for display.

The training thread appends rows to a few ``Table``s (numpy columns that double their capacity when full,
so appending is O(1) amortised and nothing is a Python list of dicts); readers take consistent snapshots
under a lock. ``decimate`` turns any length into at most ``max_points`` points that keep the extremes,
in one pass over the data. Its three steps (:func:`bucket_extremes`, :func:`merge_extremes`,
:func:`extremes_in_order`) are also what :class:`nbtrain.ui.stream.StreamDecimator` is built from, so a
curve streamed to a view and a curve decimated from the history keep the same points.

>>> import numpy as np
>>> from nbtrain.engine.history import decimate
>>> x = np.arange(1_000_000); y = np.sin(x / 1e4); y[123_456] = 5.0
>>> xs, ys = decimate(x, y, 2000)
>>> len(xs) <= 2000, float(ys.max())
(True, 5.0)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


class Table:
    """Append-only table of float64 columns: one preallocated numpy array each, doubled when full.

    Rows are first appended to a short Python list and copied into the arrays 256 at a time (or before
    any read), which keeps the per-step cost of logging a row at a list append.
    """

    FLUSH_ROWS = 256

    def __init__(self, columns: Sequence[str], capacity: int = 1024):
        self.columns = tuple(columns)
        self._data = np.full((len(self.columns), capacity), np.nan)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._n = 0  # rows in _data
        self._rows: list[Sequence[float]] = []  # rows not yet copied into _data

    @property
    def n(self) -> int:
        return self._n + len(self._rows)

    def append(self, row: Sequence[float]) -> None:
        """Append one row given in column order (the caller holds the history lock)."""
        self._rows.append(row)
        if len(self._rows) >= self.FLUSH_ROWS:
            self._flush()

    def extend(self, rows: Sequence[Sequence[float]]) -> None:
        """Append several rows given in column order (the caller holds the history lock)."""
        self._rows.extend(rows)
        if len(self._rows) >= self.FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        rows = self._rows
        if not rows:
            return
        k = len(rows)
        capacity = self._data.shape[1]
        if self._n + k > capacity:
            while self._n + k > capacity:
                capacity *= 2
            grown = np.full((len(self.columns), capacity), np.nan)
            grown[:, : self._n] = self._data[:, : self._n]
            self._data = grown
        self._data[:, self._n : self._n + k] = np.asarray(rows, dtype=float).T
        self._n += k
        self._rows = []

    def _row(self, name: str) -> int:
        """The row of ``_data`` that holds column ``name``."""
        if name not in self._index:
            raise KeyError(f"no column {name!r}; columns: {', '.join(self.columns)}")
        return self._index[name]

    def column(self, name: str) -> np.ndarray:
        """A read-only view of the column's values (valid until the next growth)."""
        row = self._row(name)
        self._flush()
        view = self._data[row, : self._n]
        view.flags.writeable = False
        return view

    def block(self, names: Sequence[str], start: int = 0) -> np.ndarray:
        """A copy of rows ``start:`` of the named columns, one row of the result per column (one numpy copy)."""
        rows = [self._row(c) for c in names]
        self._flush()
        return self._data[rows, start : self._n]

    def frame(self) -> pd.DataFrame:
        self._flush()
        return pd.DataFrame(self._data[:, : self._n].T.copy(), columns=list(self.columns))

    def state(self) -> np.ndarray:
        self._flush()
        return self._data[:, : self._n].copy()

    def compacted(self, keep_recent: int) -> Table:
        """A new table: the newest ``keep_recent`` rows as they are; the older ones resampled to about
        ``keep_recent // 2`` rows spread evenly over their steps (all rows of a kept step stay together, so
        a step's per-layer rows are kept or dropped as one)."""
        data = self.state()
        n = data.shape[1]
        cut = max(n - int(keep_recent), 0)
        if cut == 0:
            return self
        old_steps = data[0, :cut]
        uniq = np.unique(old_steps)
        target = max(1, (int(keep_recent) // 2) * len(uniq) // cut)  # steps that fit in keep_recent // 2 rows
        if len(uniq) > target:  # the logged steps nearest to `target` evenly spaced step values
            at = np.searchsorted(uniq, np.linspace(uniq[0], uniq[-1], target), side="left")
            uniq = np.unique(uniq[np.minimum(at, len(uniq) - 1)])
        keep = np.concatenate([np.isin(old_steps, uniq), np.ones(n - cut, dtype=bool)])
        return Table.from_state(self.columns, data[:, keep])

    @classmethod
    def from_state(cls, columns: Sequence[str], data: np.ndarray) -> Table:
        t = cls(columns, capacity=max(1024, data.shape[1]))
        t._data[:, : data.shape[1]] = data
        t._n = data.shape[1]
        return t


STEP_COLUMNS = ("step", "epoch", "time", "train_loss", "lr")
EVAL_COLUMNS = ("step", "epoch", "val_loss", "val_acc", "train_eval_loss", "train_acc")
LAYER_COLUMNS = ("step", "layer", "act_mean", "act_std", "saturated", "dead", "grad_norm")


class History:
    """Everything a run logs: per-step, per-evaluation and per-layer tables, and live-change events.

    ``version`` increases on every append, so a publisher can tell cheaply whether anything changed.

    Bounded memory: a table that reaches ``max_rows`` rows (default: the resource budget's ``history_rows``,
    :mod:`nbtrain.engine.budget`) is compacted — its newest half kept as is, the older half thinned to every
    second step — so an unbounded run ("max steps 0 = ∞") keeps at most ``max_rows`` rows per table, full
    resolution for recent steps and coarser for old ones. ``compactions`` counts how often that happened.
    """

    def __init__(self, max_rows: int | None = None):
        if max_rows is None:
            from .budget import history_rows

            max_rows = history_rows()
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 16:
            raise ValueError(f"max_rows={max_rows!r} must be an integer ≥ 16")
        self.max_rows = max_rows
        self.compactions = 0
        self.lock = threading.Lock()
        self.steps = Table(STEP_COLUMNS)
        self.evals = Table(EVAL_COLUMNS)
        self.layers = Table(LAYER_COLUMNS)
        self.events: list[dict[str, Any]] = []
        self.layer_names: list[str] = []
        self.version = 0

    def __len__(self) -> int:
        return self.steps.n

    # ---- writes (training thread) -------------------------------------------------------------------
    def log_step(self, step: int, epoch: float, time: float, loss: float, lr: float) -> None:
        with self.lock:
            self.steps.append((step, epoch, time, loss, lr))
            if self.steps.n > self.max_rows:
                self.steps = self._compact(self.steps)
            self.version += 1

    def log_steps(self, rows: Sequence[tuple[int, float, float, float, float]]) -> None:
        """Several per-step rows at once (the trainer flushes its device-side losses in chunks)."""
        with self.lock:
            self.steps.extend(rows)
            if self.steps.n > self.max_rows:
                self.steps = self._compact(self.steps)
            self.version += 1

    def log_eval(self, step: int, epoch: float, val_loss: float, val_acc: float, train_loss: float, train_acc: float) -> None:
        with self.lock:
            self.evals.append((step, epoch, val_loss, val_acc, train_loss, train_acc))
            if self.evals.n > self.max_rows:
                self.evals = self._compact(self.evals)
            self.version += 1

    def log_layers(self, step: int, rows: Sequence[Sequence[float]]) -> None:
        with self.lock:
            for i, r in enumerate(rows):
                self.layers.append((step, i, *r))
            if self.layers.n > self.max_rows:
                self.layers = self._compact(self.layers)
            self.version += 1

    def _compact(self, table: Table) -> Table:
        """(lock held) ``table`` with its older half thinned: readers see a new table and start over."""
        self.compactions += 1
        return table.compacted(self.max_rows // 2)

    def log_event(self, step: int, field: str, old: Any, new: Any) -> None:
        with self.lock:
            self.events.append({"step": int(step), "field": field, "old": old, "new": new})
            self.version += 1

    # ---- reads ----------------------------------------------------------------------------------------
    def last(self, column: str, default: float = float("nan")) -> float:
        table = self._table_of(column)
        with self.lock:
            return float(table.column(column)[-1]) if table.n else default

    def _table_of(self, column: str) -> Table:
        for t in (self.steps, self.evals, self.layers):
            if column in t.columns and column != "step":
                return t
        if column == "step":
            return self.steps
        raise KeyError(f"no column {column!r}; columns: {', '.join(self.columns())}")

    def columns(self) -> list[str]:
        return list(dict.fromkeys(STEP_COLUMNS + EVAL_COLUMNS + LAYER_COLUMNS))

    def decimate(self, column: str, max_points: int = 2000, layer: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of ``column`` reduced to ≤ ``max_points`` points keeping each bucket's min and max.

        ``layer`` picks one layer of the per-layer columns. Cost: one pass over the column.
        """
        table = self._table_of(column)
        with self.lock:
            x, y = table.column("step"), table.column(column)
            if layer is not None:
                keep = table.column("layer") == layer
                x, y = x[keep], y[keep]
            else:
                x, y = x.copy(), y.copy()
        return decimate(x, y, max_points)

    def frame(self) -> HistoryFrame:
        """Per-step rows joined with the evaluation metrics at their steps (NaN where none)."""
        with self.lock:
            steps, evals = self.steps.frame(), self.evals.frame()
            events = list(self.events)
        # outer join: an evaluation after the last step (a finished run's final metrics) gets its own row
        if len(evals):
            df = steps.merge(evals, on="step", how="outer", suffixes=("", "_eval"))
            df["epoch"] = df["epoch"].fillna(df.pop("epoch_eval"))
        else:
            df = steps.assign(**{c: np.nan for c in EVAL_COLUMNS[2:]})
        for c in ("step",):
            df[c] = df[c].astype("int64")
        out = HistoryFrame(df)
        out.attrs["events"] = events
        return out

    def layer_frame(self) -> pd.DataFrame:
        with self.lock:
            df = self.layers.frame()
            names = list(self.layer_names)
        df["step"] = df["step"].astype("int64")
        df["layer"] = df["layer"].astype("int64")
        if names:
            df["name"] = [names[i] if i < len(names) else str(i) for i in df["layer"]]
        return df

    def eval_frame(self) -> pd.DataFrame:
        with self.lock:
            df = self.evals.frame()
        df["step"] = df["step"].astype("int64")
        return df

    def clear(self) -> None:
        with self.lock:
            self.steps, self.evals, self.layers = Table(STEP_COLUMNS), Table(EVAL_COLUMNS), Table(LAYER_COLUMNS)
            self.events = []
            self.version += 1

    # ---- checkpoint support (plain arrays and JSON-able lists) ---------------------------------------
    def state_dict(self) -> dict[str, Any]:
        with self.lock:
            return {"steps": self.steps.state(), "evals": self.evals.state(), "layers": self.layers.state(),
                    "events": list(self.events), "layer_names": list(self.layer_names)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with self.lock:
            self.steps = Table.from_state(STEP_COLUMNS, np.asarray(state["steps"]))
            self.evals = Table.from_state(EVAL_COLUMNS, np.asarray(state["evals"]))
            self.layers = Table.from_state(LAYER_COLUMNS, np.asarray(state["layers"]))
            self.events = list(state["events"])
            self.layer_names = list(state["layer_names"])
            self.version += 1


class HistoryFrame(pd.DataFrame):
    """A pandas DataFrame of the run's metrics with ``decimate`` and ``events`` added."""

    _metadata: list[str] = []

    @property
    def _constructor(self):
        return pd.DataFrame

    @property
    def events(self) -> pd.DataFrame:
        return pd.DataFrame(self.attrs.get("events", []), columns=["step", "field", "old", "new"])

    def decimate(self, column: str, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
        """(step, value) arrays of ``column`` with ≤ ``max_points`` points keeping extremes (NaNs dropped)."""
        if column not in self.columns:
            raise KeyError(f"no column {column!r}; columns: {', '.join(self.columns)}")
        return decimate(self["step"].to_numpy(float), self[column].to_numpy(float), max_points)


def decimate(x: np.ndarray, y: np.ndarray, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Min/max-per-bucket decimation: ≤ ``max_points`` points, each bucket's extremes kept in x order, and
    the last point where there is room for it.

    Non-finite y values are dropped first. For ``len(x) <= max_points`` the (finite) data is returned
    unchanged. One vectorised pass: O(n) time, O(max_points) output.
    """
    if max_points < 2:
        raise ValueError(f"max_points={max_points!r} must be ≥ 2")
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    finite = np.isfinite(y)
    if not finite.all():
        x, y = x[finite], y[finite]
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max_points // 2
    lo, hi = bucket_extremes(y, -(-n // buckets))  # ≤ `buckets` runs of ⌈n / buckets⌉ points
    xs, ys = extremes_in_order(x[lo], y[lo], x[hi], y[hi])
    if len(lo) < buckets and max(lo[-1], hi[-1]) != n - 1:  # room left: the curve reaches the last point
        xs, ys = np.append(xs, x[-1]), np.append(ys, y[-1])
    return xs, ys


def bucket_extremes(y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the lowest and the highest value in each run of ``size`` consecutive values of ``y`` (the
    last run may be shorter); ties keep the earlier index. One vectorised pass over finite ``y``.

    >>> bucket_extremes(np.array([3.0, 1.0, 2.0, 5.0, 4.0]), 2)
    (array([1, 2, 4]), array([0, 3, 4]))
    """
    n = len(y)
    k = -(-n // size)
    pad = k * size - n
    # a short last run is padded with its own last value: argmin/argmax return the first occurrence, a real index
    blocks = (np.concatenate([y, np.full(pad, y[-1])]) if pad else y).reshape(k, size)
    base = np.arange(k) * size
    return base + blocks.argmin(axis=1), base + blocks.argmax(axis=1)


def merge_extremes(first: Any, second: Any) -> np.ndarray:
    """The extremes of buckets ``first`` and ``second`` joined, each given as the rows ``(lo_x, lo_y, hi_x, hi_y)``
    (its lowest and highest point): shape (4,) for one bucket, (4, k) for elementwise pairs of buckets.
    ``second`` follows ``first``; ties keep ``first``'s point.

    >>> merge_extremes((0.0, 1.0, 1.0, 4.0), (2.0, 1.0, 3.0, 5.0))
    array([0., 1., 3., 5.])
    """
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    lo1, hi1 = first[1] <= second[1], first[3] >= second[3]
    return np.where(np.array([lo1, lo1, hi1, hi1]), first, second)


def extremes_in_order(lo_x: np.ndarray, lo_y: np.ndarray, hi_x: np.ndarray, hi_y: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The points of consecutive buckets' extremes as one curve: each bucket's two points in x order, one
    where its lowest and highest are the same point.

    >>> extremes_in_order(np.array([1.0, 2.0]), np.array([1.0, 2.0]), np.array([0.0, 2.0]), np.array([3.0, 2.0]))
    (array([0., 1., 2.]), array([3., 1., 2.]))
    """
    first_lo = lo_x <= hi_x
    p = np.where(first_lo, (lo_x, lo_y, hi_x, hi_y), (hi_x, hi_y, lo_x, lo_y))  # rows x1, y1, x2, y2
    x, y = p[0::2].T.ravel(), p[1::2].T.ravel()  # x1, x2 of each bucket in turn
    same = (p[0] == p[2]) & (p[1] == p[3])
    if same.any():
        keep = np.ones(len(x), dtype=bool)
        keep[1::2] = ~same
        x, y = x[keep], y[keep]
    return x, y
