"""Checkpoint files: consistent snapshots, a content hash, clear errors, atomic writes, validation on load."""

import errno
import json
import os
import random
import stat
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch
from leaks import _no_leaked_threads, nbtrain_threads  # noqa: F401 - the fixture checks every test
from torch import nn

import nbtrain as nt
from nbtrain.engine import checkpoint
from nbtrain.engine.checkpoint import CheckpointError

SMALL = dict(data="spiral", hidden=[8], n_samples=60, lr=0.3, seed=0, stats_every=5, device="cpu")




@pytest.fixture
def saved(tmp_path):
    """A small trained run saved to tmp_path/run.pt: (path, its model weights, its global step)."""
    with nt.Trainer(**SMALL) as tr:
        tr.step(12).wait(timeout=30)
        path = tr.save(tmp_path / "run.pt")
        weights = {k: v.clone() for k, v in tr.model.state_dict().items()}
    return path, weights, 12


def temps(directory):
    return sorted(p for p in os.listdir(directory) if p.endswith(checkpoint.TEMP_SUFFIX))


def rewrite(path, edit):
    """Load the state of ``path``, let ``edit`` change it, write it back as a well-formed file (valid hash:
    what someone crafting a file can always do)."""
    outer = torch.load(path, weights_only=True)
    import io

    state = torch.load(io.BytesIO(outer["payload"].numpy().tobytes()), weights_only=True)
    edit(state)
    with open(path, "wb") as f:
        f.write(checkpoint.encode(state))


# ---- consistency: a snapshot at one step boundary ------------------------------------------------------

@pytest.mark.timeout(120)
def test_saves_while_training_at_full_speed_all_resume_bit_exactly(tmp_path):
    """20 saves of an Adam run that keeps training at full speed: every file holds the weights, Adam
    moments and step counters, history and RNG of one step boundary, so resuming it continues exactly
    like the run that was never interrupted (before: the optimizer state was written by reference after
    the thread went on — Adam's step counter and moments of later steps with the weights of step k)."""
    cfg = dict(data="spiral", hidden=[256, 256], n_samples=400, optimizer="adam", lr=1e-3, dropout=0.1,
               total_steps=100_000, stats_every=7, seed=3, device="cpu")
    paths = []
    with nt.Trainer(**cfg) as tr:
        tr.start()
        tr.wait(steps=5, timeout=30)
        for i in range(20):
            paths.append(tr.save(tmp_path / f"run{i}.pt"))
        tr.stop()
    steps = [checkpoint.read(p)["global_step"] for p in paths]
    assert len(set(steps)) > 10, steps  # the run went on while it was being saved
    for p, k in zip(paths, steps):
        opt = checkpoint.read(p)["optimizer"]
        assert {int(s["step"]) for s in opt["state"].values()} == {k}, (p, k)
    with nt.Trainer(**cfg) as ref:
        ref.step(max(steps) + 3).wait(timeout=60)
        expected = ref.history["train_loss"].to_numpy()
        ref_evals = ref.metrics.eval_frame()
    for p, k in zip(paths, steps):
        with nt.Trainer.load(p, device="cpu") as again:
            assert again.global_step == k and again.state == "paused"
            np.testing.assert_array_equal(again.history["train_loss"].to_numpy(), expected[:k])
            again.step(3).wait(timeout=30)
            np.testing.assert_array_equal(again.history["train_loss"].to_numpy()[k:], expected[k:k + 3])
            evals = again.metrics.eval_frame()
            assert evals["step"].tolist() == ref_evals["step"][ref_evals["step"] <= k + 2].tolist()


def test_pending_changes_are_kept_apart_from_what_trains(tmp_path):
    """A non-live change waiting for reset() (hidden) and the file still holds the run that trains; after
    load the config shows the change and the trainer says it needs a reset, as before the save."""
    with nt.Trainer(**SMALL) as tr:
        tr.step(5).wait(timeout=30)
        tr.config.hidden = [12]
        assert tr.needs_reset == ["hidden"]
        path = tr.save(tmp_path / "run.pt")
    with nt.Trainer.load(path, device="cpu") as again:
        assert again.model.state_dict()["blocks.0.layer.weight"].shape[0] == 8
        assert again.config.hidden == [12] and again.needs_reset == ["hidden"]
        again.reset()
        assert again.model.state_dict()["blocks.0.layer.weight"].shape[0] == 12


def test_restore_best_works_after_load(tmp_path):
    with nt.Trainer(**{**SMALL, "eval_every": 4}) as tr:
        tr.step(20).wait(timeout=30)
        best_step = tr._best[1]
        path = tr.save(tmp_path / "run.pt")
    with nt.Trainer.load(path, device="cpu") as again:
        assert again.restore_best() == best_step


# ---- content hash: any changed byte of the payload is refused --------------------------------------------

def test_every_byte_of_the_payload_region_is_covered_by_the_hash(saved):
    path, weights, step = saved
    raw = open(path, "rb").read()
    payload = torch.load(path, weights_only=True)["payload"].numpy().tobytes()
    start = raw.find(payload)
    assert start > 0 and raw.find(payload, start + 1) == -1
    rng = random.Random(0)
    # one position in each of 300 equal slices of the payload, plus its first and last byte
    n = len(payload)
    positions = sorted({start, start + n - 1} | {start + rng.randrange(i * n // 300, (i + 1) * n // 300) for i in range(300)})
    for pos in positions:
        damaged = bytearray(raw)
        damaged[pos] ^= 1 << rng.randrange(8)
        open(path, "wb").write(damaged)
        with pytest.raises(CheckpointError, match="damaged|not a readable"):
            checkpoint.read(path)
    # and through the public API
    open(path, "wb").write(bytes(raw[:start + 100]) + bytes([raw[start + 100] ^ 4]) + raw[start + 101:])
    with pytest.raises(CheckpointError, match="damaged: its content does not match the hash"):
        nt.Trainer.load(path, device="cpu")


def test_flips_outside_the_payload_are_refused_or_change_nothing(saved):
    """The container around the payload (zip headers, the small pickle): a flip either makes the file
    unreadable or leaves every loaded value as it was — never a silent change."""
    path, weights, step = saved
    raw = open(path, "rb").read()
    payload = torch.load(path, weights_only=True)["payload"].numpy().tobytes()
    start = raw.find(payload)
    outside = [p for p in range(len(raw)) if not start <= p < start + len(payload)]
    rng = random.Random(1)
    for pos in rng.sample(outside, 120):
        damaged = bytearray(raw)
        damaged[pos] ^= 1 << rng.randrange(8)
        open(path, "wb").write(damaged)
        try:
            state = checkpoint.read(path)
        except CheckpointError:
            continue
        assert state["global_step"] == step
        assert all(torch.equal(state["model"][k], v) for k, v in weights.items())


@pytest.mark.parametrize("damage", ["empty", "truncate", "sha", "format"])
def test_damaged_or_foreign_files_raise_checkpoint_error(saved, damage):
    path, _, _ = saved
    raw = open(path, "rb").read()
    if damage == "empty":
        open(path, "wb").close()
    elif damage == "truncate":
        open(path, "wb").write(raw[:-40])
    elif damage == "sha":
        outer = torch.load(path, weights_only=True)
        torch.save({**outer, "sha256": "0" * 64}, path)
    else:
        outer = torch.load(path, weights_only=True)
        torch.save({**outer, "format": 99}, path)
    with pytest.raises(CheckpointError, match="upgrade nbtrain" if damage == "format" else "checkpoint|damaged"):
        nt.Trainer.load(path, device="cpu")


def test_a_format_1_file_still_loads_with_a_warning(tmp_path):
    with nt.Trainer(**SMALL) as tr:
        tr.step(6).wait(timeout=30)
        state = checkpoint.snapshot(tr)
        loss = tr.history["train_loss"].to_numpy()
    for key in ("nbtrain", "config_changes", "model_class", "user_model", "user_data", "data_name", "sched_start",
                "last_eval_step", "best", "rng"):
        del state[key]
    state.update(format=1, rng_cpu=torch.get_rng_state(), rng_cuda=[])  # it kept the global generators
    torch.save(state, tmp_path / "old.pt")
    with pytest.warns(UserWarning, match="older nbtrain"), nt.Trainer.load(tmp_path / "old.pt", device="cpu") as again:
        assert again.global_step == 6
        np.testing.assert_array_equal(again.history["train_loss"].to_numpy(), loss)


# ---- architecture and user models -------------------------------------------------------------------

def test_another_architecture_says_what_differs_and_what_to_pass(saved):
    path, _, _ = saved
    with pytest.raises(CheckpointError, match=r"another architecture than your model \(Sequential\).*"
                                              r"load it without model="):
        nt.Trainer.load(path, model=nn.Sequential(nn.Linear(2, 3)), device="cpu")
    wider = nt.models.make("mlp", (2,), 3, hidden=[9])
    with pytest.raises(CheckpointError, match=r"shape\(s\) differ \(blocks.0.layer.weight: file \(8, 2\) vs model \(9, 2\)"):
        nt.Trainer.load(path, model=wider, data="spiral", device="cpu")
    # the config in the file disagrees with its weights (a file edited by hand)
    rewrite(path, lambda s: s.update(config=json.dumps({**json.loads(s["config"]), "hidden": [16]})))
    with pytest.raises(CheckpointError, match=r"another architecture than the model built from the file's config "
                                              r"\(model='auto', hidden=\[16\]\)"):
        nt.Trainer.load(path, device="cpu")


class TwoLayer(nn.Module):
    def __init__(self, width=16):
        super().__init__()
        self.a, self.b = nn.Linear(2, width), nn.Linear(width, 3)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def test_a_user_model_checkpoint_needs_model_and_data_and_then_resumes_exactly(tmp_path):
    g = torch.Generator().manual_seed(0)
    X, y = torch.randn(80, 2, generator=g), torch.randint(0, 3, (80,), generator=g)
    torch.manual_seed(0)
    with nt.Trainer(TwoLayer(), data=(X, y), device="cpu", max_steps=None, seed=1) as ref:
        ref.step(8).wait(timeout=30)
        path = ref.save(tmp_path / "mine.pt")
        ref.step(4).wait(timeout=30)
        expected = ref.history["train_loss"].to_numpy()
    with pytest.raises(CheckpointError, match=r"your own model \(TwoLayer\).*model=TwoLayer\(\.\.\.\), data=\.\.\."):
        nt.Trainer.load(path, device="cpu")
    with pytest.raises(CheckpointError, match=r"your own data.*data=\.\.\."):
        nt.Trainer.load(path, model=TwoLayer(), device="cpu")
    with pytest.raises(CheckpointError, match=r"another architecture than your model \(TwoLayer\).*shape"):
        nt.Trainer.load(path, model=TwoLayer(width=5), data=(X, y), device="cpu")
    with nt.Trainer.load(path, model=TwoLayer(), data=(X, y), device="cpu") as again:
        again.step(4).wait(timeout=30)
        np.testing.assert_array_equal(again.history["train_loss"].to_numpy(), expected)


# ---- failed writes: a clear cause, the older file intact, no temporary file ----------------------------

@pytest.mark.parametrize("existing", [True, False])
def test_disk_full_while_writing(tmp_path, monkeypatch, existing):
    path = tmp_path / "run.pt"
    with nt.Trainer(**SMALL) as tr:
        tr.step(3).wait(timeout=30)
        if existing:
            tr.save(path)
        before = path.read_bytes() if existing else None
        tr.step(3).wait(timeout=30)
        real = os.write

        def full(fd, data):
            real(fd, bytes(data[:100]))
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "write", full)
        with pytest.raises(CheckpointError, match="the disk is full") as info:
            tr.save(path)
        monkeypatch.undo()
    assert isinstance(info.value.__cause__, OSError) and info.value.__cause__.errno == errno.ENOSPC
    assert ("is unchanged" in str(info.value)) == existing
    assert temps(tmp_path) == []
    if existing:
        assert path.read_bytes() == before
        with nt.Trainer.load(path, device="cpu") as again:
            assert again.global_step == 3
    else:
        assert not path.exists()


@pytest.mark.parametrize("code, where, match", [
    (errno.EACCES, "open", "permission denied"),
    (errno.EROFS, "open", "read-only"),
    (errno.EDQUOT, "fsync", "quota"),
    (errno.EIO, "replace", "OSError"),
])
def test_other_write_failures_name_their_cause(saved, monkeypatch, code, where, match):
    path, _, _ = saved
    before = open(path, "rb").read()
    with nt.Trainer(**SMALL) as tr:
        real = getattr(os, where)

        def fail(*a, **k):
            if where != "open" or a[1] & os.O_CREAT:
                raise OSError(code, os.strerror(code))
            return real(*a, **k)

        monkeypatch.setattr(os, where, fail)
        with pytest.raises(CheckpointError, match=match):
            tr.save(path)
        monkeypatch.undo()
    assert open(path, "rb").read() == before
    assert temps(os.path.dirname(path)) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_a_read_only_folder_for_real(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with nt.Trainer(**SMALL) as tr, pytest.raises(CheckpointError, match="permission denied"):
            tr.save(folder / "run.pt")
    finally:
        folder.chmod(0o755)
    assert list(folder.iterdir()) == []


def test_keyboard_interrupt_while_writing_leaves_no_temp_file(saved, monkeypatch):
    path, _, _ = saved
    before = open(path, "rb").read()

    def interrupted(fd, data):
        raise KeyboardInterrupt

    with nt.Trainer(**SMALL) as tr:
        monkeypatch.setattr(os, "write", interrupted)
        with pytest.raises(KeyboardInterrupt):
            tr.save(path)
        monkeypatch.undo()
    assert open(path, "rb").read() == before and temps(os.path.dirname(path)) == []


def test_the_saved_file_keeps_the_mode_of_the_file_it_replaces(saved):
    path, _, _ = saved
    os.chmod(path, 0o640)
    with nt.Trainer(**SMALL) as tr:
        tr.save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


# ---- temporary files of killed saves -------------------------------------------------------------------

def test_stale_temp_files_are_removed_by_the_next_save_but_not_a_save_in_progress(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    stale = tmp_path / f".run.pt.4242-deadbeef{checkpoint.TEMP_SUFFIX}"
    stale.write_bytes(b"half a checkpoint")
    busy = tmp_path / f".run.pt.4243-cafecafe{checkpoint.TEMP_SUFFIX}"
    busy.write_bytes(b"being written")
    other = tmp_path / f".other.pt.4244-00000000{checkpoint.TEMP_SUFFIX}"
    other.write_bytes(b"another target's")
    old = time.time() - 60
    for p in (stale, busy, other):
        os.utime(p, (old, old))
    import fcntl

    holder = os.open(busy, os.O_RDONLY)  # a live writer holds its lock
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        with nt.Trainer(**SMALL) as tr:
            tr.save(path)
    finally:
        os.close(holder)
    assert not stale.exists() and busy.exists() and other.exists()
    assert checkpoint.read(path)["global_step"] == 0


@pytest.mark.timeout(120)
def test_a_save_killed_midway_leaves_a_temp_file_that_the_next_save_removes(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    code = textwrap.dedent("""
        import os, sys, time
        import nbtrain as nt
        tr = nt.Trainer(data="spiral", hidden=[4], n_samples=40, device="cpu")
        real = os.write
        def stuck(fd, data):
            real(fd, bytes(data[:64]))
            print("writing", flush=True)
            time.sleep(120)
        os.write = stuck
        tr.save(sys.argv[1])
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    left = temps(tmp_path)
    assert len(left) == 1 and not path.exists()
    monkeypatch.setattr(checkpoint, "STALE_AFTER_S", 0.0)
    with nt.Trainer(**SMALL) as tr:
        tr.save(path)
    assert temps(tmp_path) == [] and checkpoint.read(path)["global_step"] == 0


# ---- targets that are not regular files ----------------------------------------------------------------

def test_refuses_to_replace_a_symlink_a_directory_or_a_fifo(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    link = tmp_path / "link.pt"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.pt"
    dangling.symlink_to(tmp_path / "nowhere" / "x.pt")
    folder = tmp_path / "folder"
    folder.mkdir()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with nt.Trainer(**SMALL) as tr:
        for p, match in ((link, "symbolic link"), (dangling, "symbolic link"), (folder, "is a directory"),
                         (fifo, "not a regular file")):
            with pytest.raises(CheckpointError, match=match):
                tr.save(p)
    assert link.is_symlink() and target.read_text() == "keep me"
    assert dangling.is_symlink() and not (tmp_path / "nowhere").exists()
    assert folder.is_dir() and list(folder.iterdir()) == []
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert temps(tmp_path) == []


def test_refuses_to_replace_a_device_node(tmp_path, monkeypatch):
    """A fake character device (lstat says so): the real /dev files are never touched."""
    path = str(tmp_path / "sda")
    open(path, "w").close()
    real = os.lstat

    def lstat(p, *a, **k):
        st = real(p, *a, **k)
        if os.fspath(p) == path:
            return os.stat_result((stat.S_IFCHR | 0o660,) + tuple(st)[1:])
        return st

    monkeypatch.setattr(os, "lstat", lstat)
    with nt.Trainer(**SMALL) as tr, pytest.raises(CheckpointError, match="a device, FIFO or socket"):
        tr.save(path)
    assert os.path.getsize(path) == 0


def test_loading_a_fifo_or_a_directory_does_not_hang(tmp_path):
    fifo = tmp_path / "fifo.pt"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        nt.Trainer.load(fifo, device="cpu")
    with pytest.raises(CheckpointError, match="directory"):
        nt.Trainer.load(tmp_path, device="cpu")
    with pytest.raises(FileNotFoundError):
        nt.Trainer.load(tmp_path / "missing.pt", device="cpu")


# ---- validation before anything is allocated -----------------------------------------------------------

def _expand(shape, dtype=torch.float64):
    return torch.zeros(*shape[:-1], 1, dtype=dtype).expand(*shape)


@pytest.mark.parametrize("where", ["history", "weights", "perm", "optimizer", "rng", "slice"])
def test_tensors_that_do_not_own_their_storage_are_refused(saved, where):
    path, _, _ = saved

    def edit(s):
        if where == "history":
            s["history"]["steps"] = _expand((5, 10**8))
        elif where == "weights":
            s["model"]["blocks.0.layer.weight"] = _expand((8, 2), torch.float32)
        elif where == "perm":
            s["sampler"]["perm"] = torch.zeros(1, dtype=torch.int64).expand(10**9)
        elif where == "optimizer":
            s["optimizer"]["state"] = {0: {"momentum_buffer": _expand((8, 2), torch.float32)}}
        elif where == "rng":
            s["rng"]["streams"]["cpu"] = s["rng"]["streams"]["cpu"][:-1]  # a view into a larger storage
        else:
            s["initial"]["blocks.0.layer.bias"] = torch.zeros(1000)[10:18]

    rewrite(path, edit)
    with pytest.raises(CheckpointError, match="does not match its storage"):
        nt.Trainer.load(path, device="cpu")


def test_a_zero_stride_payload_is_refused_before_hashing(saved):
    path, _, _ = saved
    torch.save({"format": checkpoint.FORMAT, "sha256": "0" * 64, "payload": _expand((10**10,), torch.uint8)}, path)
    assert os.path.getsize(path) < 4096
    with pytest.raises(CheckpointError, match="the payload .* does not match its storage"):
        checkpoint.read(path)


@pytest.mark.timeout(120)
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="peak memory read from /proc")
def test_the_zero_stride_checkpoint_is_refused_within_a_small_memory_bound(tmp_path):
    """The reproducer: a ~20 KB file whose history is a 5 × 50,000,000 zero-stride expand() (before: Trainer.load
    grew the process's peak memory by > 6 GiB). Measured in a fresh process: the peak grows < 64 MiB."""
    code = textwrap.dedent("""
        import sys, torch, nbtrain as nt
        from nbtrain.engine import checkpoint
        path = sys.argv[1]
        with nt.Trainer(data="spiral", hidden=[8], n_samples=60, device="cpu") as tr:
            tr.step(3).wait(timeout=30)
            state = checkpoint.snapshot(tr)
        state["history"]["steps"] = torch.zeros(5, 1, dtype=torch.float64).expand(5, 50_000_000)
        state["history"]["layers"] = torch.zeros(7, 1, dtype=torch.float64).expand(7, 50_000_000)
        open(path, "wb").write(checkpoint.encode(state))
        def peak():
            return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) // 1024
        before = peak()
        try:
            nt.Trainer.load(path, device="cpu")
            print("LOADED")
        except checkpoint.CheckpointError as exc:
            print("REFUSED", peak() - before, exc)
    """)
    path = tmp_path / "bomb.pt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), *sys.path])}
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env, timeout=110)
    assert out.returncode == 0, out.stderr
    assert path.stat().st_size < 64 * 1024
    verdict, grown, message = out.stdout.strip().split(" ", 2)
    assert verdict == "REFUSED" and "zero-stride" in message, out.stdout
    assert int(grown) < 64, f"peak memory grew by {grown} MiB"


def test_history_beyond_the_row_cap_is_refused(saved, monkeypatch):
    path, _, _ = saved
    monkeypatch.setattr(checkpoint, "MAX_HISTORY_ROWS", 5)  # the budget's history_rows, if lower, binds too
    with pytest.raises(CheckpointError, match=r"history\['steps'\] has 12 rows, more than the limit of 5"):
        nt.Trainer.load(path, device="cpu")


@pytest.mark.parametrize("edit, match", [
    (lambda s: s["history"].update(steps=torch.zeros(4, 3, dtype=torch.float64)), "4 columns, expected 5"),
    (lambda s: s["history"].update(evals=torch.zeros(6, 3, dtype=torch.float32)), "dtype torch.float32"),
    (lambda s: s["history"].update(events="[" * 100_000), "not valid JSON"),
    (lambda s: s.update(global_step=-3), "'global_step' = -3"),
    (lambda s: s.update(config=json.dumps({**json.loads(s["config"]), "lr": -1.0})), "config this nbtrain refuses.*lr"),
    (lambda s: s["sampler"].update(perm=torch.arange(7)), "batch sampler does not fit the 48 training examples"),
    (lambda s: s["sampler"].update(perm=torch.arange(48) + 1000), "batch sampler does not fit"),
    (lambda s: s["optimizer"]["state"].update({0: {"momentum_buffer": torch.zeros(3, 3)}}),
     r"optimizer state 'momentum_buffer' of parameter 0 has shape \(3, 3\), the parameter \(8, 2\)"),
    (lambda s: s["optimizer"]["param_groups"].append({"params": [99]}), "parameter group"),
    (lambda s: s["model"].update(extra=torch.zeros(2)), "the file has 1 tensor.*extra"),
    (lambda s: s["rng"]["streams"].update(cpu=torch.zeros(7, dtype=torch.uint8)), "CPU random stream has 7 bytes"),
    (lambda s: s.update(rng={"streams": 3}), "'rng' should hold the run's random streams"),
    (lambda s: s["history"].update(layer_names=[1, 2]), "layer_names"),
    (lambda s: s.update(best={"value": 0.5, "step": 1, "weights": {"blocks.0.layer.bias": torch.zeros(3)}}),
     r"best-on-validation weights do not fit the model \(blocks.0.layer.bias\)"),
    (lambda s: s.update(run_time=float("nan")), "run_time"),
    (lambda s: s.pop("optimizer"), "missing optimizer"),
])
def test_inconsistent_contents_are_refused_with_the_reason(saved, edit, match):
    path, _, _ = saved
    rewrite(path, edit)
    with pytest.raises(CheckpointError, match=match):
        nt.Trainer.load(path, device="cpu")
    assert not nbtrain_threads()


@pytest.mark.parametrize("layer", ["file", "payload"])
def test_a_compressed_zip_entry_is_refused_before_torch_load_unpacks_it(saved, monkeypatch, layer):
    """torch.load inflates deflated entries to the size they claim (measured: a 256 KB file → 256 MiB);
    nbtrain's files never compress, so a compressed entry is refused from the zip directory alone."""
    import io
    import zipfile

    path, _, _ = saved

    def deflate(raw):
        src = zipfile.ZipFile(io.BytesIO(raw))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for name in src.namelist():
                z.writestr(name, src.read(name))
        return out.getvalue()

    raw = open(path, "rb").read()
    if layer == "file":
        open(path, "wb").write(deflate(raw))
    else:
        import hashlib

        blob = deflate(torch.load(path, weights_only=True)["payload"].numpy().tobytes())
        torch.save({"format": checkpoint.FORMAT, "sha256": hashlib.sha256(blob).hexdigest(),
                    "payload": torch.frombuffer(bytearray(blob), dtype=torch.uint8)}, path)
        real_load = torch.load
        calls = []
        monkeypatch.setattr(torch, "load", lambda *a, **k: calls.append(1) or real_load(*a, **k))
    with pytest.raises(CheckpointError, match=f"{'the payload' if layer == 'payload' else 'the file'} has a compressed entry"):
        nt.Trainer.load(path, device="cpu")
    if layer == "payload":
        assert len(calls) == 1  # the outer archive only: the payload was never unpickled


def test_a_legacy_pickle_file_is_refused(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": 1}, path, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="not a torch.save zip archive"):
        nt.Trainer.load(path, device="cpu")
