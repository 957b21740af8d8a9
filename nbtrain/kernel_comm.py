"""The kernel side of the ``nbtrain`` Jupyter comm target, which nbtrain's JupyterLab extension talks to.

The extension's lecture keys, status bar item and click-to-pause reach the trainers of a notebook's kernel
through this comm only (no HTTP endpoint: the server's own authentication covers everything). Without the
extension nothing here is used, and outside a Jupyter kernel :func:`register` does nothing.

Protocol (version 1; ``labextension/src/protocol.ts`` mirrors it):

- front end → kernel: ``{"action": A, "n": int?, "same_init": bool?, "trainer": id?}`` with ``A`` one of
  ``hello``, ``status``, ``toggle``, ``start``, ``resume``, ``pause``, ``step``, ``reset``, ``reinit``, ``cue``
  (the next cue of the scene a Lab plays on that trainer; without ``trainer``: the newest one playing a scene).
  Each action (except ``hello``/``status``) gets one ``{"type": "reply", "action", "ok", "error"?, "trainer"?}``.
- kernel → front end: ``{"type": "status", "protocol": 1, "trainers": [...], "focus": id | None}``, sent when
  it changed and never more often than every :data:`INTERVAL` seconds (4 Hz), by one daemon thread that
  only reads trainer attributes and never prints. That thread is woken by the exposed trainers themselves
  (:meth:`Trainer.subscribe <nbtrain.engine.trainer.Trainer.subscribe>`) and by front-end messages; it reads
  the status every :data:`INTERVAL` only while one of them is running, else every :data:`IDLE_INTERVAL`.

Actions without ``trainer`` address the *focus*: the newest running trainer, else the newest paused one,
else the newest (at each rank one shown in a Lab first). This module imports nothing heavy: it looks trainers up only when the engine is loaded.

Served notebooks (a visitor's page can open comms too): the target is not registered under Voilà unless
the server's owner sets ``NBTRAIN_VOILA_COMM=1`` (:func:`nbtrain.serving.comm_allowed`); it accepts at
most :data:`MAX_CHANNELS` open comms (more are closed at once); status goes only to comms that said
``hello`` (or that the kernel opened itself); only trainers of a displayed ``Lab`` (or ones passed to
:func:`expose`) are listed or addressed — a headless ``Trainer`` of the notebook's code cannot be reset
or stepped from the page; messages carry no server paths (:func:`nbtrain.serving.visitor_text`).

>>> register()  # outside a kernel: a no-op
False
>>> describe_action({"action": "step", "n": 5})
'step 5'
"""

from __future__ import annotations

import math
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from .serving import comm_allowed, visitor_text

TARGET = "nbtrain"
PROTOCOL = 1
INTERVAL = 0.25  # seconds between two status messages at most: ≤ 4 Hz
IDLE_INTERVAL = 1.0  # no trainer running: the status is read again after this long unless a trainer says it changed
ACTIONS = ("hello", "status", "toggle", "start", "resume", "pause", "step", "reset", "reinit", "cue")
MAX_STEP = 1_000_000
MAX_CHANNELS = 8  # open comms per kernel; a front end keeps one, more are refused

_ids: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_exposed: weakref.WeakSet[Any] = weakref.WeakSet()  # trainers the front end may see and drive
_subscribed: weakref.WeakSet[Any] = weakref.WeakSet()  # trainers whose updates wake the channels
_channels: weakref.WeakSet[Channel] = weakref.WeakSet()  # every open Channel (the kernel's, tests' own)
_next_id = [0]
_lock = threading.Lock()
_channel: Channel | None = None


def describe_action(msg: dict[str, Any]) -> str:
    """A short text for a front-end message (logs, errors)."""
    action = msg.get("action")
    return f"{action} {msg['n']}" if action == "step" and "n" in msg else str(action)


def _kernel() -> Any:
    """The running IPython kernel, or None (plain Python, IPython terminal, not yet started)."""
    if "ipykernel" not in sys.modules:
        return None
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel depends on IPython
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None)


def expose(trainer: Any) -> None:
    """Let the front end (status bar, transport keys) see and drive ``trainer``; a displayed ``Lab`` does this
    for its own trainer. Trainers never exposed are invisible to the comm."""
    with _lock:
        _exposed.add(trainer)
        subscribe = getattr(trainer, "subscribe", None) if trainer not in _subscribed else None
        if subscribe is not None:
            _subscribed.add(trainer)
    if subscribe is not None:
        # for the trainer's life (after unexpose() an update finds nothing new to send); changes only: while a
        # trainer runs the status thread reads it every INTERVAL anyway
        subscribe(_on_update, progress=False)
    _wake_channels()


def unexpose(trainer: Any) -> None:
    """Undo :func:`expose` (``Lab.close()``)."""
    with _lock:
        _exposed.discard(trainer)
    _wake_channels()


def _on_update(_update: Any) -> None:
    """An exposed trainer's subscriber (on its dispatcher thread): its state, message or history changed."""
    _wake_channels()


def _wake_channels() -> None:
    for ch in list(_channels):
        ch.wake(changed=True)


def live_trainers() -> list[Any]:
    """This process's live, exposed trainers, oldest first — without importing the engine (and torch) if unused."""
    mod = sys.modules.get("nbtrain.engine.trainer")
    if mod is None:
        return []
    with _lock:
        exposed = set(map(id, _exposed))
    return [t for t in mod.live_trainers() if id(t) in exposed]


def trainer_id(trainer: Any) -> str:
    """A short id, stable for the trainer's life ("1", "2", ...)."""
    with _lock:
        tid = _ids.get(trainer)
        if tid is None:
            _next_id[0] += 1
            tid = _ids[trainer] = str(_next_id[0])
        return tid


def has_view(trainer: Any) -> bool:
    """True while a Lab shows ``trainer`` (the Lab adds itself to ``trainer._nbtrain_views``, a WeakSet)."""
    views = getattr(trainer, "_nbtrain_views", None)
    return bool(views) and any(not getattr(v, "_closed", False) for v in list(views))


def pick(trainers: list[Any]) -> Any:
    """The trainer an action without ``trainer`` addresses (and the status bar shows): the newest running,
    else the newest paused, else the newest — at each rank one shown in a Lab first (after run-all the
    instrument on screen, not a comparison's finished helper run, is the one people steer)."""
    for wanted in ("running", "paused", None):
        for lab_only in (True, False):
            for t in reversed(trainers):
                if (wanted is None or t.state == wanted) and (not lab_only or has_view(t)):
                    return t
    return None


def describe(trainer: Any) -> dict[str, Any]:
    """The JSON-safe status of one trainer (a non-finite loss is sent as text: JSON has no NaN)."""
    loss = trainer.metrics.last("train_loss")
    finite = loss is not None and math.isfinite(loss)
    data = getattr(getattr(trainer, "data", None), "name", "") or ""
    model = type(getattr(trainer, "model", None)).__name__
    return {
        "id": trainer_id(trainer),
        "state": trainer.state,
        "step": int(trainer.global_step),
        "max_steps": getattr(trainer.config, "max_steps", None),
        "epoch": round(float(trainer.epoch), 4),
        "loss": float(loss) if finite else None,
        "loss_text": "" if finite or trainer.global_step == 0 else str(loss),
        "device": str(trainer.device),
        "message": visitor_text(trainer.message or ""),
        "label": visitor_text(f"{model} on {data}" if data else model, 120),
    }


def status() -> dict[str, Any]:
    """The status message for every live trainer of this kernel."""
    trainers = live_trainers()
    focus = pick(trainers)
    return {"type": "status", "protocol": PROTOCOL, "trainers": [describe(t) for t in trainers],
            "focus": trainer_id(focus) if focus is not None else None}


def perform(msg: dict[str, Any]) -> dict[str, Any]:
    """Carry out one front-end action on a trainer; returns the reply (never raises)."""
    action = msg.get("action") if isinstance(msg, dict) else None
    reply: dict[str, Any] = {"type": "reply", "action": action, "ok": False}
    if action not in ACTIONS:
        reply["action"] = visitor_text(repr(action), 80) if action is not None else None
        reply["error"] = visitor_text(f"unknown action {action!r}; allowed: {', '.join(ACTIONS)}")
        return reply
    if action in ("hello", "status"):
        reply["ok"] = True
        return reply
    trainers = live_trainers()
    wanted = msg.get("trainer")
    if wanted is not None:
        target = next((t for t in trainers if trainer_id(t) == str(wanted)), None)
    elif action == "cue":  # the trainer a scene plays on, not a fork that happens to be newer
        target = next((t for t in reversed(trainers) if getattr(t, "scene_player", None) is not None), None)
        if target is None:
            reply["error"] = "no Lab in this kernel is playing a scene (lab.play(scene))"
            return reply
    else:
        target = pick(trainers)
    if target is None:
        reply["error"] = visitor_text(f"no live trainer with id {wanted!r}" if wanted is not None
                                      else "no live trainer in this kernel", 120)
        return reply
    reply["trainer"] = trainer_id(target)
    try:
        if action == "toggle":
            action = "pause" if target.state == "running" else "start"
            reply["did"] = action
        if action in ("start", "resume"):
            target.start()
        elif action == "pause":
            target.pause()
        elif action == "step":
            n = msg.get("n", 1)
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_STEP:
                raise ValueError(f"step n={n!r} must be an integer from 1 to {MAX_STEP}")
            target.step(n)
        elif action == "reset":
            target.reset(same_init=bool(msg.get("same_init", False)))
        elif action == "reinit":
            target.reinit()
        elif action == "cue":
            player = getattr(target, "scene_player", None)
            if player is None:
                raise RuntimeError("no scene is playing on this trainer (lab.play(scene))")
            if player.next() is None:
                raise RuntimeError("the scene has no more cues")
        reply["ok"] = True
    except Exception as exc:  # the reply carries it; the kernel must not die on a front-end message
        reply["error"] = visitor_text(f"{describe_action(msg)}: {type(exc).__name__}: {exc}")
    return reply


class Channel:
    """The open comms of this kernel and the one thread that sends them status at a bounded rate.

    ``status_fn`` and ``clock`` are injectable for tests.
    """

    def __init__(self, interval: float = INTERVAL, status_fn: Callable[[], dict[str, Any]] = status,
                 clock: Callable[[], float] = time.monotonic):
        self.interval = float(interval)
        self._status_fn = status_fn
        self._clock = clock
        self._comms: dict[str, Any] = {}
        self._hello: set[str] = set()  # comm ids that said hello (or that the kernel opened): they get status
        self.refused = 0  # comms closed because MAX_CHANNELS were open
        self._cv = threading.Condition()
        self._force = False
        self._changed = False  # a trainer said its status changed: send once the interval allows
        self._active = False  # the last status had a running trainer (its step moves between updates)
        self._thread: threading.Thread | None = None
        self._last: dict[str, Any] | None = None
        self._last_t = -math.inf
        self.sent = 0  # status messages sent (tests)
        _channels.add(self)

    # ---- comms ----------------------------------------------------------------------------------------
    def on_open(self, comm: Any, msg: dict[str, Any]) -> None:
        """Comm target callback: a front end opened a comm to ``nbtrain``."""
        if not self.add(comm):
            return
        data = (msg.get("content") or {}).get("data") or {}
        self.handle(comm, data)

    def add(self, comm: Any, hello: bool = False) -> bool:
        """Adopt ``comm`` (False, and the comm closed, when :data:`MAX_CHANNELS` are open already)."""
        with self._cv:
            full = comm.comm_id not in self._comms and len(self._comms) >= MAX_CHANNELS
            if not full:
                self._comms[comm.comm_id] = comm
                if hello:
                    self._hello.add(comm.comm_id)
        if full:
            self.refused += 1
            try:
                comm.close()
            except Exception:
                pass
            return False
        comm.on_msg(lambda m, c=comm: self.handle(c, (m.get("content") or {}).get("data") or {}))
        comm.on_close(lambda _m, c=comm: self.remove(c))
        self.wake(force=True)
        return True

    def remove(self, comm: Any) -> None:
        with self._cv:
            self._comms.pop(comm.comm_id, None)
            self._hello.discard(comm.comm_id)
            self._cv.notify_all()

    @property
    def comms(self) -> list[Any]:
        with self._cv:
            return list(self._comms.values())

    @property
    def listeners(self) -> list[Any]:
        """The comms that get status messages: those that said hello (or that the kernel opened)."""
        with self._cv:
            return [c for k, c in self._comms.items() if k in self._hello]

    def handle(self, comm: Any, data: dict[str, Any]) -> None:
        """One front-end message: act, reply to that comm, and let the status follow soon."""
        if not isinstance(data, dict) or not data.get("action"):
            return
        if data.get("action") == "hello":
            with self._cv:
                if comm.comm_id in self._comms:
                    self._hello.add(comm.comm_id)
        reply = perform(data)
        if data.get("action") not in ("hello", "status"):
            self._send(comm, reply)
        self.wake(force=True)

    def announce(self) -> None:
        """Open a comm to the front end (``import nbtrain`` in a kernel): the extension adopts it at once."""
        from comm import create_comm

        comm = create_comm(target_name=TARGET, data=self._status_fn())
        self.add(comm, hello=True)

    # ---- status ---------------------------------------------------------------------------------------
    def wake(self, force: bool = False, changed: bool = False) -> None:
        """Ask for a status soon (still no sooner than ``interval`` after the last one): ``force`` sends it even
        if it did not change; ``changed`` (a trainer's update) reads it as soon as the interval allows."""
        with self._cv:
            self._force = self._force or force
            self._changed = self._changed or changed
            if self._comms and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name="nbtrain-comm-status", daemon=True)
                self._thread.start()
            self._cv.notify_all()

    def tick(self) -> bool:
        """Send the status if it changed (or was asked for) and the interval has passed; True if sent."""
        now = self._clock()
        if now - self._last_t < self.interval:
            return False
        with self._cv:
            force, self._force = self._force, False
            self._changed = False
        snapshot = self._status_fn()
        trainers = snapshot.get("trainers") if isinstance(snapshot, dict) else None
        self._active = any(isinstance(t, dict) and t.get("state") == "running" for t in trainers or ())
        if snapshot == self._last and not force:
            return False
        for comm in self.listeners:
            self._send(comm, snapshot)
        self._last, self._last_t = snapshot, now
        self.sent += 1
        return True

    def _run(self) -> None:
        while True:
            with self._cv:
                if not self._comms:
                    self._thread = None
                    return
                wait = max(self.interval - (self._clock() - self._last_t), 0.0)
                if self._changed:
                    pass  # as soon as the interval allows
                elif not self._force:
                    wait = max(wait, self.interval if self._active else IDLE_INTERVAL)
                self._cv.wait(wait)
                if not self._comms:
                    self._thread = None
                    return
            try:
                self.tick()
            except Exception:  # a trainer closing mid-read must not end the channel
                time.sleep(self.interval)

    def _send(self, comm: Any, data: dict[str, Any]) -> None:
        try:
            comm.send(data)
        except Exception:  # a comm the front end closed meanwhile
            self.remove(comm)

    def close(self) -> None:
        for comm in self.comms:
            try:
                comm.close()
            except Exception:
                pass
            self.remove(comm)


def register(announce: bool = False) -> bool:
    """Register the ``nbtrain`` comm target on this kernel's comm manager (once). The extension opens the
    comm (when it attaches to the kernel, and after an execution that imports nbtrain), so a front end
    without the extension never sees one; ``announce=True`` also opens one from the kernel. Returns False,
    doing nothing, outside a Jupyter kernel and under Voilà
    unless ``NBTRAIN_VOILA_COMM=1`` (:func:`nbtrain.serving.comm_allowed`)."""
    global _channel
    kernel = _kernel()
    if kernel is None or not comm_allowed():
        return False
    with _lock:
        if _channel is not None:
            return True
        _channel = Channel()
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:
        from comm import get_comm_manager

        manager = get_comm_manager()
    manager.register_target(TARGET, _channel.on_open)
    if announce:
        try:
            _channel.announce()
        except Exception:  # a front end that cannot take comms: the target still answers later opens
            pass
    return True


def channel() -> Channel | None:
    """The kernel's channel once :func:`register` ran in a kernel, else None."""
    return _channel
