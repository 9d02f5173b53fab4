"""One figure for a monitored stream: values with flags and truth above, surprise below."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from oddwatch._typing import BoolArray, FloatArray

__all__ = ["StreamFigure", "surprise"]

_FLOOR = 1e-16


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


class StreamFigure:
    """Artists for a stream plot, updated in place (no redraw of everything per point).

    The top panel shows the values, flagged points (red crosses) and injected/true
    anomalies (orange rings) and the expected value band when known; the bottom panel shows
    the anomaly score as surprise ``-log10 p = s / (1 - s)`` with the threshold.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = StreamFigure(title="demo")
    >>> x = np.arange(5.0)
    >>> fig.set_data(x, x, np.array([0.1, 0.2, 0.9, 0.3, 0.2]), np.full(5, 0.8),
    ...              np.array([False, False, True, False, False]))
    >>> fig.n_flagged_drawn
    1
    """

    def __init__(self, title: str = "oddwatch", likelihood: bool = True) -> None:
        import matplotlib.pyplot as plt

        self.likelihood = likelihood
        self.figure, (self.ax_value, self.ax_score) = plt.subplots(
            2, 1, sharex=True, figsize=(11, 6), gridspec_kw={"height_ratios": [3, 1]}
        )
        self.figure.suptitle(title)
        (self.line,) = self.ax_value.plot([], [], color="#3b6ea8", lw=0.9, label="value")
        (self.expected_line,) = self.ax_value.plot(
            [], [], color="#999999", lw=0.8, ls="--", label="expected"
        )
        self.truth = self.ax_value.scatter(
            [], [], s=70, facecolors="none", edgecolors="#f28e2b", lw=1.4, label="true anomaly"
        )
        self.flags = self.ax_value.scatter(
            [], [], s=36, marker="x", color="#d62728", lw=1.6, label="flagged"
        )
        self.ax_value.legend(loc="upper left", fontsize=8, ncols=4)
        self.ax_value.set_ylabel("value")
        (self.score_line,) = self.ax_score.plot([], [], color="#555555", lw=0.8)
        (self.threshold_line,) = self.ax_score.plot([], [], color="#d62728", lw=0.9, ls=":")
        self.ax_score.set_ylabel("surprise\n-log10 p" if likelihood else "score")
        self.ax_score.set_xlabel("point")
        self.figure.tight_layout()
        self.n_flagged_drawn = 0

    def set_data(
        self,
        index: FloatArray,
        value: FloatArray,
        score: FloatArray,
        threshold: FloatArray,
        is_anomaly: BoolArray,
        label: BoolArray | None = None,
        expected: FloatArray | None = None,
    ) -> None:
        """Show these points (all arrays aligned, one entry per point)."""
        self.line.set_data(index, value)
        if expected is not None:
            self.expected_line.set_data(index, expected)
        shown = surprise(score) if self.likelihood else score
        shown_threshold = surprise(threshold) if self.likelihood else threshold
        self.score_line.set_data(index, shown)
        self.threshold_line.set_data(index, shown_threshold)
        flagged = is_anomaly & np.isfinite(value)
        self.flags.set_offsets(np.column_stack([index[flagged], value[flagged]]))
        self.n_flagged_drawn = int(flagged.sum())
        if label is not None:
            true = label & np.isfinite(value)
            self.truth.set_offsets(np.column_stack([index[true], value[true]]))
        self._rescale(index, value, shown, shown_threshold)

    def _rescale(self, index: Any, value: Any, shown: Any, shown_threshold: Any) -> None:
        if len(index) == 0:
            return
        self.ax_value.set_xlim(float(index[0]), float(index[-1]) + 1.0)
        finite = value[np.isfinite(value)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            pad = 0.05 * (hi - lo or 1.0)
            self.ax_value.set_ylim(lo - pad, hi + pad)
        tops = [v[np.isfinite(v)] for v in (shown, shown_threshold)]
        top = max((float(t.max()) for t in tops if t.size), default=1.0)
        self.ax_score.set_ylim(0.0, max(top * 1.1, 1.0))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the figure to ``path`` (format from the extension)."""
        self.figure.savefig(path, dpi=110)

    def close(self) -> None:
        import matplotlib.pyplot as plt

        plt.close(self.figure)
