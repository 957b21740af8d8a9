"""nbtrain.ui.iopub: a publish's messages reach the kernel's IOPub thread as one job, in order, and only the
batched thread's messages wait; outside a kernel nothing changes."""

import threading
import types

import pytest

from nbtrain.ui import iopub


class FakeIOPubThread:
    """What ipykernel's IOPubThread offers: send_multipart queues a job per message; schedule runs one later."""

    def __init__(self):
        self.jobs = []
        self.sent = []

    def schedule(self, f):
        self.jobs.append(f)

    def send_multipart(self, *args, **kwargs):
        self.schedule(lambda: self._really_send(*args, **kwargs))

    def _really_send(self, msg, *args, **kwargs):
        self.sent.append(msg)

    def run_jobs(self):
        jobs, self.jobs = self.jobs, []
        for f in jobs:
            f()


@pytest.fixture
def io(monkeypatch):
    import IPython

    fake = FakeIOPubThread()
    shell = types.SimpleNamespace(kernel=types.SimpleNamespace(iopub_thread=fake))
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    return fake


def test_the_messages_of_a_batched_block_go_as_one_job_in_order(io):
    with iopub.batched():
        for i in range(5):
            io.send_multipart([f"m{i}"])
        assert io.jobs == [] and io.sent == []  # held until the block ends
    assert len(io.jobs) == 1
    io.run_jobs()
    assert io.sent == [["m0"], ["m1"], ["m2"], ["m3"], ["m4"]]


def test_other_threads_and_unbatched_code_send_at_once(io):
    with iopub.batched():
        t = threading.Thread(target=lambda: io.send_multipart(["other"]))
        t.start()
        t.join()
        assert len(io.jobs) == 1  # the other thread's message was not held
        io.send_multipart(["mine"])
    io.send_multipart(["after"])
    io.run_jobs()
    assert io.sent == [["other"], ["mine"], ["after"]]


def test_a_block_that_raises_still_sends_what_it_queued_and_nested_blocks_join(io):
    with pytest.raises(RuntimeError):
        with iopub.batched():
            io.send_multipart(["a"])
            with iopub.batched():
                io.send_multipart(["b"])
            assert io.jobs == []  # the inner block joined the outer one
            raise RuntimeError("boom")
    assert len(io.jobs) == 1
    io.run_jobs()
    assert io.sent == [["a"], ["b"]]


def test_an_iopub_thread_without_what_batching_needs_is_left_alone(monkeypatch):
    import IPython

    class Other:
        def __init__(self):
            self.sent = []

        def send_multipart(self, msg):
            self.sent.append(msg)

    other = Other()
    shell = types.SimpleNamespace(kernel=types.SimpleNamespace(iopub_thread=other))
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    with iopub.batched():
        other.send_multipart(["x"])
        assert other.sent == [["x"]]
    assert not hasattr(other, "_nbtrain_batching")
