"""Trainer overhead vs a bare PyTorch loop, the Lab attached vs headless, host reads, live-change latency.

Run: ``.venv/bin/python bench/overhead.py [--steps 1000] [--rounds 15] [--device auto|cpu|cuda]``
(``make bench-gpu`` runs it with ``--device cuda``; all parts in a few minutes).

(a) Trainer ÷ bare loop for three models — MLP 2-64-64-3 on spiral at batch 32 (the lecture default),
    MLP [256, 256] at batch 128, and the digits CNN at batch 64 — same data, the same initial weights (the
    bare loop starts from the trainer's and both keep training from round to round), the bare loop doing
    resident randperm batches, cross-entropy, SGD, logging its loss and evaluating the trainer's validation
    set and training subset at the trainer's steps (a plain no-grad pass each, read with ``.item()``); the
    Trainer with its history, per-layer statistics at the default rate, its evaluations at the default
    cadence and one subscriber. "Machinery only" is the Trainer without the per-layer statistics: the
    same work as the bare loop.
    Interleaved rounds (the bare loop, ``step(n)`` of the live Trainer and of the machinery-only one, in ABCCBA
    order rotated from round to round, so that each runs as often right after another's code): best-of, and the
    median of the rounds' ratios — on a shared machine the median is the steadier figure.
(b) the Lab attached (its ≤ 10 Hz publisher, at most 5 % of a core, and 1 Hz decision boundary) ÷ headless, a new trainer for each run of
    ``3 × steps`` steps started once the Lab is shown (its first full publish done), ABBA rounds, with the
    publisher's CPU time per second of training (serialising, decimating); the same rounds in a Jupyter kernel with
    the Lab displayed (nbclient: each widget's message is then also signed and sent over ZeroMQ, as in a notebook);
    and the same timed inside the training thread (the summed time of its steps, a headless trainer and one with a
    Lab in ABBA rounds), which the machine's noise moves less.
(c) device→host reads per 1000 training steps (``Trainer.host_reads``: one per chunk of steps).
(d) live-change latency: steps and milliseconds from ``config.lr = x`` to the first step that uses it.
(e) digits: resident-on-device sampling vs the DataLoader path (``resident=False``), steps/s and ratio.
(g) where the Trainer's time goes, timed inside its training thread (each ``_train_step``, with the reads of
    the losses that fall in them), so the machine's noise, which moves whole rounds, mostly cancels: the median plain step,
    and for each kind of step that does more (per-layer statistics, the read of a chunk of steps' losses with the
    snapshot it confirms, the step after a read with its code cold, an evaluation) how often it comes, its median
    time over a plain step, and its share of the run.
(f) ``Trainer(compile=...)`` vs eager over a lecture-length run (``--lecture-steps``, default 20000 steps of
    the lecture default) with two re-captures after live changes (activation relu → tanh at 1/3, batch size
    32 → 64 at 2/3): wall time start to finish, first-step (compile) time of each segment, steady steps/s.
    ``torch.compile``'s default mode on the CPU, ``"reduce-overhead"`` (CUDA graphs) on a GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

import nbtrain as nt
from nbtrain.engine.step import FLUSH_EVERY
from nbtrain.ui.lab_publish import PUBLISH_BUDGET

MODELS = {  # (a): name -> data, model, hidden, batch
    "mlp64": ("spiral", "mlp", [64, 64], 32),
    "mlp256": ("spiral", "mlp", [256, 256], 128),
    "cnn": ("digits", "cnn", [32], 64),
}
CASE = MODELS["mlp64"]



class BareRounds:
    """A plain PyTorch loop doing the trainer's work (resident randperm batches, cross-entropy, SGD, logging its
    loss with ``.item()``), stepped ``steps`` at a time in a thread of its own with ``threads`` intra-op threads
    (as the trainer's thread uses for a small model on the CPU).

    It starts from the trainer's initial weights (``initial_state``: he_normal and the head scaled by 0.01)
    and keeps its model, optimizer and epoch position from round to round, as the trainer does: both sides run
    the same network through the same training, so the ratio is the machinery's, not a difference of the
    weights' values (some CPU kernels' times depend on them: max-pooling over one network's activations
    took 14% longer than over the other's).

    With ``evaluate=(sets, every)`` it also evaluates as a plain loop would: at step 0 and every ``every``
    steps, ``model.eval()``, a no-grad forward pass over each of ``sets`` (the trainer's validation set and
    training subset), their loss and accuracy read with ``.item()``, ``model.train()`` — the trainer's
    evaluations at the trainer's steps.
    """

    def __init__(self, device: torch.device, initial_state: dict, seed: int = 0, threads: int | None = None,
                 evaluate: tuple[list, int] | None = None):
        dname, mname, hidden, batch = CASE
        data = nt.load_data(dname, seed=seed)
        self.X, self.Y = (t.to(device) for t in data.tensors("train"))
        self.model = nt.models.make(mname, data.input_shape, data.num_classes, hidden=hidden).to(device)
        self.model.load_state_dict(initial_state)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.gen = torch.Generator().manual_seed(seed)
        self.device, self.threads, self.batch = device, threads, batch
        self.pos, self.perm = len(self.Y), None
        self.sets, self.every = evaluate if evaluate is not None else ([], 0)
        self.step = 0

    def round(self, steps: int) -> float:
        out: list[float] = []
        th = threading.Thread(target=lambda: out.append(self._loop(steps)))
        th.start()
        th.join()
        return out[0]

    def _loop(self, steps: int) -> float:
        if self.threads:
            torch.set_num_threads(self.threads)
        model, opt, X, Y, bs, device = self.model, self.opt, self.X, self.Y, self.batch, self.device
        n, pos, perm = len(Y), self.pos, self.perm
        losses = []
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            if self.every and self.step % self.every == 0:
                self._evaluate()
            self.step += 1
            if pos >= n:
                perm, pos = torch.randperm(n, generator=self.gen).to(device), 0
            idx = perm[pos : pos + bs]
            pos += bs
            loss = F.cross_entropy(model(X[idx]), Y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())  # a real loop logs its loss too
        _sync(device)
        dt = time.perf_counter() - t0
        self.pos, self.perm = pos, perm
        return steps / dt

    @torch.no_grad()
    def _evaluate(self) -> list[float]:
        self.model.eval()
        out = []
        for X, Y in self.sets:
            logits = self.model(X)
            out += [F.cross_entropy(logits, Y).item(), (logits.argmax(1) == Y).float().mean().item()]
        self.model.train()
        return out


class TrainerRounds:
    """One live nt.Trainer for part (a), stepped ``steps`` at a time with ``step(n)`` (a round), as a lecture's
    notebook steps it: history, per-layer stats and evaluations at the default rate, one subscriber."""

    def __init__(self, device: torch.device, seed: int = 0, **kw):
        dname, mname, hidden, batch = CASE
        self.tr = nt.Trainer(data=dname, model=mname, hidden=hidden, lr=0.1, seed=seed, device=device,
                             batch_size=batch, **kw)
        self.seen: list[int] = []
        self.tr.subscribe(lambda u: self.seen.append(u.step))
        self.reads = 0

    def round(self, steps: int) -> float:
        tr = self.tr
        s0, r0 = tr.global_step, tr.host_reads
        t0 = time.perf_counter()
        tr.step(steps).wait()
        dt = time.perf_counter() - t0
        assert tr.global_step == s0 + steps, tr.message
        self.reads = 1000 * (tr.host_reads - r0) / steps
        return steps / dt

    def close(self) -> None:
        self.tr.close()


def trainer_run(steps: int, device: torch.device, seed: int = 0, reads: list | None = None, **kw) -> float:
    """Steps/s of nt.Trainer (history + per-layer stats and evaluations at the default rate + one subscriber)."""
    seen = []
    dname, mname, hidden, batch = CASE
    with nt.Trainer(data=dname, model=mname, hidden=hidden, lr=0.1, seed=seed, max_steps=steps, device=device,
                    batch_size=batch, **kw) as tr:
        tr.subscribe(lambda u: seen.append(u.step))
        t0 = time.perf_counter()
        tr.start()
        tr.wait()
        dt = time.perf_counter() - t0
        assert tr.global_step == steps, tr.message
        if reads is not None:
            reads.append(1000 * tr.host_reads / steps)
    return steps / dt


def lab_run(steps: int, device: torch.device, with_lab: bool, show: bool = False) -> tuple[float, float, float]:
    """(steps/s, publisher CPU seconds per second, publishes per second) of the lecture-default trainer, with or
    without a Lab (``show``: displayed, in a kernel)."""
    import ipywidgets

    dname, mname, hidden, batch = MODELS["mlp64"]
    tr = nt.Trainer(data=dname, model=mname, hidden=hidden, lr=0.1, seed=0, max_steps=steps, device=device,
                    batch_size=batch)
    lab = nt.Lab(trainer=tr) if with_lab else None
    if lab is not None and show:
        from IPython.display import display

        display(lab)
    time.sleep(0.5)  # the Lab is on the screen before play is pressed: its first full publish is done (both sides wait)
    t0 = time.perf_counter()
    cpu0 = lab._publisher.cpu_total if lab is not None else 0.0
    calls0 = lab._publisher.calls if lab is not None else 0
    tr.start()
    tr.wait()
    dt = time.perf_counter() - t0
    pub = (lab._publisher.cpu_total - cpu0) / dt if lab is not None else 0.0
    rate = (lab._publisher.calls - calls0) / dt if lab is not None else 0.0
    if lab is not None:
        lab.close()
    tr.close()
    ipywidgets.Widget.close_all()
    return steps / dt, pub, rate


def lab_rounds(steps: int, device: torch.device, rounds: int, show: bool = False) -> dict[str, float]:
    """Part (b)'s ABBA rounds of :func:`lab_run` (headless, Lab, Lab, headless): Lab ÷ headless best-of and
    median, the publisher's CPU seconds per second and its publishes per second (medians)."""
    head, att, pub, rate = [], [], [], []
    for _ in range(rounds):
        h0, (a0, p0, r0), (a1, p1, r1), h1 = (
            lab_run(steps, device, False)[0], lab_run(steps, device, True, show),
            lab_run(steps, device, True, show), lab_run(steps, device, False)[0])
        head.append((h0 + h1) / 2)
        att.append((a0 + a1) / 2)
        pub.append((p0 + p1) / 2)
        rate.append((r0 + r1) / 2)
    return {"best": max(att) / max(head), "median": statistics.median(a / h for a, h in zip(att, head)),
            "pub": statistics.median(pub), "rate": statistics.median(rate)}


def lab_in_kernel(steps: int, device: torch.device, rounds: int) -> dict[str, float]:
    """Part (b) as a notebook runs it: :func:`lab_rounds` in a fresh Jupyter kernel (nbclient) with the Lab
    displayed, so each widget's message is serialised, signed and sent over ZeroMQ."""
    import json

    import nbformat
    from nbclient import NotebookClient

    code = (f"import json, sys, torch\nsys.path.insert(0, {str(Path(__file__).resolve().parent)!r})\n"
            f"import overhead\nprint(json.dumps(overhead.lab_rounds({steps}, torch.device({str(device)!r}), "
            f"{rounds}, show=True)))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=60 * 30, kernel_name="python3").execute()
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("name") == "stdout")
    return json.loads(text.strip().splitlines()[-1])


def data_path(steps: int, device: torch.device, resident: bool) -> float:
    with nt.Trainer(data="digits", model="mlp", hidden=[64, 64], lr=0.1, max_steps=steps, device=device,
                    resident=resident, stats_every=0) as tr:
        t0 = time.perf_counter()
        tr.start()
        tr.wait()
        return steps / (time.perf_counter() - t0)


def live_latency(device: torch.device, trials: int = 20) -> tuple[float, float]:
    """(median steps, median ms): steps from setting config.lr to the first logged step using it (read from
    the history once it has them), and milliseconds until the engine runs with it (``trainer.in_use()``)."""
    step_lat, ms_lat = [], []
    with nt.Trainer(data="spiral", hidden=[64, 64], lr=0.1, device=device) as tr:
        tr.start()
        tr.wait(steps=200)
        for i in range(trials):
            new = 0.05 + 0.001 * i
            at = tr.global_step
            t0 = time.perf_counter()
            tr.config.lr = new
            while tr.in_use()["lr"] != new:
                time.sleep(0.0001)
            ms_lat.append((time.perf_counter() - t0) * 1e3)
            while True:
                h = tr.metrics
                lrs = h.steps.column("lr")
                hits = (lrs == new).nonzero()[0]
                if len(hits):
                    break
                time.sleep(0.0002)
            step_lat.append(int(h.steps.column("step")[hits[0]]) - at)
            time.sleep(0.01)
        tr.stop()
    return statistics.median(step_lat), statistics.median(ms_lat)


def lecture_run(steps: int, device: torch.device, compile: bool | str) -> dict:  # noqa: A002
    """One lecture-length run with two live changes; wall time, each segment's first-step time, steady rate."""
    marks = [steps // 3, 2 * steps // 3]
    with nt.Trainer(data="spiral", hidden=[64, 64], lr=0.1, seed=0, max_steps=steps, device=device,
                    compile=compile) as tr:
        firsts, rates = [], []
        t0 = time.perf_counter()
        for seg, end in enumerate([*marks, steps]):
            if seg == 1:
                tr.config.activation = "tanh"
            elif seg == 2:
                tr.config.batch_size = 64
            s0, ts = tr.global_step, time.perf_counter()
            tr.step(10).wait()  # the segment's first steps: where a compile or a re-capture happens
            t1 = time.perf_counter()
            firsts.append(t1 - ts)
            tr.step(end - s0 - 10).wait()
            rates.append((end - s0 - 10) / (time.perf_counter() - t1))
        wall = time.perf_counter() - t0
        assert tr.global_step == steps, tr.message
    return {"wall": wall, "firsts": firsts, "rates": rates}


@contextlib.contextmanager
def timed_steps(end: Callable[[nt.Trainer, float], None], start: Callable[[nt.Trainer], None] | None = None):
    """Within the block, every trainer's ``_train_step`` is timed in its own thread: ``start(trainer)`` before
    it, ``end(trainer, seconds)`` after it; the plain method is back on exit."""
    from nbtrain.engine import step as step_mod

    orig = step_mod.StepMixin._train_step

    def timed(self) -> bool:
        if start is not None:
            start(self)
        t0 = time.perf_counter()
        out = orig(self)
        end(self, time.perf_counter() - t0)
        return out

    step_mod.StepMixin._train_step = timed
    try:
        yield
    finally:
        step_mod.StepMixin._train_step = orig


#: part (b)'s breakdown of the publisher's time: a name, and the LabPublishing methods that make it up
PUBLISHER_PARTS = {
    "curves (new rows read and decimated)": ("_curve_updates",),
    "per-layer figures": ("_layer_updates",),
    "live diagnosis": ("_diagnose",),
    "progress, status, events, axes": ("_progress_updates", "_render_status", "_event_updates", "_step_axis_updates"),
    "decision boundary": ("_boundary_step",),
}


@contextlib.contextmanager
def publisher_parts(into: dict[str, float]):
    """Within the block, the CPU time (``time.thread_time``: the publisher thread's own) that the Lab's publisher
    spends in each part of :data:`PUBLISHER_PARTS`, added up into ``into`` by part."""
    from nbtrain.ui.lab_publish import LabPublishing

    saved = {}
    for part, names in PUBLISHER_PARTS.items():
        for name in names:
            orig = saved[name] = LabPublishing.__dict__[name]

            def timed(self, *a, _orig=orig, _part=part, **k):
                t0 = time.thread_time()
                try:
                    return _orig(self, *a, **k)
                finally:
                    into[_part] = into.get(_part, 0.0) + time.thread_time() - t0

            setattr(LabPublishing, name, timed)
    try:
        yield
    finally:
        for name, orig in saved.items():
            setattr(LabPublishing, name, orig)


def where_time_goes(key: str, device: torch.device, steps: int) -> list[str]:
    """Part (g): time each training step of the model ``key`` (default settings, one subscriber) inside the
    training thread, by what the step did; the lines to print."""
    from nbtrain.engine import step as step_mod

    dname, mname, hidden, batch = MODELS[key]
    took: list[tuple[int, float, int]] = []  # (step, seconds, evaluations before it)

    with nt.Trainer(data=dname, model=mname, hidden=hidden, lr=0.1, seed=0, device=device, batch_size=batch) as tr:
        tr.subscribe(lambda u: None)
        tr.step(300).wait()  # warm-up, untimed
        before = {}

        def start(t: nt.Trainer) -> None:
            before["step"], before["evals"] = t.global_step, t.metrics.evals.n

        def end(t: nt.Trainer, dt: float) -> None:
            took.append((before["step"], dt, t.metrics.evals.n - before["evals"]))

        with timed_steps(end, start):
            tr.step(steps).wait()
        stats_every = tr.config.stats_every
    flush, every, at = step_mod.FLUSH_EVERY, step_mod.SNAPSHOT_EVERY, step_mod.SNAPSHOT_AT
    # the chunk's last step reads the losses (and, by default, takes the snapshot its read confirms); the step
    # after it runs with its code cold
    read = "read+snapshot" if every == flush and at == flush - 1 else "losses read"
    kinds: dict[str, list[float]] = {"plain": [], "statistics": [], "snapshot": [], read: [], "after a read": [],
                                     "evaluation": []}
    for s, dt, evals in took:
        kind = ("evaluation" if evals else "statistics" if stats_every and s % stats_every == 0
                else read if (s + 1) % flush == 0 else "snapshot" if s % every == at
                else "after a read" if s % flush == 0 else "plain")
        kinds[kind].append(dt)
    plain = statistics.median(kinds["plain"])
    total = sum(dt for _, dt, _ in took)
    lines = [f"(g) {key}: {len(took)} steps timed in the training thread; a plain step {1e6 * plain:.0f} µs median, "
             f"{1e6 * statistics.mean(kinds['plain']):.0f} µs mean (the machine's noise and the chunks' first steps)"]
    for kind, dts in kinds.items():
        if kind == "plain" or not dts:
            continue
        extra = statistics.median(dts) - plain
        lines.append(f"(g) {key}:   {kind:<13} {1000 * len(dts) / len(took):5.1f} per 1000 steps, "
                     f"{1e6 * extra:6.0f} µs more than a plain step (median), {100 * extra * len(dts) / total:4.1f}% "
                     f"of the run")
    return lines


def lab_in_thread(device: torch.device, steps: int, rounds: int) -> tuple[float, float, dict[str, float]]:
    """Part (b) inside the training thread: two lecture-default trainers, one headless and one with a Lab
    attached for the whole part, stepped ``steps`` at a time in ABBA rounds; each round's summed
    ``_train_step`` time, which holds what the Lab's threads take from the training thread (their GIL time,
    their requests ending a chunk, the decision boundary it computes). (median, best) of headless ÷ Lab, and the
    publisher's CPU time by part (:data:`PUBLISHER_PARTS`, the rest under "setting the traits ...") in seconds
    per second of the watched trainer's rounds."""
    import ipywidgets

    dname, mname, hidden, batch = MODELS["mlp64"]
    spent = [0.0]

    def add(_: nt.Trainer, dt: float) -> None:
        spent[0] += dt

    watched_s = [0.0]

    def one(tr: nt.Trainer) -> float:
        spent[0] = 0.0
        t0 = time.perf_counter()
        tr.step(steps).wait()
        if tr is watched:
            watched_s[0] += time.perf_counter() - t0
        return spent[0]

    ratios = []
    kw = dict(data=dname, model=mname, hidden=hidden, lr=0.1, seed=0, device=device, batch_size=batch)
    with nt.Trainer(**kw) as head, nt.Trainer(**kw) as watched:
        lab = nt.Lab(trainer=watched)
        head.step(300).wait(), watched.step(300).wait()
        time.sleep(0.5)  # the Lab's first full publish is done
        parts: dict[str, float] = {}
        try:
            with timed_steps(add), publisher_parts(parts):
                cpu0 = lab._publisher.cpu_total
                for _ in range(rounds):
                    h0, l0, l1, h1 = one(head), one(watched), one(watched), one(head)
                    ratios.append((h0 + h1) / (l0 + l1))
                cpu = lab._publisher.cpu_total - cpu0
        finally:
            lab.close()
            ipywidgets.Widget.close_all()
    # per second of the Lab's own rounds (while the headless one trains, the Lab has nothing new to send)
    per_s = {part: t / watched_s[0] for part, t in parts.items()}
    per_s["setting the traits (validation, serialisation, messages) and the rest"] = (
        max(cpu - sum(parts.values()), 0.0) / watched_s[0])
    return statistics.median(ratios), max(ratios), per_s


def _quartiles(ratios: list[float]) -> str:
    """The middle half of the rounds' ratios: how far this machine's noise moves one round."""
    if len(ratios) < 4:
        return ""
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return f"[middle half of rounds {q1:.3f}–{q3:.3f}]"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    global CASE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000, help="steps per round")
    ap.add_argument("--rounds", type=int, default=15, help="interleaved rounds (bare, trainer) per model")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--models", default=",".join(MODELS), help=f"part (a) models, from {', '.join(MODELS)}")
    ap.add_argument("--only-a", action="store_true", help="run part (a) only")
    ap.add_argument("--where", type=int, default=5000, help="part (g): steps timed inside the training thread per "
                    "model, printed after its part (a) (0: skip part g)")
    ap.add_argument("--lecture-steps", type=int, default=20000, help="part (f): steps of the lecture-length run "
                    "(0: skip part f)")
    args = ap.parse_args()
    device = nt.Trainer.__init__.__globals__["resolve_device"](args.device)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    threads = 1 if device.type == "cpu" else None  # what the trainer picks for these small models
    for key in args.models.split(","):
        CASE = MODELS[key]
        dname, mname, hidden, batch = CASE
        runs = TrainerRounds(device)
        plain = TrainerRounds(device, stats_every=0)  # the machinery alone: no per-layer statistics
        tr = runs.tr
        every = tr._auto_eval_every()
        sets = [t for t in (tr._val, tr._train_eval) if t is not None]
        bare_rounds = BareRounds(device, tr.initial_state, threads=threads, evaluate=(sets, every))
        bare_loop = bare_rounds.round
        bare_loop(200), runs.round(200), plain.round(200)  # warm-up
        bare, ours, reads, mach = [], [], [], []
        sides = [bare_loop, runs.round, plain.round]
        for r in range(args.rounds):
            # ABCCBA order, rotated from round to round (bare, trainer, machinery; trainer, machinery, bare; ...):
            # a machine that drifts during a round weighs on every side alike, and each side in turn runs after
            # another's code (its caches cold) and after its own
            order = [(r + i) % 3 for i in range(3)]
            got: list[list[float]] = [[], [], []]
            for i in order + order[::-1]:
                got[i].append(sides[i](args.steps))
            bare.append(sum(got[0]) / 2)
            ours.append(sum(got[1]) / 2)
            mach.append(sum(got[2]) / 2)
            reads.append(runs.reads)
            print(f"  {key} round {r}: bare {bare[-1]:8.0f} steps/s   trainer {ours[-1]:8.0f} steps/s   "
                  f"ratio {ours[-1] / bare[-1]:.3f}")
        ratios = [o / b for o, b in zip(ours, bare)]
        goal = 0.97 if key == "mlp64" else 0.99
        print(f"(a) {mname} {hidden} batch {batch} on {dname}: bare {max(bare):.0f} steps/s, Trainer {max(ours):.0f} "
              f"steps/s; ratio best-of {max(ours) / max(bare):.3f}, median of rounds {statistics.median(ratios):.3f} "
              f"{_quartiles(ratios)} (goal >= {goal})")
        mratios = [m / b for m, b in zip(mach, bare)]
        print(f"(a) {key} machinery only (stats_every=0: the history, the evaluations and a subscriber, what the bare "
              f"loop does too): ratio best-of {max(mach) / max(bare):.3f}, median of rounds "
              f"{statistics.median(mratios):.3f} {_quartiles(mratios)}")
        print(f"(a) {key}: both evaluate every {every} steps ({' + '.join(str(len(t[1])) for t in sets)} examples); "
              f"per-layer statistics every {tr.config.stats_every} steps")
        print(f"(c) {key}: device->host reads per 1000 steps: {statistics.median(reads):.1f}")
        runs.close()
        plain.close()
        if args.where:
            for line in where_time_goes(key, device, args.where):
                print(line)
    if args.only_a:
        return
    interval = inspect.signature(nt.Lab).parameters["interval"].default
    b = lab_rounds(3 * args.steps, device, max(2, args.rounds // 2))
    print(f"(b) Lab attached ÷ headless (mlp64): {b['best']:.3f} best-of (goal >= 0.97), median {b['median']:.3f}; "
          f"publisher CPU {1e3 * b['pub']:.1f} ms per second of training, {b['rate']:.1f} publishes per second (at most "
          f"{1 / interval:.0f}; fewer where a publish costs more than {1e3 * interval * PUBLISH_BUDGET:.0f} ms: the "
          f"publisher keeps to {PUBLISH_BUDGET:.0%} of a core)")
    k = lab_in_kernel(3 * args.steps, device, max(2, args.rounds // 4))
    print(f"(b) in a Jupyter kernel (the Lab displayed: each widget's message serialised, signed and sent over ZeroMQ): "
          f"Lab ÷ headless {k['best']:.3f} best-of, median {k['median']:.3f}; publisher CPU {1e3 * k['pub']:.1f} ms per "
          f"second of training, {k['rate']:.1f} publishes per second")
    med, best, parts = lab_in_thread(device, 3 * args.steps, max(4, args.rounds // 2))
    print(f"(b) the same timed inside the training thread (its steps' summed time, headless ÷ Lab, ABBA rounds): "
          f"median {med:.3f}, best {best:.3f}")
    print(f"(b) the publisher's CPU time there, {1e3 * sum(parts.values()):.1f} ms per second of training (it holds "
          f"the GIL for most of it): " + ", ".join(f"{name} {1e3 * t:.1f}" for name, t in parts.items()))
    steps, ms = live_latency(device)
    print(f"(d) live change latency: median {steps:g} steps from config.lr = x to the first step using it; the engine "
          f"runs with it after {ms:.2f} ms (the history shows it at the next read, within {FLUSH_EVERY} steps)")
    res, loader = [], []
    for _ in range(max(2, args.rounds // 2)):
        res.append(data_path(1000, device, True))
        loader.append(data_path(1000, device, False))
    r, lo = statistics.median(res), statistics.median(loader)
    print(f"(e) digits: resident {r:.0f} steps/s, DataLoader {lo:.0f} steps/s, ratio {r / lo:.2f}x")
    if args.lecture_steps:
        mode = "reduce-overhead" if device.type == "cuda" else True
        eager, comp = lecture_run(args.lecture_steps, device, False), lecture_run(args.lecture_steps, device, mode)
        for name, r_ in (("eager", eager), (f"compile={mode!r}", comp)):
            print(f"(f) {name}: {args.lecture_steps} steps with 2 live re-captures in {r_['wall']:.1f} s; first step of "
                  f"each segment {', '.join(f'{x:.2f}' for x in r_['firsts'])} s; steady "
                  f"{', '.join(f'{x:.0f}' for x in r_['rates'])} steps/s")
        verdict = "pays for itself" if comp["wall"] < eager["wall"] else "does not pay for itself"
        print(f"(f) compiled ÷ eager wall time {comp['wall'] / eager['wall']:.2f}: compile={mode!r} {verdict} "
              f"over this run on {device}")


if __name__ == "__main__":
    main()
