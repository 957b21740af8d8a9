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

    Few device ops per layer (mean and a norm for the std; one reduction for saturation or dead units, counted
    on the device and divided on the host; every gradient norm in one ``_foreach_norm``), stacked for one
    device→host copy."""
    handles, (recorded, kinds, slots) = hooks
    for h in handles:
        h.remove()
    if not recorded:
        return [], None
    first: dict[int, torch.Tensor] = {}
    for i, a in recorded:  # by slot (forward order may differ from definition order; a module used twice: its first call)
        first.setdefault(i, a)
    order = sorted(first)
    outs = [first[i] for i in order]
    kinds = [kinds[i] for i in order]
    slots = [slots[i] for i in order]
    tensors: list[torch.Tensor] = []  # float32 scalars on the device, stacked for one read
    cells: list[list[Any]] = []
    grads, grad_rows = [], []
    for a, kind, (parent, _, _) in zip(outs, kinds, slots):
        if a.dtype != torch.float32:
            a = a.float()
        n = a.numel()
        k = len(tensors)
        # mean, then the std as ‖a − mean‖ / √(n − 1): two passes (as stable as Welford), three cheap ops
        mean = a.mean()
        tensors += [mean, torch.linalg.vector_norm(a - mean)]
        row: list[Any] = [(k, 1.0), (k + 1, 1.0 / math.sqrt(n - 1) if n > 1 else 0.0), 0.0, 0.0, float("nan")]
        if kind == "tanh":
            row[2] = (len(tensors), 1.0 / n)
            tensors.append(torch.count_nonzero(a.abs() > 0.99).float())
        elif kind == "sigmoid":
            row[2] = (len(tensors), 1.0 / n)
            tensors.append(torch.count_nonzero((a - 0.5).abs() > 0.49).float())
        elif kind == "relu" and a.dim() >= 2:  # a dead unit (channel) is zero for every example of the batch
            peak = a.amax(dim=(0, *range(2, a.dim()))) if a.dim() > 2 else a.amax(0)
            row[3] = (len(tensors), 1.0 / peak.numel())
            tensors.append(torch.count_nonzero(peak <= 0).float())
        layer = getattr(parent, "layer", None) or getattr(parent, "residual_last", None)
        w = getattr(layer, "weight", None)
        if w is not None and w.grad is not None:
            grads.append(w.grad)
            grad_rows.append(row)
        cells.append(row)
    if grads:
        for row, g in zip(grad_rows, torch._foreach_norm(grads)):
            row[4] = (len(tensors), 1.0)
            tensors.append(g if g.dtype == torch.float32 else g.float())
    return cells, torch.stack(tensors)
