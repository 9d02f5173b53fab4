"""Tests of event-level precision / recall / F1 / delay."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.evaluate.metrics import EventMetrics, event_metrics, window_metrics

LABELS = [0, 1, 1, 0, 0, 1, 1, 1, 0, 0]  # events at 1..2 and 5..7
FLAGS = [0, 0, 1, 0, 1, 0, 0, 0, 0, 1]  # flags at 2, 4, 9


def test_hand_computed_without_tolerance() -> None:
    m = event_metrics(LABELS, FLAGS)
    assert (m.n_events, m.n_detected_events, m.n_flags, m.n_true_flags) == (2, 1, 3, 1)
    assert m.recall == 0.5
    assert m.precision == pytest.approx(1 / 3)
    assert m.f1 == pytest.approx(0.4)
    assert m.mean_delay == 1.0


def test_tolerance_extends_each_event_past_its_end() -> None:
    m = event_metrics(LABELS, FLAGS, tolerance=2)  # spans 1..4 and 5..9
    assert (m.n_detected_events, m.n_true_flags) == (2, 3)
    assert (m.precision, m.recall, m.f1) == (1.0, 1.0, 1.0)
    assert m.mean_delay == pytest.approx((1 + 4) / 2)
    assert event_metrics(LABELS, FLAGS, tolerance=1).n_true_flags == 1  # 4 and 9 still outside


def test_flagging_everything_gets_low_precision() -> None:
    labels = np.zeros(100, dtype=int)
    labels[40:45] = 1
    m = event_metrics(labels, np.ones(100, dtype=bool))
    assert m.recall == 1.0
    assert m.precision == 0.05
    assert m.f1 == pytest.approx(2 * 0.05 / 1.05)
    assert m.mean_delay == 0.0


def test_only_the_first_flag_of_an_event_sets_its_delay() -> None:
    m = event_metrics([0, 0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 0, 0])
    assert (m.mean_delay, m.n_true_flags, m.precision) == (1.0, 2, 1.0)


def test_a_flag_before_an_event_does_not_detect_it() -> None:
    m = event_metrics([0, 0, 0, 1, 1], [0, 1, 0, 0, 0])
    assert (m.recall, m.precision, m.f1) == (0.0, 0.0, 0.0)
    assert math.isnan(m.mean_delay)


def test_no_flags_and_events_gives_zero() -> None:
    m = event_metrics([0, 1, 1, 0], [0, 0, 0, 0])
    assert (m.precision, m.recall, m.f1, m.n_flags) == (0.0, 0.0, 0.0, 0)
    assert math.isnan(m.mean_delay)


def test_no_events_conventions() -> None:
    quiet = event_metrics([0, 0, 0], [0, 0, 0])
    assert (quiet.precision, quiet.recall, quiet.f1) == (1.0, 1.0, 1.0)
    noisy = event_metrics([0, 0, 0], [0, 1, 1])
    assert (noisy.precision, noisy.recall, noisy.f1, noisy.n_flags) == (0.0, 1.0, 0.0, 2)
    empty = event_metrics([], [])
    assert (empty.n_events, empty.n_flags, empty.f1) == (0, 0, 1.0)


def test_event_at_the_end_with_tolerance_is_clipped() -> None:
    m = event_metrics([0, 0, 0, 1], [0, 0, 0, 1], tolerance=5)
    assert (m.recall, m.precision, m.mean_delay) == (1.0, 1.0, 0.0)


def test_one_flag_in_overlapping_spans_counts_once_and_detects_both() -> None:
    m = event_metrics([1, 0, 1, 0, 0], [0, 0, 0, 1, 0], tolerance=3)  # spans 0..3 and 2..4
    assert (m.n_detected_events, m.n_true_flags, m.n_flags) == (2, 1, 1)
    assert m.mean_delay == pytest.approx((3 + 1) / 2)


def test_accepts_bool_int_and_float_arrays() -> None:
    as_bool = event_metrics(np.array(LABELS, bool), np.array(FLAGS, bool))
    as_float = event_metrics(np.array(LABELS, float) * 2.5, np.array(FLAGS, float))
    assert as_bool == as_float == event_metrics(LABELS, FLAGS)


def test_as_dict_lists_every_field() -> None:
    d = event_metrics(LABELS, FLAGS).as_dict()
    assert list(d) == [
        "precision",
        "recall",
        "f1",
        "n_events",
        "n_detected_events",
        "n_flags",
        "n_true_flags",
        "mean_delay",
    ]
    assert d["n_events"] == 2


def test_window_metrics_matches_labels_with_the_same_events() -> None:
    by_windows = window_metrics([(1, 2), (5, 7)], FLAGS, tolerance=2)
    assert by_windows == event_metrics(LABELS, FLAGS, tolerance=2)
    m = window_metrics([(2, 4), (7, 8)], [0, 1, 0, 1, 0, 0, 0, 0, 0, 1])
    assert (m.n_detected_events, m.n_true_flags, m.mean_delay) == (1, 1, 1.0)
    assert window_metrics([], [0, 1]).precision == 0.0


def test_window_metrics_keeps_touching_windows_apart() -> None:
    m = window_metrics([(0, 1), (2, 3)], [0, 1, 0, 0])
    assert (m.n_events, m.n_detected_events, m.recall) == (2, 1, 0.5)


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"same length; got 3 and 2"):
        event_metrics([0, 1, 0], [0, 1])
    with pytest.raises(InvalidInputError, match=r"labels must be 1-D; got shape \(2, 2\)"):
        event_metrics([[0, 1], [1, 0]], [0, 1, 0, 1])
    with pytest.raises(InvalidInputError, match=r"flags must be finite; index 1 is nan"):
        event_metrics([0, 1, 0], [0.0, math.nan, 0.0])
    with pytest.raises(
        InvalidInputError, match=r"labels must be numeric or boolean; got dtype <U1"
    ):
        event_metrics(["a", "b"], [0, 1])
    with pytest.raises(InvalidParameterError, match=r"tolerance must be an int >= 0.*got -1"):
        event_metrics([0, 1], [0, 1], tolerance=-1)
    with pytest.raises(InvalidParameterError, match=r"tolerance must be an int >= 0.*got 1.5"):
        event_metrics([0, 1], [0, 1], tolerance=1.5)  # type: ignore[arg-type]


def test_bad_windows_raise_clear_errors() -> None:
    with pytest.raises(InvalidInputError, match=r"window 1 is \(3, 9\); .*0 <= start <= end < 5"):
        window_metrics([(0, 1), (3, 9)], [0] * 5)
    with pytest.raises(InvalidInputError, match=r"window 0 is \(3, 2\)"):
        window_metrics([(3, 2)], [0] * 5)
    with pytest.raises(
        InvalidInputError, match=r"\(start, end\) integer pairs; got an array of shape \(1, 3\)"
    ):
        window_metrics([(0, 1, 2)], [0] * 5)
    with pytest.raises(InvalidInputError, match=r"integer pairs; .*dtype float64"):
        window_metrics([(0.5, 2.0)], [0] * 5)


def naive(labels: list[int], flags: list[int], tolerance: int) -> EventMetrics:
    n = len(labels)
    events, i = [], 0
    while i < n:
        if labels[i]:
            j = i
            while j + 1 < n and labels[j + 1]:
                j += 1
            events.append((i, min(j + tolerance, n - 1)))
            i = j + 1
        else:
            i += 1
    flagged = [i for i in range(n) if flags[i]]
    firsts = [next((f for f in flagged if a <= f <= b), None) for a, b in events]
    delays = [f - a for (a, _), f in zip(events, firsts, strict=True) if f is not None]
    true = [f for f in flagged if any(a <= f <= b for a, b in events)]
    p = len(true) / len(flagged) if flagged else (0.0 if events else 1.0)
    r = len(delays) / len(events) if events else 1.0
    return EventMetrics(
        precision=p,
        recall=r,
        f1=2 * p * r / (p + r) if p + r else 0.0,
        n_events=len(events),
        n_detected_events=len(delays),
        n_flags=len(flagged),
        n_true_flags=len(true),
        mean_delay=sum(delays) / len(delays) if delays else math.nan,
    )


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 40).flatmap(
        lambda n: st.tuples(
            st.lists(st.integers(0, 1), min_size=n, max_size=n),
            st.lists(st.integers(0, 1), min_size=n, max_size=n),
        )
    ),
    st.integers(0, 5),
)
def test_matches_a_point_by_point_count(arrays, tolerance) -> None:
    labels, flags = arrays
    got = event_metrics(labels, flags, tolerance).as_dict()
    want = naive(labels, flags, tolerance).as_dict()
    for key, value in want.items():
        if isinstance(value, float) and math.isnan(value):
            assert math.isnan(got[key]), key
        else:
            assert got[key] == pytest.approx(value), key
