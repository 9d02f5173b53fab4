"""A rolling empirical quantile of past scores, kept exact by a sorted copy of the window."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._state_checks import in_range, ring
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.errors import InvalidParameterError
from oddwatch.thresholds._base import Threshold

__all__ = ["QuantileThreshold"]

# indices into the integer ``counters``
_N_SEEN, _POS, _N_TOP, _N_TIES = range(4)


class QuantileState(NamedTuple):
    window: np.ndarray  # the last window_size scores (ring buffer)
    top: np.ndarray  # the scores above the floor, sorted
    floor: np.ndarray  # [the floor: keep-th largest score when last rebuilt]
    counters: np.ndarray  # [scores learned, next ring slot, scores in top, ties at floor]

    def check_invariants(self, owner: str, params: Any) -> None:
        """The ring, and the counts of scores kept above the floor and tied at it."""
        ring(owner, self.window, self.counters)
        in_range(owner, "counters[n_top]", self.counters[..., 2], 0, self.top.shape[-1])
        in_range(owner, "counters[n_ties]", self.counters[..., 3], 0, self.window.shape[-1])


class QuantileParams(NamedTuple):
    q: float
    min_samples: int  # scores needed before the quantile is not just the maximum
    keep: int  # largest scores kept above the floor at a rebuild


@numba.jit(**NUMBA_OPTIONS)
def _bisect_right(ordered: np.ndarray, m: int, x: float) -> int:
    """First index of ``ordered[:m]`` (sorted) holding a value greater than ``x``."""
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi) // 2
        if ordered[mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.jit(**NUMBA_OPTIONS)
def _bisect_left(ordered: np.ndarray, m: int, x: float) -> int:
    """First index of ``ordered[:m]`` (sorted) holding a value not less than ``x``."""
    lo, hi = 0, m
    while lo < hi:
        mid = (lo + hi) // 2
        if ordered[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.jit(**NUMBA_OPTIONS)
def _sift_down(heap: np.ndarray, size: int, i: int) -> None:
    """Restore the min-heap order of ``heap[:size]`` below position ``i``."""
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[i] <= heap[child]:
            return
        heap[i], heap[child] = heap[child], heap[i]
        i = child


@numba.jit(**NUMBA_OPTIONS)
def _refill(
    window: np.ndarray,
    m: int,
    top: np.ndarray,
    floor_box: np.ndarray,
    counters: np.ndarray,
    keep: int,
) -> None:
    """Rebuild the top buffer from the ``m`` scores in the window: keep the largest ``keep``.

    The floor becomes the ``keep``-th largest score; ``top`` holds the scores strictly above
    it (sorted) and ``counters[_N_TIES]`` counts the scores equal to it. One pass with a
    min-heap of ``keep`` values, from the end of the window with the larger score, so a
    trending window costs O(m) and an i.i.d. one about O(m + keep log(keep) log(m)).
    """
    k = min(m, keep)
    oldest = counters[_POS] % m  # the ring's next slot, or m when it is not full yet
    newest = (oldest - 1) % m
    step = -1 if window[newest] > window[oldest] else 1
    j = newest if step == -1 else oldest
    for i in range(m):
        v = window[j]
        j += step
        if j == m:
            j = 0
        elif j < 0:
            j = m - 1
        if i < k:
            top[i] = v
            if i == k - 1:
                for h in range(k // 2 - 1, -1, -1):
                    _sift_down(top, k, h)
        elif v > top[0]:
            top[0] = v
            _sift_down(top, k, 0)
    top[:k].sort()
    floor = top[0] if m > k else -math.inf
    ties = 0
    if m > k:
        for i in range(m):
            ties += window[i] == floor
    start = _bisect_right(top, k, floor)
    for i in range(start, k):
        top[i - start] = top[i]
    floor_box[0] = floor
    counters[_N_TOP] = k - start
    counters[_N_TIES] = ties


@numba.jit(**NUMBA_OPTIONS)
def _from_top(top: np.ndarray, floor: np.ndarray, counters: np.ndarray, rank: int) -> float:
    """The score of ``rank`` (0 = largest) in the window; the caller ensures it is covered."""
    n_top = counters[_N_TOP]
    return float(top[n_top - 1 - rank] if rank < n_top else floor[0])


@numba.jit(**NUMBA_OPTIONS)
def _step(state: QuantileState, params: Any, score: float) -> float:
    window, top, floor_box, counters = state
    size = window.shape[0]
    n = counters[_N_SEEN]
    m = min(n, size)
    threshold = math.nan
    if n >= params.min_samples:
        # numpy's default ("linear") quantile: ranks lo and lo + 1 from the bottom
        h = (m - 1) * params.q
        lo = int(math.floor(h))
        if counters[_N_TOP] + counters[_N_TIES] < m - lo:  # the floor rose too high
            _refill(window, m, top, floor_box, counters, params.keep)
        threshold = _from_top(top, floor_box, counters, m - 1 - lo)
        if lo + 1 < m:
            above = _from_top(top, floor_box, counters, m - 2 - lo)
            threshold += (h - lo) * (above - threshold)
    if math.isnan(score):
        return threshold
    pos = counters[_POS]
    old = window[pos]
    window[pos] = score
    counters[_POS] = (pos + 1) % size
    counters[_N_SEEN] = n + 1
    floor = floor_box[0]
    n_top = counters[_N_TOP]
    if n >= size:  # the oldest score leaves the window
        if old > floor:
            i = _bisect_left(top, n_top, old)
            for k in range(i, n_top - 1):
                top[k] = top[k + 1]
            n_top -= 1
        elif old == floor:
            counters[_N_TIES] -= 1
    if score > floor:
        if n_top == top.shape[0]:  # full: rebuild from the window, which holds the score
            _refill(window, min(n + 1, size), top, floor_box, counters, params.keep)
            return threshold
        j = _bisect_right(top, n_top, score)
        for k in range(n_top, j, -1):
            top[k] = top[k - 1]
        top[j] = score
        n_top += 1
    elif score == floor:
        counters[_N_TIES] += 1
    counters[_N_TOP] = n_top
    return threshold


def _min_samples(q: float) -> int:
    """Fewest scores whose ``q``-quantile is not just their maximum: ``ceil(1 / (1 - q))``."""
    return math.ceil(round(1.0 / (1.0 - q), 9))


class QuantileThreshold(Threshold):
    """The ``q``-quantile of the last ``window_size`` scores: flags a fraction ``1 - q``.

    The threshold in force for a score is the empirical quantile (numpy's default linear
    interpolation) of the ``min(n, window_size)`` scores learned before it, so on a stationary
    stream about ``1 - q`` of the scores exceed it, whatever their distribution. Every score is
    learned, flagged or not: a burst of anomalies raises the threshold for a while.
    ``nan`` until ``ceil(1 / (1 - q))`` scores are learned (before that the quantile is an
    interpolation between the two largest scores); ``nan`` scores are passed through unlearned.

    The window is a ring buffer; beside it a sorted "top" buffer holds only the scores above
    a floor (the ``keep``-th largest score when the floor was set; ``keep = max(2 * r + 16,
    sqrt(window_size))`` where ``r ~ (1 - q) * window_size + 2`` is the number of top ranks
    the quantile reads), plus a
    count of the window's scores equal to the floor. An arriving or leaving score above the
    floor is inserted or removed by binary search and a shift of at most ``2 * keep``
    values; one at or below it costs O(1). When the top buffer no longer covers the ranks
    the quantile needs, or would overflow, it is rebuilt from the window in one O(window_size)
    pass: rarely on a stationary stream (a handful of times per 100,000 i.i.d. scores with
    the defaults), every ``keep - r`` scores on a steadily falling one and every ``keep`` on
    a rising one, which costs O(window_size / keep) per score there.
    Memory ``window_size + 2 * keep`` floats. The quantile is exact: it equals
    ``np.quantile(window, q)`` up to the rounding of the final interpolation.

    Parameters
    ----------
    q
        Quantile level in (0, 1); ``1 - q`` is the fraction of scores flagged.
    window_size
        Number of past scores the quantile is taken over; at least ``1 / (1 - q)``.

    Examples
    --------
    >>> thr = QuantileThreshold(q=0.8, window_size=5)
    >>> [round(thr.update(s), 2) for s in [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 1.0]]
    [nan, nan, nan, nan, nan, 4.2, 5.8]
    """

    q: float = param(default=0.999, check=FloatParam(0.0, 1.0, low_open=True, high_open=True))
    window_size: int = param(default=10_000, check=IntParam(low=2))
    State = QuantileState
    Params = QuantileParams
    _step = staticmethod(_step)

    def _check_combination(self) -> None:
        need = _min_samples(self.q)
        if self.window_size < need:
            raise InvalidParameterError(
                f"`window_size` of QuantileThreshold must be at least 1 / (1 - q) = {need} for "
                f"q={self.q}; got {self.window_size}. A smaller window cannot tell the "
                f"{self.q} quantile from its maximum: raise window_size or lower q."
            )

    def _keep(self) -> int:
        size = self.window_size
        need = size - math.floor((size - 1) * self.q)  # ranks from the top the quantile reads
        return min(max(2 * need + 16, math.isqrt(size)), size)

    def _kernel_params(self) -> QuantileParams:
        return QuantileParams(float(self.q), _min_samples(self.q), self._keep())

    def _initial_state(self) -> QuantileState:
        size = self.window_size
        top = np.zeros(min(2 * self._keep(), size))
        return QuantileState(np.zeros(size), top, np.array([-math.inf]), np.zeros(4, np.int64))

    @property
    def warm_(self) -> bool:
        """True once the threshold is no longer ``nan``."""
        return self.n_seen_ >= int(self._kernel_params_.min_samples)

    @staticmethod
    def _test_params() -> dict[str, float]:
        return {"q": 0.9, "window_size": 50}
