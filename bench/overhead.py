"""Trainer overhead vs a bare PyTorch loop, resident vs DataLoader data path, live-change latency.

Run: ``.venv/bin/python bench/overhead.py [--steps 3000] [--rounds 5] [--device auto]``

(a) the same 2×64 MLP on spiral, same seed, trained (1) by a bare loop (resident tensors, randperm
    batches, cross-entropy, SGD) and (2) by ``nt.Trainer`` with its history, per-layer statistics at the
    default rate and one subscriber consuming every update; interleaved rounds, median steps/s and ratio.
(b) digits: resident-on-device sampling vs the DataLoader path (``resident=False``), steps/s and ratio.
(c) live-change latency: steps and milliseconds from ``config.lr = x`` to the first step that uses it.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import torch
import torch.nn.functional as F

import nbtrain as nt

HIDDEN = [64, 64]
BATCH = 32


def bare_loop(steps: int, device: torch.device, seed: int = 0, threads: int | None = None) -> float:
    """Steps/s of a plain PyTorch loop doing the same work as the trainer's step (in a thread of its own,
    with ``threads`` intra-op threads, as the trainer's thread uses for a small model on the CPU)."""
    out: list[float] = []
    th = threading.Thread(target=lambda: out.append(_bare_loop(steps, device, seed, threads)))
    th.start()
    th.join()
    return out[0]


def _bare_loop(steps: int, device: torch.device, seed: int, threads: int | None) -> float:
    if threads:
        torch.set_num_threads(threads)
    data = nt.load_data("spiral", seed=seed)
    X, Y = (t.to(device) for t in data.tensors("train"))
    torch.manual_seed(seed)
    model = nt.models.make("mlp", data.input_shape, data.num_classes, hidden=HIDDEN).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    g = torch.Generator().manual_seed(seed)
    n, bs, pos, perm = len(Y), BATCH, len(Y), None
    losses = []
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        if pos >= n:
            perm, pos = torch.randperm(n, generator=g).to(device), 0
        idx = perm[pos : pos + bs]
        pos += bs
        loss = F.cross_entropy(model(X[idx]), Y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())  # a real loop logs its loss too
    _sync(device)
    return steps / (time.perf_counter() - t0)


def trainer_run(steps: int, device: torch.device, seed: int = 0, **kw) -> float:
    """Steps/s of nt.Trainer (history + per-layer stats at the default rate + one subscriber)."""
    seen = []
    with nt.Trainer(data="spiral", hidden=HIDDEN, lr=0.1, seed=seed, max_steps=steps, device=device,
                    batch_size=BATCH, **kw) as tr:
        tr.subscribe(lambda u: seen.append(u.step))
        t0 = time.perf_counter()
        tr.start()
        tr.wait()
        dt = time.perf_counter() - t0
        assert tr.global_step == steps, tr.message
    return steps / dt


def data_path(steps: int, device: torch.device, resident: bool) -> float:
    with nt.Trainer(data="digits", model="mlp", hidden=[64, 64], lr=0.1, max_steps=steps, device=device,
                    resident=resident, stats_every=0) as tr:
        t0 = time.perf_counter()
        tr.start()
        tr.wait()
        return steps / (time.perf_counter() - t0)


def live_latency(device: torch.device, trials: int = 20) -> tuple[float, float]:
    """(median steps, median ms) between setting config.lr and the first logged step using it."""
    step_lat, ms_lat = [], []
    with nt.Trainer(data="spiral", hidden=[64, 64], lr=0.1, device=device) as tr:
        tr.start()
        tr.wait(steps=200)
        for i in range(trials):
            new = 0.05 + 0.001 * i
            at = tr.global_step
            t0 = time.perf_counter()
            tr.config.lr = new
            while True:
                h = tr.metrics
                lrs = h.steps.column("lr")
                hits = (lrs == new).nonzero()[0]
                if len(hits):
                    break
                time.sleep(0.0002)
            ms_lat.append((time.perf_counter() - t0) * 1e3)
            step_lat.append(int(h.steps.column("step")[hits[0]]) - at)
            time.sleep(0.01)
        tr.stop()
    return statistics.median(step_lat), statistics.median(ms_lat)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--hidden", default="64,64", help="hidden widths of the MLP for (a), e.g. 256,256")
    ap.add_argument("--batch", type=int, default=32, help="batch size for (a)")
    ap.add_argument("--only-a", action="store_true", help="run part (a) only")
    args = ap.parse_args()
    global HIDDEN, BATCH
    HIDDEN, BATCH = [int(w) for w in args.hidden.split(",")], args.batch
    device = nt.Trainer.__init__.__globals__["resolve_device"](args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    bare_loop(300, device), trainer_run(300, device)  # warm-up
    bare, bare_default, ours = [], [], []
    threads = 1 if device.type == "cpu" else None  # what the trainer picks for this small model
    for r in range(args.rounds):
        bare.append(bare_loop(args.steps, device, threads=threads))
        bare_default.append(bare_loop(args.steps, device))
        ours.append(trainer_run(args.steps, device))
        print(f"  round {r}: bare {bare[-1]:8.0f} steps/s (default threads {bare_default[-1]:6.0f})   "
              f"trainer {ours[-1]:8.0f} steps/s   ratio {ours[-1] / bare[-1]:.3f}")
    b, bd, o = statistics.median(bare), statistics.median(bare_default), statistics.median(ours)
    print(f"(a) MLP {HIDDEN} batch {BATCH} on spiral: bare {b:.0f} steps/s (same threads), Trainer {o:.0f} steps/s, "
          f"ratio {o / b:.3f} (goal >= 0.97); bare loop with torch's default threads: {bd:.0f} steps/s")
    if args.only_a:
        return
    res, loader = [], []
    for _ in range(max(2, args.rounds // 2)):
        res.append(data_path(1000, device, True))
        loader.append(data_path(1000, device, False))
    r, lo = statistics.median(res), statistics.median(loader)
    print(f"(b) digits: resident {r:.0f} steps/s, DataLoader {lo:.0f} steps/s, ratio {r / lo:.2f}x (goal >= 3x)")
    steps, ms = live_latency(device)
    print(f"(c) live change latency: median {steps:g} steps, {ms:.2f} ms from config.lr = x to the first step using it")


if __name__ == "__main__":
    main()
