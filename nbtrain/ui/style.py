"""One look for every nbtrain view: colours, fonts and figure helpers sized for a 1280×720 projector.

Conventions: training curves are solid, validation curves dashed; a run keeps one colour everywhere;
every axis says what it measures and in which unit; bqplot animation is off (streamed data must not
tween).

>>> from nbtrain.ui import style
>>> style.TRAIN, style.VAL
('#1f78b4', '#d95f02')
>>> style.tint("#000000", 0.5)
'#808080'
"""

from __future__ import annotations

from contextlib import ExitStack
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
# one colour per class (decision boundary, points) and per run (compare)
CLASSES = ["#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928", "#17becf", "#e7298a", "#7f7f7f", "#bcbd22"]
RUNS = ["#1f78b4", "#d95f02", "#33a02c", "#e31a1c", "#6a3d9a", "#a6761d", "#e7298a", "#666666"]
# layers from input (light) to output (dark): viridis stops, readable on white
LAYERS = ["#b5de2b", "#6ece58", "#35b779", "#1f9e89", "#26828e", "#31688e", "#3e4989", "#482878", "#440154"]

TICKS = {"font-size": "13px"}
TITLE = {"font-size": "15px"}
LABEL_STYLE = {"description_width": "initial"}
DASHED = "dashed"


def tint(colour: str, amount: float) -> str:
    """``colour`` mixed with white: ``amount`` = 0 keeps it, 1 gives white."""
    c = colour.lstrip("#")
    rgb = [int(c[i : i + 2], 16) for i in (0, 2, 4)]
    return "#" + "".join(f"{round(v + (255 - v) * amount):02x}" for v in rgb)


def layer_colours(n: int) -> list[str]:
    """``n`` colours from light (first hidden layer) to dark (last)."""
    if n <= 0:
        return []
    if n == 1:
        return [LAYERS[len(LAYERS) // 2]]
    return [LAYERS[round(i * (len(LAYERS) - 1) / (n - 1))] for i in range(n)]


def axis(scale: bq.Scale, label: str, *, vertical: bool = False, **kw: Any) -> bq.Axis:
    """A labelled axis with projector-sized ticks (``vertical=True`` for a y axis)."""
    kw.setdefault("grid_lines", "dashed")
    kw.setdefault("grid_color", "#dddddd")
    if vertical:
        kw.setdefault("label_offset", "-54px")  # clear of the tick labels, also at lecture-mode sizes
        kw.setdefault("tick_format", ".3~g")
    else:
        kw.setdefault("label_offset", "32px")
        kw.setdefault("tick_format", ".3~s")  # 0, 250, 1.5k, 1M
        kw.setdefault("num_ticks", 5)
    return bq.Axis(scale=scale, label=label, side="left" if vertical else "bottom", tick_style=TICKS, **kw)


def figure(marks: list[bq.Mark], axes: list[bq.Axis], title: str = "", *, width: str = "100%",
           height: str = "260px", margin: dict[str, int] | None = None, **kw: Any) -> bq.Figure:
    """A bqplot figure with animation off and a readable title."""
    kw.setdefault("legend_location", "top-right")
    kw.setdefault("legend_text", {"font-size": "12px"})
    return bq.Figure(
        marks=marks, axes=axes, title=title, title_style=TITLE, animation_duration=0,
        fig_margin=margin or {"top": 34, "bottom": 42, "left": 66, "right": 12},
        layout=widgets.Layout(width=width, height=height, min_width="200px"), **kw,
    )


def hold(marks: list[widgets.Widget]) -> ExitStack:
    """Hold sync on several widgets at once: each sends one message when the block ends."""
    stack = ExitStack()
    for m in marks:
        stack.enter_context(m.hold_sync())
    return stack


def html_status(text: str, colour: str | None = None) -> str:
    """One line of status HTML (escaped) in ``colour``."""
    import html

    style = "font-size:15px;line-height:22px"
    if colour:
        style += f";color:{colour}"
        if colour in (ERROR,):
            style += ";font-weight:600"
    return f"<span style='{style}'>{html.escape(text)}</span>" if text else ""
