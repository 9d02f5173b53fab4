"""RollingMADZScore against numpy medians (tests/naive.py); robustness; MAD == 0 floor."""

from __future__ import annotations

import numpy as np
import pytest
from naive import rolling_mad_zscore

from oddwatch.detectors import RollingMADZScore, RollingZScore
from oddwatch.detectors.mad import _mad, _median
from oddwatch.errors import InvalidParameterError


@pytest.mark.parametrize("size", [2, 3, 4, 7, 8, 64, 65])
def test_median_and_mad_equal_numpy_on_random_windows(size):
    rng = np.random.default_rng(size)
    for _ in range(50):
        w = np.sort(rng.standard_t(2, size) * rng.choice([1e-3, 1.0, 1e6]))
        median = np.median(w)
        assert _median(w) == median
        assert _mad(w, median) == np.median(np.abs(w - median))


@pytest.mark.parametrize("window_size", [2, 3, 8, 9, 64])
def test_scores_equal_numpy_on_continuous_data(window_size):
    xs = np.random.default_rng(window_size).standard_t(3, 600) * 5.0 + 100.0
    got = RollingMADZScore(window_size).update_many(xs)
    np.testing.assert_array_equal(got, rolling_mad_zscore(xs, window_size))


@pytest.mark.parametrize("window_size", [4, 5, 16])
def test_scores_match_numpy_with_ties_and_constant_runs(window_size):
    rng = np.random.default_rng(1)
    xs = rng.choice([0.0, 0.0, 0.0, 1.0, 2.0], 500)  # the MAD is often 0: mean |dev| fallback
    xs[200:260] = 3.0  # a constant run: the floor
    got = RollingMADZScore(window_size).update_many(xs)
    expected = rolling_mad_zscore(xs, window_size)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_the_sorted_copy_is_the_sorted_window():
    xs = np.random.default_rng(2).integers(-5, 5, 300).astype(float)
    det = RollingMADZScore(window_size=11)
    for stop in (5, 11, 12, 150, 300):
        det.set_state(RollingMADZScore(window_size=11).get_state())
        det.update_many(xs[:stop])
        state = det.get_state()
        kept = min(stop, 11)
        np.testing.assert_array_equal(state["ordered"][:kept], np.sort(xs[stop - kept : stop]))


def test_an_outlier_scores_higher_and_outliers_do_not_mask_it():
    xs = np.random.default_rng(3).normal(10.0, 1.0, 200)
    xs[[150, 155, 160]] = [60.0, -40.0, 16.0]  # two huge spikes, then a moderate one
    mad = RollingMADZScore(window_size=30).update_many(xs)
    plain = RollingZScore(window_size=30).update_many(xs)
    assert set(np.argsort(np.nan_to_num(mad))[-3:]) == {150, 155, 160}
    assert mad[160] > 4.0 > np.nanmax(np.delete(mad, [150, 155, 160]))
    assert plain[160] < 1.0  # the spikes inflate the standard deviation


def test_mad_zero_uses_the_mean_absolute_deviation_then_the_floor():
    det = RollingMADZScore(window_size=4)
    det.update_many([5.0, 5.0, 5.0, 6.0])  # MAD 0, mean |dev| 0.25
    assert det.update(7.0) == pytest.approx(2.0 / (1.2533 * 0.25))
    det = RollingMADZScore(window_size=3)
    det.update_many([2.0, 2.0, 2.0])
    assert det.update(2.0) == 0.0
    assert det.update(3.0) == pytest.approx(1.0 / (1e-12 * 3.0))


def test_warm_up():
    det = RollingMADZScore(window_size=5)
    assert np.isnan(det.update_many([1.0, 2.0, 3.0, 4.0, 5.0])).all()
    assert not np.isnan(det.update(3.0)) and det.warm_


def test_bad_window_size_is_explained():
    with pytest.raises(InvalidParameterError) as info:
        RollingMADZScore(window_size=1)
    assert str(info.value) == (
        "`window_size` of RollingMADZScore must be an int >= 2; got 1. "
        "Use at least 2 points per window."
    )
