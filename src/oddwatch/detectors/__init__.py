"""Detectors: each maps a stream of floats to anomaly scores, causally."""

from oddwatch.detectors._base import Detector
from oddwatch.detectors.seasonal import SeasonalDetector
from oddwatch.detectors.zscore import RollingZScore

__all__ = ["Detector", "RollingZScore", "SeasonalDetector"]
