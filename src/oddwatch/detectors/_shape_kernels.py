"""The season-lag shape channel: how unlike the same stretch one and two seasons back the newest is.

A cheap, bounded relative of the left matrix profile (:mod:`oddwatch.detectors.discord`): the
newest subsequence of one season (at most ``max_window`` points) is compared, z-normalised,
with the subsequences that end between ``(1 - slack) k`` and ``(1 + slack) k`` seasons
earlier, ``k = 1 .. seasons``: where the previous cycles of a beat, a stride or a day were.
The distance is ``sqrt(2 (1 - r))`` for the best Pearson correlation ``r`` (0: the same shape,
up to offset and scale; 2: mirrored). It reads the values from the seasonal forecast's own
history ring, so it costs no copy of the stream: per point, a few multiply-adds per lag.

The distance is then calibrated against the stream's own history of distances: a forgetting
histogram of ``log2 d`` gives the share of distances at or above ``d``; beyond the
``1 - tail_fraction`` quantile ``u`` the tail is exponential, ``tail_fraction * exp(-(d - u) /
beta)`` with ``beta`` the mean excess over ``u`` (peaks over threshold), so the surprise
``-log10 p`` keeps growing with the distance. The channel is silent (surprise -1) until
``min_learned`` distances are learned.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._state_checks import BIG, in_range
from oddwatch.config import NUMBA_OPTIONS

__all__ = [
    "SHAPE_SCALARS",
    "ShapeParams",
    "ShapeState",
    "max_slots",
    "shape_distance",
    "shape_state",
    "shape_surprise",
]

N_BINS = 208  # log2 d in [-12, 1), 16 bins per octave
_BINS_PER_OCTAVE = 16.0
_LOWEST_OCTAVE = -12.0
_REFIT = 64  # distances learned between two refits of the tail
_MIN_EXCESS = 0.02  # smallest mean excess over u (a perfectly periodic stream's distances are 0)
_RESCALE = 1e200  # the histogram's weights are renormalised when the next weight passes this
_RECENTRE = 2  # the sums are recomputed exactly every _RECENTRE * len(history) points
_ROUNDING = 1e-9  # a rolling variance below this share of `peak` may be rounding: recompute
_FLAT = 1e-12  # an exact variance below this share of `peak` is a flat subsequence
_LN10 = math.log(10.0)

SHAPE_SCALARS = np.dtype(
    [
        ("period", np.int64),  # season the lags are laid out for (0: not started)
        ("window", np.int64),  # subsequence length in use
        ("n_slots", np.int64),  # lags in use
        ("started", np.int64),  # time of the last exact computation of the sums
        ("n_learned", np.int64),  # distances learned into the histogram
        ("centre", np.float64),  # subtracted from every value before it enters a sum
        ("newest_sum", np.float64),  # sum and sum of squares of the newest subsequence
        ("newest_squares", np.float64),
        ("peak", np.float64),  # largest square in the sums since they were last exact
        ("weight", np.float64),  # weight of the next distance learned (grows: forgetting)
        ("total", np.float64),  # total weight in the histogram
        ("tail_start", np.float64),  # u, the 1 - tail_fraction quantile of the distances
        ("tail_excess", np.float64),  # mean excess of the distances over u
    ]
)


class ShapeState(NamedTuple):
    """Rolling sums per lag, the histogram of distances, and a record of named scalars."""

    lags: np.ndarray  # the lag of each slot, in points (the first n_slots are in use)
    dots: np.ndarray  # sum over the window of (newest - centre) * (lagged - centre)
    sums: np.ndarray  # sum over the lagged window of (value - centre)
    squares: np.ndarray  # sum over the lagged window of (value - centre) ** 2
    counts: np.ndarray  # forgetting histogram of log2 distance (N_BINS bins)
    upper: np.ndarray  # share of the weight at or above each bin, at the last refit
    scalars: np.ndarray  # one SHAPE_SCALARS record

    def check_invariants(self, owner: str, params: Any) -> None:
        """Lags index the history ring; slot and window counts fit their arrays."""
        size = params.history_size
        slots = self.lags.shape[-1]
        in_range(owner, "shape scalars.n_slots", self.scalars["n_slots"], 0, slots)
        in_range(owner, "shape scalars.window", self.scalars["window"], 0, size // 2)
        in_range(owner, "shape scalars.period", self.scalars["period"], 0, size)
        for name in ("started", "n_learned"):
            in_range(owner, f"shape scalars.{name}", self.scalars[name], 0, BIG)
        started = self.scalars["period"] > 0  # then the sums divide by the window
        in_range(owner, "shape scalars.window (started)", self.scalars["window"][started], 1, BIG)
        in_range(owner, "shape scalars.n_slots (started)", self.scalars["n_slots"][started], 1, BIG)
        in_range(owner, "shape lags", self.lags, 0, size - 1)
        in_use = np.arange(slots) < self.scalars["n_slots"][..., None]
        reach = np.where(in_use, self.lags + self.scalars["window"][..., None], 0)
        in_range(owner, "shape lags + window", reach, 0, size - 1)


class ShapeParams(NamedTuple):
    seasons: int  # how many seasons back a subsequence looks for its neighbour
    slack: float  # relative width of the lag range around each season
    max_window: int
    forget: float  # factor by which each new distance outweighs the previous one
    tail_fraction: float
    min_learned: int
    history_size: int  # length of the forecast's history ring the lags index


def max_slots(max_period: int, seasons: int, slack: float) -> int:
    """Room for the lags :func:`_layout` lays out for any season up to ``max_period``.

    Around season ``k`` the lags span ``2 k slack max_period`` points, plus both ends.

    Examples
    --------
    >>> max_slots(50, seasons=2, slack=0.1)
    34
    """
    return max(1, math.ceil(seasons * (seasons + 1) * max_period * slack) + 2 * seasons)


def shape_state(slots: int) -> ShapeState:
    """An empty shape channel with room for ``slots`` lags."""
    return ShapeState(
        lags=np.zeros(slots, dtype=np.int64),
        dots=np.zeros(slots),
        sums=np.zeros(slots),
        squares=np.zeros(slots),
        counts=np.zeros(N_BINS),
        upper=np.zeros(N_BINS),
        scalars=np.zeros(1, dtype=SHAPE_SCALARS),
    )


@numba.jit(**NUMBA_OPTIONS)
def _layout(state: ShapeState, params: ShapeParams, period: int, window: int) -> int:
    """Lay out the lags around ``k * period`` (``k = 1 .. seasons``); the longest, 0 if none."""
    lags = state.lags
    size = params.history_size
    n = 0
    for k in range(1, params.seasons + 1):
        lo = max(round(k * period * (1.0 - params.slack)), (window + 1) // 2, 1)
        hi = round(k * period * (1.0 + params.slack))
        for lag in range(lo, hi + 1):
            if lag + window < size and n < lags.shape[0] and (n == 0 or lag > lags[n - 1]):
                lags[n] = lag
                n += 1
    state.scalars[0].n_slots = n
    return lags[n - 1] if n > 0 else 0


@numba.jit(**NUMBA_OPTIONS)
def _exact(state: ShapeState, history: np.ndarray, t: int) -> None:
    """Centre on the recent values and compute every sum exactly for the window ending at t."""
    v = state.scalars[0]
    size = history.shape[0]
    window, n = v.window, v.n_slots
    span = state.lags[n - 1] + window
    centre = 0.0
    for i in range(span):
        centre += history[(t - i) % size]
    centre /= span
    v.centre = centre
    peak = 0.0
    for i in range(span):
        a = history[(t - i) % size] - centre
        peak = max(peak, a * a)
    v.peak = peak
    total = 0.0
    squares = 0.0
    for i in range(window):
        a = history[(t - i) % size] - centre
        total += a
        squares += a * a
    v.newest_sum, v.newest_squares = total, squares
    for j in range(n):
        lag = state.lags[j]
        dot = 0.0
        s = 0.0
        q = 0.0
        for i in range(window):
            a = history[(t - i) % size] - centre
            b = history[(t - lag - i) % size] - centre
            dot += a * b
            s += b
            q += b * b
        state.dots[j], state.sums[j], state.squares[j] = dot, s, q
    v.started = t


@numba.jit(**NUMBA_OPTIONS)
def _roll(state: ShapeState, history: np.ndarray, t: int) -> None:
    """Slide every window by one point: the value at t enters, the one at t - window leaves."""
    v = state.scalars[0]
    size = history.shape[0]
    window, centre = v.window, v.centre
    a = history[t % size] - centre
    b = history[(t - window) % size] - centre
    v.newest_sum += a - b
    v.newest_squares += a * a - b * b
    v.peak = max(v.peak, a * a)
    lags, dots, sums, squares = state.lags, state.dots, state.sums, state.squares
    for j in range(v.n_slots):
        lag = lags[j]
        a_lag = history[(t - lag) % size] - centre
        b_lag = history[(t - lag - window) % size] - centre
        dots[j] += a * a_lag - b * b_lag
        sums[j] += a_lag - b_lag
        squares[j] += a_lag * a_lag - b_lag * b_lag


@numba.jit(**NUMBA_OPTIONS)
def shape_distance(
    state: ShapeState, params: ShapeParams, history: np.ndarray, t: int, period: int
) -> float:
    """Distance of the subsequence ending at time ``t`` to its nearest seasonal neighbour.

    ``history`` is the forecast's ring, holding the value of time ``t`` already; ``period`` the
    season in use (0: none). ``nan`` while no season is known or the ring does not yet reach
    the longest lag.
    """
    v = state.scalars[0]
    if period < 2:
        v.period = 0
        return math.nan
    size = history.shape[0]
    if period != v.period:
        window = min(period, params.max_window)
        v.window = window
        longest = _layout(state, params, period, window)
        if longest == 0 or t + 1 < longest + window + 1:
            v.period = 0  # laid out again at the next point
            return math.nan
        v.period = period
        _exact(state, history, t)
    elif t - v.started >= _RECENTRE * size:
        _exact(state, history, t)
    else:
        _roll(state, history, t)
    distance, suspect = _distance(state)
    if suspect and t - v.started >= v.window:
        # sums rolled past much larger values lose small variances to rounding: at most once
        # per window, compute them again exactly
        _exact(state, history, t)
        distance, suspect = _distance(state)
    return distance


@numba.jit(**NUMBA_OPTIONS)
def _distance(state: ShapeState) -> float:
    """``sqrt(2 (1 - r))`` for the best correlation ``r`` of the newest subsequence.

    Also whether some variance is small enough, next to the largest value rolled through the
    sums, to be rounding.
    """
    v = state.scalars[0]
    inv_window = 1.0 / v.window
    flat_below = _FLAT * v.peak + 1e-300
    suspect_below = _ROUNDING * v.peak
    mean = v.newest_sum * inv_window
    var = v.newest_squares * inv_window - mean * mean
    suspect = var <= suspect_below
    best = -1.0  # r * |r| of the best correlation, compared without square roots
    n_flat = 0
    found = False
    dots, sums, squares = state.dots, state.sums, state.squares
    for j in range(v.n_slots):
        mean_lag = sums[j] * inv_window
        var_lag = squares[j] * inv_window - mean_lag * mean_lag
        suspect |= var_lag <= suspect_below
        if var_lag <= flat_below:
            n_flat += 1
            continue
        cov = dots[j] * inv_window - mean * mean_lag
        best = max(best, cov * abs(cov) / var_lag)
        found = True
    if var <= flat_below:
        r = 1.0 if n_flat > 0 else 0.5  # flat against flat: the same shape
    else:
        r = -1.0
        if found:
            r = best / var
            r = math.copysign(math.sqrt(abs(r)), r)
        if n_flat > 0:
            r = max(r, 0.5)  # a flat neighbour is at correlation 0.5 (STUMPY's convention)
    return math.sqrt(max(2.0 * (1.0 - min(r, 1.0)), 0.0)), suspect


@numba.jit(**NUMBA_OPTIONS)
def _bin(d: float) -> int:
    if d <= 0.0:
        return 0
    b = int(math.floor((math.log2(d) - _LOWEST_OCTAVE) * _BINS_PER_OCTAVE))
    return min(max(b, 0), N_BINS - 1)


@numba.jit(**NUMBA_OPTIONS)
def _edge(b: int) -> float:
    """Lower edge of bin ``b`` (0 for the first: it holds every smaller distance)."""
    return 0.0 if b == 0 else 2.0 ** (b / _BINS_PER_OCTAVE + _LOWEST_OCTAVE)


@numba.jit(**NUMBA_OPTIONS)
def _refit(state: ShapeState, tail_fraction: float) -> None:
    """u (the 1 - tail_fraction quantile), the mean excess over it, and the upper shares."""
    v = state.scalars[0]
    counts, upper = state.counts, state.upper
    total = v.total
    need = tail_fraction * total
    above = 0.0
    excess = 0.0
    u = -1.0
    for b in range(N_BINS - 1, -1, -1):
        c = counts[b]
        if u < 0.0 and above + c >= need:
            lo, hi = _edge(b), _edge(b + 1)
            inside = (need - above) / c if c > 0.0 else 0.0
            u = hi - inside * (hi - lo)
            excess += (need - above) * 0.5 * (hi - u)
            for k in range(b + 1, N_BINS):  # the bins above u, now that u is known
                excess += counts[k] * (0.5 * (_edge(k) + _edge(k + 1)) - u)
        above += c
        upper[b] = above / total
    v.tail_start = max(u, 0.0)
    v.tail_excess = max(excess / need, _MIN_EXCESS)


@numba.jit(**NUMBA_OPTIONS)
def shape_surprise(state: ShapeState, params: ShapeParams, d: float) -> float:
    """``-log10 p`` of distance ``d`` against the distances learned before it, then learn it.

    -1 when ``d`` is ``nan`` or fewer than ``min_learned`` distances are learned.
    """
    if math.isnan(d):
        return -1.0
    v = state.scalars[0]
    surprise = -1.0
    if v.n_learned >= params.min_learned:
        u = v.tail_start
        if d > u:
            surprise = -math.log10(params.tail_fraction) + (d - u) / (v.tail_excess * _LN10)
        else:
            surprise = -math.log10(max(state.upper[_bin(d)], params.tail_fraction))
    weight = v.weight * params.forget if v.n_learned > 0 else 1.0
    if weight > _RESCALE:
        state.counts[:] /= weight
        v.total /= weight
        weight = 1.0
    state.counts[_bin(d)] += weight
    v.total += weight
    v.weight = weight
    v.n_learned += 1
    if v.n_learned % _REFIT == 0 and v.n_learned >= params.min_learned // 2:
        _refit(state, params.tail_fraction)
    return surprise
