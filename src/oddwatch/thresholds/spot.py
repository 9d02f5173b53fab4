"""SPOT and DSPOT: thresholds set by extreme value theory for a chosen false-alarm risk.

Siffer, Fouque, Termier, Largouet, "Anomaly Detection in Streams with Extreme Value Theory",
KDD 2017. The excesses of the scores over a high initial threshold ``t`` are modelled by a
generalised Pareto distribution (GPD, Pickands-Balkema-de Haan theorem); the threshold is the
GPD quantile that a score exceeds with probability ``risk``. See
docs/algorithms/thresholds.md for the derivation, the costs and where we depart from the
reference code.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.errors import InvalidParameterError
from oddwatch.thresholds._base import Threshold
from oddwatch.thresholds._peaks import (
    _FITTED,
    _GAMMA,
    _MIN_PEAKS,
    _N_SEEN,
    _SIGMA,
    _T,
    TailMemory,
    flag_or_learn,
    initial_tail_state,
    tail_threshold,
)

__all__ = ["DSPOT", "SPOT"]


class SpotState(NamedTuple):
    tail: TailMemory


class DspotState(NamedTuple):
    window: np.ndarray  # the last depth scores learned (ring buffer)
    window_sum: np.ndarray  # [their sum]
    tail: TailMemory  # of the residuals score - mean


@numba.jit(**NUMBA_OPTIONS)
def _spot_step(state: SpotState, params: Any, score: float) -> float:
    threshold: float = tail_threshold(state.tail.fit, params.risk, state.tail.counters)
    if not math.isnan(score):
        flag_or_learn(state.tail, params.level, score, threshold, threshold, 0.0)
    return threshold


@numba.jit(**NUMBA_OPTIONS)
def _dspot_step(state: DspotState, params: Any, score: float) -> float:
    window, window_sum, tail = state
    depth = window.shape[0]
    n = tail.counters[_N_SEEN]  # every learned score enters the window: it holds min(n, depth)
    if n < depth:
        if not math.isnan(score):
            window[n] = score
            window_sum[0] += score
            tail.counters[_N_SEEN] = n + 1
        return math.nan
    mean = window_sum[0] / depth
    z: float = tail_threshold(tail.fit, params.risk, tail.counters)
    threshold = float(mean + z)
    if math.isnan(score) or flag_or_learn(tail, params.level, score, threshold, z, mean):
        return threshold
    pos = n % depth
    window_sum[0] += score - window[pos]
    window[pos] = score
    if pos == depth - 1:  # re-sum once per lap so rounding errors never accumulate
        window_sum[0] = window.sum()
    return threshold


_RISK = FloatParam(
    0.0,
    1.0,
    low_open=True,
    high_open=True,
    hint="It is the probability that a normal score is flagged, e.g. 1e-4.",
)
_INIT_SIZE = IntParam(low=_MIN_PEAKS + 1)
_LEVEL = FloatParam(0.0, 1.0, low_open=True, high_open=True)
_MAX_PEAKS = IntParam(low=_MIN_PEAKS)


class _PeaksOverThreshold(Threshold):
    """Parameters, checks, state and read-outs shared by SPOT and DSPOT."""

    _abstract = True
    risk: float
    init_size: int
    level: float
    max_peaks: int

    def _check_combination(self) -> None:
        name = type(self).__name__
        expected = self.init_size * (1.0 - self.level)
        if expected < _MIN_PEAKS:
            raise InvalidParameterError(
                f"`init_size` * (1 - `level`) of {name} must be at least {_MIN_PEAKS} (the "
                f"excesses over the initial threshold that the tail is fitted to); got "
                f"{self.init_size} * (1 - {self.level}) = {expected:g}. Raise init_size or "
                "lower level."
            )
        if self.risk >= 1.0 - self.level:
            raise InvalidParameterError(
                f"`risk` of {name} must be below 1 - `level` = {1.0 - self.level:g}; got "
                f"{self.risk}. The tail model extrapolates beyond the `level` quantile: "
                "lower risk or level."
            )

    def _tail_state(self) -> TailMemory:
        return initial_tail_state(self.init_size, self.max_peaks)

    @property
    def n_seen_(self) -> int:
        """Number of (non-nan) scores learned so far."""
        return int(self._state.tail.counters[_N_SEEN])

    @property
    def warm_(self) -> bool:
        """True once the tail is fitted and the threshold is no longer ``nan``."""
        return bool(self._state.tail.counters[_FITTED])

    @property
    def initial_threshold_(self) -> float:
        """The calibration threshold ``t`` (``nan`` before ``init_size`` values are seen)."""
        return float(self._state.tail.fit[_T])

    @property
    def gamma_(self) -> float:
        """Fitted GPD shape: > 0 heavy tail, 0 exponential, < 0 bounded."""
        return float(self._state.tail.fit[_GAMMA]) if self.warm_ else math.nan

    @property
    def sigma_(self) -> float:
        """Fitted GPD scale of the excesses over ``t``."""
        return float(self._state.tail.fit[_SIGMA]) if self.warm_ else math.nan


class SPOT(_PeaksOverThreshold):
    """Streaming peaks-over-threshold: the score a normal point exceeds with probability ``risk``.

    Calibration: ``t`` is the ``level`` quantile of the first ``init_size`` scores, and their
    excesses over ``t`` (the peaks) are fitted by a generalised Pareto distribution (GPD;
    maximum likelihood, Grimshaw's reduction to one dimension). The threshold is then

    ``z_q = t + sigma / gamma * ((risk * n / N_t)^-gamma - 1)``  (``t - sigma * log(risk * n
    / N_t)`` when ``gamma = 0``)

    with ``N_t / n`` the observed rate of exceeding ``t``. A score above ``z_q`` is an
    anomaly: its value is never learned, only the fact that it exceeded ``z_q`` (a censored
    observation in the likelihood; dropping it, as the paper does, truncates the tail the
    GPD sees and the threshold sinks until it flags 2 to 30 times ``risk``). A score above
    ``t`` adds a peak; every other score only counts in ``n``. Peaks live in a ring buffer
    of the last ``max_peaks`` and ``N_t / n`` is taken over the scores they span, so the
    tail follows slow changes. ``nan`` until ``init_size`` scores and 10 peaks are learned;
    ``nan`` scores pass through unlearned.

    Cost: O(1) per score, plus a refit (about 50 passes over the stored peaks) whenever the
    entries added since the last fit reach 1/16 of those stored: 0.3 to 0.6 microseconds
    per score in all at ``level=0.98``. Memory ``init_size + 2.1 * max_peaks`` numbers.
    Assumes i.i.d. scores with a continuous upper tail: on drifting scores use
    :class:`DSPOT`; on probabilities that saturate at 1 use a :class:`FixedThreshold`.

    Parameters
    ----------
    risk
        Probability that a normal score is flagged (the knob to tune); below ``1 - level``.
    init_size
        Scores used to calibrate ``t`` and the first fit; ``init_size * (1 - level)`` must
        be at least 10.
    level
        Quantile of the calibration scores taken as ``t``; excesses over it are modelled.
    max_peaks
        Capacity of the peaks ring buffer: the tail is fitted to the last ``max_peaks``.

    Examples
    --------
    >>> import numpy as np
    >>> scores = np.random.default_rng(0).exponential(1.0, 20_000)
    >>> thr = SPOT(risk=1e-3, init_size=1000)
    >>> thresholds = thr.update_many(scores)
    >>> round(float(thresholds[-1]), 2), round(float(np.log(1e3)), 2)  # fitted vs exact
    (6.89, 6.91)
    >>> int(np.sum(scores > thresholds))  # about risk * 19_000 after calibration
    15
    """

    risk: float = param(default=1e-4, check=_RISK)
    init_size: int = param(default=1000, check=_INIT_SIZE)
    level: float = param(default=0.98, check=_LEVEL)
    max_peaks: int = param(default=1000, check=_MAX_PEAKS)
    State = SpotState
    _step = staticmethod(_spot_step)

    def _initial_state(self) -> SpotState:
        return SpotState(self._tail_state())

    @staticmethod
    def _test_params() -> dict[str, float]:
        return {"risk": 0.01, "init_size": 200, "level": 0.9, "max_peaks": 50}


class DSPOT(_PeaksOverThreshold):
    """SPOT on the drift-free residual: the score minus the mean of the last ``depth`` normals.

    Each score ``x`` is compared with ``mean + z_q``, where ``mean`` is the average of the
    last ``depth`` scores learned (flagged scores are not) and ``z_q`` is the :class:`SPOT`
    threshold of the residuals ``x - mean``: the threshold follows a drifting baseline while
    the tail of the residuals stays calibrated at ``risk``. ``nan`` until ``depth +
    init_size`` scores and 10 residual peaks are learned; memory ``depth + init_size + 2.1 *
    max_peaks`` numbers; cost as :class:`SPOT`. The drift must be slow against ``depth``:
    after a sudden level shift the new level is flagged until censored exceedances have
    raised the tail enough to admit it.

    Parameters
    ----------
    risk
        Probability that a normal score is flagged; below ``1 - level``.
    depth
        Number of past normal scores averaged as the local mean.
    init_size
        Residuals used to calibrate ``t`` (after the first ``depth`` scores fill the mean).
    level
        Quantile of the calibration residuals taken as ``t``.
    max_peaks
        Capacity of the peaks ring buffer.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> scores = np.linspace(0.0, 50.0, 20_000) + rng.exponential(1.0, 20_000)  # drifting
    >>> thresholds = DSPOT(risk=1e-3, depth=50, init_size=1000).update_many(scores)
    >>> [round(float(thresholds[i]), 1) for i in (5000, 19_999)]
    [19.4, 56.9]
    >>> fixed_tail = SPOT(risk=1e-3, init_size=1000).update_many(scores)
    >>> int(np.sum(scores > thresholds)), int(np.sum(scores > fixed_tail))
    (17, 15113)
    """

    risk: float = param(default=1e-4, check=_RISK)
    depth: int = param(default=50, check=IntParam(low=1))
    init_size: int = param(default=1000, check=_INIT_SIZE)
    level: float = param(default=0.98, check=_LEVEL)
    max_peaks: int = param(default=1000, check=_MAX_PEAKS)
    State = DspotState
    _step = staticmethod(_dspot_step)

    def _initial_state(self) -> DspotState:
        return DspotState(np.zeros(self.depth), np.zeros(1), self._tail_state())

    @staticmethod
    def _test_params() -> dict[str, float]:
        return {"risk": 0.01, "depth": 10, "init_size": 200, "level": 0.9, "max_peaks": 50}
