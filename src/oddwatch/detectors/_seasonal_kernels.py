"""The seasonal model's state, parameters and numba kernels, shared by the detectors built on it.

:class:`~oddwatch.detectors.SeasonalDetector` runs :func:`step` on its own;
:class:`~oddwatch.detectors.CalibratedSurpriseDetector` reads its forecast (:func:`forecast`,
:func:`floored_scale`, :func:`seen_range`) and then runs :func:`step`. The state is a
:class:`SeasonalState`: three ring buffers and one record (a structured array of one element,
dtype :data:`SEASONAL_SCALARS`) holding every statistic and counter by name. A kernel takes
``v = state.scalars[0]`` and reads and writes ``v.level``: numba's record is a view, so the
writes land in the state, and all the scalars share one base pointer and a few cache lines
(one key's in ``KeyedMonitor``). Checkpoints store each field as its own array
(``seasonal.scalars.level``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._state_checks import BIG, in_range
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors._season import _ordered_detrended, estimate_period

__all__ = [
    "SEASONAL_SCALARS",
    "SeasonalParams",
    "SeasonalState",
    "last_width",
    "seasonal_alarm_scale",
    "seasonal_state",
    "floored_scale",
    "forecast",
    "season_length",
    "seen_range",
    "step",
]

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


SEASONAL_SCALARS = np.dtype(
    [
        ("level", np.float64),  # deseasonalised level
        ("var", np.float64),  # variance of the residuals
        ("cusum_up", np.float64),  # level CUSUMs of the clipped residuals, up and down
        ("cusum_down", np.float64),
        ("fast_residual", np.float64),  # fast mean residual: a CUSUM re-baseline's jump
        ("season_corr", np.float64),  # autocorrelation of the season in use
        ("fast_var", np.float64),  # fast residual variance: the scale after a volatility jump
        ("cusum_var", np.float64),  # volatility CUSUM of z^2
        ("run_sum", np.float64),  # sum of the residuals of the current run beyond `clip`
        ("previous", np.float64),  # the last value seen
        ("repeat_rate", np.float64),  # how often a value repeats its predecessor exactly
        ("avg_mean", np.float64),  # mean and variance of the smoothed residual (smoothing > 1)
        ("avg_var", np.float64),
        ("lowest", np.float64),  # range of the values seen
        ("highest", np.float64),
        ("tail_quantile", np.float64),  # running `tail_quantile` quantile of |z| (0: not started)
        ("last_width", np.float64),  # tail widening used to score the latest point
        ("n_seen", np.int64),  # points learned
        ("period", np.int64),  # season length in use (0: none)
        ("next_check", np.int64),  # n_seen at the next season search
        ("n_rebaseline", np.int64),  # re-baselines so far
        ("run", np.int64),  # signed length of the current run beyond `clip`
        ("stuck_run", np.int64),  # points in a row equal to their predecessor
        ("n_averaged", np.int64),  # smoothed residuals calibrated so far
    ]
)


class SeasonalState(NamedTuple):
    """The seasonal model's learned state: three rings and one record of named scalars."""

    history: np.ndarray  # the last 2 * max_season_length values (ring), for season search
    profile: np.ndarray  # seasonal offset per phase
    smooth: np.ndarray  # the last `smoothing` capped residuals (ring)
    scalars: np.ndarray  # one SEASONAL_SCALARS record: statistics and counters by name

    def check_invariants(self, owner: str, params: Any) -> None:
        """Counts, a season no longer than the profile, a run of at most ``_RUN_LENGTH``."""
        limits = {
            "n_seen": (0, BIG),
            "period": (0, self.profile.shape[-1]),
            "next_check": (0, BIG),
            "n_rebaseline": (0, BIG),
            "run": (-_RUN_LENGTH, _RUN_LENGTH),
            "stuck_run": (0, BIG),
            "n_averaged": (0, BIG),
        }
        for name, (lo, hi) in limits.items():
            in_range(owner, f"seasonal scalars.{name}", self.scalars[name], lo, hi)


_FIRST_CHECK = 256  # points before the first season search


def seasonal_state(
    history: np.ndarray, profile: np.ndarray, smooth: np.ndarray, period: int
) -> SeasonalState:
    """An empty state over these rings, with ``period`` in use (0: none, or not known yet)."""
    scalars = np.zeros(1, dtype=SEASONAL_SCALARS)
    scalars["period"] = period
    scalars["next_check"] = _FIRST_CHECK
    return SeasonalState(history=history, profile=profile, smooth=smooth, scalars=scalars)


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
def forecast(s: SeasonalState) -> tuple[float, float]:
    """``(expected, scale)`` for the next point, before it is learned.

    ``expected`` is the level plus the profile at the point's phase; ``scale`` is the standard
    deviation of the residuals (0 until two points are seen).
    """
    v = s.scalars[0]
    n = v.n_seen
    period = v.period
    expected = v.level + (s.profile[n % period] if period > 0 else 0.0)
    return expected, math.sqrt(v.var)


@numba.jit(**NUMBA_OPTIONS)
def floored_scale(s: SeasonalState, scale: float) -> float:
    """``scale`` floored at ``1e-9 * (1 + |level|)``, so residuals can be divided by it."""
    v = s.scalars[0]
    return float(max(scale, 1e-9 * (1.0 + abs(v.level))))


@numba.jit(**NUMBA_OPTIONS)
def seen_range(s: SeasonalState) -> tuple[float, float]:
    """``(lowest, highest)`` value seen so far."""
    v = s.scalars[0]
    return v.lowest, v.highest


def season_length(s: SeasonalState) -> int:
    """Season length in use (0 while none is known)."""
    return int(s.scalars["period"][0])


@numba.jit(**NUMBA_OPTIONS)
def _adopt_period(s: SeasonalState, n: int, period: int) -> None:
    """Seed the seasonal profile, level and variance of a newly found season from history."""
    v = s.scalars[0]
    history, profile = s.history, s.profile
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
    v.level = level / period
    var = 0.0
    for i in range(m):
        r = y[i] - profile[(n - m + i) % period]
        var += r * r
    v.var = var / m


@numba.jit(**NUMBA_OPTIONS)
def _rebaseline(
    v: Any,
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
    run = v.run
    big = abs(z) >= abs(zc) and abs(zc) > 0.0 and abs(z) > 3.0
    if big and (run == 0 or (run > 0) == (z > 0)):
        run = run + 1 if z > 0 else run - 1
        v.run_sum += residual
    elif big:
        run = 1 if z > 0 else -1
        v.run_sum = residual
    else:
        run = 0
        v.run_sum = 0.0
    v.cusum_up = max(0.0, v.cusum_up + zc - _CUSUM_SLACK)
    v.cusum_down = max(0.0, v.cusum_down - zc - _CUSUM_SLACK)
    if abs(run) >= _RUN_LENGTH:
        v.level += v.run_sum / abs(run)
    elif v.cusum_up > change_threshold or v.cusum_down > change_threshold:
        v.level += v.fast_residual
    else:
        v.run = run
        v.cusum_var = max(0.0, v.cusum_var + min(z * z, 25.0) - _VAR_SLACK)
        if v.cusum_var > _VAR_THRESHOLD:
            v.var = max(v.var, v.fast_var)
            v.cusum_var = 0.0
            v.n_rebaseline += 1
        return
    v.fast_residual = 0.0
    v.run_sum = 0.0
    v.cusum_up = 0.0
    v.cusum_down = 0.0
    v.run = 0
    v.n_rebaseline += 1


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
    s: SeasonalState,
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
    v = s.scalars[0]
    smooth = s.smooth
    width = smooth.shape[0]
    if width == 1:
        p = math.erfc(abs(z) / _SQRT2)
    else:
        k = v.n_averaged
        avg = push_mean(smooth, k, min(abs(z), _RAW_CAP))
        p = 1.0
        if k >= width:
            spread = math.sqrt(max(v.avg_var, 1e-6))
            p = 0.5 * math.erfc((avg - v.avg_mean) / spread / _SQRT2)
        rate = max(_AVG_MEMORY, 1.0 / (k + 1))
        delta = avg - v.avg_mean
        v.avg_mean += rate * delta
        v.avg_var += rate * (delta * delta - v.avg_var)
        v.n_averaged = k + 1
    if range_margin > 0.0 and beyond_range(x, v.lowest, v.highest, range_margin):
        p = min(p, 1e-4)
    return p


@numba.jit(**NUMBA_OPTIONS)
def _tail_width(v: Any, params: SeasonalParams, z: float, learned: int) -> float:
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
    q = v.tail_quantile
    if q <= 0.0:
        q = gaussian
    width: float = max(1.0, q / gaussian)
    above = 1.0 if abs(z) > q else 0.0
    rate = min(_TAIL_RATE_CAP, max(_TAIL_RATE, _TAIL_START / (learned + 1.0)))
    v.tail_quantile = q + rate * max(q, 0.1) * (above - (1.0 - level))
    return width


@numba.jit(**NUMBA_OPTIONS)
def step(state: SeasonalState, params: SeasonalParams, x: float) -> float:
    """Score ``x`` against the forecast, then learn it (see ``SeasonalDetector``)."""
    s = state
    history, profile = s.history, s.profile
    v = s.scalars[0]  # a record: its fields are the state's, written in place
    level_rate, season_rate, scale_rate = params.level_rate, params.season_rate, params.scale_rate
    clip, change_threshold, warmup = params.clip, params.change_threshold, params.warmup
    fixed_period, min_period, max_period = params.fixed_period, params.min_period, params.max_period
    min_corr = params.min_season_correlation
    range_margin = params.range_margin
    n = v.n_seen
    period = v.period
    score = math.nan
    if n == 0:
        v.level = x
    else:
        expected, scale = forecast(s)
        residual = x - expected
        scale = floored_scale(s, scale)
        z = residual / scale
        # a value frozen for longer than its own repeat rate makes likely is "stuck"
        stuck_run = v.stuck_run + 1 if x == v.previous else 0
        v.stuck_run = stuck_run
        if n >= warmup:
            width = _tail_width(v, params, z, n - warmup)
            v.last_width = width
            bits = -math.log10(max(_surprise(s, z / width, x, range_margin), 1e-300))
            score = bits / (1.0 + bits)
            if stuck_run > 0:  # its own channel: one report when a run becomes improbable
                per_point = -math.log10(v.repeat_rate + 1.0 / (n + 2.0))
                stuck_bits = stuck_run * per_point
                if stuck_bits - per_point >= _STUCK_REPORTED_BITS:
                    stuck_bits = min(stuck_bits, 1.0)  # already reported this run
                score = max(score, stuck_bits / (1.0 + stuck_bits))
        repeat_rate = max(_REPEAT_MEMORY, 1.0 / n)
        v.repeat_rate += repeat_rate * ((1.0 if stuck_run > 0 else 0.0) - v.repeat_rate)
        # learn: Huber-clipped residual so a spike cannot drag the baseline
        warm = n >= warmup
        zc = max(-clip, min(clip, z)) if warm else z
        step_size = zc * scale
        rate = max(level_rate, 1.0 / (n + 1))
        v.level += rate * step_size
        if period > 0:
            profile[n % period] += season_rate * (1.0 - rate) * step_size
        r2 = residual * residual
        if not warm:
            v.var += (r2 - v.var) / n
        elif abs(z) <= _PROTECT:
            v.var += scale_rate * (min(r2, clip * clip * v.var) - v.var)
        v.fast_var += 0.05 * (r2 - v.fast_var)
        v.fast_residual += 0.3 * (residual - v.fast_residual)
        if warm:
            _rebaseline(v, z, zc, residual, change_threshold)
    v.previous = x
    v.lowest = min(v.lowest, x) if n > 0 else x
    v.highest = max(v.highest, x) if n > 0 else x
    history[n % history.shape[0]] = x
    n += 1
    v.n_seen = n
    if fixed_period < 0 and n >= v.next_check:
        found, corr = estimate_period(history, n, min_period, max_period, min_corr)
        if found > 0 and found != period:
            _adopt_period(s, n, found)
            v.period = found
            v.season_corr = corr
        size = history.shape[0]
        if n < size:
            v.next_check = 2 * n
        else:
            v.next_check = n + (size if v.period == 0 else 4 * size)
    return score


@numba.jit(**NUMBA_OPTIONS)
def seasonal_forecast(state: SeasonalState, params: SeasonalParams) -> tuple[float, float]:
    """:func:`forecast` of a whole seasonal state (the detector's ``_forecast`` kernel)."""
    expected, scale = forecast(state)
    return expected, scale


@numba.jit(**NUMBA_OPTIONS)
def last_width(s: SeasonalState) -> float:
    """The tail widening used to score the latest point (>= 1; 1 before any score)."""
    v = s.scalars[0]
    return float(max(1.0, v.last_width))


@numba.jit(**NUMBA_OPTIONS)
def seasonal_alarm_scale(state: SeasonalState, params: SeasonalParams) -> float:
    """:func:`last_width` of a seasonal state (the detector's ``_alarm_scale`` kernel)."""
    return float(last_width(state))
