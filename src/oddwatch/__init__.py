"""oddwatch: watch continuous data streams and flag anomalies in real time."""

from __future__ import annotations

__version__ = "0.1.0"

from oddwatch.detectors import RollingZScore, SeasonalDetector  # noqa: E402
from oddwatch.monitor import Monitor, MonitorResult, Verdict  # noqa: E402
from oddwatch.persist import load  # noqa: E402
from oddwatch.thresholds import FixedThreshold  # noqa: E402

__all__ = [
    "FixedThreshold",
    "Monitor",
    "MonitorResult",
    "RollingZScore",
    "SeasonalDetector",
    "Verdict",
    "__version__",
    "load",
]
