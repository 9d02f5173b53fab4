"""A constant threshold."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._state_checks import counts
from oddwatch._validation import FloatParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.thresholds._base import Threshold

__all__ = ["FixedThreshold"]


class FixedState(NamedTuple):
    counters: np.ndarray  # [scores learned]

    def check_invariants(self, owner: str, params: Any) -> None:
        counts(owner, self.counters)


@numba.jit(**NUMBA_OPTIONS)
def _step(state: FixedState, params: Any, score: float) -> float:
    if not math.isnan(score):
        state.counters[0] += 1
    return float(params.value)


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

    value: float = param(default=0.8, check=FloatParam())
    State = FixedState
    _step = staticmethod(_step)

    def _initial_state(self) -> FixedState:
        return FixedState(np.zeros(1, dtype=np.int64))

    @staticmethod
    def _test_params() -> dict[str, float]:
        return {"value": 0.5}
