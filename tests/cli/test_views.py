"""detect --dashboard/--report/--plot/--metrics-port and ``oddwatch dashboard``, end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from cli._data import csv_text, keyed_csv, series
from oddwatch.cli.main import main

MAIN = "import sys; from oddwatch.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def stream(tmp_path):
    path = tmp_path / "stream.csv"
    path.write_text(csv_text(series(1200, spike=900)))
    return path


def _oddwatch(*args):
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _line_with(stream, text, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            break
        if text in line:
            return line
    pytest.fail(f"no line with {text!r}")


def _get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _stop(proc, signum=signal.SIGINT):
    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_report_and_plot_are_written_and_see_every_record_under_only_anomalies(
    stream, tmp_path, capsys
):
    out, report, plot = tmp_path / "flags.jsonl", tmp_path / "run.html", tmp_path / "run.png"
    code = main(
        ["detect", str(stream), "--out", str(out), "--only-anomalies", "--json"]
        + ["--report", str(report), "--plot", str(plot)]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    written = out.read_text().splitlines()
    assert summary["written"] == len(written) == summary["anomalies"] >= 1
    assert all(json.loads(line)["is_anomaly"] for line in written)
    text = report.read_text()
    assert "<td>records</td><td class=num>1,200</td>" in text  # every record, not only flags
    assert text.count("<img") == 1 and "sd above the expected" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dashboard_holds_the_page_after_the_run_until_ctrl_c(tmp_path):
    path = keyed_csv(tmp_path / "hosts.csv", n=400)
    proc = _oddwatch(
        "detect", str(path), "--key-col", "host", "--value-col", "cpu", "--out",
        str(tmp_path / "out.jsonl"), "--dashboard", "--port", "0",
    )  # fmt: skip
    try:
        url = _line_with(proc.stderr, "dashboard: ").split("dashboard: ")[1].strip()
        assert url.startswith("http://127.0.0.1:")
        summary = _line_with(proc.stderr, "records read")
        _line_with(proc.stderr, "stays at")
        overview = _get_json(url + "api/overview")
        assert overview["n_keys"] == 3 and overview["counters"]["records_read"] == 1200
        series_c = _get_json(url + "api/series?key=c")
        assert len(series_c["value"]) == 400
        assert any(v is not None for v in series_c["low"])  # the expected band is there
        assert any(series_c["flag"]) and overview["alerts"]
        assert proc.poll() is None
    finally:
        out, err = _stop(proc)
    assert proc.returncode == 130
    assert summary.startswith("1200 records read") and "Traceback" not in err


def test_dashboard_with_no_hold_exits_when_the_run_ends(stream, capsys):
    assert main(["detect", str(stream), "--dashboard", "--port", "0", "--no-hold"]) == 0
    err = capsys.readouterr().err
    assert "dashboard: http://127.0.0.1:" in err and "1200 records read" in err


def test_metrics_are_scraped_while_a_followed_file_is_read(stream, tmp_path):
    proc = _oddwatch(
        "detect", str(stream), "--follow", "--idle-timeout", "4", "--out",
        str(tmp_path / "out.jsonl"), "--metrics-port", "0",
    )  # fmt: skip
    try:
        url = _line_with(proc.stderr, "metrics: ").split("metrics: ")[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
        deadline = time.monotonic() + 60
        text = ""
        while time.monotonic() < deadline and "oddwatch_records_read_total 1200" not in text:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
            time.sleep(0.1)
        assert "oddwatch_records_read_total 1200" in text
        assert "oddwatch_batch_duration_seconds_count" in text
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in err


def test_dashboard_command_follows_a_results_file(tmp_path):
    results = tmp_path / "flags.jsonl"
    assert main(["detect", str(keyed_csv(tmp_path / "h.csv", n=300)), "--key-col", "host",
                 "--value-col", "cpu", "--out", str(results)]) == 0  # fmt: skip
    proc = _oddwatch("dashboard", str(results), "--port", "0")
    try:
        url = _line_with(proc.stderr, "dashboard: ").split("dashboard: ")[1].strip()
        deadline = time.monotonic() + 30
        overview = {}
        while time.monotonic() < deadline:
            overview = _get_json(url + "api/overview")
            # the counters and the keys are folded in by a worker thread: wait for both
            done = overview.get("counters", {}).get("records_read") == 900
            if done and overview.get("n_keys") == 3:
                break
            time.sleep(0.1)
        assert overview["counters"]["records_read"] == 900 and overview["n_keys"] == 3
    finally:
        out, err = _stop(proc)
    assert proc.returncode == 130 and "Traceback" not in err


def test_dashboard_command_needs_an_existing_file(tmp_path, capsys):
    assert main(["dashboard", str(tmp_path / "missing.jsonl")]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_help_shows_the_new_flags(capsys):
    assert main(["detect", "--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--dashboard", "--report", "--plot", "--metrics-port", "--no-hold", "--host"):
        assert flag in out
