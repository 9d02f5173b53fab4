"""The tail memory of SPOT and DSPOT: peaks over ``t``, censored anomalies, GPD refits.

Scores (or residuals) learned as normal go first to a calibration buffer that sets the initial
threshold ``t`` (its ``level`` quantile), then their excesses over ``t`` (the peaks) enter a
ring buffer of the last ``max_peaks``; a flagged score enters it as a censored excess ("above
this much"). The generalised Pareto tail is refitted to the buffer (:func:`fit_gpd`) once the
entries added since the last fit reach 1/16 of those stored, and :func:`tail_threshold` turns
the fit into the threshold a normal score exceeds with probability ``risk``. See
:mod:`oddwatch.thresholds.spot`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._state_checks import BIG, counts, fail, in_range
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.thresholds._gpd import fit_gpd

__all__ = ["TailMemory", "flag_or_learn", "initial_tail_state", "tail_threshold"]

_MIN_PEAKS = 10  # fewer excesses than this cannot pin down a two-parameter tail
_REFIT_DIVISOR = 16  # refit once the entries added since the last fit reach 1/16 of those stored

# indices into the float ``fit`` vector
_T, _GAMMA, _SIGMA = range(3)
# indices into the integer counters
(
    _N_SEEN,  # scores learned (not flagged, not nan)
    _N_COUNTED,  # n of the rate N_t / n: scores learned or flagged (after DSPOT fills its mean)
    _N_STORED,  # entries in the tail ring buffer (peaks and censored anomalies)
    _N_CENSORED,  # censored entries among them
    _POS,  # next ring-buffer slot
    _SPAN_START,  # _N_COUNTED when the last evicted entry arrived
    _NEW_SINCE_FIT,
    _FITTED,
) = range(8)


class TailMemory(NamedTuple):
    init_buffer: np.ndarray  # the first init_size learned values (they set t)
    tail: np.ndarray  # excesses over t, and censored anomalies (ring buffer)
    censored: np.ndarray  # which tail entries are censored
    tail_at: np.ndarray  # when each tail entry arrived (n of the rate)
    fit: np.ndarray  # [t, gamma, sigma]
    counters: np.ndarray  # see the indices above

    def check_invariants(self, owner: str, params: Any) -> None:
        """The peaks-over-threshold memory shared by SPOT and DSPOT."""
        c, size = self.counters, self.tail.shape[-1]
        counts(owner, c[..., :2], ("n_seen", "n_counted"))
        stored, n_counted = c[..., 2], c[..., 1]
        in_range(owner, "tail counters[n_stored]", stored, 0, size)
        in_range(owner, "tail counters[n_censored]", c[..., 3], 0, stored)
        held = np.arange(size) < stored[..., None]
        partial = stored < size
        flagged = (self.censored & held).sum(axis=-1)
        if np.any(partial & (flagged != c[..., 3])):
            raise fail(owner, "tail counters[n_censored]", "the censored flags stored", c[..., 3])
        in_range(owner, "tail counters[position]", c[..., 4], 0, size - 1)
        if np.any(partial & (c[..., 4] != stored)):
            raise fail(owner, "tail counters[position]", "n_stored (ring not full)", c[..., 4])
        in_range(owner, "tail counters[span_start]", c[..., 5], 0, n_counted)
        in_range(owner, "tail counters[new_since_fit]", c[..., 6], 0, BIG)
        in_range(owner, "tail counters[fitted]", c[..., 7], 0, 1)
        in_range(owner, "tail_at", self.tail_at, 0, n_counted[..., None])


@numba.jit(**NUMBA_OPTIONS)
def tail_threshold(fit: np.ndarray, risk: float, counters: np.ndarray) -> float:
    """``z_q = t + sigma / gamma * ((risk * n / N_t)^-gamma - 1)``; ``nan`` before a fit."""
    if counters[_FITTED] == 0:
        return math.nan
    span = counters[_N_COUNTED] - counters[_SPAN_START]
    ratio = risk * span / counters[_N_STORED]
    t = float(fit[_T])
    if ratio >= 1.0:  # risk above the rate of exceeding t: the GPD says nothing below t
        return t
    gamma = float(fit[_GAMMA])
    sigma = float(fit[_SIGMA])
    if gamma == 0.0:
        return t - sigma * math.log(ratio)
    return t + sigma * math.expm1(-gamma * math.log(ratio)) / gamma


@numba.jit(**NUMBA_OPTIONS)
def _push(
    tail: np.ndarray,
    censored: np.ndarray,
    tail_at: np.ndarray,
    counters: np.ndarray,
    value: float,
    is_censored: bool,
    at: int,
) -> None:
    """Store a peak (or a censored anomaly) in the ring buffer, evicting the oldest."""
    pos = counters[_POS]
    if counters[_N_STORED] == tail.shape[0]:
        counters[_SPAN_START] = tail_at[pos]  # the evicted entry's arrival opens the span
        counters[_N_CENSORED] -= censored[pos]
    else:
        counters[_N_STORED] += 1
    tail[pos] = value
    censored[pos] = is_censored
    tail_at[pos] = at
    counters[_N_CENSORED] += is_censored
    counters[_POS] = (pos + 1) % tail.shape[0]
    counters[_NEW_SINCE_FIT] += 1


@numba.jit(**NUMBA_OPTIONS)
def _maybe_refit(
    tail: np.ndarray, censored: np.ndarray, fit: np.ndarray, counters: np.ndarray
) -> None:
    """Refit once enough exact peaks exist and 1/16 of the entries are new since the last fit."""
    stored = counters[_N_STORED]
    if stored - counters[_N_CENSORED] < _MIN_PEAKS:
        return
    if counters[_FITTED] == 1 and counters[_NEW_SINCE_FIT] * _REFIT_DIVISOR < stored:
        return
    fit[_GAMMA], fit[_SIGMA] = fit_gpd(tail, censored, stored)
    counters[_FITTED] = 1
    counters[_NEW_SINCE_FIT] = 0


@numba.jit(**NUMBA_OPTIONS)
def _learn(
    init_buffer: np.ndarray,
    tail: np.ndarray,
    censored: np.ndarray,
    tail_at: np.ndarray,
    fit: np.ndarray,
    level: float,
    counters: np.ndarray,
    v: float,
) -> None:
    """Learn a value judged normal: the calibration buffer first, then peaks over ``t``."""
    counters[_N_SEEN] += 1
    k = counters[_N_COUNTED] + 1
    counters[_N_COUNTED] = k
    size = init_buffer.shape[0]
    if k <= size:
        init_buffer[k - 1] = v
        if k < size:
            return
        ordered = np.sort(init_buffer)  # t: numpy's linear `level` quantile
        h = (size - 1) * level
        lo = int(math.floor(h))
        t = ordered[lo] + (h - lo) * (ordered[lo + 1] - ordered[lo])
        fit[_T] = t
        for i in range(size):
            if init_buffer[i] > t:
                _push(tail, censored, tail_at, counters, init_buffer[i] - t, False, i + 1)
    elif v > fit[_T]:
        _push(tail, censored, tail_at, counters, v - fit[_T], False, k)
    else:
        return
    _maybe_refit(tail, censored, fit, counters)


@numba.jit(**NUMBA_OPTIONS)
def _censor(
    tail: np.ndarray,
    censored: np.ndarray,
    tail_at: np.ndarray,
    fit: np.ndarray,
    counters: np.ndarray,
    level: float,
) -> None:
    """Record a flagged score without its value: "the excess was above ``level``"."""
    k = counters[_N_COUNTED] + 1
    counters[_N_COUNTED] = k
    _push(tail, censored, tail_at, counters, max(level, 0.0), True, k)
    _maybe_refit(tail, censored, fit, counters)


@numba.jit(**NUMBA_OPTIONS)
def flag_or_learn(
    memory: TailMemory,
    level: float,
    score: float,
    threshold: float,
    z: float,
    mean: float,
) -> bool:
    """Flag ``score`` above ``threshold = mean + z``, or learn its residual ``score - mean``.

    A flagged score is recorded as censored at the excess ``z - t``; returns True if flagged.
    """
    init_buffer, tail, censored, tail_at, fit, counters = memory
    if score > threshold:
        _censor(tail, censored, tail_at, fit, counters, z - fit[_T])
        return True
    _learn(init_buffer, tail, censored, tail_at, fit, level, counters, score - mean)
    return False


def initial_tail_state(init_size: int, max_peaks: int) -> TailMemory:
    """An empty tail memory."""
    return TailMemory(
        np.zeros(init_size),
        np.zeros(max_peaks),
        np.zeros(max_peaks, dtype=np.bool_),
        np.zeros(max_peaks, dtype=np.int64),
        np.array([math.nan, 0.0, math.nan]),
        np.zeros(8, dtype=np.int64),
    )
