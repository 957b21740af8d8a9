"""The training threads a test leaves behind. Import ``_no_leaked_threads`` into a test module to check, after
each of its tests, that every nbtrain thread has ended (within 2 s of a garbage collection)."""

import gc
import threading
import time

import pytest


def nbtrain_threads():
    return [t for t in threading.enumerate() if t.name.startswith("nbtrain")]


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    yield
    gc.collect()
    deadline = time.monotonic() + 2
    while nbtrain_threads() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not nbtrain_threads(), nbtrain_threads()
