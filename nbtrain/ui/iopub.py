"""A publish's widget messages handed to the kernel's IOPub thread in one batch.

In an IPython kernel (ipykernel) every widget message is queued for the IOPub thread, which wakes up once per
message to send it. Each wake-up takes the GIL, and each time the training thread finds the GIL taken it waits
for it and then for the operating system to wake it up again: on a small virtual machine that wait, not the
sending, is most of what a live view costs a run. :func:`batched` collects the messages a block of code sends
(in the calling thread only) and hands them over when the block ends, as one job that sends them in order: one
wake-up per publish instead of one per widget. The messages and their order are the same.

Outside ipykernel, or with an ipykernel whose IOPub thread lacks what this relies on (``send_multipart``,
``schedule``, ``_really_send``), :func:`batched` does nothing and messages go one by one as before.

>>> with batched():  # outside a kernel: a no-op
...     pass
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_local = threading.local()  # .batch: (io thread, [(args, kwargs), ...]) while a block of this thread is batched
_NEEDS = ("send_multipart", "schedule", "_really_send")


def _io_thread() -> Any:
    """The running kernel's IOPub thread, or None (no ipykernel, or one this module does not know)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    io = getattr(getattr(shell, "kernel", None), "iopub_thread", None)
    if io is None or not all(callable(getattr(io, name, None)) for name in _NEEDS):
        return None
    return io


def _install(io: Any) -> None:
    """Wrap ``io.send_multipart`` (once): a batched thread's messages are kept, every other call goes through."""
    if getattr(io, "_nbtrain_batching", False):
        return
    original = io.send_multipart

    def send_multipart(*args: Any, **kwargs: Any) -> Any:
        batch = getattr(_local, "batch", None)
        if batch is None or batch[0] is not io:
            return original(*args, **kwargs)
        batch[1].append((args, kwargs))
        return None

    io.send_multipart = send_multipart
    io._nbtrain_batching = True


@contextmanager
def batched() -> Iterator[None]:
    """Hand the messages this thread sends inside the block to the IOPub thread in one job when it ends (also when
    it raises). Nested blocks join the outer one."""
    io = _io_thread()
    if io is None or getattr(_local, "batch", None) is not None:
        yield
        return
    _install(io)
    messages: list[tuple[tuple, dict]] = []
    _local.batch = (io, messages)
    try:
        yield
    finally:
        _local.batch = None
        if messages:
            def send_all() -> None:
                for args, kwargs in messages:
                    io._really_send(*args, **kwargs)

            io.schedule(send_all)
