"""A constant threshold."""

from __future__ import annotations

import math

import numba
import numpy as np

from oddwatch._typing import State
from oddwatch._validation import FloatParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.persist import register
from oddwatch.thresholds._base import Threshold

__all__ = ["FixedThreshold"]


@numba.jit(**NUMBA_OPTIONS)
def _step(level: np.ndarray, counters: np.ndarray, score: float) -> float:
    if not math.isnan(score):
        counters[0] += 1
    return float(level[0])


@numba.jit(**NUMBA_OPTIONS)
def _block(level: np.ndarray, counters: np.ndarray, scores: np.ndarray, out: np.ndarray) -> None:
    for i in range(scores.shape[0]):
        out[i] = _step(level, counters, scores[i])


@register
class FixedThreshold(Threshold):
    """The same threshold for every score: right when scores are already calibrated.

    Parameters
    ----------
    value
        Scores strictly above it are anomalies. The default 0.8 is a 1e-4 tail probability
        on the ``S / (1 + S)``, ``S = -log10(p)`` scale of oddwatch's calibrated detectors.

    Examples
    --------
    >>> thr = FixedThreshold(0.99)
    >>> [s > thr.update(s) for s in [0.5, 0.995]]
    [False, True]
    """

    _param_specs = {"value": FloatParam()}
    _step = staticmethod(_step)
    _block = staticmethod(_block)

    def __init__(self, value: float = 0.8) -> None:
        self.value = value
        self._setup()

    def _initial_state(self) -> State:
        return {
            "level": np.array([float(self.value)]),
            "counters": np.zeros(1, dtype=np.int64),
        }

    @staticmethod
    def _test_params() -> dict[str, float]:
        return {"value": 0.5}
