"""Shared test settings."""

import fnmatch

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Every test model is tiny: one intra-op thread is fastest and immune to spinning OpenMP workers on a
    busy 2-core CI machine (it only sets the test runner's own thread; training threads choose their own)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def pytest_ignore_collect(collection_path, config):
    """Collect only test files here. pyproject's ``--doctest-modules`` is for the examples in nbtrain/'s
    docstrings; without this it would also import every other .py file under tests/ to look for examples,
    and the conftest.py files of tests/, tests/ui/ and tests/browser/ clash as modules of the same name."""
    if collection_path.suffix == ".py" and not any(
        fnmatch.fnmatch(collection_path.name, pattern) for pattern in config.getini("python_files")
    ):
        return True
    return None
