"""Subscribers: ``Trainer.subscribe(callback)`` gets an :class:`Update` (a small snapshot of the run, never the
model) on a dispatcher thread after steps — latest value only, never on the training thread. The kernel's comm
(``nbtrain.kernel_comm``) subscribes to the trainers it exposes, so that their changes wake its status thread."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

#: seconds between two progress updates at most (10 Hz: the Lab's publisher rate; a state change is told at once)
NOTIFY_EVERY = 0.1


@dataclass
class Update:
    """What subscribers receive: a small snapshot of the run (never the model itself)."""

    step: int
    epoch: float
    state: str
    loss: float
    lr: float
    message: str
    version: int


class SubscribeMixin:
    """The Trainer's subscribers and their dispatcher thread."""

    _notified_at = 0.0  # time.monotonic() of the last progress notification
    _progress_subscribers = 0  # subscribers that want progress (not only changes of state, settings or message)

    def subscribe(self, callback: Callable[[Update], None], progress: bool = True) -> Callable[[], None]:
        """Call ``callback(update)`` after steps, on a dispatcher thread (latest value only, never on the
        training thread). ``progress=False``: only when the state, the settings or the message change (a run's
        steps alone wake nobody: a subscriber that polls while a run goes on, like the kernel's comm, needs no
        more, and each wake-up takes the GIL from the training thread). Returns a function that unsubscribes."""
        with self._cv:
            self._subscribers.append(callback)
            self._progress_subscribers += bool(progress)
            if self._dispatcher is None or not self._dispatcher.is_alive():
                self._dispatcher = threading.Thread(target=_dispatch_thread, args=(weakref.ref(self), self._dispatch_event),
                                                    name="nbtrain-dispatch", daemon=True)
                self._dispatcher.start()

        def unsubscribe() -> None:
            with self._cv:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
                    self._progress_subscribers -= bool(progress)

        return unsubscribe

    def _notify(self, progress: bool = False) -> None:
        """Wake the dispatcher: always for a change of state or settings; for ``progress`` (a chunk of steps
        done) at most every NOTIFY_EVERY seconds — the next chunk's end, or the dispatcher's own timeout,
        tells what a skipped one would have."""
        if self._subscribers:
            if progress:
                if not self._progress_subscribers:
                    return
                now = time.monotonic()
                if now - self._notified_at < NOTIFY_EVERY:
                    return
                self._notified_at = now
            self._dispatch_event.set()

    def _update(self) -> Update:
        h = self.metrics
        return Update(self.global_step, self.epoch, self._state, h.last("train_loss"), h.last("lr"), self.message, h.version)


def _dispatch_thread(ref: weakref.ReferenceType[Trainer], event: threading.Event) -> None:
    last: tuple = ()
    while True:
        event.wait(0.5)
        event.clear()
        trainer = ref()
        if trainer is None or trainer._closed:
            return
        subs = list(trainer._subscribers)
        update = trainer._update()
        del trainer
        if (update.version, update.state, update.message) == last:
            continue  # woken, but nothing new to tell
        last = (update.version, update.state, update.message)
        for cb in subs:
            try:
                cb(update)
            except Exception:  # a broken subscriber must not stop the others
                pass

