"""A live matplotlib window that follows a stream, stops cleanly, and holds the last frame.

The window is redrawn at a capped frame rate from fixed-size ring buffers. Closing it or
pressing Ctrl-C sets :attr:`LivePlot.stopped` instead of raising inside the GUI toolkit's
event loop (which is where Tk used to print a traceback and carry on); the caller's loop
checks the flag and ends the run with its summary.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import numpy as np

from oddwatch.viz.figure import Frame, StreamFigure, as_plot_x, columns_of

__all__ = ["LivePlot", "display_available"]

_FLOAT_ROWS = ("x", "value", "score", "threshold", "expected", "scale")


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

    Points go into fixed-size ring buffers; a frame updates the artists' data in place and
    lets the GUI event loop run, so a fast stream costs a bounded amount of drawing. The
    status line shows the points seen, the flags raised and the recent points per second.

    Use it inside :meth:`catch_interrupts` and stop feeding it when :attr:`stopped` is True
    (the window was closed or Ctrl-C was pressed); :meth:`hold` keeps the final figure open
    until the user closes it (or presses Ctrl-C).

    Parameters
    ----------
    span
        Number of most recent points shown.
    fps
        Maximum redraws per second.
    title
        Window title.
    show
        Open a window (False: draw off screen, for tests and files).
    band_sd
        Half-width of the expected band in units of the detector's scale.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> live = LivePlot(span=100, show=False)
    >>> live.append(np.arange(3.0), np.ones(3), np.zeros(3), np.full(3, 0.99),
    ...             np.array([False, False, True]), expected=np.ones(3), scale=np.ones(3),
    ...             reason=["", "", "stuck value"])
    >>> live.n_points, live.n_flagged, live.stopped
    (3, 1, False)
    >>> live.close()
    """

    def __init__(
        self,
        span: int = 1500,
        fps: float = 20.0,
        title: str = "oddwatch demo",
        show: bool = True,
        band_sd: float = 3.0,
    ) -> None:
        import matplotlib.pyplot as plt

        self.span = span
        self.fps = fps
        self._show = show
        if show:
            plt.ion()
        self.figure = StreamFigure(title=title, band_sd=band_sd)
        self._data = np.full((len(_FLOAT_ROWS), span), np.nan)
        self._flags = np.zeros((2, span), dtype=bool)  # flagged, true label
        self._reasons = np.full(span, "", dtype=object)
        self._dates = False
        self.n_points = 0
        self.n_flagged = 0
        self.closed = False
        self.interrupted = False
        self._rate: deque[tuple[float, int]] = deque(maxlen=64)
        self._last_draw = 0.0
        self.figure.figure.canvas.mpl_connect("close_event", self._on_close)
        if show:
            manager = self.figure.figure.canvas.manager
            if manager is not None:
                manager.set_window_title(title)
            plt.show(block=False)

    @property
    def stopped(self) -> bool:
        """True once the window was closed or Ctrl-C was pressed."""
        return self.closed or self.interrupted

    def _on_close(self, event: Any) -> None:
        self.closed = True

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.interrupted:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.interrupted = True

    @contextmanager
    def catch_interrupts(self) -> Iterator[LivePlot]:
        """Within the block, Ctrl-C sets :attr:`interrupted` (a second one raises).

        Only the main thread can own the handler; elsewhere this does nothing.
        """
        try:
            previous = signal.signal(signal.SIGINT, self._on_sigint)
        except ValueError:  # not the main thread
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    @columns_of(Frame)
    def append(self, frame: Frame) -> None:
        """Add points (the columns of a :class:`~oddwatch.viz.figure.Frame`, positionally or
        by name), then redraw if a frame is due."""
        positions, dates = as_plot_x(frame.x)
        value, score, threshold, is_anomaly = (
            frame.value,
            frame.score,
            frame.threshold,
            frame.is_anomaly,
        )
        label, expected, scale, reason = frame.label, frame.expected, frame.scale, frame.reason
        self._dates = self._dates or dates
        n = len(positions)
        k = min(n, self.span)
        nan = np.full(n, np.nan)
        rows = [positions, value, score, threshold]
        rows += [nan if expected is None else expected, nan if scale is None else scale]
        self._data = np.roll(self._data, -k, axis=1)
        self._flags = np.roll(self._flags, -k, axis=1)
        self._reasons = np.roll(self._reasons, -k)
        for r, arr in enumerate(rows):
            self._data[r, -k:] = arr[-k:]
        self._flags[0, -k:] = is_anomaly[-k:]
        self._flags[1, -k:] = False if label is None else label[-k:]
        self._reasons[-k:] = "" if reason is None else reason[-k:]
        self.n_points += n
        self.n_flagged += int(np.count_nonzero(is_anomaly))
        now = time.monotonic()
        self._rate.append((now, self.n_points))
        if self._show and now - self._last_draw >= 1.0 / self.fps:
            self.draw()
            self._last_draw = now

    def points_per_second(self) -> float:
        """Points per second over the last few appends (0 before two appends)."""
        if len(self._rate) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def status(self, note: str = "") -> str:
        """The status line: points, flags (and how many are in view), points/s, a note."""
        in_view = int(np.count_nonzero(self._flags[0, -min(self.n_points, self.span) :]))
        flags = f"{self.n_flagged:,} flagged"
        if in_view < self.n_flagged:  # some have scrolled out of the window
            flags += f" ({in_view:,} in view)"
        text = f"{self.n_points:,} points   {flags}   {self.points_per_second():,.0f} points/s"
        return f"{text}   {note}" if note else text

    def draw(self, note: str = "") -> None:
        """Push the buffered points to the artists and let the window repaint."""
        if self.closed:
            return
        have = min(self.n_points, self.span)
        d, f = self._data[:, -have:], self._flags[:, -have:]
        x: Any = d[0]
        if self._dates:
            x = (d[0] * 86400.0 * 1e3).astype("datetime64[ms]")
        self.figure.set_data(
            x, d[1], d[2], d[3], f[0], f[1], d[4], d[5], list(self._reasons[-have:])
        )
        self.figure.set_status(self.status(note))
        canvas = self.figure.figure.canvas
        canvas.draw_idle()
        canvas.flush_events()

    def hold(self, note: str = "stream ended: close the window to exit") -> None:
        """Keep the final figure open until the window is closed or Ctrl-C is pressed."""
        self.draw(note)
        canvas = self.figure.figure.canvas
        while self._show and not self.stopped:
            canvas.start_event_loop(0.1)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the current frame to ``path``."""
        self.figure.save(path)

    def close(self) -> None:
        """Close the window (if still open) and release the figure."""
        try:
            self.figure.close()
        except Exception:
            # A window destroyed from outside (not via its close button) leaves the toolkit
            # unable to destroy it again; there is nothing left to release then.
            if not self.closed:
                raise
