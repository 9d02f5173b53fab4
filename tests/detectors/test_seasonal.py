"""SeasonalDetector: the heavy-tail correction, and the quiet period it lengthens in the
Monitor's alarm stage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oddwatch import FixedThreshold, Monitor
from oddwatch.detectors import SeasonalDetector
from oddwatch.detectors.seasonal import gaussian_abs_quantile
from oddwatch.errors import InvalidParameterError


def _alarms(xs, **params):
    scores = SeasonalDetector(season_length=0, **params).update_many(xs)
    return np.count_nonzero(scores > 0.8)


def test_gaussian_abs_quantile_matches_the_normal_table():
    assert gaussian_abs_quantile(0.95) == pytest.approx(1.95996, abs=1e-4)
    assert gaussian_abs_quantile(0.99) == pytest.approx(2.57583, abs=1e-4)
    assert gaussian_abs_quantile(0.0) == 0.0


def test_gaussian_noise_keeps_its_scale_and_its_spikes():
    xs = np.random.default_rng(0).normal(0.0, 1.0, 20000)
    spikes = np.arange(5000, 20000, 1000)
    xs[spikes] += 8.0
    det = SeasonalDetector(season_length=0)
    scores = det.update_many(xs)
    # the running 0.99 quantile of |z| stays near the Gaussian 2.576: no widening
    assert det.get_state()["scalars.tail_quantile"][0] == pytest.approx(2.576, rel=0.15)
    assert (scores[spikes] > 0.8).all()


def test_heavy_tailed_noise_alarms_far_less_with_the_correction():
    xs = np.random.default_rng(1).standard_t(2, 20000)
    corrected = _alarms(xs)
    plain = _alarms(xs, tail_quantile=0.0)
    assert plain >= 50
    assert corrected <= plain / 3


def test_a_huge_excursion_still_alarms_on_a_heavy_tailed_stream():
    xs = np.random.default_rng(2).standard_t(3, 20000)
    xs[15000] += 200.0
    scores = SeasonalDetector(season_length=0).update_many(xs)
    assert scores[15000] > 0.8


def test_the_quiet_period_grows_with_the_tail_width():
    # same heavy-tailed stream, same alarm: the corrected detector stays quiet for longer
    rng = np.random.default_rng(4)
    xs = rng.standard_t(2, 12000)
    xs[10000] += 500.0
    for params in ({}, {"tail_quantile": 0.0}):
        monitor = Monitor(SeasonalDetector(season_length=0, **params))
        assert monitor.update_many(xs[:10001]).is_anomaly[10000]
        quiet = int(monitor.alarm_.get_state()["counters"][1])
        if params:
            assert quiet == 50
        else:
            assert quiet > 50


def test_tail_quantile_zero_is_the_plain_gaussian_score():
    xs = np.random.default_rng(5).standard_t(2, 3000)
    det = SeasonalDetector(season_length=0, tail_quantile=0.0)
    scores, expected, scale = det.explain_many(xs)
    assert det.get_state()["scalars.tail_quantile"][0] == 0.0  # never learned
    rows = zip(xs[64:], expected[64:], scale[64:], strict=True)
    tail = [math.erfc(abs(x - e) / s / math.sqrt(2.0)) for x, e, s in rows]
    bits = -np.log10(np.maximum(tail, 1e-300))
    np.testing.assert_allclose(scores[64:], bits / (1.0 + bits), rtol=1e-9)


@pytest.mark.parametrize("value", [-0.1, 1.0, 2.0, float("nan")])
def test_bad_tail_quantile_is_rejected(value):
    with pytest.raises(InvalidParameterError, match="tail_quantile"):
        SeasonalDetector(tail_quantile=value)


def test_on_gaussian_noise_a_quiet_period_yields_only_to_a_much_stronger_surprise():
    xs = np.random.default_rng(6).normal(0.0, 1.0, 3000)
    xs[2000] += 8.0  # alarm: starts a quiet period of 50 points (width 1)
    xs[2010] += 8.0  # as strong: muted, reported at 0.5
    xs[2020] += 30.0  # far more than 1.5 times the surprise: gets through
    raw = SeasonalDetector(season_length=0).update_many(xs)
    assert (raw[[2000, 2010, 2020]] > 0.8).all()  # the detector reports its surprise only
    result = Monitor(SeasonalDetector(season_length=0)).update_many(xs)
    assert result.is_anomaly[2000] and result.is_anomaly[2020]
    assert not result.is_anomaly[2010] and result.score[2010] == 0.5


def _value_scoring(detector, target):
    """A value the detector (in its current state) scores at ``target``, by bisection."""
    low, high = detector.expected(), detector.expected() + 100.0 * detector.scale_
    for _ in range(200):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if detector.score(mid) < target else (low, mid)
    return high


def test_the_threshold_chosen_is_the_one_in_force_issue_10():
    # Monitor(SeasonalDetector(season_length=0), FixedThreshold(0.9)): an unflagged 0.843,
    # then 10 points later a 0.903. v1 muted the second (the detector's own quiet period,
    # started at its alarm level 0.8); the quiet period now starts only at a real alarm.
    xs = np.random.default_rng(7).normal(0.0, 1.0, 2011)
    monitor = Monitor(SeasonalDetector(season_length=0), FixedThreshold(0.9))
    monitor.update_many(xs[:2000])
    first = _value_scoring(monitor.detector_, 0.843)
    low = monitor.update(first)
    assert low.score == pytest.approx(0.843, abs=1e-6) and not low.is_anomaly
    monitor.update_many(xs[2001:2010])
    second = _value_scoring(monitor.detector_, 0.903)
    high = monitor.update(second)
    assert high.score == pytest.approx(0.903, abs=1e-6)
    assert high.is_anomaly and high.threshold == 0.9
