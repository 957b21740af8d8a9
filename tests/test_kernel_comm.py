"""The kernel side of the ``nbtrain`` comm target (nbtrain/kernel_comm.py): messages in → trainer actions,
status out at a bounded rate (≤ 4 Hz, only on change), a no-op outside a kernel — first with fake comms
in this process, then over a real ipykernel with jupyter_client speaking the wire protocol."""

from __future__ import annotations

import math
import queue
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from nbtrain import kernel_comm as kc
from nbtrain.engine.trainer import Trainer


class FakeComm:
    """What ipykernel's Comm offers the channel: comm_id, send, on_msg, on_close, close."""

    def __init__(self, comm_id: str = "c1"):
        self.comm_id = comm_id
        self.sent: list[tuple[float, dict]] = []
        self._on_msg = self._on_close = None
        self.lock = threading.Lock()

    def send(self, data):
        with self.lock:
            self.sent.append((time.monotonic(), data))

    def on_msg(self, cb):
        self._on_msg = cb

    def on_close(self, cb):
        self._on_close = cb

    def close(self):
        if self._on_close:
            self._on_close({})

    def deliver(self, data):
        self._on_msg({"content": {"data": data}})

    def of_type(self, kind):
        with self.lock:
            return [(t, d) for t, d in self.sent if d.get("type") == kind]


@pytest.fixture
def trainer():
    t = Trainer(data="spiral", hidden=[8], max_steps=10**7, n_samples=200, seed=0)
    kc.expose(t)  # what a displayed Lab does for its trainer
    yield t
    t.close()


@pytest.fixture
def channel():
    ch = kc.Channel()
    yield ch
    ch.close()


def wait_for(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_register_outside_a_kernel_is_a_noop_and_import_stays_cheap():
    code = ("import sys, nbtrain; from nbtrain import kernel_comm as k; "
            "print(k.register(), k.channel(), 'ipykernel' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "None", "False", "False"]


def test_actions_drive_the_focused_trainer(trainer, channel):
    comm = FakeComm()
    channel.add(comm)
    replies = lambda: [d for _, d in comm.of_type("reply")]  # noqa: E731

    comm.deliver({"action": "start"})
    assert trainer.state == "running"
    comm.deliver({"action": "pause"})
    assert trainer.state == "paused"
    step = trainer.global_step
    comm.deliver({"action": "step", "n": 7})
    assert trainer.wait() == "paused" and trainer.global_step == step + 7
    comm.deliver({"action": "toggle"})
    assert trainer.state == "running"
    comm.deliver({"action": "toggle"})
    assert trainer.state == "paused"
    comm.deliver({"action": "reinit"})
    trainer.step(1)
    trainer.wait()
    assert any(e["field"] == "reinit" for e in trainer.metrics.events)
    comm.deliver({"action": "reset"})
    assert trainer.global_step == 0 and trainer.state == "idle"

    got = replies()
    assert [r["action"] for r in got] == ["start", "pause", "step", "toggle", "toggle", "reinit", "reset"]
    assert all(r["ok"] and r["trainer"] == kc.trainer_id(trainer) for r in got)
    assert [r.get("did") for r in got if r["action"] == "toggle"] == ["start", "pause"]


def test_bad_messages_get_error_replies_and_never_raise(channel):
    comm = FakeComm()
    channel.add(comm)
    for msg in ({"action": "explode"}, {"action": "start"}, {"action": "start", "trainer": "999"}):
        comm.deliver(msg)
    t = Trainer(data="spiral", hidden=[4], max_steps=100, n_samples=100)
    kc.expose(t)
    try:
        comm.deliver({"action": "step", "n": 0})
        comm.deliver({"action": "step", "n": "5"})
        comm.deliver({"action": "step", "n": True})
    finally:
        t.close()
    comm.deliver({"no": "action"})  # ignored: not a protocol message
    errors = [d["error"] for _, d in comm.of_type("reply")]
    assert len(errors) == 6 and not any(d["ok"] for _, d in comm.of_type("reply"))
    assert "unknown action 'explode'" in errors[0] and "allowed:" in errors[0]
    assert errors[1] == "no live trainer in this kernel"
    assert errors[2] == "no live trainer with id '999'"
    assert all("must be an integer from 1 to" in e for e in errors[3:])


def test_status_is_rate_bounded_and_sent_only_on_change(trainer, channel):
    comm = FakeComm()
    channel.add(comm)
    comm.deliver({"action": "hello"})
    trainer.start()
    time.sleep(2.0)  # the observation window itself: how many statuses does 2 s of training produce?
    trainer.pause()
    statuses = comm.of_type("status")
    times = [t for t, _ in statuses]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert 4 <= len(statuses) <= 2.0 / kc.INTERVAL + 3, len(statuses)
    assert min(gaps) >= kc.INTERVAL - 0.02, gaps
    steps = [d["trainers"][0]["step"] for _, d in statuses if d["trainers"]]
    assert steps == sorted(steps) and steps[-1] > steps[0]

    # paused: one status says so, then nothing while nothing changes
    wait_for(lambda: comm.of_type("status")[-1][1]["trainers"][0]["state"] == "paused")
    time.sleep(2 * kc.INTERVAL)  # (under load the last step's numbers may still follow the state by one status)
    n = len(comm.of_type("status"))
    time.sleep(4 * kc.INTERVAL)
    assert len(comm.of_type("status")) == n


def test_status_payload_is_json_safe():
    class FakeTrainer(SimpleNamespace):  # weakly referenced and hashed by identity, like a Trainer
        __hash__ = object.__hash__

    nan_trainer = FakeTrainer(
        state="paused", global_step=12, epoch=1.23456, device="cpu", message="loss became nan",
        config=SimpleNamespace(max_steps=100), metrics=SimpleNamespace(last=lambda _c: math.nan),
        data=SimpleNamespace(name="spiral"), model=None)
    d = kc.describe(nan_trainer)
    assert d["loss"] is None and d["loss_text"] == "nan" and d["state"] == "paused" and d["step"] == 12
    assert d["max_steps"] == 100 and d["epoch"] == 1.2346 and d["device"] == "cpu"
    assert d["label"] == "NoneType on spiral" and d["message"] == "loss became nan"


def test_focus_is_newest_running_then_paused_then_newest():
    mk = lambda s: SimpleNamespace(state=s)  # noqa: E731
    a, b, c, d = mk("running"), mk("paused"), mk("finished"), mk("running")
    assert kc.pick([a, b, c, d]) is d
    assert kc.pick([a, b, c]) is a
    assert kc.pick([b, c]) is b
    assert kc.pick([c]) is c
    assert kc.pick([]) is None


# ---- over a real kernel --------------------------------------------------------------------------------
@pytest.fixture
def kernel():
    from jupyter_client.manager import start_new_kernel

    km, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)


def _comm_messages(client, until, timeout=20.0):
    """Read iopub until ``until(msgs)`` holds; returns the comm messages seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while not until(seen):
        try:
            msg = client.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            raise AssertionError(f"timed out; comm messages so far: {seen[-5:]}") from None
        if msg["msg_type"] in ("comm_open", "comm_msg", "comm_close"):
            seen.append(msg)
    return seen


def _send(client, msg_type, content):
    client.shell_channel.send(client.session.msg(msg_type, content))


@pytest.mark.timeout(120)
def test_the_kernel_opens_no_comm_and_answers_the_front_ends_over_the_wire(kernel):
    kernel.execute("import nbtrain")
    reply = kernel.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "ok"
    # a front end without nbtrain's extension would refuse (and log) a comm the kernel opened: none is
    try:
        while True:
            msg = kernel.get_iopub_msg(timeout=1.0)
            assert msg["msg_type"] != "comm_open", msg["content"]
    except queue.Empty:
        pass

    # the extension opens its comm to the target (after the execution that imported nbtrain)
    kernel.execute("import nbtrain as nt\nt = nt.Trainer(data='spiral', hidden=[8], max_steps=10**7, n_samples=200)\n"
                   "nt.kernel_comm.expose(t)  # as a displayed Lab does")
    _send(kernel, "comm_open", {"comm_id": "front-1", "target_name": "nbtrain", "data": {"action": "hello"}})
    first = _comm_messages(kernel, lambda m: any(x["content"].get("comm_id") == "front-1" for x in m))
    hello = [x for x in first if x["content"].get("comm_id") == "front-1"][0]["content"]["data"]
    assert hello["type"] == "status" and hello["trainers"][0]["state"] == "idle"

    _send(kernel, "comm_msg", {"comm_id": "front-1", "data": {"action": "toggle"}})

    def running_for_a_while(msgs):
        states = [x["content"]["data"] for x in msgs if x["content"].get("comm_id") == "front-1"
                  and x["content"].get("data", {}).get("type") == "status" and x["content"]["data"]["trainers"]]
        running = [s for s in states if s["trainers"][0]["state"] == "running"]
        return len(running) >= 5

    msgs = _comm_messages(kernel, running_for_a_while)
    mine = [x for x in msgs if x["content"].get("comm_id") == "front-1"]
    reply = next(x["content"]["data"] for x in mine if x["content"]["data"].get("type") == "reply")
    assert reply == {"type": "reply", "action": "toggle", "ok": True, "trainer": reply["trainer"], "did": "start"}
    statuses = [x for x in mine if x["content"]["data"].get("type") == "status"]
    dates = [x["header"]["date"] for x in statuses]
    gaps = [(b - a).total_seconds() for a, b in zip(dates, dates[1:])]
    assert min(gaps) >= kc.INTERVAL - 0.02, gaps  # ≤ 4 Hz on the wire too
    steps = [x["content"]["data"]["trainers"][0]["step"] for x in statuses]
    assert steps == sorted(steps) and steps[-1] > steps[0]
    assert statuses[-1]["content"]["data"]["trainers"][0]["device"] == "cpu"

    _send(kernel, "comm_msg", {"comm_id": "front-1", "data": {"action": "pause"}})
    _comm_messages(kernel, lambda m: any(x["content"].get("data", {}).get("type") == "status"
                                         and x["content"]["data"]["trainers"][0]["state"] == "paused" for x in m))


def test_cue_action_fires_the_next_cue_of_the_scene_being_played(trainer, channel):
    import nbtrain as nt
    from nbtrain.engine.script import ScenePlayer

    comm = FakeComm()
    channel.add(comm)
    comm.deliver({"action": "cue"})
    assert "no Lab in this kernel is playing a scene" in comm.of_type("reply")[-1][1]["error"]
    player = ScenePlayer(trainer, nt.Scene([nt.cue(None, lr=0.02, note="a"), nt.cue(None, lr=0.03, note="b")]))
    newer = Trainer(data="spiral", hidden=[8], n_samples=200, seed=1)  # newer, but plays no scene
    try:
        comm.deliver({"action": "cue"})
        assert comm.of_type("reply")[-1][1]["ok"] and trainer.config.lr == 0.02 and player.note == "a"
        comm.deliver({"action": "cue"})
        comm.deliver({"action": "cue"})
        last = comm.of_type("reply")[-1][1]
        assert trainer.config.lr == 0.03 and not last["ok"] and "no more cues" in last["error"]
        assert newer.config.lr == 0.1
    finally:
        newer.close()


def test_focus_prefers_a_trainer_shown_in_a_lab_at_each_rank():
    """After run-all every trainer has finished: the status bar follows the Lab's trainer, not the newest
    helper run of a comparison; a running trainer still beats a finished Lab, and a closed Lab counts not."""
    import nbtrain as nt

    lab = nt.Lab(data="xor", hidden=[4], max_steps=5)
    helpers = [nt.Trainer(data="xor", hidden=[4], max_steps=5) for _ in range(2)]
    try:
        trainers = [lab.trainer, *helpers]
        assert kc.has_view(lab.trainer) and not kc.has_view(helpers[0])
        assert kc.pick(trainers) is lab.trainer  # all idle: the Lab's
        helpers[0].start().wait()
        lab.start().wait()
        assert kc.pick(trainers) is lab.trainer  # all finished (the quickstart after run-all)
        helpers[1].config.max_steps = None
        helpers[1].start()
        assert kc.pick(trainers) is helpers[1]  # what runs comes first
        helpers[1].pause()
        assert kc.pick(trainers) is helpers[1]  # then what is paused
        lab.close()
        helpers[1].stop()
        assert not kc.has_view(lab.trainer) and kc.pick(trainers) is helpers[1]  # newest, no Lab left
    finally:
        lab.close()
        for t in (lab.trainer, *helpers):
            t.close()


# ---- served notebooks: what a visitor's page can reach ------------------------------------------------------
def test_headless_trainers_are_invisible_and_unaddressable(channel):
    hidden = Trainer(data="spiral", hidden=[4], max_steps=100, n_samples=100)
    try:
        comm = FakeComm()
        channel.add(comm)
        comm.deliver({"action": "hello"})
        for msg in ({"action": "reset"}, {"action": "step", "n": 5}, {"action": "start", "trainer": kc.trainer_id(hidden)}):
            comm.deliver(msg)
        assert hidden.global_step == 0 and hidden.state == "idle"
        assert all(not d["ok"] for _, d in comm.of_type("reply"))
        wait_for(lambda: comm.of_type("status"))
        assert all(d["trainers"] == [] for _, d in comm.of_type("status"))
    finally:
        hidden.close()


def test_displayed_lab_exposes_its_trainer_and_close_withdraws_it():
    from nbtrain.ui.lab import Lab

    lab = Lab(data="spiral", hidden=[4], max_steps=50, n_samples=100)
    try:
        assert lab.trainer not in kc.live_trainers()
        lab._repr_mimebundle_()  # what IPython's display does
        assert lab.trainer in kc.live_trainers()
    finally:
        lab.close()
    assert lab.trainer not in kc.live_trainers()
    lab.trainer.close()


def test_channels_are_bounded_and_status_goes_only_to_hello(trainer, channel):
    quiet = FakeComm("quiet")
    channel.add(quiet)
    talkers = [FakeComm(f"c{i}") for i in range(kc.MAX_CHANNELS - 1)]
    for c in talkers:
        channel.add(c)
        c.deliver({"action": "hello"})
    closed = []
    extra = [FakeComm(f"extra{i}") for i in range(50)]
    for c in extra:
        c.close = lambda c=c: closed.append(c.comm_id)
        assert channel.add(c) is False
    assert len(channel.comms) == kc.MAX_CHANNELS and channel.refused == 50 and len(closed) == 50
    wait_for(lambda: all(c.of_type("status") for c in talkers))
    time.sleep(2 * kc.INTERVAL)
    assert quiet.of_type("status") == []  # never said hello: never gets a status
    trainer.config.lr = 0.05  # a change: still only the hello'd comms hear of it
    assert quiet.of_type("status") == []


def test_replies_and_statuses_carry_no_server_paths(channel):
    class FakeTrainer(SimpleNamespace):
        __hash__ = object.__hash__

    t = FakeTrainer(state="error", global_step=3, epoch=0.1, device="cpu",
                    message="MNIST not found under root='/srv/course/secret/data' (No such file)",
                    config=SimpleNamespace(max_steps=10), metrics=SimpleNamespace(last=lambda _c: 1.0),
                    data=SimpleNamespace(name="/home/ta/private/set.npz"), model=None)
    d = kc.describe(t)
    assert "/srv" not in d["message"] and "secret" not in d["message"] and "…/data" in d["message"]
    assert "/home" not in d["label"] and "set.npz" in d["label"]
    reply = kc.perform({"action": "/etc/passwd"})
    assert "/etc" not in reply["error"] and "/etc" not in str(reply["action"])


@pytest.mark.timeout(120)
def test_kernel_started_by_voila_offers_no_comm_target_without_opt_in():
    import os

    from jupyter_client.manager import start_new_kernel

    env = dict(os.environ, SERVER_SOFTWARE="voila/0.5.13")  # what Voilà puts in its kernels' environment
    env.pop("NBTRAIN_VOILA_COMM", None)
    km, client = start_new_kernel(kernel_name="python3", env=env)
    out: list = []
    try:
        reply = client.execute_interactive(
            "import nbtrain\nfrom nbtrain import kernel_comm as k\n"
            "mgr = get_ipython().kernel.comm_manager\n"
            "print('TARGET', 'nbtrain' in mgr.targets, k.channel() is None)", timeout=60, output_hook=out.append)
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
    text = "".join(m["content"].get("text", "") for m in out if m["msg_type"] == "stream")
    assert "TARGET False True" in text, text


def test_idle_trainers_wake_the_status_thread_instead_of_being_polled(trainer, monkeypatch):
    monkeypatch.setattr(kc, "IDLE_INTERVAL", 60.0)  # so only the trainer's own update can bring the status
    reads = []
    ch = kc.Channel(status_fn=lambda: reads.append(time.monotonic()) or kc.status())
    try:
        comm = FakeComm()
        ch.add(comm, hello=True)
        wait_for(lambda: comm.of_type("status"))
        time.sleep(2 * kc.INTERVAL)  # the statuses that add() asked for are out
        n = len(reads)
        time.sleep(1.0)
        assert len(reads) == n, "nothing runs and nothing changed: the status is not read"
        sent = len(comm.of_type("status"))
        trainer.config.max_steps = 12345  # a change the trainer announces to its subscribers
        wait_for(lambda: len(comm.of_type("status")) > sent, timeout=10.0)
        assert comm.of_type("status")[-1][1]["trainers"][0]["max_steps"] == 12345
    finally:
        ch.close()
