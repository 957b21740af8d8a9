"""Bounded streaming from a :class:`~nbtrain.engine.history.History` to the browser.

Three small pieces, all free of widgets:

- :class:`StreamDecimator` keeps a min/max decimation of a growing series and updates it with the new
  points only, so a publish costs O(new points + cap) instead of a pass over the whole history; the
  output never exceeds ``max_points`` (each bucket keeps its minimum and maximum: the same steps as
  :func:`nbtrain.engine.history.decimate`, from that module);
- :class:`TableFeed` reads, under the history lock, the rows appended to one table since the last read
  (and notices when the history was cleared or replaced);
- :class:`Publisher` is the one thread that calls a view's ``publish()`` about ten times a second. It is
  throttled by elapsed time, holds the view only weakly, never prints, and backs off when publishing is
  expensive (at most ``budget`` of one core: 5 % unless told).

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

from ..engine.history import bucket_extremes, extremes_in_order, merge_extremes


class StreamDecimator:
    """Min/max decimation of an append-only series (x increasing), updated incrementally.

    Points are grouped into buckets of ``size`` consecutive points (a power of two); each bucket keeps
    its lowest and highest point. When there are more than twice as many buckets as fit under
    ``max_points``, neighbours are merged and ``size`` doubles. On output, neighbouring buckets are
    paired where needed so that the result uses nearly all of ``max_points`` at any length: a min/max
    decimation with buckets of ``size`` or ``2·size`` points, plus the latest point (a live curve always
    reaches the current step). Non-finite y values are skipped (a NaN loss must not blank the curve).

    The complete buckets live in one ``(4, capacity)`` array (rows lo_x, lo_y, hi_x, hi_y), so an update and
    an output are a handful of whole-array numpy calls, whatever the bucket count (a publisher calls both
    for every series about ten times a second).

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
        self._edges = np.arange(self._out_buckets + 1)  # × count // out_buckets: the output's pairing
        self.clear()

    def clear(self) -> None:
        """Forget everything (the history was cleared)."""
        self.size = 1
        self.count = 0  # finite points seen
        self._b = np.empty((4, 2 * self._max_buckets + 2))  # lo_x, lo_y, hi_x, hi_y of the complete buckets
        self._c = 0  # complete buckets in _b
        self._part: np.ndarray | None = None  # (lo_x, lo_y, hi_x, hi_y) of the partial bucket
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
        while (len(y) + self._part_n) // self.size > self._max_buckets:
            self._halve()  # a big batch of points: coarsen first instead of making tiny buckets
        i = 0
        if self._part_n:  # top up the partial bucket first
            i = min(self.size - self._part_n, len(y))
            self._part = merge_extremes(self._part, _extremes(x[:i], y[:i]))
            self._part_n += i
            if self._part_n == self.size:
                self._push(self._part[:, None])
                self._part, self._part_n = None, 0
        x, y = x[i:], y[i:]
        if len(y):  # whole buckets of the rest, and a partial one at its end
            if self.size == 1:  # each point its own bucket (a series shorter than the cap, evaluations): as it came
                b = np.stack([x, y, x, y])
            else:
                lo, hi = bucket_extremes(y, self.size)
                b = np.stack([x[lo], y[lo], x[hi], y[hi]])
            whole = len(y) // self.size
            if whole:
                self._push(b[:, :whole])
            if whole < b.shape[1]:
                self._part = b[:, -1].copy()
                self._part_n = len(y) - whole * self.size
        while self._c > self._max_buckets:
            self._halve()
        return True

    def _push(self, block: np.ndarray) -> None:
        c, k = self._c, block.shape[1]
        if c + k > self._b.shape[1]:
            grown = np.empty((4, 2 * (c + k)))
            grown[:, :c] = self._b[:, :c]
            self._b = grown
        self._b[:, c : c + k] = block
        self._c = c + k

    def _halve(self) -> None:
        """Merge neighbouring buckets pairwise; an odd last bucket joins the partial one."""
        c = self._c
        pairs = c // 2
        if c % 2:
            last = self._b[:, c - 1].copy()
            self._part = merge_extremes(last, self._part) if self._part_n else last
            self._part_n += self.size
        self._b[:, :pairs] = merge_extremes(self._b[:, 0 : 2 * pairs : 2], self._b[:, 1 : 2 * pairs : 2])
        self._c = pairs
        self.size *= 2

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of the decimated series in x order, at most ``max_points`` long."""
        c, t = self._c, self._out_buckets
        b = self._b[:, :c]
        if self.size == 1 and c <= t:  # every point so far, each its own bucket (lo = hi): the series as it came
            return b[0].copy(), b[1].copy()
        if c > t:  # pair neighbours (groups of 1 or 2 buckets) down to t buckets
            start = self._edges * c // t
            b = merge_extremes(b[:, start[:-1]], b[:, start[1:] - 1])
        if self._part_n:
            b = np.concatenate([b, self._part[:, None]], axis=1)
        x, y = extremes_in_order(*b)
        if self._last is not None and (not len(x) or x[-1] != self._last[0]):
            x, y = np.append(x, self._last[0]), np.append(y, self._last[1])  # the curve reaches "now"
        return x, y

    def __len__(self) -> int:
        return len(self.arrays()[0])


def _extremes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(lo_x, lo_y, hi_x, hi_y) of a run of points: one bucket."""
    lo, hi = (int(i[0]) for i in bucket_extremes(y, len(y)))
    return np.array([x[lo], y[lo], x[hi], y[hi]])


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
            out = dict(zip(self.columns, table.block(self.columns, start)))
            self._source, self._n = table, n
        return restarted, out


class Publisher:
    """One daemon thread calling ``target()`` every ``interval`` seconds until :meth:`stop`.

    ``target`` is held through a weak reference (a bound method's object may be collected; the thread
    then ends). The pause after each call is ``max(interval, cost / budget)`` where ``cost`` is the
    calls' CPU time, averaged over the last few (an exponential average, weight 0.25 for the newest: one
    expensive call, a diagnosis, slows the next few a little instead of stalling the view), so publishing
    takes about ``budget`` of a core at most. Exceptions are kept in ``last_error`` (a background thread must
    not print) and counted in ``errors``.

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
        self.avg_cost = 0.0  # CPU seconds per call, exponentially averaged (what the pause is made from)
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
            self.avg_cost = self.last_cost if self.calls == 1 else 0.75 * self.avg_cost + 0.25 * self.last_cost
            delay = max(self.interval, self.avg_cost / self.budget)
