"""Dependency floors (pyproject.toml, binder/requirements.txt): no torch whose weights_only loading can run
code, no Voilà/JupyterLab release with known advisories — and constraints.txt's tested pair still fits."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

ROOT = Path(__file__).resolve().parents[1]


def _reqs() -> dict[str, list[Requirement]]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(meta["dependencies"]) + [r for extra in meta["optional-dependencies"].values() for r in extra]
    lines += [ln for ln in (ROOT / "binder/requirements.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith(("#", "-"))]
    out: dict[str, list[Requirement]] = {}
    for line in lines:
        r = Requirement(line)
        out.setdefault(r.name.lower(), []).append(r)
    return out


@pytest.mark.parametrize("name, unsafe, tested", [
    ("torch", ["2.2.0", "2.5.1", "2.9.1"], "2.13.0"),
    ("torchvision", ["0.17.0", "0.24.1"], "0.28.0"),
    ("voila", ["0.5.0", "0.5.5"], "0.5.13"),
    ("jupyterlab", ["4.0.0", "4.0.10", "4.5.9", "4.6.1"], "4.6.6"),
])
def test_floors_exclude_unsafe_releases_and_admit_the_tested_pair(name, unsafe, tested):
    reqs = _reqs()[name]
    for r in reqs:
        assert not any(r.specifier.contains(Version(v), prereleases=True) for v in unsafe), (str(r), unsafe)
        assert r.specifier.contains(Version(tested)), (str(r), tested)


def test_constraints_pins_satisfy_the_floors():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower()] = version.lstrip("=").strip()
    assert pins["torch"] == "2.13.0" and pins["torchvision"] == "0.28.0"
    for name, version in pins.items():
        for r in _reqs().get(name, []):
            assert r.specifier.contains(Version(version)), (str(r), version)


def test_old_torch_is_refused_before_any_weights_file_is_read():
    from nbtrain.tuning.transfer import check_safe_torch

    for v in ("2.2.0", "2.5.1+cpu", "2.9.1"):
        with pytest.raises(RuntimeError, match="cannot load shared weight files safely"):
            check_safe_torch(v)
    check_safe_torch("2.10.0")
    check_safe_torch("2.13.0+cpu")
