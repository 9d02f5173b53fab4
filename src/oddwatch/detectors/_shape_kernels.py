"""The season-lag shape channel: how unlike the same stretch one and two seasons back the newest is.

A cheap, bounded relative of the left matrix profile (:mod:`oddwatch.detectors.discord`): the
newest subsequence of one season is compared, z-normalised, with the subsequences that end
``k`` seasons earlier, give or take ``slack`` of a season, ``k = 1 .. seasons``: where the
previous cycles of a beat, a stride or a day were. The distance is ``sqrt(2 (1 - r))`` for the
best Pearson correlation ``r`` (0: the same shape, up to offset and scale; 2: mirrored). A
season longer than ``2 resolution - 1`` points is compared in blocks of ``period //
resolution`` points (their means), so the cost stays bounded: per block, three rolling sums
and one correlation per lag, about ``4 slack resolution`` lags per season looked back.

The default detector turns the distance into a surprise against the stream's own history of
distances (:mod:`oddwatch.detectors._histogram_tail`).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._state_checks import BIG, finite, in_range
from oddwatch.config import INLINE_OPTIONS, NUMBA_OPTIONS

__all__ = [
    "SHAPE_SCALARS",
    "ShapeParams",
    "ShapeState",
    "longest_window",
    "max_slots",
    "ring_size",
    "shape_distance",
    "shape_state",
]

_RECENTRE = 2  # the sums are recomputed exactly every _RECENTRE * len(ring) blocks
_ROUNDING = 1e-9  # a rolling variance below this share of `peak` may be rounding: recompute
_FLAT = 1e-12  # an exact variance below this share of `peak` is a flat subsequence

SHAPE_SCALARS = np.dtype(
    [
        ("period", np.int64),  # season the lags are laid out for (0: none)
        ("step", np.int64),  # points averaged into one block (the channel's time unit)
        ("block_count", np.int64),  # points in the block being averaged
        ("n_blocks", np.int64),  # blocks written to the ring since the season was laid out
        ("ready", np.int64),  # 1 once the sums were computed for this season
        ("window", np.int64),  # subsequence length in use, in blocks
        ("n_slots", np.int64),  # lags in use
        ("started", np.int64),  # time of the last exact computation of the sums
        ("block_sum", np.float64),  # sum of the points in the block being averaged
        ("centre", np.float64),  # subtracted from every value before it enters a sum
        ("newest_sum", np.float64),  # sum and sum of squares of the newest subsequence
        ("newest_squares", np.float64),
        ("peak", np.float64),  # largest square in the sums since they were last exact
    ]
)


class ShapeState(NamedTuple):
    """Rolling sums per lag, the histogram of distances, and a record of named scalars."""

    ring: np.ndarray  # the latest block means
    lags: np.ndarray  # the lag of each slot, in blocks (the first n_slots are in use)
    dots: np.ndarray  # sum over the window of (newest - centre) * (lagged - centre)
    sums: np.ndarray  # sum over the lagged window of (value - centre)
    squares: np.ndarray  # sum over the lagged window of (value - centre) ** 2
    scalars: np.ndarray  # one SHAPE_SCALARS record

    def check_invariants(self, owner: str, params: Any) -> None:
        """Lags index the ring; slot, window and block counts fit their arrays."""
        size = self.ring.shape[-1]
        slots = self.lags.shape[-1]
        for name in ("step", "n_blocks"):
            in_range(owner, f"shape scalars.{name}", self.scalars[name], 0, BIG)
        in_range(owner, "shape scalars.ready", self.scalars["ready"], 0, 1)
        step = np.maximum(self.scalars["step"], 1)
        in_range(owner, "shape scalars.block_count", self.scalars["block_count"], 0, step - 1)
        in_range(owner, "shape scalars.n_slots", self.scalars["n_slots"], 0, slots)
        in_range(owner, "shape scalars.window", self.scalars["window"], 0, size // 2)
        in_range(owner, "shape scalars.period", self.scalars["period"], 0, BIG)
        in_range(owner, "shape scalars.started", self.scalars["started"], 0, BIG)
        started = self.scalars["period"] > 0  # then the sums divide by the window and step
        in_range(owner, "shape scalars.step (started)", self.scalars["step"][started], 1, BIG)
        in_range(owner, "shape scalars.window (started)", self.scalars["window"][started], 1, BIG)
        in_range(owner, "shape scalars.n_slots (started)", self.scalars["n_slots"][started], 1, BIG)
        finite(owner, "shape scalars.peak", self.scalars["peak"], 0.0)
        in_range(owner, "shape lags", self.lags, 0, size - 1)
        in_use = np.arange(slots) < self.scalars["n_slots"][..., None]
        reach = np.where(in_use, self.lags + self.scalars["window"][..., None], 0)
        in_range(owner, "shape lags + window", reach, 0, size - 1)


class ShapeParams(NamedTuple):
    seasons: int  # how many seasons back a subsequence looks for its neighbour
    slack: float  # relative width of the lag range around each season
    resolution: int  # a season is averaged down to between this and twice this many blocks


def longest_window(resolution: int, max_period: int) -> int:
    """The longest subsequence, in blocks, for seasons up to ``max_period`` points.

    Examples
    --------
    >>> longest_window(128, 1024), longest_window(128, 50)
    (255, 50)
    """
    return max(1, min(2 * resolution - 1, max_period))


def max_slots(window: int, seasons: int, slack: float) -> int:
    """Room for the lags :func:`_layout` lays out for subsequences of at most ``window`` blocks.

    Around each of ``seasons`` seasons the lags span ``2 slack`` of a season, plus both ends.

    Examples
    --------
    >>> max_slots(127, seasons=2, slack=0.1)
    56
    """
    return max(1, seasons * (2 * round(slack * window) + 2))


def ring_size(window: int, seasons: int, slack: float) -> int:
    """Blocks the ring keeps: the longest lag plus one window, and one block more.

    Examples
    --------
    >>> ring_size(127, seasons=2, slack=0.1)
    396
    """
    return math.ceil((seasons + slack + 1.0) * window) + 2


def shape_state(slots: int, size: int) -> ShapeState:
    """An empty shape channel with room for ``slots`` lags and a ring of ``size`` blocks."""
    return ShapeState(
        ring=np.zeros(size),
        lags=np.zeros(slots, dtype=np.int64),
        dots=np.zeros(slots),
        sums=np.zeros(slots),
        squares=np.zeros(slots),
        scalars=np.zeros(1, dtype=SHAPE_SCALARS),
    )


@numba.jit(**NUMBA_OPTIONS)
def _layout(state: ShapeState, params: ShapeParams, period: int, window: int) -> int:
    """Lay out the lags around ``k * period`` (``k = 1 .. seasons``); the longest, 0 if none."""
    lags = state.lags
    size = state.ring.shape[0]
    n = 0
    reach = round(params.slack * period)
    for k in range(1, params.seasons + 1):
        lo = max(k * period - reach, (window + 1) // 2, 1)
        hi = k * period + reach
        for lag in range(lo, hi + 1):
            if lag + window < size and n < lags.shape[0] and (n == 0 or lag > lags[n - 1]):
                lags[n] = lag
                n += 1
    state.scalars[0].n_slots = n
    return lags[n - 1] if n > 0 else 0


@numba.jit(**NUMBA_OPTIONS)
def _exact(state: ShapeState, ring: np.ndarray, t: int) -> None:
    """Centre on the recent values and compute every sum exactly for the window ending at t."""
    v = state.scalars[0]
    size = ring.shape[0]
    window, n = v.window, v.n_slots
    span = state.lags[n - 1] + window
    centre = 0.0
    for i in range(span):
        centre += ring[(t - i) % size]
    centre /= span
    v.centre = centre
    peak = 0.0
    for i in range(span):
        a = ring[(t - i) % size] - centre
        peak = max(peak, a * a)
    v.peak = peak
    total = 0.0
    squares = 0.0
    for i in range(window):
        a = ring[(t - i) % size] - centre
        total += a
        squares += a * a
    v.newest_sum, v.newest_squares = total, squares
    for j in range(n):
        lag = state.lags[j]
        dot = 0.0
        s = 0.0
        q = 0.0
        for i in range(window):
            a = ring[(t - i) % size] - centre
            b = ring[(t - lag - i) % size] - centre
            dot += a * b
            s += b
            q += b * b
        state.dots[j], state.sums[j], state.squares[j] = dot, s, q
    v.started = t


@numba.jit(**INLINE_OPTIONS)
def _roll(state: ShapeState, ring: np.ndarray, t: int) -> None:
    """Slide the newest window by one point: the value at t enters, the one at t - window leaves.

    The lagged windows slide in :func:`_distance`, in the same pass that compares them.
    """
    v = state.scalars[0]
    size = ring.shape[0]
    now = t % size
    gone = now - v.window + (size if now < v.window else 0)
    a = ring[now] - v.centre
    b = ring[gone] - v.centre
    v.newest_sum += a - b
    v.newest_squares += a * a - b * b
    v.peak = max(v.peak, a * a)


@numba.jit(**INLINE_OPTIONS)
def shape_distance(state: ShapeState, params: ShapeParams, x: float, period: int) -> float:
    """Distance of the subsequence ending with ``x`` to its nearest seasonal neighbour.

    ``period`` is the season in use (0: none). A season longer than ``2 resolution - 1``
    points is compared in blocks of ``period // resolution`` points (their means): the
    distance comes at the last point of each block, ``nan`` at the others, while no season
    is known and until the ring reaches the longest lag.
    """
    v = state.scalars[0]
    if period < 2:
        v.period = 0
        return math.nan
    if period != v.period:
        step = max(1, period // params.resolution)
        window = round(period / step)
        v.period, v.step, v.window = period, step, window
        v.block_sum, v.block_count, v.n_blocks, v.ready = 0.0, 0, 0, 0
        _layout(state, params, window, window)
    v.block_sum += x
    v.block_count += 1
    if v.block_count < v.step:
        return math.nan
    ring = state.ring
    t = v.n_blocks
    ring[t % ring.shape[0]] = v.block_sum / v.step
    v.block_sum, v.block_count, v.n_blocks = 0.0, 0, t + 1
    if v.n_slots == 0 or t + 1 < state.lags[v.n_slots - 1] + v.window + 1:
        return math.nan
    if v.ready == 0 or t - v.started >= _RECENTRE * ring.shape[0]:
        _exact(state, ring, t)
        v.ready = 1
    else:
        _roll(state, ring, t)
        distance, suspect = _distance(state, ring, t, True)
        if not suspect or t - v.started < v.window:
            return float(distance)
        # sums rolled past much larger values lose small variances to rounding: at most once
        # per window, compute them again exactly
        _exact(state, ring, t)
    distance, suspect = _distance(state, ring, t, False)
    return float(distance)


@numba.jit(**INLINE_OPTIONS)
def _distance(state: ShapeState, ring: np.ndarray, t: int, roll: bool) -> tuple[float, bool]:
    """``sqrt(2 (1 - r))`` for the best correlation ``r`` of the newest subsequence.

    With ``roll``, each lagged window first slides by one point (the newest one already has).
    Also whether some variance is small enough, next to the largest value rolled through the
    sums, to be rounding. Works in sums (window times the means, variances, covariances) and
    compares ``r |r|`` as fractions, so the loop over the lags has no division.
    """
    v = state.scalars[0]
    window = v.window
    size = ring.shape[0]
    now = t % size  # ring positions by subtraction and one wrap: no division per lag
    gone = now - window + (size if now < window else 0)
    a = ring[now] - v.centre
    b = ring[gone] - v.centre
    lags = state.lags
    inv_window = 1.0 / window
    flat_below = (_FLAT * v.peak + 1e-300) * window
    suspect_below = _ROUNDING * v.peak * window
    total = v.newest_sum
    var = v.newest_squares - total * total * inv_window  # window * variance
    suspect = not var > suspect_below
    best_num = -var  # the best r |r| times var, as best_num / best_den: r = -1 so far
    best_den = 1.0
    n_flat = 0
    dots, sums, squares = state.dots, state.sums, state.squares
    for j in range(v.n_slots):
        if roll:
            lag = lags[j]
            a_lag = ring[now - lag + (size if now < lag else 0)] - v.centre
            b_lag = ring[gone - lag + (size if gone < lag else 0)] - v.centre
            dots[j] += a * a_lag - b * b_lag
            sums[j] += a_lag - b_lag
            squares[j] += a_lag * a_lag - b_lag * b_lag
        var_lag = squares[j] - sums[j] * sums[j] * inv_window
        suspect |= not var_lag > suspect_below
        if not var_lag > flat_below:  # (also when a crafted state made it nan)
            n_flat += 1
            continue
        cov = dots[j] - total * sums[j] * inv_window
        num = cov * abs(cov)
        if num * best_den > best_num * var_lag:
            best_num, best_den = num, var_lag
    if not var > flat_below:
        r = 1.0 if n_flat > 0 else 0.5  # flat against flat: the same shape
    else:
        r = best_num / (best_den * var)
        r = math.copysign(math.sqrt(abs(r)), r)
        if n_flat > 0:
            r = max(r, 0.5)  # a flat neighbour is at correlation 0.5 (STUMPY's convention)
    return math.sqrt(max(2.0 * (1.0 - min(r, 1.0)), 0.0)), suspect
