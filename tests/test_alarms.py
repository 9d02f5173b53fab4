"""The alarm stage: EveryPoint and QuietPeriod, alone, in a Monitor and per key."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch import FixedThreshold, KeyedMonitor, Monitor, RollingZScore, SeasonalDetector, load
from oddwatch.alarms import EveryPoint, QuietPeriod
from oddwatch.errors import InvalidParameterError


def _reported(policy, scores, threshold=4.0, widths=None):
    out = policy.update_many(scores, np.full(len(scores), threshold), widths)
    return out, out > threshold


def test_every_point_reports_every_score_above_the_threshold():
    scores = np.array([5.0, np.nan, 3.0, 9.0])
    out, flags = _reported(EveryPoint(), scores)
    np.testing.assert_array_equal(out, scores)
    assert flags.tolist() == [True, False, False, True]


def test_a_quiet_period_mutes_the_rest_of_an_event_and_ends():
    policy = QuietPeriod(quiet_period=3)
    out, flags = _reported(policy, [5.0, 7.0, 5.0, 5.0, 5.0])
    assert flags.tolist() == [True, False, False, False, True]
    assert out.tolist() == [5.0, 4.0, 4.0, 4.0, 5.0]  # muted: capped at the threshold
    assert policy.n_alarms_ == 2


def test_a_much_stronger_point_breaks_the_quiet_period_and_restarts_it():
    _, flags = _reported(QuietPeriod(quiet_period=3, break_factor=2.0), [5.0, 10.0, 10.1, 5.0])
    assert flags.tolist() == [True, False, True, False]


def test_the_surprise_scale_lengthens_the_quiet_period_and_raises_the_bar():
    widths = np.array([2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    scores = [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 8.0]
    _, plain = _reported(QuietPeriod(quiet_period=2), scores)
    _, wide = _reported(QuietPeriod(quiet_period=2), scores, widths=widths)
    assert plain.tolist() == [True, False, False, True, False, False, True, False, True]
    # width 2 at the alarm: 2 * 2**3 = 16 quiet points; 8 > 1.5 * 5 breaks it (width 1 now)
    assert wide.tolist() == [True, False, False, False, False, False, False, False, True]


def test_quiet_period_zero_is_every_point():
    scores = np.random.default_rng(0).normal(4.0, 1.0, 200)
    _, quiet = _reported(QuietPeriod(quiet_period=0), scores)
    _, every = _reported(EveryPoint(), scores)
    np.testing.assert_array_equal(quiet, every)


def test_on_surprise_scores_strength_is_the_surprise_and_muted_points_report_half():
    policy = QuietPeriod(quiet_period=5)
    policy.bind("surprise")  # scores s = S / (1 + S)
    scores = np.array([0.9, 0.92, 0.95])  # S = 9, 11.5, 19: only 19 > 1.5 * 9 breaks
    out, flags = _reported(policy, scores, threshold=0.8)
    assert flags.tolist() == [True, False, True]
    assert out[1] == 0.5


def test_monitor_default_alarm_follows_the_score_scale():
    assert isinstance(Monitor().alarm_, QuietPeriod)
    assert isinstance(Monitor(RollingZScore()).alarm_, EveryPoint)
    assert isinstance(Monitor(alarm=None).alarm_, EveryPoint)


def test_alarm_none_flags_every_point_above_the_threshold():
    xs = np.random.default_rng(3).normal(0.0, 1.0, 3000)
    xs[2000:2003] += 9.0
    detector_scores = SeasonalDetector(season_length=0).update_many(xs)
    result = Monitor(SeasonalDetector(season_length=0), alarm=None).update_many(xs)
    np.testing.assert_array_equal(result.score, detector_scores)
    np.testing.assert_array_equal(result.is_anomaly, detector_scores > 0.8)
    muted = Monitor(SeasonalDetector(season_length=0)).update_many(xs)
    assert muted.is_anomaly[2000:2003].tolist() == [True, False, False]


def test_bad_alarm_is_named():
    with pytest.raises(InvalidParameterError, match="`alarm` of Monitor must be an oddwatch"):
        Monitor(alarm="quiet")
    with pytest.raises(InvalidParameterError, match="`quiet_period` of QuietPeriod"):
        QuietPeriod(quiet_period=-1)
    with pytest.raises(InvalidParameterError, match="`break_factor` of QuietPeriod"):
        QuietPeriod(break_factor=0.5)


def test_the_alarm_state_is_checkpointed_with_the_monitor(tmp_path):
    xs = np.random.default_rng(4).normal(0.0, 1.0, 2000)
    xs[[1500, 1510, 1700]] += 9.0
    full = Monitor(SeasonalDetector(season_length=0), FixedThreshold(0.8))
    whole = full.update_many(xs)
    first = Monitor(SeasonalDetector(season_length=0))
    first.update_many(xs[:1505])  # inside the quiet period of the alarm at 1500
    first.save(tmp_path / "m.oddwatch")
    rest = load(tmp_path / "m.oddwatch").update_many(xs[1505:])
    np.testing.assert_array_equal(rest.is_anomaly, whole.is_anomaly[1505:])
    np.testing.assert_array_equal(rest.score, whole.score[1505:])


def test_keyed_alarms_equal_standalone_alarms_per_key():
    rng = np.random.default_rng(5)
    xs = {k: rng.normal(0.0, 1.0, 1500) for k in "ab"}
    xs["a"][[700, 705, 1200]] += 9.0
    keys = np.repeat(["a", "b"], 1500).reshape(2, -1).T.ravel()
    values = np.column_stack([xs["a"], xs["b"]]).ravel()
    policy = QuietPeriod(quiet_period=20)
    keyed = KeyedMonitor(SeasonalDetector(season_length=0), alarm=policy).update_many(keys, values)
    for key in "ab":
        alone = Monitor(SeasonalDetector(season_length=0), alarm=QuietPeriod(quiet_period=20))
        want = alone.update_many(xs[key])
        np.testing.assert_array_equal(keyed.is_anomaly[keys == key], want.is_anomaly)
        np.testing.assert_array_equal(keyed.score[keys == key], want.score)
