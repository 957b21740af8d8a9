"""Building a run from its config: data, model, optimizer and schedule (``Trainer._build``), the checks of a
user's model and data before the first step, and the schedule's horizon and position."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from . import data as data_mod
from . import init as init_mod
from . import models, optim, regularizers, rng, rules, schedules
from . import threads as threads_mod
from .activations import name_of as activation_name
from .batches import IndexSampler, LiveBatchSampler, materialise, safe_len
from .config import ConfigError, TrainConfig
from .device import device_scope

RESIDENT_MAX_BYTES = 256 * 2**20  # datasets up to this size live on the device and are sampled by index
LR_NOTE_FRACTION = 1e-3  # Trainer.lr_note: the lr in use below this fraction of the base rate


def schedule_horizon(total_steps: int | None, max_steps: int | None, start: int = 0) -> int:
    """Horizon T of a schedule chosen at global step ``start``: ``total_steps`` if set, else what remains of
    the run (``max_steps − start``), else 1000."""
    if total_steps:
        return int(total_steps)
    if max_steps and max_steps > start:
        return int(max_steps - start)
    return 1000


class BuildMixin:
    """The Trainer's building: what ``__init__`` and ``reset()`` make from the config."""

    def _build(self) -> None:
        """(Re)build data, model, optimizer and schedule from the config; clears the history."""
        with device_scope(self.device):
            self._build_here()

    def _build_here(self) -> None:
        cfg = self.config
        # the run's own random streams (dropout/DropConnect masks, augmentation, mixup); nothing here
        # reads or advances torch's global generators
        self._rng = rng.Streams(cfg.seed, self.device)
        # mixup's λ ~ Beta(α, α) per batch, drawn on the host from the run's own numpy stream: no device read
        self._lam_rng = np.random.default_rng([int(cfg.seed) % 2**63, 0x6D6978])
        spec = self._user_data if self._user_data is not None else cfg.data
        self.data = data_mod.load_data(
            spec, self._user_val, n=cfg.n_samples, noise=cfg.noise, val_split=cfg.val_split,
            seed=cfg.seed if cfg.split_seed is None else cfg.split_seed, preprocess=cfg.preprocess, augment=cfg.augment,
        )
        from .budget import check_trainer

        check_trainer(self)  # the resource budget (nbtrain/engine/budget.py): refused before the model is allocated
        if self._user_model is not None:
            if cfg.dropconnect and not regularizers.dropconnect_layers(self._user_model):
                raise ConfigError(f"TrainConfig.dropconnect = {cfg.dropconnect!r} is not allowed: "
                                  f"{type(self._user_model).__name__} has no DropConnect layers (use "
                                  "nbtrain.regularizers.DropConnectLinear/DropConnectConv2d in it, or dropconnect=0)")
            # a user's module has no "fresh weights" recipe: every reset returns to its weights at the start
            self.model = self._user_model.to(self.device)
            regularizers.own_dropout(self.model)  # its nn.Dropout masks from the run's stream too
            if getattr(self, "_user_initial", None) is None:
                self._user_initial = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            else:
                self.model.load_state_dict(self._user_initial)
        else:
            if cfg.dropconnect and not models.accepts(cfg.model, self.data.input_shape, "dropconnect"):
                raise ConfigError(f"TrainConfig.dropconnect = {cfg.dropconnect!r} is not allowed: model "
                                  f"{cfg.model!r} has no DropConnect option (mlp, cnn and resmlp have one)")
            self.model = models.make(
                cfg.model, self.data.input_shape, self.data.num_classes, hidden=list(cfg.hidden),
                activation=cfg.activation, dropout=cfg.dropout, batch_norm=cfg.batch_norm,
                generator=torch.Generator().manual_seed(cfg.seed + 4),  # the layers' default init draws
                **({"dropconnect": cfg.dropconnect} if cfg.dropconnect else {}),
            )
            self._init_weights(cfg.init, cfg.init_std)
            self.model.to(self.device)
        self._model_gen += 1
        self.initial_state = self._state_copy()
        self._in_use = cfg._values()
        self._setup_data()
        self._check_model_and_data()
        self._make_optimizer()
        self._sched_start = 0
        self._make_schedule()
        self.global_step = 0
        self._run_time = 0.0
        self._evals_since_best = 0
        self._best: tuple[float, int, dict] | None = None
        self._finite_snapshot: tuple[int, dict] | None = None
        # snapshots waiting for the read of their step's loss (at most MAX_CANDIDATES); the newest whose loss the
        # read finds finite becomes the finite snapshot
        self._snapshot_candidates: list[tuple[int, dict]] = []
        self._spare_snapshot: tuple[int, dict] | None = None  # a retired finite snapshot: the next one's tensors
        self._pend: list[tuple[tuple[int, float, float, float], torch.Tensor]] = []  # (step, epoch, time, lr), loss
        self._pend_layers: list[tuple[int, list[tuple], list[torch.Tensor]]] = []  # step, probes.detach()
        self._last_eval_step = -(10**12)
        self.message = "; ".join(self.data.notes)  # what loading changed (e.g. float64 → float32)
        self.needs_reset = []
        self.metrics.clear()
        for note in self.data.notes:
            self.metrics.log_event(0, "data", None, note)
        self._slots = models.activation_slots(self.model)
        self.metrics.layer_names = [f"{i}: {activation_name(m) or type(m).__name__}" for i, (_, _, m) in enumerate(self._slots)]
        self.model.train()  # the thread keeps it in train mode; eval/submit switch back after themselves

    def _cpu_threads(self) -> int | None:
        """Intra-op threads for the training thread: ``threads=`` if given; on the CPU, 1 for small models
        (< 1M parameters: their ops are too small to split, and spinning OpenMP workers collapse under
        load — measured 300 vs 2800 steps/s on a busy 2-core machine); otherwise torch's default."""
        return threads_mod.for_model(self.model, self.device, self._threads)

    def _sync_config_from_model(self) -> None:
        """Make the config describe a user's model as it is (its activation, dropout, no batch-norm)."""
        act = models.current_activation(self.model)
        drops = [m.p for m in self.model.modules() if isinstance(m, nn.Dropout)]
        changes: dict[str, Any] = {"batch_norm": any(getattr(b, "use_norm", False) for b in self.model.modules())}
        if act is not None:
            changes["activation"] = act
        if drops:
            changes["dropout"] = drops[0]
        self.config.update(**changes)
        self._in_use.update(changes)

    def _facts(self) -> dict[str, Any] | None:
        """What the config's cross-field rules need to know about this trainer's model and data."""
        if self._closed or getattr(self, "model", None) is None:
            return None
        loader = self.data.loader if getattr(self, "data", None) is not None else None
        return {
            "model": type(self.model).__name__,
            "n_train": self._n_train,
            "has_val": self._val is not None,
            "batch_norm_blocks": models.supports_batch_norm(self.model),
            "activation_slots": bool(self._slots),
            "can_swap_in": lambda name, model=self.model: models.can_swap_in(model, name),
            "activation": self._in_use.get("activation"),
            "loader_batch_size": getattr(loader, "batch_size", None) if loader is not None else None,
        }

    def _check_model_and_data(self) -> None:
        """Check a user's model/data before any training step: finite inputs (train and validation) and,
        for a user model, one dry forward pass on a few examples (eval mode, no gradient, weights and
        batch-norm statistics untouched): logits of shape (N, C) with C ≥ the number of classes, inputs the
        model can take. Errors name the problem and the fix; a model with more outputs than classes warns."""
        if self._user_model is None and self._user_data is None and self._user_val is None:
            return  # built-in model and data: consistent by construction
        d = self.data
        train = self._X if self._X is not None else (d.tensors("train") or (None,))[0]
        val = self._val[0] if self._val is not None else None
        for split, X in (("training", train), ("validation", val)):
            if X is not None and X.is_floating_point() and not bool(torch.isfinite(X).all()):
                bad = (~torch.isfinite(X.reshape(len(X), -1))).any(1)
                first = int(bad.nonzero()[0, 0])
                raise ValueError(f"the {split} inputs contain NaN/Inf values in {int(bad.sum())} of {len(X)} examples "
                                 f"(the first at index {first}): drop or repair those rows (e.g. torch.nan_to_num) "
                                 f"before training — a NaN input makes every loss NaN")
        if self._user_model is None:
            return
        xb, yb = self._sample_batch(8)
        if xb is None:
            return
        name = type(self.model).__name__
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                out = self.model(xb)
        except Exception as exc:  # noqa: BLE001 - explained and re-raised
            if self._default_data:
                raise ValueError(f"Trainer({name}) needs data=: without it the built-in {d.name!r} dataset would be "
                                 f"used (input shape {tuple(d.input_shape)}, {d.num_classes} classes), which {name} "
                                 f"cannot take ({type(exc).__name__}: {exc}); pass Trainer(model, data=(X, y)) or "
                                 f"a Dataset/DataLoader") from exc
            raise ValueError(f"{name} cannot take the data's inputs: a batch of shape {tuple(xb.shape)} (input shape "
                             f"{tuple(d.input_shape)}) raised {type(exc).__name__}: {exc}. Make the model's first layer "
                             f"take inputs of this shape, or reshape the data") from exc
        finally:
            self.model.train(was)
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            raise ValueError(f"{name} must return a float tensor of logits, got {type(out).__name__}"
                             f"{f' of dtype {out.dtype}' if isinstance(out, torch.Tensor) else ''}")
        msg = rules.model_outputs(tuple(out.shape), len(xb), d.num_classes, name)
        if msg:
            if self._default_data:
                msg += f" (no data= was given, so the default dataset {d.name!r} was used: pass your data)"
            raise ValueError(msg)
        rules.warn_extra_outputs(int(out.shape[1]), d.num_classes, name)

    def _sample_batch(self, n: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """A few training examples on the device, without touching the batch order."""
        if self._X is not None:
            return self._X[:n], self._Y[:n]
        d = self.data
        t = d.tensors("train")
        if t is not None:
            return t[0][:n].to(self.device), t[1][:n].to(self.device)
        if d.loader is not None:
            first = next(iter(d.loader))
            return torch.as_tensor(first[0]).to(self.device), torch.as_tensor(first[1]).to(self.device)
        xs, ys = zip(*(d.train[i][:2] for i in range(min(n, len(d.train)))))
        return torch.stack([torch.as_tensor(x) for x in xs]).to(self.device), torch.as_tensor(ys).to(self.device)

    def _restore_architecture(self, saved: TrainConfig) -> None:
        """A user's module comes back as the user built it; live swaps of the saved run (activation,
        dropout, batch-norm) are applied again so that its saved weights fit (e.g. PReLU slopes)."""
        changes = {k: getattr(saved, k) for k in ("activation", "dropout", "batch_norm")
                   if getattr(saved, k) != getattr(self.config, k)}
        if changes and self._user_model is not None:
            self.config.update(**changes)

    def _init_weights(self, scheme: str, std: float | None) -> None:
        params = {}
        if std is not None and "std" in init_mod.registry.get(scheme).params:
            params["std"] = std
        gen = torch.Generator().manual_seed(self.config.seed + 1)
        init_mod.apply(self.model, scheme, generator=gen, **params)
        models.scale_output_layer(self.model, self.config.head_init_scale)  # initial loss ≈ log C

    def _setup_data(self) -> None:
        d = self.data
        self._augment = d.augment
        tensors = d.tensors("train") if d.loader is None else None
        resident = self._resident_pref
        if resident is None:
            resident = tensors is not None and d.nbytes("train") <= RESIDENT_MAX_BYTES
        if resident and tensors is None and d.loader is None:
            tensors = materialise(d.train)
        if resident and tensors is not None:
            self._X, self._Y = (t.to(self.device) for t in tensors)
            self._sampler = IndexSampler(len(self._Y), self.device, self.config.seed + 2)
            self._loader = None
            self.resident = True
        else:
            self._X = self._Y = None
            self._sampler = None
            if d.loader is not None:
                self._loader = d.loader
            else:
                self._batch_sampler = LiveBatchSampler(len(d.train), self._in_use, self.config.seed + 2)
                self._loader = torch.utils.data.DataLoader(
                    d.train, batch_sampler=self._batch_sampler, num_workers=self._num_workers,
                    pin_memory=self.device.type == "cuda",
                )
            self._iter = None
            self._loader_epoch = 0
            self._loader_pos = 0
            self.resident = False
        # validation tensors (on the device when small)
        val = d.tensors("val") if d.val is not None else None
        if val is None and d.val is not None:
            val = materialise(d.val)
        self._val = tuple(t.to(self.device) for t in val) if val is not None else None
        if tensors is not None:
            g = torch.Generator().manual_seed(self.config.seed + 3)
            sub = torch.randperm(len(tensors[1]), generator=g)[:2048]
            self._train_eval = (tensors[0][sub].to(self.device), tensors[1][sub].to(self.device))
        else:
            self._train_eval = None
        from .step import eval_set

        self._eval_set = eval_set(self._val, self._train_eval)  # both in one forward pass (when small)
        self._n_train = safe_len(d.train) if d.train is not None else None
        self._user_bn = self._user_model is not None and any(
            isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.model.modules())
        self._auto_every = None  # _auto_eval_every's cache: (batch size, steps)
        # batches may be views of the epoch's gathered copy (batches.IndexSampler.batch) only where nothing
        # writes into a batch in place: our models and our augmentation (a user's may do x -= mean)
        from .data.augmentation import Augment

        self._batch_views = self._user_model is None and (self._augment is None or isinstance(self._augment, Augment))

    def _make_optimizer(self) -> None:
        self._lr_set = math.nan  # param groups get the lr at the next step
        live = self._in_use
        hyper = {}
        if live["optimizer"] in ("momentum", "nesterov"):
            hyper["momentum"] = live["momentum"]
        # a model may define param_groups() (e.g. a TransferNet: frozen parts left out, the backbone with
        # a smaller lr_scale); each step sets a group's lr to lr × its "lr_scale"
        groups = getattr(self.model, "param_groups", None)
        params = groups() if callable(groups) else self.model.parameters()
        self.optimizer = optim.make(live["optimizer"], params, lr=live["lr"],
                                    weight_decay=live["weight_decay"], **hyper)

    def _make_schedule(self) -> None:
        self._lr_table: tuple[int, list[float]] = (0, [])
        live = self._in_use
        total = schedule_horizon(live["total_steps"], live["max_steps"], self._sched_start)
        self.schedule = schedules.make(live["schedule"], live["lr"], total, warmup_steps=live["warmup_steps"],
                                       **live["schedule_params"])

    @property
    def schedule_start(self) -> int:
        """The global step at which the current schedule was chosen (0 unless it was changed mid-run): the
        lr of update t is ``schedule(t − schedule_start)``, and its horizon ``schedule.total_steps`` is
        ``total_steps`` if set, else what remained of ``max_steps`` then (else 1000)."""
        return self._sched_start

    def lr_in_use(self, step: int | None = None) -> float:
        """The learning rate of update ``step`` (default: the next one) under the current schedule."""
        step = self.global_step if step is None else int(step)
        return float(self.schedule(max(step - self._sched_start, 0)))

    @property
    def lr_note(self) -> str:
        """A warning when the lr in use has fallen below 1/1000 of the base rate (training has all but
        stopped, e.g. a decaying schedule past its horizon), else ""."""
        try:
            schedule, start, step, base = self.schedule, self._sched_start, self.global_step, float(self._in_use["lr"])
            t = max(step - start, 0)
            if t < self._in_use["warmup_steps"]:
                return ""
            lr = float(schedule(t))
        except Exception:  # noqa: BLE001 - read from another thread while the schedule is rebuilt
            return ""
        if not lr < LR_NOTE_FRACTION * base:
            return ""
        end = start + schedule.total_steps
        why = (f"schedule {schedule.name!r} (chosen at step {start:,}, horizon {schedule.total_steps:,}) ended at step {end:,}"
               if step >= end else f"schedule {schedule.name!r} has decayed it")
        return (f"the learning rate in use, {lr:.3g}, is below 1/1000 of the base rate {base:g}: {why}, so the "
                f"weights hardly change any more — raise total_steps or max_steps, or choose the schedule again")
