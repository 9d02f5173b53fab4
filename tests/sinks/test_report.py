"""HTML report and PNG plot sinks: self-contained, readable from 1 to 10,000 series, bounded."""

from __future__ import annotations

import re

import numpy as np
import pytest

from oddwatch.errors import InvalidParameterError
from oddwatch.sinks._base import OutputBatch
from oddwatch.sinks.report import HtmlReportSink, PlotSink, RunRecorder, _parse_times


def _batch(keys, start, flags=(), rng=None):
    rng = rng or np.random.default_rng(start)
    n = len(keys)
    is_anomaly = np.zeros(n, bool)
    is_anomaly[list(flags)] = True
    value = rng.normal(10, 1, n) + 8 * is_anomaly
    score = np.where(is_anomaly, 0.9 + 0.09 * rng.random(n), 0.2 * rng.random(n))
    reason = [""] * n
    for i in flags:
        reason[i] = f"{value[i]:.4g} is far above the expected 10"
    seconds = np.datetime64("2026-02-01T00:00:00", "s") + np.arange(start, start + n)
    return OutputBatch(
        seq=np.arange(start, start + n),
        value=value,
        score=score,
        threshold=np.full(n, 0.8),
        is_anomaly=is_anomaly,
        reason=reason,
        key=np.asarray(keys),
        timestamp=[f"{t}Z" for t in seconds.astype(str)],
        expected=np.full(n, 10.0),
        scale=np.full(n, 1.0),
    )


def test_one_series_report_has_summary_flags_reasons_and_an_inline_chart(tmp_path):
    path = tmp_path / "one.html"
    with HtmlReportSink(path, title="one series") as sink:
        for start in range(0, 600, 100):
            sink.write(_batch(["only"] * 100, start, flags=(50,) if start == 300 else ()))
        sink.observe({"records_read": 600.0, "invalid.not_numeric": 2.0, "elapsed_s": 1.5})
    text = path.read_text()
    assert "<h1>one series</h1>" in text
    assert text.count("<img") == 1 and "data:image/png;base64," in text
    assert "far above the expected 10" in text
    assert "invalid.not numeric" in text and "1.50 s" in text
    assert not re.search(r"""(src|href)=['"]?https?:""", text)  # nothing fetched from outside
    assert "data from</td><td class=num>2026-02-01T00:00:00Z to 2026-02-01T00:09:59Z" in text


def test_ten_thousand_series_draw_only_the_top_ones_and_list_all(tmp_path):
    keys = np.array([f"sensor-{i:05d}" for i in range(10_000)])
    path = tmp_path / "many.html"
    rng = np.random.default_rng(1)
    with HtmlReportSink(path, top_n=5, max_points=50_000) as sink:
        for r in range(8):
            flags = [7, 7 + r, 4242] if r % 2 else [7]
            sink.write(_batch(keys, r * 10_000, flags=flags, rng=rng))
    text = path.read_text()
    assert text.count("<img") == 5
    first_drawn = re.findall(r"<h3 id='[^']+'>([^<]+)</h3>", text)
    assert first_drawn[:2] == ["sensor-00007", "sensor-04242"]  # most flags first
    assert text.count("-row'>") == 10_000  # every series in the table
    assert "All series (10,000)" in text
    assert sink.recorder.kept_points <= 50_000 and sink.recorder.n_records == 80_000


def test_top_anomalies_are_sorted_by_score_over_threshold(tmp_path):
    path = tmp_path / "top.html"
    with HtmlReportSink(path, n_anomalies=3) as sink:
        sink.write(_batch(["a", "b", "c", "d"], 0, flags=(0, 1, 2, 3)))
    text = path.read_text()
    table = text.split("<h2>Top anomalies</h2>")[1].split("</table>")[0]
    ratios = [float(x) for x in re.findall(r"<td class=num>(1\.\d+)</td><td class=reason>", table)]
    assert len(ratios) == 3 and ratios == sorted(ratios, reverse=True)


def test_recorder_counts_stay_exact_while_points_are_thinned():
    recorder = RunRecorder(max_points=1000)
    for start in range(0, 10_000, 500):
        recorder.write(_batch(["a", "b"] * 250, start, flags=(0,)))
    summary = {s.key: s for s in recorder.series_summary()}
    assert summary["a"].n_points == summary["b"].n_points == 5000
    assert summary["a"].n_flags == 20 and summary["b"].n_flags == 0
    assert 500 <= recorder.kept_points <= 1000 and recorder.keep_every == 16
    panel = recorder.panels([summary["a"]])[0]
    assert np.issubdtype(panel.x.dtype, np.datetime64)
    assert np.all(np.diff(panel.x.astype("int64")) > 0)


def test_timestamps_with_offsets_parse_and_junk_falls_back_to_positions():
    parsed = _parse_times(["2026-01-01T01:00:00+01:00", "2026-01-01 00:30:00Z"], np.arange(2))
    assert parsed.astype(str).tolist() == ["2026-01-01T00:00:00.000", "2026-01-01T00:30:00.000"]
    assert _parse_times(["yesterday"], np.arange(1)).tolist() == [0]


def test_plot_sink_writes_a_png_of_the_top_series(tmp_path):
    path = tmp_path / "run.png"
    with PlotSink(path, top_n=2) as sink:
        sink.write(_batch(["a", "b", "c"] * 100, 0, flags=(3, 4)))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unwritable_target_and_bad_top_n_give_clear_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="`top_n` must be >= 0; got -1"):
        HtmlReportSink(tmp_path / "x.html", top_n=-1)
    sink = HtmlReportSink(tmp_path / "missing-dir" / "x.html")
    with pytest.raises(InvalidParameterError, match="cannot write .*missing-dir"):
        sink.close()
