"""Thresholds: turn a stream of scores into flags; components with state like detectors."""

from oddwatch.thresholds._base import Threshold
from oddwatch.thresholds.calibrated import CalibratedThreshold
from oddwatch.thresholds.fixed import FixedThreshold
from oddwatch.thresholds.quantile import QuantileThreshold
from oddwatch.thresholds.spot import DSPOT, SPOT

__all__ = [
    "DSPOT",
    "CalibratedThreshold",
    "FixedThreshold",
    "QuantileThreshold",
    "SPOT",
    "Threshold",
]
