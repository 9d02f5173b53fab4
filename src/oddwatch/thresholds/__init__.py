"""Thresholds: turn a stream of scores into flags; components with state like detectors."""

from oddwatch.thresholds._base import Threshold
from oddwatch.thresholds.fixed import FixedThreshold

__all__ = ["FixedThreshold", "Threshold"]
