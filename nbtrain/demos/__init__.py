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
from .init_scale import WeightScaleResult, weight_scale, weight_scale_data
from .lr_schedules import ScheduleCurve, schedule_gallery, schedule_gallery_data

#: ``nt.demos.schedules()`` (DESIGN §2) is the schedule gallery.
schedules = schedule_gallery

__all__ = [
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
