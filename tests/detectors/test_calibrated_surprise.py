"""CalibratedSurpriseDetector: one alarm per excursion, breakable suppression, calibration."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch.detectors import CalibratedSurpriseDetector, SeasonalDetector
from oddwatch.errors import InvalidParameterError


def _noise(n, seed=1):
    return np.random.default_rng(seed).normal(0.0, 1.0, n)


def _run(xs, **params):
    return CalibratedSurpriseDetector(season_length=0, **params).update_many(xs)


def test_warmup_is_nan_then_scores_in_unit_interval():
    scores = _run(_noise(1000), warmup=100)
    assert np.isnan(scores[:100]).all()
    rest = scores[100:]
    assert not np.isnan(rest).any()
    assert ((rest >= 0.0) & (rest < 1.0)).all()


def test_an_excursion_fires_once_per_rising_peak_only():
    xs = _noise(3000)
    xs[2000:2010] += 8.0
    scores = _run(xs)
    assert scores[2000:2010].max() > 0.75
    # only new peaks are reported: the rest of the excursion and its aftermath are silent
    assert np.count_nonzero(scores[2000:2100]) <= 3
    assert (scores[2010:2100] == 0.0).all()


def test_an_equal_repeat_within_the_half_life_is_suppressed():
    xs = _noise(3000)
    xs[2000:2010] += 8.0
    xs[2030:2040] += 8.0
    scores = _run(xs)
    assert scores[2000:2010].max() > 0.75
    assert scores[2030:2040].max() == 0.0


def test_a_clearly_stronger_surprise_breaks_the_suppression():
    xs = _noise(3000)
    xs[2000:2010] += 8.0
    xs[2030:2040] += 30.0
    scores = _run(xs)
    assert scores[2030:2040].max() > 0.7  # fired again although the first peak is recent


def test_suppression_wears_off_after_many_half_lives():
    xs = _noise(4000)
    xs[2000:2010] += 8.0
    xs[3500:3510] += 8.0
    scores = _run(xs, half_life=20.0)
    assert scores[3500:3510].max() > 0.6


def test_heavy_tailed_noise_is_calibrated_away():
    xs = np.random.default_rng(3).standard_t(2, 20000)
    scores = _run(xs)
    # a per-point Gaussian z-score would flag hundreds of these points at p < 1e-3
    assert np.count_nonzero(scores[150:] > 0.75) <= 5


def test_value_beyond_the_seen_range_scores_at_least_the_range_surprise():
    xs = _noise(1000)
    xs[600] = 50.0
    scores = _run(xs, smoothing=1, range_surprise=4.0)
    assert scores[600] >= 4.0 / 5.0


def test_forecast_finds_the_same_season_as_the_seasonal_detector():
    t = np.arange(2000)
    xs = 10 * np.sin(2 * np.pi * t / 40) + _noise(2000)
    ours = CalibratedSurpriseDetector(max_season_length=64)
    ours.update_many(xs)
    reference = SeasonalDetector(max_season_length=64)
    reference.update_many(xs)
    assert ours.period_ == reference.period_ == 40


@pytest.mark.parametrize("season_length", [1, -3, 2.5, True])
def test_bad_season_length_is_rejected(season_length):
    with pytest.raises(InvalidParameterError, match="`season_length` of CalibratedSurprise"):
        CalibratedSurpriseDetector(season_length=season_length)
