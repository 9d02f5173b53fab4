"""Threshold-free ranking metrics of scores against point labels: AUC-PR and VUS-PR.

:func:`auc_pr` is the area under the precision-recall curve as average precision (the step sum
``sum_k (R_k - R_{k-1}) P_k`` over the distinct score values, highest first; scikit-learn's
``average_precision_score``). :func:`vus_pr` is the *volume under the range-PR surface* of
Paparrizos et al. (VLDB 2022), the headline metric of the TSB-AD benchmark (Liu & Paparrizos,
NeurIPS 2024), computed as TSB-AD 1.5 does in ``get_metrics`` (``version="opt"``,
``thre=250``); the definition is spelled out in :func:`vus_pr`.

Both are means over one series; a corpus figure is the mean over its series (TSB-AD's rule).
Both reward ranking the labelled points above the others and ignore the score's scale.

Examples
--------
>>> labels = [0, 0, 1, 1, 0, 0]
>>> round(auc_pr(labels, [0.1, 0.2, 0.9, 0.3, 0.4, 0.0]), 4)
0.8333
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oddwatch.errors import InvalidInputError, InvalidParameterError

__all__ = ["VUS_THRESHOLDS", "anomaly_ranges", "auc_pr", "vus_pr"]

VUS_THRESHOLDS = 250
"""Thresholds per precision-recall curve in :func:`vus_pr`, as TSB-AD's ``thre``."""


def _labels_scores(
    labels: ArrayLike, scores: ArrayLike
) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    truth = np.asarray(labels)
    score = np.asarray(scores, dtype=np.float64)
    if truth.ndim != 1 or score.ndim != 1 or truth.shape != score.shape:
        raise InvalidInputError(
            f"labels and scores must be 1-D arrays of the same length; got shapes {truth.shape} "
            f"and {score.shape}."
        )
    if truth.size == 0:
        raise InvalidInputError("labels and scores are empty; pass at least one point.")
    if np.isnan(score).any():
        bad = int(np.flatnonzero(np.isnan(score))[0])
        raise InvalidInputError(
            f"scores must not be NaN; index {bad} is NaN. Map warm-up NaN to the lowest score "
            "first (e.g. np.nan_to_num(scores, nan=-np.inf))."
        )
    if not np.isin(truth, (0, 1)).all():
        raise InvalidInputError("labels must be 0/1 or booleans.")
    return truth.astype(np.bool_), score


def anomaly_ranges(labels: ArrayLike) -> list[tuple[int, int]]:
    """The maximal runs of truthy labels, as inclusive ``(start, end)`` pairs.

    Examples
    --------
    >>> anomaly_ranges([1, 1, 0, 0, 1, 0, 1])
    [(0, 1), (4, 4), (6, 6)]
    """
    truth = np.asarray(labels) != 0
    edges = np.diff(np.concatenate(([False], truth, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    return [(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def auc_pr(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the precision-recall curve of `scores` (average precision).

    Points are ranked by score, highest first; at each distinct score value ``v``, precision
    ``P`` and recall ``R`` count the points scoring ``>= v`` (tied points enter together).
    Returns ``sum_k (R_k - R_{k-1}) P_k``, or ``nan`` when no label is set.

    Parameters
    ----------
    labels
        1-D 0/1 or boolean, one per point.
    scores
        1-D floats, higher is more anomalous; no NaN (``inf`` is allowed).

    Raises
    ------
    InvalidInputError
        Shapes differ, arrays are empty, a score is NaN or a label is not 0/1.

    Examples
    --------
    >>> auc_pr([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.5])
    1.0
    >>> round(auc_pr([1, 0, 0, 1], [0.1, 0.8, 0.3, 0.5]), 4)
    0.5
    """
    truth, score = _labels_scores(labels, scores)
    n_pos = int(truth.sum())
    if n_pos == 0:
        return math.nan
    order = np.argsort(-score, kind="stable")
    ranked, hits = score[order], truth[order]
    last_of_tie = np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
    tp = np.cumsum(hits)[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _merged_spans(ranges: list[tuple[int, int]], half: int, n: int) -> list[tuple[int, int]]:
    """TSB-AD's ``new_sequence``: ranges widened by `half` each side, merged when they meet."""
    spans = []
    start = max(ranges[0][0] - half, 0)
    for (_, end), (next_start, _) in zip(ranges[:-1], ranges[1:], strict=True):
        if end + half < next_start - half:
            spans.append((start, end + half))
            start = next_start - half
    spans.append((start, min(ranges[-1][1] + half, n - 1)))
    return spans


def _ramp(
    ranges: list[tuple[int, int]], window: int, n: int, truth: NDArray[np.bool_]
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Positions and weights of the soft labels beside the ranges (TSB-AD's ``sequencing``)."""
    half = window // 2
    weight: dict[int, float] = {}
    for start, end in ranges:
        for i in range(end + 1, min(end + half + 1, n)):
            weight[i] = weight.get(i, 0.0) + math.sqrt(1.0 - (i - end) / window)
        for i in range(max(start - half, 0), start):
            weight[i] = weight.get(i, 0.0) + math.sqrt(1.0 - (start - i) / window)
    positions = np.array([i for i in weight if not truth[i]], dtype=np.intp)
    values = np.array([min(weight[i], 1.0) for i in positions.tolist()], dtype=np.float64)
    return positions, values


def vus_pr(labels: ArrayLike, scores: ArrayLike, max_window: int = 100) -> float:
    """Volume under the range-precision-recall surface: the mean of range AUC-PR over windows.

    For each buffer width ``w = 0, 1, ..., max_window``, every labelled range gets soft labels
    ``sqrt(1 - d / w)`` on the ``w // 2`` points on each side (``d`` = distance to the range;
    summed where two buffers meet, capped at 1). At each of 250 thresholds (the scores ranked
    ``linspace(0, n - 1, 250)`` places from the top; a point is predicted when its score is at
    least the threshold), with ``A`` = predicted labelled points, ``B`` = the summed soft labels of
    predicted buffer points, ``P`` = labelled points and ``E`` = share of widened ranges
    (merged when they touch) holding a prediction:

    * precision = ``(A + B) / predicted points``,
    * recall = ``min((A + B) / (P + B / 2), 1) * E``,

    and the range AUC-PR is ``sum_j (recall_j - recall_{j-1}) precision_j`` with
    ``recall_0 = 0``. This is TSB-AD 1.5's ``RangeAUC_volume_opt`` (with its ``tp`` term, which
    is always zero there, left out), vectorised: the buffers are sums over a few points, so the
    cost is one sort of the scores plus ``O(max_window * 250 * buffer points)``.

    Parameters
    ----------
    labels
        1-D 0/1 or boolean, one per point.
    scores
        1-D floats, higher is more anomalous; no NaN.
    max_window
        Largest buffer width (TSB-AD's ``slidingWindow``; its ``get_metrics`` default is 100,
        its benchmark passes a period estimate of each series).

    Returns
    -------
    float
        In [0, 1]; ``nan`` when no label is set.

    Raises
    ------
    InvalidInputError
        Shapes differ, arrays are empty, a score is NaN or a label is not 0/1.
    InvalidParameterError
        `max_window` is not an int >= 0.

    Examples
    --------
    >>> labels = np.zeros(1000, dtype=int)
    >>> labels[500:510] = 1
    >>> scores = np.zeros(1000)
    >>> scores[505:515] = 1.0  # half of the range found, 5 points late
    >>> auc_pr(labels, scores), vus_pr(labels, scores, max_window=0)
    (0.255, 0.255)
    >>> round(vus_pr(labels, scores), 3)  # the buffers credit the late points
    0.75
    """
    if (
        isinstance(max_window, bool)
        or not isinstance(max_window, (int, np.integer))
        or (max_window < 0)
    ):
        raise InvalidParameterError(
            f"max_window must be an int >= 0 (points of buffer around each range); got "
            f"{max_window!r}."
        )
    truth, score = _labels_scores(labels, scores)
    n = score.shape[0]
    ranges = anomaly_ranges(truth)
    if not ranges:
        return math.nan
    ascending = np.sort(score)
    thresholds = ascending[::-1][np.linspace(0, n - 1, VUS_THRESHOLDS).astype(int)]
    n_pred = n - np.searchsorted(ascending, thresholds, side="left")
    labelled = np.sort(score[truth])
    hits = labelled.shape[0] - np.searchsorted(labelled, thresholds, side="left")
    n_pos = float(labelled.shape[0])
    areas = np.empty(int(max_window) + 1)
    for window in range(int(max_window) + 1):
        positions, weights = _ramp(ranges, window, n, truth)
        predicted = score[positions][None, :] >= thresholds[:, None]
        buffer = predicted.astype(np.float64) @ weights
        spans = _merged_spans(ranges, window // 2, n)
        peaks = np.array([score[a : b + 1].max() for a, b in spans])
        existence = (peaks[None, :] >= thresholds[:, None]).sum(axis=1) / len(spans)
        tp = hits + buffer
        recall = np.minimum(tp / (n_pos + buffer / 2.0), 1.0) * existence
        precision = tp / n_pred
        areas[window] = np.sum(np.diff(np.r_[0.0, recall]) * precision)
    return float(areas.mean())
