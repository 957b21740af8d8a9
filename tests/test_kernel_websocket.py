"""The hardened kernel websocket (nbtrain/kernel_websocket.py) against the README's recommended Voilà launch:
the one-frame allocation attack and the legacy protocol are refused, the server's memory stays flat, normal
v1 traffic still works."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbtrain.kernel_websocket import MAX_PARTS, V1, check_v1_frame

psutil = pytest.importorskip("psutil")
jupyter_server = pytest.importorskip("jupyter_server")
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1  # noqa: E402

BIN = Path(sys.executable).parent
CLASS = "nbtrain.kernel_websocket.HardenedKernelWebsocketConnection"
ATTACK = bytes.fromhex("ffffffffffffff7f")


def _frame(channel: str = "shell", extra: list[bytes] | None = None) -> bytes:
    parts = [json.dumps(x).encode() for x in ({"msg_id": "1", "msg_type": "kernel_info_request", "username": "",
                                              "session": "s", "date": "", "version": "5.3"}, {}, {}, {})]
    return serialize_msg_to_ws_v1(parts + (extra or []), channel)


def test_frames_written_by_jupyter_server_pass_and_malformed_ones_fail():
    check_v1_frame(_frame())
    check_v1_frame(_frame(extra=[b"\x00" * 100, b"buffer"]))
    bad = [ATTACK, b"", b"\x03" + b"\x00" * 6, (2).to_bytes(8, "little") + b"\x00" * 16,
           (MAX_PARTS + 1).to_bytes(8, "little") + b"\x00" * 8 * (MAX_PARTS + 1),
           (5).to_bytes(8, "little") + b"\x00" * 8,  # a table longer than the frame
           (3).to_bytes(8, "little") + (32).to_bytes(8, "little") + (40).to_bytes(8, "little") + (10**9).to_bytes(8, "little"),
           (3).to_bytes(8, "little") + (40).to_bytes(8, "little") + (32).to_bytes(8, "little") + (40).to_bytes(8, "little"),
           "a text frame"]
    for frame in bad:
        with pytest.raises(ValueError, match="frame refused"):
            check_v1_frame(frame)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 2**64 - 1))
def test_any_bytes_are_accepted_or_refused_without_allocating(tail, count):
    frame = count.to_bytes(8, "little") + tail
    try:
        check_v1_frame(frame)  # its cost is bounded by MAX_PARTS, never by the announced count: bench/costs.py
    except ValueError:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hardened_voila(tmp_path):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": ["import nbtrain\n", "print('ready')"]}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "app.ipynb").write_text(json.dumps(nb))
    port, token = _free_port(), uuid.uuid4().hex
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"), JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
               PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]))
    argv = [str(BIN / "voila"), "app.ipynb", "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
            f"--token={token}", f"--Voila.kernel_websocket_connection_class={CLASS}"]
    log = open(tmp_path / "voila.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "voila.log").read_text()) from None
                time.sleep(0.2)
        yield url, token, proc, tmp_path / "voila.log"
    finally:
        family = []
        try:
            family = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            pass
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        for p in family:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        log.close()


@pytest.mark.timeout(180)
def test_recommended_voila_launch_survives_the_websocket_flaw(hardened_voila):
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.websocket import websocket_connect

    url, token, proc, log = hardened_voila
    html = urllib.request.urlopen(f"{url}/?token={token}", timeout=60).read().decode()
    kernel = re.search(r'"kernelId": "([^"]+)"', html).group(1)
    ws_url = f"{url.replace('http', 'ws')}/api/kernels/{kernel}/channels?session_id={uuid.uuid4().hex}&token={token}"
    server = psutil.Process(proc.pid)
    rss0 = server.memory_info().rss

    async def scenario() -> dict:
        out = {}
        try:  # the legacy protocol (no subprotocol): refused before the upgrade
            await websocket_connect(HTTPRequest(ws_url))
            out["legacy"] = "accepted"
        except HTTPClientError as exc:
            out["legacy"] = exc.code
        ws = await websocket_connect(HTTPRequest(ws_url), subprotocols=[V1])
        out["protocol"] = ws.selected_subprotocol
        ws.write_message(_frame(), binary=True)  # normal traffic still works
        while True:
            msg = await asyncio.wait_for(ws.read_message(), 30)
            if msg is None or b"kernel_info_reply" in msg:
                out["reply"] = msg is not None
                break
        ws.write_message(ATTACK, binary=True)  # the one-frame attack
        while (await asyncio.wait_for(ws.read_message(), 30)) is not None:
            pass
        out["closed"] = ws.close_code
        return out

    # (in a thread of its own: another test's event loop may still be set in this one)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        result = pool.submit(lambda: asyncio.run(scenario())).result(timeout=150)
    assert result == {"legacy": 400, "protocol": V1, "reply": True, "closed": 1003}, result
    time.sleep(1.0)
    assert server.memory_info().rss < rss0 + 100 * 2**20  # flat: the unchecked parser would grow by GiBs
    assert urllib.request.urlopen(f"{url}/voila/static/voila.js", timeout=10).status == 200  # still serving
    assert "frame refused" in log.read_text()
