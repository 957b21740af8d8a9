"""How quickly the trainer and a search answer their caller, against a baseline timed in the same run.

Run: ``.venv/bin/python bench/responsiveness.py [--rounds 3] [--no-search]``

The trainer is the tests' small one (spiral, MLP [16, 16], 300 samples, CPU). The baseline for (a)–(c) is one
training step's wall time (300 steps of ``tr.step(300)`` measured in the same round).
(a) ``tr.start()``: the caller never runs a step; ms and ÷ one step (goal: well under 0.1 s).
(b) ``tr.stop()`` on a running trainer: the thread ends at the next step; ms and ÷ one step (goal < 1 s).
(c) ``tr.wait(timeout=0.2)`` on a running trainer: the time it really took ÷ 0.2 s (goal ≈ 1).
(d) 400 steps with a subscriber that sleeps 0.5 s per update ÷ 400 steps without one: updates are
    delivered off the training thread, so goal ≈ 1 (the slow subscriber sees fewer, coalesced updates).
(e) ``search.cancel()`` with two trials of 10⁷ steps running on a 2-process pool: seconds until the search
    is done ÷ seconds the pool took to start and run a 20-step trial (goal a few; always < 10 s).
"""

from __future__ import annotations

import argparse
import statistics
import time

import nbtrain as nt

FAST = dict(data="spiral", hidden=[16, 16], n_samples=300, lr=0.3, seed=0, stats_every=5, device="cpu")


def step_time() -> float:
    with nt.Trainer(**FAST) as tr:
        tr.step(10).wait(timeout=30)  # warm
        t0 = time.perf_counter()
        tr.step(300).wait(timeout=60)
        return (time.perf_counter() - t0) / 300


def start_latency() -> float:
    with nt.Trainer(**FAST, max_steps=300) as tr:
        t0 = time.perf_counter()
        tr.start()
        dt = time.perf_counter() - t0
        tr.wait(timeout=30)
    return dt


def stop_latency() -> float:
    tr = nt.Trainer(**FAST)
    tr.start()
    tr.wait(steps=10, timeout=10)
    t0 = time.perf_counter()
    tr.stop()
    dt = time.perf_counter() - t0
    tr.close()
    return dt


def wait_timeout_overshoot() -> float:
    with nt.Trainer(**FAST) as tr:
        tr.start()
        t0 = time.perf_counter()
        tr.wait(timeout=0.2)
        return (time.perf_counter() - t0) / 0.2


def run_400(slow_subscriber: bool) -> float:
    with nt.Trainer(**FAST, max_steps=400) as tr:
        if slow_subscriber:
            tr.subscribe(lambda u: time.sleep(0.5))
        t0 = time.perf_counter()
        tr.start().wait(timeout=60)
        return time.perf_counter() - t0


def search_cancel() -> tuple[float, float]:
    tiny = dict(data="moons", hidden=[8], n_samples=200, eval_every=0)
    with nt.search.local_pool(2) as pool:
        t0 = time.perf_counter()
        nt.search.grid({"lr": [0.1]}, executor=pool, max_steps=20, **tiny)
        baseline = time.perf_counter() - t0
        s = nt.search.grid({"lr": [0.1, 0.2, 0.3, 0.4]}, executor=pool, wait=False, max_steps=10_000_000, **tiny)
        time.sleep(1.5)  # let two trials start in the two workers
        t0 = time.perf_counter()
        s.cancel().wait(timeout=60)
        return time.perf_counter() - t0, baseline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-search", action="store_true", help="skip (e), which starts a process pool")
    args = ap.parse_args()
    rows: dict[str, list[float]] = {k: [] for k in ("step", "start", "stop", "wait", "slow", "plain")}
    for _ in range(args.rounds):
        rows["step"].append(step_time())
        rows["start"].append(start_latency())
        rows["stop"].append(stop_latency())
        rows["wait"].append(wait_timeout_overshoot())
        rows["plain"].append(run_400(False))
        rows["slow"].append(run_400(True))
    med = {k: statistics.median(v) for k, v in rows.items()}
    step = med["step"]
    print(f"one step (baseline)                    {step * 1e3:8.2f} ms")
    print(f"(a) start()                            {med['start'] * 1e3:8.2f} ms = {med['start'] / step:7.1f} steps")
    print(f"(b) stop() of a running trainer        {med['stop'] * 1e3:8.2f} ms = {med['stop'] / step:7.1f} steps")
    print(f"(c) wait(timeout=0.2) took ÷ 0.2 s     {med['wait']:8.2f}")
    print(f"(d) 400 steps, slow subscriber ÷ none  {med['slow']:6.2f} s ÷ {med['plain']:6.2f} s = "
          f"{med['slow'] / med['plain']:5.2f}")
    if not args.no_search:
        cancel, baseline = search_cancel()
        print(f"(e) search cancel ÷ a 20-step trial    {cancel:6.2f} s ÷ {baseline:6.2f} s = {cancel / baseline:5.2f}")


if __name__ == "__main__":
    main()
