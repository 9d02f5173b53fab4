"""Memory stays bounded by what the results need (issue 12, item 8).

``Monitor.update_many`` used to build whole-input temporaries (the valid points packed, then
every output spread back), peaking at several times the input; ``KeyedMonitor`` with a huge
``max_keys`` died with a ``MemoryError`` traceback.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from oddwatch import KeyedMonitor, Monitor, RollingZScore
from oddwatch.errors import InvalidParameterError

N = 4_000_000


@pytest.mark.parametrize("nan_every", [0, 1000])
def test_update_many_temporaries_stay_within_a_block(nan_every):
    xs = np.random.default_rng(0).normal(size=N)
    if nan_every:
        xs[::nan_every] = np.nan
    monitor = Monitor(RollingZScore(window_size=8), on_invalid="skip")
    monitor.update_many(xs[:100])  # compile outside the measurement
    tracemalloc.start()
    try:
        result = monitor.update_many(xs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outputs = (result.score, result.threshold, result.expected, result.scale)
    result_bytes = sum(a.nbytes for a in outputs) + result.is_anomaly.nbytes
    result_bytes += result.is_invalid.nbytes
    # the result arrays are 4.25x the input; everything else must stay under 1/8 of it
    assert peak - result_bytes < xs.nbytes / 8


def test_huge_max_keys_is_refused_naming_the_memory():
    with pytest.raises(
        InvalidParameterError,
        match=r"^`max_keys` of KeyedMonitor is 100,000,000: state for that many keys takes "
        r"4\.\d+ TB \(4[01],\d{3} bytes .* per key\).*Lower max_keys",
    ):
        KeyedMonitor(max_keys=10**8)


def test_refusal_when_the_allocation_itself_fails(monkeypatch):
    import oddwatch.keyed as keyed

    monkeypatch.setattr(keyed, "_physical_memory", lambda: 0)  # platform gives no figure
    with pytest.raises(InvalidParameterError, match="could not be allocated. Lower max_keys"):
        KeyedMonitor(max_keys=10**13)


def test_max_keys_that_fits_is_accepted():
    monitor = KeyedMonitor(RollingZScore(window_size=3), max_keys=1000)
    assert monitor.update_many(["a"], [1.0]).key.tolist() == ["a"]
