"""One optimizer step (training thread only) and what reads its results back: the chunked device→host
flush of the losses (``FLUSH_EVERY``), the NaN/Inf pause, evaluation and early stopping.

No host read per step: the loss stays a device tensor until ``_flush`` brings FLUSH_EVERY steps' worth (and the
per-layer statistics, and an evaluation's numbers) to the history in one read (``Trainer.host_reads``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data as data_mod
from . import probes, regularizers, rng
from .batches import safe_len

#: steps of the schedule computed at once: the call comes so rarely that its code is cold (a table of 256 steps
#: took ≈ 160 µs in the training thread, 15 µs hot; one of 1024 ≈ 200 µs), so a longer table costs less per step;
#: a live change of the schedule computes the next table at its first step
LR_TABLE_STEPS = 1024
#: steps whose losses stay on the device before one device→host read brings them to the history. A read, and the
#: step after it (its code cold), cost a small model ≈ 200 µs: at 128 steps a chunk that is ≈ 0.7 % of its run
#: (64: ≈ 1.4 %); a NaN/Inf is acted on within as many steps, a fast model's curve moves every 30 ms or so
FLUSH_EVERY = 128
#: steps between copies of the weights kept for restore_finite(): one a chunk, taken in the chunk's last step (the
#: one whose loss the read brings at once: confirmed finite there), and one at step 0 (an early divergence goes
#: back to the initial weights)
SNAPSHOT_EVERY = FLUSH_EVERY
SNAPSHOT_AT = SNAPSHOT_EVERY - 1  # a snapshot's step % SNAPSHOT_EVERY
#: snapshots kept while they wait for their read: step 0's and the first chunk's last step's wait together; a later
#: one is not taken while as many wait (it may come from weights that already gave a NaN the next read will find)
MAX_CANDIDATES = 2
FLUSH_AGE = 0.25  # s of training after which a chunk's losses are read early (a slow model's curve stays live)
AUTO_EVAL_MIN, AUTO_EVAL_MAX = 100, 1000  # eval_every=0: once per epoch, but within these step bounds
EVAL_SHARE = 0.02  # eval_every=0: evaluations' share of the training work at most (see _auto_eval_every)
EVAL_FIXED_STEPS = 1.5  # an evaluation's cost beyond its forward passes, in training steps (measured: bench/overhead)


class StepMixin:
    """The Trainer's training step and its bookkeeping (runs on the training thread, or under the lock)."""

    @property
    def epoch(self) -> float:
        if self._sampler is not None:
            return self._sampler.epoch
        n = (safe_len(self._loader) or 0) if self._loader is not None else 0
        return self._loader_epoch + (self._loader_pos / n if n else 0.0)

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        live = self._in_use
        if self._sampler is not None:
            return self._sampler.batch(self._X, self._Y, live["batch_size"], live["shuffle"],
                                       merge_single=self._bn_active(), views=self._batch_views)
        for _ in range(3):  # a user DataLoader's batch of one example is skipped while batch-norm trains
            if self._iter is None:
                self._iter = iter(self._loader)
            try:
                xb, yb = next(self._iter)[:2]
            except StopIteration:
                self._loader_epoch += 1
                self._loader_pos = 0
                self._iter = iter(self._loader)
                xb, yb = next(self._iter)[:2]
            self._loader_pos += 1
            if len(yb) > 1 or not self._bn_active() or self.data.loader is None:
                break
        nb = self.device.type == "cuda"
        if xb.dtype == torch.float64:  # a user's loader of float64 inputs (noted at load): float32 on the way
            return xb.to(self.device, torch.float32, non_blocking=nb), yb.to(self.device, non_blocking=nb)
        return xb.to(self.device, non_blocking=nb), yb.to(self.device, non_blocking=nb)

    def _bn_active(self) -> bool:
        """True when a batch-norm layer trains on the batches (ours switched on, or any in a user model)."""
        return bool(self._in_use["batch_norm"]) or self._user_bn

    def _train_step(self) -> bool:
        """One optimizer step; False when none was taken (an evaluation ended or paused the run first).

        Most steps take the plain path: until ``_plain_until`` (set by :meth:`_full_step`, reset at every
        boundary) no evaluation is due and no option that acts inside a step (augmentation, mixup,
        penalties, clipping, max-norm) is on, so the step is the bare loop's: the batch as two slices (a new
        epoch's permutation drawn and gathered when one starts), forward, loss, backward, optimizer step,
        and its loss kept for the next flush; at ``_probe_at`` it takes the per-layer statistics and at
        ``_snap_at`` a snapshot, as the full path would. The same ops in the same order as the full path,
        so both give the same numbers."""
        step = self.global_step
        if step >= self._plain_until:
            return self._full_step()
        live, sampler = self._in_use, self._sampler
        batch = sampler.next_views(live["batch_size"], live["shuffle"], self._X, self._Y)
        if batch is None:  # a batch that may merge (or nothing gathered for these tensors): the full path draws it
            return self._full_step()
        start, table = self._lr_table  # _set_lr, inline while the lr is the table's and unchanged
        lr = table[step - start] if start <= step < start + len(table) else math.nan
        if lr != self._lr_set:
            lr = self._set_lr(step)
        hooks = None
        if step == self._probe_at:
            hooks = probes.attach(self._slots, self._probe_setup())
            self._probe_at = step + live["stats_every"]
        t0 = time.perf_counter()
        loss = F.cross_entropy((self._compiled_model() if self._compile and hooks is None else self.model)(batch[0]),
                               batch[1])
        optimizer = self.optimizer
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if hooks is not None:
            self._keep_probe(step, hooks)
        if step == self._snap_at:
            if len(self._snapshot_candidates) < MAX_CANDIDATES:  # (see the full path)
                self._snapshot_candidates.append((step, self._snapshot_copy()))
            self._snap_at = step + SNAPSHOT_EVERY
        optimizer.step()
        self._run_time += time.perf_counter() - t0
        self.global_step = step + 1
        epoch = sampler.epochs_done + sampler.pos / sampler.n  # self.epoch, inline
        self._pend.append(((step, epoch, self._run_time, lr), loss.detach()))
        if self.global_step % FLUSH_EVERY == 0:
            self._flush()
        return True

    def _set_lr(self, step: int) -> float:
        """The schedule's lr for ``step``, set in the optimizer's param groups when it changed."""
        lr = self._lr_at(step)
        if lr != self._lr_set:
            for g in self.optimizer.param_groups:
                g["lr"] = lr * g.get("lr_scale", 1.0)
            self._lr_set = lr
        return lr

    def _plan(self) -> None:
        """``_plain_until``: the first step from now at which the full path is needed (an evaluation is due),
        or now when an option acts inside the step; ``_probe_at`` and ``_snap_at``: the next steps at which
        the plain path takes the per-layer statistics and a snapshot (-1: none)."""
        live, step = self._in_use, self.global_step
        if (self._sampler is None or self._sampler._gathered is None or not self._batch_views
                or self._augment is not None or live["mixup"] > 0
                or live["l1"] or live["l2"] or live["grad_clip"] > 0 or live["max_norm"]):
            self._plain_until = step
            return
        self._plain_until = self._last_eval_step + (live["eval_every"] or self._auto_eval_every())
        stats_every = live["stats_every"]
        self._probe_at = -(-step // stats_every) * stats_every if stats_every else -1
        # the next step ≥ this one whose step % SNAPSHOT_EVERY is SNAPSHOT_AT
        self._snap_at = step + (SNAPSHOT_AT - step) % SNAPSHOT_EVERY

    def _full_step(self) -> bool:
        """One optimizer step with everything a step may do: an evaluation first when one is due, per-layer
        statistics, a snapshot, augmentation, mixup, penalties, clipping, max-norm."""
        try:
            return self._full_step_body()
        finally:
            self._plan()

    def _full_step_body(self) -> bool:
        live, model = self._in_use, self.model
        every = live["eval_every"] or self._auto_eval_every()
        if self.global_step - self._last_eval_step >= every:  # includes step 0: the initial loss
            self._evaluate()
            if self._state != "running":  # early stopping ended the run: no step after it
                return False
        xb, yb = self._next_batch()
        step = self.global_step
        lr = self._set_lr(step)
        if self._augment is not None:
            xb = self._augmented(xb)
        target = yb
        if live["mixup"] > 0:
            lam = float(self._lam_rng.beta(live["mixup"], live["mixup"]))
            xb, target = data_mod.mixup(xb, yb, live["mixup"], self.data.num_classes, generator=self._rng.device,
                                        lam=lam, check=False)
        stats_every = live["stats_every"]
        hooks = probes.attach(self._slots, self._probe_setup()) if stats_every and step % stats_every == 0 else None
        t0 = time.perf_counter()
        out = (model if hooks is not None or not self._compile else self._compiled_model())(xb)
        loss = F.cross_entropy(out, target)
        proximal, total = False, loss
        if live["l1"] or live["l2"]:
            proximal = live["l1"] and live.get("l1_mode", "proximal") == "proximal"
            penalty = regularizers.penalty(model, 0.0 if proximal else live["l1"], live["l2"])
            total = loss + penalty if penalty is not None else loss
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        # no device→host read here: the loss stays a device tensor until _flush (every FLUSH_EVERY steps, at an
        # evaluation, or when stepping stops), so a GPU's launch queue never drains at a step
        if live["grad_clip"] > 0:
            nn.utils.clip_grad_norm_(model.parameters(), live["grad_clip"])
        if hooks is not None:
            self._keep_probe(step, hooks)
        # kept by restore_finite() once this step's loss is known to be finite; those not yet confirmed stay (a later
        # one may come from weights that already gave a NaN the next read will find)
        if (step % SNAPSHOT_EVERY == SNAPSHOT_AT or step == 0) and len(self._snapshot_candidates) < MAX_CANDIDATES:
            self._snapshot_candidates.append((step, self._snapshot_copy()))
        self.optimizer.step()
        if proximal:
            regularizers.proximal_l1_(self.optimizer, model, live["l1"], count=False)
        if live["max_norm"]:
            regularizers.max_norm_(model, live["max_norm"], count=False)
        self._run_time += time.perf_counter() - t0
        self.global_step = step + 1
        self._pend.append(((step, self.epoch, self._run_time, lr), loss.detach()))
        if self.global_step % FLUSH_EVERY == 0:
            self._flush()
        return True

    def _probe_setup(self) -> tuple[list, list[bool]]:
        """``probes.setup`` of the current activation slots, kept until they change (a new list)."""
        c = self.__dict__.get("_psetup")
        if c is None or c[0] is not self._slots:
            c = self._psetup = (self._slots, probes.setup(self._slots))
        return c[1]

    def _keep_probe(self, step: int, hooks: tuple[list, list]) -> None:
        """The per-layer statistics of this step's probe, kept for the next flush (read with the losses)."""
        recipes, vals = probes.detach(hooks)
        if vals:
            self._pend_layers.append((step, recipes, vals))

    def _flush(self, act: bool = True, extra: torch.Tensor | None = None) -> list[float]:
        """Bring what the steps left on the device (losses, per-layer statistics, ``extra``) to the history in
        ONE device→host read; returns ``extra``'s values. A NaN/Inf loss among them pauses the run (``act``:
        at the deterministic points — every FLUSH_EVERY steps, evaluations, when stepping stops — so a
        replay pauses where the run did); otherwise only the finite steps before it are logged for now.

        Detection lags the bad step by at most FLUSH_EVERY steps; those steps were taken (the weights may
        have become NaN), and restore_finite() goes back to the last snapshot whose loss was finite. A chunk
        older than FLUSH_AGE seconds of training is read early (``act=False``, from ``_run_chunk``), so a slow
        model's curve moves at least four times a second.
        """
        pend, layers = self._pend, self._pend_layers
        if not pend and not layers and extra is None:
            return []
        parts = [torch.stack([t for _, t in pend])] if pend else []  # 0-d losses
        if layers:  # the probes' 0-d values, all float64 (float32 where the device has none): stacked apart from the
            # float32 losses (a stack of mixed dtypes converts each value, µs apiece)
            parts.append(torch.stack([v for entry in layers for v in entry[2]]))
        if extra is not None:
            parts.append(extra.detach().reshape(-1))
        values = (torch.cat(parts) if len(parts) > 1 else parts[0]).tolist()
        self.host_reads += 1
        n = len(pend)
        losses = values[:n]
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        bad_step = pend[bad][0][0] if bad is not None else None
        good = pend if bad is None else pend[:bad]
        if good:
            self.metrics.log_steps([(r[0], r[1], r[2], v, r[3]) for (r, _), v in zip(good, losses)])
        pos = n
        kept_layers = []
        for entry in layers:
            step, recipes, vals = entry
            k = len(vals)
            if bad_step is None or step < bad_step:
                self.metrics.log_layers(step, probes.rows(recipes, values[pos : pos + k]))
            else:
                kept_layers.append(entry)
            pos += k
        cands = self._snapshot_candidates
        if cands:  # the newest whose loss this read found finite is the finite snapshot; those not yet read wait
            read_to = good[-1][0][0] if good else math.inf
            finite = [c for c in cands if (bad_step is None or c[0] < bad_step) and c[0] <= read_to]
            if finite:
                self._spare_snapshot = self._finite_snapshot  # its tensors take the next snapshot
                self._finite_snapshot = finite[-1]
                self._snapshot_candidates = [c for c in cands if c[0] > finite[-1][0]]
        if bad is None or act:
            self._pend, self._pend_layers = [], []
        else:
            self._pend, self._pend_layers = pend[bad:], kept_layers
        if bad is not None and act:
            # taken from weights that already gave a NaN/Inf loss
            self._snapshot_candidates = [c for c in self._snapshot_candidates if c[0] < bad_step]
            self._on_nonfinite(losses[bad], pend[bad][0][3], bad_step)
        return values[pos:]

    def _model_cache(self) -> tuple[list[str], list[torch.Tensor], list[nn.Module] | None]:
        """The model's state-dict names and tensors, and its modules (None when one of them has its own
        ``train()``), as they are now; kept until its structure may have changed (``_model_gen``)."""
        key = (id(self.model), self._model_gen)
        c = self.__dict__.get("_mcache")
        if c is None or c[0] != key:
            sd = self.model.state_dict()
            mods = list(self.model.modules())
            own = any(type(m).train is not nn.Module.train for m in mods)
            c = self._mcache = (key, list(sd), list(sd.values()), None if own else mods)
        return c[1], c[2], c[3]

    def _snapshot_copy(self) -> dict[str, torch.Tensor]:
        """A copy of the model's state dict for a snapshot candidate, written into the tensors of the finite snapshot
        that the last confirmed one replaced (nothing else refers to them) when there is one."""
        spare, self._spare_snapshot = self._spare_snapshot, None
        return self._state_copy(spare[1] if spare is not None else None)

    def _state_copy(self, into: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """A copy of the model's state dict (the best, the last finite and the initial weights). ``into``: a copy
        this one replaces, nothing else referring to its tensors: written into them with one ``_foreach_copy_``
        when they match (names, shapes, dtypes, devices), instead of a clone per tensor (the code of a snapshot or
        a new best is cold when it runs: one op costs less than many)."""
        names, tensors, _ = self._model_cache()
        if into is not None and len(into) == len(names):
            mine = [into.get(n) for n in names]
            if all(m is not None and m.shape == t.shape and m.dtype == t.dtype and m.device == t.device
                   for m, t in zip(mine, tensors)):
                torch._foreach_copy_(mine, tensors)
                return dict(zip(names, mine))
        return dict(zip(names, [t.clone() for t in tensors]))  # state_dict tensors: detached already

    def _set_training(self, mode: bool) -> None:
        """``model.train(mode)``: the training flag of every module, set directly (no module overrides train())."""
        mods = self._model_cache()[2]
        if mods is None:
            self.model.train(mode)
            return
        for m in mods:
            object.__setattr__(m, "training", mode)

    def _compiled_model(self) -> nn.Module:
        """The model's torch.compile wrapper (Trainer(compile=...)), made again when the model is rebuilt;
        dynamo's guards recompile it after a live change that alters the graph."""
        c = self._compiled
        if c is None or c[0] is not self.model:
            mode = None if self._compile in (True, "default") else self._compile
            c = self._compiled = (self.model, torch.compile(self.model, mode=mode))
        return c[1]

    def _augmented(self, xb: torch.Tensor) -> torch.Tensor:
        """The batch through the augmentation, drawing from the run's device stream (a callable without a
        ``generator`` parameter runs with every random op of it handed that stream)."""
        takes = self.__dict__.get("_augment_takes_generator")
        if takes is None or takes[0] is not self._augment:
            import inspect

            try:
                ok = "generator" in inspect.signature(self._augment).parameters
            except (TypeError, ValueError):
                ok = False
            takes = self._augment_takes_generator = (self._augment, ok)
        if takes[1]:
            return self._augment(xb, generator=self._rng.device)
        with rng.isolated(self._rng):
            return self._augment(xb)

    def _lr_at(self, step: int) -> float:
        """schedule(step), read from a table computed LR_TABLE_STEPS steps at a time (the schedule is a pure
        function of the step; one vectorised call instead of one scalar call a step)."""
        start, table = self._lr_table
        if not start <= step < start + len(table):
            t0 = max(step - self._sched_start, 0)
            table = self.schedule.curve(np.arange(t0, t0 + LR_TABLE_STEPS, dtype=float)).tolist()
            self._lr_table = (step, table)
            start = step
        return table[step - start]

    def _on_nonfinite(self, value: float, lr: float, step: int | None = None) -> None:
        what = "NaN" if math.isnan(value) else "Inf"
        live = self._in_use
        from .data import INPUT_RMS_LIMIT, input_rms

        rms = input_rms(self.data)
        if rms is not None and not math.isfinite(rms):
            cause = "the training inputs contain NaN/Inf values"
        elif rms is not None and rms > INPUT_RMS_LIMIT:
            cause = f"the inputs are not normalised (RMS {rms:.3g}): normalise the inputs, preprocess='normalize'"
        elif lr >= (1.0 if live["optimizer"] in ("sgd", "momentum", "nesterov", "adadelta") else 0.05):
            cause = f"learning rate {lr:g} is likely too high; try 10× smaller"
        else:
            cause = f"check the weight init ({live['init']}) and the data scale; a lower learning rate ({lr:g} now) may help"
        snap = self._finite_snapshot[0] if self._finite_snapshot else None
        kept = f"; the last finite snapshot (step {snap}) is kept: trainer.restore_finite()" if snap is not None else ""
        with self._cv:
            self._log_script(nonfinite=True)
            if self._hooks and self._hooks[0][3] and self._hooks[0][0] == self.global_step:
                self._hooks.pop(0)  # a replay met the pause its script went through
            at = self.global_step if step is None else step
            seen = f" (seen at step {self.global_step})" if at != self.global_step else ""
            self.message = f"loss became {what} at step {at}{seen} — {cause}{kept}"
            self.metrics.log_event(self.global_step, "nonfinite_loss", None, what)
            self.stop_reason = "diverged"
            if self._state == "running":
                self._state = "paused"
            self._budget_end = None
            self._cv.notify_all()
        self._notify()

    def _auto_eval_every(self) -> int:
        """Steps between evaluations for eval_every=0: one epoch, but at least as many steps as keep the
        evaluations under EVAL_SHARE of the training work (an evaluation forwards n_eval examples, about
        n_eval / (3 · batch) steps' worth, plus EVAL_FIXED_STEPS for the rest of its work: for a small model
        that part dominates), clamped to [AUTO_EVAL_MIN, AUTO_EVAL_MAX].
        A pure function of the data sizes and the batch size, so a replay evaluates at the same steps."""
        bs = self._in_use["batch_size"]
        cached = self.__dict__.get("_auto_every")
        if cached is not None and cached[0] == bs:
            return cached[1]
        n = self._n_train or 0
        per_epoch = math.ceil(n / bs) if n else AUTO_EVAL_MAX
        n_eval = sum(len(t[1]) for t in (self._val, self._train_eval) if t is not None)
        share = math.ceil((n_eval / (3 * bs) + EVAL_FIXED_STEPS) / EVAL_SHARE)
        every = min(max(per_epoch, share, AUTO_EVAL_MIN), AUTO_EVAL_MAX)
        self._auto_every = (bs, every)
        return every

    @torch.no_grad()
    def _evaluate(self) -> None:
        model = self.model
        was = model.training
        self._set_training(False)
        try:
            if self._eval_set is not None:  # validation and training subset in one forward pass
                four = loss_acc_segments(model, *self._eval_set)
            else:
                nan = torch.full((2,), math.nan, device=self.device)
                v = loss_acc_tensors(model, self._val) if self._val is not None else nan
                t = loss_acc_tensors(model, self._train_eval) if self._train_eval is not None else nan
                four = torch.cat([v.to(self.device), t.to(self.device)])
        finally:
            self._set_training(was)
        # the evaluation's four numbers and the steps' pending losses: one device→host read
        vl, va, tl, ta = self._flush(extra=four)
        self.metrics.log_eval(self.global_step, self.epoch, vl, va, tl, ta)
        self._last_eval_step = self.global_step
        metric = self._in_use["early_stop_metric"]
        value = {"val_loss": vl, "val_acc": -va, "train_loss": tl, "train_acc": -ta}[metric]
        if math.isfinite(value) and (self._best is None or value < self._best[0]):
            # the new best replaces the old: written into its tensors (restore and checkpoints copy from it)
            self._best = (value, self.global_step, self._state_copy(self._best[2] if self._best is not None else None))
            self._evals_since_best = 0
        else:
            self._evals_since_best += 1
            patience = self._in_use["patience"]
            if patience and self._evals_since_best >= patience and self._state == "running":
                best = self._best
                where = f"best at step {best[1] if best else '?'}"
                if best is not None and self._in_use.get("restore_best", True):
                    # the notes' early stopping keeps the best snapshot as the final model
                    model.load_state_dict(best[2])
                    self._make_optimizer()
                    self.metrics.log_event(self.global_step, "restore_best", None, best[1])
                    where += f" restored: {metric} {abs(best[0]):.4g}"
                else:
                    where += "; trainer.restore_best() loads it"
                with self._cv:
                    self._finish("early_stop", f"early stopping: {metric} has not improved for {patience} evaluations ({where})")


#: the validation set and the training subset are evaluated in one forward pass when together at most this big
EVAL_SET_MAX_BYTES = 32 * 2**20


def eval_set(val: tuple[torch.Tensor, torch.Tensor] | None, train: tuple[torch.Tensor, torch.Tensor] | None):
    """``(X, Y, W, n)``: the validation set and the training subset as one batch, ``W`` (2 × N) the 0/1 rows
    picking each part's examples, ``n`` (2 × 1) their counts (NaN for a part that is missing); None when there
    is nothing to evaluate or it is too big to hold twice. Sums of 0/1 are exact, so an accuracy is exactly
    a multiple of 1/n."""
    parts = [p for p in (val, train) if p is not None]
    if not parts or sum(p[0].nbytes + p[1].nbytes for p in parts) > EVAL_SET_MAX_BYTES:
        return None
    if len(parts) == 2 and (parts[0][0].dtype != parts[1][0].dtype or parts[0][0].shape[1:] != parts[1][0].shape[1:]):
        return None
    X = torch.cat([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    Y = torch.cat([p[1] for p in parts]) if len(parts) > 1 else parts[0][1]
    W = torch.zeros(2, len(Y), device=Y.device)
    n = torch.full((2, 1), math.nan, device=Y.device)
    pos = 0
    for row, p in enumerate((val, train)):
        if p is not None:
            W[row, pos : pos + len(p[1])] = 1.0
            n[row] = max(len(p[1]), 1)
            pos += len(p[1])
    return X, Y, W, n


def loss_acc_segments(model: nn.Module, X: torch.Tensor, Y: torch.Tensor, W: torch.Tensor, n: torch.Tensor,
                      chunk: int = 4096) -> torch.Tensor:
    """[loss, accuracy] of each row of ``W`` (see :func:`eval_set`) as one device tensor of 4 (no host read)."""
    per = []
    for i in range(0, len(Y), chunk):
        out = model(X[i : i + chunk]).float()
        y = Y[i : i + chunk]
        per.append(torch.stack([F.cross_entropy(out, y, reduction="none"), (out.argmax(1) == y).float()], 1))
    return ((W @ (torch.cat(per) if len(per) > 1 else per[0])) / n).reshape(-1)


def loss_acc_tensors(model: nn.Module, tensors: tuple[torch.Tensor, torch.Tensor], chunk: int = 4096) -> torch.Tensor:
    """Mean loss and accuracy as one device tensor of 2 (no host read)."""
    X, Y = tensors
    total_loss = torch.zeros((), device=X.device)
    correct = torch.zeros((), device=X.device)
    for i in range(0, len(Y), chunk):
        out = model(X[i : i + chunk])
        total_loss += F.cross_entropy(out.float(), Y[i : i + chunk], reduction="sum")
        correct += (out.argmax(1) == Y[i : i + chunk]).sum()
    n = max(len(Y), 1)
    return torch.stack([total_loss / n, correct.float() / n])

