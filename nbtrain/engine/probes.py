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
    saturation, dead fraction, gradient norm), a cell holding an int being the index of its value in
    ``values`` (one device tensor, None when every cell is a plain number). ``([], None)`` when nothing ran."""
    handles, (outs, kinds, slots) = hooks
    for h in handles:
        h.remove()
    if not outs:
        return [], None
    # a few small ops per layer and one device→host copy for all of them
    cells: list[list[Any]] = []
    tensors: list[torch.Tensor] = []
    for a, kind, (parent, _, _) in zip(outs, kinds, slots):
        std, mean = torch.std_mean(a) if a.numel() > 1 else (a.new_zeros(()), a.mean())
        n = a.numel()
        sat: Any = 0.0
        if kind == "tanh":
            sat = torch.count_nonzero(a.abs() > 0.99) / n
        elif kind == "sigmoid":
            sat = torch.count_nonzero((a - 0.5).abs() > 0.49) / n
        dead: Any = 0.0
        if kind == "relu":  # a dead unit is zero for every example of the batch
            alive = (a > 0).flatten(2).any(2) if a.dim() > 2 else (a > 0)
            dead = 1.0 - torch.count_nonzero(alive.any(0)) / alive.shape[1]
        layer = getattr(parent, "layer", None) or getattr(parent, "residual_last", None)
        w = getattr(layer, "weight", None)
        g: Any = torch.linalg.vector_norm(w.grad) if w is not None and w.grad is not None else float("nan")
        row: list[Any] = []
        for v in (mean, std, sat, dead, g):
            if isinstance(v, torch.Tensor):
                row.append(len(tensors))
                tensors.append(v.float())
            else:
                row.append(float(v))
        cells.append(row)
    return cells, torch.stack(tensors) if tensors else None
