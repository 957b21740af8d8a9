"""Dropout and L2 against over-fitting, and why dropout scales by 1/(1 − p).

``dropout_data`` trains the same over-sized MLP on a small noisy training set three ways — no
regularization, inverted dropout, L2 weight penalty — from identical initial weights, and records
train/validation loss and accuracy (always measured in eval mode, dropout off). Without regularization
the net memorises the noise: train loss → 0 while validation loss climbs; both regularizers shrink the gap.

``inverted_dropout_data`` shows the scaling: in training a unit is kept with probability 1 − p and
multiplied by 1/(1 − p), so its expected output equals the eval-time output; without the scaling the
training-time mean would be (1 − p) times smaller and the net would see different statistics at test time.

>>> from nbtrain.demos import inverted_dropout_data
>>> r = inverted_dropout_data(p=0.5)
>>> bool(abs(r.train_mean / r.eval_mean - 1) < 0.01), round(r.unscaled_mean / r.eval_mean, 2)
(True, 0.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from nbtrain.engine import data, init, models, optim, regularizers, rng
from nbtrain.engine.budget import check_demo

if TYPE_CHECKING:  # the views import ipywidgets/bqplot only when called
    from ._view import DemoView

from ..engine import threads
from ..engine.checks import check_float, check_int, check_seed

VARIANTS = ("none", "dropout", "l2")


@dataclass(frozen=True)
class Curves:
    """Learning curves of one variant, sampled every ``eval_every`` steps (eval mode)."""

    name: str
    steps: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    train_acc: np.ndarray
    val_acc: np.ndarray

    @property
    def loss_gap(self) -> float:
        """Final validation loss − training loss (larger = more over-fitting)."""
        return float(self.val_loss[-1] - self.train_loss[-1])

    @property
    def acc_gap(self) -> float:
        """Final training accuracy − validation accuracy."""
        return float(self.train_acc[-1] - self.val_acc[-1])


@dataclass(frozen=True)
class DropoutResult:
    """Curves for each variant: ``none`` (no regularization), ``dropout`` (rate p), ``l2`` (strength l2).

    val_points / val_labels: the validation draw; initial_weights: [(weight, bias), …] of each Linear at the
    common start (hidden layers, then the output layer), so the runs can be redone with any other code.
    """

    p: float
    l2: float
    curves: dict[str, Curves]
    train_points: np.ndarray
    train_labels: np.ndarray
    val_points: np.ndarray | None = None
    val_labels: np.ndarray | None = None
    initial_weights: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def dropout_data(
    p: float = 0.5,
    l2: float = 1e-2,
    steps: int = 300,
    seed: int = 0,
    *,
    n_train: int = 60,
    n_val: int = 500,
    noise: float = 0.3,
    hidden: tuple[int, ...] = (256, 256),
    lr: float = 1e-2,
    eval_every: int = 10,
) -> DropoutResult:
    """Train an MLP (ReLU, He init, Adam, full batch) on ``n_train`` noisy two-moons points three ways.

    All three runs start from the same weights (``seed``); validation data is a separate draw of
    ``n_val`` points. ``p`` is the dropout rate of every hidden layer, ``l2`` the strength λ of the
    penalty ½λΣw² (``nbtrain.engine.regularizers``).

    >>> r = dropout_data(steps=100, hidden=(16,))
    >>> sorted(r.curves), len(r.curves["none"].steps)
    (['dropout', 'l2', 'none'], 11)
    """
    p = check_float("p", p, 0.0, 0.95)
    l2 = check_float("l2", l2, 0.0, 10.0)
    steps = check_int("steps", steps, 1, 100_000)
    seed = check_seed(seed)
    n_train = check_int("n_train", n_train, 4, 1_000_000)
    n_val = check_int("n_val", n_val, 4, 1_000_000)
    noise = check_float("noise", noise, 0.0, 10.0)
    lr = check_float("lr", lr, 0.0, 10.0, lo_open=True)
    eval_every = check_int("eval_every", eval_every, 1, steps)
    hidden = tuple(check_int("hidden width", h, 1, 4096) for h in hidden)
    check_demo((n_train + n_val) * max(hidden, default=1) * max(len(hidden), 1),
               f"dropout_data(n_train={n_train}, n_val={n_val}, hidden={list(hidden)})")

    x_train, y_train = data.datasets.make("moons", n=n_train, noise=noise, seed=seed)
    x_val, y_val = data.datasets.make("moons", n=n_val, noise=noise, seed=seed + 10_000)
    start = models.make("mlp", input_shape=(2,), num_classes=2, hidden=list(hidden), activation="relu",
                        generator=torch.Generator().manual_seed(seed))
    init.apply(start, "he_normal", generator=torch.Generator().manual_seed(seed))
    state = {k: v.clone() for k, v in start.state_dict().items()}

    curves = {}
    with threads.limited(1):  # tiny tensors: threads only add synchronisation
        for variant in VARIANTS:
            net = models.make("mlp", input_shape=(2,), num_classes=2, hidden=list(hidden), activation="relu",
                              dropout=p if variant == "dropout" else 0.0, generator=torch.Generator().manual_seed(seed))
            net.load_state_dict(state)
            strength = l2 if variant == "l2" else 0.0
            curves[variant] = _train(variant, net, strength, steps, lr, eval_every, seed,
                                     (x_train, y_train), (x_val, y_val))
    initial = tuple((m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
                    for m in [*(b.layer for b in start.blocks), start.head])
    return DropoutResult(p=p, l2=l2, curves=curves, train_points=x_train.numpy(), train_labels=y_train.numpy(),
                         val_points=x_val.numpy(), val_labels=y_val.numpy(), initial_weights=initial)


def _evaluate(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    net.eval()
    with torch.no_grad():
        logits = net(x)
        return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).float().mean())


def _train(name: str, net: torch.nn.Module, l2: float, steps: int, lr: float, eval_every: int, seed: int,
           train: tuple[torch.Tensor, torch.Tensor], val: tuple[torch.Tensor, torch.Tensor]) -> Curves:
    params = [q for q in net.parameters() if q.requires_grad]
    opt = optim.make("adam", params, lr=lr)
    rows = []
    with rng.use(rng.Streams(seed)):  # dropout masks from the demo's own stream: same masks every run
        for step in range(steps + 1):
            if step % eval_every == 0 or step == steps:
                rows.append((step, *_evaluate(net, *train), *_evaluate(net, *val)))
            if step == steps:
                break
            net.train()
            opt.zero_grad()
            loss = F.cross_entropy(net(train[0]), train[1])
            penalty = regularizers.penalty(net, l2=l2)
            if penalty is not None:
                loss = loss + penalty
            loss.backward()
            opt.step()
    a = np.array(rows)
    return Curves(name=name, steps=a[:, 0].astype(int), train_loss=a[:, 1], train_acc=a[:, 2], val_loss=a[:, 3],
                  val_acc=a[:, 4])


@dataclass(frozen=True)
class InvertedDropoutResult:
    """Mean unit output in eval mode, in training mode (inverted dropout), and with the mask but no scaling."""

    p: float
    eval_mean: float
    train_mean: float
    unscaled_mean: float
    kept_fraction: float


def inverted_dropout_data(p: float = 0.5, n: int = 200_000, seed: int = 0) -> InvertedDropoutResult:
    """Push ReLU-like activations (|N(0, 1)|, n values) through ``nbtrain.engine.regularizers.Dropout(p)``.

    >>> r = inverted_dropout_data(0.2)
    >>> round(r.kept_fraction, 2)
    0.8
    """
    p = check_float("p", p, 0.0, 0.95)
    n = check_int("n", n, 1, 100_000_000)
    seed = check_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, generator=gen).abs()
    layer = regularizers.Dropout(p)
    with torch.no_grad(), rng.use(rng.Streams(seed)):
        layer.eval()
        eval_out = layer(a)
        layer.train()
        train_out = layer(a)
    kept = train_out != 0
    unscaled = a * kept  # the mask alone, as in "non-inverted" dropout during training
    return InvertedDropoutResult(p=p, eval_mean=float(eval_out.mean()), train_mean=float(train_out.mean()),
                                 unscaled_mean=float(unscaled.mean()), kept_fraction=float(kept.float().mean()))


def dropout(p: float = 0.5, l2: float = 1e-2, steps: int = 300, seed: int = 0) -> DemoView:
    """Interactive view: train/validation loss for no regularization, dropout and L2 (same start), the
    final gaps, and the inverted-dropout means (train vs eval).

    >>> view = dropout()                   # doctest: +SKIP
    >>> view.controls["p"].value = 0.2     # doctest: +SKIP
    """
    import bqplot as bq

    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    controls = {
        "p": V.slider("dropout p", p, 0.0, 0.9, 0.05),
        "l2": V.slider("L2 strength λ", l2, 1e-4, 1.0, 0.1, log=True),
        "steps": V.int_slider("steps", steps, 50, 1000, 50),
        "seed": V.int_slider("seed", seed, 0, 20),
    }
    colours = {"none": style.RUNS[3], "dropout": style.RUNS[0], "l2": style.RUNS[2]}
    lx, ly = bq.LinearScale(), bq.LogScale()
    # one mark per variant: solid = validation, dashed = training
    val_lines = bq.Lines(x=[], y=[], scales={"x": lx, "y": ly}, stroke_width=3, display_legend=True,
                         colors=[colours[v] for v in VARIANTS], labels=list(VARIANTS))
    train_lines = bq.Lines(x=[], y=[], scales={"x": lx, "y": ly}, stroke_width=2, line_style="dashed",
                           colors=[colours[v] for v in VARIANTS])
    loss_axis = D.axis(ly, "cross-entropy (log)", vertical=True, tick_format=".1g")
    curves_fig = D.figure([val_lines, train_lines], [D.axis(lx, "step"), loss_axis],
                          "Loss: validation (solid) vs training (dashed)", width="56%",
                          height="420px")
    curves_fig.legend_location = "bottom-left"
    bx, by = bq.OrdinalScale(), bq.LinearScale(min=0.0)
    gaps = bq.Bars(x=list(VARIANTS), y=[0.0, 0.0, 0.0], scales={"x": bx, "y": by},
                   colors=[colours[v] for v in VARIANTS], labels=["validation − training loss"])
    gap_fig = D.figure([gaps], [D.axis(bx, "regularization"), D.axis(by, "val − train loss", vertical=True)],
                       "Over-fitting gap", width="22%", height="420px",
                       margin={"top": 50, "bottom": 55, "left": 75, "right": 10})
    mx, my = bq.OrdinalScale(), bq.LinearScale(min=0.0)
    means = bq.Bars(x=["eval", "train", "unscaled"], y=[0.0, 0.0, 0.0],
                    scales={"x": mx, "y": my}, colors=[style.RUNS[7], style.RUNS[0], style.RUNS[3]])
    mean_fig = D.figure([means], [D.axis(mx, "unscaled = mask only"),
                                  D.axis(my, "mean unit output", vertical=True)],
                        "Dropout means", width="22%", height="420px",
                        margin={"top": 50, "bottom": 55, "left": 75, "right": 10})
    marks = {"val": val_lines, "train": train_lines, "gaps": gaps, "means": means}
    figures = [curves_fig, gap_fig, mean_fig]

    def compute() -> tuple[DropoutResult, InvertedDropoutResult]:
        r = dropout_data(p=controls["p"].value, l2=controls["l2"].value, steps=controls["steps"].value,
                         seed=controls["seed"].value)
        return r, inverted_dropout_data(p=controls["p"].value, seed=controls["seed"].value)

    def draw(results: tuple[DropoutResult, InvertedDropoutResult]) -> str:
        r, inv = results
        c = [r.curves[v] for v in VARIANTS]
        val_lines.x = train_lines.x = c[0].steps
        val_lines.y = np.array([np.maximum(k.val_loss, 1e-6) for k in c])
        train_lines.y = np.array([np.maximum(k.train_loss, 1e-6) for k in c])
        style.set_log_ticks(loss_axis, val_lines.y, train_lines.y)
        gaps.y = [max(k.loss_gap, 0.0) for k in c]
        means.y = [inv.eval_mean, inv.train_mean, inv.unscaled_mean]
        mean_fig.title = f"Means at p = {inv.p:g}"
        return " · ".join(f"<b>{k.name}</b>: train acc {k.train_acc[-1]:.0%}, val acc {k.val_acc[-1]:.0%}, "
                          f"loss gap {k.loss_gap:.3f}" for k in c)

    return V.DemoView(controls, figures, marks, compute, draw, rows=[list(controls)],
                      figure_rows=[figures])
