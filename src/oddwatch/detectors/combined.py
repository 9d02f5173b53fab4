"""Point, context and shape evidence on one calibrated scale: the strongest surprise wins.

A prototype for the default detector of issue 11 (see docs/algorithms/discord.md). The point
and context evidence is the residual of :class:`~oddwatch.detectors.SeasonalDetector`'s
forecast in standard deviations; the shape evidence is
:class:`~oddwatch.detectors.StreamingDiscord`'s distance. Each is calibrated per stream
against its own history by a peaks-over-threshold tail.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from oddwatch._typing import State
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors import discord as _discord
from oddwatch.detectors._base import Detector
from oddwatch.detectors._seasonal_kernels import floored_scale, forecast
from oddwatch.detectors._seasonal_kernels import step as seasonal_step
from oddwatch.detectors.discord import StreamingDiscord
from oddwatch.detectors.seasonal import SeasonalDetector
from oddwatch.persist import register

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


@numba.jit(**NUMBA_OPTIONS)
def _step(
    history: np.ndarray,
    profile: np.ndarray,
    seasonal_stats: np.ndarray,
    seasonal_counters: np.ndarray,
    seasonal_config: np.ndarray,
    seasonal_smooth: np.ndarray,
    values: np.ndarray,
    dots: np.ndarray,
    means: np.ndarray,
    inv_stds: np.ndarray,
    shape_counters: np.ndarray,
    offset: np.ndarray,
    ring: np.ndarray,
    ordered: np.ndarray,
    tail_stats: np.ndarray,
    point_ring: np.ndarray,
    point_ordered: np.ndarray,
    point_tail_stats: np.ndarray,
    tail_fraction: np.ndarray,
    x: float,
) -> float:
    raw_point = math.nan
    if seasonal_counters[0] >= seasonal_config[5]:  # the forecast's warm-up is over
        expected, scale = forecast(profile, seasonal_stats, seasonal_counters)
        raw_point = abs(x - expected) / floored_scale(seasonal_stats, scale)
    seasonal_step(
        history, profile, seasonal_stats, seasonal_counters, seasonal_config, seasonal_smooth, x
    )
    distance = _discord._step(values, dots, means, inv_stds, shape_counters, offset, x)
    shape = tail_surprise(ring, ordered, tail_stats, tail_fraction[0], distance)
    point_surprise = tail_surprise(
        point_ring, point_ordered, point_tail_stats, tail_fraction[0], raw_point
    )
    best: float = max(shape, point_surprise)
    if best < 0.0:
        return math.nan
    best = max(best - _LOG10_CHANNELS, 0.0)
    return best / (1.0 + best)


@numba.jit(**NUMBA_OPTIONS)
def _block(
    history: np.ndarray,
    profile: np.ndarray,
    seasonal_stats: np.ndarray,
    seasonal_counters: np.ndarray,
    seasonal_config: np.ndarray,
    seasonal_smooth: np.ndarray,
    values: np.ndarray,
    dots: np.ndarray,
    means: np.ndarray,
    inv_stds: np.ndarray,
    shape_counters: np.ndarray,
    offset: np.ndarray,
    ring: np.ndarray,
    ordered: np.ndarray,
    tail_stats: np.ndarray,
    point_ring: np.ndarray,
    point_ordered: np.ndarray,
    point_tail_stats: np.ndarray,
    tail_fraction: np.ndarray,
    xs: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in range(xs.shape[0]):
        out[i] = _step(
            history,
            profile,
            seasonal_stats,
            seasonal_counters,
            seasonal_config,
            seasonal_smooth,
            values,
            dots,
            means,
            inv_stds,
            shape_counters,
            offset,
            ring,
            ordered,
            tail_stats,
            point_ring,
            point_ordered,
            point_tail_stats,
            tail_fraction,
            xs[i],
        )


@register
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

    _param_specs = {
        "max_length": IntParam(low=_discord.MIN_LENGTH),
        "history_size": IntParam(low=3 * _discord.MIN_LENGTH),
        "calibration_size": IntParam(low=_MIN_SAMPLES),
        "tail_fraction": FloatParam(0.0, 0.5, low_open=True),
    }
    _step = staticmethod(_step)
    _block = staticmethod(_block)

    def __init__(
        self,
        max_length: int = 256,
        history_size: int = 4096,
        calibration_size: int = 16384,
        tail_fraction: float = 0.02,
    ) -> None:
        self.max_length = max_length
        self.history_size = history_size
        self.calibration_size = calibration_size
        self.tail_fraction = tail_fraction
        self._setup()

    def _check_param_combination(self) -> None:
        StreamingDiscord(self.max_length, self.history_size)

    def _initial_state(self) -> State:
        state = {
            name if name in ("history", "profile") else f"seasonal_{name}": array
            for name, array in SeasonalDetector()._initial_state().items()
        }
        shape = StreamingDiscord(self.max_length, self.history_size)._initial_state()
        for name, array in shape.items():  # in the kernel's order
            state["shape_counters" if name == "counters" else name] = array
        state["ring"] = np.zeros(self.calibration_size)
        state["ordered"] = np.zeros(self.calibration_size)
        state["tail_stats"] = np.zeros(4)
        state["point_ring"] = np.zeros(self.calibration_size)
        state["point_ordered"] = np.zeros(self.calibration_size)
        state["point_tail_stats"] = np.zeros(4)
        state["tail_fraction"] = np.array([self.tail_fraction])
        return state

    @property
    def n_seen_(self) -> int:
        return int(self._state["shape_counters"][0])

    @property
    def warm_(self) -> bool:
        return self.n_seen_ >= SeasonalDetector().warmup

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"max_length": 8, "history_size": 40, "calibration_size": 256}
