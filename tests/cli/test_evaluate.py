"""Tests of ``oddwatch evaluate nab``, in process, on small synthetic NAB corpora."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from oddwatch import Monitor
from oddwatch.cli import main as cli_main
from oddwatch.cli._nab_report import Progress
from oddwatch.cli.commands import evaluate
from oddwatch.detectors import RollingZScore
from oddwatch.evaluate import load_corpus, load_results_dir, run_nab, score_corpus

T0 = np.datetime64("2021-03-01T00:00:00", "s")
STEP = np.timedelta64(5, "m")


def stamp(row: int) -> str:
    return str(T0 + row * STEP).replace("T", " ")


def write_corpus(root: Path, n: int = 500) -> Path:
    """Two seasonal files with a spike inside one window each, in NAB's layout."""
    labels = {}
    for i, (key, spike) in enumerate([("alpha/a.csv", 300), ("beta/b.csv", 420)]):
        rng = np.random.default_rng(i)
        xs = 20 + 5 * np.sin(np.arange(n) * 2 * np.pi / 48) + rng.normal(0, 0.5, n)
        xs[spike] += 20
        path = root / "data" / key
        path.parent.mkdir(parents=True)
        path.write_text(
            "timestamp,value\n" + "".join(f"{stamp(r)},{x}\n" for r, x in enumerate(xs))
        )
        labels[key] = [[stamp(spike - 10) + ".000000", stamp(spike + 9) + ".000000"]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))
    return root


@pytest.fixture
def nab_dir(tmp_path: Path) -> Path:
    return write_corpus(tmp_path / "nab")


@pytest.fixture
def cli(monkeypatch):
    """``main`` with only the evaluate command, so other commands' state cannot interfere."""
    monkeypatch.setattr(cli_main, "_command_modules", lambda: [evaluate])
    return cli_main.main


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_json_last_line_has_the_three_profiles_and_matches_the_library(cli, nab_dir, capsys):
    assert cli(["evaluate", "nab", "--data", str(nab_dir), "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    assert {"standard", "reward_low_FP_rate", "reward_low_FN_rate", "flags", "seconds"} <= set(
        result
    )
    run = run_nab(load_corpus(nab_dir), Monitor)
    for profile, score in run.optimised.scores.items():
        assert result[profile] == pytest.approx(score)
        assert result["flags"][profile] == pytest.approx(run.own_flags.scores[profile])
    assert result["detector"] == "Monitor" and result["files"] == 2 and result["windows"] == 2
    assert result["events"]["n_events"] == 2
    assert result["scoreboard"]["standard"]["of"] == 15


def test_a_detector_is_scored_with_its_own_flags_from_its_default_threshold(cli, nab_dir, capsys):
    argv = ["evaluate", "nab", "--data", str(nab_dir), "--detector", "rollingzscore"]
    assert cli([*argv, "--param", "window_size=30", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    assert result["detector"] == "RollingZScore" and result["params"] == {"window_size": 30}
    assert result["squashed"] is True
    corpus = load_corpus(nab_dir)
    run = run_nab(corpus, lambda: Monitor(RollingZScore(window_size=30)))
    for profile, score in run.own_flags.scores.items():
        assert result["flags"][profile] == pytest.approx(score)
    # flags after each file's probationary period, at RollingZScore's default threshold of 4
    flagged = sum(int(run.flags[k][f.probationary :].sum()) for k, f in corpus.files.items())
    assert result["events"]["n_flags"] == flagged > 0


def test_monitor_params_reach_its_detector_and_threshold(cli, nab_dir, capsys):
    argv = ["evaluate", "nab", "--data", str(nab_dir), "--json", "--param", "smoothing=4"]
    assert cli(argv) == 0
    default = last_json(capsys.readouterr().out)
    assert cli([*argv, "--param", "threshold.value=0.5"]) == 0
    looser = last_json(capsys.readouterr().out)
    assert looser["params"] == {"smoothing": 4, "threshold.value": 0.5}
    assert looser["events"]["n_flags"] > default["events"]["n_flags"]


def test_table_shows_scores_ranks_and_neighbours(cli, nab_dir, capsys):
    assert cli(["evaluate", "nab", "--data", str(nab_dir)]) == 0
    out = capsys.readouterr().out
    for text in ("standard", "reward_low_FP_rate", "own flags", "rank", "windows caught"):
        assert text in out
    assert "on the published scoreboard" in out and "time:" in out


def test_results_layout_reads_back_and_scores_identically(cli, nab_dir, tmp_path, capsys):
    out_dir = tmp_path / "results"
    argv = ["evaluate", "nab", "--data", str(nab_dir), "--out", str(out_dir), "--json"]
    assert cli(argv) == 0
    result = last_json(capsys.readouterr().out)
    path = out_dir / "Monitor" / "alpha" / "Monitor_a.csv"
    assert path.read_text().splitlines()[0] == "timestamp,value,anomaly_score,label"
    corpus = load_corpus(nab_dir)
    scores = load_results_dir(out_dir, "Monitor", corpus)
    assert score_corpus(corpus, scores).scores["standard"] == pytest.approx(result["standard"])


def test_default_data_dir_comes_from_the_environment(cli, nab_dir, monkeypatch, capsys):
    monkeypatch.setenv("ODDWATCH_NAB_DIR", str(nab_dir))
    assert cli(["evaluate", "nab", "--json"]) == 0
    assert last_json(capsys.readouterr().out)["data"] == str(nab_dir)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--detector", "Nope"], "unknown detector 'Nope'; choose one of: "),
        (
            ["--param", "bogus=1"],
            "unknown parameter 'bogus' for the Monitor's DualSurpriseDetector",
        ),
        (["--param", "threshold.bogus=1"], "valid: threshold.value."),
        (["--detector", "RollingZScore", "--param", "window_size=1"], "must be an int >= 2"),
        (["--param", "smoothing"], "--param must be KEY=VALUE"),
    ],
)
def test_bad_detector_or_param_is_a_one_line_usage_error(cli, nab_dir, capsys, argv, message):
    assert cli(["evaluate", "nab", "--data", str(nab_dir), *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ") and message in captured.err
    assert captured.err.count("\n") == 1
    if "unknown detector" in message:
        assert "Monitor" in captured.err and "RollingZScore" in captured.err


def test_missing_corpus_is_a_usage_error(cli, tmp_path, capsys):
    assert cli(["evaluate", "nab", "--data", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--data DIR" in err


def test_malformed_corpus_is_a_usage_error(cli, nab_dir, capsys):
    (nab_dir / "data" / "beta" / "b.csv").write_text("timestamp,value\n2021-03-01 00:00:00,x\n")
    assert cli(["evaluate", "nab", "--data", str(nab_dir)]) == 2
    assert "b.csv line 2: 'x' is not a valid float64" in capsys.readouterr().err


def test_missing_benchmark_is_a_usage_error(cli, capsys):
    assert cli(["evaluate"]) == 2
    assert "BENCHMARK" in capsys.readouterr().err


def test_progress_is_silent_off_a_terminal_and_one_line_per_file_when_verbose(cli, nab_dir, capsys):
    assert cli(["evaluate", "nab", "--data", str(nab_dir), "--json"]) == 0
    assert capsys.readouterr().err == ""
    assert cli(["evaluate", "nab", "--data", str(nab_dir), "--json", "--verbose"]) == 0
    assert capsys.readouterr().err.splitlines() == ["1/2 alpha/a.csv", "2/2 beta/b.csv"]


def test_progress_bar_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress(stream, verbose=False)
    progress(1, 4, "x/a.csv")
    progress(4, 4, "x/b.csv")
    progress.close()
    text = stream.getvalue()
    assert "\r[#####...............] 1/4 x/a.csv" in text
    assert "\r[####################] 4/4 x/b.csv" in text
    assert text.endswith("\r")


def test_parse_params_reads_json_literals_else_text() -> None:
    assert evaluate.parse_params(["a=1", "b=2.5", "c=false", "d=null", "e=abc", "f=[1, 2]"]) == {
        "a": 1,
        "b": 2.5,
        "c": False,
        "d": None,
        "e": "abc",
        "f": (1, 2),
    }


def test_detector_names_are_registered_detectors_plus_monitor() -> None:
    names = evaluate.detector_names()
    assert "Monitor" in names and "SeasonalDetector" in names
    assert "FixedThreshold" not in names and "KeyedMonitor" not in names


def test_through_the_real_entry_point(nab_dir, capsys):
    pytest.importorskip("oddwatch.cli.commands.detect")
    pytest.importorskip("oddwatch.cli.commands.fit")
    assert cli_main.main(["evaluate", "nab", "--data", str(nab_dir), "--json"]) == 0
    assert "standard" in last_json(capsys.readouterr().out)


def test_nab_json_and_table_carry_auc_pr_and_vus_pr(cli, nab_dir, capsys):
    assert cli(["evaluate", "nab", "--data", str(nab_dir), "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    ranking = run_nab(load_corpus(nab_dir), Monitor).ranking
    assert result["auc_pr"] == pytest.approx(ranking["auc_pr"])
    assert result["vus_pr"] == pytest.approx(ranking["vus_pr"])
    assert 0.0 < result["vus_pr"] <= 1.0
    assert cli(["evaluate", "nab", "--data", str(nab_dir)]) == 0
    assert "AUC-PR" in capsys.readouterr().out


@pytest.fixture
def ucr_dir(tmp_path: Path) -> Path:
    """Two sine series of 3,000 points with a spike each, in the UCR dev split's layout."""
    root = tmp_path / "ucr"
    (root / "npz").mkdir(parents=True)
    rows = ["number,length,train_end,anomaly_start,anomaly_end"]
    for number, spike in [(3, 2200), (12, 2600)]:
        rng = np.random.default_rng(number)
        xs = np.sin(np.arange(3000) * 2 * np.pi / 40) + rng.normal(0, 0.05, 3000)
        xs[spike] += 4.0
        np.savez(root / "npz" / f"{number:03d}_1000_{spike}_{spike + 5}.npz", values=xs)
        rows.append(f"{number},3000,1000,{spike},{spike + 5}")
    (root / "index.csv").write_text("\n".join(rows) + "\n")
    return root


def test_ucr_json_matches_the_library(cli, ucr_dir, capsys):
    from oddwatch.evaluate.ucr import load_ucr, run_ucr

    argv = ["evaluate", "ucr", "--data", str(ucr_dir), "--detector", "RollingZScore"]
    assert cli([*argv, "--param", "window_size=200", "--json"]) == 0
    result = last_json(capsys.readouterr().out)
    run = run_ucr(load_ucr(ucr_dir), lambda: Monitor(RollingZScore(window_size=200)))
    assert result["top1"] == run.accuracy == 1.0
    assert result["solved"] == [3, 12]
    assert result["flags"]["hit_rate"] == pytest.approx(run.hit_rate)
    assert result["flags"]["false_runs_after_per_100k"] == pytest.approx(
        run.false_runs_after_per_100k
    )
    assert result["vus_pr"] == pytest.approx(run.vus_pr)
    assert (result["series"], result["points"]) == (2, 6000)


def test_ucr_table_series_choice_and_progress(cli, ucr_dir, capsys):
    assert cli(["evaluate", "ucr", "--data", str(ucr_dir), "--series", "12", "--verbose"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["1/1 012"]
    for text in ("top-1 accuracy", "own flags", "VUS-PR", "1 series"):
        assert text in captured.out


def test_ucr_default_dir_from_environment_and_errors(cli, ucr_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ODDWATCH_UCR_DIR", str(ucr_dir))
    assert cli(["evaluate", "ucr", "--json"]) == 0
    assert last_json(capsys.readouterr().out)["data"] == str(ucr_dir)
    assert cli(["evaluate", "ucr", "--data", str(tmp_path / "absent")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "index.csv does not exist" in err
    assert cli(["evaluate", "ucr", "--series", "5"]) == 2
    assert "series [5] are not in" in capsys.readouterr().err
