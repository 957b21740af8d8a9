"""The device the user chose, checked without an accelerator.

``FakeDevice`` runs every op on the CPU but reports each tensor created on, or moved to, the "meta" device
as living there (a wrapper tensor with real CPU data inside), and records what a real accelerator would
refuse: an op mixing such tensors with CPU tensors that have elements, a random op there without the run's
device generator. A trainer given that device must create every tensor of its run on it. The CUDA index
logic (which ``torch.device``, ``set_device`` in the training thread, the training device's stream for
commands) is checked with torch.cuda's functions stood in for.
"""

import threading

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

import nbtrain as nt
from nbtrain.engine import device as device_mod
from nbtrain.engine import rng
from nbtrain.engine import trainer as trainer_mod

FAKE = torch.device("meta")
aten = torch.ops.aten
# copies across devices are what .to() does; everything else must have all its tensors on one device
MAY_MIX = {aten._to_copy.default, aten.copy_.default, aten.lift_fresh.default, aten.lift_fresh_copy.default}


class OnFake(torch.Tensor):
    """A CPU tensor ``elem`` that reports ``FAKE`` as its device."""

    @staticmethod
    def __new__(cls, elem: torch.Tensor):
        r = torch.Tensor._make_wrapper_subclass(cls, elem.size(), strides=elem.stride(),
                                                storage_offset=elem.storage_offset(), dtype=elem.dtype,
                                                layout=elem.layout, device=FAKE, requires_grad=elem.requires_grad)
        r.elem = elem
        return r

    def __repr__(self):
        return f"OnFake({self.elem!r})"

    def tolist(self):  # a device → host copy, as on an accelerator
        return self.elem.tolist()

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError(f"{func} on a fake-device tensor outside FakeDevice")


class FakeDevice(TorchDispatchMode):
    def __init__(self, state):
        super().__init__()
        self.state = state  # shared by the threads: violations, generators made for FAKE, ops seen

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        flat, _ = tree_flatten((args, kwargs))
        fake_in = [t for t in flat if isinstance(t, OnFake)]
        cpu_in = [t for t in flat if isinstance(t, torch.Tensor) and not isinstance(t, OnFake) and t.dim() > 0]
        target = None
        dev = kwargs.get("device")
        if dev is not None:
            dev = torch.device(dev)
            if dev.type == FAKE.type:
                kwargs["device"] = torch.device("cpu")
                target = FAKE
        elif fake_in:
            target = FAKE
        if fake_in and cpu_in and func not in MAY_MIX:
            self.state["violations"].append(f"{func}: {FAKE} tensors mixed with CPU tensors "
                                            f"{[tuple(t.shape) for t in cpu_in]}")
        if target == FAKE:
            self.state["ops"] += 1
            schema_args = {a.name for a in func._schema.arguments}
            if "generator" in schema_args and func not in MAY_MIX:
                gen = kwargs.get("generator")
                # (the generator reaches this mode as a new Python object: known by its seed)
                if gen is None or gen.initial_seed() not in self.state["generators"]:
                    self.state["violations"].append(f"{func} on {FAKE} without the run's device generator")
            elif func in (aten.native_dropout.default,):
                self.state["violations"].append(f"{func}: dropout from the device's global generator")
        unwrapped_args, unwrapped_kwargs = tree_map(lambda t: t.elem if isinstance(t, OnFake) else t, (args, kwargs))
        out = func(*unwrapped_args, **unwrapped_kwargs)
        if target == FAKE:
            return tree_map(lambda t: OnFake(t) if isinstance(t, torch.Tensor) and not isinstance(t, OnFake) else t, out)
        return out


@pytest.fixture
def fake(monkeypatch):
    state = {"violations": [], "generators": {}, "ops": 0}
    make = rng.make_generator

    def make_generator(device, seed):
        device = torch.device(device)
        if device.type != FAKE.type:
            return make(device, seed)
        gen = torch.Generator().manual_seed(int(seed) % 2**63)  # the fake device's generator: a CPU one
        state["generators"][gen.initial_seed()] = gen
        return gen

    monkeypatch.setattr(rng, "make_generator", make_generator)
    run_thread = trainer_mod._run_thread

    def in_fake_device(*a, **kw):  # the training thread runs under the mode too
        with FakeDevice(state):
            return run_thread(*a, **kw)

    monkeypatch.setattr(trainer_mod, "_run_thread", in_fake_device)
    with FakeDevice(state):
        yield state


def _tensors_of(tr):
    out = {f"model.{k}": v for k, v in tr.model.state_dict().items()}
    for i, st in enumerate(tr.optimizer.state.values()):
        out.update({f"optimizer.{i}.{k}": v for k, v in st.items() if isinstance(v, torch.Tensor) and v.dim() > 0})
    out.update({"X": tr._X, "Y": tr._Y, "val.X": tr._val[0], "val.Y": tr._val[1],
                "train_eval.X": tr._train_eval[0], "train_eval.Y": tr._train_eval[1],
                "sampler.perm": tr._sampler.perm_dev})
    return out


@pytest.mark.parametrize("fields", [
    dict(data="spiral", hidden=[16, 16], dropout=0.3, dropconnect=0.2, mixup=0.4, optimizer="adam", stats_every=5),
    dict(data="digits", model="cnn", hidden=[16], dropout=0.2, augment=True, mixup=0.2, batch_norm=True,
         optimizer="momentum", batch_size=32),
], ids=["mlp", "cnn"])
def test_every_tensor_of_the_run_lives_on_the_chosen_device(fake, fields):
    tr = nt.Trainer(device=FAKE, max_steps=200, eval_every=10, seed=1, **fields)
    try:
        assert tr.device == FAKE
        assert tr.step(25).wait(timeout=120) == "paused", tr.message
        tr.submit(lambda m: m(tr._val[0][:4]).argmax(1)).result(30)  # a command in the caller's thread
        assert tr.step(5).wait(timeout=120) == "paused", tr.message
        assert tr.global_step == 30
        assert not fake["violations"], fake["violations"][:5]
        assert fake["ops"] > 1000  # the run really went through the fake device
        assert len(fake["generators"]) >= 1
        placed = _tensors_of(tr)
        wrong = {k: v.device for k, v in placed.items() if v.device != FAKE}
        assert not wrong, wrong
        h = tr.history
        assert h["train_loss"].notna().sum() == 30 and h["val_loss"].notna().any()
    finally:
        tr.close()


# ---- CUDA: which device, set in the training thread, its stream for commands ------------------------------

@pytest.fixture
def two_gpus(monkeypatch):
    """torch.cuda as if two GPUs were there and the user had called torch.cuda.set_device(1)."""
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: calls.append(("set_device", threading.current_thread().name, torch.device(d))))

    class Ctx:
        def __init__(self, what):
            self.what = what

        def __enter__(self):
            calls.append(("enter", self.what))

        def __exit__(self, *exc):
            calls.append(("exit", self.what))

    monkeypatch.setattr(torch.cuda, "device", lambda d: Ctx(("device", torch.device("cuda", d) if isinstance(d, int) else torch.device(d))))
    monkeypatch.setattr(torch.cuda, "default_stream", lambda d=None: ("default_stream", torch.device(d)))
    monkeypatch.setattr(torch.cuda, "stream", lambda s: Ctx(("stream", s)))
    return calls


def test_cuda_means_the_current_device_with_its_index(two_gpus):
    assert device_mod.resolve_device("cuda") == torch.device("cuda", 1)
    assert device_mod.resolve_device("auto") == torch.device("cuda", 1)
    assert device_mod.resolve_device("cuda:0") == torch.device("cuda", 0)
    assert device_mod.resolve_device(torch.device("cuda")) == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="cuda:5"):
        device_mod.resolve_device("cuda:5")


def test_a_users_model_on_a_gpu_decides_device_auto(two_gpus):
    net = torch.nn.Linear(2, 2)
    p = next(net.parameters())
    assert device_mod.resolve_device("auto", net) == torch.device("cuda", 1)
    fake_param = type("P", (), {"device": torch.device("cuda", 0)})()
    holder = type("M", (), {"parameters": lambda self: iter([fake_param]), "buffers": lambda self: iter([])})()
    assert device_mod.resolve_device("auto", holder) == torch.device("cuda", 0)
    assert p.device.type == "cpu"


def test_the_training_thread_and_commands_run_on_the_training_device(two_gpus):
    dev = torch.device("cuda", 1)
    device_mod.enter_device(dev)
    assert two_gpus == [("set_device", threading.current_thread().name, dev)]
    two_gpus.clear()
    with device_mod.device_scope(dev):
        pass
    assert two_gpus == [("enter", ("device", dev)), ("enter", ("stream", ("default_stream", dev))),
                        ("exit", ("stream", ("default_stream", dev))), ("exit", ("device", dev))]
    two_gpus.clear()
    device_mod.enter_device(torch.device("cpu"))
    with device_mod.device_scope(torch.device("cpu")):
        pass
    assert two_gpus == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_on_a_real_gpu_the_run_follows_set_device():
    n = torch.cuda.device_count()
    before = torch.cuda.current_device()
    torch.cuda.set_device(n - 1)
    try:
        with nt.Trainer(device="cuda", data="spiral", hidden=[16], dropout=0.2, mixup=0.2, max_steps=30) as tr:
            assert tr.device == torch.device("cuda", n - 1)
            assert tr.start().wait(timeout=120) == "finished"
            assert all(p.device == tr.device for p in tr.model.parameters())
    finally:
        torch.cuda.set_device(before)


# ---- Apple GPUs: a tool's model copy never runs while the trainer steps --------------------------------

def test_on_mps_tools_pause_the_run_while_their_copy_works_and_resume_it(monkeypatch):
    monkeypatch.setattr(nt.Trainer, "_needs_exclusive", lambda self: True)  # as on device="mps"
    from nbtrain.engine import threads as threads_mod

    seen = []
    threads = threads_mod.for_small_model

    def spy(model):  # the copy's training loop runs inside this block
        cm = threads(model)

        class Spy:
            def __enter__(self):
                seen.append(("in", tr.state, tr.global_step, tr._busy))
                return cm.__enter__()

            def __exit__(self, *exc):
                seen.append(("out", tr.state, tr.global_step, tr._busy))
                return cm.__exit__(*exc)

        return Spy()

    monkeypatch.setattr(threads_mod, "for_small_model", spy)  # the LR finder's and the sanity checks' loops
    with nt.Trainer(device="cpu", data="spiral", hidden=[16], max_steps=10**6, seed=0) as tr:
        tr.start().wait(steps=20, timeout=60)
        nt.find_lr(tr, num_iter=30)
        assert tr.state == "running"
        nt.overfit_small(tr, max_steps=30)
        assert tr.state == "running"
        with tr.exclusive():
            step = tr.global_step
            assert tr.state == "paused" and not tr._busy
            import time
            time.sleep(0.05)
            assert tr.global_step == step
        assert tr.state == "running"
        at = tr.global_step
        tr.wait(steps=at + 5, timeout=60)  # and it goes on afterwards
    assert len(seen) == 4
    for (_, s_in, step_in, busy_in), (_, s_out, step_out, busy_out) in zip(seen[::2], seen[1::2]):
        assert (s_in, s_out, busy_in, busy_out) == ("paused", "paused", False, False)
        assert step_in == step_out  # not one step while the copy trained


def test_exclusive_is_a_no_op_off_mps_and_keeps_a_step_budget(monkeypatch):
    with nt.Trainer(device="cpu", data="spiral", hidden=[16], max_steps=10**6) as tr:
        tr.start().wait(steps=5, timeout=60)
        with tr.exclusive():
            assert tr.state == "running"
        tr.pause()
    monkeypatch.setattr(nt.Trainer, "_needs_exclusive", lambda self: True)
    with nt.Trainer(device="cpu", data="spiral", hidden=[16], max_steps=10**6) as tr:
        tr.step(400)
        with tr.exclusive():
            assert tr.state == "paused"
        assert tr.wait(timeout=60) == "paused" and tr.global_step == 400


# ---- float64 user data ------------------------------------------------------------------------------

def _xor64(n=300):
    import numpy as np

    X = np.random.default_rng(0).normal(size=(n, 2))  # numpy's default dtype: float64
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


class _Float64Dataset(torch.utils.data.Dataset):
    def __init__(self):
        self.X, self.y = _xor64()

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.as_tensor(self.X[i]), int(self.y[i])


@pytest.mark.parametrize("kind", ["numpy", "tensors", "dataset", "loader"])
def test_float64_user_data_trains_as_float32_with_a_note(kind):
    X, y = _xor64()
    data = {"numpy": (X, y), "tensors": (torch.as_tensor(X), torch.as_tensor(y)), "dataset": _Float64Dataset(),
            "loader": torch.utils.data.DataLoader(_Float64Dataset(), batch_size=32, shuffle=True)}[kind]
    val = _Float64Dataset() if kind == "loader" else None
    with nt.Trainer(data=data, val_data=val, device="cpu", hidden=[16], lr=0.3, max_steps=60, seed=0) as tr:
        assert "float64" in tr.message and "float32" in tr.message
        assert any(e["field"] == "data" and "float64" in str(e["new"]) for e in tr.metrics.events)
        if tr._X is not None:
            assert tr._X.dtype == torch.float32
        assert tr._val[0].dtype == torch.float32
        assert tr.start().wait(timeout=60) == "finished"
        h = tr.history
        assert h["train_loss"].notna().sum() == 60 and h["val_loss"].dropna().iloc[-1] < h["val_loss"].dropna().iloc[0]


def test_float32_data_has_no_note():
    X, y = _xor64()
    with nt.Trainer(data=(torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)), device="cpu", hidden=[8]) as tr:
        assert tr.message == "" and not tr.data.notes


# ---- search on GPUs ------------------------------------------------------------------------------------

def test_search_places_trials_round_robin_on_the_gpus_with_few_workers_each(two_gpus):
    from nbtrain.tuning import search

    devices, workers, extra = search.gpu_plan("cuda", 5)
    assert devices == ["cuda:0", "cuda:1", "cuda:0", "cuda:1", "cuda:0"]
    assert workers == 2 * search.GPU_WORKERS_PER_DEVICE and extra == {}
    assert search.gpu_plan("auto", 3)[0] == ["cuda:0", "cuda:1", "cuda:0"]
    assert search.gpu_plan("cuda:1", 3)[:2] == (["cuda:1"] * 3, search.GPU_WORKERS_PER_DEVICE)

    class FakeDask:  # what search recognises as a dask.distributed Client
        def __init__(self, resources):
            self.resources = resources

        def scheduler_info(self):
            return {"workers": {"tcp://a": {"resources": self.resources}, "tcp://b": {"resources": self.resources}}}

    FakeDask.__module__ = "distributed.client"
    assert search.gpu_plan("cuda", 2, FakeDask({"GPU": 1})) == (["cuda", "cuda"], None, {"resources": {"GPU": 1}})
    assert search.gpu_plan("cuda", 2, FakeDask({}))[0] == ["cuda:0", "cuda:1"]


def test_search_on_the_cpu_keeps_its_defaults():
    from nbtrain.tuning import search

    assert search.gpu_plan("cpu", 3) == (["cpu"] * 3, None, {})
    if not torch.cuda.is_available():
        assert search.gpu_plan("auto", 2) == (["auto"] * 2, None, {})


def test_gpu_trials_get_their_device_and_modules_shipped_from_the_cpu(two_gpus, monkeypatch):
    from nbtrain.tuning import search

    seen = []

    class Recorder:  # an executor that records what each trial would receive
        def submit(self, fn, spec, **kw):
            seen.append((spec["device"], spec["model"], spec["data"], kw))
            fut = search.Future()
            fut.set_result(search._failed_row(spec, "not run", status="cancelled"))
            return fut

    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    on_gpu = {"n": 0}

    def shippable(obj):  # stands in for a module on a GPU: counts the copies to the CPU
        if isinstance(obj, torch.nn.Module):
            on_gpu["n"] += 1
            return search.copy.deepcopy(obj).to("cpu")
        return obj

    monkeypatch.setattr(search, "_shippable", shippable)
    X, y = torch.randn(40, 2), torch.arange(40) % 2
    s = search.grid({"lr": [0.1, 0.2, 0.3]}, model=net, data=(X, y), device="cuda", max_steps=5, executor=Recorder())
    assert len(s) == 3
    assert [d for d, *_ in seen] == ["cuda:0", "cuda:1", "cuda:0"]
    assert on_gpu["n"] == 1 and all(m is not net and m is seen[0][1] for _, m, _, _ in seen)
    assert all(next(m.parameters()).device.type == "cpu" for _, m, _, _ in seen)


def test_shippable_leaves_cpu_objects_alone():
    from nbtrain.tuning import search

    net = torch.nn.Linear(2, 2)
    pair = (torch.zeros(3, 2), torch.zeros(3))
    assert search._shippable(net) is net and search._shippable(pair) is pair and search._shippable("spiral") == "spiral"
