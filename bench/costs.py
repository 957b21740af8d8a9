"""What one call costs, against a baseline timed side by side: decimation and the websocket frame check.

Run: ``.venv/bin/python bench/costs.py [--rounds 5]``

(a) ``StreamDecimator``: one update of 10 new points (plus ``arrays()``) on a 10⁶-point history ÷ one full
    ``decimate`` pass over that history (what an update would cost if it re-decimated everything). The
    update should cost the new points, not the history: goal ≪ 1.
(b) ``decimate`` of 2·10⁶ points to 2000 ÷ plain numpy passes over them (``np.isfinite(y).all()``,
    ``y.min()``, ``y.max()``). One pass: goal a small constant (≤ ~5), never growing with the input.
(c) ``check_v1_frame`` on 300-byte frames that announce up to 2⁶⁴ − 1 parts ÷ on a valid kernel message
    frame (as jupyter_server writes it): bounded by ``MAX_PARTS``, never by the announced count (goal a
    small constant, far below a millisecond each).
Each is the median of ``--rounds`` interleaved rounds (a shared machine's load drifts).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import numpy as np

from nbtrain.engine.history import decimate
from nbtrain.kernel_websocket import check_v1_frame
from nbtrain.ui.stream import StreamDecimator


def timed(fn: Callable[[], object], repeats: int = 1) -> float:
    """Seconds per call of ``fn`` (``repeats`` calls)."""
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def stream_update_vs_full_pass() -> tuple[float, float]:
    n = 1_000_000
    x, y = np.arange(n, dtype=float), np.sin(np.arange(n) / 1e4)
    d = StreamDecimator(1000)
    d.extend(x, y)
    i = iter(range(10**9))

    def update() -> None:
        k = next(i)
        d.extend(np.arange(n + 10 * k, n + 10 * k + 10, dtype=float), np.zeros(10))
        d.arrays()

    return timed(update, 100), timed(lambda: decimate(x, y, 1000), 3)


def decimate_vs_numpy_pass() -> tuple[float, float]:
    y = np.random.default_rng(0).normal(size=2_000_000)
    x = np.arange(y.size, dtype=float)

    def one_pass() -> None:
        np.isfinite(y).all(), y.min(), y.max()

    return timed(lambda: decimate(x, y, 2000), 3), timed(one_pass, 3)


def frame_check_worst_vs_valid() -> tuple[float, float]:
    tail = bytes(range(256)) + b"\x00" * 44  # 300 bytes, as the property test's longest frames
    counts = [0, 1, 2, 3, 100, 2**20, 2**32, 2**63, 2**64 - 1]
    frames = [c.to_bytes(8, "little") + tail for c in counts]

    def check(frame: bytes) -> None:
        try:
            check_v1_frame(frame)
        except ValueError:
            pass

    worst = max(timed(lambda f=f: check(f), 200) for f in frames)
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    header = {"msg_id": "1", "msg_type": "kernel_info_request", "username": "", "session": "s", "date": "",
              "version": "5.3"}
    valid = serialize_msg_to_ws_v1([json.dumps(x).encode() for x in (header, {}, {}, {})], "shell")
    check_v1_frame(valid)  # accepted
    return worst, timed(lambda: check_v1_frame(valid), 200)


CASES = {
    "(a) stream update ÷ full decimate pass": stream_update_vs_full_pass,
    "(b) decimate ÷ plain numpy passes": decimate_vs_numpy_pass,
    "(c) frame check, worst count ÷ valid frame": frame_check_worst_vs_valid,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in CASES}
    for _ in range(args.rounds):
        for name, case in CASES.items():
            results[name].append(case())
    for name, pairs in results.items():
        ours = statistics.median(a for a, _ in pairs)
        base = statistics.median(b for _, b in pairs)
        print(f"{name:46s} {ours * 1e3:9.3f} ms ÷ {base * 1e3:9.3f} ms = {ours / base:7.3f}")


if __name__ == "__main__":
    main()
