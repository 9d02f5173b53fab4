"""Today's outputs, pinned: every detector's scores, the default Monitor's flags, demo F1, NAB.

The expected values live in ``tests/regression_pins.json``. Scores are compared bit for bit
(SHA-256 of the float64 bytes, plus a few samples so a failure shows how far off it is).
A change that is meant to move a number rewrites the file deliberately with
``python tests/test_regression_pins.py --write [--nab]`` and says why in its commit message.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import oddwatch.detectors
import oddwatch.thresholds
from oddwatch import Monitor
from oddwatch.sources import simulate

PINS = Path(__file__).with_name("regression_pins.json")
N_POINTS = 6000
SEED = 11
SAMPLES = (100, 1000, 2500, 4000, 5900)
DEMO_SEEDS = range(1, 11)
NAB_PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def _stream() -> np.ndarray:
    values = np.asarray(simulate(n_points=N_POINTS, seed=SEED).values, dtype=np.float64)
    return values.copy()


def _fingerprint(array: np.ndarray) -> dict[str, Any]:
    array = np.ascontiguousarray(array, dtype=np.float64)
    return {
        "sha256": hashlib.sha256(array.tobytes()).hexdigest(),
        "samples": [None if np.isnan(array[i]) else float(array[i]) for i in SAMPLES],
        "n_nan": int(np.isnan(array).sum()),
    }


def _detector_names() -> list[str]:
    return sorted(n for n in oddwatch.detectors.__all__ if n != "Detector")


def _threshold_names() -> list[str]:
    return sorted(n for n in oddwatch.thresholds.__all__ if n != "Threshold")


def detector_scores(name: str) -> np.ndarray:
    xs = _stream()
    xs = xs[np.isfinite(xs)]
    return np.asarray(getattr(oddwatch.detectors, name)().update_many(xs))


def threshold_outputs(name: str) -> np.ndarray:
    scores = detector_scores("SeasonalDetector")
    return np.asarray(getattr(oddwatch.thresholds, name)().update_many(scores))


def monitor_result() -> dict[str, Any]:
    result = Monitor(on_invalid="skip").update_many(_stream())
    return {
        "flags": np.flatnonzero(result.is_anomaly).tolist(),
        "score": _fingerprint(result.score)["sha256"],
        "threshold": _fingerprint(result.threshold)["sha256"],
    }


def demo_summary(seed: int) -> dict[str, Any]:
    from oddwatch.cli.main import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["demo", "--points", "5000", "--seed", str(seed), "--no-plot", "--json"])
    assert code == 0
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    keys = ("flagged", "detected_events", "precision", "recall", "f1")
    return {k: summary[k] for k in keys}


def nab_scores() -> dict[str, float]:
    from oddwatch.cli.main import main

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["evaluate", "nab", "--json"])
    assert code == 0
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    return _nab_numbers(report)


def _nab_numbers(report: dict[str, Any]) -> dict[str, float]:
    """The six headline numbers (optimised threshold, the Monitor's own flags), exactly."""
    numbers: dict[str, float] = {}
    for profile in NAB_PROFILES:
        numbers[f"optimised.{profile}"] = float(report[profile])
        numbers[f"own_flags.{profile}"] = float(report["flags"][profile])
    return numbers


def _nab_dir() -> Path | None:
    from oddwatch.evaluate.nab import default_nab_dir

    return default_nab_dir()


@pytest.fixture(scope="module")
def pins() -> dict[str, Any]:
    with open(PINS) as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.mark.parametrize("name", _detector_names())
def test_detector_scores_are_pinned(pins, name) -> None:
    assert _fingerprint(detector_scores(name)) == pins["detectors"][name]


@pytest.mark.parametrize("name", _threshold_names())
def test_threshold_outputs_are_pinned(pins, name) -> None:
    assert _fingerprint(threshold_outputs(name)) == pins["thresholds"][name]


def test_default_monitor_flags_are_pinned(pins) -> None:
    assert monitor_result() == pins["monitor"]


def test_demo_f1_is_pinned(pins) -> None:
    got = {str(seed): demo_summary(seed) for seed in DEMO_SEEDS}
    assert got == pins["demo"]


def test_nab_scores_are_pinned(pins) -> None:
    if _nab_dir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the NAB corpus must be present in CI (../shared/data/nab)")
        pytest.skip("NAB corpus not found: set ODDWATCH_NAB_DIR or put it at ../shared/data/nab")
    assert nab_scores() == pins["nab"]


def _write(with_nab: bool) -> None:
    old: dict[str, Any] = json.loads(PINS.read_text()) if PINS.exists() else {}
    data = {
        "stream": {"n_points": N_POINTS, "seed": SEED, "samples": list(SAMPLES)},
        "detectors": {n: _fingerprint(detector_scores(n)) for n in _detector_names()},
        "thresholds": {n: _fingerprint(threshold_outputs(n)) for n in _threshold_names()},
        "monitor": monitor_result(),
        "demo": {str(seed): demo_summary(seed) for seed in DEMO_SEEDS},
        "nab": nab_scores() if with_nab else old.get("nab"),
    }
    PINS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    if "--write" not in sys.argv:
        raise SystemExit("usage: python tests/test_regression_pins.py --write [--nab]")
    _write("--nab" in sys.argv)
