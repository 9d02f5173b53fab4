"""Rolling z-score: the textbook baseline every other detector should beat."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._state_checks import ring
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors._base import WindowDetector

__all__ = ["RollingZScore"]


class ZScoreState(NamedTuple):
    window: np.ndarray  # the last window_size values (ring buffer)
    sums: np.ndarray  # [sum, sum of squares] of the window
    counters: np.ndarray  # [points seen, next ring position]

    def check_invariants(self, owner: str, params: Any) -> None:
        """Counters: points seen, then the ring position."""
        ring(owner, self.window, self.counters)


@numba.jit(**NUMBA_OPTIONS)
def _step(state: ZScoreState, params: Any, x: float) -> float:
    window, sums, counters = state
    size = window.shape[0]
    n = counters[0]
    pos = counters[1]
    score = math.nan
    if n >= size:
        mean = sums[0] / size
        var = max(sums[1] / size - mean * mean, 0.0)
        std = max(math.sqrt(var), 1e-12 * (1.0 + abs(mean)))
        score = abs(x - mean) / std
        old = window[pos]
        sums[0] -= old
        sums[1] -= old * old
    window[pos] = x
    sums[0] += x
    sums[1] += x * x
    pos += 1
    if pos == size:
        pos = 0
        # re-sum exactly once per lap so rounding errors never accumulate
        s0 = 0.0
        s1 = 0.0
        for i in range(size):
            s0 += window[i]
            s1 += window[i] * window[i]
        sums[0] = s0
        sums[1] = s1
    counters[0] = n + 1
    counters[1] = pos
    return score


class RollingZScore(WindowDetector):
    """Distance of a point from the mean of the previous points, in standard deviations.

    Scores ``|x - mean| / std`` over the last ``window_size`` points (population std),
    computed before ``x`` is learned; ``nan`` until the window is full. Higher is more
    anomalous. Cost O(1) per point, memory ``window_size`` floats. Weak on seasonal or
    trending data and fooled by outliers inside its own window: a floor to compare against.

    Parameters
    ----------
    window_size
        Number of past points to compare against; at least 2.

    Examples
    --------
    >>> det = RollingZScore(window_size=3)
    >>> [round(det.update(x), 2) for x in [1.0, 2.0, 3.0, 2.0, 10.0]]
    [nan, nan, nan, 0.0, 16.26]
    """

    State = ZScoreState
    _step = staticmethod(_step)

    def _initial_state(self) -> ZScoreState:
        return ZScoreState(np.zeros(self.window_size), np.zeros(2), np.zeros(2, dtype=np.int64))

    @staticmethod
    def _test_params() -> dict[str, int]:
        return {"window_size": 8}
