"""Streaming discord: how unlike every recent subsequence the newest one is, in shape.

A left matrix profile over a bounded history (DAMP: Lu, Wu, Mueen, Zuluaga & Keogh, KDD 2022),
kept with one multiply-add per lag and point. See ``docs/algorithms/discord.md``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._state_checks import BIG, fail, in_range
from oddwatch._validation import IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors._base import Detector
from oddwatch.detectors._season import estimate_period
from oddwatch.errors import InvalidParameterError

__all__ = ["StreamingDiscord"]

MIN_LENGTH = 8
"""Shortest subsequence length (a season shorter than this is compared over this many points)."""
_MIN_SEASON_CORRELATION = 0.3
_WARMUP_SEASONS = 4  # warm-up = this many longest subsequences: room for the season search

# counters
_N_SEEN = 0
_LENGTH = 1  # subsequence length in use; 0 until the warm-up ends
_PERIOD = 2  # season found at the end of the warm-up; 0 when none
_N_COUNTERS = 3


@numba.jit(**NUMBA_OPTIONS)
def _write(ring: np.ndarray, t: int, value: float) -> None:
    """Store `value` for time `t` in a doubled ring (both copies), so reads never wrap."""
    size = ring.shape[0] // 2
    ring[t % size] = value
    ring[t % size + size] = value


@numba.jit(**NUMBA_OPTIONS)
def _dot(values: np.ndarray, end_a: int, end_b: int, length: int) -> float:
    """Dot product of the subsequences of `length` points ending at doubled-ring positions."""
    total = 0.0
    for k in range(length):
        total += values[end_a - k] * values[end_b - k]
    return total


@numba.jit(**NUMBA_OPTIONS)
def _store_stats(
    values: np.ndarray, means: np.ndarray, inv_stds: np.ndarray, t: int, length: int
) -> None:
    """Mean and 1 / std of the subsequence ending at time `t` (1 / std = 0: it is flat)."""
    end = t % (values.shape[0] // 2) + values.shape[0] // 2
    total = 0.0
    low = math.inf
    high = -math.inf
    for k in range(length):
        v = values[end - k]
        total += v
        low = min(low, v)
        high = max(high, v)
    mean = total / length
    squares = 0.0
    for k in range(length):
        d = values[end - k] - mean
        squares += d * d
    _write(means, t, mean)
    _write(inv_stds, t, 0.0 if high == low else 1.0 / math.sqrt(squares / length))


@numba.jit(**NUMBA_OPTIONS)
def _start(
    values: np.ndarray,
    dots: np.ndarray,
    means: np.ndarray,
    inv_stds: np.ndarray,
    counters: np.ndarray,
    offset: np.ndarray,
    t: int,
) -> None:
    """End of the warm-up at time `t`: choose the length, centre the values, fill the state."""
    history = dots.shape[0]
    size = values.shape[0] // 2
    longest = size - history
    length = counters[_LENGTH]
    if length == 0:
        period, _ = estimate_period(
            values[:size], t + 1, MIN_LENGTH, longest, _MIN_SEASON_CORRELATION
        )
        counters[_PERIOD] = period
        length = period if period > 0 else max(MIN_LENGTH, longest // 4)
        counters[_LENGTH] = max(MIN_LENGTH, min(length, longest))
        length = counters[_LENGTH]
    centre = 0.0
    for k in range(t + 1):
        centre += values[k]
    centre /= t + 1
    offset[0] = centre
    for k in range(t + 1):
        _write(values, k, values[k] - centre)
    for end in range(max(length - 1, t - history + 1), t + 1):
        _store_stats(values, means, inv_stds, end, length)
    base = t % size + size
    for lag in range(length, min(history, t - length + 2)):
        dots[lag] = _dot(values, base, base - lag, length)


class DiscordState(NamedTuple):
    counters: np.ndarray  # [points seen, subsequence length, season found]
    values: np.ndarray  # doubled ring of centred values
    dots: np.ndarray  # dot product of the newest subsequence with the one `lag` points back
    means: np.ndarray  # doubled ring of subsequence means
    inv_stds: np.ndarray  # doubled ring of 1 / subsequence std (0: flat)
    offset: np.ndarray  # [centre subtracted from every value]

    def check_invariants(self, owner: str, params: Any) -> None:
        """Counts, and a subsequence length in ``[MIN_LENGTH, max_length]`` once in use."""
        history = self.dots.shape[-1]
        longest = self.values.shape[-1] // 2 - history  # max_length
        n_seen, length = self.counters[..., _N_SEEN], self.counters[..., _LENGTH]
        in_range(owner, "counters[n_seen]", n_seen, 0, BIG)
        in_range(owner, "counters[period]", self.counters[..., _PERIOD], 0, BIG)
        in_range(owner, "counters[length]", length, 0, longest)
        # a length is in use (8 to max_length) from the end of the warm-up on; 0 only before it
        started = n_seen >= _WARMUP_SEASONS * longest
        bad = ((length > 0) | started) & (length < MIN_LENGTH)
        if np.any(bad):
            raise fail(owner, "counters[length]", f"in [{MIN_LENGTH}, {longest}]", length[bad][0])


@numba.jit(**NUMBA_OPTIONS)
def discord_step(
    values: np.ndarray,
    dots: np.ndarray,
    means: np.ndarray,
    inv_stds: np.ndarray,
    counters: np.ndarray,
    offset: np.ndarray,
    x: float,
) -> float:
    history = dots.shape[0]
    size = values.shape[0] // 2
    warmup = _WARMUP_SEASONS * (size - history)
    t = counters[_N_SEEN]
    counters[_N_SEEN] = t + 1
    _write(values, t, x - offset[0])
    if t + 1 < warmup:
        return math.nan
    base = t % size + size  # doubled-ring position of time t; time t - k is at base - k
    last = min(history, t - counters[_LENGTH] + 2)  # lags whose candidate has begun
    if t + 1 == warmup:
        _start(values, dots, means, inv_stds, counters, offset, t)
        last = min(history, t - counters[_LENGTH] + 2)
    else:
        length = counters[_LENGTH]
        _store_stats(values, means, inv_stds, t, length)
        x_new = values[base]
        x_old = values[base - length]
        for lag in range(length, last):
            dots[lag] += x_new * values[base - lag] - x_old * values[base - lag - length]
        # a candidate that has just begun, and one lag per point so rounding never drifts
        refresh = length + t % (history - length)
        for lag in (last - 1, refresh):
            if lag < last and (lag == t - length + 1 or lag == refresh):
                dots[lag] = _dot(values, base, base - lag, length)
    length = counters[_LENGTH]
    if last <= length:
        return math.nan
    stats = t % history + history  # doubled-ring position of time t's statistics
    mean_now = means[stats]
    inv_now = inv_stds[stats]
    inv_length = 1.0 / length
    best = -math.inf
    n_flat = 0
    for lag in range(length, last):
        inv_other = inv_stds[stats - lag]
        n_flat += inv_other == 0.0
        corr = (dots[lag] * inv_length - mean_now * means[stats - lag]) * inv_other
        best = max(best, corr)
    if inv_now == 0.0:
        best = 1.0 if n_flat > 0 else 0.5
    else:
        best *= inv_now
        if n_flat > 0:
            best = max(best, 0.5)  # a flat candidate is at correlation 0.5 (distance sqrt(m))
    return math.sqrt(max(2.0 * (1.0 - best), 0.0))


@numba.jit(**NUMBA_OPTIONS)
def _step(state: DiscordState, params: Any, x: float) -> float:
    score: float = discord_step(
        state.values, state.dots, state.means, state.inv_stds, state.counters, state.offset, x
    )
    return score


class StreamingDiscord(Detector):
    """How far the newest subsequence is, in shape, from its nearest neighbour in the history.

    At each point, the subsequence of the last ``m`` values is z-normalised and compared with
    every earlier subsequence that ends at least ``m`` points before it (no overlap) and
    starts within the last ``history_size`` points; the score is the smallest distance,
    divided by ``sqrt(m)``: ``sqrt(2 (1 - r))`` for the best Pearson correlation ``r``, in
    ``[0, 2]``. A beat, stride or cycle unlike any recent one scores high even when every
    value stays in range; a repeat of a recent oddity scores low (it has a neighbour). This is
    the left matrix profile of DAMP (Lu et al., KDD 2022) over a bounded history.

    ``m`` is the season length found by autocorrelation at the end of the warm-up (the first
    ``4 * max_length`` points), clipped to ``[8, max_length]``; ``max_length // 4`` when no
    season is found, or `length` when given. Scores are ``nan`` during the warm-up. A
    subsequence with no variation is at distance 0 from another flat one and ``1`` from any
    other (STUMPY's convention).

    Cost per point: ``history_size`` multiply-adds and correlations (dot products kept per
    lag, one of them recomputed exactly per point so rounding never drifts) plus ``O(m)``;
    memory ``3 * history_size + max_length`` floats. Never saturates, never learns from
    labels. Weak where anomalies are value jumps without a shape (use a point detector) or
    where normal behaviour recurs less often than once per ``history_size`` points.

    Parameters
    ----------
    max_length
        Longest subsequence length; the warm-up is four times this; at least 8.
    history_size
        Lags searched: how far back, in points, a subsequence may find its neighbour; at least
        ``3 * max_length``.
    length
        Fixed subsequence length in ``[8, max_length]``; None (default) learns it.

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.sin(np.arange(600) * 2 * np.pi / 20)
    >>> xs[500:505] = xs[500:505][::-1]  # a reversed half-cycle, all values in range
    >>> det = StreamingDiscord(max_length=32, history_size=128)
    >>> scores = det.update_many(xs)
    >>> det.length_, int(np.nanargmax(scores)), bool(np.isnan(scores[126]))
    (20, 505, True)
    >>> round(float(np.nanmax(scores)), 2), round(float(np.nanmedian(scores)), 6)
    (0.48, 0.0)
    """

    score_scale = "rank"
    max_length: int = param(
        default=256, check=IntParam(low=MIN_LENGTH, hint="Use at least 8 points per subsequence.")
    )
    history_size: int = param(default=4096, check=IntParam(low=3 * MIN_LENGTH))
    length: int | None = param(default=None, kernel=False)
    State = DiscordState
    _step = staticmethod(_step)

    def _check_combination(self) -> None:
        if self.history_size < 3 * self.max_length:
            raise InvalidParameterError(
                f"`history_size` of StreamingDiscord must be at least 3 * max_length = "
                f"{3 * self.max_length}; got {self.history_size}. Raise history_size or lower "
                "max_length."
            )
        if self.length is not None:
            IntParam(low=MIN_LENGTH, high=self.max_length).check(
                "StreamingDiscord", "length", self.length
            )

    def _initial_state(self) -> DiscordState:
        counters = np.zeros(_N_COUNTERS, dtype=np.int64)
        counters[_LENGTH] = 0 if self.length is None else self.length
        return DiscordState(
            counters=counters,
            values=np.zeros(2 * (self.history_size + self.max_length)),
            dots=np.zeros(self.history_size),
            means=np.zeros(2 * self.history_size),
            inv_stds=np.zeros(2 * self.history_size),
            offset=np.zeros(1),
        )

    @property
    def warm_(self) -> bool:
        return self.n_seen_ >= _WARMUP_SEASONS * self.max_length

    @property
    def length_(self) -> int:
        """Subsequence length in use (0 during the warm-up unless `length` was given)."""
        return int(self._state.counters[_LENGTH])

    @property
    def period_(self) -> int:
        """Season found at the end of the warm-up (0: none found, or `length` was given)."""
        return int(self._state.counters[_PERIOD])

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"max_length": 8, "history_size": 40}
