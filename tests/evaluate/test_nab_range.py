"""--nab-range: each file's min and max given to the detector, reported apart as not causal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from oddwatch import Monitor
from oddwatch.cli import main as cli_main
from oddwatch.cli.commands import evaluate
from oddwatch.detectors import DualSurpriseDetector
from oddwatch.errors import InvalidParameterError
from oddwatch.evaluate import NabCorpus, load_corpus, run_nab
from tests.cli.test_evaluate import write_corpus


def test_run_nab_hands_each_file_its_min_and_max():
    values = {"a/x.csv": np.arange(10.0), "a/y.csv": np.linspace(-3.0, 5.0, 7)}
    corpus = NabCorpus.from_arrays(values, {"a/x.csv": [], "a/y.csv": []})
    seen = []

    def factory(value_range):
        seen.append(value_range)
        return Monitor(DualSurpriseDetector(value_range=value_range))

    run_nab(corpus, factory, known_range=True)
    assert seen == [(0.0, 9.0), (-3.0, 5.0)]


def test_known_range_is_used_and_labelled(tmp_path, monkeypatch, capsys):
    root = write_corpus(tmp_path / "nab")
    monkeypatch.setattr(cli_main, "_command_modules", lambda: [evaluate])
    assert cli_main.main(["evaluate", "nab", "--data", str(root), "--nab-range", "--json"]) == 0
    ranged = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ranged["range"].startswith("known") and "NOT causal" in ranged["range"]
    corpus = load_corpus(root)
    run = run_nab(
        corpus,
        lambda value_range: Monitor(DualSurpriseDetector(value_range=value_range)),
        known_range=True,
    )
    assert ranged["standard"] == pytest.approx(run.optimised.scores["standard"])
    assert cli_main.main(["evaluate", "nab", "--data", str(root), "--json"]) == 0
    causal = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert causal["range"].startswith("causal")


def test_nab_range_needs_a_detector_that_takes_a_range(tmp_path, monkeypatch, capsys):
    root = write_corpus(tmp_path / "nab")
    monkeypatch.setattr(cli_main, "_command_modules", lambda: [evaluate])
    argv = ["evaluate", "nab", "--data", str(root), "--nab-range", "--detector", "RollingZScore"]
    assert cli_main.main(argv) == 2
    assert "does not take" in capsys.readouterr().err


def test_value_range_is_checked():
    with pytest.raises(InvalidParameterError, match="`value_range` of DualSurpriseDetector"):
        DualSurpriseDetector(value_range=(5.0, 1.0))
    assert DualSurpriseDetector(value_range=[0, 100]).value_range == [0, 100]


def test_a_known_range_holds_back_the_out_of_range_evidence():
    xs = np.random.default_rng(0).normal(50.0, 1.0, 3000)
    xs[2000] = 58.0  # beyond everything seen, inside the known 0-100
    causal = Monitor().update_many(xs).score[2000]
    known = Monitor(DualSurpriseDetector(value_range=(0.0, 100.0))).update_many(xs).score[2000]
    assert known <= causal
