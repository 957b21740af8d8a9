"""Steps 1 and 2 of the lecture notes' tuning recipe: sanity checks before any tuning.

1. ``check_initial_loss``: with weight decay off, a freshly initialised softmax classifier over C classes
   predicts about 1/C for every class, so its loss is about −log(1/C) = log C. Far above: the logits are
   too large at init (weights too big, unnormalised inputs); far below: the model already knows something
   it should not (trained weights, leaked labels).
2. ``overfit_small``: with no regularization, a model that is wired correctly must fit 5–10 mini-batches to
   100 % training accuracy. Loss flat → LR too low or bad init; loss NaN/Inf → LR too high or bad init.

Both measure a *copy* of the model (at the trainer's initial weights unless asked otherwise), so a running
trainer is never disturbed; what they draw comes from their own stream seeded from the config (``rng``),
never from torch's global generators.

>>> import nbtrain as nt
>>> r = nt.check_initial_loss(data="spiral", hidden=[32], seed=0)
>>> r.passed, r.evidence["log_C"] == round(__import__("math").log(3), 4)
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..engine import optim, regularizers, rng, threads
from ..engine.models import set_dropout
from ..engine.text import fmt
from .targets import holding, model_copy, train_tensors, trainer_of

__all__ = ["CheckResult", "check_initial_loss", "overfit_small"]


@dataclass
class CheckResult:
    """The outcome of a sanity check: ``passed``, a one-line ``summary``, the numbers behind it
    (``evidence``), what to try (``advice``) and, for training checks, the ``curve`` (a DataFrame)."""

    check: str
    passed: bool
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)
    curve: pd.DataFrame | None = None

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        lines = [f"[{mark}] {self.check}: {self.summary}"]
        if self.evidence:
            lines.append("  evidence: " + ", ".join(f"{k}={fmt(v)}" for k, v in self.evidence.items()))
        lines += [f"  → {a}" for a in self.advice]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython shows the readable form
        p.text(str(self))


# ------------------------------------------------------------------------------------------------------
# shared helpers (the copies a tool works on are in .targets)
# ------------------------------------------------------------------------------------------------------
def disable_regularization(model: nn.Module) -> None:
    """Switch off dropout and DropConnect in ``model`` (in place)."""
    set_dropout(model, 0.0)
    for m in model.modules():
        if isinstance(m, regularizers.DropConnectLinear):
            m.p = 0.0


@torch.no_grad()
def _loss_acc(model: nn.Module, X: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> tuple[float, float]:
    was = model.training
    model.eval()
    try:
        loss = acc = 0.0
        for i in range(0, len(y), chunk):
            out = model(X[i:i + chunk]).float()
            loss += F.cross_entropy(out, y[i:i + chunk], reduction="sum").item()
            acc += (out.argmax(1) == y[i:i + chunk]).sum().item()
    finally:
        model.train(was)
    return loss / max(len(y), 1), acc / max(len(y), 1)


# ------------------------------------------------------------------------------------------------------
# step 1: the initial loss
# ------------------------------------------------------------------------------------------------
def check_initial_loss(target: Any = None, *, weights: str = "initial", examples: int = 2048,
                       tolerance: float = 0.25, fail_ratio: float = 2.0, **fields: Any) -> CheckResult:
    """Compare the loss at initialization (no weight decay, no dropout) with log C for C classes.

    ``target``: a Trainer or a Lab, or nothing and config fields to build one. The loss is *plausible*
    within ``tolerance``·log C of log C, *somewhat high but trainable* up to ``fail_ratio``·log C (still
    passes, with a note), and fails above that or below (1 − tolerance)·log C. The model is a copy at the
    run's initial weights (``weights="current"`` for the live ones).

    >>> import nbtrain as nt
    >>> print(nt.check_initial_loss(data="moons", hidden=[16]).summary)  # doctest: +ELLIPSIS
    initial loss 0.6... vs log C = log 2 = 0.6931: plausible ...
    """
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance={tolerance!r} must be in (0, 1): the allowed |loss − log C| / log C")
    if not fail_ratio >= 1 + tolerance:
        raise ValueError(f"fail_ratio={fail_ratio!r} must be ≥ 1 + tolerance = {1 + tolerance:g}")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValueError(f"examples={examples!r} must be an integer ≥ 1")
    trainer, owned = trainer_of(target, fields)
    hold = holding(trainer)
    hold.__enter__()
    try:
        cfg = trainer.config
        C = int(trainer.data.num_classes)
        model = model_copy(trainer, weights)
        X, y = train_tensors(trainer, examples, seed=cfg.seed)
        with torch.no_grad():
            model.eval()
            out = model(X[:2048]).float()
        loss, acc = _loss_acc(model, X, y)
        log_c = math.log(C) if C > 1 else 0.0
        evidence: dict[str, Any] = {"loss": round(loss, 4), "log_C": round(log_c, 4), "classes": C,
                                    "ratio": round(loss / log_c, 3) if log_c else math.nan,
                                    "accuracy": round(acc, 4), "chance": round(1 / C, 4),
                                    "logit_std": round(out.std().item(), 4), "examples": len(y)}
        reg = regularizers.penalty(model, cfg.l1, cfg.l2)
        wd = 0.5 * cfg.weight_decay * sum(float((p.detach() ** 2).sum()) for p in model.parameters()) if cfg.weight_decay else 0.0
        extra = (reg.item() if reg is not None else 0.0) + wd
        advice: list[str] = []
        if extra:
            evidence["regularization_term"] = round(extra, 4)
            advice.append(f"weight decay / L1 / L2 would add {extra:.3g} to the loss: the recipe checks the loss "
                          f"with them off (they are excluded here); turn them on again after step 2")
        if out.shape[1] != C:
            return CheckResult("initial loss", False, f"the model outputs {out.shape[1]} logits but the data has "
                               f"{C} classes", evidence, ["make the last layer output one logit per class"])
        if not math.isfinite(loss):
            return CheckResult("initial loss", False, f"initial loss is {loss} (not finite)", evidence,
                               ["look for NaN/Inf in the inputs, and for an init scale so large that logits overflow"])
        low, high = (1 - tolerance) * log_c, (1 + tolerance) * log_c
        head = f"initial loss {loss:.4g} vs log C = log {C} = {log_c:.4f}"
        if low <= loss <= high:
            return CheckResult("initial loss", True, f"{head}: plausible (the model predicts ≈ 1/{C} per class)",
                               evidence, advice)
        if loss > high:
            std = out.std().item()
            if loss <= fail_ratio * log_c:
                return CheckResult("initial loss", True, f"{head}: somewhat high ({loss / log_c:.2f}× log C) but "
                                   "trainable", evidence,
                                   [f"the logits start with std {std:.3g} instead of ≈ 0: the first steps are spent "
                                    "shrinking them; a smaller output layer at init starts at log C (built-in models: "
                                    f"head_init_scale=0.01, the default; now {cfg.head_init_scale:g})", *advice])
            advice = [f"logits are too large at init (std {std:.3g}): the weights start too big — "
                      f"init={cfg.init!r}{'' if cfg.init_std is None else f', init_std={cfg.init_std:g}'}; try "
                      "'he_normal' (ReLU) or 'xavier_normal' (tanh), or a smaller init_std",
                      "inputs far from zero or with a large scale blow logits up too: try preprocess='normalize'",
                      *advice]
            return CheckResult("initial loss", False, f"{head}: {loss / log_c:.2f}× too high", evidence, advice)
        advice = ["a fresh model cannot do better than chance: are these trained weights (weights='current')?",
                  "check that the labels do not leak into the inputs and that the loss is averaged over the batch",
                  *advice]
        return CheckResult("initial loss", False, f"{head}: suspiciously low ({loss / log_c:.2f}× log C)", evidence,
                           advice)
    finally:
        hold.__exit__(None, None, None)
        if owned:
            trainer.close()


# ------------------------------------------------------------------------------------------------------
# step 2: over-fit a few mini-batches
# ------------------------------------------------------------------------------------------------
def overfit_small(target: Any = None, *, batches: int = 5, batch_size: int | None = None, max_steps: int = 500,
                  lr: float | None = None, optimizer: str | None = None, eval_every: int = 10,
                  weights: str = "initial", target_acc: float = 1.0, **fields: Any) -> CheckResult:
    """Train a copy of the model on ``batches`` fixed mini-batches with every regularizer off until 100 %
    (``target_acc``) training accuracy on them, or ``max_steps``. Reports success, or the lecture's hint for the failure.

    ``lr``/``optimizer`` default to the trainer's config; the curve (step, loss, acc) is in ``.curve``.

    >>> import nbtrain as nt
    >>> r = nt.overfit_small(data="digits", model="mlp", hidden=[64], lr=0.5, max_steps=300)
    >>> r.passed
    True
    """
    if isinstance(batches, bool) or not isinstance(batches, int) or not 1 <= batches <= 1000:
        raise ValueError(f"batches={batches!r} must be an integer in [1, 1000] (the recipe uses 5–10)")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
        raise ValueError(f"max_steps={max_steps!r} must be an integer ≥ 1")
    if isinstance(eval_every, bool) or not isinstance(eval_every, int) or eval_every < 1:
        raise ValueError(f"eval_every={eval_every!r} must be an integer ≥ 1")
    if not 0 < target_acc <= 1:
        raise ValueError(f"target_acc={target_acc!r} must be in (0, 1]")
    if lr is not None and not (isinstance(lr, (int, float)) and 0 < lr <= 100):
        raise ValueError(f"lr={lr!r} must be a number in (0, 100]")
    trainer, owned = trainer_of(target, fields)
    hold = holding(trainer)
    hold.__enter__()
    try:
        cfg = trainer.config
        bs = batch_size or cfg.batch_size
        if isinstance(bs, bool) or not isinstance(bs, int) or bs < 1:
            raise ValueError(f"batch_size={bs!r} must be an integer ≥ 1")
        lr = float(lr if lr is not None else cfg.lr)
        opt_name = optimizer or cfg.optimizer
        X, y = train_tensors(trainer, batches * bs, seed=cfg.seed)
        n_batches = math.ceil(len(y) / bs)
        model = model_copy(trainer, weights)
        disable_regularization(model)
        hyper = {"momentum": cfg.momentum} if opt_name in ("momentum", "nesterov") else {}
        opt = optim.make(opt_name, model.parameters(), lr=lr, weight_decay=0.0, **hyper)
        rows: list[dict[str, float]] = []
        loss0, acc0 = _loss_acc(model, X, y)
        rows.append({"step": 0, "loss": loss0, "acc": acc0})
        status, bad_step = "budget", None
        with rng.use(rng.Streams(cfg.seed, X.device)), threads.for_small_model(model):  # its own stream
            model.train()
            for step in range(1, max_steps + 1):
                i = (step - 1) % n_batches
                xb, yb = X[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]
                loss = F.cross_entropy(model(xb), yb)
                if not math.isfinite(loss.item()):
                    status, bad_step = "diverged", step
                    rows.append({"step": step, "loss": loss.item(), "acc": math.nan})
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if step % eval_every == 0 or step == max_steps:
                    full_loss, acc = _loss_acc(model, X, y)
                    rows.append({"step": step, "loss": full_loss, "acc": acc})
                    if not math.isfinite(full_loss):
                        status, bad_step = "diverged", step
                        break
                    if acc >= target_acc:
                        status = "fit"
                        break
        curve = pd.DataFrame(rows)
        last = rows[-1]
        evidence = {"examples": len(y), "batches": n_batches, "batch_size": bs, "lr": lr, "optimizer": opt_name,
                    "steps": int(last["step"]), "initial_loss": round(loss0, 4), "final_loss": last["loss"],
                    "final_acc": last["acc"]}
        what = f"{len(y)} examples ({n_batches} batches of {bs})"
        if status == "fit":
            return CheckResult("overfit small", True, f"reached {last['acc']:.0%} training accuracy on {what} in {int(last['step'])} "
                               f"steps (loss {loss0:.3g} → {last['loss']:.3g}): the model can learn",
                               evidence, ["now turn regularization back on and find a learning rate (step 3)"], curve)
        if status == "diverged":
            return CheckResult("overfit small", False, f"the loss exploded to {last['loss']} at step {bad_step}",
                               evidence, [f"learning rate too high: try lr={lr / 10:g} (10× smaller)",
                                          f"or a bad initialization: init={cfg.init!r} (try 'he_normal' for ReLU)"], curve)
        best_acc = float(curve["acc"].max())
        if last["loss"] > 1.1 * loss0:
            return CheckResult("overfit small", False, f"the loss rose in {max_steps} steps ({loss0:.3g} → "
                               f"{last['loss']:.3g}; best accuracy {best_acc:.0%})", evidence,
                               [f"learning rate too high: try lr={lr / 10:g} (10× smaller)",
                                "if a smaller rate also rises, look for a sign error (gradient ascent)"], curve)
        if last["loss"] > 0.9 * loss0:
            return CheckResult("overfit small", False, f"the loss barely moved in {max_steps} steps "
                               f"({loss0:.3g} → {last['loss']:.3g}; best accuracy {best_acc:.0%})", evidence,
                               [f"learning rate too low: try lr={lr * 10:g} (10× larger)",
                                f"or a bad initialization: init={cfg.init!r} (tiny weights make a deep net's signal vanish)"],
                               curve)
        return CheckResult("overfit small", False, f"the loss falls ({loss0:.3g} → {last['loss']:.3g}) but accuracy "
                           f"reached only {best_acc:.0%} in {max_steps} steps", evidence,
                           ["train longer (max_steps) or raise the learning rate",
                            "if it still cannot fit a few batches the model is too small or mis-wired"], curve)
    finally:
        hold.__exit__(None, None, None)
        if owned:
            trainer.close()
