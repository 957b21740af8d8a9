"""Compute time of each demo's pure data function at its default size (what a view waits for per change).

    .venv/bin/python bench/demos.py [--repeats 5]

Each figure is the median of ``--repeats`` timed calls after one warm-up call. The machine may be shared:
a busy neighbour slows torch's threads a lot, so compare the demo with its baseline from the same run. The weight-scale demo has a
budget (issue 5): 4 settings of 10 layers × 500 units × 1000 samples in ≤ 0.3 s on CPU. Its baseline,
measured in the same run, is the bare forward pass (10 float32 matmuls + tanh) that any implementation must
do; the ratio shows what the demo adds (initialisation, statistics, histograms).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from nbtrain import demos

WEIGHT_SCALE_SETTINGS = [("tanh", 0.01), ("tanh", 1.0), ("tanh", "xavier_normal"), ("relu", "he_normal")]
BUDGET_S = 0.3


def timed(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: first-call costs (allocator, thread pool, lazy imports) are not what a slider pays
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bare_forward() -> None:
    """The unavoidable work of one weight-scale setting: 10 × (1000×500 @ 500×500) + tanh, float32."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        h = torch.randn(1000, 500, generator=gen)
        w = torch.randn(500, 500, generator=gen) / 500**0.5
        for _ in range(10):
            h = torch.tanh(h @ w.T)


def weight_scale_4() -> None:
    for activation, init in WEIGHT_SCALE_SETTINGS:
        demos.weight_scale_data(activation, init)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats} after a warm-up")

    rows = [
        ("zigzag_data('sigmoid')  300 steps", lambda: demos.zigzag_data("sigmoid")),
        ("saturation_data('tanh') 6×256×512", lambda: demos.saturation_data("tanh")),
        ("dead_relu_data(lr=1)    2×128, 20 steps", lambda: demos.dead_relu_data()),
        ("weight_scale_data       1 setting 10×500×1000", lambda: demos.weight_scale_data("tanh")),
        ("schedule_gallery_data   16 schedules × 1001", lambda: demos.schedule_gallery_data()),
        ("preprocessing_data      400 points, 5 stages", lambda: demos.preprocessing_data()),
        ("inverted_dropout_data   200k units", lambda: demos.inverted_dropout_data()),
        ("dropout_data            3 runs × 300 steps", lambda: demos.dropout_data()),
    ]
    for label, fn in rows:
        print(f"{label:48s} {timed(fn, args.repeats) * 1e3:9.1f} ms")

    # demo and baseline alternate, so a neighbour's burst of CPU use hits both alike
    weight_scale_4(), bare_forward()
    demos_s, base_s = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        weight_scale_4()
        t1 = time.perf_counter()
        for _ in WEIGHT_SCALE_SETTINGS:
            bare_forward()
        demos_s.append(t1 - t0)
        base_s.append(time.perf_counter() - t1)
    demo, base = statistics.median(demos_s), statistics.median(base_s)
    verdict = "OK" if demo <= BUDGET_S else "OVER BUDGET"
    print("\nweight_scale_data, 4 settings (tanh 0.01, tanh 1.0, tanh xavier, relu he), 10×500×1000:")
    print(f"  demo      {demo:7.3f} s   (budget {BUDGET_S} s: {verdict})")
    print(f"  baseline  {base:7.3f} s   bare 10-layer float32 forward ×4, same run")
    print(f"  ratio     {demo / base:7.2f}")


if __name__ == "__main__":
    main()
