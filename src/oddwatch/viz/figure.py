"""One figure for a monitored stream: values, expected band and flags above, surprise below."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np

from oddwatch._typing import BoolArray, FloatArray, NDArray

__all__ = ["Frame", "StreamFigure", "as_plot_x", "columns_of", "runs", "surprise"]

_FLOOR = 1e-16
VALUE_COLOR = "#3b6ea8"
BAND_COLOR = "#9db4cf"
FLAG_COLOR = "#d62728"
TRUTH_COLOR = "#f28e2b"


def surprise(score: FloatArray) -> FloatArray:
    """Scores ``s = S / (1 + S)`` shown as ``S = -log10(p)``: 4 means a 1-in-10,000 point.

    Examples
    --------
    >>> surprise(np.array([0.0, 0.5, 0.8]))
    array([0., 1., 4.])
    """
    clipped = np.clip(score, 0.0, 1.0 - _FLOOR)
    with np.errstate(invalid="ignore"):
        shown = np.round(clipped / (1.0 - clipped), 12) + 0.0
    return np.asarray(shown, dtype=np.float64)


def runs(mask: BoolArray) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Start and stop (exclusive) indices of the runs of True in ``mask``.

    Examples
    --------
    >>> starts, stops = runs(np.array([0, 1, 1, 0, 1], dtype=bool))
    >>> starts.tolist(), stops.tolist()
    ([1, 4], [3, 5])
    """
    padded = np.concatenate(([False], np.asarray(mask, dtype=bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2].astype(np.int64), edges[1::2].astype(np.int64)


def as_plot_x(x: Any) -> tuple[FloatArray, bool]:
    """Positions for the x-axis and whether they are dates (matplotlib day numbers).

    ``datetime64`` arrays become matplotlib date numbers; anything else is taken as a
    plain position (the point's index).

    Examples
    --------
    >>> as_plot_x(np.array(["1970-01-02"], dtype="datetime64[s]"))
    (array([1.]), True)
    >>> as_plot_x([0, 1])
    (array([0., 1.]), False)
    """
    array = np.asarray(x)
    if np.issubdtype(array.dtype, np.datetime64):
        seconds = array.astype("datetime64[ns]").astype(np.int64) / 1e9
        return np.asarray(seconds / 86400.0, dtype=np.float64), True
    return np.asarray(array, dtype=np.float64), False


@dataclass(frozen=True)
class Frame:
    """The columns of a stream view, all aligned (one entry per point).

    ``x`` is the point index or a ``datetime64`` array (then the axis shows times);
    ``label`` marks true anomalies (shaded), ``expected`` and ``scale`` give the expected
    band, ``reason`` holds each point's reason ("" when not flagged).

    Examples
    --------
    >>> Frame([0.0], np.ones(1), np.zeros(1), np.ones(1), np.zeros(1, bool)).reason is None
    True
    """

    x: Any
    value: FloatArray
    score: FloatArray
    threshold: FloatArray
    is_anomaly: BoolArray
    label: BoolArray | None = None
    expected: FloatArray | None = None
    scale: FloatArray | None = None
    reason: list[str] | None = None


_Columns = ParamSpec("_Columns")
_Self = TypeVar("_Self")
_Result = TypeVar("_Result")


def columns_of(
    build: Callable[_Columns, Frame],
) -> Callable[[Callable[[_Self, Frame], _Result]], Callable[Concatenate[_Self, _Columns], _Result]]:
    """Let a method that takes a :class:`Frame` be called with the frame's columns.

    The columns are declared once, in :class:`Frame`; the methods that take them
    (:meth:`StreamFigure.set_data`, ``LivePlot.append``) accept them positionally or by
    name, type-checked and with :class:`Frame`'s signature in ``help()``.

    Examples
    --------
    >>> class Count:
    ...     @columns_of(Frame)
    ...     def points(self, frame):
    ...         return len(frame.value)
    >>> Count().points([0, 1], np.ones(2), np.zeros(2), np.ones(2), np.zeros(2, bool))
    2
    """

    def decorate(
        method: Callable[[_Self, Frame], _Result],
    ) -> Callable[Concatenate[_Self, _Columns], _Result]:
        @functools.wraps(method)
        def with_columns(
            self: _Self, /, *columns: _Columns.args, **named: _Columns.kwargs
        ) -> _Result:
            return method(self, build(*columns, **named))

        own = inspect.signature(method)
        first = next(iter(own.parameters.values()))
        columns = inspect.signature(build).parameters.values()
        with_columns.__signature__ = own.replace(parameters=[first, *columns])  # type: ignore[attr-defined]
        return with_columns

    return decorate


class StreamFigure:
    """Artists for a stream plot, updated in place (no redraw of everything per point).

    The top panel shows the values, the expected band ``expected +/- band_sd * scale`` when
    the detector has one, injected/true anomaly intervals as shaded bands and flagged points
    as bold red markers, with the reason of the latest flag written above the plot; the
    bottom panel shows the anomaly score as surprise ``-log10 p = s / (1 - s)`` (or the raw
    score) with the threshold. A status line at the bottom is set by :meth:`set_status`.

    Parameters
    ----------
    title
        Figure title.
    likelihood
        Show scores in [0, 1) as surprise ``s / (1 - s)``; False shows raw scores.
    band_sd
        Half-width of the expected band, in units of the detector's scale.
    pyplot
        Make the figure through pyplot (a window can show it); False makes a standalone
        figure for files, leaving pyplot's backend and windows alone.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = StreamFigure(title="demo")
    >>> x = np.arange(5.0)
    >>> fig.set_data(x, x, np.array([0.1, 0.2, 0.9, 0.3, 0.2]), np.full(5, 0.8),
    ...              np.array([False, False, True, False, False]),
    ...              reason=["", "", "2 is 5.0 sd above the expected 1", "", ""])
    >>> fig.n_flagged_drawn, fig.latest_reason.get_text()
    (1, 'latest flag at 2: 2 is 5.0 sd above the expected 1')
    >>> fig.close()
    """

    def __init__(
        self,
        title: str = "oddwatch",
        likelihood: bool = True,
        band_sd: float = 3.0,
        pyplot: bool = True,
    ) -> None:
        from matplotlib.collections import PolyCollection
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        self.likelihood = likelihood
        self.band_sd = band_sd
        self.pyplot = pyplot
        if pyplot:
            import matplotlib.pyplot as plt

            self.figure = plt.figure(figsize=(11, 6.2))
        else:
            from matplotlib.figure import Figure

            self.figure = Figure(figsize=(11, 6.2))
        self.ax_value, self.ax_score = self.figure.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
        )
        self.figure.suptitle(title, fontsize=12, fontweight="bold")
        ax = self.ax_value
        self.truth = PolyCollection(
            [], facecolors=TRUTH_COLOR, alpha=0.22, edgecolors="none", zorder=0
        )
        self.truth.set_transform(ax.get_xaxis_transform())
        ax.add_collection(self.truth)
        self.band = PolyCollection([], facecolors=BAND_COLOR, alpha=0.45, edgecolors="none")
        ax.add_collection(self.band)
        (self.expected_line,) = ax.plot([], [], color="#6d7f95", lw=0.8, ls="--")
        (self.line,) = ax.plot([], [], color=VALUE_COLOR, lw=1.0, zorder=3)
        self.flags = ax.scatter(
            [], [], s=46, marker="o", color=FLAG_COLOR, edgecolors="#5a0d0d", lw=0.9, zorder=5
        )
        # flagged points without a value (missing, NaN): a mark on the bottom edge
        self.flags_no_value = ax.scatter(
            [], [], s=40, marker="^", color=FLAG_COLOR, clip_on=False, zorder=5,
            transform=ax.get_xaxis_transform(),
        )  # fmt: skip
        ax.legend(
            handles=[
                Line2D([], [], color=VALUE_COLOR, lw=1.2, label="value"),
                Patch(facecolor=BAND_COLOR, alpha=0.6, label=f"expected +/- {band_sd:g} sd"),
                Patch(facecolor=TRUTH_COLOR, alpha=0.35, label="true anomaly"),
                Line2D([], [], ls="", marker="o", color=FLAG_COLOR, mec="#5a0d0d", label="flagged"),
                Line2D([], [], ls="", marker="^", color=FLAG_COLOR, label="flagged, no value"),
            ],
            loc="upper left",
            bbox_to_anchor=(0.0, 1.11),
            fontsize=8,
            ncols=5,
            framealpha=0.85,
        )
        ax.set_ylabel("value")
        self.latest_reason = ax.text(
            0.995, 0.975, "", transform=ax.transAxes, ha="right", va="top", fontsize=9,
            color=FLAG_COLOR, fontweight="bold", zorder=6,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": FLAG_COLOR,
                  "alpha": 0.9},
        )  # fmt: skip
        self.latest_reason.set_visible(False)
        (self.score_line,) = self.ax_score.plot([], [], color="#555555", lw=0.8)
        (self.threshold_line,) = self.ax_score.plot([], [], color=FLAG_COLOR, lw=0.9, ls=":")
        self.score_flags = self.ax_score.scatter([], [], s=14, color=FLAG_COLOR, zorder=4)
        self.ax_score.set_ylabel("surprise\n-log10 p" if likelihood else "score")
        self.ax_score.set_xlabel("point")
        self.status = self.figure.text(0.01, 0.01, "", fontsize=9, color="#333333", va="bottom")
        self.figure.tight_layout(rect=(0.0, 0.03, 1.0, 1.0))
        self._dates = False
        self.n_flagged_drawn = 0

    def _use_dates(self) -> None:
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
        self.ax_score.xaxis.set_major_locator(locator)
        formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
        self.ax_score.xaxis.set_major_formatter(formatter)
        self.ax_score.set_xlabel("time")
        self._dates = True

    @columns_of(Frame)
    def set_data(self, frame: Frame) -> None:
        """Show these points: the columns of a :class:`Frame`, positionally or by name."""
        value, score, threshold, is_anomaly = (
            frame.value,
            frame.score,
            frame.threshold,
            frame.is_anomaly,
        )
        expected, scale = frame.expected, frame.scale
        index, dates = as_plot_x(frame.x)
        if dates and not self._dates:
            self._use_dates()
        self.line.set_data(index, value)
        flagged = is_anomaly & np.isfinite(value)
        self.flags.set_offsets(np.column_stack([index[flagged], value[flagged]]))
        no_value = is_anomaly & ~np.isfinite(value)
        self.flags_no_value.set_offsets(
            np.column_stack([index[no_value], np.full(int(no_value.sum()), 0.0)])
        )
        self.n_flagged_drawn = int(flagged.sum() + no_value.sum())
        lo = hi = value
        if expected is not None:
            self.expected_line.set_data(index, expected)
            if scale is not None:
                half = self.band_sd * scale
                lo, hi = expected - half, expected + half
                self.band.set_verts(_band_polygons(index, lo, hi))
        if frame.label is not None:
            self.truth.set_verts(_interval_boxes(index, frame.label))
        shown = surprise(score) if self.likelihood else score
        shown_threshold = surprise(threshold) if self.likelihood else threshold
        self.score_line.set_data(index, shown)
        self.threshold_line.set_data(index, shown_threshold)
        self.score_flags.set_offsets(np.column_stack([index[flagged], shown[flagged]]))
        latest = self._latest(index, dates, is_anomaly, frame.reason)
        self.latest_reason.set_text(latest)
        self.latest_reason.set_visible(bool(latest))
        self._rescale(index, value, lo, hi, shown, shown_threshold)

    @staticmethod
    def _latest(index: FloatArray, dates: bool, is_anomaly: BoolArray, reason: Any) -> str:
        where = np.flatnonzero(is_anomaly)
        if reason is None or not where.size:
            return ""
        i = int(where[-1])
        if not reason[i]:
            return ""
        if dates:
            seconds = np.datetime64(round(float(index[i]) * 86400.0), "s")
            when = str(seconds).replace("T", " ")
        else:
            when = f"{index[i]:g}"
        return f"latest flag at {when}: {reason[i]}"

    def set_status(self, text: str) -> None:
        """The status line under the plot (points, flags, points/s ...)."""
        self.status.set_text(text)

    def _rescale(
        self, index: Any, value: Any, lo: Any, hi: Any, shown: Any, shown_threshold: Any
    ) -> None:
        if len(index) == 0:
            return
        step = float(np.median(np.diff(index[-50:]))) if len(index) > 1 else 1.0
        self.ax_value.set_xlim(float(index[0]), float(index[-1]) + step)
        finite = np.concatenate([v[np.isfinite(v)] for v in (value, lo, hi)])
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            pad = 0.08 * (high - low or 1.0)
            self.ax_value.set_ylim(low - pad, high + 2.0 * pad)  # room for the reason box
        tops = [v[np.isfinite(v)] for v in (shown, shown_threshold)]
        top = max((float(t.max()) for t in tops if t.size), default=1.0)
        self.ax_score.set_ylim(0.0, max(top * 1.1, 1.0))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the figure to ``path`` (format from the extension)."""
        self.figure.savefig(path, dpi=110)

    def close(self) -> None:
        """Release the figure (and its window, if pyplot made one)."""
        if self.pyplot:
            import matplotlib.pyplot as plt

            plt.close(self.figure)


def _band_polygons(x: FloatArray, lo: FloatArray, hi: FloatArray) -> list[FloatArray]:
    """One polygon per run of points where the band is defined."""
    ok = np.isfinite(lo) & np.isfinite(hi)
    polygons = []
    for start, stop in zip(*runs(ok), strict=True):
        xs = x[start:stop]
        polygons.append(
            np.column_stack(
                [
                    np.concatenate([xs, xs[::-1]]),
                    np.concatenate([lo[start:stop], hi[start:stop][::-1]]),
                ]
            )
        )
    return polygons


def _interval_boxes(x: FloatArray, mask: BoolArray) -> list[FloatArray]:
    """A full-height box (axes y from 0 to 1) over each run of True in ``mask``."""
    if len(x) == 0:
        return []
    step = float(np.median(np.diff(x[-50:]))) if len(x) > 1 else 1.0
    half = max(0.5 * step, 0.002 * float(x[-1] - x[0]))  # a lone point stays visible
    boxes = []
    for start, stop in zip(*runs(mask), strict=True):
        left, right = float(x[start]) - half, float(x[stop - 1]) + half
        boxes.append(np.array([[left, 0.0], [right, 0.0], [right, 1.0], [left, 1.0]]))
    return boxes
