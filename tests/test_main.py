"""``python -m nbtrain notebooks DEST`` and nbtrain.resources: the lecture notebooks shipped with the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nbtrain.resources import copy_notebooks, notebook_paths

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_notebooks_are_the_repository_notebooks():
    assert [p.name for p in notebook_paths()] == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert notebook_paths()[0].name == "00-quickstart.ipynb"


def test_cli_copies_every_notebook(tmp_path):
    out = subprocess.run([sys.executable, "-m", "nbtrain", "notebooks", str(tmp_path / "lectures")],
                         capture_output=True, text=True, check=True).stdout.split()
    names = sorted(Path(p).name for p in out)
    assert names == [p.name for p in notebook_paths()]
    assert all((tmp_path / "lectures" / n).read_bytes() == (ROOT / "notebooks" / n).read_bytes() for n in names)


def test_copy_keeps_existing_files_unless_forced(tmp_path):
    mine = tmp_path / "00-quickstart.ipynb"
    mine.write_text("my edits")
    copy_notebooks(tmp_path, ["00-quickstart.ipynb"])
    assert mine.read_text() == "my edits"
    copy_notebooks(tmp_path, ["00-quickstart.ipynb"], overwrite=True)
    assert mine.read_text() != "my edits"


def test_unknown_names_are_refused_with_the_choices(tmp_path):
    with pytest.raises(ValueError, match=r"unknown notebook\(s\) nope.ipynb; available: 00-quickstart.ipynb"):
        copy_notebooks(tmp_path, ["nope.ipynb"])
    proc = subprocess.run([sys.executable, "-m", "nbtrain", "notebooks", str(tmp_path), "nope.ipynb"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "available:" in proc.stderr


def test_cli_lists_the_notebooks():
    out = subprocess.run([sys.executable, "-m", "nbtrain", "notebooks", "--list"], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [p.name for p in notebook_paths()]


# ---- symbolic links are never followed ----------------------------------------------------------------------
def test_dangling_symlink_is_refused_and_nothing_is_created_elsewhere(tmp_path):
    dest, elsewhere = tmp_path / "lectures", tmp_path / "elsewhere"
    dest.mkdir()
    elsewhere.mkdir()
    (dest / "00-quickstart.ipynb").symlink_to(elsewhere / "created.ipynb")  # dangling
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="symbolic link"):
            copy_notebooks(dest, ["00-quickstart.ipynb"], overwrite=overwrite)
    assert list(elsewhere.iterdir()) == []
    proc = subprocess.run([sys.executable, "-m", "nbtrain", "notebooks", str(dest), "00-quickstart.ipynb", "--force"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "symbolic link" in proc.stderr
    assert list(elsewhere.iterdir()) == []


def test_force_never_overwrites_a_links_target(tmp_path):
    dest = tmp_path / "lectures"
    dest.mkdir()
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    (dest / "00-quickstart.ipynb").symlink_to(precious)
    with pytest.raises(ValueError, match="symbolic link"):
        copy_notebooks(dest, None, overwrite=True)
    assert precious.read_text() == "keep me"
    assert sorted(p.name for p in dest.iterdir()) == ["00-quickstart.ipynb"]


def test_force_replaces_files_atomically_and_leaves_no_temp_files(tmp_path):
    copy_notebooks(tmp_path, ["00-quickstart.ipynb"])
    (tmp_path / "00-quickstart.ipynb").write_text("edited")
    copy_notebooks(tmp_path, ["00-quickstart.ipynb"], overwrite=True)
    assert (tmp_path / "00-quickstart.ipynb").read_bytes() == (ROOT / "notebooks" / "00-quickstart.ipynb").read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["00-quickstart.ipynb"]
