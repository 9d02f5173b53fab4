"""Type aliases shared across oddwatch."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
State = dict[str, np.ndarray]

__all__ = ["ArrayLike", "BoolArray", "FloatArray", "NDArray", "State"]
