"""How rare a value is in a stream's own recent history: a forgetting histogram with a fitted tail.

Each channel of the default detector turns its raw evidence (a shape distance, a point
surprise) into ``-log10 p`` against the stream's own past, with ``p`` read from a histogram of
``log2`` of the values seen (eight bins per octave, from ``2 ** -12`` to ``2 ** 10``), in which
each new value outweighs the previous one by ``forget`` (an effective memory of ``1 / (1 -
1 / forget)`` values). Beyond the histogram's ``1 - tail_fraction`` quantile ``u`` the tail is
exponential, ``tail_fraction * exp(-(value - u) / beta)`` with ``beta`` the mean excess over
``u`` (peaks over threshold, the exponential case of Pickands-Balkema-de Haan), so the surprise
keeps growing with the value instead of stopping at the largest one seen. Memory: two arrays
of 176 floats and one record; per value, one ``log2`` and, every 64 values, one pass over the
bins.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._state_checks import BIG, finite, in_range
from oddwatch.config import INLINE_OPTIONS, NUMBA_OPTIONS

__all__ = [
    "HISTOGRAM_SCALARS",
    "HistogramTail",
    "TailParams",
    "histogram_tail",
    "learn",
    "rarity",
    "surprise_of",
    "tail_params",
]

N_BINS = 176  # log2 value in [-12, 10), 8 bins per octave
_BINS_PER_OCTAVE = 8.0
_LOWEST_OCTAVE = -12.0
_REFIT = 64  # values learned between two refits of the tail
_MIN_EXCESS = 0.02  # smallest mean excess over u (a perfectly periodic stream's distances are 0)
_RESCALE = 1e200  # the weights are renormalised when the next weight passes this
_LN10 = math.log(10.0)
_CENSOR = 4.0  # values rarer than this surprise (the Monitor's 0.8) are learned as at it

HISTOGRAM_SCALARS = np.dtype(
    [
        ("n_learned", np.int64),  # values learned
        ("weight", np.float64),  # weight of the next value learned (grows: forgetting)
        ("total", np.float64),  # total weight in the histogram
        ("tail_start", np.float64),  # u, the 1 - tail_fraction quantile
        ("tail_excess", np.float64),  # mean excess of the values over u
    ]
)


class HistogramTail(NamedTuple):
    """A forgetting histogram of ``log2`` values and the tail fitted to it."""

    counts: np.ndarray  # weight per bin
    upper: np.ndarray  # share of the weight at or above each bin, at the last refit
    scalars: np.ndarray  # one HISTOGRAM_SCALARS record

    def check_invariants(self, owner: str, params: Any) -> None:
        """A count of values learned; weights and the tail's fit finite and not negative."""
        in_range(owner, "tail scalars.n_learned", self.scalars["n_learned"], 0, BIG)
        for name in ("weight", "total", "tail_start", "tail_excess"):
            finite(owner, f"tail scalars.{name}", self.scalars[name], 0.0)
        learned = self.scalars["n_learned"] > 0  # then the next weight multiplies this one
        weights = self.scalars["weight"][learned]  # grow up to 1e200 between renormalisations
        in_range(owner, "tail scalars.weight (learned)", weights, 1e-300, np.inf)
        finite(owner, "tail counts", self.counts, 0.0)
        finite(owner, "tail upper", self.upper, 0.0)


class TailParams(NamedTuple):
    forget: float  # factor by which each new value outweighs the previous one
    tail_fraction: float
    min_learned: int  # values learned before the first surprise


def histogram_tail() -> HistogramTail:
    """An empty histogram."""
    return HistogramTail(
        counts=np.zeros(N_BINS),
        upper=np.zeros(N_BINS),
        scalars=np.zeros(1, dtype=HISTOGRAM_SCALARS),
    )


def tail_params(memory: float, tail_fraction: float, min_learned: int) -> TailParams:
    """Kernel parameters for an effective memory of ``memory`` values.

    Examples
    --------
    >>> round(tail_params(10_000.0, 0.02, 2000).forget, 6)
    1.0001
    """
    forget = 1.0 / (1.0 - 1.0 / memory)
    return TailParams(forget, float(tail_fraction), int(min_learned))


@numba.jit(**INLINE_OPTIONS)
def _bin(value: float) -> int:
    if value <= 0.0:
        return 0
    b = int(math.floor((math.log2(value) - _LOWEST_OCTAVE) * _BINS_PER_OCTAVE))
    return min(max(b, 0), N_BINS - 1)


@numba.jit(**NUMBA_OPTIONS)
def _edge(b: int) -> float:
    """Lower edge of bin ``b`` (0 for the first: it holds every smaller value)."""
    return 0.0 if b == 0 else 2.0 ** (b / _BINS_PER_OCTAVE + _LOWEST_OCTAVE)


@numba.jit(**NUMBA_OPTIONS)
def _refit(tail: HistogramTail, tail_fraction: float) -> None:
    """u (the 1 - tail_fraction quantile), the tail's scale beyond it, and the upper shares."""
    v = tail.scalars[0]
    counts, upper = tail.counts, tail.upper
    total = v.total
    if not total > 0.0:
        return
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


@numba.jit(**INLINE_OPTIONS)
def surprise_of(tail: HistogramTail, params: TailParams, value: float) -> float:
    """``-log10 p`` of ``value`` (>= 0) against the values learned so far; -1 before
    ``min_learned`` values."""
    v = tail.scalars[0]
    if v.n_learned < params.min_learned or not v.tail_excess > 0.0:  # not fitted yet
        return -1.0
    u = v.tail_start
    if value > u:
        return float(-math.log10(params.tail_fraction) + (value - u) / (v.tail_excess * _LN10))
    share = min(max(tail.upper[_bin(value)], params.tail_fraction), 1.0)  # 1 + rounding: 1
    return float(-math.log10(share))


@numba.jit(**INLINE_OPTIONS)
def learn(tail: HistogramTail, params: TailParams, value: float) -> None:
    """Add ``value`` (>= 0) to the histogram, the older values weighing a little less."""
    v = tail.scalars[0]
    weight = v.weight * params.forget if v.n_learned > 0 else 1.0
    if weight > _RESCALE:
        tail.counts[:] /= weight
        v.total /= weight
        weight = 1.0
    tail.counts[_bin(value)] += weight
    v.total += weight
    v.weight = weight
    v.n_learned += 1
    n = v.n_learned
    if n == params.min_learned or (n % _REFIT == 0 and n >= params.min_learned // 2):
        _refit(tail, params.tail_fraction)


@numba.jit(**INLINE_OPTIONS)
def rarity(tail: HistogramTail, params: TailParams, value: float) -> float:
    """``-log10 p`` of ``value`` (>= 0) against the values learned before it, then learn it.

    -1 when ``value`` is ``nan`` or fewer than ``min_learned`` values are learned.
    """
    if math.isnan(value):
        return -1.0
    surprise = surprise_of(tail, params, value)
    v = tail.scalars[0]
    if surprise > _CENSOR:
        # learned as the value at the alarm level: a few anomalies do not widen the tail for
        # the next ones, while a stream whose normal values keep passing it still does
        value = v.tail_start + (_CENSOR + math.log10(params.tail_fraction)) * v.tail_excess * _LN10
    learn(tail, params, value)
    return float(surprise)
