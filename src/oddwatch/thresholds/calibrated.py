"""A false-alarm rate that holds on every stream: the nominal level, raised by the stream's tail."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba

from oddwatch._base import param
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.thresholds._base import Threshold
from oddwatch.thresholds._peaks import (
    _FITTED,
    _N_SEEN,
    _T,
    TailMemory,
    flag_or_learn,
    initial_tail_state,
    tail_threshold,
)

__all__ = ["CalibratedThreshold"]

_LEVEL = 0.98  # quantile of the first surprises above which the tail is modelled


class CalibratedThresholdState(NamedTuple):
    tail: TailMemory  # peaks of the surprise S over its 98% quantile (SPOT's memory)


class CalibratedThresholdParams(NamedTuple):
    false_alarm_rate: float
    nominal: float  # -log10(false_alarm_rate), the level on a well-calibrated stream
    level: float


@numba.jit(**NUMBA_OPTIONS)
def _step(
    state: CalibratedThresholdState, params: CalibratedThresholdParams, score: float
) -> float:
    fitted = tail_threshold(state.tail.fit, params.false_alarm_rate, state.tail.counters)
    bits = params.nominal if math.isnan(fitted) else max(params.nominal, fitted)
    if not math.isnan(score):
        surprise = score / (1.0 - score) if score < 1.0 else math.inf
        # a flag before the tail's base quantile exists is neither learned nor censored
        if surprise <= bits or not math.isnan(state.tail.fit[_T]):
            flag_or_learn(state.tail, params.level, surprise, bits, bits, 0.0)
    return float(bits / (1.0 + bits))


class CalibratedThreshold(Threshold):
    """The surprise that a normal point of *this* stream exceeds with ``false_alarm_rate``.

    For detectors scoring ``S / (1 + S)`` with ``S = -log10 p`` (``score_scale ==
    "surprise"``). The level starts at the nominal ``S = -log10(false_alarm_rate)``, right
    when the detector's noise model fits the stream (Gaussian residuals). Streams rarely fit
    it exactly (heavy tails, correlated residuals, a sustained surprise that stays high), so
    the stream's own surprises calibrate it: the excesses of ``S`` over its 0.98 quantile are
    fitted by a generalised Pareto tail, as :class:`~oddwatch.thresholds.SPOT` does, and the
    level is raised to the ``S`` that tail exceeds with probability ``false_alarm_rate``.
    It is never lowered below the nominal level, so a stream that is quieter than the model
    keeps the nominal rate or less, and flagged points are never learned as normal (censored
    in the tail), so anomalies do not raise the bar for the next ones.

    Until ``init_size`` surprises are scored only the nominal level applies. Cost and memory
    are SPOT's: O(1) per score plus a refit now and then; ``init_size + 2.1 * max_peaks``
    numbers.

    Parameters
    ----------
    false_alarm_rate
        Share of the points of anomaly-free data that may score above the level; between
        1e-12 and 0.01.
    init_size
        Surprises learned before the tail is first fitted; at least 500.
    max_peaks
        Capacity of the tail's ring buffer (the last ``max_peaks`` excesses are fitted).

    Examples
    --------
    >>> import numpy as np
    >>> thr = CalibratedThreshold(false_alarm_rate=1e-4)
    >>> round(thr.update(0.5), 4)  # the nominal level: S = 4
    0.8
    >>> rng = np.random.default_rng(0)
    >>> surprises = rng.exponential(1.5, 20_000)  # a stream whose surprises run 1.5x high
    >>> levels = thr.update_many(surprises / (1 + surprises))
    >>> s = float(levels[-1] / (1 - levels[-1]))
    >>> round(s, 1), round(1.5 * float(np.log(1e4)), 1)  # fitted level vs exact
    (14.2, 13.8)
    """

    false_alarm_rate: float = param(default=1e-4, check=FloatParam(1e-12, 0.01))
    init_size: int = param(default=1000, check=IntParam(low=500))
    max_peaks: int = param(default=1000, check=IntParam(low=50))
    State = CalibratedThresholdState
    Params = CalibratedThresholdParams
    _step = staticmethod(_step)

    def _kernel_params(self) -> CalibratedThresholdParams:
        rate = float(self.false_alarm_rate)
        return CalibratedThresholdParams(rate, -math.log10(rate), _LEVEL)

    def _initial_state(self) -> CalibratedThresholdState:
        return CalibratedThresholdState(initial_tail_state(self.init_size, self.max_peaks))

    @property
    def n_seen_(self) -> int:
        """Surprises learned as normal so far."""
        return int(self._state.tail.counters[_N_SEEN])

    @property
    def fitted_(self) -> bool:
        """True once the stream's own tail raises the level (``init_size`` scores learned)."""
        return bool(self._state.tail.counters[_FITTED])

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"false_alarm_rate": 1e-3, "init_size": 500, "max_peaks": 50}
