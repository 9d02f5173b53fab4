"""Plots of a monitored stream (matplotlib is imported only here)."""

from oddwatch.viz.figure import StreamFigure
from oddwatch.viz.live import LivePlot, display_available

__all__ = ["LivePlot", "StreamFigure", "display_available"]
