"""The layers' import rules (docs/architecture.md): the core (nbtrain.engine) is plain PyTorch + traitlets and
imports neither the tuning layer nor the UI; the tuning layer (nbtrain.tuning) imports the core, never the UI.

Checked twice: statically (every ``import`` statement in the files, including those inside functions) and
dynamically (importing every module of a layer in a fresh interpreter and looking at ``sys.modules``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nbtrain

PKG = Path(nbtrain.__file__).parent
UI_LIBS = ("ipywidgets", "bqplot", "bqscales", "ipykernel", "IPython")
FORBIDDEN = {
    "engine": ("nbtrain.ui", "nbtrain.tuning", "nbtrain.demos", *UI_LIBS),
    "tuning": ("nbtrain.ui", "nbtrain.demos", *UI_LIBS),
}
MAX_LINES = 800


def _modules(layer: str) -> list[str]:
    root = PKG / layer
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append(".".join(parts))
    return out


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path`` (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
            if node.module is None or node.level:  # `from . import ui` names modules too
                found += [(node.lineno, f"{name}.{a.name}") for a in node.names]
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it_statically(layer):
    bad = []
    for path in sorted((PKG / layer).rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        module = ".".join(p for p in rel.parts if p != "__init__")
        for line, name in _imports(path, module):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it_when_loaded(layer):
    mods = _modules(layer)
    code = (
        "import importlib, json, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=True)
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    bad = [m for m in loaded if any(m == f or m.startswith(f + ".") for f in FORBIDDEN[layer])]
    assert not bad, f"importing nbtrain.{layer} loaded {bad}"


def test_no_module_is_longer_than_one_idea_needs():
    long = {str(p.relative_to(PKG.parent)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, long
