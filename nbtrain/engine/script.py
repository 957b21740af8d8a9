"""Scripts (what a run did, replayable bit for bit) and scenes (a lecture demo prepared as plain data).

A **script** is the record of one run: the config it was built with, and every live change in the order it
took effect, each with the step (and the reset segment) it took effect at: config changes (``set``),
re-initialisations, restores of a snapshot, resets and the NaN/Inf pauses the run went through.
``trainer.script()`` returns it as plain JSON-able data; :func:`replay` builds a new trainer that runs the
same steps and applies the same changes at the same step boundaries in the background, so that on the same
device and library versions it reproduces the run bit for bit (same history, same weights).

A **scene** is a list of :class:`Cue` s. Each cue fires at a step (or, with ``step=None``, when
:meth:`ScenePlayer.next` is called), applies config changes and actions (``reinit``, ``pause``, ``fork``) and
carries a note. Scenes are plain data too: ``Scene.from_json(scene.to_json()) == scene``.

>>> import nbtrain as nt
>>> scene = nt.Scene([nt.cue(0, note="sigmoid + tiny weights: stuck"),
...                   nt.cue(300, activation="relu", init="he_normal", reinit=True, note="ReLU + He")])
>>> nt.Scene.from_json(scene.to_json()) == scene
True
>>> [c.step for c in scene]
[0, 300]
"""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from .trainer import Trainer

SCRIPT_FORMAT = "nbtrain-script/1"
ACTION_KEYS = ("set", "reinit", "restore", "reset", "nonfinite")


class ScriptError(ValueError):
    """A script or scene that cannot be replayed: says which entry and why."""


# ----------------------------------------------------------------------------------------------------
# scripts
# ----------------------------------------------------------------------------------------------------
def make_script(trainer: Trainer) -> dict[str, Any]:
    """The script of ``trainer``'s run up to now (see :meth:`Trainer.script`)."""
    import torch

    with trainer._cv:
        actions = [dict(a) for a in trainer._script_log]
        segment, step = trainer._segment, trainer.global_step
    return {
        "format": SCRIPT_FORMAT,
        "config": json.loads(trainer._script_config),
        "actions": _jsonable(actions),
        "end": {"segment": segment, "step": step},
        "device": trainer.device.type,
        "model_is_user": trainer.model_is_user,
        "data_is_user": trainer.data_is_user,
        "versions": {"torch": torch.__version__},
    }


def _jsonable(x: Any) -> Any:
    """Round-trip through JSON now, so that a script kept in memory is exactly the one a file would hold."""
    return json.loads(json.dumps(x))


def check_script(script: Any) -> dict[str, Any]:
    """Validate a script's shape (a dict as :func:`make_script` returns, or its JSON text); returns the dict."""
    if isinstance(script, str):
        try:
            script = json.loads(script)
        except json.JSONDecodeError as exc:
            raise ScriptError(f"not a script: invalid JSON ({exc})") from exc
    if not isinstance(script, dict) or script.get("format") != SCRIPT_FORMAT:
        raise ScriptError(f"not an nbtrain script: expected a dict with format={SCRIPT_FORMAT!r}")
    for key in ("config", "actions", "end"):
        if key not in script:
            raise ScriptError(f"script has no {key!r} entry")
    end = script["end"]
    if not (isinstance(end, dict) and _nonneg_int(end.get("segment")) and _nonneg_int(end.get("step"))):
        raise ScriptError(f"script 'end' = {end!r} must be {{'segment': int ≥ 0, 'step': int ≥ 0}}")
    last = (0, 0)
    for i, a in enumerate(script["actions"]):
        if not isinstance(a, dict) or not _nonneg_int(a.get("segment")) or not _nonneg_int(a.get("step")):
            raise ScriptError(f"script action {i} = {a!r} needs integer 'segment' and 'step' ≥ 0")
        kinds = [k for k in ACTION_KEYS if k in a]
        if len(kinds) != 1:
            raise ScriptError(f"script action {i} = {a!r} must have exactly one of {', '.join(ACTION_KEYS)}")
        where = (a["segment"], a["step"])
        if where < last:
            raise ScriptError(f"script action {i} at segment {where[0]}, step {where[1]} comes before the one above it")
        last = (a["segment"], 0) if "reset" in a else where
        if "reset" in a:
            last = (a["segment"] + 1, 0)
    if (end["segment"], end["step"]) < last:
        raise ScriptError(f"script 'end' {end!r} lies before its last action")
    return script


def _nonneg_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _apply_action(trainer: Trainer, action: dict[str, Any]) -> None:
    """Apply one recorded action now (at a step boundary: no step is running)."""
    if "set" in action:
        trainer.config.update(**action["set"])
    elif "reinit" in action:
        trainer.reinit(action["reinit"], **action.get("params", {})).result(60)
    elif "restore" in action:
        (trainer.restore_best if action["restore"] == "best" else trainer.restore_finite)()


def replay(script: Any, model: nn.Module | None = None, data: Any = None, val_data: Any = None,
           device: Any = None, **kw: Any) -> Trainer:
    """Build a trainer that replays ``script`` in the background up to the step it was taken at.

    ``wait()`` blocks until the replay is there; the trainer is then paused, and carries on like any other
    (its own script continues the replayed one). Pass ``model``/``data`` again when the run used your own.
    """
    from .config import TrainConfig
    from .trainer import Trainer

    script = check_script(script)
    if script.get("model_is_user") and model is None:
        raise ScriptError("this script was recorded with your own model: pass it again, replay(script, model=...)")
    if script.get("data_is_user") and data is None:
        raise ScriptError("this script was recorded on your own data: pass it again, replay(script, data=...)")
    config = TrainConfig.from_dict(script["config"])
    tr = Trainer(model=model, data=data, val_data=val_data, config=config,
                 device=script.get("device", "auto") if device is None else device, **kw)
    driver = threading.Thread(target=_drive, args=(tr, script), name="nbtrain-replay", daemon=True)
    tr._driver = driver
    driver.start()
    return tr


def _drive(tr: Trainer, script: dict[str, Any]) -> None:
    """The replay driver: per reset segment, queue that segment's actions as step hooks, run exactly its
    steps, apply what was done while paused at its last step, then reset as the run did."""
    try:
        actions = script["actions"]
        end = script["end"]
        for seg in range(end["segment"] + 1):
            mine = [a for a in actions if a["segment"] == seg]
            reset = next((a for a in mine if "reset" in a), None)
            steps = [a for a in mine if "reset" not in a]
            seg_end = reset["step"] if reset is not None else end["step"]
            for a in steps:
                tr._add_hook(a["step"], lambda t, a=a: _apply_action(t, a), barrier="nonfinite" in a)
            while tr.global_step < seg_end or tr._barrier_at(seg_end):
                if tr._closed:
                    return
                if tr.global_step > seg_end:
                    raise ScriptError(f"the replay passed step {seg_end} without the NaN/Inf pause its script had there")
                tr.step(max(seg_end - tr.global_step, 1))
                while tr.state == "running":
                    tr.wait(timeout=0.5)
                if tr.state == "error":
                    return
                if tr.state in ("finished", "stopped") and tr.global_step < seg_end:
                    raise ScriptError(f"the replay {tr.state} at step {tr.global_step} ({tr.message}); "
                                      f"the script goes on to step {seg_end}")
            with tr._cv:  # what the run did while paused at this segment's last step
                tr._run_hooks()
            if reset is not None:
                tr.reset(same_init=bool(reset["reset"]))
    except BaseException as exc:
        tr._driver_error = exc
    finally:
        with tr._cv:
            tr._cv.notify_all()


# ----------------------------------------------------------------------------------------------------
# scenes
# ----------------------------------------------------------------------------------------------------
@dataclass
class Cue:
    """One moment of a scene: at ``step`` (``None``: at a call of :meth:`ScenePlayer.next`) apply ``changes``
    (config fields), then ``reinit`` (``True`` = the config's initializer, or a scheme name), ``fork`` (a dict
    of changes for a branch) and ``pause``; carry ``note``."""

    step: int | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    reinit: bool | str = False
    pause: bool = False
    fork: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cue(step: int | None = None, *, note: str = "", reinit: bool | str = False, pause: bool = False,
        fork: dict[str, Any] | None = None, **changes: Any) -> Cue:
    """A scene's cue: ``cue(1500, activation="relu", reinit=True, note="...")``; config fields as keywords."""
    return Cue(step=step, changes=dict(changes), note=note, reinit=reinit, pause=pause, fork=fork)


class Scene:
    """A prepared lecture demo: an ordered list of cues (steps ascending; cues without a step anywhere).

    Checked when made: steps are integers ≥ 0 in ascending order, every change names a config field with a
    value the config accepts. Played on a trainer by :class:`ScenePlayer`.
    """

    def __init__(self, cues: list[Cue | dict[str, Any]], title: str = ""):
        from .config import TrainConfig

        self.title = str(title)
        self.cues: list[Cue] = [c if isinstance(c, Cue) else Cue(**c) for c in cues]
        last = -1
        fields = set(TrainConfig.field_names())
        probe = TrainConfig()
        for i, c in enumerate(self.cues):
            if c.step is not None:
                if not _nonneg_int(c.step):
                    raise ScriptError(f"cue {i}: step={c.step!r} must be an integer ≥ 0 or None (fired by ScenePlayer.next())")
                if c.step < last:
                    raise ScriptError(f"cue {i}: step {c.step} comes before the previous cue's step {last}")
                last = c.step
            unknown = sorted(set(c.changes) - fields)
            if unknown:
                raise ScriptError(f"cue {i}: {', '.join(unknown)} is not a config field; allowed: {', '.join(sorted(fields))}")
            if c.fork is not None:
                if not isinstance(c.fork, dict) or set(c.fork) - fields:
                    raise ScriptError(f"cue {i}: fork={c.fork!r} must be a dict of config fields")
            if not isinstance(c.note, str):
                raise ScriptError(f"cue {i}: note must be text, not {type(c.note).__name__}")
            for name, value in c.changes.items():  # each value alone must be one the config accepts
                probe.copy(**{name: value})

    def __iter__(self) -> Iterator[Cue]:
        return iter(self.cues)

    def __len__(self) -> int:
        return len(self.cues)

    def __getitem__(self, i: int) -> Cue:
        return self.cues[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scene) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Scene({len(self.cues)} cues{', ' + repr(self.title) if self.title else ''})"

    def to_dict(self) -> dict[str, Any]:
        return {"format": "nbtrain-scene/1", "title": self.title, "cues": [c.to_dict() for c in self.cues]}

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scene:
        if not isinstance(d, dict) or d.get("format") != "nbtrain-scene/1":
            raise ScriptError("not an nbtrain scene: expected a dict with format='nbtrain-scene/1'")
        return cls(d["cues"], title=d.get("title", ""))

    @classmethod
    def from_json(cls, s: str) -> Scene:
        return cls.from_dict(json.loads(s))


class ScenePlayer:
    """Plays a scene on a trainer: step cues fire at their step boundary on the training thread; cues without
    a step fire on :meth:`next`. ``current``, ``note`` and ``version`` say where the scene is."""

    def __init__(self, trainer: Trainer, scene: Scene, on_fork: Any = None):
        self.trainer = trainer
        self.scene = scene
        self.on_fork = on_fork  # called with (trainer, changes) for fork cues; default: trainer.fork
        self.current = -1  # index of the last cue that fired
        self.version = 0
        self.forks: list[Trainer] = []
        self._lock = threading.Lock()
        self._fired: set[int] = set()
        trainer.scene_player = self  # where nbtrain.kernel_comm's "cue" action finds it
        for i, c in enumerate(scene):
            if c.step is not None:
                trainer._add_hook(c.step, lambda t, i=i: self._fire(i))

    @property
    def note(self) -> str:
        return self.scene[self.current].note if self.current >= 0 else ""

    @property
    def next_index(self) -> int | None:
        """The next cue not yet fired, or None at the end."""
        for i in range(self.current + 1, len(self.scene)):
            if i not in self._fired:
                return i
        return None

    def next(self) -> int | None:
        """Fire the next cue now: at the next step boundary when running, at once when paused. A step cue fired
        early does not fire again at its step. Returns its index."""
        i = self.next_index
        if i is None:
            return None
        tr = self.trainer
        with tr._cv:
            if tr._busy:
                tr._add_hook(tr.global_step, lambda t, i=i: self._fire(i))
                return i
            self._fire(i)
        tr._notify()
        return i

    def _fire(self, i: int) -> None:
        with self._lock:
            if i in self._fired:
                return
            self._fired.add(i)
            for j in range(i):  # earlier cues are passed
                self._fired.add(j)
        c = self.scene[i]
        tr = self.trainer
        tr.metrics.log_event(tr.global_step, "cue", None, c.note or f"cue {i + 1}")
        if c.changes:
            tr.config.update(**c.changes)
        if c.reinit:
            tr.reinit(None if c.reinit is True else c.reinit)
        if c.fork is not None:
            fork = (self.on_fork or (lambda t, ch: t.fork(**ch)))(tr, dict(c.fork))
            if fork is not None:
                self.forks.append(fork)
        if c.pause:
            tr.pause()
        self.current = i
        self.version += 1


# ----------------------------------------------------------------------------------------------------
# forks
# ----------------------------------------------------------------------------------------------------
def fork(trainer: Trainer, *, start: bool | None = None, **changes: Any) -> Trainer:
    """A branch of ``trainer``: a new trainer starting from its current weights, optimizer state, schedule
    position, random state, data position and history (one step boundary's snapshot, taken through the
    checkpoint format so nothing is shared), with ``changes`` (config fields) applied before its first step.

    The branch runs alongside the original when the original is running (``start=None``), or stays paused.
    Its history holds the original's up to the fork, so both overlay on the same axes; ``branch.forked_from``
    says where it came from.
    """
    import copy
    import os
    import tempfile

    from .config import TrainConfig
    from .trainer import Trainer

    if changes:
        unknown = sorted(set(changes) - set(TrainConfig.field_names()))
        if unknown:
            raise ValueError(f"fork(): {', '.join(unknown)} is not a config field; allowed: "
                             f"{', '.join(TrainConfig.field_names())}")
        trainer.config.copy(**changes)  # refuse a bad value here, before anything is built
    running = trainer.state == "running"
    model = None
    if trainer.model_is_user:  # a fresh module of the same architecture; the checkpoint fills its weights
        model = trainer.submit(lambda m: copy.deepcopy(m).cpu()).result(60)
    with tempfile.TemporaryDirectory(prefix="nbtrain-fork-") as d:
        path = os.path.join(d, "fork.pt")
        trainer.save(path)
        branch = Trainer.load(path, model=model, data=trainer._user_data, val_data=trainer._user_val,
                              device=trainer.device)
    branch.forked_from = {"step": branch.global_step, "changes": dict(changes), "trainer": trainer}
    if changes:
        branch.config.update(**changes)
    if start or (start is None and running):
        branch.start()
    return branch


# ----------------------------------------------------------------------------------------------------
# the trainer's side: its script log and step hooks
# ----------------------------------------------------------------------------------------------------
class ScriptMixin:
    """The Trainer's script log (what :func:`make_script` reads) and its step hooks (what :func:`replay` and
    :class:`ScenePlayer` schedule): hooks run at a step boundary, on the training thread between two steps."""

    def _log_script(self, **entry: Any) -> None:
        self._script_log.append({"segment": self._segment, "step": self.global_step, **entry})

    def script(self) -> dict[str, Any]:
        """The run as plain JSON-able data: its config, seeds and every live change in the order it took
        effect with its step (reinit, restore and reset included). ``Trainer.replay(script)`` reproduces it."""
        return make_script(self)

    @classmethod
    def replay(cls, script: Any, model: nn.Module | None = None, data: Any = None, val_data: Any = None,
               device: Any = None, **kw: Any) -> Trainer:
        """A new trainer replaying ``script`` (from :meth:`script`) in the background up to the step it was
        taken at, bit for bit on the same device and library versions; ``wait()`` blocks until it is there."""
        return replay(script, model=model, data=data, val_data=val_data, device=device, **kw)

    def fork(self, *, start: bool | None = None, **changes: Any) -> Trainer:
        """A branch from this very step: same weights, optimizer state, RNG and data position, with
        ``changes`` (config fields) applied; it trains alongside when this run is running. See
        :func:`nbtrain.engine.script.fork`."""
        return fork(self, start=start, **changes)

    def at(self, step: int, fn: Callable[[Trainer], Any]) -> None:
        """Call ``fn(trainer)`` at the boundary before step ``step`` (at once-ish if it has passed): on the
        training thread between two steps, so config changes and commands made there apply before that
        step. What scenes are made of."""
        if isinstance(step, bool) or int(step) != step or step < 0:
            raise ValueError(f"at(step={step!r}): step must be an integer ≥ 0")
        self._add_hook(int(step), fn)

    def _add_hook(self, step: int, fn: Callable[[Trainer], Any], barrier: bool = False) -> None:
        with self._cv:
            bisect.insort(self._hooks, [step, next(self._hook_seq), fn, barrier])
            self._cv.notify_all()

    def _run_hooks(self) -> None:
        """Run the hooks due at this step (lock held, no step running). A barrier (a NaN/Inf pause the script
        went through) holds back the hooks after it until the replay meets that pause."""
        while self._hooks and self._hooks[0][0] <= self.global_step:
            step, _, fn, barrier = self._hooks[0]
            if barrier:
                if step < self.global_step:  # passed without meeting it: nothing left to hold back
                    self._hooks.pop(0)
                    continue
                return
            self._hooks.pop(0)
            self._call_unlocked(fn)

    def _call_unlocked(self, fn: Callable[[Trainer], Any]) -> None:
        """Run a step hook (a scene cue, a replayed change) at this boundary without holding our lock: it may
        change the config, whose lock comes before ours (an observer of a change takes ours), so holding ours
        while waiting for the config's could deadlock with another thread's change. The thread is not inside
        a step, so commands and changes from other threads meanwhile apply at once; the hook's own changes
        are applied before the next step."""
        self._in_hook = True  # pause() and wait() of other threads wait for the rest of this boundary
        self._cv.release()
        try:
            fn(self)
        finally:
            self._cv.acquire()
            self._in_hook = False
        self._drain_commands()

    def _barrier_at(self, step: int) -> bool:
        with self._cv:
            return bool(self._hooks) and self._hooks[0][3] and self._hooks[0][0] == step
