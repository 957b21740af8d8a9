"""Checkpoint files: what ``Trainer.save`` writes and ``Trainer.load`` accepts.

A checkpoint is one ``torch.save`` file that ``torch.load(path, weights_only=True)`` reads (tensors and plain
containers only, never code). It holds three entries::

    {"format": 2, "sha256": "<hex>", "payload": <uint8 tensor>}

``payload`` is itself a ``torch.save`` of the run's state (config, weights, optimizer, history, samplers,
the run's random streams) and ``sha256`` its SHA-256: any changed byte of the payload is caught before it is unpickled.

- :func:`snapshot` copies the state at one step boundary (every tensor is copied, nothing refers to the live
  run), so the training thread may go on at once while :func:`write` puts it on disk.
- :func:`write` is atomic: a temporary file in the target's folder, ``fsync``, then ``os.replace``; on any
  error the temporary file is removed and an older file at the path is left as it was. It refuses to replace
  a symbolic link, a directory or anything that is not a regular file, and removes temporary files that
  killed saves left behind. Disk full, permission denied and read-only file systems raise
  :class:`CheckpointError` naming the cause.
- :func:`read` checks the hash, then the structure of the state before anything is built from it: every
  tensor must be contiguous and exactly as large as its storage (a zero-stride ``expand()`` view of a few
  bytes cannot make the loader allocate gigabytes), the history within a row cap (the resource budget's
  ``history_rows``). Before ``torch.load`` runs, the zip directory is read: entries must be stored, not
  compressed (a compressed entry would be unpacked to any size it claims).
- :func:`restore` builds the trainer through its constructor (so the config is validated, including the
  resource budget) and checks every weight, optimizer and sampler tensor against the model it built
  before loading them.

>>> import os, tempfile, nbtrain as nt
>>> path = os.path.join(tempfile.mkdtemp(), "run.pt")
>>> with nt.Trainer(data="spiral", hidden=[8], device="cpu", max_steps=3) as tr:
...     _ = tr.start().wait()
...     _ = tr.save(path)
>>> sorted(torch.load(path, weights_only=True))
['format', 'payload', 'sha256']
>>> with nt.Trainer.load(path, device="cpu") as again:
...     again.global_step
3
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import stat
import time
import warnings
import zipfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .config import ConfigError, TrainConfig
from .history import EVAL_COLUMNS, LAYER_COLUMNS, STEP_COLUMNS

if TYPE_CHECKING:  # pragma: no cover
    from .trainer import Trainer

FORMAT = 2  # the file: {"format", "sha256", "payload"}; format 1 was the bare state without a hash
MAX_HISTORY_ROWS = 20_000_000  # rows per history table a checkpoint may hold (≈ 1 GiB of layer statistics)
MAX_TEXT = 64 * 2**20  # characters of the config / events JSON
TEMP_SUFFIX = ".nbtrain-tmp"
STALE_AFTER_S = 2.0
CHUNK = 2**20  # bytes per write() call  # an unlocked temporary file older than this is a leftover of a killed save

try:  # advisory locks tell a save in progress from the leftover of a killed one
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be written or read: corrupt or changed file, another architecture, a full
    disk, no permission, a target that is not a regular file. The message says what to do."""


# ------------------------------------------------------------------------------------------------------
# snapshot (at a step boundary)
# ------------------------------------------------------------------------------------------------------
def copy_tensors(obj: Any) -> Any:
    """``obj`` with every tensor copied to the CPU (a new, contiguous tensor) and every container copied."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        return t.to("cpu", copy=True).contiguous() if t.device.type != "cpu" else t.clone(memory_format=torch.contiguous_format)
    if isinstance(obj, Mapping):
        return {k: copy_tensors(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [copy_tensors(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(copy_tensors(v) for v in obj)
    return obj


def snapshot(tr: Any) -> dict[str, Any]:
    """Everything needed to resume ``tr`` exactly, copied: call it between two steps (in the training
    thread's boundary, or under the trainer's lock when no step runs)."""
    from .. import __version__

    hist = tr.metrics.state_dict()  # copies
    # The config that trains: non-live fields changed since the last reset, and live changes not yet
    # applied at this boundary, are kept apart and re-applied by restore() as they would be here.
    live = {name: json.loads(json.dumps(value)) for name, value in tr._in_use.items()}
    current = tr.config.to_dict()
    changes = {k: v for k, v in current.items() if k in live and live[k] != v}
    try:
        config_json = json.dumps(live)
    except TypeError as exc:
        raise ConfigError(f"TrainConfig cannot be written as JSON: {exc}") from None
    best = tr._best
    model = tr._user_model if tr._user_model is not None else tr.model
    return {
        "format": FORMAT,
        "nbtrain": __version__,
        "config": config_json,
        "config_changes": json.dumps(changes),
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "user_model": tr._user_model is not None,
        "user_data": tr._user_data is not None,
        "data_name": str(getattr(tr.data, "name", "")),
        "model": copy_tensors(tr.model.state_dict()),
        "initial": copy_tensors(tr.initial_state),
        "optimizer": copy_tensors(tr.optimizer.state_dict()),  # state_dict() refers to the live moments
        "global_step": int(tr.global_step),
        "run_time": float(tr._run_time),
        "history": {"steps": torch.from_numpy(hist["steps"]), "evals": torch.from_numpy(hist["evals"]),
                    "layers": torch.from_numpy(hist["layers"]), "events": json.dumps(hist["events"], default=repr),
                    "layer_names": list(hist["layer_names"])},
        "sampler": copy_tensors(tr._sampler.state()) if tr._sampler is not None else None,
        "rng": copy_tensors(tr._rng_state()),  # the run's own random streams
        "evals_since_best": int(tr._evals_since_best),
        "last_eval_step": int(tr._last_eval_step),
        "sched_start": int(tr._sched_start),
        "best": None if best is None else {"value": float(best[0]), "step": int(best[1]), "weights": copy_tensors(best[2])},
    }


# ------------------------------------------------------------------------------------------------------
# writing
# ------------------------------------------------------------------------------------------------------
def encode(state: dict[str, Any]) -> bytes:
    """The file's bytes for ``state``: the payload, its hash and the format (see the module docstring)."""
    buf = io.BytesIO()
    torch.save(state, buf)
    payload = buf.getbuffer()  # no copy
    try:
        outer = {"format": FORMAT, "sha256": hashlib.sha256(payload).hexdigest(),
                 "payload": torch.frombuffer(payload, dtype=torch.uint8)}
        out = io.BytesIO()
        torch.save(outer, out)
        del outer
    finally:
        payload.release()
    return out.getvalue()


def _target_problem(path: str) -> str | None:
    """Why ``path`` must not be replaced by a checkpoint, or None (absent or a regular file)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return ("is a symbolic link; nbtrain does not replace links (that would cut the link, or write "
                "where it points): save to the real path or to another name")
    if stat.S_ISDIR(st.st_mode):
        return "is a directory: give a file name inside it, e.g. save('<dir>/run.pt')"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file (a device, FIFO or socket): save to a regular file's path"
    return None


def _cause(exc: OSError) -> str:
    code = exc.errno
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        what = "the disk is full" if code == errno.ENOSPC else "the disk quota is exceeded"
        return f"{what} ({exc.strerror or exc}): free some space or save elsewhere"
    if code == errno.EROFS:
        return "the file system is read-only: save to a writable folder"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied: no write access to the folder or the file; save to a folder you can write to"
    if code == errno.ENOENT:
        return "the folder does not exist: create it first"
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def _temp_prefix(path: str) -> str:
    return f".{os.path.basename(path)}."


def clean_stale_temps(path: str) -> list[str]:
    """Remove temporary files that killed saves to ``path`` left in its folder (never one a save in
    progress holds: each writer keeps an exclusive lock on its temporary file). Returns what was removed."""
    directory = os.path.dirname(os.path.abspath(path))
    prefix = _temp_prefix(path)
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
            continue
        full = os.path.join(directory, name)
        try:
            st = os.lstat(full)
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < STALE_AFTER_S:
                continue
            if fcntl is not None:
                fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live writer → BlockingIOError
                    os.unlink(full)
                finally:
                    os.close(fd)
            else:  # pragma: no cover - no locks: only old leftovers
                if now - st.st_mtime < 3600:
                    continue
                os.unlink(full)
            removed.append(full)
        except OSError:
            continue
    return removed


def write(state: dict[str, Any], path: str | os.PathLike) -> str:
    """Write ``state`` to ``path`` atomically; see the module docstring. Returns the path."""
    path = os.fspath(path)
    problem = _target_problem(path)
    if problem:
        raise CheckpointError(f"cannot save the checkpoint: {path!r} {problem}")
    data = encode(state)
    directory = os.path.dirname(os.path.abspath(path))
    clean_stale_temps(path)
    existed = os.path.lexists(path)
    kept = f"; the existing file {path!r} is unchanged" if existed else ""
    tmp = None
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        for _ in range(100):
            tmp = os.path.join(directory, f"{_temp_prefix(path)}{os.getpid()}-{os.urandom(4).hex()}{TEMP_SUFFIX}")
            try:
                fd = os.open(tmp, flags, 0o666)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover
            raise FileExistsError(errno.EEXIST, "no free temporary file name", directory)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            if existed:  # keep the permissions of the file being replaced
                try:
                    os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
                except OSError:
                    pass
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view[:CHUNK]):]
            os.fsync(fd)
            problem = _target_problem(path)  # it may have changed while we wrote
            if problem:
                raise CheckpointError(f"cannot save the checkpoint: {path!r} {problem}")
            os.replace(tmp, path)  # while still holding the lock: the cleaner never sees it unlocked
            tmp = None
        finally:
            os.close(fd)
        _fsync_dir(directory)
    except CheckpointError:
        raise
    except OSError as exc:
        raise CheckpointError(f"could not save the checkpoint to {path!r}: {_cause(exc)}{kept}") from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return path


def _fsync_dir(directory: str) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------------
# reading and validation
# ------------------------------------------------------------------------------------------------------
def _fail(path: str, what: str) -> CheckpointError:
    return CheckpointError(f"{path!r} is not a valid nbtrain checkpoint: {what}")


def check_tensor(t: Any, where: str, path: str, dtype: torch.dtype | None = None, ndim: int | None = None) -> torch.Tensor:
    """``t`` must be a dense CPU tensor that owns exactly its storage: contiguous, offset 0, and as many
    bytes of storage as its shape needs. A view (e.g. ``expand()`` with zero strides) could make a few
    bytes in the file stand for gigabytes once anything copies it."""
    if not isinstance(t, torch.Tensor):
        raise _fail(path, f"{where} should be a tensor, found {type(t).__name__}")
    if t.layout != torch.strided or t.is_quantized or getattr(t, "is_nested", False) or t.device.type != "cpu":
        raise _fail(path, f"{where} is a {t.layout} / {t.device.type} tensor; only dense tensors are accepted")
    need = t.numel() * t.element_size()
    have = t.untyped_storage().nbytes()
    if not t.is_contiguous() or t.storage_offset() != 0 or have != need:
        raise _fail(path, f"{where} (shape {tuple(t.shape)}, strides {t.stride()}) does not match its storage "
                          f"of {have} bytes (needs {need}): a zero-stride or partial view such as expand(); "
                          f"nbtrain writes only contiguous tensors")
    if dtype is not None and t.dtype != dtype:
        raise _fail(path, f"{where} has dtype {t.dtype}, expected {dtype}")
    if ndim is not None and t.dim() != ndim:
        raise _fail(path, f"{where} has {t.dim()} dimensions, expected {ndim}")
    return t


_LEAF = (str, int, float, bool, type(None))


def _check_tree(obj: Any, where: str, path: str, depth: int = 0) -> None:
    """Every tensor anywhere in the state owns its storage; containers are plain and not absurdly deep."""
    if depth > 32:
        raise _fail(path, f"{where} is nested more than 32 levels deep")
    if isinstance(obj, torch.Tensor):
        check_tensor(obj, where, path)
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise _fail(path, f"{where} has a key of type {type(k).__name__}")
            _check_tree(v, f"{where}[{k!r}]", path, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _check_tree(v, f"{where}[{i}]", path, depth + 1)
    elif not isinstance(obj, _LEAF + (torch.Size,)):
        raise _fail(path, f"{where} holds a {type(obj).__name__}")


def _int(state: dict, key: str, path: str, low: int = 0, default: Any = ...) -> int:
    v = state.get(key, default)
    if v is ...:
        raise _fail(path, f"{key!r} is missing")
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= 10**15:
        raise _fail(path, f"{key!r} = {v!r} should be an integer in [{low}, 1e15]")
    return v


def _text(v: Any, where: str, path: str) -> str:
    if not isinstance(v, str) or len(v) > MAX_TEXT:
        raise _fail(path, f"{where} should be a JSON text of at most {MAX_TEXT} characters")
    return v


def _json(v: Any, where: str, path: str) -> Any:
    try:
        return json.loads(_text(v, where, path))
    except (ValueError, RecursionError) as exc:
        raise _fail(path, f"{where} is not valid JSON ({type(exc).__name__})") from None


def _check_weights(d: Any, where: str, path: str) -> dict[str, torch.Tensor]:
    if not isinstance(d, Mapping) or not all(isinstance(k, str) for k in d):
        raise _fail(path, f"{where} should map parameter names to tensors")
    for k, v in d.items():
        check_tensor(v, f"{where}[{k!r}]", path)
    return dict(d)


def _check_history(h: Any, path: str, max_rows: int) -> dict[str, Any]:
    if not isinstance(h, Mapping):
        raise _fail(path, "'history' is missing")
    out: dict[str, Any] = {}
    for key, cols in (("steps", STEP_COLUMNS), ("evals", EVAL_COLUMNS), ("layers", LAYER_COLUMNS)):
        t = check_tensor(h.get(key), f"history[{key!r}]", path, dtype=torch.float64, ndim=2)
        if t.shape[0] != len(cols):
            raise _fail(path, f"history[{key!r}] has {t.shape[0]} columns, expected {len(cols)} ({', '.join(cols)})")
        if t.shape[1] > max_rows:
            raise _fail(path, f"history[{key!r}] has {t.shape[1]} rows, more than the limit of {max_rows} "
                              f"(the resource budget's history_rows, NBTRAIN_BUDGET='history_rows=…' raises it; "
                              f"at most nbtrain.engine.checkpoint.MAX_HISTORY_ROWS)")
        out[key] = t.numpy()
    events = _json(h.get("events"), "history['events']", path)
    if not isinstance(events, list) or not all(isinstance(e, dict) and isinstance(e.get("step"), int)
                                               and isinstance(e.get("field"), str) for e in events):
        raise _fail(path, "history['events'] should be a list of {step, field, old, new} records")
    out["events"] = events
    names = h.get("layer_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise _fail(path, "history['layer_names'] should be a list of strings")
    out["layer_names"] = names
    return out


def _check_optimizer(o: Any, path: str) -> dict[str, Any]:
    if not isinstance(o, Mapping) or not isinstance(o.get("state"), Mapping) or not isinstance(o.get("param_groups"), list):
        raise _fail(path, "'optimizer' should be an optimizer state_dict (state, param_groups)")
    for i, g in enumerate(o["param_groups"]):
        if not isinstance(g, Mapping) or not isinstance(g.get("params"), list) or not all(
                isinstance(p, int) and not isinstance(p, bool) for p in g["params"]):
            raise _fail(path, f"optimizer param group {i} should list its parameters by index")
        for k, v in g.items():
            if k != "params" and not (isinstance(v, _LEAF) or isinstance(v, (list, tuple)) and all(isinstance(x, _LEAF) for x in v)):
                raise _fail(path, f"optimizer param group {i}: {k!r} should be a number, text or tuple of numbers")
    for idx, s in o["state"].items():
        if not isinstance(idx, int) or not isinstance(s, Mapping):
            raise _fail(path, "optimizer state should map parameter indices to their state")
    return dict(o)


def read(path: str | os.PathLike, max_history_rows: int | None = None) -> dict[str, Any]:
    """The verified, validated state of the checkpoint at ``path`` (see the module docstring).

    Raises :class:`CheckpointError` for anything but a checkpoint ``Trainer.save`` wrote (and
    ``FileNotFoundError`` when there is no file)."""
    path = os.fspath(path)
    max_rows = history_row_cap() if max_history_rows is None else int(max_history_rows)
    try:
        # O_NONBLOCK: opening a FIFO must not hang; fstat then says what it is
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint {path!r}: {_cause(exc) if exc.errno != errno.ENOENT else exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(f"cannot read the checkpoint {path!r}: "
                                  f"{'it is a directory' if stat.S_ISDIR(st.st_mode) else 'not a regular file'}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read()
    except OSError as exc:
        raise CheckpointError(f"cannot read the checkpoint {path!r}: {_cause(exc)}") from exc
    finally:
        os.close(fd)
    outer = _torch_load(raw, path)
    del raw
    if isinstance(outer, Mapping) and outer.get("format") == 1 and "payload" not in outer:
        warnings.warn(f"{path!r} was saved by an older nbtrain (format 1) without a content hash: its integrity "
                      f"cannot be verified; save it again to add one", UserWarning, stacklevel=3)
        state = dict(outer)
    else:
        state = _unwrap(outer, path)
    del outer
    return validate(state, path, max_rows)


def history_row_cap() -> int:
    """Rows per history table a checkpoint may hold: the resource budget's ``history_rows`` (a run keeps
    at most that many, see :mod:`nbtrain.engine.budget`) when there is one, never above MAX_HISTORY_ROWS."""
    try:
        from .budget import history_rows
    except ImportError:
        return MAX_HISTORY_ROWS
    return min(MAX_HISTORY_ROWS, int(history_rows()) + 4096)  # + a step's per-layer rows beyond the limit


def _check_archive(raw: bytes, path: str, what: str) -> None:
    """``raw`` must be a torch.save zip archive whose entries are stored, not compressed: torch.load would
    inflate a compressed entry to whatever size it claims (a 256 KB file unpacks to 256 MiB) before any
    check of ours could run. Reads only the zip's directory."""
    if raw[:4] != b"PK\x03\x04":
        raise CheckpointError(f"{path!r} is not an nbtrain checkpoint (not a torch.save zip archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, IndexError) as exc:
        raise CheckpointError(f"{path!r} is not a readable nbtrain checkpoint (truncated or corrupt?): "
                              f"{type(exc).__name__}: {str(exc)[:200]}") from exc
    total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise _fail(path, f"{what} has a compressed entry ({info.filename[-60:]!r}, {info.file_size} bytes "
                              f"unpacked); torch.save never compresses, and unpacking could take far more memory "
                              f"than the file's size")
        total += info.file_size
    if total > len(raw) or len(infos) > 100_000:
        raise _fail(path, f"{what}'s entries claim {total} bytes in a file of {len(raw)}")


def _torch_load(raw: bytes, path: str, what: str = "the file") -> Any:
    _check_archive(raw, path, what)
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path!r} is not a readable nbtrain checkpoint (truncated or corrupt?): "
                              f"{type(exc).__name__}: {str(exc)[:300]}") from exc


def _unwrap(outer: Any, path: str) -> dict[str, Any]:
    if not isinstance(outer, Mapping) or "format" not in outer:
        raise CheckpointError(f"{path!r} is not an nbtrain checkpoint (format {FORMAT})")
    fmt = outer.get("format")
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > FORMAT:
        raise CheckpointError(f"{path!r} has checkpoint format {fmt}, newer than this nbtrain reads ({FORMAT}): "
                              f"upgrade nbtrain")
    if fmt != FORMAT or set(outer) != {"format", "sha256", "payload"}:
        raise CheckpointError(f"{path!r} is not an nbtrain checkpoint (format {FORMAT})")
    payload = check_tensor(outer["payload"], "the payload", path, dtype=torch.uint8, ndim=1)
    digest = outer["sha256"]
    if not isinstance(digest, str) or hashlib.sha256(memoryview(payload.numpy())).hexdigest() != digest:
        raise CheckpointError(f"{path!r} is damaged: its content does not match the hash stored in it "
                              f"(a changed or corrupted byte); use another copy of the file")
    blob = payload.numpy().tobytes()
    del payload
    if isinstance(outer, dict):
        outer.clear()  # the caller's reference too: at most two copies of the payload are alive
    state = _torch_load(blob, path, "the payload")
    if not isinstance(state, Mapping) or state.get("format") != FORMAT:
        raise _fail(path, "the payload is not an nbtrain run state")
    return dict(state)


REQUIRED = ("config", "model", "initial", "optimizer", "global_step", "run_time", "history", "sampler",
            "evals_since_best")


def validate(state: dict[str, Any], path: str, max_rows: int = MAX_HISTORY_ROWS) -> dict[str, Any]:
    """Check the structure of a state before anything is allocated from it; returns it with the history
    as numpy arrays and the JSON fields parsed."""
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise _fail(path, f"missing {', '.join(missing)}")
    _check_tree(state, "state", path)  # every tensor, wherever it is, owns its storage
    out = dict(state)
    out["config"] = _json(state["config"], "'config'", path)
    if not isinstance(out["config"], dict):
        raise _fail(path, "'config' should be a JSON object of TrainConfig fields")
    changes = _json(state.get("config_changes", "{}"), "'config_changes'", path)
    if not isinstance(changes, dict):
        raise _fail(path, "'config_changes' should be a JSON object")
    out["config_changes"] = changes
    out["model"] = _check_weights(state["model"], "model", path)
    out["initial"] = _check_weights(state["initial"], "initial", path)
    out["optimizer"] = _check_optimizer(state["optimizer"], path)
    out["global_step"] = _int(state, "global_step", path)
    rt = state["run_time"]
    if isinstance(rt, bool) or not isinstance(rt, (int, float)) or not (math.isfinite(rt) and rt >= 0):
        raise _fail(path, f"'run_time' = {rt!r} should be a finite number ≥ 0")
    out["run_time"] = float(rt)
    out["history"] = _check_history(state["history"], path, max_rows)
    s = state["sampler"]
    if s is not None:
        if not isinstance(s, Mapping) or set(s) != {"gen", "perm", "pos", "epochs_done"}:
            raise _fail(path, "'sampler' should hold gen, perm, pos, epochs_done")
        check_tensor(s["gen"], "sampler['gen']", path, dtype=torch.uint8, ndim=1)
        check_tensor(s["perm"], "sampler['perm']", path, dtype=torch.int64, ndim=1)
        _int(s, "pos", path)
        _int(s, "epochs_done", path, low=-1)
    r = state.get("rng")  # absent in format 1 (it kept the process's global generators): fresh streams
    if r is not None:
        streams = r.get("streams") if isinstance(r, Mapping) else None
        if not isinstance(streams, Mapping) or not isinstance(streams.get("cpu"), torch.Tensor):
            raise _fail(path, "'rng' should hold the run's random streams")
        for name, g in streams.items():
            check_tensor(g, f"rng['streams'][{name!r}]", path, dtype=torch.uint8, ndim=1)
        cpu_size = torch.Generator().get_state().numel()
        if streams["cpu"].numel() != cpu_size:
            raise _fail(path, f"its CPU random stream has {streams['cpu'].numel()} bytes, expected {cpu_size}")
    out["evals_since_best"] = _int(state, "evals_since_best", path)
    if "last_eval_step" in state:
        _int(state, "last_eval_step", path, low=-(10**12))
    if "sched_start" in state:
        out["sched_start"] = _int(state, "sched_start", path)
    b = state.get("best")
    if b is not None:
        if not isinstance(b, Mapping) or set(b) != {"value", "step", "weights"} or not isinstance(b["value"], float):
            raise _fail(path, "'best' should hold value, step, weights")
        _int(b, "step", path)
        _check_weights(b["weights"], "best['weights']", path)
    for key in ("user_model", "user_data"):
        if not isinstance(state.get(key, False), bool):
            raise _fail(path, f"{key!r} should be True or False")
    return out


# ------------------------------------------------------------------------------------------------------
# restoring a trainer
# ------------------------------------------------------------------------------------------------------
def _short_class(name: str) -> str:
    return name.rsplit(".", 1)[-1] or "YourModel"


def _compare_weights(saved: dict[str, torch.Tensor], model_state: dict[str, torch.Tensor]) -> list[str]:
    """Differences between saved weights and a model's state_dict, as short phrases."""
    problems = []
    missing = [k for k in model_state if k not in saved]
    unexpected = [k for k in saved if k not in model_state]
    if missing:
        problems.append(f"the model has {len(missing)} tensor(s) the file lacks ({', '.join(missing[:4])}"
                        f"{', …' if len(missing) > 4 else ''})")
    if unexpected:
        problems.append(f"the file has {len(unexpected)} tensor(s) the model lacks ({', '.join(unexpected[:4])}"
                        f"{', …' if len(unexpected) > 4 else ''})")
    shapes = [f"{k}: file {tuple(saved[k].shape)} vs model {tuple(v.shape)}"
              for k, v in model_state.items() if k in saved and tuple(saved[k].shape) != tuple(v.shape)]
    if shapes:
        problems.append(f"{len(shapes)} shape(s) differ ({'; '.join(shapes[:3])}{'; …' if len(shapes) > 3 else ''})")
    return problems


def _architecture_error(path: str, state: dict, model: nn.Module | None, built: nn.Module, problems: list[str]) -> CheckpointError:
    saved_class = state.get("model_class", "")
    config = state["config"]
    if state.get("user_model") and model is None:
        name = _short_class(saved_class)
        return CheckpointError(
            f"{path!r} was saved from a run on your own model ({name}); nbtrain can only rebuild its built-in "
            f"models from the config. Pass the same architecture again: Trainer.load(path, model={name}(...)"
            f"{', data=...' if state.get('user_data') else ''}) (the weights are loaded into it)")
    what = f"your model ({type(model).__name__})" if model is not None else (
        f"the model built from the file's config (model={config.get('model')!r}, hidden={config.get('hidden')})")
    hint = (f"pass a model of the architecture it was saved from ({_short_class(saved_class)})" if state.get("user_model")
            else "load it without model= (the file's config rebuilds its architecture), or pass a model with the same layers")
    return CheckpointError(f"{path!r} holds weights of another architecture than {what}: {'; '.join(problems)}. {hint}")


def restore(cls: type, path: str | os.PathLike, model: nn.Module | None = None, data: Any = None,
            val_data: Any = None, device: Any = "auto", **kw: Any) -> Any:
    """A ``cls`` (Trainer) resumed from the checkpoint at ``path``, paused where it was saved."""
    path = os.fspath(path)
    state = read(path)
    if state.get("user_model") and model is None:
        raise _architecture_error(path, state, None, None, [])  # type: ignore[arg-type]
    if state.get("user_data") and data is None:
        raise CheckpointError(f"{path!r} was saved from a run on your own data, which a checkpoint does not "
                              f"hold: pass it again, Trainer.load(path, {'model=..., ' if model is not None else ''}"
                              f"data=..., val_data=...)")
    try:
        config = TrainConfig.from_dict(state["config"])
    except (ConfigError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path!r} holds a config this nbtrain refuses: {exc}") from exc
    try:
        tr = cls(model=model, data=data, val_data=val_data, config=config, device=device, **kw)
    except ConfigError as exc:  # e.g. the resource budget
        raise CheckpointError(f"{path!r} describes a run that is not allowed here: {exc}") from exc
    try:
        # live swaps of a user model (activation, ...) before its weights; `config` is the trainer's own now
        tr._restore_architecture(TrainConfig.from_dict(state["config"]))
        _load_into(tr, state, path, model)
    except BaseException:
        tr.close()
        raise
    return tr


def _load_into(tr: Any, state: dict[str, Any], path: str, model: nn.Module | None) -> None:
    model_state = tr.model.state_dict()
    problems = _compare_weights(state["model"], model_state)
    if problems:
        raise _architecture_error(path, state, model, tr.model, problems)
    # weights kept from earlier in the run may predate a live swap (relu → prelu adds a slope): the tensors
    # they share with the model must have its shapes
    for what, kept in (("initial", state["initial"]), ("best-on-validation", (state.get("best") or {}).get("weights", {}))):
        shapes = [k for k, v in kept.items() if k in model_state and tuple(v.shape) != tuple(model_state[k].shape)]
        if shapes:
            raise _fail(path, f"its {what} weights do not fit the model ({', '.join(shapes[:4])})")
    _check_optimizer_against(tr.optimizer, state["optimizer"], path)
    sampler = state["sampler"]
    if sampler is not None and tr._sampler is not None:
        n = tr._sampler.n
        perm = sampler["perm"]
        if perm.numel() != n or (n and (int(perm.min()) < 0 or int(perm.max()) >= n)) or sampler["pos"] > n:
            raise _fail(path, f"its batch sampler does not fit the {n} training examples (different data?)")
        if sampler["gen"].numel() != tr._sampler.gen.get_state().numel():
            raise _fail(path, "its batch sampler's generator state has the wrong size")
    try:
        tr.model.load_state_dict(state["model"])
        tr.optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise _fail(path, f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    tr.initial_state = {k: v.to(tr.device) for k, v in state["initial"].items()}
    tr.global_step = state["global_step"]
    tr._run_time = state["run_time"]
    tr.metrics.load_state_dict(state["history"])
    if "sched_start" in state:  # a schedule chosen mid-run resumes where it was
        tr._sched_start = state["sched_start"]
    else:  # format 1: the last schedule change logged
        starts = [int(e["step"]) for e in tr.metrics.events if e.get("field") == "schedule"]
        tr._sched_start = starts[-1] if starts else 0
    tr._make_schedule()
    if sampler is not None and tr._sampler is not None:
        tr._sampler.load(sampler)
    try:
        tr._load_rng_state(state.get("rng"))
    except (RuntimeError, ValueError, KeyError) as exc:
        raise _fail(path, f"its random streams cannot be restored: {type(exc).__name__}: {str(exc)[:200]}") from exc
    tr._evals_since_best = state["evals_since_best"]
    if "last_eval_step" in state:
        tr._last_eval_step = int(state["last_eval_step"])
    elif tr.metrics.evals.n:  # format 1: the last evaluation logged
        tr._last_eval_step = int(tr.metrics.evals.column("step")[-1])
    best = state.get("best")
    if best is not None:
        tr._best = (best["value"], best["step"], {k: v.to(tr.device) for k, v in best["weights"].items()})
    tr._state = "paused" if tr.global_step else "idle"
    changes = state["config_changes"]
    if changes:
        from .budget import BudgetError

        try:
            tr.config.update(**changes)
        except BudgetError as exc:  # a file must not ask a server for more than its budget, even for later
            raise CheckpointError(f"{path!r} describes a run that is not allowed here: {exc}") from exc
        except (ConfigError, ValueError) as exc:
            warnings.warn(f"{path!r}: the config changes made after its last reset ({', '.join(changes)}) were "
                          f"not re-applied: {exc}", UserWarning, stacklevel=3)


def _check_optimizer_against(opt: torch.optim.Optimizer, saved: dict[str, Any], path: str) -> None:
    groups = opt.param_groups
    sgroups = saved["param_groups"]
    if len(groups) != len(sgroups) or any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, sgroups)):
        raise _fail(path, f"its optimizer has {len(sgroups)} parameter group(s) of "
                          f"{[len(s['params']) for s in sgroups]} parameters; this model's optimizer has "
                          f"{len(groups)} of {[len(g['params']) for g in groups]}")
    index_to_param = {}
    for g, s in zip(groups, sgroups):
        index_to_param.update(zip(s["params"], g["params"]))
    for idx, entry in saved["state"].items():
        p = index_to_param.get(idx)
        if p is None:
            raise _fail(path, f"its optimizer state refers to parameter {idx}, which no group lists")
        for k, v in entry.items():
            if isinstance(v, torch.Tensor) and v.dim() > 0 and tuple(v.shape) != tuple(p.shape):
                raise _fail(path, f"optimizer state {k!r} of parameter {idx} has shape {tuple(v.shape)}, "
                                  f"the parameter {tuple(p.shape)}")


# ----------------------------------------------------------------------------------------------------
# the trainer's side: save / load
# ----------------------------------------------------------------------------------------------------
class CheckpointMixin:
    """``Trainer.save`` / ``Trainer.load`` over :func:`snapshot`, :func:`write` and :func:`restore`, and the
    run's own random streams that a checkpoint carries."""

    def save(self, path: str | os.PathLike) -> str:
        """Write config, model, optimizer, schedule position, history and RNG states atomically.

        The state is copied at one step boundary (the run goes on while the file is written); the file
        holds only tensors and plain containers, so ``torch.load(weights_only=True)`` reads it, and a
        content hash that ``load`` verifies. Raises :class:`CheckpointError` when it cannot be written
        (disk full, no permission, a symbolic link or non-regular file at ``path``); an older file stays.
        """
        def snap(_m: nn.Module) -> dict[str, Any]:
            self._flush(act=False)  # the steps whose losses are still on the device belong in the file
            return snapshot(self)

        state = self._command("call", snap).result(30)
        return write(state, path)

    def _rng_state(self) -> dict[str, Any]:
        """The run's own random streams (not the process's global ones), for an exact resume."""
        return {"streams": self._rng.state_dict(), "mixup": json.dumps(self._lam_rng.bit_generator.state)}

    def _load_rng_state(self, state: dict[str, Any] | None) -> None:
        if not state:  # older files kept the global generators' states instead: fresh streams from the seed
            return
        streams = state["streams"]
        if "mixup" in state:
            self._lam_rng.bit_generator.state = json.loads(state["mixup"])
        self._rng.cpu.set_state(streams["cpu"])
        try:
            self._rng.device.set_state(streams["device"])
        except (RuntimeError, ValueError):  # saved on another kind of device: its stream starts afresh
            self.metrics.log_event(self.global_step, "rng", None, "device stream restarted (checkpoint from another device)")

    @classmethod
    def load(cls, path: str | os.PathLike, model: nn.Module | None = None, data: Any = None, val_data: Any = None,
             device: str | torch.device = "auto", **kw: Any) -> Trainer:
        """Rebuild a trainer from ``save(path)`` and resume exactly where it was (paused state).

        Pass ``model``/``data`` again when the run used your own (only built-ins are rebuilt from the config).
        The file is verified (hash, tensor sizes, shapes against the model) before anything is built from
        it; :class:`CheckpointError` says what is wrong and what to pass.
        """
        return restore(cls, path, model=model, data=data, val_data=val_data, device=device, **kw)
