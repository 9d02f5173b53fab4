"""A reproducible simulated stream of floats with labelled anomalies.

The normal signal is ``base_level + trend + seasonality + random-walk drift + permanent level
shifts + noise`` whose standard deviation slowly varies over a long cycle. Anomaly events of
seven kinds are injected on top and labelled point by point. Level shifts of the normal signal
are concept drift, not anomalies: they are never labelled.

Each component draws from its own child of ``np.random.SeedSequence(seed)``, so the same
settings give identical arrays, turning anomalies off leaves the noise unchanged, and a shorter
run is exactly the start of a longer one with the same settings.

Examples
--------
>>> sim = simulate(n_points=2000, seed=1)
>>> len(sim), int(sim.labels.sum())
(2000, 101)
>>> sim.events()[:2]
[AnomalyEvent(start=763, end=763, kind='spike'),
 AnomalyEvent(start=821, end=840, kind='level_shift')]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from oddwatch.sources._replay import (
    SimulatedPoint,
    SimulationSource,
    iter_points,
    write_csv,
    write_jsonl,
)
from oddwatch.sources._simulation import AnomalyEvent, Simulation
from oddwatch.sources._simulation_config import ANOMALY_KINDS, SimulationConfig

__all__ = [
    "ANOMALY_KINDS",
    "AnomalyEvent",
    "SimulatedPoint",
    "Simulation",
    "SimulationConfig",
    "SimulationSource",
    "iter_points",
    "simulate",
    "write_csv",
    "write_jsonl",
]

_SPIKE, _DIP, _SHIFT, _BURST, _STUCK, _PATTERN, _MISSING = range(len(ANOMALY_KINDS))
# Inclusive lengths in points; pattern_change lasts half to one dominant season.
_LENGTHS = {
    _SPIKE: (1, 1),
    _DIP: (1, 1),
    _SHIFT: (20, 60),
    _BURST: (20, 50),
    _STUCK: (15, 40),
    _MISSING: (1, 5),
}
_MIN_GAP = 50  # normal points after an event before the next may start
_SHIFT_MARGIN = 25  # normal level shifts keep this distance from anomaly events
_EVENT_BATCH = 1024  # events drawn per batch; fixed so that runs are prefix-stable


class _Events(NamedTuple):
    starts: NDArray[np.int64]
    lengths: NDArray[np.int64]
    codes: NDArray[np.int64]
    uniforms: NDArray[np.float64]  # per event: size factor, sign, burst factor, pattern variant

    def take(self, keep: NDArray[np.bool_]) -> _Events:
        return _Events(self.starts[keep], self.lengths[keep], self.codes[keep], self.uniforms[keep])


def _draw_events(config: SimulationConfig, rng: np.random.Generator, stop: int) -> _Events:
    """The events starting before ``stop``, drawn in fixed-size batches."""
    allowed = np.array([ANOMALY_KINDS.index(k) for k in config.anomaly_kinds], dtype=np.int64)
    period = config.dominant_season[0]
    low, high = np.zeros((2, len(ANOMALY_KINDS)), np.int64)
    for code, (lo, hi) in {**_LENGTHS, _PATTERN: ((period + 1) // 2, period)}.items():
        low[code], high[code] = lo, hi
    empty = np.zeros(0, np.int64)
    batches = [_Events(empty, empty, empty, np.zeros((0, 4)))]
    free = config.warmup
    while config.outlier_prob > 0 and allowed.size and free < stop:
        waits = np.minimum(rng.geometric(config.outlier_prob, _EVENT_BATCH) - 1, stop)
        codes = allowed[rng.integers(0, allowed.size, _EVENT_BATCH)]
        lengths = rng.integers(low[codes], high[codes] + 1)
        starts = free + np.cumsum(waits) + np.cumsum(lengths + _MIN_GAP) - lengths - _MIN_GAP
        free = int(starts[-1] + lengths[-1] + _MIN_GAP)
        batches.append(_Events(starts, lengths, codes, rng.random((_EVENT_BATCH, 4))))
    starts, lengths, codes, uniforms = (
        np.concatenate([getattr(batch, name) for batch in batches]) for name in _Events._fields
    )
    return _Events(starts, lengths, codes, uniforms).take(starts < stop)


def _level_shifts(
    config: SimulationConfig, rng: np.random.Generator, events: _Events, n: int
) -> NDArray[np.float64]:
    """Cumulative normal level shifts, away from the warm-up and from anomaly events."""
    draws = rng.random(n) / config.level_shift_rate  # uniform on [0, 1) where it is < 1
    at = np.flatnonzero(draws < 1)
    signed = 2 * draws[at] - 1
    near = np.zeros(n + 1, np.int64)
    np.add.at(near, np.clip(events.starts - _SHIFT_MARGIN, 0, n), 1)
    np.add.at(near, np.clip(events.starts + events.lengths + _SHIFT_MARGIN, 0, n), -1)
    ok = (at >= config.warmup) & (np.cumsum(near)[at] == 0)
    steps = np.zeros(n)
    steps[at[ok]] = np.sign(signed[ok]) * (0.5 + np.abs(signed[ok])) * config.level_shift_scale
    return np.cumsum(steps)


def simulate(config: SimulationConfig | None = None, **overrides: Any) -> Simulation:
    """Generate a simulated stream; ``overrides`` replace fields of ``config`` (or defaults).

    Vectorised: about 20 ms per 100k points. The arrays take 25 bytes per point, and
    generating them peaks at about 70 bytes per point.

    Examples
    --------
    >>> sim = simulate(n_points=5, seed=7, outlier_prob=0)
    >>> sim.values.round(2)
    array([49.11, 50.34, 51.03, 52.49, 51.24])
    >>> bool((simulate(SimulationConfig(n_points=5, seed=7), outlier_prob=0).values
    ...       == sim.values).all())
    True
    """
    base = dataclasses.asdict(config) if config is not None else {}
    config = SimulationConfig.from_mapping({**base, **overrides})
    n = config.n_points
    rng_events, rng_shifts, rng_drift, rng_noise = map(
        np.random.default_rng, np.random.SeedSequence(config.seed).spawn(4)
    )
    t = np.arange(n, dtype=np.float64)
    values = config.base_level + config.trend_per_point * t
    for period, amplitude in zip(config.seasonal_periods, config.seasonal_amplitudes, strict=True):
        values += amplitude * np.sin(2 * np.pi / period * t)
    if config.drift_scale > 0:
        values += np.cumsum(rng_drift.normal(0.0, config.drift_scale, n))
    events = _draw_events(config, rng_events, n + _SHIFT_MARGIN)
    if config.level_shift_rate > 0 and config.level_shift_scale > 0:
        values += _level_shifts(config, rng_shifts, events, n)
    period, amplitude = config.dominant_season
    phase = rng_noise.uniform(0, 2 * np.pi)
    sigma = config.noise_scale * (
        1 + config.noise_scale_variation * np.sin(2 * np.pi / (10 * (period or 144)) * t + phase)
    )
    noise = rng_noise.standard_normal(n) * sigma
    values += noise

    starts, lengths, codes, uniforms = events.take(events.starts < n)
    lengths = np.minimum(lengths, n - starts)
    event = np.repeat(np.arange(starts.size), lengths)
    pos = starts[event] + np.arange(event.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    code, u = codes[event], uniforms[event]
    size = config.anomaly_magnitude * (0.8 + 0.4 * u[:, 0]) * sigma[starts[event]]
    season = np.sin(2 * np.pi / max(period, 1) * pos)
    pattern = amplitude * np.select(  # inverted, flattened or doubled frequency
        [u[:, 3] < 1 / 3, u[:, 3] < 2 / 3],
        [-2 * season, -season],
        np.sin(4 * np.pi / max(period, 1) * pos) - season,
    )
    values[pos] += np.select(
        [code == _SPIKE, code == _DIP, code == _SHIFT, code == _BURST, code == _PATTERN],
        [
            size,
            -size,
            np.where(u[:, 1] < 0.5, -size, size),
            noise[pos] * (3 + 2 * u[:, 2]),
            pattern,
        ],
    )
    stuck = code == _STUCK
    values[pos[stuck]] = values[starts[event[stuck]] - 1]
    values[pos[code == _MISSING]] = np.nan

    labels = np.zeros(n, dtype=bool)
    labels[pos] = True
    kinds = np.full(n, "", dtype=object)
    kinds[pos] = np.array(ANOMALY_KINDS, dtype=object)[code]
    first = dt.datetime.fromisoformat(config.start)
    if first.tzinfo is not None:
        first = first.astimezone(dt.timezone.utc).replace(tzinfo=None)
    timestamps = np.datetime64(first, "s") + np.arange(n) * np.timedelta64(config.step_seconds, "s")
    for array in (timestamps, values, labels, kinds):
        array.flags.writeable = False
    return Simulation(timestamps, values, labels, kinds, config)
