"""EWMA z-score: distance from an exponentially weighted mean, in weighted standard deviations."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._state_checks import counts
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors._base import Detector

__all__ = ["EWMAZScore"]


class EWMAState(NamedTuple):
    moments: np.ndarray  # [weighted mean, weighted variance]
    counters: np.ndarray  # [points seen]

    def check_invariants(self, owner: str, params: Any) -> None:
        counts(owner, self.counters)


@numba.jit(**NUMBA_OPTIONS)
def _step(state: EWMAState, params: Any, x: float) -> float:
    mean, var, n = state.moments[0], state.moments[1], state.counters[0]
    score = math.nan
    if n >= params.warmup:
        score = abs(x - mean) / max(math.sqrt(var), 1e-12 * (1.0 + abs(mean)))
    rate = max(params.fading_factor, 1.0 / (n + 1))  # plain averages until 1/n < the factor
    delta = x - mean
    state.moments[0] = mean + rate * delta
    state.moments[1] = (1.0 - rate) * (var + rate * delta * delta)
    state.counters[0] = n + 1
    return score


class EWMAZScore(Detector):
    """Distance of a point from an exponentially weighted mean, in weighted standard deviations.

    Scores ``|x - mean| / sd`` with the mean and variance of the previous points weighted by
    ``(1 - fading_factor) ** age`` (West's incremental update), computed before ``x`` is
    learned; ``nan`` for the first ``warmup`` points. Higher is more anomalous. Cost O(1) per
    point, memory three numbers. Unlike :class:`RollingZScore` it forgets smoothly and
    follows slow drifts; like it, it is weak on seasonal data and a long anomaly pulls the
    mean towards itself. Roberts, "Control chart tests based on geometric moving averages",
    Technometrics 1959.

    Parameters
    ----------
    fading_factor
        Weight of the newest point in the mean and variance, in (0, 1]; about
        ``1 / fading_factor`` points are remembered.
    warmup
        Points learned before the first score; at least 2.

    Examples
    --------
    >>> det = EWMAZScore(fading_factor=0.5, warmup=3)
    >>> [round(det.update(x), 2) for x in [1.0, 2.0, 3.0, 2.0, 10.0]]
    [nan, nan, nan, 0.3, 13.14]
    """

    score_scale = "sd"
    fading_factor: float = param(default=0.05, check=FloatParam(0.0, 1.0, low_open=True))
    warmup: int = param(default=20, check=IntParam(low=2))
    State = EWMAState
    _step = staticmethod(_step)

    def _initial_state(self) -> EWMAState:
        return EWMAState(np.zeros(2), np.zeros(1, dtype=np.int64))
