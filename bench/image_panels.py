"""What the Lab's image panels cost: training time with them on vs off, and bytes per panel update.

Run: ``.venv/bin/python bench/image_panels.py [--steps 3000] [--rounds 6]`` (CPU, ~2 min).

1. digits, the default CNN, ``max_steps`` steps trained under a Lab with the image panels on (confusion
   matrix, gallery, filters, per-class bars refreshed by the publisher) and under a Lab with them off
   (``image_panels=False``, everything else the same: curves at 10 Hz), alternating rounds. Printed side
   by side: wall time per run, best-of-N and the median of paired ratios (goal: panels add ≤ 3 %).
2. bytes one image-panel update puts on the wire (every widget message intercepted at ``Widget._send``
   and serialised as the kernel would), for validation sets of 360 … 36,000 images and after 100 and 3,000
   steps: bounded by K², K and the gallery's k, not by the run's length or the validation set's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import ipywidgets as widgets
import torch

import nbtrain as nt

SENT: list[int] = []
_original_send = widgets.Widget._send


def _serialising_send(self, msg, buffers=None):
    SENT.append(len(json.dumps(msg, separators=(",", ":"), default=str)) + sum(memoryview(b).nbytes for b in buffers or ()))
    return _original_send(self, msg, buffers=buffers)


widgets.Widget._send = _serialising_send


def run_time(panels: bool, steps: int) -> tuple[float, int, float]:
    """Seconds to train ``steps`` steps of the digits CNN under a Lab; the image-panel updates drawn; and the
    seconds the panels spent (their snapshots on the training thread + their CPU on the publisher thread)."""
    lab = nt.Lab(data="digits", model="cnn", lr=0.05, max_steps=steps, seed=0, device="cpu", image_panels=panels)
    try:
        ip = lab.image_panels
        spent0, updates0 = ip.job_seconds + ip.publish_seconds, ip.updates  # (the first view, before training)
        t0 = time.perf_counter()
        lab.start()
        lab.trainer.wait()
        dt = time.perf_counter() - t0
        spent = ip.job_seconds + ip.publish_seconds - spent0
        assert lab.global_step == steps, lab.message
        return dt, ip.updates - updates0, spent
    finally:
        lab.close()
        lab.trainer.close()


def payload(n_val: int, steps: int) -> int:
    """Bytes of one image-panel update (a new evaluation) on a synthetic 1×8×8 set with n_val val images."""
    g = torch.Generator().manual_seed(0)
    n = 5 * n_val
    X = torch.rand(n, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, (n,), generator=g)
    lab = nt.Lab(data=(X, y), model="cnn", seed=0, device="cpu", interval=3600, eval_every=steps)
    try:
        tr, ip = lab.trainer, lab.image_panels
        tr.step(steps)
        tr.wait()
        lab.publish()  # curves etc. out of the way
        tr.step(1)  # one more step: paused at a new step, the panels refresh
        tr.wait()
        SENT.clear()
        before = ip.updates
        ip.step(force=True)
        assert ip.updates == before + 1, "no image-panel update happened"
        return sum(SENT)
    finally:
        lab.close()
        tr.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    run_time(True, 200), run_time(False, 200)  # warm-up
    on, off, updates, spent = [], [], [], []
    for r in range(args.rounds):
        a, _, _ = run_time(False, args.steps)
        b, u, c = run_time(True, args.steps)
        off.append(a)
        on.append(b)
        updates.append(u)
        spent.append(c / b)
        print(f"  round {r}: panels off {a:6.2f} s   panels on {b:6.2f} s ({u} panel updates, their own work "
              f"{1e3 * c:.0f} ms = {100 * c / b:.1f} % of the run)   ratio {b / a:.3f}")
    best = min(on) / min(off)
    paired = statistics.median(b / a for a, b in zip(off, on))
    print(f"1. digits CNN, {args.steps} steps: best panels off {min(off):.2f} s ({args.steps / min(off):,.0f} steps/s), "
          f"best panels on {min(on):.2f} s ({args.steps / min(on):,.0f} steps/s) → +{100 * (best - 1):.1f} % "
          f"(median of paired ratios: +{100 * (paired - 1):.1f} %; goal ≤ +3 %); "
          f"{statistics.median(updates):.0f} panel updates per run")
    print(f"   the panels' own work (snapshots on the training thread + drawing on the publisher thread): median "
          f"{100 * statistics.median(spent):.1f} % of the run's wall time, max {100 * max(spent):.1f} % — an upper "
          f"bound on what they can add when the two threads share one core")
    print("   (best-of is the wall-clock figure to trust on a shared machine: other load only ever slows a round "
          "down; the accounting line does not depend on other load)")
    print("2. bytes per image-panel update (confusion 10×10, 10 bars, 8 gallery PNGs, 16 filters)")
    print(f"{'val images':>12} {'steps':>7} {'bytes':>8}")
    sizes = {}
    for n_val in (360, 3600, 36000):
        for steps in (100, 3_000) if n_val == 360 else (100,):
            sizes[(n_val, steps)] = b = payload(n_val, steps)
            print(f"{n_val:>12,} {steps:>7,} {b:>8,}")
    vals = list(sizes.values())
    print(f"   largest / smallest: {max(vals) / min(vals):.2f} (bounded: K², K, k images, ≤ 64 filters)")


if __name__ == "__main__":
    main()
