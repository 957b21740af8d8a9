"""The resource budget: how big a model, a run's memory, its history and a demo may get.

A served notebook (Voilà, JupyterHub, Binder) lets visitors type sizes; a shared checkpoint carries a
config. Neither may take the machine down, so every size nbtrain allocates for a config is checked
against one budget — at construction (``TrainConfig``, ``Trainer``, hence ``Trainer.load``, which builds
a Trainer from the file's config), on every live change (``batch_size``, ``hidden``, ...) and in the demos —
and a refusal (:class:`BudgetError`, a ``ConfigError``) names the value, the estimate, the limit and how to
raise it. The defaults fit a laptop or a Binder instance (≈ 2 GB of memory):

=================  ===========  ====================================================================
limit              default      what it bounds
=================  ===========  ====================================================================
``params``         50 M         parameters of a model built from the config (exact: built on the
                                ``meta`` device, which allocates nothing)
``memory``         2 GiB        estimated training memory: weights, gradients and optimizer state,
                                activations at the batch size (forward + backward), the data
``samples``        1 M          examples a built-in toy dataset generates (``n_samples``)
``history_rows``   1 M          rows per history table; beyond, older rows are compacted (every
                                second one kept) so unbounded runs stay bounded
``demo_points``    10 M         numbers one demo computes per change (e.g. steps × schedules)
=================  ===========  ====================================================================

Whoever starts the server raises (or lowers) them with the environment variable ``NBTRAIN_BUDGET``, e.g.
``NBTRAIN_BUDGET="params=200M,memory=16GiB,history_rows=10M"``, or in Python before building anything
(``nbtrain.engine.budget.configure(memory="8GiB")``, e.g. in an IPython startup file); a visitor can do
neither. ``NBTRAIN_BUDGET=unlimited`` turns the checks off (a trusted, single-user machine).

>>> b = Budget.parse("params=1e6, memory=512MiB")
>>> b.params, b.memory
(1000000, 536870912)
>>> check_params(4_295_098_369, "hidden=[65536, 65536]", Budget())
Traceback (most recent call last):
...
nbtrain.engine.budget.BudgetError: hidden=[65536, 65536] needs 4.3e+09 parameters; the resource budget allows 5e+07 (params). Whoever starts the server can raise it: NBTRAIN_BUDGET='params=…' (see the README, "Serving nbtrain")
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass, fields, replace
from typing import Any

from .config import ConfigError

ENV = "NBTRAIN_BUDGET"
GiB = 1024**3


class BudgetError(ConfigError):
    """A size beyond the resource budget (a ``ConfigError``, hence a ``ValueError``)."""


@dataclass(frozen=True)
class Budget:
    params: int = 50_000_000
    memory: int = 2 * GiB  # bytes
    samples: int = 1_000_000
    history_rows: int = 1_000_000
    demo_points: int = 10_000_000

    _UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
              "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}

    @classmethod
    def parse(cls, text: str, base: Budget | None = None) -> Budget:
        """``"params=200M, memory=16GiB"`` → a Budget (unnamed limits from ``base``, else the defaults)."""
        base = base or cls()
        text = (text or "").strip()
        if text.lower() in ("unlimited", "off", "none"):
            return cls.unlimited()
        names = [f.name for f in fields(cls)]
        changes: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in re.split(r"[,;]", text))):
            key, sep, value = part.partition("=")
            key = key.strip().lower().replace("-", "_")
            if key == "memory_mb":  # memory_mb=4096
                key, value = "memory", value.strip() + "MiB"
            if not sep or key not in names:
                raise ValueError(f"{ENV}: {part!r} is not NAME=VALUE with NAME one of {', '.join(names)}")
            m = re.fullmatch(r"\s*([0-9.]+(?:e[0-9]+)?)\s*([a-z]*)\s*", value.lower())
            if not m or m.group(2) not in cls._UNITS:
                raise ValueError(f"{ENV}: {part!r}: the value must be a number with an optional unit "
                                 "(k, M, G; KiB, MiB, GiB for memory), e.g. params=200M, memory=16GiB")
            number = float(m.group(1)) * cls._UNITS[m.group(2)]
            if not math.isfinite(number) or number < 1:
                raise ValueError(f"{ENV}: {part!r} must be at least 1")
            changes[key] = int(number)
        return replace(base, **changes)

    @classmethod
    def unlimited(cls) -> Budget:
        big = 2**62
        return cls(params=big, memory=big, samples=big, history_rows=big, demo_points=big)

    @property
    def is_unlimited(self) -> bool:
        return self.params >= 2**62


_lock = threading.Lock()
_current: Budget | None = None


def current() -> Budget:
    """The budget in force: :func:`configure`'s, else ``NBTRAIN_BUDGET``'s, else the defaults."""
    global _current
    with _lock:
        if _current is None:
            _current = Budget.parse(os.environ.get(ENV, ""))
        return _current


def configure(budget: Budget | str | None = None, **limits: Any) -> Budget:
    """Set the budget for this process (the server owner's startup code): a :class:`Budget`, a text like
    ``NBTRAIN_BUDGET``'s, or keyword limits (``configure(memory="8GiB", params=2e8)``); ``configure()``
    goes back to the environment/defaults. Returns the budget in force."""
    global _current
    with _lock:
        if budget is None and not limits:
            _current = None
    if budget is None and not limits:
        return current()
    base = budget if isinstance(budget, Budget) else Budget.parse(budget or "", Budget.parse(os.environ.get(ENV, "")))
    if limits:
        base = Budget.parse(",".join(f"{k}={v}" for k, v in limits.items()), base)
    with _lock:
        _current = base
    return base


def _fmt(n: float) -> str:
    return f"{n:.2g}" if n >= 1e5 else f"{n:,.0f}"


def _bytes(n: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def _refuse(what: str, needs: str, allows: str, limit: str) -> BudgetError:
    return BudgetError(f"{what} needs {needs}; the resource budget allows {allows} ({limit}). Whoever starts the "
                       f"server can raise it: {ENV}='{limit}=…' (see the README, \"Serving nbtrain\")")


def check_params(n: int, what: str, budget: Budget | None = None) -> None:
    b = budget or current()
    if n > b.params:
        raise _refuse(what, f"{_fmt(n)} parameters", _fmt(b.params), "params")


def check_memory(n_bytes: float, what: str, budget: Budget | None = None) -> None:
    b = budget or current()
    if n_bytes > b.memory:
        raise _refuse(what, f"≈ {_bytes(n_bytes)} of memory", _bytes(b.memory), "memory")


def check_samples(n: int, what: str, budget: Budget | None = None) -> None:
    b = budget or current()
    if n > b.samples:
        raise _refuse(what, f"{_fmt(n)} generated examples", _fmt(b.samples), "samples")


def check_demo(points: float, what: str, budget: Budget | None = None) -> None:
    """A demo computing ``points`` numbers for one change (``what`` names the inputs)."""
    b = budget or current()
    if points > b.demo_points:
        raise _refuse(what, f"{_fmt(points)} computed values", _fmt(b.demo_points), "demo_points")


def history_rows() -> int:
    return current().history_rows


# ---- models from a config ----------------------------------------------------------------------------

OPTIMIZER_SLOTS = {"sgd": 0, "momentum": 1, "nesterov": 1, "adagrad": 1, "rmsprop": 1, "adam": 2, "adamw": 2}


_RANDOM = {"uniform_", "normal_", "bernoulli_", "random_", "exponential_", "geometric_", "log_normal_", "cauchy_",
           "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal", "bernoulli",
           "multinomial"}


def _no_random_init_mode() -> Any:
    from torch.overrides import TorchFunctionMode

    class NoRandomInit(TorchFunctionMode):
        """(this thread only) random fills and draws become no-ops / empty tensors: shapes are all an estimate
        needs, and no generator — global or a run's — is touched."""

        def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            import torch

            target = args[0] if args else kwargs.get("tensor")  # (torch.nn.init passes it by keyword)
            if (name.endswith("_") and isinstance(target, torch.Tensor) and target.is_meta
                    and (name in _RANDOM or getattr(func, "__module__", "") == "torch.nn.init")):
                return target  # an in-place (random) fill of a meta tensor: nothing to fill
            if name in _RANDOM:

                kwargs.pop("generator", None)
                if name.endswith("_like"):
                    return torch.empty_like(args[0])
                if name in ("rand", "randn"):
                    return torch.empty(*args, **kwargs)
            return func(*args, **kwargs)

    return NoRandomInit()


class _NoRandomInit:
    def __enter__(self) -> Any:
        self._mode = _no_random_init_mode()
        return self._mode.__enter__()

    def __exit__(self, *exc: Any) -> Any:
        return self._mode.__exit__(*exc)


@dataclass
class Estimate:
    params: int
    activations_per_example: int  # numbers kept per example for the backward pass (an upper estimate)
    model: str

    def memory(self, batch_size: int, optimizer: str, data_bytes: int = 0) -> float:
        slots = OPTIMIZER_SLOTS.get(optimizer, 2)
        # weights + gradients + optimizer state; activations forward and their gradients; the batch itself
        return 4.0 * self.params * (2 + slots) + 4.0 * 2 * batch_size * self.activations_per_example + data_bytes


def estimate(model_name: str, input_shape: tuple[int, ...], num_classes: int, hidden: list[int],
             **model_kw: Any) -> Estimate:
    """Parameters and activations of built-in model ``model_name`` — built on the ``meta`` device
    (shapes only, nothing allocated), so the count is exact."""
    import torch

    from . import models

    with torch.device("meta"), _NoRandomInit():
        net = models.make(model_name, tuple(input_shape), num_classes, hidden=list(hidden), **model_kw)
    n = sum(p.numel() for p in net.parameters())
    acts = [0]

    def hook(_m: Any, _i: Any, out: Any) -> None:
        if isinstance(out, torch.Tensor):
            acts[0] += out[0].numel() if out.dim() else 1

    handles = [m.register_forward_hook(hook) for m in net.modules() if not list(m.children())]
    try:
        net.eval()
        with torch.no_grad():
            net(torch.empty((2, *input_shape), device="meta"))
        per_example = acts[0] + math.prod(input_shape)
    except Exception:  # a layer without a meta kernel: bound by the widths instead
        per_example = math.prod(input_shape) + 4 * (sum(hidden) + num_classes)
    finally:
        for h in handles:
            h.remove()
    name = model_name if model_name != "auto" else ("cnn" if len(input_shape) == 3 else "mlp")
    return Estimate(int(n), int(per_example), name)


def describe_change(field: str, value: Any) -> str:
    return f"TrainConfig.{field} = {value!r}"


def check_config(cfg: Any, field: str | None = None, value: Any = None, *, input_shape: tuple[int, ...] | None = None,
                 num_classes: int | None = None, data_bytes: int = 0, user_params: int | None = None,
                 budget: Budget | None = None) -> None:
    """Refuse a config (or the change ``field = value`` to it) whose model or memory is beyond the budget.

    Shapes default to what the config's trainer reported (``cfg._budget_context``), else a small 2-D input.
    """
    b = budget or current()
    if b.is_unlimited:
        return
    ctx = dict(getattr(cfg, "_budget_context", None) or {})
    values = {name: getattr(cfg, name) for name in ("model", "hidden", "batch_size", "optimizer", "n_samples",
                                                    "dropconnect")}
    if field is not None:
        values[field] = value
    what = describe_change(field, value) if field is not None else "the config"
    if field != "hidden":
        what += f" with hidden={list(values['hidden'])}"
    if values["n_samples"] is not None and not ctx.get("user_data"):
        check_samples(int(values["n_samples"]), what, b)
    shape = tuple(input_shape or ctx.get("input_shape") or ((1, 8, 8) if values["model"] == "cnn" else (2,)))
    classes = int(num_classes or ctx.get("num_classes") or 10)
    data_bytes = data_bytes or int(ctx.get("data_bytes", 0))
    user_params = user_params if user_params is not None else ctx.get("user_params")
    if user_params is not None:  # the notebook's own module: only the memory it needs at this batch size
        per_example = int(ctx.get("user_activations", 0)) or 4 * math.prod(shape)
        est = Estimate(int(user_params), per_example, "your model")
    else:
        if values["model"] == "cnn" and len(shape) != 3:
            return  # the model cannot be built for this data anyway: the trainer reports that
        try:
            est = estimate(values["model"], shape, classes, list(values["hidden"]))
        except (ValueError, TypeError):
            return  # an invalid combination is refused elsewhere, with its own message
        check_params(est.params, f"{what} (a {est.model} on {'×'.join(map(str, shape))} inputs, {classes} classes)", b)
    need = est.memory(int(values["batch_size"]), str(values["optimizer"]), data_bytes)
    check_memory(need, f"{what} (a {est.model} with {_fmt(est.params)} parameters, batch size "
                       f"{values['batch_size']}, optimizer {values['optimizer']})", b)


def set_context(cfg: Any, **ctx: Any) -> None:
    """What a trainer knows about its data and model, for the checks of later changes to ``cfg``."""
    object.__setattr__(cfg, "_budget_context", ctx)


def _data_bytes(data: Any) -> int:
    """Bytes of the tensors a trainer's data holds (TensorDataset-like splits; 0 when unknown)."""
    total = 0
    for split in (getattr(data, "train", None), getattr(data, "val", None)):
        for t in getattr(split, "tensors", ()) or ():
            try:
                total += t.numel() * t.element_size()
            except Exception:
                pass
    return total


def check_trainer(trainer: Any) -> None:
    """The budget check of ``Trainer._build`` (construction, ``reset()``, ``Trainer.load``): the model the
    config asks for on this data, before it is allocated; then remember the shapes for live changes."""
    cfg, data = trainer.config, trainer.data
    ctx: dict[str, Any] = {"input_shape": tuple(data.input_shape), "num_classes": int(data.num_classes),
                           "data_bytes": _data_bytes(data), "user_data": trainer._user_data is not None}
    user = trainer._user_model
    if user is not None:
        ctx["user_params"] = sum(p.numel() for p in user.parameters())
    set_context(cfg, **ctx)
    check_config(cfg)
