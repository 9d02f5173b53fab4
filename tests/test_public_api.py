"""The public API, pinned: adding or removing a name is a deliberate change to this file."""

from __future__ import annotations

from importlib.metadata import version

import oddwatch

PUBLIC = [
    "CalibratedSurpriseDetector",
    "DSPOT",
    "DualSurpriseDetector",
    "EWMAZScore",
    "FixedThreshold",
    "HalfSpaceTrees",
    "IsolationForest",
    "KeyedMonitor",
    "KeyedResult",
    "Monitor",
    "MonitorResult",
    "QuantileThreshold",
    "RollingMADZScore",
    "RollingZScore",
    "SPOT",
    "SeasonalDetector",
    "Verdict",
    "__version__",
    "load",
]


def test_all_is_pinned_and_sorted() -> None:
    assert oddwatch.__all__ == PUBLIC
    assert sorted(oddwatch.__all__) == oddwatch.__all__


def test_every_name_in_all_exists() -> None:
    for name in oddwatch.__all__:
        assert hasattr(oddwatch, name), name


def test_the_version_is_written_once_and_the_metadata_agrees() -> None:
    assert version("oddwatch") == oddwatch.__version__
