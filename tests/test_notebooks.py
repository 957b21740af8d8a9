"""Every notebook in notebooks/ executes top to bottom with nbclient (headless, CPU, no downloads: the kernel
runs with NBTRAIN_OFFLINE=1)."""

import pathlib
import time

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
BUDGET_S = {"00-quickstart.ipynb": 60}  # the budgets; the others must stay under 120 s


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    monkeypatch.setenv("NBTRAIN_OFFLINE", "1")  # cells that would download (MNIST, CIFAR-10) skip themselves
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "kernelspec metadata avoids a kernel dialog"
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "notebooks are stored without outputs"
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    elapsed = time.perf_counter() - t0
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert elapsed < BUDGET_S.get(path.name, 120), f"{path.name} took {elapsed:.0f} s"
