"""The default detector: robust level + seasonal profile, scored residuals, quick re-baselining."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np

from oddwatch._base import param
from oddwatch._validation import FloatParam, IntParam
from oddwatch.detectors._base import Detector
from oddwatch.detectors._seasonal_kernels import (
    SeasonalParams,
    SeasonalState,
    forecast,
    season_length,
    seasonal_alarm_scale,
    seasonal_forecast,
    seasonal_state,
    step,
)
from oddwatch.errors import InvalidParameterError

__all__ = ["SeasonalDetector"]


def gaussian_abs_quantile(level: float) -> float:
    """The ``level`` quantile of ``|z|`` for a standard normal ``z`` (0 for level 0).

    >>> round(gaussian_abs_quantile(0.99), 3)
    2.576
    """
    return NormalDist().inv_cdf((1.0 + level) / 2.0) if level > 0 else 0.0


def check_season_length(owner: str, value: Any) -> None:
    """Raise unless ``value`` is None (estimate it), 0 (no season) or an int >= 2."""
    if value is not None and (
        not isinstance(value, (int, np.integer))
        or isinstance(value, bool)
        or value == 1
        or value < 0
    ):
        raise InvalidParameterError(
            f"`season_length` of {owner} must be None (estimate it), 0 (no season) or an int "
            f">= 2; got {value!r}."
        )


class SeasonalDetector(Detector):
    """Robust seasonal forecaster whose residuals are scored by how improbable they are.

    Each point is predicted as ``level + profile[t mod period]``; the residual is divided by
    a running robust scale and its two-sided Gaussian tail probability ``p = erfc(|z| /
    sqrt(2))`` is reported as the score ``S / (1 + S)`` with ``S = -log10(p)``: 0.5 means a
    1-in-10 point, 0.75 1-in-1,000, 0.8 1-in-10,000 (``p = 10 ** (-s / (1 - s))``); the
    score never saturates, so large anomalies keep their order. Then the point is
    learned with a Huber-clipped residual, so a spike moves the baseline by at most ``clip``
    scale units. A two-sided CUSUM on the clipped residuals detects a sustained level shift
    and jumps the level to it (re-baselining) instead of flagging forever. The season length
    is estimated online by autocorrelation of a ring buffer of ``2 * max_season_length``
    points: after 256, 512, 1024, ... points until the buffer is full, then every buffer
    until a season is found and every four buffers after; a new estimate re-seeds the
    seasonal profile, level and scale from the buffer.
    A value frozen for longer than its own repeat rate makes likely is scored as "stuck", on
    its own channel, once per run. The detector reports its surprise only: "one alarm per
    anomaly" is the Monitor's alarm stage (:class:`~oddwatch.alarms.QuietPeriod`), to which
    it reports its tail widening (``_alarm_scale``) so bursty streams get fewer alarms.
    ``nan`` during the first ``warmup`` points. Cost O(1) per point plus a periodic
    autocorrelation (amortised well under a microsecond); memory ``3 * max_season_length``
    floats. See docs/algorithms.md.

    Parameters
    ----------
    season_length
        Points per season; ``None`` estimates it online, ``0`` disables seasonality.
    max_season_length
        Longest season searched for when ``season_length`` is None.
    level_rate
        Smoothing rate of the level (exponential forgetting, 0 < rate <= 1).
    season_rate
        Smoothing rate of the seasonal profile.
    scale_rate
        Smoothing rate of the residual variance.
    clip
        Residuals beyond ``clip`` scale units are clipped when learning.
    change_threshold
        CUSUM decision level (in scale units) that triggers re-baselining.
    warmup
        Points learned before the first score.
    min_season_correlation
        Autocorrelation a season needs to be adopted.
    smoothing
        1 scores each residual alone; ``k > 1`` scores the mean of the last ``k`` capped
        residuals against its own running distribution (self-calibrating, for heavy-tailed
        real data such as NAB; delays a lone spike's score slightly).
    range_margin
        When > 0, a value beyond the range seen so far by this fraction of that range scores
        at least ``1 - 1e-4``.
    tail_quantile
        Heavy-tail correction: a running estimate of this quantile of ``|z|`` is compared with
        the Gaussian one (2.576 for 0.99); when the residuals' tail is wider, ``z`` is divided
        by the ratio before scoring, so a stream whose residuals are often far out (tweet
        counts, bursty CPU) needs a bigger excursion to alarm, while Gaussian-like noise is
        scored as before. The estimate settles within a few hundred points, then moves by at
        most 0.5% of itself per point, so it follows a change of noise over a few thousand
        points. The widening is also the surprise scale the alarm stage reads. 0 turns it off.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(600)
    >>> xs = 10 * np.sin(2 * np.pi * t / 50) + np.random.default_rng(0).normal(0, 0.5, 600)
    >>> xs[550] += 8
    >>> det = SeasonalDetector()
    >>> scores = det.update_many(xs)
    >>> det.period_, int(np.nanargmax(scores)), round(float(scores[550]), 4)
    (50, 550, 1.0)
    """

    season_length: int | None = param(default=None)
    max_season_length: int = param(default=1024, check=IntParam(low=4, high=100_000))
    level_rate: float = param(default=0.05, check=FloatParam(0.0, 1.0, low_open=True))
    season_rate: float = param(default=0.1, check=FloatParam(0.0, 1.0, low_open=True))
    scale_rate: float = param(default=0.01, check=FloatParam(0.0, 1.0, low_open=True))
    clip: float = param(default=3.0, check=FloatParam(0.5, None))
    change_threshold: float = param(default=10.0, check=FloatParam(0.0, None, low_open=True))
    warmup: int = param(default=64, check=IntParam(low=2))
    min_season_correlation: float = param(default=0.3, check=FloatParam(0.0, 1.0))
    smoothing: int = param(default=1, check=IntParam(low=1, high=10_000))
    range_margin: float = param(default=0.0, check=FloatParam(0.0, None))
    tail_quantile: float = param(default=0.99, check=FloatParam(0.0, 1.0, high_open=True))
    State = SeasonalState
    Params = SeasonalParams
    _step = staticmethod(step)
    _forecast = staticmethod(seasonal_forecast)
    _alarm_scale = staticmethod(seasonal_alarm_scale)

    def _check_combination(self) -> None:
        check_season_length("SeasonalDetector", self.season_length)

    def _kernel_params(self) -> SeasonalParams:
        return SeasonalParams(
            level_rate=float(self.level_rate),
            season_rate=float(self.season_rate),
            scale_rate=float(self.scale_rate),
            clip=float(self.clip),
            change_threshold=float(self.change_threshold),
            warmup=int(self.warmup),
            fixed_period=self._fixed_period(),
            min_period=4,
            max_period=int(self.max_season_length),
            min_season_correlation=float(self.min_season_correlation),
            range_margin=float(self.range_margin),
            tail_quantile=float(self.tail_quantile),
            gaussian_quantile=gaussian_abs_quantile(self.tail_quantile),
        )

    def _fixed_period(self) -> int:
        return -1 if self.season_length is None else int(self.season_length)

    def _initial_state(self) -> SeasonalState:
        fixed = self._fixed_period()
        size = max(fixed, self.max_season_length if fixed < 0 else 1)
        return seasonal_state(
            history=np.zeros(2 * size if fixed < 0 else 1),
            profile=np.zeros(size),
            smooth=np.zeros(self.smoothing),
            period=max(fixed, 0),
        )

    @property
    def n_seen_(self) -> int:
        """Number of points learned so far."""
        return int(self._state.scalars["n_seen"][0])

    @property
    def period_(self) -> int:
        """Season length in use (0 while none is known)."""
        return season_length(self._state)

    @property
    def level_(self) -> float:
        """Current deseasonalised level."""
        return float(self._state.scalars["level"][0])

    @property
    def scale_(self) -> float:
        """Current residual scale (standard deviation of the residuals)."""
        return float(self._forecast_now()[1])

    def expected(self) -> float:
        """The value the detector predicts for the next point."""
        return float(self._forecast_now()[0])

    def _forecast_now(self) -> tuple[float, float]:
        expected, scale = forecast(self._state)
        return expected, scale

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {
            "max_season_length": 32,
            "warmup": 8,
            "smoothing": 3,
            "range_margin": 0.05,
        }
