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


def detach(hooks: tuple[list, list]) -> tuple[list[list[Any]], torch.Tensor | None]:
    """Remove the hooks; the statistics of what they saw as ``(cells, values)``: one row per layer (mean, std,
    saturation, dead fraction, gradient norm). A cell is a plain number, or ``(i, scale)``: ``values[i] · scale``
    with ``values`` one device tensor (None when every cell is a plain number). ``([], None)`` when nothing ran.

    Few device ops: layers of one shape and activation (an MLP's equal hidden widths) are stacked and reduced
    together; per group, the mean and a norm for the std, one reduction for saturation or dead units (counted
    on the device, divided on the host); every gradient norm in one ``_foreach_norm``; one concatenation for
    one device→host copy."""
    handles, (recorded, kinds, slots) = hooks
    for h in handles:
        h.remove()
    if not recorded:
        return [], None
    first: dict[int, torch.Tensor] = {}
    for i, a in recorded:  # by slot (forward order may differ from definition order; a module used twice: its first call)
        first.setdefault(i, a)
    order = sorted(first)
    groups: dict[tuple, list[int]] = {}  # (shape, dtype, kind) -> positions in ``order``
    for j, i in enumerate(order):
        a = first[i]
        groups.setdefault((tuple(a.shape), a.dtype, kinds[i]), []).append(j)
    pieces: list[torch.Tensor] = []  # 1-D float32 pieces on the device, concatenated for one read
    size = 0
    cells: list[list[Any]] = [[] for _ in order]
    for (shape, _, kind), members in groups.items():
        k = len(members)
        A = torch.stack([first[order[j]] for j in members]) if k > 1 else first[order[members[0]]].unsqueeze(0)
        if A.dtype != torch.float32:
            A = A.float()
        dims = tuple(range(1, A.dim()))
        n = A[0].numel()
        # mean, then the std as ‖a − mean‖ / √(n − 1): two passes (as stable as Welford), three cheap ops
        mean = A.mean(dim=dims)
        pieces += [mean, torch.linalg.vector_norm(A - mean.view(k, *(1,) * len(shape)), dim=dims)]
        sat = dead = None
        if kind == "tanh":
            sat = torch.sum(A.abs() > 0.99, dim=dims, dtype=torch.float32)
        elif kind == "sigmoid":
            sat = torch.sum((A - 0.5).abs() > 0.49, dim=dims, dtype=torch.float32)
        elif kind == "relu" and len(shape) >= 2:  # a dead unit (channel) is zero for every example of the batch
            peak = A.amax(dim=(1, *range(3, A.dim()))) if len(shape) > 2 else A.amax(1)
            units = peak.shape[1]
            dead = torch.sum(peak <= 0, dim=1, dtype=torch.float32)
        if sat is not None:
            pieces.append(sat)
        if dead is not None:
            pieces.append(dead)
        std_scale = 1.0 / math.sqrt(n - 1) if n > 1 else 0.0
        for m, j in enumerate(members):
            row: list[Any] = [(size + m, 1.0), (size + k + m, std_scale), 0.0, 0.0, float("nan")]
            if sat is not None:
                row[2] = (size + 2 * k + m, 1.0 / n)
            if dead is not None:
                row[3] = (size + 2 * k + m, 1.0 / units)
            cells[j] = row
        size += (3 if sat is not None or dead is not None else 2) * k
    grads, grad_rows = [], []
    for j, i in enumerate(order):
        parent = slots[i][0]
        layer = getattr(parent, "layer", None) or getattr(parent, "residual_last", None)
        w = getattr(layer, "weight", None)
        if w is not None and w.grad is not None:
            grads.append(w.grad)
            grad_rows.append(cells[j])
    if grads:
        norms = torch._foreach_norm(grads)
        for m, row in enumerate(grad_rows):
            row[4] = (size + m, 1.0)
        pieces.append(torch.stack(norms))
    return cells, torch.cat(pieces)
