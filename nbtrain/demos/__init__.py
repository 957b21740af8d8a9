"""Built-in teaching demos: each is a pure ``*_data`` function returning numbers and a widget view.

The ``*_data`` functions need only numpy and torch (use them in a script or a slide); the views
(``zigzag()``, ``saturation()``, ...) are ipywidgets + bqplot and import those on first call.

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

__all__ = [
    "ZigzagResult",
    "zigzag",
    "zigzag_data",
]
