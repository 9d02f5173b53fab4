"""The seasonal model's state, parameters and numba kernels, shared by the detectors built on it.

:class:`~oddwatch.detectors.SeasonalDetector` runs :func:`step` on its own;
:class:`~oddwatch.detectors.CalibratedSurpriseDetector` reads its forecast (:func:`forecast`,
:func:`floored_scale`, :func:`seen_range`) and then runs :func:`step`. The state is a
:class:`SeasonalState`; its float statistics and integer counters are small vectors indexed
by the named constants below (one cache line each, shared by every helper kernel).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors._season import _ordered_detrended, estimate_period

__all__ = [
    "SeasonalParams",
    "SeasonalState",
    "last_width",
    "seasonal_alarm_scale",
    "floored_scale",
    "forecast",
    "season_length",
    "seen_range",
    "step",
]

# indices into the float state vector
(
    _LEVEL,
    _VAR,
    _CUSUM_UP,
    _CUSUM_DOWN,
    _FAST_RESIDUAL,
    _SEASON_CORR,
    _FAST_VAR,
    _CUSUM_VAR,
    _RUN_SUM,
    _PREVIOUS,
    _REPEAT_RATE,
    _AVG_MEAN,
    _AVG_VAR,
    _LOWEST,
    _HIGHEST,
    _TAIL_QUANTILE,
    _LAST_WIDTH,
) = range(17)
_N_STATS = 17
# indices into the integer counters
_N_SEEN, _PERIOD, _NEXT_CHECK, _N_REBASELINE, _RUN, _STUCK_RUN, _N_AVG = range(7)
_N_COUNTERS = 7
_RAW_CAP = 10.0  # residuals are capped at this many scale units before smoothing
_AVG_MEMORY = 0.001  # forgetting rate of the distribution of smoothed residuals
_REPEAT_MEMORY = 0.001  # forgetting rate of how often a value repeats exactly
_CUSUM_SLACK = 1.0
_RUN_LENGTH = 3  # consecutive points beyond `clip` on one side that re-baseline the level
_PROTECT = 4.0  # residuals beyond this many scale units do not update the scale
_VAR_SLACK = 4.0  # volatility CUSUM: z^2 above this accumulates
_VAR_THRESHOLD = 150.0
_SQRT2 = math.sqrt(2.0)
_TAIL_RATE = 0.005  # relative step of the running tail quantile of |z| in the long run,
_TAIL_START = 5.0  # larger early on: _TAIL_START / (points scored + 1),
_TAIL_RATE_CAP = 0.1  # but never above this
_STUCK_REPORTED_BITS = 4.0  # a stuck run is reported once, when its surprise passes this


class SeasonalState(NamedTuple):
    history: np.ndarray  # the last 2 * max_season_length values (ring), for season search
    profile: np.ndarray  # seasonal offset per phase
    stats: np.ndarray  # float statistics, indexed by _LEVEL, _VAR, ...
    counters: np.ndarray  # integer counters, indexed by _N_SEEN, _PERIOD, ...
    smooth: np.ndarray  # the last `smoothing` capped residuals (ring)


class SeasonalParams(NamedTuple):
    level_rate: float
    season_rate: float
    scale_rate: float
    clip: float
    change_threshold: float
    warmup: int
    fixed_period: int  # -1: estimate the season online, 0: none, else its length
    min_period: int
    max_period: int
    min_season_correlation: float
    range_margin: float
    tail_quantile: float
    gaussian_quantile: float  # the tail_quantile quantile of |z| for Gaussian noise


@numba.jit(**NUMBA_OPTIONS)
def forecast(profile: np.ndarray, stats: np.ndarray, counters: np.ndarray) -> tuple[float, float]:
    """``(expected, scale)`` for the next point, before it is learned.

    ``expected`` is the level plus the profile at the point's phase; ``scale`` is the standard
    deviation of the residuals (0 until two points are seen).
    """
    n = counters[_N_SEEN]
    period = counters[_PERIOD]
    expected = stats[_LEVEL] + (profile[n % period] if period > 0 else 0.0)
    return expected, math.sqrt(stats[_VAR])


@numba.jit(**NUMBA_OPTIONS)
def floored_scale(stats: np.ndarray, scale: float) -> float:
    """``scale`` floored at ``1e-9 * (1 + |level|)``, so residuals can be divided by it."""
    return float(max(scale, 1e-9 * (1.0 + abs(stats[_LEVEL]))))


@numba.jit(**NUMBA_OPTIONS)
def seen_range(stats: np.ndarray) -> tuple[float, float]:
    """``(lowest, highest)`` value seen so far."""
    return stats[_LOWEST], stats[_HIGHEST]


def season_length(counters: np.ndarray) -> int:
    """Season length in use (0 while none is known)."""
    return int(counters[_PERIOD])


@numba.jit(**NUMBA_OPTIONS)
def _adopt_period(
    history: np.ndarray, profile: np.ndarray, stats: np.ndarray, n: int, period: int
) -> None:
    """Seed the seasonal profile, level and variance of a newly found season from history."""
    m = min(n, history.shape[0])
    m -= m % period
    y = _ordered_detrended(history, n, m)
    counts = np.zeros(period)
    profile[:] = 0.0
    for i in range(m):
        phase = (n - m + i) % period
        profile[phase] += y[i]
        counts[phase] += 1.0
    for k in range(period):
        profile[k] /= max(counts[k], 1.0)
    level = 0.0
    for i in range(m - period, m):
        level += history[(n - m + i) % history.shape[0]] - profile[(n - m + i) % period]
    stats[_LEVEL] = level / period
    var = 0.0
    for i in range(m):
        r = y[i] - profile[(n - m + i) % period]
        var += r * r
    stats[_VAR] = var / m


@numba.jit(**NUMBA_OPTIONS)
def _rebaseline(
    stats: np.ndarray,
    counters: np.ndarray,
    z: float,
    zc: float,
    residual: float,
    change_threshold: float,
) -> None:
    """Jump the level or the scale to a sustained new regime instead of flagging forever.

    Level: a run of ``_RUN_LENGTH`` residuals beyond ``clip`` on one side moves the level by
    their mean; a two-sided CUSUM catches smaller sustained shifts. Scale: a CUSUM on
    ``z^2`` catches a lasting rise in volatility and lifts the scale to a fast estimate.
    """
    run = counters[_RUN]
    big = abs(z) >= abs(zc) and abs(zc) > 0.0 and abs(z) > 3.0
    if big and (run == 0 or (run > 0) == (z > 0)):
        run = run + 1 if z > 0 else run - 1
        stats[_RUN_SUM] += residual
    elif big:
        run = 1 if z > 0 else -1
        stats[_RUN_SUM] = residual
    else:
        run = 0
        stats[_RUN_SUM] = 0.0
    stats[_CUSUM_UP] = max(0.0, stats[_CUSUM_UP] + zc - _CUSUM_SLACK)
    stats[_CUSUM_DOWN] = max(0.0, stats[_CUSUM_DOWN] - zc - _CUSUM_SLACK)
    if abs(run) >= _RUN_LENGTH:
        stats[_LEVEL] += stats[_RUN_SUM] / abs(run)
    elif stats[_CUSUM_UP] > change_threshold or stats[_CUSUM_DOWN] > change_threshold:
        stats[_LEVEL] += stats[_FAST_RESIDUAL]
    else:
        counters[_RUN] = run
        stats[_CUSUM_VAR] = max(0.0, stats[_CUSUM_VAR] + min(z * z, 25.0) - _VAR_SLACK)
        if stats[_CUSUM_VAR] > _VAR_THRESHOLD:
            stats[_VAR] = max(stats[_VAR], stats[_FAST_VAR])
            stats[_CUSUM_VAR] = 0.0
            counters[_N_REBASELINE] += 1
        return
    stats[_FAST_RESIDUAL] = 0.0
    stats[_RUN_SUM] = 0.0
    stats[_CUSUM_UP] = 0.0
    stats[_CUSUM_DOWN] = 0.0
    counters[_RUN] = 0
    counters[_N_REBASELINE] += 1


@numba.jit(**NUMBA_OPTIONS)
def push_mean(window: np.ndarray, k: int, value: float) -> float:
    """Write the ``k``-th value into the ring ``window``; return the mean of those held."""
    width = window.shape[0]
    window[k % width] = value
    filled = min(k + 1, width)
    total = 0.0
    for i in range(filled):
        total += window[i]
    return float(total / filled)


@numba.jit(**NUMBA_OPTIONS)
def beyond_range(x: float, lowest: float, highest: float, margin: float) -> bool:
    """True when ``x`` lies outside ``[lowest, highest]`` by more than ``margin`` of its span."""
    span = highest - lowest
    return x > highest + margin * span or x < lowest - margin * span


@numba.jit(**NUMBA_OPTIONS)
def _surprise(
    smooth: np.ndarray,
    stats: np.ndarray,
    counters: np.ndarray,
    z: float,
    x: float,
    range_margin: float,
) -> float:
    """Tail probability of the residual: per point, or of its short average (calibrated).

    With a smoothing window of one point this is the two-sided Gaussian tail of ``z``. With
    a longer window, the mean of the last capped ``|z|`` values is compared with the running
    mean and variance of that mean (the anomaly-likelihood idea of Ahmad et al. 2017), which
    calibrates each stream to its own noise. A value beyond the range seen so far by more
    than ``range_margin`` times that range is at most 1e-4 likely.
    """
    width = smooth.shape[0]
    if width == 1:
        p = math.erfc(abs(z) / _SQRT2)
    else:
        k = counters[_N_AVG]
        avg = push_mean(smooth, k, min(abs(z), _RAW_CAP))
        p = 1.0
        if k >= width:
            spread = math.sqrt(max(stats[_AVG_VAR], 1e-6))
            p = 0.5 * math.erfc((avg - stats[_AVG_MEAN]) / spread / _SQRT2)
        rate = max(_AVG_MEMORY, 1.0 / (k + 1))
        delta = avg - stats[_AVG_MEAN]
        stats[_AVG_MEAN] += rate * delta
        stats[_AVG_VAR] += rate * (delta * delta - stats[_AVG_VAR])
        counters[_N_AVG] = k + 1
    if range_margin > 0.0 and beyond_range(x, stats[_LOWEST], stats[_HIGHEST], range_margin):
        p = min(p, 1e-4)
    return p


@numba.jit(**NUMBA_OPTIONS)
def _tail_width(stats: np.ndarray, params: SeasonalParams, z: float, learned: int) -> float:
    """How much wider than Gaussian the residuals' tail is (>= 1), then learn from ``|z|``.

    A running estimate ``q`` of the ``tail_quantile`` quantile of ``|z|`` (stochastic
    approximation; relative step ``_TAIL_START / (learned + 1)`` clipped to
    ``[_TAIL_RATE, _TAIL_RATE_CAP]``, so it settles fast and then moves slowly;
    ``learned`` = points scored before this one) is compared with the Gaussian one,
    ``gaussian_quantile``: heavy-tailed residuals (``q`` above it) widen the scale used for scoring
    by ``q / gaussian``, so a stream that is often 6-sigma away needs a bigger excursion to
    surprise. 1 when ``tail_quantile`` is 0 (off). The estimate is learned after it is used.
    """
    level, gaussian = params.tail_quantile, params.gaussian_quantile
    if level <= 0.0:
        return 1.0
    q = stats[_TAIL_QUANTILE]
    if q <= 0.0:
        q = gaussian
    width: float = max(1.0, q / gaussian)
    above = 1.0 if abs(z) > q else 0.0
    rate = min(_TAIL_RATE_CAP, max(_TAIL_RATE, _TAIL_START / (learned + 1.0)))
    stats[_TAIL_QUANTILE] = q + rate * max(q, 0.1) * (above - (1.0 - level))
    return width


@numba.jit(**NUMBA_OPTIONS)
def step(state: SeasonalState, params: SeasonalParams, x: float) -> float:
    """Score ``x`` against the forecast, then learn it (see ``SeasonalDetector``)."""
    history, profile, stats, counters, smooth = state
    level_rate, season_rate, scale_rate = params.level_rate, params.season_rate, params.scale_rate
    clip, change_threshold, warmup = params.clip, params.change_threshold, params.warmup
    fixed_period, min_period, max_period = params.fixed_period, params.min_period, params.max_period
    min_corr = params.min_season_correlation
    range_margin = params.range_margin
    n = counters[_N_SEEN]
    period = counters[_PERIOD]
    score = math.nan
    if n == 0:
        stats[_LEVEL] = x
    else:
        expected, scale = forecast(profile, stats, counters)
        residual = x - expected
        scale = floored_scale(stats, scale)
        z = residual / scale
        # a value frozen for longer than its own repeat rate makes likely is "stuck"
        stuck_run = counters[_STUCK_RUN] + 1 if x == stats[_PREVIOUS] else 0
        counters[_STUCK_RUN] = stuck_run
        if n >= warmup:
            width = _tail_width(stats, params, z, n - warmup)
            stats[_LAST_WIDTH] = width
            bits = -math.log10(
                max(_surprise(smooth, stats, counters, z / width, x, range_margin), 1e-300)
            )
            score = bits / (1.0 + bits)
            if stuck_run > 0:  # its own channel: one report when a run becomes improbable
                per_point = -math.log10(stats[_REPEAT_RATE] + 1.0 / (n + 2.0))
                stuck_bits = stuck_run * per_point
                if stuck_bits - per_point >= _STUCK_REPORTED_BITS:
                    stuck_bits = min(stuck_bits, 1.0)  # already reported this run
                score = max(score, stuck_bits / (1.0 + stuck_bits))
        repeat_rate = max(_REPEAT_MEMORY, 1.0 / n)
        stats[_REPEAT_RATE] += repeat_rate * ((1.0 if stuck_run > 0 else 0.0) - stats[_REPEAT_RATE])
        # learn: Huber-clipped residual so a spike cannot drag the baseline
        warm = n >= warmup
        zc = max(-clip, min(clip, z)) if warm else z
        step_size = zc * scale
        rate = max(level_rate, 1.0 / (n + 1))
        stats[_LEVEL] += rate * step_size
        if period > 0:
            profile[n % period] += season_rate * (1.0 - rate) * step_size
        r2 = residual * residual
        if not warm:
            stats[_VAR] += (r2 - stats[_VAR]) / n
        elif abs(z) <= _PROTECT:
            stats[_VAR] += scale_rate * (min(r2, clip * clip * stats[_VAR]) - stats[_VAR])
        stats[_FAST_VAR] += 0.05 * (r2 - stats[_FAST_VAR])
        stats[_FAST_RESIDUAL] += 0.3 * (residual - stats[_FAST_RESIDUAL])
        if warm:
            _rebaseline(stats, counters, z, zc, residual, change_threshold)
    stats[_PREVIOUS] = x
    stats[_LOWEST] = min(stats[_LOWEST], x) if n > 0 else x
    stats[_HIGHEST] = max(stats[_HIGHEST], x) if n > 0 else x
    history[n % history.shape[0]] = x
    n += 1
    counters[_N_SEEN] = n
    if fixed_period < 0 and n >= counters[_NEXT_CHECK]:
        found, corr = estimate_period(history, n, min_period, max_period, min_corr)
        if found > 0 and found != period:
            _adopt_period(history, profile, stats, n, found)
            counters[_PERIOD] = found
            stats[_SEASON_CORR] = corr
        size = history.shape[0]
        if n < size:
            counters[_NEXT_CHECK] = 2 * n
        else:
            counters[_NEXT_CHECK] = n + (size if counters[_PERIOD] == 0 else 4 * size)
    return score


@numba.jit(**NUMBA_OPTIONS)
def seasonal_forecast(state: SeasonalState, params: SeasonalParams) -> tuple[float, float]:
    """:func:`forecast` of a whole seasonal state (the detector's ``_forecast`` kernel)."""
    expected, scale = forecast(state.profile, state.stats, state.counters)
    return expected, scale


@numba.jit(**NUMBA_OPTIONS)
def last_width(stats: np.ndarray) -> float:
    """The tail widening used to score the latest point (>= 1; 1 before any score)."""
    return float(max(1.0, stats[_LAST_WIDTH]))


@numba.jit(**NUMBA_OPTIONS)
def seasonal_alarm_scale(state: SeasonalState, params: SeasonalParams) -> float:
    """:func:`last_width` of a seasonal state (the detector's ``_alarm_scale`` kernel)."""
    return float(last_width(state.stats))
