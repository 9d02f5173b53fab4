"""Validator: policies, counts, order per series, gaps, state, rate-limited warnings."""

from __future__ import annotations

import numpy as np
import pytest

from oddwatch.errors import InvalidParameterError
from oddwatch.sources._base import Records
from oddwatch.sources.records import (
    BAD_TIMESTAMP,
    DUPLICATE_TIMESTAMP,
    NOT_NUMERIC,
    OUT_OF_ORDER,
    RateLimiter,
    Validator,
)


def records(times, values=None, keys=None, problem=None, start_line=1):
    n = len(times)
    return Records(
        line=np.arange(start_line, start_line + n),
        value=np.ones(n) if values is None else np.asarray(values, dtype=float),
        problem=np.zeros(n, dtype=np.uint8) if problem is None else np.asarray(problem, np.uint8),
        end=0,
        time=np.asarray(times, dtype=float),
        key=None if keys is None else np.asarray(keys),
    )


def test_raise_covers_the_records_before_the_bad_one():
    validator = Validator("raise", hint="Try again.")
    checked = validator.check(records([0, 60, 30, 90]))
    assert checked.accepted.tolist() == [True, True]
    assert checked.error == (
        "line 3: bad record (out_of_order): timestamp is before the "
        "latest one of its series. Try again."
    )
    assert validator.counts() == {"read": 2, "valid": 2, "skipped": 0, "flagged": 0}


@pytest.mark.parametrize("policy", ["skip", "flag"])
def test_counts_add_up_and_problems_are_tallied(policy):
    validator = Validator(policy)
    checked = validator.check(records([0, 60, 60, 30, 120], problem=[0, 0, 0, 0, NOT_NUMERIC]))
    assert checked.problem.tolist() == [0, 0, DUPLICATE_TIMESTAMP, OUT_OF_ORDER, NOT_NUMERIC]
    counts = validator.counts()
    assert counts["valid"] + counts["skipped"] + counts["flagged"] == counts["read"] == 5
    assert counts[{"skip": "skipped", "flag": "flagged"}[policy]] == 3
    assert checked.flagged.sum() == (3 if policy == "flag" else 0)
    assert validator.problems() == {"not_numeric": 1, "out_of_order": 1, "duplicate_timestamp": 1}
    assert checked.seq.tolist() == [0, 1, 2, 3, 4]


def test_order_is_per_series_and_spans_chunks():
    validator = Validator("skip")
    validator.check(records([0, 0], keys=["a", "b"]))
    checked = validator.check(records([60, -5, 0], keys=["a", "b", "c"]))
    assert checked.problem.tolist() == [0, OUT_OF_ORDER, 0]


def test_a_bad_value_still_marks_the_time_a_bad_timestamp_does_not():
    validator = Validator("skip", max_gap=90.0)
    checked = validator.check(records([0, 500, 60], problem=[0, NOT_NUMERIC, 0]))
    assert checked.problem.tolist() == [0, NOT_NUMERIC, OUT_OF_ORDER]
    checked = validator.check(records([560, np.nan, 620], problem=[0, BAD_TIMESTAMP, 0]))
    assert checked.problem.tolist() == [0, BAD_TIMESTAMP, 0]
    assert validator.n_gaps == 1  # from 0 to 500
    validator.check(records([680, 740, 800], problem=[0, NOT_NUMERIC, 0]))
    assert validator.n_gaps == 1  # a missing value is not a gap in time


def test_gap_limit_is_learned_then_gaps_are_counted():
    warnings = []
    validator = Validator("skip", warn=warnings.append)
    times = np.arange(65) * 60.0
    validator.check(records(times))
    assert validator.max_gap_ == 90.0 and validator.n_gaps == 0
    validator.check(records([times[-1] + 600, times[-1] + 660]))
    assert validator.n_gaps == 1 and validator.largest_gap == 600.0
    assert warnings == ["line 1: gap of 10 min (more than 1.5 min since the previous point)"]


def test_state_round_trip_continues_identically():
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.choice([60.0, 60.0, 120.0, -30.0], 300))
    keys = rng.choice(["a", "b", "c"], 300)
    one = Validator("flag", max_keys=2)
    first = one.check(records(times[:150], keys=keys[:150]))
    two = Validator("flag", max_keys=2)
    two.set_state(one.get_state())
    rest_one = one.check(records(times[150:], keys=keys[150:]))
    rest_two = two.check(records(times[150:], keys=keys[150:]))
    assert first.problem.shape == (150,)
    np.testing.assert_array_equal(rest_one.problem, rest_two.problem)
    assert one.get_state() == two.get_state()


def test_least_recent_series_are_forgotten_beyond_max_keys():
    validator = Validator("skip", max_keys=2)
    validator.check(records([100, 100, 100], keys=["a", "b", "c"]))
    assert sorted(validator.get_state()["clock"]["keys"]) == ["b", "c"]
    checked = validator.check(records([50, 50], keys=["a", "c"]))
    assert checked.problem.tolist() == [0, OUT_OF_ORDER]  # "a" starts afresh


def test_bad_settings_are_rejected():
    with pytest.raises(InvalidParameterError, match="`on_invalid` of Validator must be one of"):
        Validator("ignore")
    with pytest.raises(InvalidParameterError, match="`max_gap` of Validator must be"):
        Validator(max_gap=0)


def test_rate_limiter_window_and_burst():
    now = [0.0]
    sent = []
    limiter = RateLimiter(sent.append, burst=2, interval=10.0, clock=lambda: now[0])
    for i in range(5):
        limiter(f"a{i}", "a")
    limiter("b0", "b")
    now[0] = 10.0
    limiter("a5", "a")
    assert sent == ["a0", "a1", "b0", "a5"] and limiter.n_suppressed == 3
