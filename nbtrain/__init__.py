"""nbtrain: watch and steer neural-network training live in Jupyter.

>>> import nbtrain as nt
>>> "tanh" in nt.activations.names()
True

The heavy parts (torch, widgets) load on first use, so ``import nbtrain`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> (module, attribute or None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "activations": ("nbtrain.engine.activations", None),
    "initializers": ("nbtrain.engine.init", None),
    "schedules": ("nbtrain.engine.schedules", None),
    "optimizers": ("nbtrain.engine.optim", None),
    "regularizers": ("nbtrain.engine.regularizers", None),
    "models": ("nbtrain.engine.models", None),
    "data": ("nbtrain.engine.data", None),
    "datasets": ("nbtrain.engine.data", None),
    "load_data": ("nbtrain.engine.data", "load_data"),
    "TrainConfig": ("nbtrain.engine.config", "TrainConfig"),
    "ConfigError": ("nbtrain.engine.config", "ConfigError"),
    "CheckpointError": ("nbtrain.engine.checkpoint", "CheckpointError"),
    "Trainer": ("nbtrain.engine.trainer", "Trainer"),
    "History": ("nbtrain.engine.history", "History"),
    "Scene": ("nbtrain.engine.script", "Scene"),
    "cue": ("nbtrain.engine.script", "cue"),
    "replay": ("nbtrain.engine.script", "replay"),
    "diagnose": ("nbtrain.tuning.diagnose", "diagnose"),
    "find_lr": ("nbtrain.ui.tuning", "find_lr"),  # the tool (nbtrain.tuning.lr_finder) with its plot()
    "check_initial_loss": ("nbtrain.tuning.sanity", "check_initial_loss"),
    "overfit_small": ("nbtrain.tuning.sanity", "overfit_small"),
    "search": ("nbtrain.tuning.search", None),
    "ensemble": ("nbtrain.tuning.ensemble", "ensemble"),
    "snapshot_ensemble": ("nbtrain.tuning.ensemble", "snapshot_ensemble"),
    "transfer": ("nbtrain.tuning.transfer", "transfer"),
    "rng": ("nbtrain.engine.rng", None),
    "deterministic": ("nbtrain.engine.rng", "deterministic"),
    "interpret": ("nbtrain.tuning.interpret", None),
    "confusion": ("nbtrain.tuning.interpret", "confusion"),
    "top_losses": ("nbtrain.tuning.interpret", "top_losses"),
    "demos": ("nbtrain.demos", None),
    "Lab": ("nbtrain.ui.lab", "Lab"),
    "compare": ("nbtrain.ui.compare", "compare"),
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .engine import activations, data, models, regularizers, schedules  # noqa: F401
    from .engine import init as initializers  # noqa: F401
    from .engine import optim as optimizers  # noqa: F401
    from .engine.config import ConfigError, TrainConfig  # noqa: F401


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'nbtrain' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attr is not None:
        value = getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def _offer_kernel_comm() -> None:
    """Inside a Jupyter kernel, register the ``nbtrain`` comm target that the JupyterLab extension talks to
    (:mod:`nbtrain.kernel_comm`: stdlib only, cheap). Anywhere else this does nothing; it never raises."""
    import sys

    if "ipykernel" in sys.modules:
        try:
            from . import kernel_comm

            kernel_comm.register()
        except Exception:  # the optional front-end channel must never break ``import nbtrain``
            pass


_offer_kernel_comm()
