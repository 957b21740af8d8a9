"""Step 6 of the recipe: read the learning curves. ``diagnose(trainer_or_history)`` applies the lecture
notes' rules for reading them and returns plain-language findings, each with its evidence (steps, values) and
advice.

Rules (severity): ``nan`` loss became NaN/Inf (error) · ``rising_loss`` the loss goes up (error) ·
``no_progress`` the loss has not moved (warning) · ``bad_init_plateau`` flat, then a sudden drop (warning) ·
``plateau`` the loss stopped falling at a constant LR → decay (info) · ``decay_too_early`` the LR was cut
while the loss was still falling fast and progress slowed after it (warning) · ``overfitting`` train ≫ val
and val getting worse (warning) · ``keep_training`` a gap, but both still improving (info) ·
``underfitting`` no gap and a low accuracy (info) · ``unshuffled`` the loss repeats with the epoch period
(warning) · ``noisy_val`` a tiny validation set (info) · ``activation_before_softmax`` the logits pass
through a non-linearity (warning; needs the model).

Guards: ``overfitting`` needs a training accuracy clearly above chance (a third of the way from 1/C to
100 %) and a gap that holds over the last three evaluations and exceeds the validation set's noise, not
one noisy evaluation. Findings that contradict a more specific one are dropped (:data:`SUPPRESSED_BY`): a
run that made no progress is not also "under-fitting" or "over-fitting". A NaN/Inf finding first looks at
the inputs: non-finite or unnormalised inputs (RMS > 100) are named as the cause before the learning rate.

>>> import numpy as np, pandas as pd, nbtrain as nt
>>> steps = np.arange(400)
>>> h = pd.DataFrame({"step": steps, "train_loss": np.r_[np.linspace(2, 1, 200), np.full(200, np.nan)], "lr": 0.1})
>>> [f.rule for f in nt.diagnose(h)]
['nan']
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter

from ..engine.data import INPUT_RMS_LIMIT, input_rms
from ..engine.text import fmt
from .targets import trainer_in

__all__ = ["Finding", "Findings", "diagnose", "RULES"]

SEVERITIES = ("error", "warning", "info")
RULES = ("nan", "rising_loss", "no_progress", "bad_init_plateau", "plateau", "decay_too_early", "overfitting",
         "keep_training", "underfitting", "unshuffled", "noisy_val", "activation_before_softmax")

#: rule -> the findings that, when present, make it contradictory or moot (it is then not shown)
SUPPRESSED_BY: dict[str, frozenset[str]] = {
    "plateau": frozenset({"nan", "rising_loss", "no_progress"}),
    "decay_too_early": frozenset({"nan", "rising_loss", "no_progress"}),
    "overfitting": frozenset({"nan", "rising_loss", "no_progress"}),
    "keep_training": frozenset({"nan", "rising_loss", "no_progress", "plateau", "overfitting"}),
    "underfitting": frozenset({"nan", "rising_loss", "no_progress", "bad_init_plateau", "overfitting"}),
}

#: overfitting needs train accuracy ≥ chance + this share of the way from chance to 100 % (3 classes: 56 %)
ABOVE_CHANCE = 1 / 3
#: ... and the gap in each of this many last evaluations
SUSTAINED_EVALS = 3


@dataclass
class Finding:
    """One diagnosis: the ``rule`` that fired, its ``severity`` (error, warning, info), a one-line
    ``message``, the ``evidence`` (steps and values it is based on) and ``advice`` (what to try)."""

    rule: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    advice: str = ""

    def __str__(self) -> str:
        ev = ", ".join(f"{k}={fmt(v)}" for k, v in self.evidence.items())
        out = f"[{self.severity}] {self.rule}: {self.message}"
        if ev:
            out += f"\n    evidence: {ev}"
        if self.advice:
            out += f"\n    → {self.advice}"
        return out


class Findings(list):
    """A list of :class:`Finding`, most severe first, that prints readably."""

    @property
    def rules(self) -> list[str]:
        return [f.rule for f in self]

    def __str__(self) -> str:
        if not self:
            return "no problem found in these curves"
        return "\n".join(str(f) for f in self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


# --------------------------------------------------------------------------------------------------------
# the curves, whatever they came from
# --------------------------------------------------------------------------------------------------------
@dataclass
class _Curves:
    step: np.ndarray
    loss: np.ndarray
    lr: np.ndarray | None
    epoch: np.ndarray | None
    evals: pd.DataFrame
    events: list[dict[str, Any]]
    n_val: int | None = None
    n_train: int | None = None
    shuffle: bool | None = None
    model: Any = None
    message: str = ""
    stop_reason: str | None = None  # Trainer.stop_reason ("diverged" after a NaN/Inf)
    n_classes: int | None = None
    input_rms: float | None = None  # root-mean-square of (a sample of) the training inputs; inf if non-finite


EVAL_COLUMNS = ("val_loss", "val_acc", "train_eval_loss", "train_acc")


def _curves(source: Any) -> _Curves:
    trainer = trainer_in(source)
    if trainer is not None:
        # the step and evaluation tables as they are (no joined frame: a live Lab diagnoses a long run
        # every few seconds), each step's loss once
        m = trainer.metrics
        with m.lock:
            step, loss, lr, epoch = (m.steps.column(name).copy() for name in ("step", "train_loss", "lr", "epoch"))
        c = _Curves(step, loss, lr, epoch, m.eval_frame().reset_index(drop=True), [])
        c.events = list(trainer.metrics.events)
        data = trainer.data
        c.n_val = _len(data.val)
        c.n_train = _len(data.train)
        # the engine reshuffles its own data each epoch; a user's DataLoader keeps its own order
        c.shuffle = bool(trainer.config.shuffle) if data.loader is None else None
        c.model = trainer.model
        c.message = trainer.message
        c.stop_reason = trainer.stop_reason
        c.n_classes = int(data.num_classes) if getattr(data, "num_classes", None) else None
        c.input_rms = _input_rms(data)
        return c
    if isinstance(source, pd.DataFrame):
        if "train_loss" not in source.columns:
            raise ValueError(f"a history needs a 'train_loss' column; got columns {list(source.columns)}")
        c = _from_frame(source, None)
        c.events = list(source.attrs.get("events", []))
        c.n_classes = source.attrs.get("num_classes")
        return c
    raise ValueError(f"diagnose() takes a Trainer, a Lab or a history DataFrame, got {type(source).__name__}")


# id(data) -> (a weak reference to it, id of its training split, its input_rms)
_RMS: dict[int, tuple[Any, int, float | None]] = {}


def _input_rms(data: Any) -> float | None:
    """``input_rms(data)``, computed once per data object (and training split: one put in its place is measured
    again): a live Lab diagnoses every few seconds, and a dataset not held in memory reads 256 of its examples
    for it (an image folder: 256 files decoded)."""
    hit = _RMS.get(id(data))
    split = id(getattr(data, "train", None))
    if hit is not None and hit[0]() is data and hit[1] == split:
        return hit[2]
    value = input_rms(data)
    try:
        ref = weakref.ref(data)
    except TypeError:  # an object without weak references: not kept
        return value
    if len(_RMS) > 64:
        _RMS.clear()
    _RMS[id(data)] = (ref, split, value)
    return value


def _eval_only(h: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """The rows of an evaluation with no training loss (the final evaluation, or evaluations logged as rows of
    their own): a NaN training loss there is not a NaN loss. Except where the run diverged: a NaN training loss
    at an evaluation is the run's own NaN when no finite training loss comes after it and a training row with a
    non-finite loss does (a run whose loss became NaN at an evaluation step)."""
    loss = h["train_loss"].to_numpy(float)
    candidate = np.isnan(loss) & h[cols].notna().any(axis=1).to_numpy()
    finite = np.isfinite(loss)
    bad_training = ~finite & ~candidate

    def later(flags: np.ndarray) -> np.ndarray:  # any flag in a row after each row
        return np.r_[np.logical_or.accumulate(flags[::-1])[::-1][1:], False]

    return candidate & ~(~later(finite) & later(bad_training))


def _from_frame(h: pd.DataFrame, ev: pd.DataFrame | None) -> _Curves:
    cols = [c for c in EVAL_COLUMNS if c in h.columns]
    rows = h.loc[~_eval_only(h, cols)] if cols else h
    step = rows["step"].to_numpy(float) if "step" in h.columns else np.arange(len(rows), dtype=float)
    loss = rows["train_loss"].to_numpy(float)
    lr = rows["lr"].to_numpy(float) if "lr" in h.columns else None
    epoch = rows["epoch"].to_numpy(float) if "epoch" in h.columns else None
    if ev is None:
        if cols:
            ev = h.loc[h[cols].notna().any(axis=1), ["step", *cols] if "step" in h.columns else cols].copy()
            if "step" not in ev.columns:
                ev.insert(0, "step", ev.index.to_numpy())
        else:
            ev = pd.DataFrame(columns=["step"])
    ev = ev.reset_index(drop=True)
    return _Curves(step, loss, lr, epoch, ev, [])


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    """The centred running median of ``y`` over ``window`` (odd) points, over the points there are at the
    ends (pandas' ``rolling(window, center=True, min_periods=1).median()``, value for value). The inside comes
    from scipy's median filter, several times faster on a long run; the two ends, where the window is cut
    short, from pandas.

    >>> y = np.random.default_rng(0).standard_normal(500).cumsum()
    >>> bool(np.array_equal(_smooth(y, 51), pd.Series(y).rolling(51, center=True, min_periods=1).median().to_numpy()))
    True
    """
    def rolling(part: np.ndarray) -> np.ndarray:
        return pd.Series(part).rolling(window, center=True, min_periods=1).median().to_numpy()

    n, h = len(y), window // 2
    if n < 4 * window:
        return rolling(y)
    out = median_filter(y, size=window, mode="nearest")
    # the first / last h windows hold only values among the first / last 2h
    out[:h], out[n - h :] = rolling(y[: 2 * h])[:h], rolling(y[n - 2 * h :])[h:]
    return out


def _window(n: int) -> int:
    w = max(5, n // 50)
    return w + 1 - w % 2


def _col(ev: pd.DataFrame, name: str) -> np.ndarray | None:
    if name in ev.columns:
        v = ev[name].to_numpy(float)
        if np.isfinite(v).sum() >= 2:
            return v
    return None


# --------------------------------------------------------------------------------------------------------
# the rules: each takes the curves and returns a Finding or None
# --------------------------------------------------------------------------------------------------------
def _rule_nan(c: _Curves) -> Finding | None:
    bad = ~np.isfinite(c.loss)
    events = [e for e in c.events if e.get("field") == "nonfinite_loss"]
    if not bad.any() and not events and c.stop_reason != "diverged":
        return None
    if bad.any():
        i = int(np.argmax(bad))
        step, value = int(c.step[i]), c.loss[i]
        lr = float(c.lr[i]) if c.lr is not None and math.isfinite(c.lr[i]) else None
    else:
        step = int(events[0]["step"]) if events else (int(c.step[-1]) + 1 if len(c.step) else 0)
        value = events[0].get("new", "NaN") if events else "NaN"
        lr = float(c.lr[-1]) if c.lr is not None and len(c.lr) else None
    finite = c.loss[np.isfinite(c.loss)]
    evidence: dict[str, Any] = {"step": step, "value": str(value)}
    if lr is not None:
        evidence["lr"] = lr
    if len(finite):
        evidence["last_finite_loss"] = float(finite[-1])
    restore = "trainer.restore_finite() goes back to the last finite weights"
    if c.input_rms is not None and not math.isfinite(c.input_rms):
        evidence["inputs"] = "contain NaN/Inf"
        return Finding("nan", "error", f"the loss became {value} at step {step}: the training inputs contain NaN/Inf",
                       evidence, "clean the data: drop or impute the non-finite values (torch.nan_to_num, or "
                       "filter the rows) before training")
    if c.input_rms is not None and c.input_rms > INPUT_RMS_LIMIT:
        evidence["input_rms"] = c.input_rms
        return Finding("nan", "error", f"the loss became {value} at step {step}: the inputs are not normalised "
                       f"(their RMS is {c.input_rms:.3g})", evidence,
                       "normalise the inputs: preprocess='normalize' (zero mean, unit variance per feature, fitted "
                       f"on the training split); a lower learning rate only hides it; {restore}")
    lr_hint = f"try lr={lr / 10:g} (10× smaller)" if lr else "lower the learning rate 10×"
    return Finding("nan", "error", f"the loss became {value} at step {step}", evidence,
                   f"learning rate too high: {lr_hint}; or a bad init (weights too large); {restore}")


def _rule_rising(c: _Curves, s: np.ndarray) -> Finding | None:
    n = len(s)
    if n < 20:
        return None
    head = float(c.loss[0])  # the loss at init: a blow-up can start at step 1
    tail = float(np.median(c.loss[-max(3, n // 10):]))
    low_i = int(np.argmin(s))
    if tail > 1.25 * head:
        return Finding("rising_loss", "error", f"the training loss rises: {head:.3g} at the start → {tail:.3g} at the end",
                       {"start_loss": head, "end_loss": tail, "lowest_loss": float(s[low_i]),
                        "lowest_at_step": int(c.step[low_i])},
                       "learning rate far too high (try 10× smaller), or a sign error: the update must be w − lr·grad")
    return None


def _rule_no_progress(c: _Curves, s: np.ndarray) -> Finding | None:
    n = len(s)
    if n < 50:
        return None
    start = float(np.median(s[: max(3, n // 20)]))
    rel = np.abs(s - start) / max(abs(start), 1e-12)
    if rel.max() < 0.05:
        return Finding("no_progress", "warning", f"the loss has not moved in {n} steps (stays at ≈ {start:.3g})",
                       {"steps": n, "loss": start, "max_relative_change": float(rel.max())},
                       "learning rate too low (try 10× larger) or a bad init: zeros or tiny weights "
                       "(use 'he_normal' for ReLU, 'xavier_normal' for tanh)")
    return None


def _rule_bad_init(c: _Curves, s: np.ndarray) -> Finding | None:
    n = len(s)
    if n < 50:
        return None
    start = float(np.median(s[: max(3, n // 50)]))
    low = float(np.min(s))
    if low > 0.7 * start:  # never dropped much: not this rule
        return None
    below = np.nonzero(s < 0.95 * start)[0]
    if not len(below):
        return None
    t_flat = int(below[0])
    if t_flat < max(20, n // 10):
        return None
    # sudden: it falls by 30 % of the start level in less than half the plateau's length
    target = np.nonzero(s < start - 0.3 * (start - low) - 0.05 * start)[0]
    target = target[target >= t_flat]
    if not len(target):
        return None
    t_drop = int(target[0])
    if t_drop - t_flat > max(t_flat // 2, 5):
        return None
    return Finding("bad_init_plateau", "warning",
                   f"the loss stayed flat at ≈ {start:.3g} for {int(c.step[t_flat])} steps, then dropped suddenly "
                   f"(to {s[t_drop]:.3g} by step {int(c.step[t_drop])})",
                   {"plateau_until_step": int(c.step[t_flat]), "plateau_loss": start,
                    "drop_to": float(s[t_drop]), "drop_by_step": int(c.step[t_drop])},
                   "a bad initialization: the signal starts too small to learn from; use 'he_normal' (ReLU) or "
                   "'xavier_normal' (tanh) instead of tiny weights")


def _rule_plateau(c: _Curves, s: np.ndarray, fired: set[str]) -> Finding | None:
    n = len(s)
    if n < 100 or fired & {"no_progress", "nan", "rising_loss"}:
        return None
    a = n - n // 3
    seg = s[a:]
    first, last = float(np.median(seg[: max(3, len(seg) // 10)])), float(np.median(seg[-max(3, len(seg) // 10):]))
    total_drop = float(s[0] - s[-1])
    if first <= 0 or total_drop <= 0:
        return None
    rel = (first - last) / first
    if c.lr is not None:
        lrs = c.lr[np.isfinite(c.lr)]
        if len(lrs) and lrs[a:].min() < 0.9 * lrs.max():
            return None  # the LR has already been decayed: this is not "a plateau at a constant LR"
    if rel < 0.02 and (first - last) < 0.05 * total_drop and last > 0.02:
        lr_now = float(c.lr[-1]) if c.lr is not None else None
        ev: dict[str, Any] = {"from_step": int(c.step[a]), "to_step": int(c.step[-1]), "loss_then": first,
                              "loss_now": last, "relative_change": rel}
        if lr_now is not None:
            ev["lr"] = lr_now
        return Finding("plateau", "info", f"the loss has stopped falling since step {int(c.step[a])} "
                       f"({first:.3g} → {last:.3g}) at a constant learning rate", ev,
                       "try learning-rate decay: a step (×0.1) now, or a cosine/step schedule")
    return None


def _rule_decay_too_early(c: _Curves, s: np.ndarray) -> Finding | None:
    if c.lr is None or len(s) < 60:
        return None
    lr = c.lr
    drops = np.nonzero((lr[1:] < 0.5 * lr[:-1]) & np.isfinite(lr[1:]))[0]
    if not len(drops):
        return None
    d = int(drops[0]) + 1
    w = min(d // 2, (len(s) - d) // 2, 200)
    if w < 10:
        return None
    h = max(5, w // 2)  # skip the quick step down that follows any cut
    before = (s[d - w] - s[d - 1]) / w
    after = (s[min(d + h, len(s) - 1)] - s[min(d + h + w, len(s) - 1)]) / w
    level = max(abs(float(s[d - 1])), 1e-12)
    still_falling = (s[d - w] - s[d - 1]) / level > 0.1
    if still_falling and before > 0 and after < before / 3:
        return Finding("decay_too_early", "warning",
                       f"the learning rate was cut at step {int(c.step[d])} ({lr[d - 1]:.3g} → {lr[d]:.3g}) while the "
                       f"loss was still falling fast; progress then slowed {before / max(after, 1e-12):.1f}×",
                       {"decay_step": int(c.step[d]), "lr_before": float(lr[d - 1]), "lr_after": float(lr[d]),
                        "loss_drop_per_step_before": float(before), "loss_drop_per_step_after": float(after)},
                       "decay later: keep the rate until the loss plateaus (move the step or lengthen the schedule)")
    return None


def _rule_gap(c: _Curves, fired: set[str]) -> Finding | None:
    ev = c.evals
    va, ta = _col(ev, "val_acc"), _col(ev, "train_acc")
    vl, tl = _col(ev, "val_loss"), _col(ev, "train_eval_loss")
    if va is None and vl is None or fired & {"nan", "rising_loss"}:
        return None
    steps = ev["step"].to_numpy(float)
    m = len(steps)
    if m < 3:
        return None
    last = m - 1
    gap = float(ta[last] - va[last]) if va is not None and ta is not None else None
    if vl is not None and np.isfinite(vl).any():
        i_best = int(np.nanargmin(vl))
        val_worse = vl[last] > 1.05 * vl[i_best] and i_best < 0.8 * last
    else:
        i_best, val_worse = last, False
    acc_fall = va is not None and va[last] < np.nanmax(va) - 0.02 and int(np.nanargmax(va)) < 0.8 * last
    evidence: dict[str, Any] = {}
    if ta is not None and va is not None:
        evidence.update(train_acc=float(ta[last]), val_acc=float(va[last]), gap=gap)
    if vl is not None:
        evidence.update(val_loss=float(vl[last]), best_val_loss=float(vl[i_best]), best_val_step=int(steps[i_best]))
    worse = val_worse or acc_fall

    def overfit_at(i: int) -> bool:
        if ta is not None and va is not None:
            g = float(ta[i] - va[i])
            return g > 0.1 or (g > 0.03 and worse) or (g > 0.05 and ta[i] >= 0.99)
        return vl is not None and tl is not None and float(vl[i] - tl[i]) > 0.3 and worse

    k_sus = min(SUSTAINED_EVALS, m)
    recent = range(m - k_sus, m)
    sustained = all(overfit_at(i) for i in recent)
    chance = 1.0 / c.n_classes if c.n_classes else None
    if chance is None and ta is not None and ev["step"].iloc[0] == 0 and math.isfinite(ta[0]):
        chance = float(ta[0])  # the untrained model's accuracy: about chance
    above_chance = True
    if ta is not None:
        floor = (chance if chance is not None else 0.0)
        above_chance = bool(ta[last] >= floor + ABOVE_CHANCE * (1.0 - floor))
    beyond_noise = True
    if gap is not None and c.n_val:
        p = min(max(float(va[last]), 0.05), 0.95)
        beyond_noise = gap > 2.0 * math.sqrt(p * (1 - p) / c.n_val)  # two standard errors of val accuracy
    overfit = sustained and above_chance and beyond_noise
    if overfit:
        what = (f" and val loss rising since step {int(steps[i_best])}" if val_worse
                else " and val accuracy falling" if acc_fall else "")
        return Finding("overfitting", "warning",
                       f"train ≫ val ({_pct(ta, last)} vs {_pct(va, last)}){what}",
                       evidence, "regularize (weight_decay, dropout, augment), get more data, or stop early "
                       "(patience=…, trainer.restore_best())")
    k = max(2, m // 4)
    improving = (va is not None and va[last] >= np.nanmax(va[: last + 1]) - 0.005 and va[last] > va[last - k] + 0.005) or (
        va is None and vl is not None and vl[last] < vl[last - k] - 0.01)
    if gap is not None and gap > 0.05 and improving and not val_worse:
        return Finding("keep_training", "info", f"a train/val gap of {gap:.2f} but validation is still improving",
                       evidence, "train longer (more max_steps / max_epochs) before changing anything else")
    if gap is not None and abs(gap) < 0.05 and ta[last] < 0.9 and fired.isdisjoint(SUPPRESSED_BY["underfitting"]):
        return Finding("underfitting", "info", f"train ≈ val ({ta[last]:.2f} vs {va[last]:.2f}): no gap at a low accuracy",
                       evidence, "the model is too weak for the task: a bigger model, a higher learning rate, or "
                       "train longer")
    return None


def _pct(a: np.ndarray | None, i: int) -> str:
    return "?" if a is None else f"{a[i]:.0%}"


def _rule_unshuffled(c: _Curves) -> Finding | None:
    if c.shuffle:  # the trainer reshuffled every epoch: a pattern cannot come from the order
        return None
    loss = c.loss[np.isfinite(c.loss)]
    n = len(loss)
    if n < 200:
        return None
    period = None
    if c.epoch is not None:
        de = np.diff(c.epoch)
        de = de[(de > 0) & np.isfinite(de)]
        if len(de):
            period = int(round(1.0 / float(np.median(de))))
    lags = [period] if period and 3 <= period <= n // 5 else list(range(3, min(n // 5, 200) + 1))
    if not lags or (period and period > n // 5):
        return None
    w = lags[0] if len(lags) == 1 else 25
    resid = loss - pd.Series(loss).rolling(w, center=True, min_periods=1).mean().to_numpy()
    # after the fast initial fall (its trend is not removed by a rolling mean), away from the edges
    resid = resid[max(n // 3, w): n - w]
    if len(resid) < max(100, 5 * lags[0]) or resid.std() < 1e-6 * max(float(np.abs(loss).mean()), 1e-12):
        return None

    def corr(lag: int) -> float:
        a, b = resid[:-lag], resid[lag:]
        if len(a) < 10 or a.std() < 1e-12 or b.std() < 1e-12:
            return 0.0
        return float(np.corrcoef(a, b)[0, 1])

    best_lag, best_r = None, 0.0
    for lag in lags:
        r = corr(lag)
        # a repeating pattern correlates at its period far more than at half of it (a smooth residual
        # correlates best at the shortest lags instead)
        if r > best_r and r - corr(max(1, lag // 2)) > 0.3:
            best_lag, best_r = lag, r
    if best_lag is None or best_r < 0.5:
        return None
    ev: dict[str, Any] = {"period_steps": best_lag, "autocorrelation": best_r}
    if c.shuffle is not None:
        ev["shuffle"] = c.shuffle
    return Finding("unshuffled", "warning", f"the loss repeats every {best_lag} steps (autocorrelation {best_r:.2f})"
                   + (": one epoch" if period == best_lag else ""), ev,
                   "the data is not shuffled: shuffle=True (a fresh order every epoch)")


def _rule_noisy_val(c: _Curves) -> Finding | None:
    ev = c.evals
    va = _col(ev, "val_acc")
    n_val = c.n_val
    if n_val is None and va is not None:  # accuracies are multiples of 1/n_val: read n_val off the curve
        vals = np.unique(np.round(va[np.isfinite(va)], 9))
        if len(vals) >= 4:
            for n in range(2, 501):  # the smallest n for which every value is (almost exactly) k/n
                if np.all(np.abs(vals * n - np.round(vals * n)) < 1e-3):
                    n_val = n
                    break
    if n_val is None:
        return None
    frac = n_val / (n_val + c.n_train) if c.n_train else None
    if not (n_val < 50 or (frac is not None and frac < 0.1 and n_val < 500)):
        return None
    p = float(np.nanmean(va)) if va is not None else 0.5
    se = math.sqrt(max(p * (1 - p), 0.01) / max(n_val, 1))
    ev_: dict[str, Any] = {"val_examples": n_val, "accuracy_std_error": se}
    if c.n_train:
        ev_["train_examples"] = c.n_train
        ev_["val_fraction"] = frac
    return Finding("noisy_val", "info", f"only {n_val} validation examples: each val accuracy is ± {se:.0%} noise",
                   ev_, "hold out more for validation (≈ 20 %: val_split=0.2) before comparing runs")


def _rule_activation_before_softmax(c: _Curves) -> Finding | None:
    if c.model is None:
        return None
    from ..engine.activations import name_of

    leaves = [m for m in c.model.modules() if not list(m.children())]
    if not leaves:
        return None
    name = name_of(leaves[-1])
    if name in (None, "identity"):
        return None
    return Finding("activation_before_softmax", "warning",
                   f"the model's last layer is a {name} activation: logits are squashed before the softmax",
                   {"last_module": type(leaves[-1]).__name__},
                   "end the model with a Linear layer (raw logits): cross-entropy applies the softmax itself; "
                   "a ReLU there clips negative logits to 0 and makes the start very slow")


# --------------------------------------------------------------------------------------------------------
def diagnose(source: Any, *, min_steps: int = 20) -> Findings:
    """Apply the learning-curve rules to a Trainer, a Lab or a history DataFrame (``trainer.history``).

    Returns :class:`Findings` (a list of :class:`Finding`, most severe first; empty when nothing is wrong).
    A DataFrame needs ``train_loss`` (and ``step``); ``lr``, ``epoch`` and the evaluation columns
    ``val_loss``, ``val_acc``, ``train_eval_loss``, ``train_acc`` (NaN between evaluations) enable more
    rules. A Trainer also lets the rules use its validation-set size, ``shuffle`` and model.

    >>> import numpy as np, pandas as pd, nbtrain as nt
    >>> t = np.arange(600)
    >>> h = pd.DataFrame({"step": t, "train_loss": 2.3 * np.exp(-t / 50) + 0.5, "lr": 0.1})
    >>> print(nt.diagnose(h))  # doctest: +ELLIPSIS
    [info] plateau: the loss has stopped falling since step 400 ...
    """
    if isinstance(min_steps, bool) or not isinstance(min_steps, int) or min_steps < 1:
        raise ValueError(f"min_steps={min_steps!r} must be an integer ≥ 1")
    c = _curves(source)
    findings: list[Finding] = []
    nan = _rule_nan(c)
    if nan is not None:
        findings.append(nan)
    finite = np.isfinite(c.loss)
    if finite.sum() >= min_steps:
        keep = finite
        c2 = _Curves(c.step[keep], c.loss[keep], c.lr[keep] if c.lr is not None else None,
                     c.epoch[keep] if c.epoch is not None else None, c.evals, c.events, c.n_val, c.n_train, c.shuffle,
                     c.model, c.message, c.stop_reason)
        s = _smooth(c2.loss, _window(len(c2.loss)))
        fired = {f.rule for f in findings}
        for rule in (lambda: _rule_rising(c2, s), lambda: _rule_no_progress(c2, s), lambda: _rule_bad_init(c2, s)):
            f = rule()
            if f is not None:
                findings.append(f)
                fired.add(f.rule)
        for rule in (lambda: _rule_plateau(c2, s, fired), lambda: _rule_decay_too_early(c2, s),
                     lambda: _rule_gap(c2, fired), lambda: _rule_unshuffled(c2)):
            f = rule()
            if f is not None:
                findings.append(f)
                fired.add(f.rule)
    for rule in (_rule_noisy_val, _rule_activation_before_softmax):
        f = rule(c)
        if f is not None:
            findings.append(f)
    present = {f.rule for f in findings}
    findings = [f for f in findings if present.isdisjoint(SUPPRESSED_BY.get(f.rule, ()))]
    findings.sort(key=lambda f: SEVERITIES.index(f.severity))
    return Findings(findings)


def _len(ds: Any) -> int | None:
    """len(ds), None for no split or one without a length (an IterableDataset)."""
    try:
        return len(ds) if ds is not None else None
    except TypeError:
        return None
