"""ShapeAndPointDetector: the tail calibration, no saturation, and both kinds of evidence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oddwatch.detectors import ShapeAndPointDetector
from oddwatch.detectors.combined import gaussian_surprise, tail_surprise
from oddwatch.errors import InvalidParameterError


def calibrate(values, size=4096, tail_fraction=0.02):
    ring, ordered, stats = np.zeros(size), np.zeros(size), np.zeros(4)
    out = [tail_surprise(ring, ordered, stats, tail_fraction, v) for v in values]
    return np.array(out), (ring, ordered, stats)


def test_tail_surprise_is_silent_until_50_tail_points_then_matches_an_exponential_tail():
    rng = np.random.default_rng(0)
    values = rng.exponential(1.0, 20_000)
    out, (ring, ordered, stats) = calibrate(values, size=16_384)
    assert np.all(out[:2560] == -1.0) and np.all(out[2560:] >= 0.0)  # refit at 2,560 >= 2,500
    for d in (5.0, 8.0, 12.0):  # true -log10 P(X >= d) = d / ln 10; ~330 tail points fitted
        s = tail_surprise(ring.copy(), ordered.copy(), stats.copy(), 0.02, d)
        assert s == pytest.approx(d / math.log(10.0), rel=0.08)


def test_tail_surprise_keeps_growing_beyond_everything_seen():
    values = np.random.default_rng(1).normal(0.0, 1.0, 5000)
    _, (ring, ordered, stats) = calibrate(values)
    top = values.max()
    surprises = [
        tail_surprise(ring.copy(), ordered.copy(), stats.copy(), 0.02, top + k) for k in range(1, 6)
    ]
    assert np.all(np.diff(surprises) > 0.5)  # linear in the excess, never capped
    assert surprises[0] > math.log10(5000)  # beyond what counting alone can say


def test_tail_surprise_by_counting_below_the_tail_and_nan_is_unknown():
    values = np.arange(3000, dtype=float) % 100.0  # uniform 0..99, tail fit above 97
    _, (ring, ordered, stats) = calibrate(values)
    s = tail_surprise(ring.copy(), ordered.copy(), stats.copy(), 0.02, 49.5)
    assert s == pytest.approx(-math.log10((1500 + 1) / (3000 + 1)), abs=0.01)
    assert tail_surprise(ring, ordered, stats, 0.02, math.nan) == -1.0


def test_gaussian_surprise_exact_and_asymptotic_agree():
    assert gaussian_surprise(0.0) == 0.0
    assert gaussian_surprise(1.959963985) == pytest.approx(-math.log10(0.05), rel=1e-6)
    assert gaussian_surprise(30.0) == pytest.approx(gaussian_surprise(29.999999), rel=1e-3)
    assert gaussian_surprise(100.0) > gaussian_surprise(50.0) > 0.0


def sine(n, seed, period=50, noise=0.05):
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) * 2 * np.pi / period) + rng.normal(0, noise, n)


def test_an_out_of_range_value_scores_higher_the_farther_out():
    scores = []
    for height in (5.0, 10.0, 20.0):
        xs = sine(8000, 2)
        xs[7000] += height
        det = ShapeAndPointDetector(max_length=64, history_size=1024, calibration_size=4096)
        scores.append(det.update_many(xs)[7000])
    assert scores[0] > 0.8 and scores[0] < scores[1] < scores[2] < 1.0


def test_a_shape_anomaly_in_range_is_the_top_score():
    xs = sine(8000, 3)
    xs[7000:7025] = 0.9 * np.sin(np.arange(25) * 2 * np.pi / 25)  # a cycle at double speed
    det = ShapeAndPointDetector(max_length=64, history_size=1024, calibration_size=4096)
    scores = det.update_many(xs)
    assert 7000 <= int(np.nanargmax(scores)) < 7075
    assert np.nanmax(scores) > 0.8
    assert np.isnan(scores[:64]).all()


def test_bad_parameters_say_what_to_do():
    with pytest.raises(InvalidParameterError, match="`calibration_size` of ShapeAndPointDetector"):
        ShapeAndPointDetector(calibration_size=10)
    with pytest.raises(InvalidParameterError, match="at least 3 \\* max_length"):
        ShapeAndPointDetector(max_length=64, history_size=100)
    with pytest.raises(InvalidParameterError, match="`tail_fraction`"):
        ShapeAndPointDetector(tail_fraction=0.0)
