"""The wheel that ``pip install .`` builds carries the prebuilt JupyterLab extension (package.json, static
assets, settings schemas) under share/jupyter/labextensions/nbtrain, and the lecture notebooks as package data.

Building it runs the real build (hatch-jupyter-builder → npm install → tsc → jupyter-builder) in pip's
isolated build environment, as a user's ``pip install .`` does.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import nbtrain

ROOT = Path(__file__).resolve().parents[1]
DATA = f"nbtrain-{nbtrain.__version__}.data/data/share/jupyter/labextensions/nbtrain/"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    if shutil.which("npm") is None:
        pytest.skip("building the wheel needs Node.js/npm")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(out), "-q"],
                   check=True, cwd=out)
    (path,) = out.glob("nbtrain-*.whl")
    with zipfile.ZipFile(path) as zf:
        yield zf


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_carries_the_prebuilt_labextension(wheel):
    names = set(wheel.namelist())
    package = json.loads(wheel.read(DATA + "package.json"))
    assert package["name"] == "nbtrain" and package["version"] == nbtrain.__version__
    assert package["jupyterlab"]["_build"]["load"].startswith("static/remoteEntry.")
    assert DATA + package["jupyterlab"]["_build"]["load"] in names
    assert DATA + "static/style.js" in names
    assert {DATA + "schemas/nbtrain/lecture.json", DATA + "schemas/nbtrain/transport.json"} <= names
    assert json.loads(wheel.read(DATA + "install.json"))["packageName"] == "nbtrain"
    static = [n for n in names if n.startswith(DATA + "static/") and n.endswith(".js")]
    code = "".join(wheel.read(n).decode() for n in static)
    for needle in ("nbtrain:toggle-lecture-mode", "nbtrain:toggle-training", "nbtrain-statusbar", "00-quickstart"):
        assert needle in code, needle  # the plugins, and the notebooks bundled for the launcher cards
    assert not any("node_modules" in n for n in names)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_carries_the_notebooks_as_package_data(wheel):
    bundled = sorted(n.split("/")[-1] for n in wheel.namelist() if re.fullmatch(r"nbtrain/notebooks/[^/]+\.ipynb", n))
    assert bundled == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert "nbtrain/__main__.py" in wheel.namelist()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_carries_the_scripts_lab_export_inlines(wheel):
    names = set(wheel.namelist())
    assert {"nbtrain/export_assets/embed-amd.js", "nbtrain/export_assets/require.js"} <= names
    assert b'define("@jupyter-widgets/html-manager"' in wheel.read("nbtrain/export_assets/embed-amd.js")
    code = "".join(wheel.read(n).decode() for n in names if n.startswith(DATA + "static/") and n.endswith(".js"))
    assert "nbtrain:next-cue" in code


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_wheel_carries_the_voila_template_and_its_icon_font(wheel):
    """`voila --template=nbtrain`: Voilà's lab template with Font Awesome served by the server, not a CDN."""
    names = set(wheel.namelist())
    tpl = f"nbtrain-{nbtrain.__version__}.data/data/share/jupyter/voila/templates/nbtrain/"
    assert {tpl + "conf.json", tpl + "index.html.j2", tpl + "static/fontawesome/css/all.min.css",
            tpl + "static/fontawesome/webfonts/fa-solid-900.woff2", tpl + "static/fontawesome/LICENSE.txt"} <= names
    page = wheel.read(tpl + "index.html.j2").decode()
    assert "extends 'voila/templates/lab/index.html.j2'" in page and "static/fontawesome/css/all.min.css" in page
    css = wheel.read(tpl + "static/fontawesome/css/all.min.css").decode()
    urls = re.findall(r"url\(([^)]*)\)", css)  # every font the stylesheet loads comes from the template itself
    assert "../webfonts/fa-solid-900.woff2" in urls and all(u.startswith("../webfonts/") for u in urls), urls
