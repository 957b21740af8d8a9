"""Per-layer probes: the statistics of one training step's activations (mean, std, saturation of
tanh/sigmoid, dead ReLU units) and of each layer's weight gradient, for the history's layer table.

``attach`` hooks the activation slots before the step's forward pass; ``detach`` removes the hooks after the
backward pass and turns what they saw into a few ``_foreach`` device ops over all the layers — no host read:
the values are read with the losses at the trainer's next flush, and :func:`rows` makes the statistics.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .activations import name_of as activation_name


class _Probe:
    """A probe set on one of our blocks for a step (``Block.probe``); ``remove()`` takes it off."""

    __slots__ = ("block",)

    def __init__(self, block: nn.Module, outs: list, index: int):
        self.block = block
        object.__setattr__(block, "probe", (outs, index))  # a plain attribute: not through Module.__setattr__

    def remove(self) -> None:
        object.__setattr__(self.block, "probe", None)


def setup(slots: list) -> tuple[list, list[bool]]:
    """What :func:`attach` needs to know of ``slots`` once: each slot's activation name, and whether it is one
    of our blocks (probed through its attribute) or takes a forward hook. Keep it with the slots list."""
    from .models import Block, ResidualBlock

    kinds = [activation_name(m) for _, _, m in slots]
    return kinds, [attr == "act" and isinstance(parent, (Block, ResidualBlock)) for parent, attr, _ in slots]


def attach(slots: list, known: tuple[list, list[bool]] | None = None) -> tuple[list, list]:
    """Record the outputs of the activation ``slots`` (``models.activation_slots``) in the next forward pass:
    our blocks through their ``probe`` attribute, any other module through a forward hook. ``known``: the
    slots' :func:`setup`, when the caller keeps it."""
    kinds, ours = known if known is not None else setup(slots)
    outs: list[tuple[int, torch.Tensor]] = []
    handles: list[Any] = []
    for i, (parent, _, m) in enumerate(slots):
        if ours[i]:
            handles.append(_Probe(parent, outs, i))
        else:
            handles.append(m.register_forward_hook(lambda _m, _inp, out, i=i: outs.append((i, out.detach()))))
    return handles, [outs, kinds, slots]


_PLANS: dict[tuple, tuple] = {}  # what detach computes for one set of recorded shapes (see _plan)
NO_FLOAT64 = ("mps",)  # device types that have no float64: their statistics take two float32 passes


def _plan(key: tuple, kinds: list[str], has_grad: tuple[bool, ...]) -> tuple:
    """How :func:`detach` reduces one set of recorded activations (``key``: slot, shape, dtype, device of
    each): which layers go into which of its few foreach ops, and each layer's recipe for :func:`rows`.
    A pure function of the shapes, dtypes, device types, kinds and which layers have a weight gradient."""
    L = len(key)
    kind = [kinds[i] for i, *_ in key]
    sat = [j for j in range(L) if kind[j] == "tanh"] + [j for j in range(L) if kind[j] == "sigmoid"]
    n_tanh = sum(kind[j] == "tanh" for j in range(L))
    dead = [j for j in range(L) if kind[j] == "relu" and len(key[j][1]) >= 2]  # units to tell dead from alive
    # per-unit (per-channel) sums over the batch (and positions): a sum is several times faster than a max
    sum_dims = [(0, *range(2, len(key[j][1]))) for j in dead]
    # the values' positions: ‖a‖ and Σa of every layer, saturated counts, alive units, gradient norms
    pos, at = {}, 0
    for name, members in (("s2", range(L)), ("s1", range(L)), ("sat", sat),
                          ("alive", dead), ("grad", [j for j in range(L) if has_grad[j]])):
        for j in members:
            pos[name, j] = at
            at += 1
    # a device without float64 (Apple MPS) takes two passes in float32: Σa, then ‖a − mean‖ (its recipes' n
    # negative: vals hold ‖a − mean‖)
    two_pass = any(k[3].type in NO_FLOAT64 for k in key)
    recipes = []
    for j, (_, shape, *_x) in enumerate(key):
        n = -math.prod(shape) if two_pass else math.prod(shape)
        recipes.append((n, pos["s2", j], pos["s1", j], pos.get(("sat", j), -1), pos.get(("alive", j), -1),
                        shape[1] if len(shape) >= 2 else 1, pos.get(("grad", j), -1)))
    thresholds = [0.99] * n_tanh + [0.49] * (len(sat) - n_tanh)  # tanh |a| > 0.99; sigmoid |a − ½| > 0.49
    inv_n = [1.0 / math.prod(k[1]) for k in key]
    return (two_pass, inv_n, sat, n_tanh, thresholds, dead, sum_dims), recipes, at


def rows(recipes: list[tuple], vals: list[float]) -> list[list[float]]:
    """Each layer's statistics (mean, std, saturated fraction, dead fraction, gradient norm) from the values
    :func:`detach`'s tensors held, read to the host (``vals``). Mean and std from Σa and ‖a‖, summed in
    float64 on the device: var = (Σa² − (Σa)²/n) / (n − 1), exact to about 1e-16 · n · E[a²]/var; where the
    device has no float64 the recipe's n is negative and ``vals`` holds ‖a − mean‖ itself."""
    out = []
    for n, i2, i1, isat, ialive, units, igrad in recipes:
        s1 = vals[i1]
        if n < 0:
            n = -n
            c = vals[i2] * vals[i2]
        else:
            c = vals[i2] * vals[i2] - s1 * s1 / n  # Σ(a − mean)²
        std = math.sqrt(c / (n - 1)) if c > 0 and n > 1 else (0.0 if c == c else math.nan)
        out.append([s1 / n, std, vals[isat] / n if isat >= 0 else 0.0,
                    1.0 - vals[ialive] / units if ialive >= 0 else 0.0, vals[igrad] if igrad >= 0 else math.nan])
    return out


def detach(hooks: tuple[list, list]) -> tuple[list[tuple], list[torch.Tensor]]:
    """Remove the hooks; the statistics of what they saw as ``(recipes, values)``: 0-d device tensors (read
    with the losses at the trainer's next flush, one device→host copy) and one recipe per layer that
    :func:`rows` turns the read values into (mean, std, saturation, dead fraction, gradient norm).
    ``([], [])`` when nothing ran. The recipes are shared between calls: read them, do not change them.

    Few device ops, most of them one ``_foreach`` op over all the layers: ‖a‖ and Σa summed in float64
    (Σa one sum per layer), so the one-pass variance is exact;
    the saturated values of tanh/sigmoid layers counted as the nonzeros of max(|a| − 0.99, 0); a ReLU layer's
    alive units as the nonzero per-unit (per-channel) sums over the batch; every
    gradient norm. Code that runs once in 50 steps is cold when it runs, so each op costs several times its
    hot time: fewer ops is what makes a probe cheap. What to compute for a set of shapes is planned once."""
    handles, (recorded, kinds, slots) = hooks
    for h in handles:
        h.remove()
    if not recorded:
        return [], []
    first: dict[int, torch.Tensor] = {}
    for i, a in recorded:  # by slot (forward order may differ from definition order; a module used twice: its first call)
        first.setdefault(i, a)
    order = sorted(first)
    acts = [first[i] for i in order]
    layer_grads = []  # each recorded layer's weight gradient (None: none)
    for i in order:
        parent = slots[i][0]
        layer = getattr(parent, "layer", None) or getattr(parent, "residual_last", None)
        w = getattr(layer, "weight", None)
        layer_grads.append(w.grad if w is not None else None)
    has_grad = tuple(g is not None for g in layer_grads)
    key = tuple((i, tuple(a.shape), a.dtype, a.device) for i, a in zip(order, acts))
    full_key = (key, tuple(kinds), has_grad)
    plan = _PLANS.get(full_key)
    if plan is None:
        if len(_PLANS) > 256:
            _PLANS.clear()
        plan = _PLANS[full_key] = _plan(key, kinds, has_grad)
    (two_pass, inv_n, sat, n_tanh, thresholds, dead, sum_dims), recipes, _ = plan
    # every value in one dtype: the flush stacks them, and a stack of mixed dtypes converts each one (µs apiece)
    acc = {} if two_pass else {"dtype": torch.float64}
    if two_pass:
        sums = [a.sum(dtype=torch.float32) for a in acts]
        vals = list(torch._foreach_norm(torch._foreach_sub(acts, torch._foreach_mul(sums, inv_n))))
        vals += sums
    else:
        vals = list(torch._foreach_norm(acts, 2, dtype=torch.float64))
        vals += [a.sum(dtype=torch.float64) for a in acts]  # no foreach sum; a 1-norm is Σa only for a ≥ 0
    if sat:
        s = [acts[j] for j in sat[:n_tanh]]
        if len(sat) > n_tanh:
            s += torch._foreach_sub([acts[j] for j in sat[n_tanh:]], 0.5)
        t = torch._foreach_abs(s)
        torch._foreach_sub_(t, thresholds)
        torch._foreach_clamp_min_(t, 0.0)
        vals += torch._foreach_norm(t, 0, **acc)  # a count: the nonzeros
    if dead:  # a ReLU unit whose outputs sum to 0 is 0 on every example
        vals += torch._foreach_norm([acts[j].sum(dim=d) for j, d in zip(dead, sum_dims)], 0, **acc)
    grads = [g for g in layer_grads if g is not None]
    if grads:
        vals += torch._foreach_norm(grads, 2, **acc)
    return recipes, vals
