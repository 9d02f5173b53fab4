"""Event-level precision, recall, F1 and delay of flags against labelled anomalies.

An *event* is a maximal run of truthy labels (or a NAB window). An event is detected when at
least one flag falls in its extended span (the event plus `tolerance` points after it); the
delay is the distance from the event's first point to its first such flag. Precision is per
flag: the share of flags that fall inside any extended span, so flagging everything is punished.

Conventions for empty cases: with no flags, precision is 1.0 if there are no events either and
0.0 otherwise; with no events, recall is 1.0; F1 is 0.0 when precision and recall are both 0.

Examples
--------
>>> m = event_metrics([0, 1, 1, 0, 0, 0], [0, 0, 1, 0, 1, 0])
>>> m.precision, m.recall, m.mean_delay
(0.5, 1.0, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from oddwatch.errors import InvalidInputError, InvalidParameterError

__all__ = ["EventMetrics", "event_metrics", "window_metrics"]


@dataclass(frozen=True)
class EventMetrics:
    """Event-level scores of a flag sequence against labelled events.

    Parameters
    ----------
    precision
        Flags inside an event's extended span / all flags.
    recall
        Detected events / events.
    f1
        Harmonic mean of precision and recall.
    n_events
        Number of labelled events.
    n_detected_events
        Events with at least one flag in their extended span.
    n_flags
        Number of flags.
    n_true_flags
        Flags inside at least one extended span.
    mean_delay
        Mean, over detected events, of points from the event's start to its first flag;
        nan when no event is detected.

    Examples
    --------
    >>> event_metrics([0, 1, 0], [0, 1, 0]).as_dict()["f1"]
    1.0
    """

    precision: float
    recall: float
    f1: float
    n_events: int
    n_detected_events: int
    n_flags: int
    n_true_flags: int
    mean_delay: float

    @classmethod
    def from_counts(
        cls, n_events: int, n_detected: int, n_flags: int, n_true: int, mean_delay: float
    ) -> EventMetrics:
        """Precision, recall and F1 from the counts, with the empty-case conventions above.

        Examples
        --------
        >>> m = EventMetrics.from_counts(n_events=4, n_detected=3, n_flags=5, n_true=4,
        ...                              mean_delay=2.0)
        >>> m.precision, m.recall, round(m.f1, 3)
        (0.8, 0.75, 0.774)
        """
        if n_flags:
            precision = n_true / n_flags
        else:
            precision = 1.0 if n_events == 0 else 0.0
        recall = n_detected / n_events if n_events else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return cls(
            precision=precision,
            recall=recall,
            f1=f1,
            n_events=n_events,
            n_detected_events=n_detected,
            n_flags=n_flags,
            n_true_flags=n_true,
            mean_delay=mean_delay,
        )

    def as_dict(self) -> dict[str, float | int]:
        """The metrics as a plain dict, in field order.

        Examples
        --------
        >>> list(event_metrics([1], [1]).as_dict())[:3]
        ['precision', 'recall', 'f1']
        """
        return asdict(self)


def _as_binary(name: str, values: ArrayLike) -> NDArray[np.bool_]:
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a 1-D array of 0/1 or booleans.") from None
    if arr.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D; got shape {arr.shape}.")
    if arr.dtype != np.bool_ and not np.issubdtype(arr.dtype, np.number):
        raise InvalidInputError(
            f"{name} must be numeric or boolean; got dtype {arr.dtype}. Pass 0/1 or booleans."
        )
    if np.issubdtype(arr.dtype, np.inexact) and not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InvalidInputError(f"{name} must be finite; index {bad} is {arr[bad]}.")
    return np.asarray(arr != 0, dtype=np.bool_)


def _check_tolerance(tolerance: int) -> None:
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, np.integer)) or tolerance < 0:
        raise InvalidParameterError(
            f"tolerance must be an int >= 0 (points allowed after an event); got {tolerance!r}."
        )


def _metrics(
    starts: NDArray[np.intp], ends: NDArray[np.intp], flags: NDArray[np.bool_]
) -> EventMetrics:
    """Metrics for events with inclusive extended spans ``starts[k] .. ends[k]``."""
    flagged = np.flatnonzero(flags)
    first = np.searchsorted(flagged, starts)  # first flag at or after each start
    detected = np.zeros(len(starts), dtype=np.bool_)
    if len(flagged):
        first = np.minimum(first, len(flagged) - 1)
        detected = (flagged[first] >= starts) & (flagged[first] <= ends)
    coverage = np.zeros(len(flags) + 1, dtype=np.int64)
    np.add.at(coverage, starts, 1)
    np.add.at(coverage, ends + 1, -1)
    inside = np.cumsum(coverage[:-1]) > 0
    n_detected = int(np.count_nonzero(detected))
    delays = flagged[first[detected]] - starts[detected]
    return EventMetrics.from_counts(
        n_events=len(starts),
        n_detected=n_detected,
        n_flags=len(flagged),
        n_true=int(np.count_nonzero(inside[flagged])),
        mean_delay=float(np.mean(delays)) if n_detected else math.nan,
    )


def event_metrics(labels: ArrayLike, flags: ArrayLike, tolerance: int = 0) -> EventMetrics:
    """Event precision, recall, F1 and delay of `flags` against runs of truthy `labels`.

    Parameters
    ----------
    labels
        1-D 0/1 (or boolean) ground truth; each maximal run of truthy values is one event.
    flags
        1-D 0/1 (or boolean) detections, same length as `labels`.
    tolerance
        Points after an event's last point where a flag still detects it (and is not false).

    Raises
    ------
    InvalidInputError
        The arrays are not 1-D, not the same length, non-numeric or contain NaN/inf.

    Examples
    --------
    >>> labels = [0, 1, 1, 0, 0, 0, 1, 0, 0]
    >>> flags = [0, 0, 0, 1, 0, 0, 0, 0, 1]
    >>> event_metrics(labels, flags).recall
    0.0
    >>> m = event_metrics(labels, flags, tolerance=1)
    >>> m.recall, m.precision, m.mean_delay
    (0.5, 0.5, 2.0)
    """
    truth = _as_binary("labels", labels)
    fired = _as_binary("flags", flags)
    if len(truth) != len(fired):
        raise InvalidInputError(
            f"labels and flags must have the same length; got {len(truth)} and {len(fired)}."
        )
    _check_tolerance(tolerance)
    edges = np.diff(np.concatenate(([False], truth, [False])).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.minimum(np.flatnonzero(edges == -1) - 1 + int(tolerance), len(truth) - 1)
    return _metrics(starts, ends, fired)


def window_metrics(
    windows: Sequence[tuple[int, int]], flags: ArrayLike, tolerance: int = 0
) -> EventMetrics:
    """Event metrics with NAB-style windows (inclusive row ranges) as the events.

    Same definitions as :func:`event_metrics`; windows may touch or overlap.

    Parameters
    ----------
    windows
        ``(start_row, end_row)`` pairs, inclusive, inside ``0 .. len(flags) - 1``.
    flags
        1-D 0/1 (or boolean) detections.
    tolerance
        Points after a window's end where a flag still detects it.

    Examples
    --------
    >>> m = window_metrics([(2, 4), (7, 8)], [0, 1, 0, 1, 0, 0, 0, 0, 0, 1])
    >>> m.n_detected_events, m.n_true_flags, round(m.f1, 3)
    (1, 1, 0.4)
    """
    fired = _as_binary("flags", flags)
    _check_tolerance(tolerance)
    pairs = np.asarray(windows) if len(windows) else np.zeros((0, 2), dtype=np.int64)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise InvalidInputError(
            f"windows must be a sequence of (start, end) integer pairs; got an array of shape "
            f"{pairs.shape} and dtype {pairs.dtype}."
        )
    bad = np.flatnonzero(
        (pairs[:, 0] < 0) | (pairs[:, 0] > pairs[:, 1]) | (pairs[:, 1] >= len(fired))
    )
    if bad.size:
        a, b = pairs[bad[0]]
        raise InvalidInputError(
            f"window {bad[0]} is ({a}, {b}); windows must be inclusive (start, end) rows with "
            f"0 <= start <= end < {len(fired)} (the length of flags)."
        )
    ends = np.minimum(pairs[:, 1] + int(tolerance), len(fired) - 1)
    return _metrics(pairs[:, 0].astype(np.intp), ends.astype(np.intp), fired)
