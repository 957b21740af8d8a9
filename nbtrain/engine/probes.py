"""Per-layer probes: the statistics of one training step's activations (mean, std, saturation of
tanh/sigmoid, dead ReLU units) and of each layer's weight gradient, for the history's layer table.

``attach`` hooks the activation slots before the step's forward pass; ``detach`` removes the hooks after the
backward pass and turns what they saw into a few small device ops per layer — no host read: the values are
read with the losses at the trainer's next flush.
"""

from __future__ import annotations

from typing import Any

import torch

from .activations import name_of as activation_name


def attach(slots: list) -> tuple[list, list]:
    """Forward hooks on the activation ``slots`` (``models.activation_slots``) that keep their outputs."""
    outs: list[torch.Tensor] = []
    kinds = [activation_name(m) for _, _, m in slots]

    def hook(_m, _inp, out):
        outs.append(out.detach())

    handles = [m.register_forward_hook(hook) for _, _, m in slots]
    return handles, [outs, kinds, slots]


def detach(hooks: tuple[list, list]) -> tuple[list[list[Any]], torch.Tensor | None]:
    """Remove the hooks; the statistics of what they saw as ``(cells, values)``: one row per layer (mean, std,
    saturation, dead fraction, gradient norm). A cell is a plain number, or ``(i, scale)``: ``values[i] · scale``
    with ``values`` one device tensor (None when every cell is a plain number). ``([], None)`` when nothing ran.

    Few device ops per layer (std_mean; one reduction for saturation or dead units, counted on the device and
    divided on the host; every gradient norm in one ``_foreach_norm``), stacked for one device→host copy."""
    handles, (outs, kinds, slots) = hooks
    for h in handles:
        h.remove()
    if not outs:
        return [], None
    tensors: list[torch.Tensor] = []

    def cell(v: torch.Tensor, scale: float = 1.0) -> tuple[int, float]:
        tensors.append(v)
        return len(tensors) - 1, scale

    grads, grad_rows = [], []
    cells: list[list[Any]] = []
    for a, kind, (parent, _, _) in zip(outs, kinds, slots):
        n = a.numel()
        std, mean = torch.std_mean(a) if n > 1 else (a.new_zeros(()), a.mean())
        row: list[Any] = [cell(mean.float()), cell(std.float()), 0.0, 0.0, float("nan")]
        if kind == "tanh":
            row[2] = cell(torch.count_nonzero(a.abs() > 0.99), 1.0 / n)
        elif kind == "sigmoid":
            row[2] = cell(torch.count_nonzero((a - 0.5).abs() > 0.49), 1.0 / n)
        elif kind == "relu" and a.dim() >= 2:  # a dead unit (channel) is zero for every example of the batch
            peak = a.amax(dim=(0, *range(2, a.dim()))) if a.dim() > 2 else a.amax(0)
            row[3] = cell(torch.count_nonzero(peak <= 0), 1.0 / peak.numel())
        layer = getattr(parent, "layer", None) or getattr(parent, "residual_last", None)
        w = getattr(layer, "weight", None)
        if w is not None and w.grad is not None:
            grads.append(w.grad)
            grad_rows.append(row)
        cells.append(row)
    if grads:
        for row, g in zip(grad_rows, torch._foreach_norm(grads)):
            row[4] = cell(g)
    return cells, torch.stack([t.float() for t in tensors])
