"""A live matplotlib window that follows a stream at a capped frame rate."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from oddwatch._typing import BoolArray, FloatArray
from oddwatch.viz.figure import StreamFigure

__all__ = ["LivePlot", "display_available"]


def display_available() -> bool:
    """True when a window can be opened (a display on Linux; always elsewhere).

    Examples
    --------
    >>> isinstance(display_available(), bool)
    True
    """
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class LivePlot:
    """Show the last ``span`` points of a stream in a window, redrawn at most ``fps`` times/s.

    Points are appended to fixed-size ring buffers; a frame updates the artists' data in
    place and lets the GUI event loop run, so a fast stream costs a bounded amount of drawing.

    Parameters
    ----------
    span
        Number of most recent points shown.
    fps
        Maximum redraws per second.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> live = LivePlot(span=100, show=False)
    >>> live.append(np.arange(3.0), np.ones(3), np.zeros(3), np.full(3, 0.99),
    ...             np.zeros(3, bool), np.zeros(3, bool), np.ones(3))
    >>> live.n_points
    3
    >>> live.close()
    """

    def __init__(
        self, span: int = 1500, fps: float = 20.0, title: str = "oddwatch demo", show: bool = True
    ) -> None:
        import matplotlib.pyplot as plt

        self.span = span
        self.fps = fps
        self._show = show
        if show:
            plt.ion()
        self.figure = StreamFigure(title=title)
        self._data = np.full((6, span), np.nan)  # index, value, score, threshold, expected, -
        self._flags = np.zeros((2, span), dtype=bool)  # flagged, true label
        self.n_points = 0
        self._last_draw = 0.0
        if show:
            plt.show(block=False)

    def append(
        self,
        index: FloatArray,
        value: FloatArray,
        score: FloatArray,
        threshold: FloatArray,
        is_anomaly: BoolArray,
        label: BoolArray,
        expected: FloatArray,
    ) -> None:
        """Add points, then redraw if the last frame is older than ``1 / fps``."""
        k = min(len(index), self.span)
        rows = (index, value, score, threshold, expected)
        self._data[:5] = np.roll(self._data[:5], -k, axis=1)
        self._flags = np.roll(self._flags, -k, axis=1)
        for r, arr in enumerate(rows):
            self._data[r, -k:] = arr[-k:]
        self._flags[0, -k:] = is_anomaly[-k:]
        self._flags[1, -k:] = label[-k:]
        self.n_points += len(index)
        now = time.monotonic()
        if self._show and now - self._last_draw >= 1.0 / self.fps:
            self.draw()
            self._last_draw = now

    def draw(self) -> None:
        """Push the buffered points to the artists and let the window repaint."""
        have = min(self.n_points, self.span)
        d, f = self._data[:, -have:], self._flags[:, -have:]
        self.figure.set_data(d[0], d[1], d[2], d[3], f[0], f[1], d[4])
        canvas = self.figure.figure.canvas
        canvas.draw_idle()
        canvas.flush_events()

    def close(self) -> None:
        self.figure.close()
