"""Per-layer probes: the statistics of one training step's activations (mean, std, saturation of
tanh/sigmoid, dead ReLU units) and of each layer's weight gradient, for the history's layer table.

``attach`` hooks the activation slots before the step's forward pass; ``detach`` removes the hooks after the
backward pass and turns what they saw into a few small device ops per layer — no host read: the values are
read with the losses at the trainer's next flush.
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


def attach(slots: list) -> tuple[list, list]:
    """Record the outputs of the activation ``slots`` (``models.activation_slots``) in the next forward pass:
    our blocks through their ``probe`` attribute, any other module through a forward hook."""
    from .models import Block, ResidualBlock

    outs: list[tuple[int, torch.Tensor]] = []
    kinds = [activation_name(m) for _, _, m in slots]
    handles: list[Any] = []
    for i, (parent, attr, m) in enumerate(slots):
        if attr == "act" and isinstance(parent, (Block, ResidualBlock)):
            handles.append(_Probe(parent, outs, i))
        else:
            handles.append(m.register_forward_hook(lambda _m, _inp, out, i=i: outs.append((i, out.detach()))))
    return handles, [outs, kinds, slots]


#: layers of one shape and activation are stacked and reduced together (fewer ops) while each holds at most
#: this many values; a bigger one is reduced alone (no copy of it: the copy would cost what the ops save)
STACK_MAX = 1 << 14
_PLANS: dict[tuple, tuple] = {}  # what detach computes for one set of recorded shapes (see _plan)


def _plan(key: tuple, kinds: list[str], has_grad: tuple[bool, ...]) -> tuple:
    """How :func:`detach` reduces one set of recorded activations: the groups (positions in the recorded
    order, kind, reduced dims, the mean's broadcast shape), each layer's cells, the pieces' total size.
    A pure function of the shapes, dtypes, kinds and which layers have a weight gradient; cached."""
    groups: dict[tuple, list[int]] = {}  # (shape, dtype, kind) -> positions in the recorded order
    for j, (i, shape, dtype) in enumerate(key):
        g = (shape, dtype, kinds[i])
        if g in groups and math.prod(shape) > STACK_MAX:
            g = (*g, j)  # reduced alone
        groups.setdefault(g, []).append(j)
    plan, size = [], 0
    cells: list[list[Any]] = [[] for _ in key]
    for (shape, _, kind, *_alone), members in groups.items():
        k, n = len(members), math.prod(shape)
        if kind == "relu" and len(shape) < 2:
            kind = ""  # no units to tell dead from alive
        plan.append((members, kind, tuple(range(1, len(shape) + 1)), (k, *(1,) * len(shape))))
        std_scale = 1.0 / math.sqrt(n - 1) if n > 1 else 0.0
        counted = kind in ("tanh", "sigmoid", "relu")
        units = shape[1] if len(shape) >= 2 else 1
        for m, j in enumerate(members):
            row: list[Any] = [(size + m, 1.0), (size + k + m, std_scale), 0.0, 0.0, float("nan")]
            if kind in ("tanh", "sigmoid"):
                row[2] = (size + 2 * k + m, 1.0 / n)
            elif kind == "relu":
                row[3] = (size + 2 * k + m, 1.0 / units)
            cells[j] = row
        size += (3 if counted else 2) * k
    grad_rows = [j for j, g in enumerate(has_grad) if g]
    for m, j in enumerate(grad_rows):
        cells[j][4] = (size + m, 1.0)
    return plan, cells, size + len(grad_rows)


def detach(hooks: tuple[list, list]) -> tuple[list[list[Any]], list[torch.Tensor], int]:
    """Remove the hooks; the statistics of what they saw as ``(cells, pieces, size)``: one row of cells per
    layer (mean, std, saturation, dead fraction, gradient norm) and 1-D float32 device tensors holding
    ``size`` values in all. A cell is a plain number, or ``(i, scale)``: ``values[i] · scale`` with
    ``values`` the pieces concatenated (the trainer's flush reads them with the losses, in one device→host
    copy). ``([], [], 0)`` when nothing ran. The cells are shared between calls: read them, do not change them.

    Few device ops: layers of one shape and activation (an MLP's equal hidden widths) are stacked and reduced
    together while small (``STACK_MAX``); per group, the mean and a norm for the std, one reduction for
    saturation or dead units (counted on the device, divided on the host); every gradient norm in one
    ``_foreach_norm``. What to compute for a set of shapes is planned once (``_plan``)."""
    handles, (recorded, kinds, slots) = hooks
    for h in handles:
        h.remove()
    if not recorded:
        return [], [], 0
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
    key = tuple((i, tuple(a.shape), a.dtype) for i, a in zip(order, acts))
    full_key = (key, tuple(kinds), has_grad)
    plan = _PLANS.get(full_key)
    if plan is None:
        if len(_PLANS) > 256:
            _PLANS.clear()
        plan = _PLANS[full_key] = _plan(key, kinds, has_grad)
    groups, cells, size = plan
    pieces: list[torch.Tensor] = []
    for members, kind, dims, mean_shape in groups:
        A = torch.stack([acts[j] for j in members]) if len(members) > 1 else acts[members[0]].unsqueeze(0)
        if A.dtype != torch.float32:
            A = A.float()
        # mean, then the std as ‖a − mean‖ / √(n − 1): two passes (as stable as Welford), three cheap ops
        mean = A.mean(dim=dims)
        pieces += [mean, torch.linalg.vector_norm(A - mean.view(mean_shape), dim=dims)]
        if kind == "tanh":
            pieces.append(torch.sum(A.abs() > 0.99, dim=dims, dtype=torch.float32))
        elif kind == "sigmoid":
            pieces.append(torch.sum((A - 0.5).abs() > 0.49, dim=dims, dtype=torch.float32))
        elif kind == "relu":  # a dead unit (channel) is zero for every example of the batch
            peak = A.amax(dim=(1, *range(3, A.dim()))) if A.dim() > 3 else A.amax(1)
            pieces.append(torch.sum(peak <= 0, dim=1, dtype=torch.float32))
    grads = [g for g in layer_grads if g is not None]
    if grads:
        pieces.append(torch.stack(torch._foreach_norm(grads)))
    return cells, pieces, size
