"""One look for every nbtrain view (the Lab, compare, tuning views, demos): colours, fonts, figure and
axis helpers sized for a 1280×720 projector, and the stylesheet that carries lecture mode and themes.

Conventions: training curves are solid, validation curves dashed; a run keeps one colour everywhere (and
an activation one colour in every demo); every axis says what it measures and in which unit; bqplot
animation is off (streamed data must not tween).

Two sets of sizes (:class:`Look`): :data:`VIEW` for the Lab, compare and tuning views (several small
figures in a grid) and :data:`DEMO` for the demos (two figures per row on a slide, one type size up).

>>> from nbtrain.ui import style
>>> style.TRAIN, style.VAL
('#1f78b4', '#d95f02')
>>> style.tint("#000000", 0.5)
'#808080'
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import bqplot as bq
import ipywidgets as widgets

TRAIN = "#1f78b4"  # training curves (solid)
VAL = "#d95f02"  # validation curves (dashed)
LR = "#33a02c"  # the learning rate actually used
PREVIEW = "#7f7f7f"  # the schedule as planned
EVENT = "#9e9e9e"  # markers of live changes
ERROR = "#c62828"
WARN = "#b26a00"
OK = "#2e7d32"
# one colour per class (decision boundary, points) and per run (compare) or series (a demo's schedules,
# stages, variants)
CLASSES = ["#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928", "#17becf", "#e7298a", "#7f7f7f", "#bcbd22"]
RUNS = ["#1f78b4", "#d95f02", "#33a02c", "#e31a1c", "#6a3d9a", "#a6761d", "#e7298a", "#666666"]
# layers from input (light) to output (dark): viridis stops, readable on white
LAYERS = ["#b5de2b", "#6ece58", "#35b779", "#1f9e89", "#26828e", "#31688e", "#3e4989", "#482878", "#440154"]
# the demos: one colour per activation, so "tanh" is always the same blue
ACTIVATIONS = {
    "sigmoid": "#d95f02",
    "tanh": "#1f78b4",
    "relu": "#33a02c",
    "leaky_relu": "#6a3d9a",
    "prelu": "#cab2d6",
    "elu": "#b15928",
    "selu": "#e7298a",
    "gelu": "#666666",
    "silu": "#a6761d",
    "maxout": "#1b9e77",
    "identity": "#000000",
}
SAME_SIGN = "#e31a1c"  # a step whose gradient components all share one sign
MIXED_SIGN = "#7f7f7f"
CURVE = "#222222"  # a function's graph
DERIVATIVE = "#e31a1c"  # its derivative
HIST = "#1f78b4"  # histograms
CONTOUR = "#b0b0b0"  # contour lines of a loss surface
SHADE = "#fdd0a2"

TICKS = {"font-size": "13px"}
TITLE = {"font-size": "15px"}
LABEL_STYLE = {"description_width": "initial"}
DASHED = "dashed"
# figure margins: room for the y tick labels *and* the y axis label left of them (bqplot draws both in the
# margin; ``label_offset`` is measured away from the plot area), a right margin for the last x tick's label
MARGIN = {"top": 44, "bottom": 46, "left": 72, "right": 26}
Y_LABEL_OFFSET = "50px"
X_LABEL_OFFSET = "34px"


@dataclass(frozen=True, eq=False)
class Look:
    """The sizes of one kind of view: tick and title type, figure margins, how far the axis labels sit
    from the plot area (measured away from it: positive is outside), the default figure box, vertical
    padding, and whether linear axes get a tick format by orientation (SI counts on x, 3 significant
    digits on y: right for the step axes of training curves, not for a demo's ``w₁`` axis).

    Lecture mode and themes come from the stylesheet (:data:`CSS`) and reach both looks alike.
    """

    ticks: dict[str, str]
    title: dict[str, str]
    margin: dict[str, int]
    y_label_offset: str
    x_label_offset: str
    width: str
    height: str
    padding_y: float
    formats: bool = True
    legend: dict[str, str] = field(default_factory=lambda: {"font-size": "13px"})

    def axis(self, scale: bq.Scale, label: str, *, vertical: bool = False, **kw: Any) -> bq.Axis:
        """:func:`axis` in this look."""
        return axis(scale, label, vertical=vertical, look=self, **kw)

    def figure(self, marks: list[bq.Mark], axes: list[bq.Axis], title: str = "", **kw: Any) -> bq.Figure:
        """:func:`figure` in this look."""
        return figure(marks, axes, title, look=self, **kw)


# the Lab, compare and tuning views: several figures in a grid of ≥ 270 px cells
VIEW = Look(TICKS, TITLE, MARGIN, Y_LABEL_OFFSET, X_LABEL_OFFSET, width="auto", height="260px", padding_y=0.0)
# the demos: shown alone on a slide, two figures per row, 380 px tall: one type size up, room for it
DEMO = Look({"font-size": "14px"}, {"font-size": "16px"}, {"top": 50, "bottom": 55, "left": 74, "right": 26},
            y_label_offset="52px", x_label_offset="40px", width="50%", height="380px", padding_y=0.025,
            formats=False)

def tint(colour: str, amount: float) -> str:
    """``colour`` mixed with white: ``amount`` = 0 keeps it, 1 gives white."""
    c = colour.lstrip("#")
    rgb = [int(c[i : i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{round(v + (255 - v) * amount):02x}" for v in rgb)


def activation_colour(name: str) -> str:
    """The colour of an activation in every demo (grey for names outside the palette).

    >>> activation_colour("tanh"), activation_colour("my_act")
    ('#1f78b4', '#444444')
    """
    return ACTIVATIONS.get(name, "#444444")


def layer_colours(n: int) -> list[str]:
    """``n`` colours from light (first hidden layer) to dark (last)."""
    if n <= 0:
        return []
    if n == 1:
        return [LAYERS[len(LAYERS) // 2]]
    return [LAYERS[round(i * (len(LAYERS) - 1) / (n - 1))] for i in range(n)]


def axis(scale: bq.Scale, label: str, *, vertical: bool = False, look: Look = VIEW, **kw: Any) -> bq.Axis:
    """A labelled axis with projector-sized ticks (``vertical=True`` for a y axis; ``side="right"`` for a
    second one), sized by ``look``.

    The label sits outside the plot area (bqplot measures ``label_offset`` away from it, so a positive
    offset is outside on every side), ticks are few enough not to collide (round values from
    :func:`fit_axis`, decades on a log axis) and their format suits the scale: SI suffixes for counts on x,
    3 significant digits on y (``look.formats``), ``1e-3`` style on log axes, none on categories.

    >>> from bqplot import LinearScale, LogScale, OrdinalScale
    >>> axis(LinearScale(), "loss", vertical=True).label_offset
    '50px'
    >>> axis(OrdinalScale(), "hidden").tick_format is None
    True
    >>> ax = axis(LinearScale(), "w₂", vertical=True, look=DEMO)
    >>> ax.label_offset, ax.tick_style, ax.tick_format is None
    ('52px', {'font-size': '14px'}, True)
    """
    kw.setdefault("grid_lines", "dashed")
    kw.setdefault("label_offset", look.y_label_offset if vertical else look.x_label_offset)
    kw.setdefault("side", "left" if vertical else "bottom")
    if isinstance(scale, bq.OrdinalScale):
        kw.setdefault("tick_format", None)  # category names as they are (a number format gives "NaNm")
    elif isinstance(scale, bq.LogScale):
        kw.setdefault("tick_format", ".0e")
    elif look.formats:
        kw.setdefault("tick_format", ".3~g" if vertical else ".3~s")  # x: 0, 250, 1.5k, 1M
    # (no num_ticks: bqplot spaces those evenly over the raw domain, 1.22 0.901 0.584 ...; the views set
    # round tick_values themselves, see fit_axis, nice_step_ticks and round_ticks)
    return bq.Axis(scale=scale, label=label, tick_style=dict(look.ticks), **kw)


def nice_step_ticks(last: float, max_ticks: int = 4) -> tuple[float, list[float]]:
    """A step axis from 0: the domain's end (a round number ≥ ``last``) and at most ``max_ticks`` round
    tick intervals from 0 to it (1-2-5 spacing), so labels never run together and the axis never goes below 0.

    >>> nice_step_ticks(0)
    (10.0, [0.0, 5.0, 10.0])
    >>> nice_step_ticks(21_700)
    (30000.0, [0.0, 10000.0, 20000.0, 30000.0])
    >>> nice_step_ticks(1500)
    (1500.0, [0.0, 500.0, 1000.0, 1500.0])
    """
    last = max(float(last), 10.0)
    for k in range(0, 20):
        base = 10.0 ** (math.floor(math.log10(last)) - 1 + k // 3)
        step = base * (1, 2, 5)[k % 3]
        end = math.ceil(last / step - 1e-9) * step
        if end / step <= max_ticks:
            n = int(round(end / step))
            return end, [i * step for i in range(n + 1)]
    return last, [0.0, last]  # pragma: no cover - the loop always returns


def fit_step_axes(axes: Iterable[bq.Axis], last: float) -> list[tuple[widgets.Widget, dict[str, Any]]]:
    """Updates that fit step axes (and their scales) to a run at step ``last``: from 0 to a round number
    ≥ it, with a few round ticks (:func:`nice_step_ticks`). Returns ``[]`` for an axis already fitted to
    that end, so the axes change only when the run passes their last tick.

    >>> ax = axis(bq.LinearScale(), "step")
    >>> [(type(w).__name__, t) for w, t in fit_step_axes([ax], 1234)]  # doctest: +NORMALIZE_WHITESPACE
    [('LinearScale', {'min': 0.0, 'max': 1500.0}),
     ('Axis', {'tick_values': [0.0, 500.0, 1000.0, 1500.0]})]
    >>> fit_step_axes([ax], 1400)
    []
    """
    end, ticks = nice_step_ticks(last)
    out: list[tuple[widgets.Widget, dict[str, Any]]] = []
    for ax in axes:
        key = ("step", id(ax.scale), end)
        if getattr(ax, "_nbtrain_fit", None) == key:
            continue
        ax._nbtrain_fit = key
        out += [(ax.scale, {"min": 0.0, "max": float(end)}), (ax, {"tick_values": list(ticks)})]
    return out


def nice_ticks(lo: float, hi: float, max_ticks: int = 5, *, zero: bool = False,
               inside: bool = False) -> tuple[float, float, list[float]]:
    """A linear axis people can read aloud: the domain [lo, hi] widened to round numbers (from 0 with
    ``zero=True`` when the values are ≥ 0) and at most ``max_ticks`` intervals between round ticks (1-2-5 spacing).
    ``inside=True`` keeps the domain and puts the round ticks within it (at least 2 when it can).

    >>> nice_ticks(0.0123, 1.22, zero=True)
    (0.0, 1.5, [0.0, 0.5, 1.0, 1.5])
    >>> nice_ticks(0.0123, 0.94, zero=True)
    (0.0, 1.0, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    >>> nice_ticks(-1.08, 1.19, max_ticks=4)
    (-2.0, 2.0, [-2.0, -1.0, 0.0, 1.0, 2.0])
    >>> nice_ticks(0.05, 0.05)
    (0.04, 0.06, [0.04, 0.045, 0.05, 0.055, 0.06])
    >>> nice_ticks(-1.08, 1.19, max_ticks=4, inside=True)  # the domain kept, round ticks within it
    (-1.08, 1.19, [-1.0, 0.0, 1.0])
    """
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if zero and lo >= 0:
        lo = 0.0
    if hi < lo:
        lo, hi = hi, lo
    if hi - lo < 1e-12 * max(1.0, abs(hi)):
        pad = abs(hi) * 0.2 if hi else 1.0
        lo, hi = (lo - pad, hi + pad) if not (zero and lo == 0) else (0.0, hi + pad)
    span = hi - lo
    for k in range(0, 60):
        step = 10.0 ** (math.floor(math.log10(span)) - 2 + k // 3) * (1, 2, 5)[k % 3]
        if inside:
            a, b = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
            if b - a < max_ticks:
                return lo, hi, [float(f"{i * step:.12g}") for i in range(a, b + 1)]
            continue
        a, b = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
        if b - a <= max_ticks:
            ticks = [float(f"{i * step:.12g}") for i in range(a, b + 1)]
            return ticks[0], ticks[-1], ticks
    return lo, hi, [lo, hi]  # pragma: no cover


def fit_axis(axis: bq.Axis, values: Any, *, zero: bool = True, max_ticks: int = 6,
             inside: bool = False) -> list[tuple[widgets.Widget, dict[str, Any]]]:
    """Updates that fit ``axis`` (and its scale) to ``values``: a round domain and round ticks on a linear
    scale (:func:`nice_ticks`), whole decades and 1-2-5/decade ticks on a log scale (:func:`log_ticks`).
    Returns ``[]`` when nothing changed since the last fit (so a publisher sends nothing).

    >>> ax = axis(bq.LinearScale(), "loss", vertical=True)
    >>> [(type(w).__name__, t) for w, t in fit_axis(ax, [0.3, 1.1])]  # doctest: +NORMALIZE_WHITESPACE
    [('LinearScale', {'min': 0.0, 'max': 1.2}),
     ('Axis', {'tick_values': [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2], 'tick_format': '.3~g'})]
    >>> fit_axis(ax, [0.3, 1.1])
    []
    """
    import numpy as np

    scale = axis.scale
    v = np.asarray(values, dtype=float).ravel() if values is not None else np.zeros(0)
    v = v[np.isfinite(v)]
    if isinstance(scale, bq.LogScale):
        v = v[v > 0]
        if not v.size:
            return []
        ticks, fmt = log_ticks(v, max_ticks=max_ticks + 1)
        lo = 10.0 ** math.floor(math.log10(v.min()) + 1e-9)
        hi = 10.0 ** math.ceil(math.log10(v.max()) - 1e-9)
        if hi <= lo:
            hi = lo * 10
        lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])
    else:
        if not v.size:
            v = np.array([0.0, 1.0])
        lo, hi, ticks = nice_ticks(v.min(), v.max(), max_ticks, zero=zero, inside=inside)
        fmt = axis.tick_format or ".3~g"
    key = (id(scale), lo, hi, tuple(ticks), fmt)
    if getattr(axis, "_nbtrain_fit", None) == key:
        return []
    axis._nbtrain_fit = key
    return [(scale, {"min": float(lo), "max": float(hi)}), (axis, {"tick_values": list(ticks), "tick_format": fmt})]


def apply(updates: list[tuple[widgets.Widget, dict[str, Any]]]) -> None:
    """Set the traits of ``(widget, {trait: value})`` pairs, each widget sending one message."""
    with hold([w for w, _ in updates]):
        for w, traits in updates:
            for k, val in traits.items():
                setattr(w, k, val)


def log_ticks(values: Any, max_ticks: int = 6) -> tuple[list[float], str]:
    """Readable tick values (and a format) for a log axis showing ``values``: 1-2-5 steps within a few
    decades, powers of ten (every n-th when there are many) otherwise.

    >>> log_ticks([0.3, 4.0])
    ([0.5, 1.0, 2.0], '.2~g')
    >>> log_ticks([1e-8, 0.1])
    ([1e-08, 1e-06, 0.0001, 0.01], '.0e')
    >>> log_ticks([3e-4, 2.0])
    ([0.001, 0.01, 0.1, 1.0], '.0e')
    """
    import numpy as np

    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return [1.0], ".2~g"
    lo, hi = float(v.min()), float(v.max())
    a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks: list[float] = []
    for mults in ((1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0**k for k in range(a, b + 1) for m in mults if lo * 0.999 <= m * 10.0**k <= hi * 1.001]
        if 2 <= len(ticks) <= max_ticks or mults == (1,):
            break
    if len(ticks) > max_ticks:  # many decades: every n-th power of ten
        n = math.ceil(len(ticks) / max_ticks)
        ticks = ticks[::n]
    if len(ticks) < 2:
        ticks = [lo, hi]
    ticks = [float(f"{t:.3g}") for t in ticks]
    return ticks, (".0e" if hi / lo >= 1e3 else ".2~g")  # 0.003, not 0.0030


def set_log_ticks(axis: bq.Axis, *values: Any) -> None:
    """Point a log axis's ticks (and format) at the range of ``values``; its domain stays bqplot's
    (call inside :func:`hold` with the marks)."""
    import numpy as np

    ticks, fmt = log_ticks(np.concatenate([np.asarray(v, dtype=float).ravel() for v in values]))
    axis.tick_values, axis.tick_format = ticks, fmt


def free_axes(figures: Iterable[bq.Figure]) -> list[tuple[bq.Figure, bq.Axis]]:
    """The linear axes of ``figures`` that have no tick values of their own (their ticks are left to
    bqplot, whose default, d3's 10, runs together on a 300 px figure): :func:`round_ticks` sets them."""
    return [(fig, ax) for fig in figures for ax in fig.axes
            if type(ax.scale) is bq.LinearScale and (ax.tick_values is None or not len(ax.tick_values))]


def round_ticks(axes: Iterable[tuple[bq.Figure, bq.Axis]]) -> None:
    """A few round ticks inside the domain of each ``(figure, axis)``: the scale's ``min``/``max`` where
    set, else the range of the visible marks' values on that scale (4 intervals at most on x, 6 on y)."""
    import numpy as np

    for fig, ax in axes:
        values = []
        for mark in fig.marks:
            for dim, scale in mark.scales.items():
                if scale is ax.scale and dim in ("x", "y") and getattr(mark, "visible", True):
                    try:
                        values.append(np.asarray(getattr(mark, dim), dtype=float).ravel())
                    except (TypeError, ValueError):  # categories
                        pass
        v = np.concatenate(values) if values else np.zeros(0)
        v = v[np.isfinite(v)]
        lo = ax.scale.min if ax.scale.min is not None else (float(v.min()) if v.size else None)
        hi = ax.scale.max if ax.scale.max is not None else (float(v.max()) if v.size else None)
        if lo is None or hi is None or not hi > lo:
            continue
        vertical = ax.side in ("left", "right")
        _, _, ticks = nice_ticks(lo, hi, 6 if vertical else 4, inside=True)
        if len(ticks) >= 2 and list(ax.tick_values if ax.tick_values is not None else []) != ticks:
            ax.tick_values = ticks


def figure(marks: list[bq.Mark], axes: list[bq.Axis], title: str = "", *, look: Look = VIEW,
           width: str | None = None, height: str | None = None, margin: dict[str, int] | None = None,
           **kw: Any) -> bq.Figure:
    """A bqplot figure with animation off and a readable title, sized by ``look``: ``width`` (``"auto"``:
    it follows its container, the views' CSS grid deciding how wide with a minimum plot size; a share such
    as ``"50%"`` in a demo's figure row) and ``height`` (its normal-mode height; lecture mode sets its own)
    default to the look's, ``margin`` too.

    >>> fig = figure([], [axis(bq.LinearScale(), "step")], "loss")
    >>> fig.fig_margin == MARGIN, fig.layout.height, fig.title_style["font-size"]
    (True, '260px', '15px')
    >>> figure([], [], "paths", look=DEMO).layout.width
    '50%'
    """
    kw.setdefault("legend_location", "top-right")
    kw.setdefault("legend_text", dict(look.legend))
    # the legend box's fill inline, as the page draws it: a saved PNG/SVG has no page stylesheet (bqplot's own
    # rule for it needs the page's .bqplot element) and would fill the box black
    kw.setdefault("legend_style", {"fill": "none"})
    kw.setdefault("padding_y", look.padding_y)
    margin = dict(margin or look.margin)
    fig = bq.Figure(
        marks=marks, axes=axes, title=title, title_style=title_style(margin, look.title["font-size"]),
        animation_duration=0, fig_margin=margin,
        layout=widgets.Layout(width=width or look.width, height=height or look.height, min_width="0px"), **kw,
    )
    fig.add_class("nbtrain-figure")
    return fig


def legend_entries(marks: Iterable[bq.Mark]) -> list[tuple[str, str, str]]:
    """``(label, colour, kind)`` of each labelled series of ``marks``, in order; ``kind`` is the swatch:
    a line style (``"solid"``, ``"dashed"``, ``"dotted"``, ``"dash_dotted"``), ``"dot"`` (scatter) or
    ``"box"`` (bars).

    >>> legend_entries([bq.Lines(labels=["train"], colors=[TRAIN]), bq.Lines()])
    [('train', '#1f78b4', 'solid')]
    """
    out = []
    for m in marks:
        labels = list(getattr(m, "labels", None) or [])
        colours = list(getattr(m, "colors", None) or []) or ["#444444"]
        if isinstance(m, bq.Lines):
            kind = m.line_style
        elif isinstance(m, bq.Bars):
            kind = "box"
        elif isinstance(m, bq.Scatter):
            kind = m.marker if m.marker in GLYPHS else "dot"
        else:
            continue
        out += [(str(label), colours[i % len(colours)], kind) for i, label in enumerate(labels) if str(label)]
    return out


# a scatter's marker as a legend swatch (other markers show as a dot)
GLYPHS = {"cross": "✚", "triangle-down": "▼", "triangle-up": "▲", "square": "■", "diamond": "◆"}


def legend_html(marks: Iterable[bq.Mark]) -> str:
    """A legend as HTML: a coloured swatch and the label of each labelled series of ``marks`` (each key
    ellipsised with its whole label in a tooltip when its row is too narrow; styled by :data:`CSS`)."""
    from nbtrain.serving import html_text

    def swatch(colour: str, kind: str) -> str:
        if kind in GLYPHS:
            return f"<span class='nbtrain-swatch nbtrain-swatch-glyph' style='color:{html_text(colour)}'>{GLYPHS[kind]}</span>"
        return f"<span class='nbtrain-swatch nbtrain-swatch-{kind}' style='--nbtrain-c:{html_text(colour)}'></span>"

    keys = "".join(f"<span class='nbtrain-key' title='{html_text(label)}'>{swatch(colour, kind)}{html_text(label)}</span>"
                   for label, colour, kind in legend_entries(marks))
    return f"<div class='nbtrain-keys'>{keys}</div>" if keys else ""


def legend(marks: Iterable[bq.Mark] = ()) -> widgets.HTML:
    """An HTML legend row, to sit under (or over) a figure: bqplot draws its own legend inside the plot
    area, over the curves. Fill it with :func:`legend_html` (the marks' labels, colours and line styles)."""
    w = widgets.HTML(legend_html(marks))
    w.add_class("nbtrain-legend")
    return w


def with_legend(fig: bq.Figure, marks: Iterable[bq.Mark] | None = None) -> widgets.VBox:
    """``fig`` with its legend under it (from ``marks``, by default the figure's own), as one box: the
    figure's bqplot legend is turned off. The legend widget is the box's second child."""
    marks = list(fig.marks if marks is None else marks)
    for m in marks:
        if getattr(m, "display_legend", False):
            m.display_legend = False
    box = widgets.VBox([fig, legend(marks)], layout=widgets.Layout(min_width="0px"))
    box.add_class("nbtrain-figcell")
    return box


def title_style(margin: dict[str, int], size: str = TITLE["font-size"]) -> dict[str, str]:
    """A title's style: bqplot puts its baseline 1em under the middle of the top margin, on top of the y
    axis' last tick label, and centres it over the plot area, which a wide left margin pushes right; this
    lifts it by half a line and centres it over the whole figure.

    >>> title_style({"left": 72, "right": 26})["transform"]
    'translate(-23px, -0.55em)'
    """
    dx = (margin.get("left", 0) - margin.get("right", 0)) / 2
    return {"font-size": size, "transform": f"translate({-dx:g}px, -0.55em)"}


def hold(marks: Iterable[widgets.Widget]) -> ExitStack:
    """Hold sync on several widgets at once: each sends one message when the block ends, in the order of
    ``marks`` (a scale's new domain reaches the front end before the axis ticks that need it).

    >>> a, b = bq.Lines(), bq.Lines()
    >>> with hold([a, b]):
    ...     a.x, b.x = [0.0, 1.0], [1.0, 2.0]  # one message each when the block ends: a's, then b's
    """
    stack = ExitStack()
    for m in reversed(list(marks)):  # an ExitStack leaves its contexts last-in first-out
        stack.enter_context(m.hold_sync())
    return stack


def html_status(text: str, colour: str | None = None) -> str:
    """One line of status HTML in ``colour``: escaped, without server paths (:func:`nbtrain.serving.html_text`)."""
    from nbtrain.serving import html_text

    style = "font-size:15px;line-height:22px"
    if colour:
        style += f";color:{colour}"
        if colour in (ERROR,):
            style += ";font-weight:600"
    return f"<span style='{style}'>{html_text(text)}</span>" if text else ""


# ---------------------------------------------------------------------------------------------------------
# The stylesheet of every nbtrain view. It travels with the views (a hidden HTML widget holding a <style>),
# so it works the same in JupyterLab, Notebook 7 and Voilà, with or without the JupyterLab extension, and it
# only touches nbtrain's own widgets (``.nbtrain-view`` and below).
#
# - Layout: the Lab's controls column has a fixed width and its plots a CSS grid whose columns have a
#   minimum size (at most three, one when the Lab is narrow); when the Lab is too narrow for both, the plots
#   wrap below the controls. bqplot figures resize with their grid cell (ResizeObserver).
# - Lecture mode: ``nbtrain-lecture`` on <body> (the JupyterLab extension's toggle, Alt+L; any ancestor of a
#   view works too, e.g. a page template that sets it — Voilà has no toggle of its own) scales type and lines
#   by ``--nbtrain-lecture-scale`` (1.5 by default, less on a short screen) and lays the Lab out to fit one
#   1024×768 screen: transport on top, the current tab's controls left, loss and decision boundary right.
# - Themes: colours come from JupyterLab's CSS variables (light and dark), with light fallbacks elsewhere.
# ---------------------------------------------------------------------------------------------------------
CSS = """
.nbtrain-view {
  --nbtrain-fg: var(--jp-ui-font-color1, #1a1a1a);
  --nbtrain-fg2: var(--jp-ui-font-color2, #555);
  --nbtrain-bg: var(--jp-layout-color0, #fff);
  --nbtrain-grid: var(--jp-border-color2, #e0e0e0);
  --nbtrain-border: var(--jp-border-color1, #bdbdbd);
  --nbtrain-ok: var(--jp-success-color1, #2e7d32);
  --nbtrain-warn: var(--jp-warn-color1, #b26a00);
  --nbtrain-error: var(--jp-error-color1, #c62828);
  --nbtrain-pending: var(--jp-warn-color0, #b26a00);
  box-sizing: border-box;
  max-width: 100%;
  min-width: 0;
  color: var(--nbtrain-fg);
}
.nbtrain-view .nbtrain-css { display: none !important; }
.nbtrain-view .nbtrain-muted { color: var(--nbtrain-fg2); }
.nbtrain-view .nbtrain-ok { color: var(--nbtrain-ok); }
.nbtrain-view .nbtrain-warn { color: var(--nbtrain-warn); }
.nbtrain-view .nbtrain-error { color: var(--nbtrain-error); font-weight: 600; }

/* ---- figures: follow the container, theme colours, labels never over the data ---- */
.nbtrain-view .bqplot.nbtrain-figure { width: auto !important; min-width: 0 !important; max-width: 100%;
  container-type: inline-size; }
/* titles shrink with their figure (a long one must not leave it); 5 % of the width fits ~34 characters */
.nbtrain-view .bqplot .mainheading { font-size: clamp(11px, 5cqw, 15px) !important; }
.nbtrain-demo .bqplot .mainheading { font-size: clamp(11px, 5cqw, 16px) !important; }
.nbtrain-view .bqplot .axis .tick line { stroke: var(--nbtrain-grid) !important; }
.nbtrain-view .bqplot :is(.tick text, .axislabel, .mainheading, .legendtext) { fill: var(--nbtrain-fg) !important; }
.nbtrain-view .bqplot .axis path.domain { stroke: var(--nbtrain-fg2); }
.nbtrain-view .bqplot .plotarea_background { fill: var(--nbtrain-bg); }
/* a figure's toolbar (ui/figure_tools.py): "PNG" / "SVG" in its bottom-left corner, under the y axis' tick
   labels and left of the x axis' label, faint until the pointer or the keyboard is on the figure; the box
   takes the figure's place in its grid or row, the figure fills it */
.nbtrain-view .nbtrain-figbox { position: relative; display: flex; flex-direction: column; min-width: 0;
  overflow: visible; box-sizing: border-box; }
.nbtrain-view .nbtrain-figbox > .bqplot { align-self: stretch; flex: 0 0 auto; }
/* in a grid or row the box is as tall as its figure (not its row's tallest cell), the toolbar at its foot */
.nbtrain-view :is(.nbtrain-figgrid, .nbtrain-figrow, .nbtrain-plots) > .nbtrain-figbox { align-self: start; }
.nbtrain-view .nbtrain-figtools { position: absolute; left: 2px; bottom: 2px; z-index: 1; gap: 2px;
  width: auto !important; height: auto; overflow: visible; opacity: 0.5; transition: opacity 0.15s; }
.nbtrain-view .nbtrain-figbox:is(:hover, :focus-within) .nbtrain-figtools { opacity: 1; }
.nbtrain-view .nbtrain-figtools .nbtrain-figtool, .nbtrain-lecture .nbtrain-view .nbtrain-figtools .nbtrain-figtool {
  width: auto !important; height: 18px !important; min-width: 0; margin: 0; padding: 0 4px !important;
  font-size: 10px !important; font-weight: 600 !important; line-height: 16px; color: var(--nbtrain-fg2);
  background: var(--nbtrain-bg); border: 1px solid var(--nbtrain-border); border-radius: 3px; box-shadow: none; }
.nbtrain-view .nbtrain-figtools .nbtrain-figtool:hover { color: var(--nbtrain-fg); }
/* legends sit under their figure (style.with_legend), never over the curves: one row of coloured swatches
   and names, left-aligned with the plot area; a key too long for the row ends in "…" (its tooltip has it all) */
.nbtrain-view .nbtrain-figcell { min-width: 0; width: auto !important; gap: 0; }
.nbtrain-view .nbtrain-figcell > * { flex: 0 0 auto; }
.nbtrain-view .nbtrain-legend { min-height: 22px; margin: 0; padding: 0 8px 0 var(--nbtrain-legend-indent, 40px);
  box-sizing: border-box; width: auto !important; min-width: 0; overflow: hidden; }
.nbtrain-view .nbtrain-legend > .widget-html-content { min-width: 0; line-height: 22px; height: auto; }
.nbtrain-view .nbtrain-keys { display: flex; flex-flow: row wrap; gap: 0 14px; min-width: 0; font-size: 13px;
  line-height: 22px; color: var(--nbtrain-fg); }
.nbtrain-view .nbtrain-key { display: block; flex: 0 1 auto; min-width: 2.6em; max-width: 100%; overflow: hidden;
  white-space: nowrap; text-overflow: ellipsis; }
.nbtrain-view .nbtrain-swatch { display: inline-block; width: 22px; height: 0; margin: 0 5px 0 0; vertical-align: middle;
  border-top: 3px solid var(--nbtrain-c); }
.nbtrain-view .nbtrain-swatch-dashed { border-top-style: dashed; }
.nbtrain-view :is(.nbtrain-swatch-dotted, .nbtrain-swatch-dash_dotted) { border-top-style: dotted; }
.nbtrain-view :is(.nbtrain-swatch-dot, .nbtrain-swatch-box) { width: 10px; height: 10px; border: 0;
  background: var(--nbtrain-c); }
.nbtrain-view .nbtrain-swatch-dot { border-radius: 50%; }
.nbtrain-view .nbtrain-swatch.nbtrain-swatch-glyph { width: auto; height: auto; border: 0; }

/* ---- the Lab ---- */
.nbtrain-lab { width: 100%; }
.nbtrain-lab .nbtrain-header { flex-flow: row wrap; align-items: center; gap: 2px 4px; min-height: 36px; }
.nbtrain-lab .nbtrain-progress { flex: 1 1 220px; min-width: 0; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; }
.nbtrain-lab .nbtrain-progress-bar { flex: 0 0 120px; }
.nbtrain-lab .nbtrain-statusrow { height: 26px; overflow: hidden; align-items: center; gap: 8px; }
.nbtrain-lab .nbtrain-status { flex: 1 1 auto; min-width: 0; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; }
.nbtrain-lab .nbtrain-change { flex: 0 1 auto; max-width: 50%; overflow: hidden; white-space: nowrap;
  text-overflow: ellipsis; }
/* findings live in a fixed-height panel: new or vanished lines never move the controls under the mouse.
   Two lines: one finding wraps onto both, two get one line each; a finding longer than its lines ends in
   "…" (the whole text is its tooltip, and lab.findings) */
.nbtrain-lab .nbtrain-diagnosis { height: 44px; overflow: hidden; line-height: 22px; }
.nbtrain-lab .nbtrain-diagnosis .nbtrain-finding { display: -webkit-box; -webkit-box-orient: vertical;
  -webkit-line-clamp: 1; line-clamp: 1; overflow: hidden; white-space: normal; overflow-wrap: anywhere;
  max-height: 22px; line-height: 22px; }
.nbtrain-lab .nbtrain-diagnosis .nbtrain-finding:only-child { -webkit-line-clamp: 2; line-clamp: 2; max-height: 44px; }
.nbtrain-lab .nbtrain-diagnosis .nbtrain-finding:nth-child(n+3) { display: none; }
/* a line's text shrinks with it (the content box of an HTML widget is as wide as its text otherwise, and
   the line cut it off at the right edge, mid-word): too long, it ends in "…" */
.nbtrain-lab :is(.nbtrain-diagnosis, .nbtrain-status, .nbtrain-change, .nbtrain-progress) > .widget-html-content {
  line-height: 22px; height: auto; min-width: 0; overflow: hidden; }
.nbtrain-lab :is(.nbtrain-status, .nbtrain-change, .nbtrain-progress) > .widget-html-content {
  display: block; white-space: nowrap; text-overflow: ellipsis; }
/* the Lab's legends: one row of fixed height (keys shrink to "…" rather than wrap): nothing moves */
.nbtrain-lab .nbtrain-legend { height: 22px; min-height: 0; }
.nbtrain-lab .nbtrain-keys { flex-wrap: nowrap; overflow: hidden; }
.nbtrain-view .nbtrain-pending { color: var(--nbtrain-pending); font-weight: 600; }
/* the JupyterLab extension marks a change the moment the input happens, until the kernel's marker arrives */
.nbtrain-lab .nbtrain-change.nbtrain-input-pending > * { display: none !important; }
.nbtrain-lab .nbtrain-change.nbtrain-input-pending::before { content: "⧗ change pending…"; line-height: 22px;
  color: var(--nbtrain-pending); font-weight: 600; white-space: nowrap; }
.nbtrain-view .nbtrain-confirmed { color: var(--nbtrain-ok); }
.nbtrain-lab .nbtrain-body { display: flex; flex-flow: row wrap; align-items: flex-start; gap: 6px; width: 100%; }
.nbtrain-lab .nbtrain-controls { flex: 0 0 308px; width: 308px !important; max-width: 100%; min-width: 0;
  box-sizing: border-box; }
.nbtrain-lab .nbtrain-controls .lm-TabBar-tab { min-width: 0; flex: 1 1 auto; padding: 0 4px; }
.nbtrain-lab .nbtrain-controls .widget-tab-contents, .nbtrain-lab .nbtrain-controls .lm-TabPanel-stackedPanel {
  overflow-x: hidden; box-sizing: border-box; }
/* every control spans the column: its label is never cut (no sideways scroll), the input takes the rest */
.nbtrain-lab .nbtrain-controls :is(.widget-inline-hbox, .widget-hbox, .widget-vbox, .widget-html, .bqplot,
  .nbtrain-figbox) {
  width: auto !important; max-width: 100%; min-width: 0 !important; box-sizing: border-box; align-self: stretch; }
.nbtrain-lab .nbtrain-controls .widget-inline-hbox > :is(select, input, .widget-slider, .slider-container) {
  min-width: 0 !important; }
.nbtrain-lab .nbtrain-controls .widget-inline-hbox > .widget-label { flex: 0 0 auto; }
.nbtrain-lab .nbtrain-controls .nbtrain-init-row > .widget-dropdown { flex: 1 1 auto; width: auto !important; }
.nbtrain-lab .nbtrain-controls .nbtrain-init-row > .widget-button { flex: 0 0 86px; }
.nbtrain-lab .nbtrain-lr-row > .widget-text { flex: 1 1 auto; }
.nbtrain-lab .nbtrain-plots { flex: 1 1 540px; min-width: min(100%, 540px); display: grid;
  grid-template-columns: repeat(auto-fill, minmax(max(270px, calc((100% - 12px) / 3)), 1fr)); gap: 4px 6px; }
.nbtrain-lab .nbtrain-plots > .bqplot, .nbtrain-lab .nbtrain-plots > .nbtrain-figbox > .bqplot,
.nbtrain-lab .nbtrain-plots > .nbtrain-figcell > :is(.bqplot, .nbtrain-figbox > .bqplot) { height: 260px !important; }

/* ---- compare, tuning and demo views: figures in wrapping rows with a minimum size ---- */
.nbtrain-view .nbtrain-figgrid { display: grid !important; width: 100%;
  grid-template-columns: repeat(auto-fill, minmax(max(300px, calc((100% - 12px) / 3)), 1fr)); gap: 4px 6px; }
.nbtrain-view .nbtrain-figrow { display: flex; flex-flow: row wrap; gap: 4px 6px; width: 100%; }
.nbtrain-view .nbtrain-figrow > * { flex: 1 1 var(--nbtrain-basis, 340px); min-width: min(100%, 300px);
  width: auto !important; }
.nbtrain-demo .nbtrain-figrow > * { min-width: min(100%, 340px); }
.nbtrain-view .nbtrain-controlrow { flex-flow: row wrap; gap: 2px 8px; }
.nbtrain-view .nbtrain-controlrow > .widget-inline-hbox { min-width: 0; max-width: 100%; }
/* a slider always has a track to drag: when its label and readout leave it less than 120 px, the track
   wraps onto its own line under the label instead of shrinking to a handle */
.nbtrain-view .widget-inline-hbox.widget-hslider { flex-wrap: wrap; height: auto !important;
  min-height: var(--jp-widgets-inline-height, 28px); }
.nbtrain-view .widget-hslider > .slider-container { flex: 1 0 120px; min-width: 120px; }
.nbtrain-view .widget-hslider > .widget-label { max-width: 100%; }
.nbtrain-lab .nbtrain-controls .widget-hslider > .slider-container { flex: 1 0 90px; min-width: 90px; }
.nbtrain-lecture .nbtrain-lab .nbtrain-controls .widget-hslider > .slider-container { flex: 1 0 64px; min-width: 64px; }
.nbtrain-view .widget-hslider > .widget-readout { flex: 0 0 auto; }
.nbtrain-view table.nbtrain-table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
.nbtrain-view table.nbtrain-table :is(th, td) { padding: 2px 10px; text-align: right; white-space: nowrap; }
.nbtrain-view table.nbtrain-table :is(th, td).nbtrain-left { text-align: left; }
.nbtrain-view table.nbtrain-table th { border-bottom: 1px solid var(--nbtrain-border); }

/* ---- lecture mode ---- */
.nbtrain-lecture .nbtrain-view {
  --nbtrain-s: var(--nbtrain-lecture-scale, 1.5);
  --jp-widgets-font-size: calc(13px * var(--nbtrain-s));
  --jp-widgets-inline-height: calc(26px * var(--nbtrain-s));
  --jp-widgets-inline-label-width: calc(80px * var(--nbtrain-s));
  font-size: calc(13px * var(--nbtrain-s));
}
@media (max-height: 860px) {
  .nbtrain-lecture .nbtrain-view { --nbtrain-s: min(var(--nbtrain-lecture-scale, 1.5), 1.3); }
  /* a short projector: the current tab's controls fit beside loss and boundary; the schedule preview (a
     figure, not a control) shows in normal mode and on taller screens */
  .nbtrain-lecture .nbtrain-lab .nbtrain-controls :is(.nbtrain-schedule-preview, .nbtrain-schedule-cell) {
    display: none !important; }
}
.nbtrain-lecture .nbtrain-view :is(.widget-html, .widget-label, .widget-html-content, .widget-readout, input, select) {
  font-size: calc(13px * var(--nbtrain-s)) !important; }
.nbtrain-lecture .nbtrain-view .widget-html span { font-size: inherit !important; line-height: 1.35 !important; }
.nbtrain-lecture .nbtrain-view :is(.widget-button, .jupyter-button) {
  width: auto !important; height: calc(26px * var(--nbtrain-s)) !important;
  padding: 0 calc(6px * var(--nbtrain-s)); font-size: calc(13px * var(--nbtrain-s)); font-weight: bold; }
.nbtrain-lecture .nbtrain-view .bqplot path.line { stroke-width: calc(2.4px * var(--nbtrain-s)) !important; }
.nbtrain-lecture .nbtrain-view .bqplot .tick text { font-size: max(13px, calc(10px * var(--nbtrain-s))) !important; }
.nbtrain-lecture .nbtrain-view .bqplot .axislabel { font-size: max(14px, calc(10px * var(--nbtrain-s))) !important; }
.nbtrain-lecture .nbtrain-view .bqplot .mainheading { font-size: clamp(12px, 5.2cqw, max(15px, calc(11px * var(--nbtrain-s)))) !important; }
.nbtrain-lecture .nbtrain-view .bqplot .axis path.domain { stroke: var(--nbtrain-fg) !important; }
/* markers keep their own colour (a black outline turned the dashed validation curve black) */
.nbtrain-lecture .nbtrain-view .bqplot .dot { stroke-width: 1px; }
.nbtrain-lecture .nbtrain-lab .nbtrain-header .widget-checkbox { width: auto !important; }
.nbtrain-lecture .nbtrain-lab .nbtrain-device { display: none !important; }
.nbtrain-lecture .nbtrain-lab .nbtrain-statusrow { height: calc(20px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-lab .nbtrain-diagnosis { height: calc(20px * var(--nbtrain-s)); line-height: calc(20px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-lab .nbtrain-diagnosis .nbtrain-finding,
.nbtrain-lecture .nbtrain-lab .nbtrain-diagnosis .nbtrain-finding:only-child { -webkit-line-clamp: 1; line-clamp: 1;
  max-height: calc(20px * var(--nbtrain-s)); line-height: calc(20px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-lab .nbtrain-diagnosis .nbtrain-finding + .nbtrain-finding { display: none; }
.nbtrain-lecture .nbtrain-lab :is(.nbtrain-diagnosis, .nbtrain-status, .nbtrain-change, .nbtrain-progress) > .widget-html-content {
  line-height: calc(20px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-view .nbtrain-legend { min-height: calc(20px * var(--nbtrain-s));
}
.nbtrain-lecture .nbtrain-lab .nbtrain-legend { height: calc(20px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-view :is(.nbtrain-keys, .nbtrain-legend > .widget-html-content) {
  line-height: calc(20px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-view .nbtrain-swatch { width: calc(18px * var(--nbtrain-s)); border-top-width: calc(2.4px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-view :is(.nbtrain-swatch-dot, .nbtrain-swatch-box) { width: calc(8px * var(--nbtrain-s));
  height: calc(8px * var(--nbtrain-s)); }
.nbtrain-lecture .nbtrain-lab .nbtrain-controls { flex: 0 0 calc(236px * var(--nbtrain-s)); width: calc(236px * var(--nbtrain-s)) !important; }
.nbtrain-lecture .nbtrain-lab .nbtrain-controls .lm-TabBar-tab { font-size: calc(11px * var(--nbtrain-s)); padding: 0 2px; }
.nbtrain-lecture .nbtrain-lab .nbtrain-controls .nbtrain-schedule-preview { height: calc(110px * var(--nbtrain-s)) !important; }
.nbtrain-lecture .nbtrain-lab .nbtrain-controls .nbtrain-data-note { display: none !important; }
/* loss and decision boundary first, side by side, as tall as the screen allows; the rest below */
.nbtrain-lecture .nbtrain-lab .nbtrain-plots { flex: 1 1 calc(320px * var(--nbtrain-s)); min-width: min(100%, 420px);
  grid-template-columns: repeat(auto-fill, minmax(max(210px, calc((100% - 6px) / 2)), 1fr)); }
.nbtrain-lecture .nbtrain-lab .nbtrain-plots > .bqplot,
.nbtrain-lecture .nbtrain-lab .nbtrain-plots > .nbtrain-figbox > .bqplot { height: clamp(220px, calc(100vh - 330px), 420px) !important; }
/* a figure with its legend row under it: the two as tall as a figure alone (rows stay level) */
.nbtrain-lecture .nbtrain-lab .nbtrain-plots > .nbtrain-figcell > :is(.bqplot, .nbtrain-figbox > .bqplot) {
  height: calc(clamp(220px, calc(100vh - 330px), 420px) - 20px * var(--nbtrain-s)) !important; }
.nbtrain-lecture .nbtrain-lab .nbtrain-plots > :is(.nbtrain-fig-boundary, .nbtrain-fig-confusion, .nbtrain-figbox-boundary,
  .nbtrain-figbox-confusion) { order: -1; }
.nbtrain-lecture .nbtrain-lab .nbtrain-plots > :is(.nbtrain-fig-loss, .nbtrain-figbox-loss, .nbtrain-cell-loss) { order: -2; }
.nbtrain-lecture .nbtrain-view :is(.nbtrain-figgrid, .nbtrain-figrow) > .bqplot,
.nbtrain-lecture .nbtrain-view :is(.nbtrain-figgrid, .nbtrain-figrow) > .nbtrain-figbox > .bqplot,
.nbtrain-lecture .nbtrain-view .nbtrain-figrow > .widget-vbox > .bqplot,
.nbtrain-lecture .nbtrain-view .nbtrain-figrow > .widget-vbox > .nbtrain-figbox > .bqplot {
  height: clamp(240px, calc(100vh - 300px), 520px) !important; }
.nbtrain-lecture .nbtrain-view .nbtrain-figgrid {
  grid-template-columns: repeat(auto-fill, minmax(max(300px, calc((100% - 6px) / 2)), 1fr)); }
"""


def stylesheet() -> widgets.HTML:
    """A hidden widget carrying :data:`CSS` (put it into a view's children; several copies do no harm)."""
    w = widgets.HTML(f"<style>{CSS}</style>", layout=widgets.Layout(display="none"))
    w.add_class("nbtrain-css")
    return w


def view_classes(widget: widgets.DOMWidget, *names: str) -> None:
    """Mark ``widget`` as an nbtrain view (``nbtrain-view`` + ``names``) so the stylesheet reaches it."""
    for name in ("nbtrain-view", *names):
        widget.add_class(name)
