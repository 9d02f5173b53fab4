"""Online season-length estimation by autocorrelation, as a numba kernel.

Called every few hundred points by :class:`~oddwatch.detectors.SeasonalDetector` on its ring
buffer of recent values. The buffer is put in time order, its least-squares line removed,
its autocorrelation computed at every lag up to 128 and at about 128 evenly strided lags beyond,
and searched for the shortest strong peak after its first dip below zero; the peak is then
placed precisely by parabolic interpolation. Cost: O(buffer * 256) per call, about half a
millisecond for 2,048 points.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from oddwatch.config import NUMBA_OPTIONS

__all__ = ["estimate_period"]


@numba.jit(**NUMBA_OPTIONS)
def _ordered_detrended(history: np.ndarray, n_seen: int, m: int) -> np.ndarray:
    size = history.shape[0]
    y = np.empty(m)
    for i in range(m):
        y[i] = history[(n_seen - m + i) % size]
    # least-squares line through (i, y[i])
    mean_i = (m - 1) / 2.0
    mean_y = 0.0
    for i in range(m):
        mean_y += y[i]
    mean_y /= m
    sxy = 0.0
    sxx = 0.0
    for i in range(m):
        sxy += (i - mean_i) * (y[i] - mean_y)
        sxx += (i - mean_i) * (i - mean_i)
    slope = sxy / sxx if sxx > 0.0 else 0.0
    for i in range(m):
        y[i] -= mean_y + slope * (i - mean_i)
    return y


@numba.jit(**NUMBA_OPTIONS)
def _correlation(y: np.ndarray, lag: int) -> float:
    num = 0.0
    a2 = 0.0
    b2 = 0.0
    for i in range(y.shape[0] - lag):
        a = y[i]
        b = y[i + lag]
        num += a * b
        a2 += a * a
        b2 += b * b
    den = math.sqrt(a2 * b2)
    return num / den if den > 0.0 else 0.0


_FULL_LAGS = 128


@numba.jit(**NUMBA_OPTIONS)
def estimate_period(
    history: np.ndarray, n_seen: int, min_period: int, max_period: int, min_corr: float
) -> tuple[int, float]:
    """Return ``(period, correlation)`` of the main season in the buffer, or ``(0, corr)``.

    ``history`` is a ring buffer written at ``n_seen % len(history)``; periods are searched in
    ``[min_period, min(max_period, points / 2)]``. The chosen period is the shortest local
    peak of the autocorrelation (after its first dip below zero) that reaches 85% of the
    highest peak, so a multiple of the season is never preferred to the season itself. It is
    accepted when its autocorrelation is at least ``min_corr``.
    """
    m = min(n_seen, history.shape[0])
    hi = min(max_period, m // 2)
    if hi < min_period:
        return 0, 0.0
    y = _ordered_detrended(history, n_seen, m)
    # every lag up to _FULL_LAGS, then every `stride`-th lag: about 2 * _FULL_LAGS lags in all
    stride = max(1, -(-hi // _FULL_LAGS))
    lags = np.zeros(hi + 1, dtype=np.int64)
    corr = np.zeros(hi + 1)
    n_lags = 0
    lag = 1
    while lag <= hi:
        lags[n_lags] = lag
        corr[n_lags] = _correlation(y, lag)
        n_lags += 1
        lag += 1 if lag < _FULL_LAGS else stride
    first = 0
    while first < n_lags and corr[first] >= 0.0:
        first += 1
    best = -1.0
    for i in range(first, n_lags):
        if lags[i] >= min_period and corr[i] > best:
            best = corr[i]
    if best <= 0.0:
        return 0, 0.0
    chosen = -1
    for i in range(first, n_lags):
        if lags[i] < min_period or corr[i] < 0.85 * best:
            continue
        left = corr[i - 1] if i > 0 else -1.0
        right = corr[i + 1] if i + 1 < n_lags else -1.0
        if corr[i] >= left and corr[i] >= right:
            chosen = i
            break
    if chosen < 0:
        return 0, 0.0
    period = lags[chosen]
    best = corr[chosen]
    # The peak of a periodic signal's autocorrelation is broad: place it by the vertex of a
    # parabola through three lags an eighth of a period apart, then settle the last point or
    # two by the mean correlation at every multiple of the period that fits in the buffer.
    w = max(1, period // 8)
    if period - w >= 1 and period + w <= m - 2:
        c0 = _correlation(y, period - w)
        c1 = _correlation(y, period)
        c2 = _correlation(y, period + w)
        curvature = c0 - 2.0 * c1 + c2
        if curvature < 0.0:
            shift = 0.5 * w * (c0 - c2) / curvature
            period = max(min_period, min(hi, int(round(period + max(-w, min(w, shift))))))
    centre = period
    best = -2.0
    for candidate in range(max(min_period, centre - 2), min(hi, centre + 2) + 1):
        total = 0.0
        k = 1
        while (k + 1) * candidate <= m:
            total += _correlation(y, k * candidate)
            k += 1
        mean = total / max(k - 1, 1)
        if mean > best:
            best = mean
            period = candidate
    best = _correlation(y, period)
    if best < min_corr:
        return 0, best
    return period, best
