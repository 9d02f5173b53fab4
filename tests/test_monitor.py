"""Monitor: invalid-value policies with counts, verdicts and reasons, parameter checks."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch import FixedThreshold, Monitor, QuantileThreshold, RollingZScore, SeasonalDetector
from oddwatch.detectors import (
    CalibratedSurpriseDetector,
    DualSurpriseDetector,
    HalfSpaceTrees,
    IsolationForest,
    RollingMADZScore,
)
from oddwatch.errors import InvalidInputError, InvalidParameterError


def _stream(n=400, seed=0):
    return np.random.default_rng(seed).normal(10.0, 1.0, n)


def test_raise_policy_names_the_value_and_index():
    xs = list(_stream(10))
    xs[4] = "oops"
    message = r"Monitor.update_many got 'oops' at index 4 of this call .*on_invalid"
    with pytest.raises(InvalidInputError, match=message):
        Monitor().update_many(xs)


@pytest.mark.parametrize("policy", ["skip", "flag"])
def test_skip_and_flag_never_learn_invalid_points_and_count_them(policy):
    xs = _stream()
    dirty = list(xs)
    for i in (50, 51, 300):
        dirty[i] = [float("nan"), None, "abc"][i % 3]
    mon = Monitor(on_invalid=policy)
    result = mon.update_many(dirty)
    clean = Monitor().update_many(np.delete(xs, [50, 51, 300]))
    valid = ~result.is_invalid
    assert np.array_equal(result.score[valid], clean.score, equal_nan=True)
    assert list(np.flatnonzero(result.is_invalid)) == [50, 51, 300]
    assert np.isnan(result.score[[50, 51, 300]]).all()
    assert result.is_anomaly[[50, 51, 300]].all() == (policy == "flag")
    counted = mon.n_invalid_flagged_ if policy == "flag" else mon.n_skipped_
    assert counted == 3 and mon.n_seen_ == len(xs)
    if policy == "flag":
        assert result.reason(50) == "missing value"


def test_update_matches_update_many_and_returns_a_verdict():
    xs = _stream()
    xs[333] = 30.0
    one = Monitor()
    verdicts = [one.update(x) for x in xs]
    many = Monitor().update_many(xs)
    assert [v.is_anomaly for v in verdicts] == list(many.is_anomaly)
    assert np.array_equal([v.score for v in verdicts], many.score, equal_nan=True)
    spike = verdicts[333]
    assert spike.is_anomaly and spike.value == 30.0 and spike.threshold == 0.8
    assert spike.reason.startswith("30 is ") and "sd above the expected" in spike.reason


def test_reason_for_a_detector_without_forecast_quotes_score_and_threshold():
    xs = _stream()
    xs[200] = 40.0
    mon = Monitor(detector=RollingZScore(window_size=20), threshold=FixedThreshold(6.0))
    result = mon.update_many(xs)
    assert result.is_anomaly[200]
    assert result.reason(200).startswith("score ") and "above the threshold 6" in result.reason(200)
    assert result.reason(0) == "warming up: not scored yet"


def test_stuck_value_reason():
    xs = _stream(600)
    xs[500:530] = xs[499]
    result = Monitor().update_many(xs)
    flagged = np.flatnonzero(result.is_anomaly[500:530])
    assert flagged.size >= 1
    assert result.reason(500 + int(flagged[0])).endswith("has stopped changing (stuck value)")


def test_no_flags_during_warmup():
    xs = _stream(60)
    xs[10] = 1000.0
    result = Monitor().update_many(xs)
    assert not result.is_anomaly.any() and np.isnan(result.score[:60]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"on_invalid": "ignore"},
            "`on_invalid` of Monitor must be one of 'raise', 'skip', 'flag'",
        ),
        ({"detector": "seasonal"}, "`detector` of Monitor must be an oddwatch Detector"),
        ({"threshold": 0.5}, "`threshold` of Monitor must be an oddwatch Threshold"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(InvalidParameterError, match=message):
        Monitor(**kwargs)


def test_wrong_shape_is_refused():
    with pytest.raises(InvalidInputError, match=r"shape \(2, 2\)"):
        Monitor().update_many(np.ones((2, 2)))


def test_default_components_and_clone():
    mon = Monitor()
    assert isinstance(mon.detector_, DualSurpriseDetector)
    assert mon.threshold_.value == 0.8
    mon.update_many(_stream())
    fresh = mon.clone()
    assert fresh.n_seen_ == 0 and fresh.detector_.n_seen_ == 0


@pytest.mark.parametrize(
    ("detector", "expected"),
    [
        (SeasonalDetector(), FixedThreshold(0.8)),
        (CalibratedSurpriseDetector(), FixedThreshold(0.7)),
        (RollingZScore(), FixedThreshold(4.0)),
        (RollingMADZScore(), FixedThreshold(4.0)),
        (IsolationForest(), QuantileThreshold()),
        (HalfSpaceTrees(), QuantileThreshold()),
    ],
)
def test_without_a_threshold_the_detector_chooses_its_own(detector, expected):
    mon = Monitor(detector)
    assert repr(mon.threshold_) == repr(expected)
    # an explicit threshold always wins
    assert Monitor(detector, FixedThreshold(0.5)).threshold_.value == 0.5


def test_a_z_score_monitor_flags_only_outliers_by_default():
    xs = _stream(1000)
    xs[700] = 30.0
    flags = Monitor(RollingZScore(window_size=50)).update_many(xs).is_anomaly
    assert flags[700] and flags.sum() <= 3
    # the shared default of scores in [0, 1] (0.8) flags z > 0.8: about 40% of the points
    loose = Monitor(RollingZScore(window_size=50), FixedThreshold(0.8)).update_many(xs)
    assert loose.is_anomaly.sum() > 300


def test_update_fast_path_equals_update_many_for_every_input_kind():
    xs = np.round(np.random.default_rng(12).normal(5.0, 1.0, 400) * 4.0) / 4.0  # exact in f32
    xs[300] += 12.0
    batch = Monitor(on_invalid="skip").update_many(xs)
    one = Monitor(on_invalid="skip")

    def as_kind(i, x):
        kind = (float, np.float64, np.float32, int)[i % 4]
        return kind(x) if kind is not int or x.is_integer() else x

    verdicts = [one.update(as_kind(i, float(x))) for i, x in enumerate(xs)]
    np.testing.assert_array_equal(batch.score, [v.score for v in verdicts])
    assert batch.is_anomaly.tolist() == [v.is_anomaly for v in verdicts]
    assert verdicts[300].reason == batch.reason(300) != ""
    assert np.isnan(one.update("abc").score)  # skipped, not learned
    assert one.n_seen_ == 401 and one.n_skipped_ == 1


def test_assume_valid_skips_the_checks_and_gives_the_same_result():
    xs = np.random.default_rng(13).normal(5.0, 1.0, 500)
    checked = Monitor().update_many(xs)
    trusted = Monitor().update_many(xs, assume_valid=True)
    np.testing.assert_array_equal(checked.score, trusted.score)
    np.testing.assert_array_equal(checked.is_anomaly, trusted.is_anomaly)
    assert not trusted.is_invalid.any()


def test_the_stuck_value_reason_does_not_depend_on_chunks_or_the_path():
    xs = _stream(600)
    xs[500:530] = xs[499]
    whole = Monitor().update_many(xs)
    i = 500 + int(np.flatnonzero(whole.is_anomaly[500:530])[0])
    assert whole.reason(i).endswith("has stopped changing (stuck value)")
    split = Monitor()
    split.update_many(xs[:i])
    assert split.update_many(xs[i:]).reason(0) == whole.reason(i)
    loop = Monitor()
    verdicts = [loop.update(float(x)) for x in xs]
    assert [v.reason for v in verdicts] == [whole.reason(j) for j in range(len(xs))]


def test_the_previous_value_skips_invalid_points():
    xs = _stream(600)
    xs[500:530] = xs[499]
    xs[500] = np.nan  # skipped: the next point still repeats the last valid value
    result = Monitor(on_invalid="skip").update_many(xs)
    flagged = [j for j in range(501, 530) if result.is_anomaly[j]]
    assert flagged and result.reason(flagged[0]).endswith("(stuck value)")
