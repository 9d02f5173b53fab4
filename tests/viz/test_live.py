"""LivePlot and StreamFigure off screen: ring buffer, bands, flags, reason, status, stopping."""

from __future__ import annotations

import os
import signal

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from matplotlib.backend_bases import CloseEvent  # noqa: E402

from oddwatch.viz import LivePlot, StreamFigure  # noqa: E402
from oddwatch.viz.figure import as_plot_x, runs  # noqa: E402


def _points(n, start=0, flag_at=()):
    x = np.arange(start, start + n, dtype=float)
    is_anomaly = np.isin(x, flag_at)
    reason = [f"reason {int(v)}" if f else "" for v, f in zip(x, is_anomaly, strict=True)]
    return dict(
        x=x,
        value=np.sin(x / 5.0),
        score=np.full(n, 0.1),
        threshold=np.full(n, 0.8),
        is_anomaly=is_anomaly,
        label=(x % 17) < 3,
        expected=np.zeros(n),
        scale=np.full(n, 0.5),
        reason=reason,
    )


def test_runs_finds_every_interval_including_the_edges():
    starts, stops = runs(np.array([1, 1, 0, 0, 1, 0, 1], dtype=bool))
    assert starts.tolist() == [0, 4, 6] and stops.tolist() == [2, 5, 7]
    assert [a.size for a in runs(np.zeros(4, dtype=bool))] == [0, 0]


def test_dates_become_day_numbers_and_plain_x_stays():
    x, dates = as_plot_x(np.array(["1970-01-01T12:00"], dtype="datetime64[m]"))
    assert dates and x.tolist() == [0.5]
    assert as_plot_x(np.array([3, 4]))[1] is False


def test_intervals_are_shaded_as_one_band_each_not_a_marker_per_point():
    figure = StreamFigure()
    p = _points(100, flag_at=(30, 31))
    figure.set_data(**p)
    n_intervals = runs(p["label"])[0].size
    assert len(figure.truth.get_paths()) == n_intervals < int(p["label"].sum())
    assert figure.n_flagged_drawn == 2
    assert figure.latest_reason.get_text() == "latest flag at 31: reason 31"
    band = figure.band.get_paths()[0].vertices
    assert band[:, 1].min() == pytest.approx(-1.5) and band[:, 1].max() == pytest.approx(1.5)
    figure.close()


def test_a_flagged_point_without_a_value_is_marked_on_the_bottom_edge():
    figure = StreamFigure()
    p = _points(20, flag_at=(5, 9))
    p["value"] = p["value"].copy()
    p["value"][9] = np.nan  # a missing value, flagged as invalid
    figure.set_data(**p)
    assert figure.flags.get_offsets().tolist() == [[5.0, p["value"][5]]]
    assert figure.flags_no_value.get_offsets().tolist() == [[9.0, 0.0]]
    assert figure.n_flagged_drawn == 2
    figure.close()


def test_a_time_axis_is_used_for_datetime_input():
    figure = StreamFigure()
    p = _points(10, flag_at=(4,))
    p["x"] = np.datetime64("2026-01-01T00:00") + np.arange(10).astype("timedelta64[m]")
    figure.set_data(**p)
    assert figure.ax_score.get_xlabel() == "time"
    assert figure.latest_reason.get_text().startswith("latest flag at 2026-01-01 00:04:00")
    figure.close()


def test_live_plot_keeps_the_last_span_points_and_counts_everything():
    live = LivePlot(span=50, show=False)
    for start in range(0, 120, 40):
        p = _points(40, start, flag_at=(10, 95))
        live.append(**p)
    live.draw(note="hello")
    assert (live.n_points, live.n_flagged) == (120, 2)
    shown_x = live.figure.line.get_xdata()
    assert shown_x.tolist() == list(range(70, 120))
    assert live.figure.latest_reason.get_text().endswith("reason 95")
    status = live.figure.status.get_text()
    assert status.startswith("120 points   2 flagged (1 in view)   ") and "points/s" in status
    assert status.endswith("hello")
    live.close()


def test_closing_the_figure_stops_the_live_plot():
    live = LivePlot(show=False)
    assert not live.stopped
    CloseEvent("close_event", live.figure.figure.canvas)._process()
    assert live.closed and live.stopped and not live.interrupted
    live.draw()  # drawing after the close is a no-op, not an error
    live.close()


def test_ctrl_c_sets_a_flag_then_a_second_one_raises():
    live = LivePlot(show=False)
    before = signal.getsignal(signal.SIGINT)
    with live.catch_interrupts():
        os.kill(os.getpid(), signal.SIGINT)
        assert live.interrupted and live.stopped
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before
    live.close()


def test_plots_mark_flags_without_a_value_and_name_them_only_when_there_are_some():
    from oddwatch.viz.plot import SeriesPanel, _figure

    x = np.arange(10.0)
    value = np.sin(x)
    value[4] = np.nan
    flags = np.isin(x, (2, 4))

    def legend_and_marks(values):
        figure = _figure([SeriesPanel("a", x, values, flags)], "t", 3.0, 6.0)
        labels = [t.get_text() for t in figure.legends[0].get_texts()]
        marks = [c.get_offsets().tolist() for c in figure.axes[0].collections]
        return labels, marks

    labels, marks = legend_and_marks(value)
    assert labels[-1] == "flagged, no value" and [[4.0, 0.0]] in marks
    labels, _ = legend_and_marks(np.sin(x))
    assert "flagged, no value" not in labels
