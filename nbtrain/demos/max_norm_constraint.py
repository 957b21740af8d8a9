"""Max-norm constraints: cap every unit's incoming weight vector, ‖w_i‖₂ ≤ c, after each step.

Dropout's authors (Srivastava et al., 2014) pair dropout with a max-norm constraint: the weights can no longer
grow without bound, so a much higher learning rate stays stable. ``max_norm_data`` trains the same MLP (dropout
0.2, SGD with momentum) with a high learning rate twice from the same weights — without and with the
constraint (``nbtrain.engine.regularizers.max_norm_``, the same step ``TrainConfig(max_norm=c)`` takes) — and
records the largest unit norm and the validation loss.

>>> r = max_norm_data(steps=100)
>>> bool(r.max_unit_norm["max_norm"][1:].max() <= r.c + 1e-5)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from nbtrain.engine import data, init, models, optim, regularizers

from ..engine import threads
from ..engine.checks import check_float, check_int, check_seed

VARIANTS = ("none", "max_norm")


@dataclass(frozen=True)
class MaxNormResult:
    c: float
    lr: float
    steps: np.ndarray
    max_unit_norm: dict[str, np.ndarray]  # largest ‖w_i‖ over every hidden/output unit, per evaluation
    val_loss: dict[str, np.ndarray]
    val_acc: dict[str, np.ndarray]
    final_weights: dict[str, list[np.ndarray]]  # each layer's weight matrix at the end


def unit_norms(net: torch.nn.Module) -> np.ndarray:
    return np.concatenate([torch.linalg.vector_norm(w.detach().flatten(1), dim=1).numpy()
                           for w in regularizers.penalized_weights(net)])


def max_norm_data(c: float = 2.0, lr: float = 0.5, steps: int = 400, seed: int = 0, eval_every: int = 20,
                  dropout: float = 0.2) -> MaxNormResult:
    """Spiral (3 classes), MLP 2 → 128 → 128 → 3, momentum SGD at ``lr``, with and without ‖w_i‖ ≤ ``c``."""
    c = check_float("c", c, 0.0, 100.0, lo_open=True)
    lr = check_float("lr", lr, 0.0, 10.0, lo_open=True)
    steps = check_int("steps", steps, 1, 20_000)
    seed = check_seed(seed)
    eval_every = check_int("eval_every", eval_every, 1, steps)
    dropout = check_float("dropout", dropout, 0.0, 0.9)
    xt, yt = data.datasets.make("spiral", n=300, noise=0.2, seed=seed)
    xv, yv = data.datasets.make("spiral", n=600, noise=0.2, seed=seed + 10_000)
    start = models.make("mlp", (2,), 3, hidden=[128, 128], dropout=dropout)
    init.apply(start, "he_normal", generator=torch.Generator().manual_seed(seed))
    state = {k: v.clone() for k, v in start.state_dict().items()}
    norms, losses, accs, finals, at = {}, {}, {}, {}, []
    with threads.limited(1):
        for variant in VARIANTS:
            net = models.make("mlp", (2,), 3, hidden=[128, 128], dropout=dropout)
            net.load_state_dict(state)
            opt = optim.make("momentum", net.parameters(), lr=lr)
            gen = torch.Generator().manual_seed(seed + 1)
            n_rows, l_rows, a_rows, at = [], [], [], []
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # the same dropout masks in both runs
                for step in range(steps + 1):
                    if step % eval_every == 0 or step == steps:
                        net.eval()
                        with torch.no_grad():
                            out = net(xv)
                            l_rows.append(float(F.cross_entropy(out, yv)))
                            a_rows.append(float((out.argmax(1) == yv).float().mean()))
                        n_rows.append(float(unit_norms(net).max()))
                        at.append(step)
                    if step == steps:
                        break
                    net.train()
                    idx = torch.randint(0, len(yt), (32,), generator=gen)
                    loss = F.cross_entropy(net(xt[idx]), yt[idx])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    if variant == "max_norm":
                        regularizers.max_norm_(net, c)
            norms[variant], losses[variant], accs[variant] = np.array(n_rows), np.array(l_rows), np.array(a_rows)
            finals[variant] = [w.detach().numpy().copy() for w in regularizers.penalized_weights(net)]
    return MaxNormResult(c, lr, np.array(at), norms, losses, accs, finals)


def max_norm(c: float = 2.0, lr: float = 0.5):
    """Left: the largest unit norm per step. Right: validation loss per step (log scale)."""
    import bqplot as bq

    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    controls = {"c": V.slider("max norm c", c, 0.25, 10.0, 0.25), "lr": V.slider("learning rate", lr, 0.01, 2.0, 0.05, log=True)}
    sx, sy = bq.LinearScale(), bq.LinearScale(min=0.0)
    norm_lines = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, colors=[style.RUNS[1], style.RUNS[0]], stroke_width=2,
                          labels=list(VARIANTS), display_legend=True)
    left = D.figure([norm_lines], [D.axis(sx, "step"), D.axis(sy, "largest ‖wᵢ‖", vertical=True)],
                    "unit weight norms")
    tx, ty = bq.LinearScale(), bq.LogScale()
    loss_lines = bq.Lines(x=[], y=[], scales={"x": tx, "y": ty}, colors=[style.RUNS[1], style.RUNS[0]], stroke_width=2)
    ay = D.axis(ty, "validation loss", vertical=True)
    right = D.figure([loss_lines], [D.axis(tx, "step"), ay], "validation loss")

    def compute() -> MaxNormResult:
        return max_norm_data(float(controls["c"].value), float(controls["lr"].value))

    def draw(r: MaxNormResult) -> str:
        norm_lines.x, norm_lines.y = r.steps, np.stack([r.max_unit_norm[v] for v in VARIANTS])
        ys = [np.clip(r.val_loss[v], 1e-3, 1e3) for v in VARIANTS]
        loss_lines.x, loss_lines.y = r.steps, np.stack(ys)
        style.set_log_ticks(ay, *ys)
        return (f"final validation accuracy: none {r.val_acc['none'][-1]:.1%}, max-norm {r.val_acc['max_norm'][-1]:.1%}; "
                f"largest unit norm: {r.max_unit_norm['none'][-1]:.2f} vs {r.max_unit_norm['max_norm'][-1]:.2f}")

    return V.DemoView(controls, [left, right], {"norms": norm_lines, "losses": loss_lines}, compute, draw)
