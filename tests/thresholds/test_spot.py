"""SPOT / DSPOT: GPD fit against tests/naive.py, calibrated risk, drift, what is learned."""

from __future__ import annotations

import math

import numpy as np
import pytest
from naive import gpd_fit

from oddwatch.errors import InvalidParameterError
from oddwatch.thresholds import DSPOT, SPOT
from oddwatch.thresholds._gpd import fit_gpd


def _gpd_sample(rng, gamma, sigma, n):
    """Inverse-CDF draws of a GPD(gamma, sigma)."""
    u = rng.random(n)
    return sigma * np.expm1(-gamma * np.log(u)) / gamma if gamma else -sigma * np.log(u)


def _fit(exact, censored=()):
    tail = np.r_[exact, censored].astype(np.float64)
    mask = np.r_[np.zeros(len(exact), bool), np.ones(len(censored), bool)]
    order = np.random.default_rng(0).permutation(len(tail))  # order must not matter
    return fit_gpd(tail[order], mask[order], len(tail))


@pytest.mark.parametrize("gamma", [-0.6, 0.0, 0.4, 1.5])
@pytest.mark.parametrize("censor", [False, True])
def test_gpd_fit_matches_brute_force_likelihood(gamma, censor):
    y = _gpd_sample(np.random.default_rng(1), gamma, 2.0, 200)
    exact, censored = y, np.array([])
    if censor:  # the top 10% are only known to exceed the 90% quantile
        cut = np.quantile(y, 0.9)
        exact, censored = y[y <= cut], np.full(int(np.sum(y > cut)), cut)
    got_gamma, got_sigma = _fit(exact, censored)
    want_gamma, want_sigma = gpd_fit(exact, censored)
    assert got_gamma == pytest.approx(want_gamma, abs=1e-4)
    assert got_sigma == pytest.approx(want_sigma, rel=1e-4)


@pytest.mark.parametrize("gamma", [-0.3, 0.0, 0.3, 0.6])
def test_gpd_fit_recovers_known_parameters(gamma):
    # n = 20_000: standard errors are about (1 + gamma) / sqrt(n) <= 0.012 for gamma and
    # 0.012 relative for sigma, so 0.04 and 5% are over 3 standard errors
    y = _gpd_sample(np.random.default_rng(2), gamma, 2.0, 20_000)
    got_gamma, got_sigma = _fit(y)
    assert got_gamma == pytest.approx(gamma, abs=0.04)
    assert got_sigma == pytest.approx(2.0, rel=0.05)


def test_gpd_fit_without_a_likelihood_maximum_takes_the_gamma_minus_one_limit():
    # density 2y on [0, 1] rises to its endpoint: the likelihood grows without bound as
    # gamma falls below -1; the fit is the uniform limit, as the brute force on [-1, 4]
    y = np.sqrt(np.random.default_rng(3).random(500))
    assert _fit(y) == (-1.0, y.max())
    want_gamma, want_sigma = gpd_fit(y)
    assert want_gamma == -1.0 and want_sigma == pytest.approx(y.max(), rel=1e-9)


def test_gpd_fit_of_equal_excesses_is_exponential():
    assert _fit(np.full(20, 0.5)) == (0.0, 0.5)


_TAILS = {
    "exponential": lambda rng, n: rng.exponential(1.0, n),  # gamma = 0
    "pareto": lambda rng, n: rng.pareto(2.0, n),  # Lomax(2): gamma = 0.5
    "gaussian": lambda rng, n: np.abs(rng.normal(size=n)),  # gamma -> 0 slowly
}


@pytest.mark.parametrize("name", sorted(_TAILS))
def test_spot_flags_about_risk_of_iid_scores(name):
    # Over 20 seeds the flagged fraction of the stream was 0.93-1.14 x risk and the
    # exceedance of the final threshold on 2M fresh scores 0.73-1.28 x risk (the tail is
    # fitted to the last 1000 peaks). The paper's rule (flagged scores dropped, not
    # censored) flags 2 to 30 x risk here. Bounds: [0.8, 1.25] and [0.5, 2].
    risk = 1e-3
    rng = np.random.default_rng(4)
    scores = _TAILS[name](rng, 200_000)
    thr = SPOT(risk=risk)
    thresholds = thr.update_many(scores)
    assert 0.8 < np.mean(scores > thresholds) / risk < 1.25
    fresh = _TAILS[name](rng, 2_000_000)
    assert 0.5 < np.mean(fresh > thresholds[-1]) / risk < 2.0


def test_spot_threshold_matches_the_exact_quantile():
    scores = np.random.default_rng(5).exponential(1.0, 100_000)
    thr = SPOT(risk=1e-4)
    last = thr.update_many(scores)[-1]
    assert last == pytest.approx(-math.log(1e-4), rel=0.1)
    assert thr.gamma_ == pytest.approx(0.0, abs=0.1)
    assert thr.sigma_ == pytest.approx(1.0, rel=0.15)


def test_spot_warm_up_and_nan_scores():
    rng = np.random.default_rng(6)
    scores = rng.exponential(1.0, 3000)
    thr = SPOT(risk=1e-3, init_size=1000)
    out = thr.update_many(scores)
    assert np.isnan(out[:1000]).all() and not np.isnan(out[1000:]).any()
    assert thr.warm_ and thr.initial_threshold_ == pytest.approx(np.quantile(scores[:1000], 0.98))
    holed = np.insert(scores, [10, 1500, 1500, 2999], np.nan)
    again = SPOT(risk=1e-3, init_size=1000).update_many(holed)
    np.testing.assert_array_equal(again[~np.isnan(holed)], out)


def test_spot_stays_warming_up_until_ten_peaks_exceed_t():
    thr = SPOT(risk=1e-3, init_size=500)
    assert np.isnan(thr.update_many(np.zeros(500))).all()  # t = 0, no peak above it
    out = thr.update_many(np.r_[np.full(9, 1.0), 2.0, 3.0])
    assert np.isnan(out[:10]).all() and not math.isnan(out[10]) and thr.warm_


def test_spot_does_not_learn_the_value_of_a_flagged_score():
    rng = np.random.default_rng(7)
    scores = rng.exponential(1.0, 20_000)
    thresholds = SPOT(risk=1e-3).update_many(scores)
    flagged = np.flatnonzero(scores > thresholds)
    assert flagged.size > 5
    louder = scores.copy()
    louder[flagged] *= 1000.0  # same flags, wildly different values
    np.testing.assert_array_equal(SPOT(risk=1e-3).update_many(louder), thresholds)
    thr = SPOT(risk=1e-3)
    thr.update_many(scores[: flagged[0]])
    seen = thr.n_seen_
    thr.update(scores[flagged[0]])
    assert thr.n_seen_ == seen


def test_dspot_follows_a_drifting_mean():
    rng = np.random.default_rng(8)
    n = 100_000
    baseline = np.linspace(0.0, 200.0, n) + 5.0 * np.sin(np.arange(n) / 5000.0)
    scores = baseline + rng.exponential(1.0, n)
    risk = 1e-3
    thresholds = DSPOT(risk=risk).update_many(scores)
    assert np.mean(scores > thresholds) / risk < 2.0
    above = thresholds[5000:] - baseline[5000:]  # exact: 1 (mean lag) + ln(1000) - 1
    assert 5.0 < above.min() and above.max() < 9.5
    spot_rate = np.mean(scores > SPOT(risk=risk).update_many(scores)) / risk
    assert spot_rate > 100  # without the moving mean the drift is flagged


def test_dspot_keeps_flagged_scores_out_of_the_moving_mean():
    scores = np.random.default_rng(9).exponential(1.0, 3000)
    thr = DSPOT(risk=1e-3, depth=20)
    thr.update_many(scores)
    before, seen = thr.get_state(), thr.n_seen_
    assert thr.update(1e6) < 1e6
    after = thr.get_state()
    np.testing.assert_array_equal(after["window"], before["window"])
    np.testing.assert_array_equal(after["window_sum"], before["window_sum"])
    assert thr.n_seen_ == seen


def test_dspot_warm_up_fills_the_mean_then_calibrates():
    out = DSPOT(risk=1e-3, depth=30, init_size=500).update_many(
        np.random.default_rng(10).exponential(1.0, 1000)
    )
    assert np.isnan(out[:530]).all() and not np.isnan(out[530:]).any()


@pytest.mark.parametrize(
    ("cls", "params", "message"),
    [
        (SPOT, {"risk": 0.0}, r"`risk` of SPOT must be a number in \(0, 1\); got 0.0. It is"),
        (SPOT, {"level": 1.0}, r"`level` of SPOT must be a number in \(0, 1\); got 1.0."),
        (
            SPOT,
            {"risk": 0.05},
            r"`risk` of SPOT must be below 1 - `level` = 0.02; got 0.05. .* lower risk or level.",
        ),
        (
            SPOT,
            {"init_size": 400},
            r"`init_size` \* \(1 - `level`\) of SPOT must be at least 10 .*; got "
            r"400 \* \(1 - 0.98\) = 8. Raise init_size or lower level.",
        ),
        (SPOT, {"max_peaks": 5}, r"`max_peaks` of SPOT must be an int >= 10; got 5."),
        (DSPOT, {"depth": 0}, r"`depth` of DSPOT must be an int >= 1; got 0."),
        (DSPOT, {"risk": 0.5}, r"`risk` of DSPOT must be below 1 - `level`"),
    ],
)
def test_bad_parameters_are_explained(cls, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        cls(**params)
