"""Search throughput: 16 short trials sequentially in one process, on a local process pool, on Dask.

Run: ``.venv/bin/python bench/search.py [--trials 16] [--steps 800] [--workers 2]``

The same random search (same space, same seeds, so the same 16 results) is run
(1) sequentially in this process (``executor="sequential"``: each trial's training thread uses one
    intra-op thread, as in a worker),
(2) on ``nt.search.local_pool(workers)`` (its cold start, workers included, is timed once),
(3) on a ``dask.distributed.LocalCluster`` of ``workers`` processes × 1 thread (its first search, where the
    workers import torch, is timed once as "cold").
Then ``--rounds`` interleaved rounds of (1)–(3) on the warm executors, rotating their order, since a shared
machine's load drifts. It prints the trials' total steps, median wall times and the ratios: sequential /
pool (goal ≥ 1.7× on 2 cores) and pool / Dask (goal ≥ 0.9: Dask adds little over a local pool). The result
tables must be identical on every executor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import pandas as pd

import nbtrain as nt
from nbtrain.tuning.search import local_pool


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--steps", type=int, default=800, help="optimizer steps per trial")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (medians are reported)")
    ap.add_argument("--no-dask", action="store_true")
    args = ap.parse_args()

    space = {"lr": nt.search.loguniform(1e-3, 0.5), "weight_decay": nt.search.choice(0.0, 1e-5, 1e-4),
             "hidden": nt.search.choice([128], [128, 128])}
    fields = dict(data="digits", model="mlp", batch_size=64, max_steps=args.steps, eval_every=200,
                  optimizer="momentum", seed=0, search_seed=1)

    def run(executor):
        return nt.search.random(space, n=args.trials, executor=executor, **fields).results

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        cores = os.cpu_count()
    print(f"{args.trials} trials × {args.steps} steps (digits MLP, batch 64), {args.workers} workers, "
          f"{cores} cores visible, load average {os.getloadavg()[0]:.1f} before")
    nt.load_data("digits")  # sklearn import, outside the timings

    executors: dict[str, object] = {"sequential": "sequential"}
    pool = local_pool(args.workers)
    cluster = client = None
    tables: dict[str, pd.DataFrame] = {}
    times: dict[str, list[float]] = {}
    try:
        tables["pool (cold)"], t_cold = timed(lambda: run(pool))  # includes starting the workers
        executors["pool"] = pool
        if not args.no_dask:
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            tables["dask (cold)"], t_dcold = timed(lambda: run(client))  # workers import torch here
            executors["dask"] = client
        for r in range(args.rounds):  # interleaved, rotating the order: the machine's load drifts
            names = list(executors)
            names = names[r % len(names):] + names[: r % len(names)]
            for name in names:
                tables[name], t = timed(lambda ex=executors[name]: run(ex))
                times.setdefault(name, []).append(t)
    finally:
        pool.shutdown(wait=True)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    med = {k: statistics.median(v) for k, v in times.items()}
    steps = int(tables["sequential"]["steps"].sum())
    print(f"total steps per search: {steps}; medians of {args.rounds} interleaved rounds "
          f"(load average {os.getloadavg()[0]:.1f} after)")
    print(f"  sequential (1 process):  {med['sequential']:6.2f} s  {steps / med['sequential']:7.0f} steps/s   "
          f"rounds {_fmt(times['sequential'])}")
    print(f"  local pool (warm):       {med['pool']:6.2f} s  {steps / med['pool']:7.0f} steps/s   "
          f"rounds {_fmt(times['pool'])}")
    print(f"  local pool (cold start): {t_cold:6.2f} s")
    ratios = [s / p for s, p in zip(times["sequential"], times["pool"])]
    print(f"ratio sequential / pool:  {med['sequential'] / med['pool']:.2f}×   per round {_fmt(ratios)}  (goal ≥ 1.7×)")
    print(f"ratio sequential / cold pool: {med['sequential'] / t_cold:.2f}×")
    if "dask" in med:
        print(f"  dask LocalCluster (warm): {med['dask']:6.2f} s  {steps / med['dask']:7.0f} steps/s   "
              f"rounds {_fmt(times['dask'])}")
        print(f"  dask LocalCluster (cold): {t_dcold:6.2f} s")
        ratios = [p / d for p, d in zip(times["pool"], times["dask"])]
        print(f"ratio pool / dask:        {med['pool'] / med['dask']:.2f}    per round {_fmt(ratios)}  (goal ≥ 0.9)")
    base = tables["sequential"].drop(columns="time_s")
    same = all(t.drop(columns="time_s").equals(base) for t in tables.values())
    print(f"identical result tables on every executor: {same}")
    best = tables["sequential"].iloc[0]
    print(f"best trial: #{best['trial']} lr={best['lr']:.3g} weight_decay={best['weight_decay']:g} "
          f"hidden={best['hidden']} val_acc={best['val_acc']:.3f}")


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.2f}" for v in values) + "]"


if __name__ == "__main__":
    main()
