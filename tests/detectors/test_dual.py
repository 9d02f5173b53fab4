"""DualSurpriseDetector: the point surprise, plus the calibrated surprises, nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch import Monitor
from oddwatch.alarms import QuietPeriod
from oddwatch.detectors import DualSurpriseDetector, SeasonalDetector
from oddwatch.errors import InvalidParameterError


def _stream(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    xs = 10 + np.sin(2 * np.pi * np.arange(n) / 40) + rng.laplace(0.0, 0.3, n)
    xs[4000:4200] += 0.8  # a lasting excursion
    xs[5000] += 6.0  # a spike
    return xs


def _bits(scores):
    return scores / (1.0 - scores)


def test_warmup_then_scores_in_the_unit_interval():
    scores = DualSurpriseDetector(warmup=64).update_many(_stream())
    assert np.isnan(scores[:64]).all()
    assert ((scores[64:] >= 0.0) & (scores[64:] < 1.0)).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_point_surprise_is_seasonal_detectors_and_the_rest_is_the_sustained_one(seed):
    xs = _stream(seed=seed)
    detector = DualSurpriseDetector(season_length=40, shape_seasons=0)
    dual = detector.update_many(xs)
    point = SeasonalDetector(season_length=40).update_many(xs)
    warm = ~np.isnan(point)
    assert (dual[warm] >= point[warm]).all()  # the stronger surprise
    assert (dual[warm] == point[warm]).mean() > 0.9  # mostly the point score, bit for bit
    # where another surprise wins, it is the sustained one: the lasting excursion
    above = warm & (dual > point)
    assert above[4000:4200].any()
    winners = set()
    replay = DualSurpriseDetector(season_length=40, shape_seasons=0)
    for i, x in enumerate(xs):
        replay.update(float(x))
        if above[i]:
            winners.add(replay.channel_)
    assert winners <= {"sustained", "beyond range", "stuck"} and "sustained" in winners


def test_an_alarm_mutes_no_stronger_surprises_for_the_quiet_period():
    xs = _stream(seed=5)
    monitor = Monitor(DualSurpriseDetector(season_length=40), alarm=QuietPeriod(quiet_period=30))
    result = monitor.update_many(xs[:5001])  # ends on the spike at 5000
    assert result.is_anomaly[5000]
    left = monitor.alarm_.get_state()["counters"][1]
    peak = monitor.alarm_.get_state()["peak"][0]
    assert left >= 30 and peak == pytest.approx(_bits(result.score[5000]))
    # the same spike again 10 points later is no stronger: muted, reported at most 0.5
    later = monitor.update_many(np.r_[xs[5001:5010], xs[5000]])
    assert not later.is_anomaly[-1] and later.score[-1] <= 0.5


def test_spike_and_excursion_are_both_flagged_on_this_stream():
    scores = DualSurpriseDetector(season_length=40).update_many(_stream())
    assert scores[5000] > 0.8
    assert np.nanmax(scores[4000:4200]) > 0.8


def test_explain_many_gives_the_forecast_of_the_point_detector():
    xs = _stream(seed=4)[:2000]
    scores, expected, scale = DualSurpriseDetector(season_length=40).explain_many(xs)
    _, want_expected, want_scale = SeasonalDetector(season_length=40).explain_many(xs)
    np.testing.assert_array_equal(expected, want_expected)
    np.testing.assert_array_equal(scale, want_scale)
    np.testing.assert_array_equal(scores, DualSurpriseDetector(season_length=40).update_many(xs))


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"record_factor": 0.5}, "record_factor"),
        ({"shape_seasons": -1}, "shape_seasons"),
        ({"tail_fraction": 0.0}, "tail_fraction"),
        ({"calibrated_warmup": 1}, "calibrated_warmup"),
        ({"season_length": 1}, "season_length"),
    ],
)
def test_bad_parameters_are_rejected(params, name):
    with pytest.raises(InvalidParameterError, match=name):
        DualSurpriseDetector(**params)


def _out_of_range_scores(base: np.ndarray, at: int) -> dict[float, float]:
    """The default Monitor's score of a value at 1.2x and 2x the range seen before ``at``."""

    lo, hi = float(base[:at].min()), float(base[:at].max())
    scores = {}
    for factor in (1.2, 2.0):
        xs = base.copy()
        xs[at] = lo + factor * (hi - lo)
        scores[factor] = float(Monitor().update_many(xs).score[at])
    return scores


@pytest.mark.parametrize("noise", ["clean_sine", "gaussian", "student_t3"])
def test_out_of_range_scores_keep_growing_with_the_distance(noise):
    rng = np.random.default_rng(21)
    n, at = 20_000, 15_000
    t = np.arange(n)
    base = {
        "clean_sine": np.sin(2 * np.pi * t / 100) + rng.normal(0, 1e-3, n),
        "gaussian": rng.normal(0, 1, n),
        "student_t3": rng.standard_t(3, n),
    }[noise]
    scores = _out_of_range_scores(base, at)
    noise_max = float(np.nanmax(Monitor().update_many(base).score[1000:]))
    assert scores[2.0] > scores[1.2] > noise_max, (scores, noise_max)


def _sparse_counts(days: int, rng: np.random.Generator) -> np.ndarray:
    """A tweet-like count: Poisson by day, 0 for 30-40 points every night (period 288)."""
    xs = rng.poisson(3.0, days * 288).astype(float)
    for day in range(days):
        night = rng.integers(30, 41)
        xs[day * 288 : day * 288 + night] = 0.0
    return xs


def test_a_series_that_is_often_zero_is_not_stuck_at_zero():
    xs = _sparse_counts(20, np.random.default_rng(31))
    result = Monitor().update_many(xs)
    stuck = [i for i in np.flatnonzero(result.is_anomaly) if "stuck" in result.reason(i)]
    assert stuck == [] or max(stuck) < 2 * 288  # at most while the first nights are new


def test_a_run_longer_than_any_before_is_still_stuck():
    xs = _sparse_counts(20, np.random.default_rng(32))
    xs[4000:4200] = 7.0  # frozen at a value for longer than any night
    result = Monitor().update_many(xs)
    flagged = np.flatnonzero(result.is_anomaly[4000:4200])
    assert flagged.size >= 1 and "stuck" in result.reason(4000 + int(flagged[0]))
