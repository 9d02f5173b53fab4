"""Rolling robust z-score: distance from the window median in scaled MADs."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._state_checks import fail, ring
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors._base import WindowDetector

__all__ = ["RollingMADZScore"]

_MAD_TO_SD = 1.4826  # 1 / Phi^-1(3/4): the MAD of a normal sample, in standard deviations
_MEAN_AD_TO_SD = 1.2533  # sqrt(pi / 2): the same for the mean absolute deviation


@numba.jit(**NUMBA_OPTIONS)
def _median(ordered: np.ndarray) -> float:
    size = ordered.shape[0]
    half = size // 2
    if size % 2:
        return float(ordered[half])
    return float((ordered[half - 1] + ordered[half]) / 2.0)


@numba.jit(**NUMBA_OPTIONS)
def _mad(ordered: np.ndarray, median: float) -> float:
    """Median of ``|ordered - median|`` for a sorted array, by merging its two halves.

    Deviations grow walking down from the middle and walking up from it, so the k-th
    smallest deviation is the k-th step of a merge of those two runs: O(size / 2).
    """
    size = ordered.shape[0]
    half = size // 2
    below = half - 1  # next index walking down
    above = half  # next index walking up
    prev = 0.0
    dev = 0.0
    for _ in range(half + 1):
        prev = dev
        if below >= 0 and (above >= size or median - ordered[below] <= ordered[above] - median):
            dev = median - ordered[below]
            below -= 1
        else:
            dev = ordered[above] - median
            above += 1
    if size % 2:
        return dev
    return (prev + dev) / 2.0


@numba.jit(**NUMBA_OPTIONS)
def _mean_absolute_deviation(ordered: np.ndarray, median: float) -> float:
    total = 0.0
    for i in range(ordered.shape[0]):
        total += abs(ordered[i] - median)
    return float(total / ordered.shape[0])


@numba.jit(**NUMBA_OPTIONS)
def _replace(ordered: np.ndarray, count: int, old: float, new: float, remove: bool) -> None:
    """Keep ``ordered[:count]`` sorted while removing ``old`` (if ``remove``) and adding ``new``.

    Without ``remove`` the prefix grows by one. Either way one pass shifts the values
    between the freed slot and ``new``'s place: O(count).
    """
    if remove:
        i = int(np.searchsorted(ordered[:count], old))
    else:
        i = count
        count += 1
    while i > 0 and ordered[i - 1] > new:
        ordered[i] = ordered[i - 1]
        i -= 1
    while i + 1 < count and ordered[i + 1] < new:
        ordered[i] = ordered[i + 1]
        i += 1
    ordered[i] = new


class MADState(NamedTuple):
    window: np.ndarray  # the last window_size values (ring buffer)
    ordered: np.ndarray  # the same values, sorted
    counters: np.ndarray  # [points seen, next ring position]

    def check_invariants(self, owner: str, params: Any) -> None:
        """The ring, and ``ordered`` holding the window's values in order."""
        ring(owner, self.window, self.counters)
        size = self.window.shape[-1]
        n = self.counters[..., 0].ravel()
        window, ordered = self.window.reshape(-1, size), self.ordered.reshape(-1, size)
        full = n >= size
        sorted_ok = np.array_equal(np.sort(window[full], axis=-1), ordered[full])
        for row in np.flatnonzero(~full):  # windows still filling: only their first n values
            count = int(n[row])
            sorted_ok &= np.array_equal(np.sort(window[row, :count]), ordered[row, :count])
        if not sorted_ok:
            raise fail(owner, "ordered", "the window's values in order", "other values")


@numba.jit(**NUMBA_OPTIONS)
def _step(state: MADState, params: Any, x: float) -> float:
    window, ordered, counters = state
    size = window.shape[0]
    n = counters[0]
    pos = counters[1]
    score = math.nan
    full = n >= size
    if full:
        median = _median(ordered)
        scale = _MAD_TO_SD * _mad(ordered, median)
        if scale == 0.0:  # over half the window is one value: fall back on the mean |dev|
            scale = _MEAN_AD_TO_SD * _mean_absolute_deviation(ordered, median)
        scale = max(scale, 1e-12 * (1.0 + abs(median)))
        score = abs(x - median) / scale
    _replace(ordered, min(n, size), window[pos], x, full)
    window[pos] = x
    counters[0] = n + 1
    counters[1] = pos + 1 if pos + 1 < size else 0
    return score


class RollingMADZScore(WindowDetector):
    """Distance of a point from the median of the previous points, in robust standard deviations.

    Scores ``|x - median| / (1.4826 * MAD)`` over the last ``window_size`` points, computed
    before ``x`` is learned, where MAD is the median absolute deviation from the median
    (1.4826 * MAD estimates the standard deviation of normal data, so scores read like the
    z-scores of :class:`RollingZScore`). ``nan`` until the window is full. Higher is more
    anomalous. Unlike the mean and standard deviation, the median and MAD ignore up to half
    the window being outliers, so a burst of spikes does not mask the next one.

    When more than half the window holds one value the MAD is 0; the scale then falls back on
    ``1.2533 *`` the mean absolute deviation from the median (the same normal-consistent
    rescaling), and if the whole window is constant on a floor of ``1e-12 * (1 + |median|)``,
    so any change from a constant window scores huge rather than infinite. Cost O(window_size)
    per point (a sorted copy of the window is kept by insertion, the median read from it and
    the MAD found by merging the deviations on either side of it); memory ``2 * window_size``
    floats. Weak on trends and seasonality (the median lags them) and on data with fewer
    distinct values than half the window (the MAD is coarse there). Hampel, "The influence
    curve and its role in robust estimation", JASA 1974; Iglewicz & Hoaglin, "How to Detect
    and Handle Outliers", 1993. See docs/algorithms/baselines.md.

    Parameters
    ----------
    window_size
        Number of past points to compare against; at least 2.

    Examples
    --------
    The 100 inside the window does not hide the 9 that follows:

    >>> det = RollingMADZScore(window_size=5)
    >>> [round(det.update(x), 2) for x in [1.0, 2.0, 3.0, 2.0, 100.0, 2.5, 9.0]]
    [nan, nan, nan, nan, nan, 0.34, 8.77]
    """

    State = MADState
    _step = staticmethod(_step)

    def _initial_state(self) -> MADState:
        size = self.window_size
        return MADState(np.zeros(size), np.zeros(size), np.zeros(2, dtype=np.int64))

    @staticmethod
    def _test_params() -> dict[str, int]:
        return {"window_size": 9}
