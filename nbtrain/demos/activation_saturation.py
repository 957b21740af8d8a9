"""Activation saturation, vanishing gradients and dead ReLUs, measured layer by layer.

A unit is *saturated* when its local gradient f'(z) is below 10 % of the activation's peak slope: for
tanh that is |tanh z| > 0.95, for the sigmoid σ(z) < 0.026 or > 0.974. Backpropagation multiplies by
f'(z) at every layer, so saturated units pass (almost) no gradient back. A ReLU unit is *dead* when its
pre-activation is ≤ 0 for every input of the batch: it outputs 0 and gets a zero gradient, forever.

>>> from nbtrain.demos import saturation_data
>>> low, high = saturation_data("tanh", scale=0.5), saturation_data("tanh", scale=4.0)
>>> bool(low.saturated_fraction.mean() < high.saturated_fraction.mean())
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from nbtrain.engine import activations, init, models
from nbtrain.engine.budget import check_demo

if TYPE_CHECKING:  # the views import ipywidgets/bqplot only when called
    from ._view import DemoView

from ..engine import threads
from ..engine.checks import check_float, check_int, check_seed

#: A unit counts as saturated when f'(z) < SATURATION_THRESHOLD × max f'.
SATURATION_THRESHOLD = 0.1


@dataclass(frozen=True)
class SaturationResult:
    """Per-layer numbers of a forward/backward pass through a deep MLP (index 0 = first hidden layer).

    saturated_fraction: (depth,) share of (sample, unit) pairs with f'(z) < 10 % of the peak slope
        (sigmoid/tanh); for ReLU the share of dead units; zeros for activations that do neither.
    dead_units: (depth,) number of units whose pre-activation is ≤ 0 on every sample (any activation).
    mean_local_grad: (depth,) mean f'(z) — what backprop multiplies by at each layer.
    grad_norm: (depth,) ‖∂L/∂Wₗ‖ for a random unit-variance upstream gradient at the top.
    delta_norm: (depth,) ‖∂L/∂zₗ‖, the backpropagated signal reaching each layer's pre-activations: it
        shrinks layer after layer towards the input when weights are tiny or units saturated.
    activation_std: (depth,) std of the layer outputs.
    hist: (depth, bins) share of pre-activations per bin on ``edges`` (values outside go to the end bins).
    curve_x, curve_y, curve_dy: the activation f and its derivative f' on the histogram's range.
    """

    activation: str
    kind: str
    init: str
    scale: float
    bias: float
    saturated_fraction: np.ndarray
    dead_units: np.ndarray
    mean_local_grad: np.ndarray
    grad_norm: np.ndarray
    delta_norm: np.ndarray
    activation_std: np.ndarray
    hist: np.ndarray
    edges: np.ndarray
    curve_x: np.ndarray
    curve_y: np.ndarray
    curve_dy: np.ndarray


def activation_curve(activation: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(x) and f'(x) of a registry activation (derivative by autograd, so any activation works).

    >>> y, dy = activation_curve("tanh", np.array([0.0]))
    >>> float(y[0]), float(dy[0])
    (0.0, 1.0)
    """
    t = torch.tensor(np.asarray(x, dtype=np.float32), requires_grad=True)
    y = activations.make(activation)(t)
    (dy,) = torch.autograd.grad(y.sum(), t)
    return y.detach().numpy().astype(np.float64), dy.numpy().astype(np.float64)


def _peak_slope(activation: str) -> float:
    _, dy = activation_curve(activation, np.linspace(-8, 8, 1601))
    return float(np.abs(dy).max()) or 1.0


def saturation_data(
    activation: str = "tanh",
    init: str = "xavier_normal",
    depth: int = 6,
    width: int = 256,
    scale: float = 1.0,
    seed: int = 0,
    *,
    n: int = 512,
    bias: float = 0.0,
    bins: int = 61,
    window: float = 6.0,
) -> SaturationResult:
    """Push ``n`` standard-normal inputs through ``depth`` hidden layers and measure saturation.

    Weights come from the ``init`` scheme of ``nbtrain.engine.init`` multiplied by ``scale``; every
    hidden bias is set to ``bias`` (a large negative bias kills ReLUs). The upstream gradient at the top
    is a fixed random N(0, 1) matrix, so ``grad_norm`` shows how the backward signal shrinks or grows.

    >>> r = saturation_data("relu", "he_normal", depth=3, width=64, bias=-3.0)
    >>> r.dead_units.shape, bool(r.dead_units[-1] > 32)
    ((3,), True)
    """
    activation = activations.registry.resolve(activation)
    depth = check_int("depth", depth, 1, 50)
    width = check_int("width", width, 2, 4096)
    scale = check_float("scale", scale, 0.0, 1e3, lo_open=True)
    seed = check_seed(seed)
    n = check_int("n", n, 2, 100_000)
    bias = check_float("bias", bias, -100.0, 100.0)
    bins = check_int("bins", bins, 3, 1000)
    window = check_float("window", window, 0.0, 1e3, lo_open=True)
    check_demo(depth * width * (n + width), f"saturation_data(depth={depth}, width={width}, n={n})")
    kind = activations.saturation_kind(activation)

    gen = torch.Generator().manual_seed(seed)
    net = models.make("mlp", input_shape=(width,), num_classes=1, hidden=[width] * depth, activation=activation,
                      generator=torch.Generator().manual_seed(seed))
    _init_scaled(net, init, scale, bias, gen)
    x = torch.randn(n, width, generator=gen)
    upstream = torch.randn(n, width, generator=gen)

    pre: list[torch.Tensor] = []
    h = x
    for block in net.blocks:
        z = block.layer(h)
        z.retain_grad()
        pre.append(z)
        h = block.act(z)
    (h * upstream).sum().div(n).backward()

    peak = _peak_slope(activation)
    edges = np.linspace(-window, window, bins + 1)
    sat, dead, local, gnorm, dnorm, std, hist = [], [], [], [], [], [], []
    for block, z in zip(net.blocks, pre):
        zd = z.detach()
        zg = zd.clone().requires_grad_(True)
        a = block.act(zg)
        (slope,) = torch.autograd.grad(a.sum(), zg)
        dead_mask = (zd <= 0).all(dim=0)
        dead.append(int(dead_mask.sum()))
        if kind == "saturated":
            sat.append(float((slope.abs() < SATURATION_THRESHOLD * peak).float().mean()))
        elif kind == "dead":
            sat.append(float(dead_mask.float().mean()))
        else:
            sat.append(0.0)
        local.append(float(slope.mean()))
        gnorm.append(float(block.layer.weight.grad.norm()))
        dnorm.append(float(z.grad.norm()))
        std.append(float(a.detach().std()))
        counts = torch.histc(zd.clamp(-window, window), bins=bins, min=-window, max=window)
        hist.append((counts / counts.sum()).numpy())

    cx = np.linspace(-window, window, 241)
    cy, cdy = activation_curve(activation, cx)
    return SaturationResult(
        activation=activation,
        kind=kind,
        init=init,
        scale=scale,
        bias=bias,
        saturated_fraction=np.array(sat),
        dead_units=np.array(dead),
        mean_local_grad=np.array(local),
        grad_norm=np.array(gnorm),
        delta_norm=np.array(dnorm),
        activation_std=np.array(std),
        hist=np.array(hist, dtype=np.float64),
        edges=edges,
        curve_x=cx,
        curve_y=cy,
        curve_dy=cdy,
    )


@torch.no_grad()
def _init_scaled(net: torch.nn.Module, scheme: str, scale: float, bias: float, gen: torch.Generator) -> None:
    init.apply(net, scheme, generator=gen)
    for block in net.blocks:
        block.layer.weight.mul_(scale)
        block.layer.bias.fill_(bias)


@dataclass(frozen=True)
class DeadReluResult:
    """Dead ReLU units per hidden layer before and after a few full-batch SGD steps.

    dead_before / dead_after: (layers,) units whose pre-activation is ≤ 0 on every training sample.
    loss: (steps_run + 1,) cross-entropy before each step and after the last; ``diverged`` if it blew up.
    inputs, labels: the training set; initial_weights: [(weight, bias), …] of each Linear before training
    (hidden layers, then the output layer), so the run can be redone with any other code.
    """

    lr: float
    bias: float
    width: int
    dead_before: np.ndarray
    dead_after: np.ndarray
    loss: np.ndarray
    diverged: bool
    inputs: np.ndarray | None = None
    labels: np.ndarray | None = None
    initial_weights: tuple[tuple[np.ndarray, np.ndarray], ...] = ()


def dead_relu_data(
    lr: float = 1.0,
    steps: int = 20,
    bias: float = 0.0,
    seed: int = 0,
    *,
    width: int = 128,
    layers: int = 2,
    n: int = 512,
) -> DeadReluResult:
    """Count dead ReLUs in a small He-initialised classifier before and after SGD at learning rate ``lr``.

    Three Gaussian blobs in 2-D, an MLP with ``layers`` ReLU layers of ``width`` units, full-batch SGD.
    A too-high ``lr`` (≈1) throws many units into the region where they never fire again; a large
    negative ``bias`` kills them from the start.

    >>> ok, hot = dead_relu_data(lr=0.01), dead_relu_data(lr=1.0)
    >>> bool(hot.dead_after.sum() > ok.dead_after.sum())
    True
    """
    lr = check_float("lr", lr, 0.0, 100.0, lo_open=True)
    steps = check_int("steps", steps, 0, 10_000)
    bias = check_float("bias", bias, -100.0, 100.0)
    seed = check_seed(seed)
    width = check_int("width", width, 1, 4096)
    layers = check_int("layers", layers, 1, 20)
    n = check_int("n", n, 3, 100_000)

    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    x = torch.randn(n, 2, generator=gen) + 2.0 * F.one_hot(y, 3).float()[:, :2]
    net = models.make("mlp", input_shape=(2,), num_classes=3, hidden=[width] * layers, activation="relu",
                      generator=torch.Generator().manual_seed(seed))
    init.apply(net, "he_normal", generator=gen)
    with torch.no_grad():
        for block in net.blocks:
            block.layer.bias.fill_(bias)
    start = tuple((m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
                  for m in [*(b.layer for b in net.blocks), net.head])

    def count_dead() -> np.ndarray:
        out, h = [], x
        with torch.no_grad():
            for block in net.blocks:
                z = block.layer(h)
                out.append(int((z <= 0).all(dim=0).sum()))
                h = block.act(z)
        return np.array(out)

    before = count_dead()
    params = [p for p in net.parameters() if p.requires_grad]
    losses, diverged = [], False
    with threads.limited(1):  # tiny tensors: threads only add synchronisation
        for _ in range(steps):
            loss = F.cross_entropy(net(x), y)
            losses.append(float(loss.detach()))
            if not np.isfinite(losses[-1]):
                diverged = True
                break
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            with torch.no_grad():
                for p, g in zip(params, grads):
                    if g is not None:
                        p.sub_(lr * g)
        if not diverged:
            with torch.no_grad():
                losses.append(float(F.cross_entropy(net(x), y)))
            diverged = not np.isfinite(losses[-1])
    return DeadReluResult(lr=lr, bias=bias, width=width, dead_before=before, dead_after=count_dead(),
                          loss=np.array(losses), diverged=diverged, inputs=x.numpy(), labels=y.numpy(),
                          initial_weights=start)


def saturation(activation: str = "tanh", init: str = "xavier_normal", scale: float = 1.0, depth: int = 6,
               width: int = 256, seed: int = 0) -> DemoView:
    """Interactive view: the activation, its derivative and one layer's pre-activation histogram; per-layer
    saturation and gradient norms; and a dead-ReLU counter for a too-high learning rate.

    >>> view = saturation()                   # doctest: +SKIP
    >>> view.controls["scale"].value = 4.0    # doctest: +SKIP
    """
    import bqplot as bq

    from nbtrain.engine import init as init_registry
    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    controls = {
        "activation": V.dropdown("activation", activations.pointwise_names(), activations.registry.resolve(activation)),
        "init": V.dropdown("init", init_registry.names(), init_registry.registry.resolve(init)),
        "scale": V.slider("weight scale ×", scale, 0.05, 20.0, 0.05, log=True),
        "bias": V.slider("bias", 0.0, -5.0, 5.0, 0.25),
        "layer": V.int_slider("histogram of layer", 1, 1, depth),
        "depth": V.int_slider("depth", depth, 2, 20),
        "lr": V.slider("dead-ReLU demo: SGD lr", 1.0, 0.001, 3.0, 0.25, log=True),
    }
    marks: dict[str, bq.Mark] = {}
    # Left: activation curve + derivative + histogram of pre-activations.
    cx, cy = bq.LinearScale(), bq.LinearScale()
    hy = bq.LinearScale(min=0.0)
    hist = bq.Bars(x=[], y=[], scales={"x": cx, "y": hy}, colors=[style.HIST], opacities=[0.35], padding=0.0)
    curve = bq.Lines(x=[], y=[], scales={"x": cx, "y": cy}, colors=[style.CURVE, style.DERIVATIVE], stroke_width=3)
    left = D.figure([hist, curve], [D.axis(cx, "pre-activation z"),
                                    D.axis(cy, "f(z) and f′(z) (red)", vertical=True),
                                    D.axis(hy, "share of pre-activations (bars)", vertical=True, side="right",
                                           grid_lines="none", tick_format=".0%")],
                    height="330px", margin=dict(D.margin, left=70, right=70))  # room for the right axis
    # Right: per-layer saturated (or dead) share.
    lx, sy = bq.OrdinalScale(), bq.LinearScale(min=0.0, max=1.0)
    sat = bq.Bars(x=[], y=[], scales={"x": lx, "y": sy}, colors=[style.SAME_SIGN], opacities=[0.7])
    right = D.figure([sat], [D.axis(lx, "layer"), D.axis(sy, "share of units", vertical=True, tick_format=".0%")],
                     "Saturated share per layer", height="330px")
    # Bottom left: gradient norms per layer (log): vanishing shows as a line falling towards layer 1.
    gx, gy = bq.OrdinalScale(), bq.LogScale()
    gnorm = bq.Lines(x=[], y=[], scales={"x": gx, "y": gy}, colors=[style.CURVE, style.DERIVATIVE], marker="circle",
                     stroke_width=3)
    grad_axis = D.axis(gy, "gradient norm (log)", vertical=True, tick_format=".0e")
    grads = D.figure([gnorm], [D.axis(gx, "layer (1 = input side)"), grad_axis],
                     "‖∂L/∂W‖ (black), ‖∂L/∂z‖ (red)", height="330px")
    # Bottom right: dead ReLUs before/after SGD at the chosen lr.
    dx, dy = bq.OrdinalScale(), bq.LinearScale(min=0.0)
    dead = bq.Bars(x=[], y=[], scales={"x": dx, "y": dy}, type="grouped", colors=[style.MIXED_SIGN, style.SAME_SIGN],
                   labels=["before training", "after SGD"], display_legend=True)
    bottom = D.figure([dead], [D.axis(dx, "ReLU layer"), D.axis(dy, "dead units", vertical=True)],
                      height="330px")
    bottom.legend_location = "top-left"
    marks.update(hist=hist, curve=curve, saturation=sat, grad_norm=gnorm, dead=dead)
    figures = [left, right, grads, bottom]

    def compute() -> tuple[SaturationResult, DeadReluResult]:
        controls["layer"].max = controls["depth"].value
        r = saturation_data(controls["activation"].value, controls["init"].value, depth=controls["depth"].value,
                            width=width, scale=controls["scale"].value, bias=controls["bias"].value, seed=seed)
        d = dead_relu_data(lr=controls["lr"].value, bias=controls["bias"].value, seed=seed)
        return r, d

    def draw(results: tuple[SaturationResult, DeadReluResult]) -> str:
        r, d = results
        layer = min(controls["layer"].value, len(r.hist)) - 1
        centres = (r.edges[:-1] + r.edges[1:]) / 2
        hist.x, hist.y = centres, r.hist[layer]
        hy.max = float(max(r.hist[layer].max() * 1.1, 0.05))
        curve.x, curve.y = r.curve_x, np.stack([r.curve_y, r.curve_dy])
        curve.colors = [style.activation_colour(r.activation), style.DERIVATIVE]
        what = {"saturated": "saturated", "dead": "of units dead"}.get(r.kind)
        left.title = f"{r.activation}, layer {layer + 1}" + (f": {r.saturated_fraction[layer]:.0%} {what}" if what else "")
        right.title = {"saturated": "Saturated share per layer", "dead": "Dead-unit share per layer"}.get(
            r.kind, f"{r.activation} neither saturates nor dies")
        layers = [str(i + 1) for i in range(len(r.saturated_fraction))]
        sat.x, sat.y = layers, r.saturated_fraction
        gnorm.x, gnorm.y = layers, np.maximum(np.stack([r.grad_norm, r.delta_norm]), 1e-30)
        style.set_log_ticks(grad_axis, gnorm.y)
        dead.x = [str(i + 1) for i in range(len(d.dead_before))]
        dead.y = np.stack([d.dead_before, d.dead_after])
        dy.max = float(d.width)
        bottom.title = (f"Dead ReLUs after {len(d.loss) - 1} steps, lr={d.lr:.3g}"
                        + (" (diverged)" if d.diverged else ""))  # ({d.width} units per layer: the y axis)
        return (f"mean f′(z) per layer: {', '.join(f'{v:.2f}' for v in r.mean_local_grad)} · "
                f"backprop signal ‖∂L/∂z‖ first/last layer: {r.delta_norm[0] / max(r.delta_norm[-1], 1e-30):.2g}")

    return V.DemoView(controls, figures, marks, compute, draw,
                      rows=[["activation", "init", "scale"], ["bias", "layer", "depth", "lr"]],
                      figure_rows=[[left, right], [grads, bottom]])
