"""Lab add-ons for lectures: a scene's note and *next cue* control, and forks overlaid on the Lab's curves.

Both are views in the Lab's own publishing loop (``Lab.publish`` asks each add-on for its updates, ~10 Hz):
they read plain engine objects (:class:`~nbtrain.engine.script.ScenePlayer`, a branch ``Trainer``) and
never run on the training thread.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import bqplot as bq
import ipywidgets as widgets
import numpy as np

from ..engine.script import Scene, ScenePlayer
from . import style
from .stream import StreamDecimator, TableFeed

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.trainer import Trainer
    from .lab import Lab

FORK_COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
MAX_FORKS = 6  # branches overlaid on one Lab


class SceneView:
    """The note of the current cue (large in lecture mode), the cue count and a *next cue* button."""

    def __init__(self, lab: Lab, scene: Scene):
        self.lab = lab
        self.player = ScenePlayer(lab.trainer, scene, on_fork=lambda tr, ch: lab._fork_from_scene(tr, ch))
        self.note = widgets.HTML(layout=widgets.Layout(width="100%", min_height="2.4em"))
        self.note.add_class("nbtrain-scene-note")
        self.count = widgets.HTML(layout=widgets.Layout(width="auto"))
        self.next_button = widgets.Button(description="next cue", icon="forward", tooltip="fire the scene's next cue",
                                          layout=widgets.Layout(width="110px", height="34px"))
        self.next_button.add_class("nbtrain-button")
        self.next_button.add_class("nbtrain-next-cue")
        self.next_button.on_click(lambda _b: lab._act(self.next))
        title = widgets.HTML(f"<b>{html.escape(scene.title)}</b>" if scene.title else "")
        self.box = widgets.HBox([title, self.count, self.next_button, self.note],
                                layout=widgets.Layout(width="100%", align_items="center", grid_gap="8px"))
        self.box.add_class("nbtrain-scene")
        self._shown = -2

    def next(self) -> None:
        if self.player.next() is None:
            self.lab._ui_hint = "the scene has no more cues"

    def version(self) -> Any:
        return self.player.version

    def updates(self) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        p = self.player
        if p.version == self._shown:
            return []
        self._shown = p.version
        n = len(p.scene)
        nxt = p.next_index
        upcoming = ""
        if nxt is not None:
            c = p.scene[nxt]
            upcoming = f"next: {'on key press' if c.step is None else f'step {c.step:,}'}"
        note = html.escape(p.note) if p.note else "<i>the scene starts when training reaches its first cue</i>"
        return [(self.note, {"value": f"<span class='nbtrain-scene-text'>{note}</span>"}),
                (self.count, {"value": f"cue {p.current + 1}/{n} · {upcoming}" if upcoming else f"cue {p.current + 1}/{n}"}),
                (self.next_button, {"disabled": nxt is None})]

    def widgets(self) -> list[widgets.Widget]:
        return [self.box]


class ForkOverlay:
    """One branch drawn over the Lab's loss and accuracy figures (dashed, its own colour), from the step it
    was forked at; its label, in the figures' legend rows, names what differs from the original."""

    def __init__(self, lab: Lab, branch: Trainer, index: int):
        self.lab = lab
        self.branch = branch
        info = branch.forked_from or {}
        self.start = int(info.get("step", 0))
        changes = info.get("changes", {})
        self.label = describe_changes(changes, self.start)
        colour = FORK_COLOURS[index % len(FORK_COLOURS)]
        loss_fig, acc_fig = lab.figures["loss"], lab.figures["accuracy"]
        lx, ly = lab.loss_lines["train"].scales["x"], lab.loss_lines["train"].scales["y"]
        ax, ay = lab.acc_lines["val"].scales["x"], lab.acc_lines["val"].scales["y"]
        self.loss = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": lx, "y": ly}, colors=[colour], stroke_width=1.8,
                             line_style=style.DASHED, labels=[self.label])
        self.acc = bq.Lines(x=np.zeros(0), y=np.zeros(0), scales={"x": ax, "y": ay}, colors=[colour], stroke_width=2,
                            line_style=style.DASHED, labels=[self.label])
        loss_fig.marks = [*loss_fig.marks, self.loss]
        acc_fig.marks = [*acc_fig.marks, self.acc]
        self._steps = TableFeed("steps", ("step", "train_loss"))
        self._evals = TableFeed("evals", ("step", "val_acc"))
        cap = lab.max_points
        self._loss = StreamDecimator(cap)
        self._acc = StreamDecimator(cap)

    def version(self) -> Any:
        return (self.branch.metrics.version, self.branch.state)

    def updates(self) -> list[tuple[widgets.Widget, dict[str, Any]]]:
        m = self.branch.metrics
        out = []
        restarted, new = self._steps.read(m)
        if restarted:
            self._loss.clear()
        keep = new["step"] >= self.start
        self._loss.extend(new["step"][keep], new["train_loss"][keep])
        restarted, new = self._evals.read(m)
        if restarted:
            self._acc.clear()
        keep = new["step"] >= self.start
        self._acc.extend(new["step"][keep], 100.0 * new["val_acc"][keep])
        for dec, mark in ((self._loss, self.loss), (self._acc, self.acc)):
            if dec.changed:
                dec.changed = False
                x, y = dec.arrays()
                out.append((mark, {"x": x.astype(np.int32), "y": y.astype(np.float32)}))
        return out

    def remove(self) -> None:
        for fig, mark in ((self.lab.figures["loss"], self.loss), (self.lab.figures["accuracy"], self.acc)):
            fig.marks = [m for m in fig.marks if m is not mark]
        self.loss.close()
        self.acc.close()


def describe_changes(changes: dict[str, Any], step: int) -> str:
    """A branch's legend label: what it changed and where (``"relu @1.5k"``)."""
    at = f"@{step / 1000:.3g}k" if step >= 1000 else f"@{step}"
    if not changes:
        return f"fork {at}"
    parts = []
    for k, v in changes.items():
        parts.append(str(v) if k in ("activation", "init", "optimizer", "schedule") else f"{k}={v}")
    return f"{', '.join(parts)} {at}"
