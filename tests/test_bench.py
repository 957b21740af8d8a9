"""bench/overhead.py still runs and prints every part (tiny rounds: the figures themselves are the bench's,
never asserted in a test)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_overhead_bench_prints_every_part():
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench/overhead.py"), "--device", "cpu", "--steps", "50", "--rounds", "2",
         "--where", "200", "--lecture-steps", "0", "--models", "mlp64"],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.splitlines()
    for part in ("(a) mlp [64, 64]", "(a) mlp64 machinery only", "(c) mlp64: device->host reads per 1000 steps",
                 "(g) mlp64:   statistics", "(g) mlp64:   read+snapshot", "(g) mlp64:   after a read",
                 "(b) Lab attached ÷ headless", "(b) in a Jupyter kernel",
                 "(b) the same timed inside the training thread", "(d) live change latency", "(e) digits"):
        assert any(line.startswith(part) for line in lines), (part, out.stdout[-3000:])
    reads = next(line for line in lines if line.startswith("(c)"))
    assert float(reads.rsplit(":", 1)[1]) <= 1000 / 64 * 3  # a read per chunk, evaluation or probe: never per step
