"""`sensitivity`: one false-alarm-rate knob on Monitor, KeyedMonitor and the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch import KeyedMonitor, Monitor
from oddwatch.detectors import RollingZScore
from oddwatch.errors import InvalidParameterError
from oddwatch.thresholds import SPOT, CalibratedThreshold, FixedThreshold

N = 300_000
STREAMS = {
    "gaussian": lambda rng: rng.normal(0.0, 1.0, N),
    "student_t3": lambda rng: rng.standard_t(3, N),
    "student_t5": lambda rng: 10.0 + 2.0 * rng.standard_t(5, N),
}


def _flag_rate(xs: np.ndarray, sensitivity: float) -> float:
    return Monitor(sensitivity=sensitivity).update_many(xs).n_anomalies / xs.shape[0]


@pytest.mark.parametrize("name", sorted(STREAMS))
def test_flag_rate_follows_the_knob(name):
    xs = STREAMS[name](np.random.default_rng(11))
    rates = {s: _flag_rate(xs, s) for s in (1e-3, 1e-4)}
    for sensitivity, rate in rates.items():
        assert sensitivity / 5 <= rate <= 3 * sensitivity, (sensitivity, rate)
    assert rates[1e-3] > 4 * rates[1e-4]


def test_default_flag_rate_on_gaussian_noise_is_what_the_docs_say():
    # docs/algorithms.md and Monitor's docstring: about 1.5e-4 of Gaussian points, 2e-3 of t(3)
    rng = np.random.default_rng(12)
    gaussian = Monitor().update_many(rng.normal(0.0, 1.0, N)).n_anomalies / N
    heavy = Monitor().update_many(rng.standard_t(3, N)).n_anomalies / N
    assert 0.6e-4 <= gaussian <= 3e-4
    assert 1e-3 <= heavy <= 4e-3


def test_sensitivity_builds_the_threshold():
    calibrated = Monitor(sensitivity=1e-3).threshold_
    assert isinstance(calibrated, CalibratedThreshold) and calibrated.false_alarm_rate == 1e-3
    spot = Monitor(RollingZScore(), sensitivity=1e-3).threshold_
    assert isinstance(spot, SPOT) and spot.risk == 1e-3
    assert KeyedMonitor(sensitivity=1e-3).get_params()["sensitivity"] == 1e-3


def test_keyed_sensitivity_gives_what_each_series_alone_gives():
    rng = np.random.default_rng(13)
    a, b = rng.standard_t(3, 5000), rng.normal(0.0, 1.0, 5000)
    keys = np.array(["a", "b"] * 5000)
    values = np.empty(10_000)
    values[0::2], values[1::2] = a, b
    keyed = KeyedMonitor(sensitivity=1e-3).update_many(keys, values)
    for key, xs in (("a", a), ("b", b)):
        alone = Monitor(sensitivity=1e-3).update_many(xs)
        np.testing.assert_array_equal(keyed.score[keys == key], alone.score)
        np.testing.assert_array_equal(keyed.threshold[keys == key], alone.threshold)


@pytest.mark.parametrize("bad", [0.0, 0.5, -1e-4, "1e-4", True])
def test_bad_sensitivity_is_refused(bad):
    with pytest.raises(InvalidParameterError, match="`sensitivity` of Monitor must be"):
        Monitor(sensitivity=bad)


def test_sensitivity_and_threshold_are_exclusive():
    with pytest.raises(InvalidParameterError, match="a `threshold` or a `sensitivity`"):
        Monitor(threshold=FixedThreshold(0.9), sensitivity=1e-4)
    with pytest.raises(InvalidParameterError, match="a `threshold` or a `sensitivity`"):
        KeyedMonitor(threshold=FixedThreshold(0.9), sensitivity=1e-4)


def _write_stream(path, n=2000):
    xs = np.random.default_rng(14).normal(50.0, 1.0, n).tolist()
    lines = ["timestamp,value"] + [f"{i},{x!r}" for i, x in enumerate(xs)]
    path.write_text("\n".join(lines) + "\n")


def test_cli_sensitivity_sets_the_level(tmp_path, capsys):
    from oddwatch.cli.main import main

    _write_stream(tmp_path / "s.csv")
    assert main(["detect", str(tmp_path / "s.csv"), "--sensitivity", "1e-3", "--quiet"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert '"threshold":0.75,' in rows[100]  # S = -log10(1e-3) = 3 before the tail is fitted


def test_cli_sensitivity_with_a_threshold_is_a_usage_error(tmp_path, capsys):
    from oddwatch.cli.main import main

    _write_stream(tmp_path / "s.csv")
    args = ["detect", str(tmp_path / "s.csv"), "--sensitivity", "1e-3"]
    assert main([*args, "--threshold", "FixedThreshold"]) == 2
    assert "not both" in capsys.readouterr().err
