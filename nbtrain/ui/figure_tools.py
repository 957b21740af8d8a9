"""A figure's toolbar: "PNG" and "SVG" buttons that download that one figure, for every view (the Lab,
compare, the tuning views, the demos).

:class:`FigureBox` holds a bqplot figure and its toolbar (two small buttons in the figure's bottom-left
corner, below the y axis' tick labels, faint until the pointer or focus is on the figure). A click calls
bqplot's ``Figure.save_png`` / ``Figure.save_svg``: the kernel sends the figure a message and the visitor's
browser draws the figure into a file and downloads it. The file name is chosen here, never by the page
(``nbtrain-loss-step1234.png``: the figure's name, the run's step when there is one), and nothing is
written on the server — safe in a served notebook. The buttons go through :func:`nbtrain.ui.guard.guard`
like every other control.

:func:`add_toolbars` puts every figure of a view into a :class:`FigureBox` (compare, tuning views, demos);
the Lab wraps its figures itself (its plot grid swaps figures in and out).

>>> import bqplot as bq
>>> box = FigureBox(bq.Figure(title="Loss (val)"), prefix="compare", step=lambda: 1234)
>>> box.filename("png"), box.filename("svg")
('nbtrain-compare-loss-val-step1234.png', 'nbtrain-compare-loss-val-step1234.svg')
>>> slug("w₁ vs ‖∇W‖ / step"), slug("../../etc/passwd")
('w1-vs-w-step', 'etc-passwd')
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

import bqplot as bq
import ipywidgets as widgets

from .guard import guard

FORMATS = ("png", "svg")
PNG_SCALE = 2.0  # pixels per CSS pixel of a saved PNG: sharp on a handout or a slide
MAX_SLUG = 48


def slug(text: Any) -> str:
    """``text`` as a file-name part: lower-case ASCII letters, digits and single dashes (at most
    :data:`MAX_SLUG` characters; no dots or slashes, so never a path)."""
    s = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")[:MAX_SLUG].strip("-")


def _button(label: str, fmt: str, handler: Callable[[], Any]) -> widgets.Button:
    b = widgets.Button(description=label, tooltip=f"save this figure as {label}",
                       layout=widgets.Layout(width="auto", height="auto"))
    b.add_class("nbtrain-figtool")
    b.add_class(f"nbtrain-save-{fmt}")
    b.on_click(lambda _b: handler())
    return guard(b)  # the kernel drops clicks while disabled; the page sets nothing else


class FigureBox(widgets.Box):
    """A figure with its "PNG" / "SVG" toolbar; ``figure`` is the bqplot figure, ``buttons`` the two buttons.

    ``name`` names the file (default: the figure's title when clicked), ``prefix`` goes before it (a
    view's kind, e.g. ``"compare"``), ``step`` returns the step to name the file by (or None).
    """

    def __init__(self, figure: bq.Figure, name: str = "", *, prefix: str = "",
                 step: Callable[[], int | None] | None = None):
        self.figure = figure
        self.name, self.prefix, self._step = slug(name), slug(prefix), step
        self.saved: list[str] = []  # file names sent to the browser (tests, a lecturer's log)
        self.buttons = {fmt: _button(fmt.upper(), fmt, lambda fmt=fmt: self.save(fmt)) for fmt in FORMATS}
        tools = widgets.HBox(list(self.buttons.values()), layout=widgets.Layout(width="auto"))
        tools.add_class("nbtrain-figtools")
        # the figure's place in its row or grid moves to the box (the stylesheet sizes the figure in it)
        flex, figure.layout.flex = figure.layout.flex, None
        super().__init__([figure, tools], layout=widgets.Layout(flex=flex, min_width="0px"))
        self.add_class("nbtrain-figbox")
        if self.name:
            self.add_class(f"nbtrain-figbox-{self.name}")

    def filename(self, fmt: str = "png") -> str:
        """The file name a click on ``fmt`` downloads now, e.g. ``nbtrain-loss-step1234.png``."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        parts = ["nbtrain", self.prefix, self.name or slug(self.figure.title) or "figure"]
        step = self._step() if self._step is not None else None
        if step is not None:
            parts.append(f"step{int(step)}")
        return "-".join(p for p in parts if p) + "." + fmt

    def save(self, fmt: str = "png") -> str:
        """Download the figure as ``fmt`` (``"png"`` or ``"svg"``) in the browser that shows it; returns
        the file name. Nothing is written on the server (the browser draws the file)."""
        name = self.filename(fmt)
        if fmt == "png":
            self.figure.save_png(name, scale=PNG_SCALE)
        else:
            self.figure.save_svg(name)
        self.saved.append(name)
        return name


def add_toolbars(root: widgets.Box, *, prefix: str = "", step: Callable[[], int | None] | None = None
                 ) -> list[FigureBox]:
    """Put every bqplot figure among the children of ``root`` (and of its boxes, tabs, ...) into a
    :class:`FigureBox` in its place; returns the boxes in document order. Figures already in a box are left.

    >>> import ipywidgets as widgets
    >>> view = widgets.VBox([widgets.HTML(), widgets.HBox([bq.Figure(title="a"), bq.Figure(title="b")])])
    >>> [b.filename() for b in add_toolbars(view, prefix="demo")]
    ['nbtrain-demo-a.png', 'nbtrain-demo-b.png']
    >>> add_toolbars(view)
    []
    """
    boxes: list[FigureBox] = []

    def visit(box: widgets.Box) -> None:
        children = list(box.children)
        for i, w in enumerate(children):
            if isinstance(w, bq.Figure):
                children[i] = FigureBox(w, prefix=prefix, step=step)
                boxes.append(children[i])
            elif isinstance(w, widgets.Box) and not isinstance(w, FigureBox):
                visit(w)
        if children != list(box.children):
            box.children = children

    visit(root)
    return boxes
