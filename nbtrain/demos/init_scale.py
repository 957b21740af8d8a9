"""Weight scale vs the distribution of activations, layer by layer (the classic lecture figure).

Feed 1000 standard-normal inputs through 10 layers of 500 units and look at each layer's outputs:

* tanh, W ~ N(0, 0.01²): each layer multiplies the std by ≈ 0.01·√500 ≈ 0.22 — activations collapse to 0;
* tanh, W ~ N(0, 1): pre-activations have std ≈ √500 ≈ 22 — almost every unit sits at ±1 (saturated);
* tanh, Xavier (Var = 1/fan_in): the std stays in a stable band;
* ReLU, Xavier: ReLU zeroes half the signal, so the variance halves per layer (std × 1/√2);
* ReLU, He (Var = 2/fan_in): the factor 2 compensates — stable.

>>> from nbtrain.demos import weight_scale_data
>>> r = weight_scale_data("tanh", 0.01)
>>> bool(r.std[-1] < 1e-3 * r.std[0])
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from nbtrain.engine import activations, init, rng
from nbtrain.engine.budget import check_demo

if TYPE_CHECKING:  # the views import ipywidgets/bqplot only when called
    from ._view import DemoView

from ..engine import threads
from ..engine.checks import check_float, check_int, check_seed

# Activations whose output range is fixed: their histograms always use it.
_BOUNDED = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0)}


@dataclass(frozen=True)
class WeightScaleResult:
    """Per-layer activation statistics (index 0 = first layer's output).

    mean, std: (depth,) of the layer outputs; weight_std: (depth,) the measured std of each weight matrix.
    hist: (depth, bins) share of outputs per bin of ``edges`` (values outside the range are not counted),
    estimated from the first ⌈100 000 / width⌉ samples; every other statistic uses all n samples.
    Exact zeros are left out of the histograms and counted in ``zero_fraction`` (ReLU's spike at 0 would
    otherwise dwarf everything else). saturated_fraction: share with |a| > 0.99·bound (tanh/sigmoid only).
    """

    activation: str
    init: str
    scale: float
    mean: np.ndarray
    std: np.ndarray
    weight_std: np.ndarray
    hist: np.ndarray
    edges: np.ndarray
    zero_fraction: np.ndarray
    saturated_fraction: np.ndarray


def _scheme(init_or_std: str | float) -> tuple[str, dict[str, float]]:
    if isinstance(init_or_std, bool):
        raise ValueError(f"init_or_std={init_or_std!r} must be an initializer name or a std > 0")
    if isinstance(init_or_std, (int, float)):
        std = check_float("init_or_std (a std)", init_or_std, 0.0, 1e3, lo_open=True)
        return "small_gaussian", {"std": std}
    return init.registry.resolve(init_or_std), {}


def weight_scale_data(
    activation: str = "tanh",
    init_or_std: str | float = "xavier_normal",
    depth: int = 10,
    width: int = 500,
    n: int = 1000,
    seed: int = 0,
    *,
    scale: float = 1.0,
    bins: int = 50,
) -> WeightScaleResult:
    """Statistics of the outputs of ``depth`` square layers (biases 0) fed ``n`` N(0, 1) inputs.

    ``init_or_std`` is a scheme of ``nbtrain.engine.init`` ("xavier_normal", "he_normal", ...) or a
    number: the std of a zero-mean Gaussian. ``scale`` multiplies every weight afterwards (the slider of
    the view). Float32, no autograd, ~50 ms at the default size on two cores.

    The inputs and the weights come from two independent random streams derived from ``seed``
    (``numpy.random.SeedSequence(seed).spawn(2)``): drawn from one stream, the first layer's weights
    would repeat the input rows and give each sample one unit with a huge pre-activation.

    >>> r = weight_scale_data("relu", "he_normal", depth=3, width=100, n=200)
    >>> r.std.shape, r.hist.shape
    ((3,), (3, 50))
    """
    activation = activations.registry.resolve(activation)
    scheme, params = _scheme(init_or_std)
    depth = check_int("depth", depth, 1, 100)
    width = check_int("width", width, 1, 8192)
    n = check_int("n", n, 2, 1_000_000)
    seed = check_seed(seed)
    scale = check_float("scale", scale, 0.0, 1e4, lo_open=True)
    bins = check_int("bins", bins, 2, 1000)
    check_demo(depth * width * (n + width), f"weight_scale_data(depth={depth}, width={width}, n={n})")

    input_seed, weight_seed = (int(c.generate_state(1, np.uint64)[0] >> np.uint64(1))
                               for c in np.random.SeedSequence(seed).spawn(2))
    gen = torch.Generator().manual_seed(input_seed)
    act = activations.make(activation)
    weight_fn = init.make(scheme, **params)
    bounded = _BOUNDED.get(activation)
    outputs: list[torch.Tensor] = []
    weight_std: list[float] = []
    means, stds, zeros, saturated = [], [], [], []
    with torch.no_grad(), rng.isolated(torch.Generator().manual_seed(weight_seed)):  # the weight functions draw from here
        h = torch.randn(n, width, generator=gen)
        w = torch.empty(width, width)  # (out, in) like nn.Linear, so fan_in/fan_out are what init expects
        for _ in range(depth):  # the forward pass: big matmuls, all of torch's threads
            weight_fn(w)
            if scale != 1.0:
                w.mul_(scale)
            weight_std.append(float(w.std()))
            h = act(h @ w.T)
            outputs.append(h)
    # Statistics: many small reductions. On one thread they cost about the same when the CPU is idle and
    # far less when it is shared (threads spin-waiting for each other), see nbtrain/engine/threads.py.
    with torch.no_grad(), threads.limited(1):
        for h in outputs:
            means.append(float(h.mean()))
            stds.append(float(h.std()))
            if bounded:
                mid, half = (bounded[0] + bounded[1]) / 2, (bounded[1] - bounded[0]) / 2
                dist = (h - mid).abs_() if mid else h.abs()  # in-place ops: one temporary, not three
                saturated.append(int(dist.gt_(0.99 * half).sum()))
                zeros.append(0)
            else:
                saturated.append(0)
                zeros.append(h.numel() - int(torch.count_nonzero(h)))
        means_a, stds_a = np.array(means), np.array(stds)
        if bounded:
            lo, hi = bounded
        else:  # mean ± 4 std of the widest layer, never beyond the data
            lo = max(min(float(o.min()) for o in outputs), float((means_a - 4 * stds_a).min()))
            hi = min(max(float(o.max()) for o in outputs), float((means_a + 4 * stds_a).max()))
            if not hi > lo:
                lo, hi = lo - 1e-6, hi + 1e-6
        # The histograms use the first `rows` samples (≥ 100 000 values): plenty for 50 bins, and cheaper.
        rows = min(n, max(1, -(-100_000 // width)))
        zero_bin = int(np.clip(np.floor((0.0 - lo) / (hi - lo) * bins), 0, bins - 1)) if lo <= 0 <= hi else None
        hist = np.empty((depth, bins))
        for i, o in enumerate(outputs):
            part = o[:rows]
            counts = torch.histc(part, bins=bins, min=lo, max=hi).double().numpy()
            if zero_bin is not None and not bounded:
                counts[zero_bin] -= part.numel() - int(torch.count_nonzero(part))
            hist[i] = counts / part.numel()
    return WeightScaleResult(
        activation=activation,
        init=scheme if not params else f"N(0, {params['std']:g}²)",
        scale=scale,
        mean=means_a,
        std=stds_a,
        weight_std=np.array(weight_std),
        hist=hist,
        edges=np.linspace(lo, hi, bins + 1),
        zero_fraction=np.array(zeros) / (n * width),
        saturated_fraction=np.array(saturated) / (n * width),
    )


def histogram_outlines(hist: np.ndarray, edges: np.ndarray, width: float = 0.85) -> tuple[np.ndarray, np.ndarray]:
    """Closed step outlines of one histogram per layer, layer ``l`` drawn sideways from x = l + 1.

    Each row is normalised to its own tallest bin, so shapes stay readable however peaked they are.

    >>> x, y = histogram_outlines(np.array([[1.0, 0.5]]), np.array([0.0, 1.0, 2.0]))
    >>> x.shape, float(x[0].max())
    ((1, 6), 1.85)
    """
    depth, bins = hist.shape
    peak = np.maximum(hist.max(axis=1, keepdims=True), 1e-300)
    d = width * hist / peak
    xs = np.concatenate([np.zeros((depth, 1)), np.repeat(d, 2, axis=1), np.zeros((depth, 1))], axis=1)
    xs += np.arange(1, depth + 1)[:, None]
    ys_one = np.concatenate([[edges[0]], np.stack([edges[:-1], edges[1:]], axis=1).ravel(), [edges[-1]]])
    return xs, np.tile(ys_one, (depth, 1))


def weight_scale(activation: str = "tanh", init_or_std: str | float = "small_gaussian", scale: float = 1.0,
                 depth: int = 10, width: int = 500, n: int = 1000, seed: int = 0) -> DemoView:
    """Interactive view: one histogram per layer in a row, plus the std and mean per layer.

    Pick the activation and initializer, slide the weight scale (a multiplier on the initializer's
    weights): the lecture's "std 0.01 collapses, std 1 saturates, Xavier/He are stable" in one control.

    >>> view = weight_scale()                 # doctest: +SKIP
    >>> view.controls["scale"].value = 100.0  # 0.01 × 100 = std 1: tanh saturates  # doctest: +SKIP
    """
    import bqplot as bq

    from nbtrain.ui import style

    from . import _view as V

    D = style.DEMO  # the demos' sizes

    scheme, params = _scheme(init_or_std)
    if params:  # a bare std: start the slider so that the scale reproduces it on top of N(0, 0.01²)
        scheme, scale = "small_gaussian", scale * params["std"] / 0.01
    controls = {
        "activation": V.dropdown("activation", activations.pointwise_names(), activations.registry.resolve(activation)),
        "init": V.dropdown("init", init.names(), scheme),
        "scale": V.slider("weight scale ×", scale, 0.01, 1000.0, 0.05, log=True),
    }
    lx, vy = bq.LinearScale(min=0.8, max=depth + 1.0), bq.LinearScale()
    outlines = bq.Lines(x=[], y=[], scales={"x": lx, "y": vy}, fill="inside", stroke_width=1)
    hist_fig = D.figure([outlines], [D.axis(lx, "layer", tick_values=np.arange(1, depth + 1), tick_format="d",
                                            grid_lines="none"),
                                     D.axis(vy, "activation value", vertical=True)],
                        width="100%", height="340px")
    sx, sy, my = bq.LinearScale(min=0.5, max=depth + 0.5), bq.LogScale(), bq.LinearScale()
    std_line = bq.Lines(x=[], y=[], scales={"x": sx, "y": sy}, marker="circle", stroke_width=3)
    std_axis = D.axis(sy, "std of activations (log)", vertical=True, tick_format=".0e")
    std_fig = D.figure([std_line], [D.axis(sx, "layer", tick_format="d"), std_axis], "Std per layer",
                       height="300px")
    mean_line = bq.Lines(x=[], y=[], scales={"x": sx, "y": my}, marker="circle", stroke_width=3)
    mean_fig = D.figure([mean_line], [D.axis(sx, "layer", tick_format="d"),
                                      D.axis(my, "mean of activations", vertical=True, tick_format=".2~g")],
                        "Mean per layer", height="300px")
    marks = {"hist": outlines, "std": std_line, "mean": mean_line}
    figures = [hist_fig, std_fig, mean_fig]

    def compute() -> WeightScaleResult:
        return weight_scale_data(controls["activation"].value, controls["init"].value, depth, width, n, seed,
                                 scale=controls["scale"].value)

    def draw(r: WeightScaleResult) -> str:
        colour = style.activation_colour(r.activation)
        xs, ys = histogram_outlines(r.hist, r.edges)
        outlines.x, outlines.y = xs, ys
        outlines.colors = [colour] * len(xs)
        outlines.fill_colors = [colour] * len(xs)
        outlines.fill_opacities = [0.45] * len(xs)
        vy.min, vy.max = float(r.edges[0]), float(r.edges[-1])
        layers = np.arange(1, len(r.std) + 1)
        std_line.x, std_line.y = layers, np.maximum(r.std, 1e-30)
        style.set_log_ticks(std_axis, std_line.y)
        mean_line.x, mean_line.y = layers, r.mean
        std_line.colors = mean_line.colors = [colour]
        extra = ""
        if r.zero_fraction.max() > 0.01:
            extra = f"; exact zeros (≈{r.zero_fraction.mean():.0%}) not drawn"
        hist_fig.title = (f"{r.activation}, {r.init} × {r.scale:.3g} (weight std {r.weight_std[0]:.3g}): "
                          f"outputs of each layer{extra}")
        sat = (f" · share at ±1 (|a| > 0.99): first {r.saturated_fraction[0]:.0%}, last {r.saturated_fraction[-1]:.0%}"
               if r.activation in _BOUNDED else "")
        return (f"std, first → last layer: {r.std[0]:.3g} → {r.std[-1]:.3g} "
                f"(ratio {r.std[-1] / max(r.std[0], 1e-300):.2g}){sat}")

    return V.DemoView(controls, figures, marks, compute, draw, rows=[list(controls)],
                      figure_rows=[[hist_fig], [std_fig, mean_fig]])
