"""SeasonalDetector: the heavy-tail correction and the quiet period it lengthens."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oddwatch.detectors import SeasonalDetector
from oddwatch.detectors._seasonal_kernels import _QUIET, _TAIL_QUANTILE
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
    assert det.get_state()["stats"][_TAIL_QUANTILE] == pytest.approx(2.576, rel=0.15)
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
        det = SeasonalDetector(season_length=0, **params)
        det.update_many(xs[:10001])
        quiet = int(det.get_state()["counters"][_QUIET])
        if params:
            assert quiet == 50
        else:
            assert quiet > 50


def test_tail_quantile_zero_is_the_plain_gaussian_score():
    xs = np.random.default_rng(5).standard_t(2, 3000)
    det = SeasonalDetector(season_length=0, tail_quantile=0.0, quiet_period=0)
    scores, expected, scale = det.explain_many(xs)
    assert det.get_state()["stats"][_TAIL_QUANTILE] == 0.0  # never learned
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
    xs[2010] += 8.0  # as strong: muted at 0.5
    xs[2020] += 30.0  # far more than twice the surprise: gets through
    scores = SeasonalDetector(season_length=0).update_many(xs)
    assert scores[2000] > 0.8
    assert scores[2010] <= 0.5
    assert scores[2020] > 0.8
