"""``oddwatch demo`` in process: summary, JSON, config precedence, figure, errors, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

from oddwatch.cli.main import main
from oddwatch.monitor import Monitor

KEYS = {"points", "flagged", "precision", "recall", "f1", "points_per_second"}


def _json_summary(capsys):
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1]), out


def test_json_summary_is_all_of_stdout_and_the_demo_catches_the_injected_anomalies(capsys):
    assert main(["demo", "--points", "5000", "--seed", "7", "--no-plot", "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)  # only the JSON on stdout, so `| jq` works
    assert KEYS <= set(summary)
    assert summary["points"] == 5000
    assert summary["f1"] >= 0.8
    assert summary["flagged"] == sum(1 for line in err.splitlines() if line.startswith("#"))
    assert 0 < summary["precision"] <= 1 and 0 < summary["recall"] <= 1


def test_flagged_points_are_printed_with_reason_and_truth(capsys):
    assert main(["demo", "--points", "2000", "--seed", "7", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "sd below the expected" in out or "sd above the expected" in out
    assert "(true: " in out
    assert "precision" in out and "F1" in out


def test_config_file_keys_and_flags_override_them(tmp_path, capsys):
    config = tmp_path / "demo.toml"
    config.write_text("points = 700\nseed = 3\nquiet = true\n[simulation]\nnoise_scale = 2.0\n")
    assert main(["demo", "--config", str(config), "--no-plot", "--json"]) == 0
    summary, lines = _json_summary(capsys)
    assert summary["points"] == 700 and len(lines) == 1  # quiet: only the summary
    assert main(["demo", "--config", str(config), "--points", "300", "--no-plot", "--json"]) == 0
    assert _json_summary(capsys)[0]["points"] == 300


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--points", "-1"], None, "--points must be >= 0"),
        (["--delay", "-0.5"], None, "--delay must be a number >= 0"),
        (
            ["--outlier-prob", "2"],
            None,
            "`outlier_prob` of SimulationConfig must be a number in [0, 1]",
        ),
        (["--points", "ten"], None, "argument --points: invalid int value"),
        ([], "pointz = 5\n", "unknown key(s) pointz"),
        ([], "points = 'many'\n", "`points` must be a int"),
        ([], "points = [\n", "is not valid TOML"),
    ],
)
def test_bad_settings_give_one_line_and_exit_2(tmp_path, capsys, args, config, message):
    if config is not None:
        path = tmp_path / "bad.toml"
        path.write_text(config)
        args = [*args, "--config", str(path)]
    assert main(["demo", "--no-plot", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_plot_file_is_written(tmp_path, capsys):
    target = tmp_path / "out.png"
    assert main(["demo", "--points", "600", "--no-plot", "--quiet", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unwritable_plot_path_is_a_usage_error(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "out.png"
    assert main(["demo", "--points", "300", "--no-plot", "--quiet", "--plot", str(target)]) == 2
    assert "cannot write the figure" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_ends_cleanly_after_the_chunk_in_progress(monkeypatch, capsys, signum):
    calls = {"n": 0}
    original = Monitor.update_many

    def signal_during_the_third_chunk(self, xs):
        calls["n"] += 1
        if calls["n"] == 4:  # the first call warms the kernels up
            os.kill(os.getpid(), signum)  # a real signal, arriving mid-chunk
        return original(self, xs)

    monkeypatch.setattr(Monitor, "update_many", signal_during_the_third_chunk)
    assert main(["demo", "--points", "0", "--no-plot", "--json", "--quiet"]) == 130
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["points"] == 3 * 4096  # the chunk in progress was finished, then it stopped
    assert "interrupted: summary of the points seen so far" in captured.err


def test_help_has_examples(capsys):
    assert main(["demo", "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "oddwatch demo --points 5000 --seed 7 --no-plot --json" in out


def test_endless_demo_segments_keep_time_moving_forward():
    """`--points 0` chains segments; each must start after the previous one ends (a restarted
    clock made every later point out of order: 1,061,858 of 1,161,440 points flagged)."""
    from itertools import islice

    from oddwatch.cli.commands.demo import _segments

    first, second = islice(
        _segments({"points": 0, "seed": 1, "outlier_prob": 0.01, "delay": 0.0}, {}), 2
    )
    times = np.concatenate([first.timestamps, second.timestamps])
    assert np.all(np.diff(times) > np.timedelta64(0, "s"))
    assert second.timestamps[0] - first.timestamps[-1] == np.timedelta64(60, "s")
