"""Type aliases shared across oddwatch."""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
State = dict[str, np.ndarray]
ParamValue = Union[int, float, str, bool, None, tuple, "object"]

__all__ = ["ArrayLike", "BoolArray", "FloatArray", "NDArray", "ParamValue", "State"]
