"""The alarm stage: which points above the threshold become alarms ("one alarm per anomaly").

A :class:`~oddwatch.Monitor` (and :class:`~oddwatch.KeyedMonitor`) runs, for every point,
detector -> threshold -> alarm policy. The detector reports its surprise, the threshold the
user chose decides what is anomalous, and the policy decides which anomalous points are
reported: an anomaly usually spans several points, and a burst of alarms for one event is
noise to whoever is paged. Policies are components like the others (named state, one
compiled step, checkpointed with the Monitor, run per key by the keyed engine).

* :class:`EveryPoint` (``Monitor(alarm=None)``): every point above the threshold is an alarm.
* :class:`QuietPeriod` (the default): after an alarm, the next points are muted unless their
  surprise is clearly stronger than the alarm's. See docs/algorithms/alarms.md.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, NamedTuple

import numba
import numpy as np

from oddwatch._base import KernelComponent, param
from oddwatch._dispatch import run_alarm_block
from oddwatch._state_checks import counts
from oddwatch._typing import FloatArray
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import NUMBA_OPTIONS

__all__ = ["AlarmPolicy", "EveryPoint", "QuietPeriod"]


class AlarmPolicy(KernelComponent):
    """Base of alarm policies: ``step(state, params, score, threshold, width) -> float``.

    The step returns the score to report: the score itself, or for a muted point the score
    capped at or below the threshold. A point is an alarm when its reported score is above
    the threshold. ``width`` is the detector's current surprise scale (1.0 for most
    detectors; the seasonal forecasts report how much wider than Gaussian their residuals'
    tail was when they scored the point).
    """

    _abstract = True
    _kernel_role = "alarm"
    uses_surprise: ClassVar[bool] = False

    def bind(self, score_scale: str) -> None:
        """Adapt the kernel parameters to the detector's score scale (called by Monitor)."""

    @property
    def n_alarms_(self) -> int:
        """Alarms raised so far."""
        return int(self._state.counters[0])

    def update(self, score: float, threshold: float = math.nan, width: float = 1.0) -> float:
        """The score to report for a point with this score and threshold; then learn it.

        The point is an alarm when the returned score is above ``threshold``.
        """
        step = type(self)._step
        return float(step(self._state, self._kernel_params_, score, threshold, width))

    def update_many(  # type: ignore[override]
        self, scores: Any, thresholds: Any, widths: Any = None
    ) -> FloatArray:
        """:meth:`update` over arrays of scores and thresholds (and widths), in order."""
        s = np.ascontiguousarray(scores, dtype=np.float64)
        t = np.ascontiguousarray(thresholds, dtype=np.float64)
        w = np.ones(s.shape[0]) if widths is None else np.ascontiguousarray(widths, np.float64)
        out = np.empty(s.shape[0])
        run_alarm_block(self._state, self._kernel_params_, s, t, w, out)
        return out


class EveryPointState(NamedTuple):
    counters: np.ndarray  # [alarms raised]

    def check_invariants(self, owner: str, params: Any) -> None:
        counts(owner, self.counters)


@numba.jit(**NUMBA_OPTIONS)
def _every_point(
    state: EveryPointState, params: Any, score: float, threshold: float, width: float
) -> float:
    if score > threshold:
        state.counters[0] += 1
    return score


class EveryPoint(AlarmPolicy):
    """Every point whose score is above the threshold is an alarm (no muting).

    Examples
    --------
    >>> policy = EveryPoint()
    >>> policy.update_many([0.9, 0.95, 0.3], [0.8, 0.8, 0.8]).tolist()
    [0.9, 0.95, 0.3]
    >>> policy.n_alarms_
    2
    """

    State = EveryPointState
    _step = staticmethod(_every_point)

    def _initial_state(self) -> EveryPointState:
        return EveryPointState(np.zeros(1, dtype=np.int64))


class QuietState(NamedTuple):
    counters: np.ndarray  # [alarms raised, points left in the quiet period]
    peak: np.ndarray  # [strength of the alarm that started the quiet period]

    def check_invariants(self, owner: str, params: Any) -> None:
        counts(owner, self.counters)


class QuietParams(NamedTuple):
    quiet_period: int
    break_factor: float
    stretch_power: float
    break_power: float
    surprise: bool  # strengths are S = s / (1 - s) of surprise scores, else the scores
    muted_cap: float  # a muted point reports at most this score (and never above the threshold)


_MAX_STRETCH = 100.0  # a quiet period lasts at most this many times quiet_period
_MUTED_SURPRISE = 0.5  # a muted surprise reports at most S = 1 (a 1-in-10 point)


@numba.jit(**NUMBA_OPTIONS)
def _strength(params: QuietParams, score: float) -> float:
    if not params.surprise:
        return score
    return score / (1.0 - score) if score < 1.0 else math.inf


@numba.jit(**NUMBA_OPTIONS)
def _quiet(
    state: QuietState, params: QuietParams, score: float, threshold: float, width: float
) -> float:
    left = state.counters[1]
    if left > 0:
        breaking = params.break_factor * width**params.break_power * state.peak[0]
        if _strength(params, score) <= breaking:
            state.counters[1] = left - 1
            return float(min(score, params.muted_cap, threshold))
    if score > threshold:
        stretch = min(width**params.stretch_power, _MAX_STRETCH)
        state.counters[1] = int(params.quiet_period * stretch)
        state.peak[0] = _strength(params, score)
        state.counters[0] += 1
    return score


class QuietPeriod(AlarmPolicy):
    """One alarm per anomaly: after an alarm, weaker points above the threshold are muted.

    A point above the threshold raises an alarm and starts a quiet period of
    ``quiet_period`` points; during it a point is reported only if its strength is more than
    ``break_factor`` times that of the alarm that started the period (which then restarts
    it), so a clearly stronger new anomaly still gets through while the rest of an event is
    not reported again. A muted point's score is reported capped at the threshold (and, on
    the surprise scale, at 0.5, a 1-in-10 point), so it is never above the threshold.
    Strength is the surprise ``S = s / (1 - s)`` for detectors whose scores are ``s = S /
    (1 + S)`` (``score_scale`` "surprise" or "sustained_surprise"), else the score itself.
    On a detector that reports a surprise scale ``w >= 1`` (the seasonal forecasts: how much
    wider than Gaussian the residuals' tail is), the period lasts ``quiet_period * min(w **
    3, 100)`` points and breaking it takes ``break_factor * w ** 2`` times the alarm: bursty
    streams get fewer, better-spaced alarms. ``quiet_period=0`` reports every point above
    the threshold. See docs/algorithms/alarms.md.

    Parameters
    ----------
    quiet_period
        Points after an alarm during which no clearly stronger point is reported.
    break_factor
        How many times stronger than the alarm a point must be to break the quiet period.
    stretch_power
        The quiet period lasts ``quiet_period * min(w ** stretch_power, 100)`` points for a
        detector surprise scale ``w``; 0 ignores the scale.
    break_power
        Breaking it takes ``break_factor * w ** break_power`` times the alarm's strength.

    Examples
    --------
    >>> policy = QuietPeriod(quiet_period=3)
    >>> scores = [5.0, 6.0, 12.0, 5.0, 5.0, 5.0, 5.0]
    >>> reported = policy.update_many(scores, [4.0] * 7)
    >>> reported.tolist(), (reported > 4.0).tolist()
    ([5.0, 4.0, 12.0, 4.0, 4.0, 4.0, 5.0], [True, False, True, False, False, False, True])
    """

    quiet_period: int = param(default=50, check=IntParam(low=0))
    break_factor: float = param(default=1.5, check=FloatParam(1.0, None))
    stretch_power: float = param(default=3.0, check=FloatParam(0.0, 10.0))
    break_power: float = param(default=2.0, check=FloatParam(0.0, 10.0))
    State = QuietState
    Params = QuietParams
    _step = staticmethod(_quiet)

    def bind(self, score_scale: str) -> None:
        self._scale = score_scale
        self._kernel_params_ = self._kernel_params()

    def _kernel_params(self) -> QuietParams:
        surprise = getattr(self, "_scale", "sd") in ("surprise", "sustained_surprise")
        cap = _MUTED_SURPRISE if surprise else math.inf
        return QuietParams(
            int(self.quiet_period),
            float(self.break_factor),
            float(self.stretch_power),
            float(self.break_power),
            surprise,
            cap,
        )

    def _initial_state(self) -> QuietState:
        return QuietState(np.zeros(2, dtype=np.int64), np.zeros(1))
