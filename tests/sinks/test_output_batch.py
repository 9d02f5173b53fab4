"""OutputBatch: the optional expected/scale columns follow select() and default to None."""

from __future__ import annotations

import numpy as np

from oddwatch.sinks._base import OutputBatch


def _batch(**extra):
    return OutputBatch(
        seq=np.arange(3),
        value=np.array([1.0, 2.0, 3.0]),
        score=np.zeros(3),
        threshold=np.ones(3),
        is_anomaly=np.array([False, True, False]),
        reason=["", "r", ""],
        **extra,
    )


def test_expected_and_scale_default_to_none_and_survive_select():
    assert _batch().expected is None and _batch().select(np.ones(3, bool)).scale is None
    batch = _batch(expected=np.array([0.5, 1.5, 2.5]), scale=np.array([1.0, 2.0, 3.0]))
    picked = batch.select(np.array([False, True, True]))
    assert picked.expected.tolist() == [1.5, 2.5] and picked.scale.tolist() == [2.0, 3.0]
    assert picked.reason == ["r", ""]
