"""Static pictures of monitored series: one panel per series, for files and reports."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddwatch._typing import BoolArray, FloatArray
from oddwatch.viz.figure import BAND_COLOR, FLAG_COLOR, VALUE_COLOR, as_plot_x, runs

__all__ = ["SeriesPanel", "render_png", "save_plot"]


@dataclass
class SeriesPanel:
    """One series to draw: positions (index or ``datetime64``), values and what flagged.

    ``expected`` and ``scale`` give the band ``expected +/- band_sd * scale`` where both
    are finite; ``note`` is printed under the series' name (e.g. its flag count).
    """

    name: str
    x: Any
    value: FloatArray
    is_anomaly: BoolArray
    expected: FloatArray | None = None
    scale: FloatArray | None = None
    note: str = ""
    reasons: list[str] = field(default_factory=list)


def _draw(ax: Any, panel: SeriesPanel, band_sd: float) -> bool:
    """Draw one panel on ``ax``; True when its x-axis holds dates."""
    x, dates = as_plot_x(panel.x)
    if panel.expected is not None and panel.scale is not None:
        lo = panel.expected - band_sd * panel.scale
        hi = panel.expected + band_sd * panel.scale
        ok = np.isfinite(lo) & np.isfinite(hi)
        for start, stop in zip(*runs(ok), strict=True):
            ax.fill_between(
                x[start:stop], lo[start:stop], hi[start:stop], color=BAND_COLOR, alpha=0.5, lw=0
            )
        ax.plot(x, panel.expected, color="#6d7f95", lw=0.7, ls="--")
    ax.plot(x, panel.value, color=VALUE_COLOR, lw=0.9)
    flagged = panel.is_anomaly & np.isfinite(panel.value)
    ax.scatter(
        x[flagged], panel.value[flagged], s=30, color=FLAG_COLOR, edgecolors="#5a0d0d", zorder=5
    )
    no_value = panel.is_anomaly & ~np.isfinite(panel.value)  # missing: on the bottom edge
    ax.scatter(
        x[no_value], np.zeros(int(no_value.sum())), s=30, marker="^", color=FLAG_COLOR,
        clip_on=False, zorder=5, transform=ax.get_xaxis_transform(),
    )  # fmt: skip
    title = panel.name if not panel.note else f"{panel.name}   ({panel.note})"
    ax.set_title(title, loc="left", fontsize=9, fontweight="bold")
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.25)
    return dates


def _figure(panels: list[SeriesPanel], title: str, band_sd: float, width: float) -> Any:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = max(len(panels), 1)
    figure = Figure(figsize=(width, 1.0 + 2.1 * n), layout="constrained")
    axes = figure.subplots(n, 1, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=False):
        if _draw(ax, panel, band_sd):
            locator = AutoDateLocator()  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_locator(locator)
            formatter = ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
            ax.xaxis.set_major_formatter(formatter)
    if not panels:
        axes[0].text(0.5, 0.5, "no data", ha="center", va="center", transform=axes[0].transAxes)
    figure.suptitle(title, fontsize=11, fontweight="bold")
    handles = [
        Line2D([], [], color=VALUE_COLOR, label="value"),
        Patch(facecolor=BAND_COLOR, alpha=0.6, label=f"expected +/- {band_sd:g} sd"),
        Line2D([], [], ls="", marker="o", color=FLAG_COLOR, label="flagged"),
    ]
    if any((p.is_anomaly & ~np.isfinite(p.value)).any() for p in panels):
        handles.append(
            Line2D([], [], ls="", marker="^", color=FLAG_COLOR, label="flagged, no value")
        )
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=4,
        fontsize=8,
        frameon=False,
    )
    return figure


def render_png(
    panels: list[SeriesPanel], title: str = "oddwatch", band_sd: float = 3.0, width: float = 10.0
) -> bytes:
    """The panels stacked in one PNG image (bytes), without touching pyplot's state.

    Examples
    --------
    >>> x = np.arange(50.0)
    >>> panel = SeriesPanel("cpu", x, np.sin(x / 5), x == 30, np.sin(x / 5), np.full(50, 0.1))
    >>> render_png([panel])[:8]
    b'\\x89PNG\\r\\n\\x1a\\n'
    """
    figure = _figure(panels, title, band_sd, width)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100)
    return out.getvalue()


def save_plot(
    path: str | os.PathLike[str],
    panels: list[SeriesPanel],
    title: str = "oddwatch",
    band_sd: float = 3.0,
) -> None:
    """Write the panels to ``path`` as one image (format from the extension: png, svg, pdf).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "plot.png")
    >>> x = np.arange(10.0)
    >>> save_plot(path, [SeriesPanel("a", x, x, x == 5)])
    >>> os.path.getsize(path) > 1000
    True
    """
    _figure(panels, title, band_sd, 10.0).savefig(path, dpi=100)
