"""One Lab per notebook cell (issue 10): re-running the cell that made a Lab closes the old Lab, its publisher
and the trainer it built; ``lab.close()`` closes every widget the Lab made; a refused cross-field change shows
in the status and the control keeps showing the value in use. The kernel side is faked here (the cell id a
front end sends with each execute request); tests/test_lab_per_cell_notebook.py runs a real kernel."""

import types

import pytest
from ipywidgets.widgets.widget import _instances
from ui_helpers import FAST, nbtrain_threads, wait_until

import nbtrain as nt
from nbtrain.ui import lab as lab_mod


class FakeKernel:
    """What ipykernel offers: ``get_parent()`` -> the execute request being run."""

    def __init__(self):
        self.parent = {}

    def run(self, msg_id, cell_id=None, code="lab = nt.Lab()"):
        self.parent = {"header": {"msg_id": msg_id, "msg_type": "execute_request"},
                       "metadata": {"cellId": cell_id} if cell_id else {}, "content": {"code": code}}

    def get_parent(self, channel="shell"):
        return self.parent


@pytest.fixture
def kernel(monkeypatch):
    k = FakeKernel()
    shell = types.SimpleNamespace(kernel=k)
    monkeypatch.setattr("IPython.get_ipython", lambda: shell)
    monkeypatch.setattr(lab_mod, "_CELL_LABS", {})
    yield k


@pytest.fixture
def labs():
    made = []
    yield made
    for lab in made:
        lab.close()
        lab.trainer.close()


def new_lab(labs, **kw):
    lab = nt.Lab(**{**FAST, "max_steps": 10**6, "interval": 0.05, **kw})
    labs.append(lab)
    return lab


def trainer_threads():
    return [t for t in nbtrain_threads() if t.name == "nbtrain-trainer"]


def test_rerunning_a_cell_five_times_leaves_one_lab_one_publisher_and_one_trainer(kernel, labs):
    made = []
    for i in range(5):
        kernel.run(f"exec-{i}", cell_id="cell-A")
        lab = new_lab(labs)
        lab.start()
        made.append(lab)
        assert wait_until(lambda lab=lab: lab.global_step > 0)
    *old, last = made
    assert all(lab._closed and not lab.publishing and lab.trainer._closed for lab in old)
    assert all(lab.trainer.state == "stopped" for lab in old)
    assert wait_until(lambda: len(trainer_threads()) == 1), trainer_threads()
    assert len([t for t in nbtrain_threads() if "publisher" in t.name]) == 1
    assert last.publishing and last.state == "running" and lab_mod.live_labs() == [last]


def test_labs_of_one_execution_and_of_other_cells_coexist(kernel, labs):
    kernel.run("exec-1", cell_id="cell-A")
    a1, a2 = new_lab(labs), new_lab(labs)  # two Labs made by one cell (a comparison)
    kernel.run("exec-2", cell_id="cell-B")
    b = new_lab(labs)
    assert not (a1._closed or a2._closed or b._closed)
    kernel.run("exec-3", cell_id="cell-A")  # cell A again: both of its Labs go, B stays
    a3 = new_lab(labs)
    assert a1._closed and a2._closed and not b._closed and not a3._closed
    assert set(lab_mod.live_labs()) == {b, a3}


def test_a_trainer_passed_in_keeps_running_when_its_lab_is_replaced(kernel, labs):
    tr = nt.Trainer(**{**FAST, "max_steps": 10**6})
    try:
        kernel.run("exec-1", cell_id="cell-A")
        first = nt.Lab(trainer=tr, interval=0.05, close_stops=True)
        labs.append(first)
        tr.start()
        kernel.run("exec-2", cell_id="cell-A")
        second = nt.Lab(trainer=tr, interval=0.05)  # the same trainer, a new view of it
        labs.append(second)
        assert first._closed and not first.publishing and not second._closed
        step = tr.global_step
        assert wait_until(lambda: tr.global_step > step + 5) and tr.state == "running"
        kernel.run("exec-3", cell_id="cell-A")
        third = new_lab(labs)  # a Lab that builds its own trainer replaces the view; tr is the caller's
        assert second._closed and tr.state == "running" and not tr._closed and not third._closed
    finally:
        tr.close()


def test_without_a_cell_id_the_cells_source_identifies_it(kernel, labs):
    kernel.run("exec-1", code="lab = nt.Lab(hidden=[16, 16])")
    first = new_lab(labs)
    kernel.run("exec-2", code="other = nt.Lab()")
    other = new_lab(labs)
    kernel.run("exec-3", code="lab = nt.Lab(hidden=[16, 16])")
    again = new_lab(labs)
    assert first._closed and not other._closed and not again._closed


def test_no_kernel_or_a_comm_message_registers_nothing(monkeypatch, labs):
    monkeypatch.setattr(lab_mod, "_CELL_LABS", {})
    monkeypatch.setattr("IPython.get_ipython", lambda: None)
    a, b = new_lab(labs), new_lab(labs)
    assert not a._closed and not b._closed and lab_mod._CELL_LABS == {}
    k = FakeKernel()
    k.parent = {"header": {"msg_id": "c", "msg_type": "comm_msg"}, "metadata": {}, "content": {}}
    monkeypatch.setattr("IPython.get_ipython", lambda: types.SimpleNamespace(kernel=k))
    c = new_lab(labs)
    assert not c._closed and lab_mod._CELL_LABS == {}


def test_close_closes_every_widget_the_lab_made_including_the_unused_loss_scale(labs):
    before = set(_instances)
    lab = new_lab(labs)
    made = set(_instances) - before
    assert lab._loss_scales["log"].model_id in made
    lab.close()
    lab.trainer.close()
    assert set(_instances) - before == set(), [
        type(_instances[m]).__name__ for m in set(_instances) - before]


def test_a_refused_combination_shows_in_the_status_and_the_control_keeps_the_value_in_use(labs):
    lab = new_lab(labs, lr=0.1, schedule="cyclic", schedule_params={"min_lr": 0.05})
    lab.start()
    lab.controls["lr"].value = 0.01
    assert "min_lr=0.05 is above lr=0.01" in lab.status.value
    assert lab.controls["lr"].value == pytest.approx(0.1) and lab.config.lr == 0.1
    lab.controls["optimizer"].value = "nesterov"
    lab.controls["momentum"].value = 0.0
    assert "nesterov" in lab.status.value and lab.controls["momentum"].value == pytest.approx(0.9)
    assert lab.trainer.submit(lambda m: None).result(10) is None
    in_use = lab.trainer.in_use()
    assert in_use["lr"] == 0.1 and in_use["optimizer"] == "nesterov" and in_use["momentum"] == 0.9
    assert lab.state == "running"


def test_a_change_rolled_back_by_the_training_thread_shows_in_the_lab(labs):
    import torch
    from torch import nn

    class Picky(nn.Module):  # fails on its first step with tanh: only the training thread can tell
        def __init__(self):
            super().__init__()
            self.l1, self.act, self.l2 = nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3)

        def forward(self, x):
            if isinstance(self.act, nn.Tanh):
                raise RuntimeError("no tanh here")
            return self.l2(self.act(self.l1(x)))

    X, y = torch.randn(120, 2), torch.arange(120) % 3
    lab = nt.Lab(model=Picky(), data=(X, y), device="cpu", interval=0.05)
    labs.append(lab)
    lab.start()
    assert wait_until(lambda: lab.global_step > 3)
    lab.controls["activation"].value = "tanh"
    assert wait_until(lambda: lab.state == "paused" and lab.config.activation == "relu")
    assert wait_until(lambda: lab.controls["activation"].value == "relu")
    lab.publish(force=True)
    assert "rolled back" in lab.status.value and "no tanh here" in lab.status.value
    assert lab.trainer.in_use()["activation"] == "relu" and lab.trainer.error is None
