"""Bounded streaming from a :class:`~nbtrain.engine.history.History` to the browser.

Three small pieces, all free of widgets:

- :class:`StreamDecimator` keeps a min/max decimation of a growing series and updates it with the new
  points only, so a publish costs O(new points + cap) instead of a pass over the whole history; the
  output never exceeds ``max_points`` (each bucket keeps its minimum and maximum, like
  ``History.decimate``);
- :class:`TableFeed` reads, under the history lock, the rows appended to one table since the last read
  (and notices when the history was cleared or replaced);
- :class:`Publisher` is the one thread that calls a view's ``publish()`` about ten times a second. It is
  throttled by elapsed time, holds the view only weakly, never prints, and backs off when publishing is
  expensive (at most ~5 % of one core).

>>> import numpy as np
>>> d = StreamDecimator(max_points=100)
>>> for start in range(0, 100_000, 1000):
...     x = np.arange(start, start + 1000.0); _ = d.extend(x, np.sin(x / 5e3))
>>> x, y = d.arrays(); len(x) <= 100, float(y.max()) == float(np.sin(np.arange(100_000) / 5e3).max())
(True, True)
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


class StreamDecimator:
    """Min/max decimation of an append-only series (x increasing), updated incrementally.

    Points are grouped into buckets of ``size`` consecutive points (a power of two); each bucket keeps
    its lowest and highest point. When there are more than twice as many buckets as fit under
    ``max_points``, neighbours are merged and ``size`` doubles. On output, neighbouring buckets are
    paired where needed so that the result uses nearly all of ``max_points`` at any length: a min/max
    decimation with buckets of ``size`` or ``2·size`` points, plus the latest point (a live curve always
    reaches the current step). Non-finite y values are skipped (a NaN loss must not blank the curve).

    >>> d = StreamDecimator(max_points=10)
    >>> d.extend([0, 1, 2], [3.0, 1.0, 2.0])
    True
    >>> d.arrays()
    (array([0., 1., 2.]), array([3., 1., 2.]))
    """

    def __init__(self, max_points: int = 1000):
        if int(max_points) < 5:
            raise ValueError(f"max_points={max_points!r} must be an integer ≥ 5")
        self.max_points = int(max_points)
        # shown: 2 points per bucket, + a partial bucket, + the latest point ≤ max_points;
        # kept: up to twice as many buckets, paired on output
        self._out_buckets = (self.max_points - 3) // 2
        self._max_buckets = 2 * self._out_buckets
        self.clear()

    def clear(self) -> None:
        """Forget everything (the history was cleared)."""
        self.size = 1
        self.count = 0  # finite points seen
        empty = np.empty(0)
        self._b = [empty, empty, empty, empty]  # lo_x, lo_y, hi_x, hi_y of complete buckets
        self._part: list[float] | None = None  # [lo_x, lo_y, hi_x, hi_y] of the partial bucket
        self._part_n = 0
        self._last: tuple[float, float] | None = None
        self.changed = True

    def extend(self, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> bool:
        """Add points (x must continue increasing). Returns True if anything was added."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        finite = np.isfinite(y)
        if not finite.all():
            x, y = x[finite], y[finite]
        if not len(y):
            return False
        self.count += len(y)
        self.changed = True
        self._last = (float(x[-1]), float(y[-1]))
        while (len(y) + self._part_n) // self.size > 2 * self._max_buckets:
            self._halve()  # a big batch of points: coarsen first instead of making tiny buckets
        i = 0
        if self._part_n:  # top up the partial bucket first
            i = min(self.size - self._part_n, len(y))
            self._part = _merge_summary(self._part, _summary(x[:i], y[:i]))
            self._part_n += i
            if self._part_n == self.size:
                self._push(*(np.array([v]) for v in self._part))
                self._part, self._part_n = None, 0
        x, y = x[i:], y[i:]
        k = len(y) // self.size
        if k:
            s = self.size
            blocks = y[: k * s].reshape(k, s)
            base = np.arange(k) * s
            lo = base + blocks.argmin(axis=1)
            hi = base + blocks.argmax(axis=1)
            self._push(x[lo], y[lo], x[hi], y[hi])
        if len(y) > k * self.size:
            self._part = _summary(x[k * self.size :], y[k * self.size :])
            self._part_n = len(y) - k * self.size
        while len(self._b[0]) > self._max_buckets:
            self._halve()
        return True

    def _push(self, lo_x: np.ndarray, lo_y: np.ndarray, hi_x: np.ndarray, hi_y: np.ndarray) -> None:
        self._b = [np.concatenate([a, b]) for a, b in zip(self._b, (lo_x, lo_y, hi_x, hi_y))]

    def _halve(self) -> None:
        """Merge neighbouring buckets pairwise; an odd last bucket joins the partial one."""
        lo_x, lo_y, hi_x, hi_y = self._b
        n = len(lo_x)
        pairs = n // 2
        a, b = slice(0, 2 * pairs, 2), slice(1, 2 * pairs, 2)
        take_a_lo = lo_y[a] <= lo_y[b]
        take_a_hi = hi_y[a] >= hi_y[b]
        merged = [np.where(take_a_lo, lo_x[a], lo_x[b]), np.where(take_a_lo, lo_y[a], lo_y[b]),
                  np.where(take_a_hi, hi_x[a], hi_x[b]), np.where(take_a_hi, hi_y[a], hi_y[b])]
        if n % 2:
            last = [lo_x[-1], lo_y[-1], hi_x[-1], hi_y[-1]]
            self._part = _merge_summary(last, self._part) if self._part_n else last
            self._part_n += self.size
        self._b = merged
        self.size *= 2

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the decimated series in x order, at most ``max_points`` long."""
        lo_x, lo_y, hi_x, hi_y = self._b
        c, t = len(lo_x), self._out_buckets
        if c > t:  # pair neighbours (groups of 1 or 2 buckets) down to t buckets
            start = np.linspace(0, c, t + 1).astype(np.int64)
            first, second = start[:-1], start[1:] - 1
            lo2, hi2 = lo_y[second] < lo_y[first], hi_y[second] > hi_y[first]
            lo_x, lo_y = np.where(lo2, lo_x[second], lo_x[first]), np.where(lo2, lo_y[second], lo_y[first])
            hi_x, hi_y = np.where(hi2, hi_x[second], hi_x[first]), np.where(hi2, hi_y[second], hi_y[first])
        if self._part_n:
            lo_x, lo_y, hi_x, hi_y = (np.append(arr, v) for arr, v in zip((lo_x, lo_y, hi_x, hi_y), self._part))
        first_lo = lo_x <= hi_x
        x1, y1 = np.where(first_lo, lo_x, hi_x), np.where(first_lo, lo_y, hi_y)
        x2, y2 = np.where(first_lo, hi_x, lo_x), np.where(first_lo, hi_y, lo_y)
        x = np.stack([x1, x2], axis=1).ravel()
        y = np.stack([y1, y2], axis=1).ravel()
        keep = np.ones(len(x), dtype=bool)
        keep[1::2] = x2 != x1  # a bucket whose min and max are one point
        x, y = x[keep], y[keep]
        if self._last is not None and (not len(x) or x[-1] != self._last[0]):
            x, y = np.append(x, self._last[0]), np.append(y, self._last[1])  # the curve reaches "now"
        return x, y

    def __len__(self) -> int:
        return len(self.arrays()[0])


def _summary(x: np.ndarray, y: np.ndarray) -> list[float]:
    lo, hi = int(np.argmin(y)), int(np.argmax(y))
    return [float(x[lo]), float(y[lo]), float(x[hi]), float(y[hi])]


def _merge_summary(first: list[float], second: list[float]) -> list[float]:
    """Summary of two consecutive runs of points (ties keep the earlier point)."""
    lo = first[:2] if first[1] <= second[1] else second[:2]
    hi = first[2:] if first[3] >= second[3] else second[2:]
    return [*lo, *hi]


class TableFeed:
    """Hands out the rows appended to one History table since the previous ``read``.

    ``read(history)`` returns ``(restarted, {column: new values})``; ``restarted`` is True when the
    table was replaced (``History.clear()`` on reset, ``load_state_dict``) or shrank, and then the
    values are the whole new table.

    >>> from nbtrain.engine.history import History
    >>> h = History(); feed = TableFeed("steps", ("step", "train_loss"))
    >>> h.log_step(0, 0.0, 0.0, 1.5, 0.1)
    >>> feed.read(h)
    (True, {'step': array([0.]), 'train_loss': array([1.5])})
    >>> h.log_step(1, 0.0, 0.0, 1.2, 0.1); feed.read(h)[1]["train_loss"]
    array([1.2])
    """

    def __init__(self, table: str, columns: Sequence[str]):
        self.table = table
        self.columns = tuple(columns)
        self._source: Any = None
        self._n = 0

    def read(self, history: Any) -> tuple[bool, dict[str, np.ndarray]]:
        with history.lock:
            table = getattr(history, self.table)
            n = table.n
            restarted = table is not self._source or n < self._n
            start = 0 if restarted else self._n
            out = {c: np.array(table.column(c)[start:n], dtype=float) for c in self.columns}
            self._source, self._n = table, n
        return restarted, out


class Publisher:
    """One daemon thread calling ``target()`` every ``interval`` seconds until :meth:`stop`.

    ``target`` is held through a weak reference (a bound method's object may be collected; the thread
    then ends). The pause after each call is ``max(interval, cost / budget)`` where ``cost`` is the
    call's CPU time, so publishing never takes more than ``budget`` of a core. Exceptions are kept in
    ``last_error`` (a background thread must not print) and counted in ``errors``.

    >>> calls = []
    >>> class View:
    ...     def tick(self): calls.append(1)
    >>> v = View(); p = Publisher(v.tick, interval=0.01).start(); time.sleep(0.2); p.stop()
    >>> len(calls) > 2, p.alive
    (True, False)
    """

    def __init__(self, target: Callable[[], Any], interval: float = 0.1, *, budget: float = 0.05,
                 name: str = "nbtrain-publisher"):
        if not interval > 0:
            raise ValueError(f"interval={interval!r} must be a number of seconds > 0")
        self.interval = float(interval)
        self.budget = float(budget)
        self._target = weakref.WeakMethod(target) if hasattr(target, "__self__") else (lambda: target)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.calls = 0
        self.errors = 0
        self.last_error: BaseException | None = None
        self.last_cost = 0.0  # CPU seconds of the last call
        self.cpu_total = 0.0  # CPU seconds of all calls (bench/overhead.py: the publisher's share of a core)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end and wait for it (unless called from the thread itself)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = self.interval
        while not self._stop.wait(delay):
            fn = self._target()
            if fn is None:
                return
            t0 = time.thread_time()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - kept for inspection; a thread must not print
                self.errors += 1
                self.last_error = exc
            del fn
            self.calls += 1
            self.last_cost = time.thread_time() - t0
            self.cpu_total += self.last_cost
            delay = max(self.interval, self.last_cost / self.budget)
