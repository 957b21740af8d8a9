"""Shared fixtures for the widget-state tests: they run without a kernel or browser (widgets get a dummy
comm), build small models, and check that no nbtrain thread outlives a test."""

import gc

import ipywidgets as widgets
import pytest
from ui_helpers import FAST, UI_OPTIONS, nbtrain_threads, wait_until

import nbtrain as nt


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    yield
    gc.collect()
    assert wait_until(lambda: not nbtrain_threads(), timeout=5), nbtrain_threads()


@pytest.fixture
def make_lab():
    """``make_lab(**kw)`` builds a Lab on a small spiral net; every Lab (and its trainer) is closed afterwards."""
    labs = []

    def make(**kw):
        params = {**FAST, **kw}
        if "trainer" in params:
            params = {k: v for k, v in params.items() if k in UI_OPTIONS}
        lab = nt.Lab(**params)
        labs.append(lab)
        return lab

    yield make
    for lab in labs:
        lab.close()
        lab.trainer.close()


@pytest.fixture
def sent(monkeypatch):
    """Records every comm message any widget sends: a list of (widget, message) pairs."""
    log = []
    original = widgets.Widget._send

    def recording_send(self, msg, buffers=None):
        log.append((self, msg))
        return original(self, msg, buffers=buffers)

    monkeypatch.setattr(widgets.Widget, "_send", recording_send)
    return log
