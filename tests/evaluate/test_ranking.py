"""Tests of AUC-PR and VUS-PR: hand-computed cases and a slow loop-by-loop reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.evaluate.ranking import anomaly_ranges, auc_pr, vus_pr


def naive_vus_pr(labels, scores, max_window, n_thresholds=250):
    """VUS-PR point by point, threshold by threshold, window by window, from the definition."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    n = len(labels)
    ranges = anomaly_ranges(labels)
    places = np.linspace(0, n - 1, n_thresholds).astype(int)
    ranked = sorted(scores, reverse=True)
    areas = []
    for w in range(max_window + 1):
        half = w // 2
        soft = labels.astype(float)
        for a, b in ranges:
            for i in range(b + 1, min(b + half + 1, n)):
                soft[i] += math.sqrt(1 - (i - b) / w)
            for i in range(max(a - half, 0), a):
                soft[i] += math.sqrt(1 - (a - i) / w)
        soft = np.minimum(soft, 1.0)
        # widened ranges, merged when they meet
        spans = []
        lo = max(ranges[0][0] - half, 0)
        for k in range(len(ranges) - 1):
            if ranges[k][1] + half < ranges[k + 1][0] - half:
                spans.append((lo, ranges[k][1] + half))
                lo = ranges[k + 1][0] - half
        spans.append((lo, min(ranges[-1][1] + half, n - 1)))
        area, last_recall = 0.0, 0.0
        for place in places:
            pred = [s >= ranked[place] for s in scores]
            tp = 0.0
            buffer = 0.0
            for i in range(n):
                if pred[i] and labels[i]:
                    tp += 1
                elif pred[i]:
                    tp += soft[i]
                    buffer += soft[i]
            found = sum(any(pred[a : b + 1]) for a, b in spans)
            recall = min(tp / (labels.sum() + buffer / 2), 1.0) * found / len(spans)
            area += (recall - last_recall) * tp / sum(pred)
            last_recall = recall
        areas.append(area)
    return sum(areas) / len(areas)


def naive_auc_pr(labels, scores):
    """Average precision from every distinct threshold, counted point by point."""
    pos = sum(labels)
    area, last = 0.0, 0.0
    for v in sorted(set(scores), reverse=True):
        pred = [s >= v for s in scores]
        tp = sum(p and y for p, y in zip(pred, labels, strict=True))
        recall = tp / pos
        area += (recall - last) * tp / sum(pred)
        last = recall
    return area


def test_auc_pr_by_hand() -> None:
    # ranking: 0.9 (pos), 0.4 (neg), 0.3 (pos) -> precision 1 at recall 1/2, 2/3 at recall 1
    assert auc_pr([0, 0, 1, 1, 0, 0], [0.1, 0.2, 0.9, 0.3, 0.4, 0.0]) == pytest.approx(5 / 6)
    # a tie enters together: precision 1/2 at recall 1
    assert auc_pr([1, 0], [0.5, 0.5]) == 0.5
    assert math.isnan(auc_pr([0, 0], [0.1, 0.2]))


def test_vus_pr_without_buffer_is_range_ap_by_hand() -> None:
    # n = 4, one labelled point; thresholds at places 0, 1, 2, 3 of the ranking 0.9, 0.8, 0.2, 0.1
    labels = [0, 1, 0, 0]
    scores = [0.8, 0.9, 0.1, 0.2]
    # w = 0: place 0 predicts {1}: recall 1, precision 1 -> area 1
    assert vus_pr(labels, scores, max_window=0) == pytest.approx(1.0)
    scores = [0.9, 0.8, 0.1, 0.2]
    # place 0: {0} recall 0; place 1: {0, 1} recall 1, precision 1/2 -> area 1/2
    assert vus_pr(labels, scores, max_window=0) == pytest.approx(0.5)


def test_vus_pr_buffer_by_hand() -> None:
    # range at 2; w = 2 gives point 3 the soft label sqrt(1 - 1/2) and point 1 the same
    labels = [0, 0, 1, 0, 0, 0]
    scores = [0.0, 0.1, 0.5, 0.9, 0.2, 0.3]
    soft = math.sqrt(0.5)
    # w = 0 and w = 1 (half = 0): ranking 0.9, 0.5, 0.3, 0.2, 0.1, 0.0 at places
    # linspace(0, 5, 250) -> every place; recall 0 until 0.5 enters (precision 1/2) -> 1/2
    # w = 2: place 0 predicts {3}: tp = soft, recall = min(soft / (1 + soft / 2), 1) = r1,
    # precision soft; then {3, 2}: recall 1, precision (1 + soft) / 2
    r1 = soft / (1 + soft / 2)
    w2 = r1 * soft + (1 - r1) * (1 + soft) / 2
    assert vus_pr(labels, scores, max_window=2) == pytest.approx((0.5 + 0.5 + w2) / 3)
    assert vus_pr(labels, scores, max_window=2) == pytest.approx(naive_vus_pr(labels, scores, 2))


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_vus_pr_and_auc_pr_match_the_slow_definitions(data) -> None:
    n = data.draw(st.integers(5, 60))
    labels = np.array(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if not labels.any():
        labels[data.draw(st.integers(0, n - 1))] = 1
    scores = np.array(
        data.draw(st.lists(st.sampled_from([0.0, 0.1, 0.5, 0.7, 1.0, 2.0]), min_size=n, max_size=n))
    )
    window = data.draw(st.integers(0, 12))
    assert vus_pr(labels, scores, window) == pytest.approx(
        naive_vus_pr(labels, scores, window), abs=1e-12
    )
    assert auc_pr(labels, scores) == pytest.approx(naive_auc_pr(labels, scores), abs=1e-12)


def test_perfect_and_inverted_scores() -> None:
    labels = np.zeros(500, dtype=int)
    labels[200:220] = 1
    perfect = labels.astype(float)
    assert auc_pr(labels, perfect) == 1.0
    assert vus_pr(labels, perfect) == 1.0
    inverted = 1.0 - perfect
    assert auc_pr(labels, inverted) == pytest.approx(20 / 500)
    assert vus_pr(labels, inverted) < 0.1


def test_inf_scores_rank_first_and_last() -> None:
    labels = [0, 1, 0]
    assert auc_pr(labels, [-np.inf, np.inf, 0.0]) == 1.0
    assert vus_pr(labels, [-np.inf, np.inf, 0.0], max_window=0) == 1.0


def test_bad_input_is_named() -> None:
    with pytest.raises(InvalidInputError, match="must not be NaN; index 1"):
        auc_pr([0, 1], [0.0, np.nan])
    with pytest.raises(InvalidInputError, match="same length"):
        vus_pr([0, 1], [0.0])
    with pytest.raises(InvalidInputError, match="0/1"):
        auc_pr([0, 2], [0.0, 1.0])
    with pytest.raises(InvalidInputError, match="empty"):
        auc_pr([], [])
    with pytest.raises(InvalidParameterError, match="max_window must be an int >= 0"):
        vus_pr([0, 1], [0.0, 1.0], max_window=-1)
    assert math.isnan(vus_pr([0, 0], [0.0, 1.0]))
