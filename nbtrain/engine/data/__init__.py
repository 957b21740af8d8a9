"""Datasets, preprocessing, mixup and augmentation.

``load_data`` turns a name (``"spiral"``, ``"digits"``, ``"mnist"``, ...), an ``(X, y)`` pair, a map-style
``Dataset`` or a ``DataLoader`` into a :class:`Data`: train and validation splits, the number of classes,
the per-example input shape, the preprocessing fitted on the training split, and an optional batch
augmentation. Small sets live in memory as ``TensorDataset``; torchvision sets stay map-style.

Where things are: ``sets`` (the ``datasets`` registry: 2-D toy sets, digits, MNIST, Fashion-MNIST,
CIFAR-10), ``preprocess`` (the ``preprocessors`` registry, fitted on the training split), ``augmentation``
(mixup, ``make_augment`` and its per-dataset presets), ``convert`` (labels, conversion, the stratified
split), ``result`` (:class:`Data`), ``load`` (``load_data``). Every public name is importable from here.

>>> from nbtrain.engine import data
>>> d = data.load_data("spiral", n=300, seed=0, preprocess="normalize")
>>> d
Data('spiral', train=240, val=60, num_classes=3, input_shape=(2,), preprocess='normalize')
>>> X, y = d.tensors("train"); X.shape, y.dtype
(torch.Size([240, 2]), torch.int64)
"""

from .augmentation import AUGMENT_PRESETS, Augment, affine, augment_preset, color_jitter, make_augment, mixup
from .convert import Tensors, stratified_split
from .load import load_data
from .preprocess import (
    PCA,
    ZCA,
    Center,
    Identity,
    Moments,
    Normalize,
    Preprocessor,
    Whiten,
    make_preprocessor,
    preprocessors,
)
from .result import INPUT_RMS_LIMIT, Data, input_rms
from .sets import (
    DEFAULT_ROOT,
    blobs,
    cifar10,
    circles,
    datasets,
    digits,
    fashion_mnist,
    mnist,
    moons,
    names,
    spiral,
    xor,
)

__all__ = [
    "AUGMENT_PRESETS", "Augment", "affine", "augment_preset", "color_jitter", "make_augment", "mixup",
    "Tensors", "stratified_split",
    "load_data",
    "PCA", "ZCA", "Center", "Identity", "Moments", "Normalize", "Preprocessor", "Whiten", "make_preprocessor",
    "preprocessors",
    "Data", "INPUT_RMS_LIMIT", "input_rms",
    "DEFAULT_ROOT", "blobs", "cifar10", "circles", "datasets", "digits", "fashion_mnist", "mnist", "moons", "names",
    "spiral", "xor",
]
