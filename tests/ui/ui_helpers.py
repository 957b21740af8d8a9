"""Helpers for the widget-state tests (imported by conftest.py and the test modules)."""

import threading
import time

FAST = dict(data="spiral", hidden=[16, 16], n_samples=300, lr=0.3, seed=0, stats_every=5, device="cpu")
UI_OPTIONS = ("trainer", "interval", "max_points", "close_stops", "boundary_interval", "boundary_resolution")


def nbtrain_threads():
    return [t for t in threading.enumerate() if t.name.startswith("nbtrain")]


def wait_until(predicate, timeout=20.0, interval=0.02):
    """Poll ``predicate`` until true (generous timeout: the test machine is shared and slow)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
