"""Point, context and shape evidence on one calibrated scale: the strongest surprise wins.

A prototype for the default detector of issue 11 (see docs/algorithms/discord.md). The point
and context evidence is the residual of :class:`~oddwatch.detectors.SeasonalDetector`'s
forecast in standard deviations; the shape evidence is
:class:`~oddwatch.detectors.StreamingDiscord`'s distance. Each is calibrated per stream
against its own history by a peaks-over-threshold tail.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._state_checks import BIG, counts, fail, in_range
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors import discord as _discord
from oddwatch.detectors._base import Detector
from oddwatch.detectors._seasonal_kernels import (
    SeasonalParams,
    SeasonalState,
    floored_scale,
    forecast,
)
from oddwatch.detectors._seasonal_kernels import step as seasonal_step
from oddwatch.detectors.discord import DiscordState, StreamingDiscord
from oddwatch.detectors.seasonal import SeasonalDetector

__all__ = ["ShapeAndPointDetector", "gaussian_surprise", "tail_surprise"]

_MIN_SAMPLES = 256  # smallest calibration window
_MIN_TAIL_POINTS = 50  # tail points needed before a fitted tail is trusted
_REFRESH = 128  # points between two refits of the tail
_MIN_EXCESS = 2e-2  # smallest mean excess, in normalised distance (a perfectly periodic stream)
_LN10 = math.log(10.0)
_LOG10_CHANNELS = math.log10(2.0)  # the larger of two surprises: p at most doubles
# tail_stats
_THRESHOLD, _EXCESS, _N_SORTED, _N_SEEN = range(4)


@numba.jit(**NUMBA_OPTIONS)
def tail_surprise(
    ring: np.ndarray, ordered: np.ndarray, tail_stats: np.ndarray, tail_fraction: float, d: float
) -> float:
    """``-log10 p`` of `d` against the distances seen before it, then learn `d`; -1 if unknown.

    ``p`` is the share of the last ``len(ring)`` distances at or above `d` (from a sorted copy
    refreshed every 128 points); above their ``1 - tail_fraction`` quantile ``u`` it is the
    exponential tail ``tail_fraction * exp(-(d - u) / beta)`` with ``beta`` the mean excess over
    ``u`` (peaks over threshold, the exponential case of Pickands-Balkema-de Haan), so the
    surprise keeps growing with `d` instead of stopping at ``log10(len(ring))``.
    """
    if math.isnan(d):
        return -1.0
    n_sorted = int(tail_stats[_N_SORTED])
    surprise = -1.0
    trusted = max(_MIN_SAMPLES, int(math.ceil(_MIN_TAIL_POINTS / tail_fraction)))
    if n_sorted >= min(trusted, ring.shape[0]):
        u = tail_stats[_THRESHOLD]
        if d > u:
            surprise = -math.log10(tail_fraction) + (d - u) / (tail_stats[_EXCESS] * _LN10)
        else:
            below = np.searchsorted(ordered[:n_sorted], d)
            surprise = -math.log10((n_sorted - below + 1.0) / (n_sorted + 1.0))
    n = int(tail_stats[_N_SEEN])
    ring[n % ring.shape[0]] = d
    n += 1
    tail_stats[_N_SEEN] = n
    if n >= _MIN_SAMPLES and (n == _MIN_SAMPLES or n % _REFRESH == 0):
        m = min(n, ring.shape[0])
        ordered[:m] = np.sort(ring[:m])
        top = max(1, int(math.ceil(tail_fraction * m)))
        u = ordered[m - top - 1]
        excess = 0.0
        for k in range(m - top, m):
            excess += ordered[k] - u
        tail_stats[_THRESHOLD] = u
        tail_stats[_EXCESS] = max(excess / top, _MIN_EXCESS)
        tail_stats[_N_SORTED] = m
    return surprise


@numba.jit(**NUMBA_OPTIONS)
def gaussian_surprise(z: float) -> float:
    """``-log10 P(|Z| >= z)`` for a standard normal ``Z``, without underflow for large `z`."""
    if z < 30.0:
        return -math.log10(math.erfc(z / math.sqrt(2.0)))
    # Mills ratio: P(|Z| >= z) ~ 2 phi(z) / z
    return (z * z / 2.0 + math.log(z * math.sqrt(math.pi / 2.0))) / _LN10


class TailState(NamedTuple):
    ring: np.ndarray  # the last calibration_size raw values of a channel
    ordered: np.ndarray  # a sorted copy, refreshed every 128 points
    stats: np.ndarray  # [tail threshold, mean excess, values sorted, values seen]

    def check_invariants(self, owner: str, params: Any) -> None:
        """A calibration tail: its float counts index the sorted copy."""
        size = self.ring.shape[-1]
        n_sorted, n_seen = self.stats[..., _N_SORTED], self.stats[..., _N_SEEN]
        for name, count, hi in (("n_sorted", n_sorted, size), ("n_seen", n_seen, BIG)):
            if not np.all(count == np.floor(count)):
                whole = count[count != np.floor(count)]
                raise fail(owner, f"stats[{name}]", "a whole number", whole)
            in_range(owner, f"stats[{name}]", count, 0, hi)
        in_range(owner, "stats[excess]", self.stats[..., _EXCESS], _MIN_EXCESS, np.inf)


class ShapeAndPointState(NamedTuple):
    counters: np.ndarray  # [points seen]
    seasonal: SeasonalState  # the point/context channel's forecast
    discord: DiscordState  # the shape channel
    point_tail: TailState
    shape_tail: TailState

    def check_invariants(self, owner: str, params: Any) -> None:
        counts(owner, self.counters)


class ShapeAndPointParams(NamedTuple):
    seasonal: SeasonalParams
    tail_fraction: float


@numba.jit(**NUMBA_OPTIONS)
def _step(state: ShapeAndPointState, params: ShapeAndPointParams, x: float) -> float:
    seasonal = state.seasonal
    raw_point = math.nan
    if seasonal.scalars[0].n_seen >= params.seasonal.warmup:  # the forecast's warm-up is over
        expected, scale = forecast(seasonal)
        raw_point = abs(x - expected) / floored_scale(seasonal, scale)
    seasonal_step(seasonal, params.seasonal, x)
    shape = state.discord
    distance = _discord.discord_step(
        shape.values, shape.dots, shape.means, shape.inv_stds, shape.counters, shape.offset, x
    )
    state.counters[0] += 1
    point_tail, shape_tail = state.point_tail, state.shape_tail
    shape_surprise = tail_surprise(
        shape_tail.ring, shape_tail.ordered, shape_tail.stats, params.tail_fraction, distance
    )
    point_surprise = tail_surprise(
        point_tail.ring, point_tail.ordered, point_tail.stats, params.tail_fraction, raw_point
    )
    best: float = max(shape_surprise, point_surprise)
    if best < 0.0:
        return math.nan
    best = max(best - _LOG10_CHANNELS, 0.0)
    return best / (1.0 + best)


class ShapeAndPointDetector(Detector):
    """The strongest of a calibrated point/context surprise and a calibrated shape surprise.

    Two channels score each point, causally, as ``S = -log10 p`` against the stream's own past:

    * point and context: ``z = |x - expected| / scale`` from :class:`SeasonalDetector`'s
      forecast (level plus the value's phase of the learned season), computed before ``x`` is
      learned;
    * shape: :class:`StreamingDiscord`'s distance ``d`` of the newest subsequence to its
      nearest recent neighbour.

    Each raw value ``r`` gets ``p`` = the share of that channel's last `calibration_size`
    values at or above ``r``; beyond their ``1 - tail_fraction`` quantile, an exponential tail
    fitted to the excesses (:func:`tail_surprise`), so ``S`` keeps growing linearly with ``r``:
    a value twice as far out of range scores higher, never the same. A channel is silent
    until ``50 / tail_fraction`` of its values are seen (its tail needs 50 points). The score
    is ``S / (1 + S)`` with ``S = max(S_point, S_shape) - log10(2)`` (the larger of two
    surprises: ``p`` at most doubles); 0.8 is a 1-in-10,000 surprise. ``nan`` while both
    channels warm up. Cost: the two models' plus two sorts of `calibration_size` values every
    128 points; memory theirs plus ``4 * calibration_size`` floats. No alarm stage inside: one
    alarm per anomaly is the Monitor's job in the core redesign.

    Parameters
    ----------
    max_length
        Longest subsequence length of the shape channel (see :class:`StreamingDiscord`).
    history_size
        Lags searched by the shape channel.
    calibration_size
        Recent distances the shape surprise is calibrated against; at least 256.
    tail_fraction
        Share of those distances treated as the tail (fitted, not counted).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> xs = np.sin(np.arange(6000) * 2 * np.pi / 50) + rng.normal(0, 0.05, 6000)
    >>> xs[5000:5025] = 0.9 * np.sin(np.arange(25) * 2 * np.pi / 25)  # a cycle at double speed
    >>> det = ShapeAndPointDetector(max_length=64, history_size=1024)
    >>> scores = det.update_many(xs)
    >>> int(np.nanargmax(scores[1500:])) + 1500 in range(5000, 5075)
    True
    """

    max_length: int = param(default=256, check=IntParam(low=_discord.MIN_LENGTH))
    history_size: int = param(default=4096, check=IntParam(low=3 * _discord.MIN_LENGTH))
    calibration_size: int = param(default=16384, check=IntParam(low=_MIN_SAMPLES))
    tail_fraction: float = param(default=0.02, check=FloatParam(0.0, 0.5, low_open=True))
    State = ShapeAndPointState
    Params = ShapeAndPointParams
    _step = staticmethod(_step)

    def _shape(self) -> StreamingDiscord:
        return StreamingDiscord(max_length=self.max_length, history_size=self.history_size)

    def _check_combination(self) -> None:
        self._shape()

    def _kernel_params(self) -> ShapeAndPointParams:
        return ShapeAndPointParams(
            seasonal=SeasonalDetector()._kernel_params_, tail_fraction=float(self.tail_fraction)
        )

    def _tail(self) -> TailState:
        size = self.calibration_size
        return TailState(np.zeros(size), np.zeros(size), np.zeros(4))

    def _initial_state(self) -> ShapeAndPointState:
        return ShapeAndPointState(
            counters=np.zeros(1, dtype=np.int64),
            seasonal=SeasonalDetector()._state,
            discord=self._shape()._state,
            point_tail=self._tail(),
            shape_tail=self._tail(),
        )

    @property
    def warm_(self) -> bool:
        return self.n_seen_ >= SeasonalDetector().warmup

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"max_length": 8, "history_size": 40, "calibration_size": 256}
