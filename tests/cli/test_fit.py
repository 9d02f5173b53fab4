"""``oddwatch fit`` then ``detect --model``: the model continues exactly where history ended."""

from __future__ import annotations

import json

from oddwatch.cli.main import main
from oddwatch.detectors import SeasonalDetector
from oddwatch.persist import load

from ._data import csv_text, keyed_csv, series, write


def run(capsys, command, *argv):
    code = main([command, *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def scores(text):
    return [(r["seq"], r["score"], r["is_anomaly"]) for r in map(json.loads, text.splitlines())]


def test_fit_then_detect_equals_one_run_over_history_and_new(capsys, tmp_path):
    xs = series(900)
    history = write(tmp_path / "history.csv", csv_text(xs[:600]))
    new = write(tmp_path / "new.csv", csv_text(xs[600:], 600))
    both = write(tmp_path / "both.csv", csv_text(xs))
    model = tmp_path / "model.oddwatch"
    code, out, err = run(capsys, "fit", history, "--save", model, "--json")
    assert code == 0 and out == ""
    stats = json.loads(err)
    assert stats["valid"] == 600 and stats["kind"] == "Monitor"
    assert load(model).n_seen_ == 600
    _, continued, _ = run(capsys, "detect", new, "--model", model)
    _, whole, _ = run(capsys, "detect", both)
    tail = [(seq + 600, score, flag) for seq, score, flag in scores(continued)]
    assert tail == scores(whole)[600:]


def test_per_key_model(capsys, tmp_path):
    history = keyed_csv(tmp_path / "history.csv", n=200, seed=1)
    model = tmp_path / "hosts.oddwatch"
    code, _, err = run(capsys, "fit", history, "--key-col", "host", "--save", model)
    assert code == 0 and "learned 600 of 600 records over 3 series" in err
    new = keyed_csv(tmp_path / "new.csv", n=50, seed=2)
    code, out, _ = run(capsys, "detect", new, "--key-col", "host", "--model", model, "--quiet")
    first = json.loads(out.splitlines()[0])
    assert code == 0 and first["score"] is not None  # no warm-up: the model is trained
    single = write(tmp_path / "one.csv", csv_text(series(10, spike=None)))
    code, _, err = run(capsys, "detect", single, "--model", model)
    assert code == 2 and "the model was trained on one series per key" in err


def test_bad_model_files_and_paths(capsys, tmp_path):
    history = write(tmp_path / "history.csv", csv_text(series(100, spike=None)))
    detector = tmp_path / "detector.oddwatch"
    SeasonalDetector().save(detector)
    code, _, err = run(capsys, "detect", history, "--model", detector)
    assert code == 2 and "holds a SeasonalDetector; --model needs a model saved by" in err
    code, _, err = run(
        capsys, "detect", history, "--model", detector, "--detector", "RollingZScore"
    )
    assert code == 2 and "--model already holds a detector" in err
    code, _, err = run(capsys, "fit", history, "--save", tmp_path / "no" / "such" / "m")
    assert code == 2 and "cannot write the model" in err
    code, _, err = run(capsys, "fit", history)
    assert code == 2 and "--save" in err
