"""oddwatch: watch continuous data streams and flag anomalies in real time."""

from __future__ import annotations

__version__ = "0.1.0"  # the only place the version is written (pyproject.toml reads it)

from oddwatch.detectors import (  # noqa: E402
    CalibratedSurpriseDetector,
    DualSurpriseDetector,
    EWMAZScore,
    HalfSpaceTrees,
    IsolationForest,
    RollingMADZScore,
    RollingZScore,
    SeasonalDetector,
)
from oddwatch.keyed import KeyedMonitor, KeyedResult  # noqa: E402
from oddwatch.monitor import Monitor, MonitorResult, Verdict  # noqa: E402
from oddwatch.persist import load  # noqa: E402
from oddwatch.thresholds import DSPOT, SPOT, FixedThreshold, QuantileThreshold  # noqa: E402

__all__ = [
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
