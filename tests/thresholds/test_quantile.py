"""QuantileThreshold: exact rolling quantile, warm-up, nan pass-through, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from naive import rolling_quantile

from oddwatch.errors import InvalidParameterError
from oddwatch.thresholds import QuantileThreshold


def _streams():
    rng = np.random.default_rng(0)
    n = 3000
    return {
        "iid": rng.normal(size=n),
        "ties": rng.integers(0, 5, n).astype(float),
        "rising": np.arange(n, dtype=float) + rng.normal(size=n),  # floor of the top buffer
        "falling": -np.arange(n, dtype=float) + rng.normal(size=n),  # keeps being rebuilt
        "constant": np.zeros(n),
        "bursts": np.where(rng.random(n) < 0.05, 100.0, rng.exponential(size=n)),
    }


@pytest.mark.parametrize("name", sorted(_streams()))
@pytest.mark.parametrize(("q", "window_size"), [(0.9, 50), (0.99, 400), (0.5, 40), (0.999, 1000)])
def test_matches_numpy_quantile_of_the_window(name, q, window_size):
    xs = _streams()[name]
    got = QuantileThreshold(q=q, window_size=window_size).update_many(xs)
    want = rolling_quantile(xs, q, window_size, math.ceil(round(1 / (1 - q), 9)))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_warm_up_lasts_one_over_one_minus_q_scores():
    thr = QuantileThreshold(q=0.95, window_size=100)
    out = thr.update_many(np.arange(30.0))
    assert np.isnan(out[:20]).all() and not np.isnan(out[20:]).any()
    assert thr.warm_


def test_nan_scores_pass_through_unlearned():
    rng = np.random.default_rng(1)
    xs = rng.exponential(size=500)
    holed = xs.copy()
    holes = rng.choice(500, 50, replace=False)
    holed[holes] = np.nan
    kept = np.setdiff1d(np.arange(500), holes)
    thr = QuantileThreshold(q=0.9, window_size=50)
    got = thr.update_many(holed)
    want = QuantileThreshold(q=0.9, window_size=50).update_many(holed[kept])
    np.testing.assert_array_equal(got[kept], want)
    assert thr.n_seen_ == 450


def test_flags_about_one_minus_q_of_iid_scores():
    # 100 independent windows of 1000: the exceedance rate of the empirical 0.99 quantile
    # has mean 0.01 and sd about 0.0003 (window) + 0.0003 (binomial); 15% is > 4 sd
    xs = np.random.default_rng(2).exponential(size=100_000)
    out = QuantileThreshold(q=0.99, window_size=1000).update_many(xs)
    rate = np.mean(xs[100:] > out[100:])
    assert 0.0085 < rate < 0.0115


def test_every_score_is_learned_so_a_burst_raises_the_threshold():
    xs = np.r_[np.random.default_rng(3).exponential(size=200), np.full(30, 50.0)]
    out = QuantileThreshold(q=0.9, window_size=200).update_many(np.r_[xs, 1.0])
    assert out[-1] == 50.0  # 30 of the last 200 scores are 50: the 0.9 quantile is 50


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": 1.0}, r"`q` of QuantileThreshold must be a number in \(0, 1\); got 1.0."),
        ({"q": 0}, r"`q` of QuantileThreshold must be a number in \(0, 1\); got 0."),
        ({"window_size": 1}, r"`window_size` of QuantileThreshold must be an int >= 2; got 1."),
        (
            {"q": 0.999, "window_size": 500},
            r"`window_size` of QuantileThreshold must be at least 1 / \(1 - q\) = 1000 for "
            r"q=0.999; got 500. .* raise window_size or lower q.",
        ),
    ],
)
def test_bad_parameters_are_explained(params, message):
    with pytest.raises(InvalidParameterError, match=message):
        QuantileThreshold(**params)
