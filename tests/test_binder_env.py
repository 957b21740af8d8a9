"""The Binder set-up, verified locally: a fresh virtualenv built from exactly the files in binder/ (their
requirements, then their postBuild, from a clean copy of the repository), in which the JupyterLab extension
is enabled and every notebook executes.

Slow (a few minutes, a fresh environment with torch and JupyterLab, a fresh npm install), so opt-in:
``NBTRAIN_BINDER_TEST=1 pytest tests/test_binder_env.py`` or ``make test-binder``.

The one substitution: Binder takes torch from PyTorch's CPU wheel index, which this machine cannot reach,
so a constraint picks the torch build here (``NBTRAIN_BINDER_TORCH``):

- ``cpu`` (default): the local ``torch==2.13.0+cpu`` wheel. PyPI's torchvision cannot load its compiled ops
  against it (on Binder both come from the CPU index and match), so the notebooks that need torchvision's
  ops are expected to fail *with exactly that error* here and are reported as xfail;
- ``registry``: the registry's standard ``torch===2.13.0`` + ``torchvision==0.28.0`` (constraints.txt's pair;
  ~5 GB): every notebook must pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODE = os.environ.get("NBTRAIN_BINDER_TORCH", "cpu")
TORCH_PINS = {"cpu": ["torch==2.13.0+cpu", "torchvision==0.28.0"],
              "registry": ["torch===2.13.0", "torchvision==0.28.0"]}
TORCHVISION_MISMATCH = "operator torchvision::nms does not exist"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

pytestmark = [
    pytest.mark.binder,
    pytest.mark.skipif(os.environ.get("NBTRAIN_BINDER_TEST") != "1",
                       reason="slow: set NBTRAIN_BINDER_TEST=1 (or run `make test-binder`)"),
]


def _run(cmd: list[str], log: Path, **kw) -> None:
    t0 = time.perf_counter()
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(map(str, cmd))}\n")
        f.flush()
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, **kw)
        f.write(f"[exit {proc.returncode} after {time.perf_counter() - t0:.0f} s]\n")
    if proc.returncode:
        tail = log.read_text()[-4000:]
        raise AssertionError(f"{cmd[:3]}… failed ({proc.returncode}); end of {log}:\n{tail}")


@pytest.fixture(scope="module")
def binder_env(tmp_path_factory):
    if MODE not in TORCH_PINS:
        pytest.fail(f"NBTRAIN_BINDER_TORCH={MODE!r}: use one of {', '.join(TORCH_PINS)}")
    work = tmp_path_factory.mktemp("binder")
    log = ROOT / "tests" / "artifacts" / "binder-env.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"binder env, torch mode {MODE}, in {work}\n")

    # a clean copy of the repository as Binder sees it: tracked + new files, nothing git ignores
    repo = work / "repo"
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)

    venv = work / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], log)
    home = work / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", HOME=str(home), VIRTUAL_ENV=str(venv),
               PIP_RETRIES="0")  # the CPU index is unreachable here: fail over to the next index at once
    pins = work / "torch-pins.txt"
    pins.write_text("\n".join(TORCH_PINS[MODE]) + "\n")

    t0 = time.perf_counter()
    _run([str(venv / "bin/python"), "-m", "pip", "install", "-r", str(repo / "binder/requirements.txt"),
          "-c", str(pins)], log, cwd=repo, env=env)
    _run(["bash", str(repo / "binder/postBuild")], log, cwd=repo, env=env)
    setup_s = time.perf_counter() - t0
    listing = subprocess.run([str(venv / "bin/jupyter"), "labextension", "list"], env=env, capture_output=True,
                             text=True, check=True)
    with open(log, "a") as f:
        f.write(f"\nenvironment ready in {setup_s:.0f} s\n{listing.stdout}{listing.stderr}")
    return {"venv": venv, "repo": repo, "env": env, "work": work, "log": log, "listing": listing}


def test_binder_env_enables_the_extension_and_opens_the_quickstart(binder_env):
    text = binder_env["listing"].stdout + binder_env["listing"].stderr
    line = next((ln for ln in text.splitlines() if ln.strip().startswith("nbtrain ")), "")
    assert "enabled" in line and "OK" in line, text
    config = (Path(binder_env["env"]["HOME"]) / ".jupyter/jupyter_server_config.py").read_text()
    assert "/lab/tree/notebooks/00-quickstart.ipynb" in config
    # the prebuilt extension came from the wheel: no node at run time, no `jupyter lab build` needed
    assert (binder_env["venv"] / "share/jupyter/labextensions/nbtrain/package.json").exists()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_binder_env_executes_notebook(binder_env, name):
    out = binder_env["work"] / "run"
    out.mkdir(exist_ok=True)
    shutil.copy2(binder_env["repo"] / "notebooks" / name, out / name)
    cmd = [str(binder_env["venv"] / "bin/jupyter"), "execute", "--kernel_name=python3", "--timeout=300",
           str(out / name)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=out, env=binder_env["env"], capture_output=True, text=True)
    with open(binder_env["log"], "a") as f:
        f.write(f"\n{name}: exit {proc.returncode} in {time.perf_counter() - t0:.0f} s\n{proc.stderr[-3000:]}\n")
    if proc.returncode and MODE == "cpu" and TORCHVISION_MISMATCH in proc.stderr:
        pytest.xfail("needs torchvision's compiled ops, which PyPI's torchvision cannot load against the local "
                     "+cpu torch (Binder's CPU index ships a matching pair); NBTRAIN_BINDER_TORCH=registry runs it")
    assert proc.returncode == 0, proc.stderr[-3000:]
