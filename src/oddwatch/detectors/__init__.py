"""Detectors: each maps a stream of floats to anomaly scores, causally."""

from oddwatch.detectors._base import Detector
from oddwatch.detectors.calibrated_surprise import CalibratedSurpriseDetector
from oddwatch.detectors.combined import ShapeAndPointDetector
from oddwatch.detectors.discord import StreamingDiscord
from oddwatch.detectors.dual import DualSurpriseDetector
from oddwatch.detectors.ewma import EWMAZScore
from oddwatch.detectors.hst import HalfSpaceTrees
from oddwatch.detectors.isolation_forest import IsolationForest
from oddwatch.detectors.mad import RollingMADZScore
from oddwatch.detectors.seasonal import SeasonalDetector
from oddwatch.detectors.zscore import RollingZScore

__all__ = [
    "CalibratedSurpriseDetector",
    "Detector",
    "DualSurpriseDetector",
    "EWMAZScore",
    "HalfSpaceTrees",
    "IsolationForest",
    "RollingMADZScore",
    "RollingZScore",
    "SeasonalDetector",
    "ShapeAndPointDetector",
    "StreamingDiscord",
]
