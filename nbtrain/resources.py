"""Files that ship inside the package: the lecture notebooks.

In a wheel they live in ``nbtrain/notebooks`` (hatch ``force-include`` of the repository's ``notebooks/``);
in an editable install or a source checkout, in ``notebooks/`` beside the package.

>>> "00-quickstart.ipynb" in [p.name for p in notebook_paths()]
True
"""

from __future__ import annotations

import contextlib
import os
import tempfile
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


def _write_new(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data``; fails if anything (a file, a dangling symlink) is already there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to a fresh temporary file beside ``path``, then ``os.replace`` it over ``path``
    (which replaces a directory entry, never writes through a link)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def copy_notebooks(dest: str | os.PathLike, names: list[str] | None = None, overwrite: bool = False) -> list[Path]:
    """Copy the bundled notebooks (or only ``names``) into ``dest`` (created if needed); returns the copies.

    Existing files are kept unless ``overwrite``: a reader's edits are never lost. Symbolic links are
    never followed: a link (dangling or not) where a notebook would go is refused with ``ValueError``; new
    files are created with ``O_EXCL | O_NOFOLLOW``, and ``overwrite`` writes a temporary file and
    ``os.replace``-s it, so nothing outside ``dest`` is created or changed.

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
    if target.is_symlink() and not target.exists():
        raise ValueError(f"{target} is a dangling symbolic link, not a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"{target} exists and is not a folder") from None
    links = [n for n in chosen if (target / n).is_symlink()]
    if links:
        raise ValueError(f"refusing to write through symbolic link(s) {', '.join(str(target / n) for n in links)}; "
                         "remove them or choose another folder")
    dirs = [n for n in chosen if (target / n).is_dir()]
    if dirs:
        raise ValueError(f"{', '.join(str(target / n) for n in dirs)}: a folder is in the way of a notebook")
    copied = []
    for name in chosen:
        out = target / name
        data = available[name].read_bytes()
        if overwrite:
            _replace(out, data)
        else:
            try:
                _write_new(out, data)
            except FileExistsError:  # the reader's own copy: kept
                if out.is_symlink():  # appeared meanwhile
                    raise ValueError(f"refusing to write through symbolic link {out}") from None
        copied.append(out)
    return copied
