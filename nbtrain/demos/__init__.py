"""Built-in teaching demos: each is a pure ``*_data`` function returning numbers, plus a widget view.

The ``*_data`` functions need only numpy and torch (use them in a script or on a slide); they are
deterministic for a given ``seed``. The views (``zigzag()``, ``saturation()``, ...) are ipywidgets +
bqplot, import those on first call, and recompute through the same functions when a control changes.

==================  =========================================  ==========================================
view                numbers                                    lecture point
==================  =========================================  ==========================================
``zigzag``          ``zigzag_data``                            sigmoid inputs → same-sign gradients
``saturation``      ``saturation_data``, ``dead_relu_data``    saturation, vanishing gradients, dead ReLU
``weight_scale``    ``weight_scale_data``                      init scale vs activation distributions
``schedules``       ``schedule_gallery_data``                  every LR schedule, plotted before use
``preprocessing``   ``preprocessing_data``                     centre / normalize / PCA / whiten
``dropout``         ``dropout_data``, ``inverted_dropout_data``  dropout and L2 vs over-fitting
``optimizer_paths`` ``optimizer_paths_data``                   SGD … Adam side by side on a 2-D ravine
``loss_choice``     ``loss_choice_data``                       cross-entropy vs MSE on a classifier
``l1_l2``           ``l1_l2_data``                             subtractive vs multiplicative shrinking
``max_norm``        ``max_norm_data``                          ‖wᵢ‖ ≤ c lets a high rate train
``search_layout``   ``search_layout_data``                     grid vs random search, one parameter matters
``large_batch``     ``large_batch_data``                       linear LR scaling with warm-up
(none)              ``regularizer_effects_data``               augmentation / mixup / batch norm, measured
(none)              ``transfer_cases_data``                    transfer's four cases (data size × similarity)
==================  =========================================  ==========================================

>>> import nbtrain as nt
>>> nt.demos.zigzag_data("sigmoid").same_sign_fraction
1.0
"""

from __future__ import annotations

from .activation_saturation import DeadReluResult, SaturationResult, dead_relu_data, saturation, saturation_data
from .activation_zigzag import ZigzagResult, zigzag, zigzag_data
from .data_preprocessing import PreprocessingResult, Stage, preprocessing, preprocessing_data
from .dropout_regularization import (
    Curves,
    DropoutResult,
    InvertedDropoutResult,
    dropout,
    dropout_data,
    inverted_dropout_data,
)
from .hyperparameter_search import SearchLayoutResult, search_layout, search_layout_data
from .init_scale import WeightScaleResult, weight_scale, weight_scale_data
from .large_batch_training import BatchRun, LargeBatchResult, large_batch, large_batch_data
from .loss_functions import LossChoiceResult, loss_choice, loss_choice_data
from .lr_schedules import ScheduleCurve, schedule_gallery, schedule_gallery_data
from .max_norm_constraint import MaxNormResult, max_norm, max_norm_data
from .optimizer_surface import OptimizerPath, OptimizerPathsResult, optimizer_paths, optimizer_paths_data
from .regularizer_effects import RegularizerEffectsResult, regularizer_effects_data
from .transfer_four_cases import TransferCasesResult, transfer_cases_data
from .weight_penalties import L1L2Result, l1_l2, l1_l2_data

#: ``nt.demos.schedules()`` is the schedule gallery (the short name the view table above uses).
schedules = schedule_gallery

__all__ = [
    "BatchRun",
    "L1L2Result",
    "LargeBatchResult",
    "LossChoiceResult",
    "MaxNormResult",
    "OptimizerPath",
    "OptimizerPathsResult",
    "RegularizerEffectsResult",
    "SearchLayoutResult",
    "TransferCasesResult",
    "l1_l2",
    "l1_l2_data",
    "large_batch",
    "large_batch_data",
    "loss_choice",
    "loss_choice_data",
    "max_norm",
    "max_norm_data",
    "optimizer_paths",
    "optimizer_paths_data",
    "regularizer_effects_data",
    "search_layout",
    "search_layout_data",
    "transfer_cases_data",
    "Curves",
    "DeadReluResult",
    "DropoutResult",
    "InvertedDropoutResult",
    "PreprocessingResult",
    "SaturationResult",
    "ScheduleCurve",
    "Stage",
    "WeightScaleResult",
    "ZigzagResult",
    "dead_relu_data",
    "dropout",
    "dropout_data",
    "inverted_dropout_data",
    "preprocessing",
    "preprocessing_data",
    "saturation",
    "saturation_data",
    "schedule_gallery",
    "schedule_gallery_data",
    "schedules",
    "weight_scale",
    "weight_scale_data",
    "zigzag",
    "zigzag_data",
]
