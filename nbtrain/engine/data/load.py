"""``load_data``: a name, an ``(X, y)`` pair, a map-style ``Dataset`` or a ``DataLoader`` → :class:`Data`
(split, preprocessing fitted on the training split, optional batch augmentation)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset, TensorDataset

from .. import rules
from ..checks import check_int_at_least
from .augmentation import make_augment
from .convert import (
    Tensors,
    _as_labels,
    _as_map_dataset,
    _as_tensors,
    _check_val_split,
    _example_shape,
    _labels_of,
    _moments_of_dataset,
    _to_tensor_example,
    _Wrapped,
    stratified_split,
)
from .preprocess import Identity, Preprocessor, make_preprocessor
from .result import Data
from .sets import datasets


def _resolve(
    source: Any, *, params: dict[str, Any], train: bool = True
) -> tuple[str, Tensors | Dataset | DataLoader, list[str] | None]:
    """(name, tensors | map-style dataset | loader, class names) for any accepted form of data."""
    if isinstance(source, str):
        entry = datasets.get(source)
        accepted = entry.params
        kwargs = {k: v for k, v in params.items() if v is not None or k not in ("n", "noise", "num_classes")}
        for k in ("seed", "root", "download", "num_classes"):  # passed only to factories that take them
            if k in kwargs and k not in accepted:
                kwargs.pop(k)
        if not train:
            if "train" not in accepted:
                raise ValueError(
                    f"val_data='test' needs a dataset with an official test split; {entry.name!r} has none"
                )
            kwargs["train"] = False
        out = datasets.make(entry.name, **kwargs)
        if isinstance(out, tuple):
            return entry.name, _as_tensors(*out), None
        base = out.dataset if isinstance(out, Subset) else out
        return entry.name, out, list(getattr(base, "classes", None) or []) or None
    if isinstance(source, DataLoader):
        return "loader", source, None
    if isinstance(source, (tuple, list)):
        if len(source) != 2:
            raise ValueError(f"data as a sequence must be an (X, y) pair, got {len(source)} items")
        return "tensors", _as_tensors(*source), None
    if isinstance(source, TensorDataset) and len(source.tensors) == 2:
        return "tensors", _as_tensors(*source.tensors), None
    if isinstance(source, Dataset) or (hasattr(source, "__getitem__") and hasattr(source, "__len__")):
        classes = getattr(source, "classes", None)
        return type(source).__name__, _as_map_dataset(source), list(classes) if classes else None
    raise ValueError(
        f"data must be a dataset name (one of {', '.join(datasets.names())}), an (X, y) pair, a map-style "
        f"Dataset or a DataLoader; got {type(source).__name__}"
    )


def _input_dtype(source: Any) -> Any:
    """The dtype of a user's inputs as given ((X, y), TensorDataset, Dataset example), or None."""
    try:
        if isinstance(source, (tuple, list)) and len(source) == 2:
            X = source[0]
        elif isinstance(source, TensorDataset):
            X = source.tensors[0]
        elif isinstance(source, Dataset) and not isinstance(source, IterableDataset) and len(source):
            X = source[0][0]
        else:
            return None
    except Exception:  # the dataset's own checks report what is wrong with it
        return None
    return getattr(X, "dtype", None)


def _float64_note(what: str) -> str:
    return (f"{what} inputs are float64: cast to float32 (the models' dtype) once at load; "
            "cast them yourself to silence this note")


def _loader_info(loader: DataLoader) -> tuple[tuple[int, ...], torch.Tensor | None, torch.dtype]:
    """(example shape, labels, dtype of the inputs) of a user's DataLoader, from its first batch."""
    ds = loader.dataset
    labels = None
    if not isinstance(ds, IterableDataset):
        try:
            labels = _labels_of(ds)
        except Exception:  # labels not cheaply reachable; fall back to one pass over the loader
            labels = None
    first = next(iter(loader))
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise ValueError(f"DataLoader batches must be (x, y) pairs, got {type(first).__name__}")
    shape = tuple(torch.as_tensor(first[0]).shape[1:])
    if labels is None:
        labels = torch.cat([_as_labels(torch.as_tensor(b[1]).reshape(-1)) for b in loader])
    return shape, labels, torch.as_tensor(first[0]).dtype


def load_data(
    data: Any = "spiral",
    val_data: Any = None,
    *,
    n: int | None = None,
    noise: float | None = None,
    val_split: float | None = 0.2,
    seed: int = 0,
    preprocess: str | Mapping[str, Any] | Preprocessor = "none",
    augment: bool | Mapping[str, Any] | Callable[..., torch.Tensor] = False,
    root: str | os.PathLike | None = None,
    download: bool = False,
    num_classes: int | None = None,
    **params: Any,
) -> Data:
    """Load a dataset, split it, fit preprocessing on the training split and apply it to both splits.

    data: a name from ``names()``, an ``(X, y)`` pair (tensors or numpy), a map-style ``Dataset`` or a
    ``DataLoader`` (used as-is: no split, no preprocessing). val_data: the same forms, or ``"test"`` for a
    named dataset's official test split; when None, a stratified ``val_split`` fraction of ``data`` is held
    out (deterministic by ``seed``; ``val_split=None`` for no validation set). ``n``/``noise``/``seed`` and
    ``**params`` go to the dataset factory; ``num_classes`` sets K for spiral/blobs, else checks the labels.
    preprocess: a name from ``preprocessors.names()``, ``{"name": "pca", "k": 2}`` or a Preprocessor (fitted
    ones are used as-is). augment: True, ``make_augment`` keyword arguments, or a callable.

    >>> d = load_data("digits", preprocess="normalize", augment=True); d.input_shape, d.augment is not None
    ((1, 8, 8), True)
    """
    if isinstance(data, Data):
        return data
    seed = check_int_at_least("seed", seed, 0)
    if val_split is not None:
        val_split = _check_val_split(val_split)
    pre = None if preprocess is None else make_preprocessor(preprocess)
    if isinstance(pre, Identity) and not pre.fitted:
        pre = None
    if not isinstance(data, str):
        given = {k: v for k, v in dict(params, n=n, noise=noise).items() if v is not None}
        if given:
            raise ValueError(
                f"{', '.join(sorted(given))} only apply to named datasets ({', '.join(datasets.names())}); "
                f"got them with {type(data).__name__} data"
            )
    factory_params = dict(params, n=n, noise=noise, seed=seed, root=root, download=download, num_classes=num_classes)
    notes = [_float64_note(what) for what, src in (("the training", data), ("the validation", val_data))
             if str(_input_dtype(src)) in ("torch.float64", "float64")]
    name, train, classes = _resolve(data, params=factory_params)

    # --- a user DataLoader: its batches are used as they come
    loader: DataLoader | None = None
    if isinstance(train, DataLoader):
        loader = train
        if pre is not None:
            raise ValueError(
                f"preprocess={preprocess!r} cannot be applied to a DataLoader's batches; preprocess the data "
                f"yourself or pass the Dataset / (X, y) instead"
            )
        input_shape, labels, dtype = _loader_info(loader)
        if dtype == torch.float64:
            notes.append(_float64_note("the DataLoader's") + " (each batch, on its way to the device)")
        train = loader.dataset
        val = None
        if val_data is not None:
            val = _resolve_val(val_data, params=factory_params)[0]
        return _finish(name, train, val, labels, None, num_classes, input_shape, loader, None, augment, classes, notes)

    # --- validation split
    if val_data is not None:
        if isinstance(val_data, str) and val_data.lower() == "test":
            if not isinstance(data, str):
                raise ValueError("val_data='test' only works with a named dataset")
            val = _resolve(data, params=factory_params, train=False)[1]
            if isinstance(val, tuple):
                val = TensorDataset(*val)
        else:
            val, _ = _resolve_val(val_data, params=factory_params)
        if isinstance(train, tuple):
            train = TensorDataset(*train)
    elif val_split is not None:
        labels = train[1] if isinstance(train, tuple) else _labels_of(train)
        tr, va = stratified_split(labels, val_split, seed)
        if isinstance(train, tuple):
            X, y = train
            train, val = TensorDataset(X[tr], y[tr]), TensorDataset(X[va], y[va])
        else:
            train, val = Subset(train, tr.tolist()), Subset(train, va.tolist())
    else:
        val = None
        if isinstance(train, tuple):
            train = TensorDataset(*train)

    labels = _labels_of(train)
    val_labels = _labels_of(val) if val is not None else None
    input_shape = _example_shape(train)
    if val is not None and _example_shape(val) != input_shape:
        raise ValueError(f"val examples have shape {_example_shape(val)}, train examples {input_shape}")

    # --- preprocessing: fit on train only, apply to both
    if pre is not None:
        if not pre.fitted:
            if isinstance(train, TensorDataset):
                pre.fit(train.tensors[0])
            else:
                pre.fit(_moments_of_dataset(train, full=pre.needs_cov), input_shape=input_shape)
        train, val = _apply_pre(pre, train), _apply_pre(pre, val)
        input_shape = tuple(pre.output_shape)

    return _finish(name, train, val, labels, val_labels, num_classes, input_shape, None, pre, augment, classes, notes)


def _resolve_val(val_data: Any, *, params: dict[str, Any]) -> tuple[Dataset, str]:
    if isinstance(val_data, str):
        raise ValueError(f"val_data as a string must be 'test', got {val_data!r}")
    vname, val, _ = _resolve(val_data, params=params)
    if isinstance(val, DataLoader):
        val = val.dataset
    elif isinstance(val, tuple):
        val = TensorDataset(*val)
    return val, vname


def _apply_pre(pre: Preprocessor, ds: Dataset | None) -> Dataset | None:
    if ds is None:
        return None
    if isinstance(ds, TensorDataset):
        X, y = ds.tensors
        return TensorDataset(pre.transform(X), y)
    return _Wrapped(ds, _PerExample(pre))


class _PerExample:
    """A preprocessor applied to one example (picklable, so DataLoader workers can use it)."""

    def __init__(self, pre: Preprocessor):
        self.pre = pre

    def __call__(self, x: Any) -> torch.Tensor:
        return self.pre.transform(_to_tensor_example(x)[None])[0]


def _finish(
    name: str,
    train: Dataset,
    val: Dataset | None,
    labels: torch.Tensor,
    val_labels: torch.Tensor | None,
    num_classes: int | None,
    input_shape: tuple[int, ...],
    loader: DataLoader | None,
    pre: Preprocessor | None,
    augment: Any,
    classes: list[str] | None,
    notes: list[str] | None = None,
) -> Data:
    if isinstance(val, Dataset) and val_labels is None:
        val_labels = _labels_of(val)
    top = max(
        int(labels.max()) if len(labels) else 0,
        int(val_labels.max()) if val_labels is not None and len(val_labels) else 0,
    )
    inferred = max(top + 1, len(classes) if classes else 0)
    if num_classes is None:
        present = torch.unique(torch.cat([labels, val_labels]) if val_labels is not None else labels)
        msg = None if classes else rules.class_count(inferred, len(present), top)
        if msg:
            raise ValueError(msg)
        num_classes = inferred
    else:
        num_classes = check_int_at_least("num_classes", num_classes, 1)
        if num_classes < top + 1:
            raise ValueError(f"num_classes={num_classes} is too small: labels go up to {top}")
    if augment is True or isinstance(augment, Mapping):
        opts = dict(augment) if isinstance(augment, Mapping) else {}
        opts.setdefault("dataset", name)
        aug = make_augment(input_shape, **opts)
    elif augment is False or augment is None:
        aug = None
    elif callable(augment):
        aug = augment
    else:
        raise ValueError(f"augment must be True/False, a dict of make_augment options or a callable, got {augment!r}")
    return Data(
        name=name,
        train=train,
        val=val,
        num_classes=num_classes,
        input_shape=tuple(input_shape),
        loader=loader,
        preprocessor=pre,
        augment=aug,
        classes=classes,
        notes=list(notes or []),
    )
