"""Rules that involve several fields of a :class:`~nbtrain.engine.config.TrainConfig` (or a field and the
model/data it trains), in one place.

``TrainConfig`` checks each field on its own (a number in range, a registry name); the rules here check the
*combination*. Every change — one field, or several through ``update()`` — is checked against the whole new
config before it is accepted, so a value that is fine alone but breaks the run with another is refused at
the call, with a message that names both fields, their values and one way out; the config is unchanged.

Each rule is a small function ``rule(c, facts) -> message | None``: ``c`` is the complete candidate config
(a mapping field -> value), ``facts`` what a trainer knows about its model and data (empty for a bare
config): ``n_train``, ``has_val``, ``batch_norm_blocks``, ``activation_slots``, ``model``, ``loader_batch_size``.
A rule is checked when one of the fields it names changes (so a config that a reset made inconsistent
with new facts never blocks unrelated changes), and all of them at construction.

Batch-norm and the last batch of an epoch: with batch-norm on, a last batch that would hold a single
example is *merged* into the batch before it (that batch holds ``batch_size + 1``), so every example is
still seen once per epoch and batch statistics never come from one example. A user ``DataLoader`` cannot
be re-batched: its batches of one example are skipped while batch-norm is on.

>>> from nbtrain import TrainConfig
>>> cfg = TrainConfig(lr=0.1, schedule="cyclic", schedule_params={"min_lr": 0.05})
>>> cfg.lr = 0.01
Traceback (most recent call last):
...
nbtrain.engine.config.ConfigError: TrainConfig.lr = 0.01 is not allowed: schedule_params min_lr=0.05 is above lr=0.01 (schedule 'cyclic': min_lr is the bottom of the cycle): lower min_lr first, or set both at once: config.update(lr=0.01, schedule_params={'min_lr': 0.001})
>>> cfg.lr
0.1
>>> cfg.update(lr=0.01, schedule_params={"min_lr": 0.001}); cfg.lr
0.01
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .checks import is_real
from .text import fmt

Rule = Callable[[Mapping[str, Any], Mapping[str, Any]], "str | None"]

#: name -> (fields the rule reads, rule)
RULES: dict[str, tuple[frozenset[str], Rule]] = {}

# lr-bounded schedule parameters: parameter -> its meaning (shown in messages)
_LR_BOUNDED = {"min_lr": "the bottom of the cycle", "eta_min": "the floor of each restart"}
MAX_CLASSES_WITHOUT_ASKING = 100  # above this, an inferred class count must be backed by the labels present


def rule(*fields: str) -> Callable[[Rule], Rule]:
    """Register a rule over ``fields`` (the rule runs whenever one of them changes)."""

    def deco(fn: Rule) -> Rule:
        RULES[fn.__name__] = (frozenset(fields), fn)
        return fn

    return deco


def check(c: Mapping[str, Any], facts: Iterable[Mapping[str, Any]] = ({},), changed: Iterable[str] | None = None
          ) -> str | None:
    """The first broken rule's message for candidate ``c`` (rules over ``changed`` fields; all if None)."""
    changed = None if changed is None else set(changed)
    facts = list(facts) or [{}]
    for fields, fn in RULES.values():
        if changed is not None and not fields & changed:
            continue
        for f in facts:
            msg = fn(c, f)
            if msg:
                return msg
    return None


def _horizon(c: Mapping[str, Any]) -> int:
    return c["total_steps"] or c["max_steps"] or 1000


_fmt = functools.partial(fmt, digits=6)  # a value the user set, echoed as typed (Python's :g)


# ---- optimisation -----------------------------------------------------------------------------------------
@rule("schedule", "schedule_params", "lr", "warmup_steps", "total_steps", "max_steps")
def schedule_fits(c: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    """The schedule, its parameters, lr, warm-up and horizon build a schedule together."""
    from . import schedules

    name, params, lr = c["schedule"], dict(c["schedule_params"]), c["lr"]
    for p, meaning in _LR_BOUNDED.items():
        v = params.get(p)
        if is_real(v) and v > lr:
            fixed = {**params, p: float(f"{lr / 10:.3g}")}
            return (f"schedule_params {p}={_fmt(v)} is above lr={_fmt(lr)} (schedule {name!r}: {p} is {meaning}): "
                    f"lower {p} first, or set both at once: config.update(lr={_fmt(lr)}, schedule_params={fixed!r})")
    try:
        schedules.make(name, lr, _horizon(c), warmup_steps=c["warmup_steps"], **params)
    except (TypeError, ValueError) as exc:
        accepted = ", ".join(schedules.param_specs(name)) if name in schedules.registry else "?"
        return (f"schedule={name!r} with schedule_params={params!r} does not fit lr={_fmt(lr)}, "
                f"warmup_steps={c['warmup_steps']}, horizon {_horizon(c)} steps: {exc}. Change them together, e.g. "
                f"config.update(schedule={name!r}, schedule_params={{...}}) with parameters among: {accepted}")
    return None


@rule("optimizer", "momentum", "lr", "weight_decay")
def optimizer_fits(c: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    """The optimizer can be built with these hyper-parameters (nesterov needs momentum > 0, ...)."""
    opt, mom = c["optimizer"], c["momentum"]
    if opt == "nesterov" and not mom > 0:
        return (f"optimizer='nesterov' needs momentum > 0, but momentum={_fmt(mom)}: choose optimizer='sgd' "
                f"for no momentum, or keep nesterov with e.g. momentum=0.9 "
                f"(config.update(optimizer='sgd', momentum=0.0))")
    import torch

    from . import optim

    hyper = {"momentum": mom} if opt in ("momentum", "nesterov") else {}
    try:
        optim.make(opt, [torch.nn.Parameter(torch.zeros(1))], lr=c["lr"], weight_decay=c["weight_decay"], **hyper)
    except (TypeError, ValueError) as exc:
        return (f"optimizer={opt!r} cannot be built with lr={_fmt(c['lr'])}, momentum={_fmt(mom)}, "
                f"weight_decay={_fmt(c['weight_decay'])}: {exc}")
    return None


# ---- architecture vs batch and model ----------------------------------------------------------------------
@rule("batch_norm", "batch_size")
def batch_norm_batch(c: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    """Batch-norm needs at least two examples per batch (one example has no batch statistics)."""
    if not c["batch_norm"]:
        return None
    if c["batch_size"] < 2:
        return (f"batch_norm=True needs batch_size ≥ 2 (the statistics of a batch of one example are "
                f"undefined), but batch_size={c['batch_size']}: raise batch_size first, or switch batch_norm off "
                f"(config.update(batch_norm=False, batch_size=1))")
    lb = facts.get("loader_batch_size")
    if lb is not None and lb < 2:
        return (f"batch_norm=True needs ≥ 2 examples per batch, but your DataLoader has batch_size={lb}: "
                f"build the DataLoader with batch_size ≥ 2, or keep batch_norm=False")
    return None


@rule("batch_norm")
def batch_norm_model(c: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    """batch_norm=True needs a model with switchable batch-norm blocks."""
    if c["batch_norm"] and facts.get("batch_norm_blocks") is False:
        return (f"batch_norm=True is not allowed: the model ({facts.get('model', 'your model')}) has no "
                f"switchable batch-norm blocks; add nn.BatchNorm layers to your module, or use a built-in model")
    return None


@rule("activation")
def activation_model(c: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    """A new activation needs activation modules in the model to replace."""
    if facts.get("activation_slots") is False and c["activation"] != facts.get("activation", c["activation"]):
        return (f"activation={c['activation']!r} is not allowed: the model ({facts.get('model', 'your model')}) "
                f"has no activation modules to swap (functional calls such as F.relu cannot be replaced); use "
                f"nn.ReLU() etc. as submodules, or a built-in model")
    can_swap_in = facts.get("can_swap_in")
    if can_swap_in is not None and c["activation"] != facts.get("activation") and not can_swap_in(c["activation"]):
        return (f"activation={c['activation']!r} is not allowed with this model ({facts.get('model', 'your model')}): "
                f"it replaces a layer's output with a max over pieces of that layer, which needs nbtrain's blocks "
                f"(activations outside them cannot be bound to their layer); choose a pointwise activation, or a "
                f"built-in model")
    return None


# ---- run control vs data ----------------------------------------------------------------------------------
@rule("patience", "early_stop_metric", "val_split")
def early_stopping_has_data(c: Mapping[str, Any], facts: Mapping[str, Any]) -> str | None:
    """Early stopping on a validation metric needs a validation set."""
    if not c["patience"] or not c["early_stop_metric"].startswith("val_"):
        return None
    has_val = facts.get("has_val")
    if has_val is None:
        has_val = c["val_split"] is not None
    if not has_val:
        return (f"patience={c['patience']} watches early_stop_metric={c['early_stop_metric']!r}, but there is no "
                f"validation set (val_split=None and no val_data): watch 'train_loss' instead "
                f"(config.update(early_stop_metric='train_loss')), set patience=0, or give val_split/val_data")
    return None


# ---- model and data, checked once when a trainer is built --------------------------------------------------
def class_count(inferred: int, distinct: int, top: int) -> str | None:
    """An inferred class count far above the labels that occur (e.g. a label 100000 among 0, 1, 2)."""
    if inferred > MAX_CLASSES_WITHOUT_ASKING and inferred > 2 * distinct:
        return (f"labels go up to {top}, so {inferred} classes would be inferred (an output layer of {inferred} "
                f"units), but only {distinct} distinct labels occur: remap the labels to 0..{distinct - 1} "
                f"(y = torch.unique(y, return_inverse=True)[1]), or pass num_classes= to load_data")
    return None


def model_outputs(shape: tuple[int, ...], batch: int, num_classes: int, model: str) -> str | None:
    """The model's output for a batch must be (batch, C) logits with C ≥ the number of classes."""
    if len(shape) != 2 or shape[0] != batch:
        extra = (" (for two classes return 2 logits per example, not one: nn.Linear(..., 2), and no squeeze)"
                 if len(shape) == 1 else "")
        return (f"{model} returned logits of shape {shape} for a batch of {batch}; nbtrain trains with "
                f"cross-entropy and needs shape ({batch}, {num_classes}): one logit per class{extra}")
    if shape[1] < num_classes:
        return (f"the labels go up to {num_classes - 1} ({num_classes} classes), but {model} outputs {shape[1]} "
                f"logits per example: make its last layer output {num_classes} (e.g. nn.Linear(..., {num_classes})), "
                f"or check the labels")
    return None


def warn_extra_outputs(n_out: int, num_classes: int, model: str) -> None:
    if n_out > num_classes:
        warnings.warn(f"{model} outputs {n_out} logits per example but the data has {num_classes} classes (labels "
                      f"0..{num_classes - 1}): the extra {n_out - num_classes} outputs are never a target; make the "
                      f"last layer output {num_classes}", UserWarning, stacklevel=5)
