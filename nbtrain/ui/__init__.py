"""The notebook views of nbtrain (ipywidgets 8 + bqplot): :class:`Lab` and :func:`compare`.

Views only observe engine state and call engine methods; one publisher thread per view streams
bounded, decimated arrays to the browser.

>>> from nbtrain.ui import Lab, compare  # also nt.Lab, nt.compare
"""

from __future__ import annotations

from .compare import Comparison, compare
from .lab import Lab

__all__ = ["Comparison", "Lab", "compare"]
