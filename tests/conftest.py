"""Shared test settings."""

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
