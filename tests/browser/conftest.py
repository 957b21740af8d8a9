"""Real-browser harness: Jupyter servers on 127.0.0.1 (free port, token) driven by Debian's Chromium through
Python Playwright.

- Every server gets fresh temporary config/settings/workspace/runtime folders and a temporary root folder
  holding a copy of the notebooks, and is always shut down (SIGTERM, then SIGKILL of it and every process it
  started, kernels included), even when a test fails.
- Screenshots go to ``tests/artifacts/browser/`` (git-ignored); a failing test also leaves
  ``FAILED-<test>.png`` and the server's log there.
- Without ``/usr/bin/chromium`` the tests are skipped, unless ``NBTRAIN_REQUIRE_BROWSER=1`` (``make test``
  installs Chromium and sets it) turns that into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pages import ARTIFACTS, ROOT

NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = os.environ.get("NBTRAIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic", "--headless"]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 90


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        page = item.funcargs.get("page") if hasattr(item, "funcargs") else None
        if page is not None and not page.is_closed():
            try:
                page.screenshot(path=str(ARTIFACTS / f"FAILED-{item.name}.png"))
            except Exception:  # noqa: BLE001 - best effort
                pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One Jupyter server process (lab, notebook or voila) with its own temporary Jupyter folders."""

    def __init__(self, name: str, argv: list[str], tmp: Path, port: int, token: str, ready_path: str):
        self.name, self.port, self.token = name, port, token
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = ARTIFACTS / f"server-{name}.log"
        env = dict(os.environ)
        for key, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                         ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
            env[key] = str(tmp / sub)
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        env.pop("JUPYTER_PLATFORM_DIRS", None)
        self.settings_dir = tmp / "settings"
        self.config_dir = tmp / "config"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=tmp, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready(ready_path)

    def _wait_ready(self, path: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f"{self.url}{path}"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; log: {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        self.ready_s = time.monotonic() - self.started
                        return
            except urllib.error.HTTPError as exc:  # it answers: listening (voila has no /api/status)
                if exc.code in (403, 404):
                    self.ready_s = time.monotonic() - self.started
                    return
            except OSError:
                pass
            time.sleep(0.2)  # polling a socket that is not listening yet: nothing to wait on
        self.stop()
        raise RuntimeError(f"{self.name} not ready at {url} within {START_TIMEOUT_S} s; log: {self.log_path}")

    def api(self, path: str) -> object:
        with urllib.request.urlopen(f"{self.url}{path}?token={self.token}", timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL whatever it started that is still alive."""
        import psutil

        try:
            family = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            family = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        for p in family:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=5)
        if self.proc.poll() is None:
            self.proc.wait(5)
        self._log.close()


@pytest.fixture(scope="session", autouse=True)
def _artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("NBTRAIN_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium); NBTRAIN_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium, or `make test`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, device_scale_factor=1)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    messages: list[str] = []
    pg.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
    pg.console_messages = messages  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()


def _root_with_notebooks(tmp: Path) -> Path:
    root = tmp / "root"
    root.mkdir()
    for nb in NOTEBOOKS.glob("*.ipynb"):
        shutil.copyfile(nb, root / nb.name)
    return root


def _server_flags(root: Path, port: int, token: str, app: str = "LabApp") -> list[str]:
    flags = ["--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
             "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             f"--{app}.expose_app_in_browser=True"]
    return flags + (["--LabApp.news_url="] if app == "LabApp" else [])


def _quiet_settings(tmp: Path) -> None:
    """User settings that keep toasts (news, update checks) from covering what the tests click."""
    folder = tmp / "settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                          "checkForUpdates": False}))


@pytest.fixture
def jupyter_lab(tmp_path: Path) -> Iterator[Server]:
    """A real ``jupyter lab`` (the README's lab command, headless) on a free port with a token."""
    root = _root_with_notebooks(tmp_path)
    _quiet_settings(tmp_path)
    port, token = free_port(), uuid.uuid4().hex
    server = Server("lab", [str(BIN / "jupyter-lab"), *_server_flags(root, port, token)], tmp_path, port, token,
                    "/api/status?token=" + token)
    server.root = root
    try:
        yield server
    finally:
        server.stop()


def _notebook7(tmp_path: Path, disable_nbtrain: bool) -> Server:
    root = _root_with_notebooks(tmp_path)
    _quiet_settings(tmp_path)
    if disable_nbtrain:
        labconfig = tmp_path / "config" / "labconfig"
        labconfig.mkdir(parents=True)
        (labconfig / "page_config.json").write_text(json.dumps({"disabledExtensions": {"nbtrain": True}}))
    port, token = free_port(), uuid.uuid4().hex
    flags = _server_flags(root, port, token, app="JupyterNotebookApp")
    server = Server("notebook7", [str(BIN / "jupyter-notebook"), *flags], tmp_path, port, token,
                    "/api/status?token=" + token)
    server.root = root
    return server


@pytest.fixture
def jupyter_notebook(tmp_path: Path) -> Iterator[Server]:
    """A real Notebook 7 server (``jupyter notebook``) with the nbtrain extension."""
    server = _notebook7(tmp_path, disable_nbtrain=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def jupyter_notebook_disabled(tmp_path: Path) -> Iterator[Server]:
    """Notebook 7 with the nbtrain extension *disabled* (page_config): the Python widgets must work unchanged."""
    server = _notebook7(tmp_path, disable_nbtrain=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def voila(tmp_path: Path) -> Iterator[Server]:
    """``voila --template=nbtrain 00-quickstart.ipynb`` (standalone app mode) on a free port with a token."""
    root = _root_with_notebooks(tmp_path)
    port, token = free_port(), uuid.uuid4().hex
    argv = [str(BIN / "voila"), "--template=nbtrain", str(root / "00-quickstart.ipynb"), "--no-browser", f"--port={port}",
            "--Voila.ip=127.0.0.1", f"--token={token}", "--show_tracebacks=True", f"--Voila.root_dir={root}"]
    server = Server("voila", argv, tmp_path, port, token, "/voila/static/voila.js")
    server.root = root
    try:
        yield server
    finally:
        server.stop()


SERVED_CELLS = [
    "import nbtrain as nt\n",
    "lab = nt.Lab(data='spiral', hidden=[8], n_samples=200, max_steps=200, interval=0.2)\nlab",
    "gallery = nt.demos.schedules('lambda', 'piecewise', total_steps=200)\ngallery",
]


@pytest.fixture
def voila_served(tmp_path: Path) -> Iterator[Server]:
    """The README's recommended Voilà launch (hardened kernel websocket) serving a Lab and the schedule gallery."""
    root = tmp_path / "root"
    root.mkdir()
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": [src]}
                    for src in SERVED_CELLS],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (root / "served.ipynb").write_text(json.dumps(nb))
    port, token = free_port(), uuid.uuid4().hex
    argv = [str(BIN / "voila"), "--template=nbtrain", str(root / "served.ipynb"), "--no-browser", f"--port={port}",
            "--Voila.ip=127.0.0.1",
            f"--token={token}", f"--Voila.root_dir={root}",
            "--Voila.kernel_websocket_connection_class=nbtrain.kernel_websocket.HardenedKernelWebsocketConnection"]
    server = Server("voila-served", argv, tmp_path, port, token, "/voila/static/voila.js")
    server.root = root
    try:
        yield server
    finally:
        server.stop()
