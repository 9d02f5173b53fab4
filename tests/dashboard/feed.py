"""Keyed output batches like ``oddwatch detect`` writes: a KeyedMonitor over synthetic series."""

from __future__ import annotations

import numpy as np

from oddwatch import KeyedMonitor
from oddwatch.sinks._base import OutputBatch

START = np.datetime64("2026-03-01T00:00:00", "s")


def batches(n_keys, n_rounds, seed=0, spike_every=0, max_keys=None):
    """One batch per round holding one point per key (a seasonal wave plus noise).

    ``spike_every``: every that many rounds, key ``k{round % n_keys}`` gets a large spike.
    """
    rng = np.random.default_rng(seed)
    keys = np.array([f"k{i:06d}" for i in range(n_keys)])
    phase = rng.uniform(0, 2 * np.pi, n_keys)
    level = rng.uniform(10, 100, n_keys)
    monitor = KeyedMonitor(max_keys=max_keys or max(n_keys, 16))
    for r in range(n_rounds):
        value = level + 5 * np.sin(2 * np.pi * r / 48 + phase) + rng.normal(0, 1, n_keys)
        if spike_every and r and r % spike_every == 0:
            value[r % n_keys] += 40.0
        result = monitor.update_many(keys, value)
        yield to_batch(result, keys, r * n_keys, START + np.timedelta64(60 * r, "s"))


def to_batch(result, keys, first_seq, when):
    n = len(result)
    reason = [result.reason(i) if result.is_anomaly[i] else "" for i in range(n)]
    stamp = str(when)
    return OutputBatch(
        seq=np.arange(first_seq, first_seq + n),
        value=result.value,
        score=result.score,
        threshold=result.threshold,
        is_anomaly=result.is_anomaly,
        reason=reason,
        key=keys,
        timestamp=[stamp] * n,
        expected=result.expected,
        scale=result.scale,
    )
