"""Files that ship inside the package: the lecture notebooks.

In a wheel they live in ``nbtrain/notebooks`` (hatch ``force-include`` of the repository's ``notebooks/``);
in an editable install or a source checkout, in ``notebooks/`` beside the package.

>>> "00-quickstart.ipynb" in [p.name for p in notebook_paths()]
True
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def notebooks_dir() -> Path:
    """The folder holding the bundled ``*.ipynb`` notebooks."""
    for candidate in (_HERE / "notebooks", _HERE.parent / "notebooks"):
        if candidate.is_dir() and any(candidate.glob("*.ipynb")):
            return candidate
    raise FileNotFoundError(f"no bundled notebooks next to {_HERE} (looked in notebooks/ and ../notebooks/)")


def notebook_paths() -> list[Path]:
    """The bundled notebooks, sorted by name (``00-quickstart.ipynb`` first)."""
    return sorted(notebooks_dir().glob("*.ipynb"))


def copy_notebooks(dest: str | os.PathLike, names: list[str] | None = None, overwrite: bool = False) -> list[Path]:
    """Copy the bundled notebooks (or only ``names``) into ``dest`` (created if needed); returns the copies.

    Existing files are kept unless ``overwrite``: a reader's edits are never lost.

    >>> import tempfile
    >>> [p.name for p in copy_notebooks(tempfile.mkdtemp(), ["00-quickstart.ipynb"])]
    ['00-quickstart.ipynb']
    """
    available = {p.name: p for p in notebook_paths()}
    chosen = list(available) if names is None else list(names)
    unknown = [n for n in chosen if n not in available]
    if unknown:
        raise ValueError(f"unknown notebook(s) {', '.join(unknown)}; available: {', '.join(available)}")
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in chosen:
        out = target / name
        if overwrite or not out.exists():
            shutil.copyfile(available[name], out)
        copied.append(out)
    return copied
