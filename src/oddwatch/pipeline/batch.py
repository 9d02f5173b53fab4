"""Output batches from Monitor results: what a sink receives for a chunk of points.

:func:`output_batch` turns a :class:`~oddwatch.MonitorResult` (or a
:class:`~oddwatch.KeyedResult`) into an :class:`~oddwatch.sinks.OutputBatch`, building reason
texts for the flagged points and those the warm-up left unscored. :func:`chunk_batch` does
the same for one parsed chunk of records after validation: valid records carry the Monitor's
verdict, invalid ones flagged under ``on_invalid="flag"`` carry "invalid record (problem):
detail", skipped ones are left out.

Examples
--------
>>> import numpy as np
>>> from oddwatch import Monitor
>>> result = Monitor().update_many(np.arange(3.0))
>>> batch = output_batch(result, seq=np.array([10, 11, 12]))
>>> batch.seq.tolist(), batch.is_anomaly.tolist()
([10, 11, 12], [False, False, False])
>>> batch.reason[0]
'warming up: no score until the detector has learned 64 points'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oddwatch.sinks import OutputBatch
from oddwatch.sources import Records
from oddwatch.sources.records import Checked

__all__ = ["chunk_batch", "output_batch"]


def _reasons(result: Any, n: int, where: Any = None) -> list[str]:
    """Reason texts of a result's flagged and warming-up points ("" elsewhere), at ``where``
    in ``n`` slots."""
    reason = [""] * n
    for j in np.flatnonzero(result.is_anomaly | result.warming_up).tolist():
        reason[j if where is None else int(where[j])] = result.reason(j)
    return reason


def output_batch(
    result: Any,
    *,
    seq: NDArray[np.int64] | None = None,
    timestamp: Sequence[str] | None = None,
    key: NDArray[np.str_] | None = None,
) -> OutputBatch:
    """The output records of a Monitor (or KeyedMonitor) result, one per point.

    Parameters
    ----------
    result
        What ``Monitor.update_many`` or ``KeyedMonitor.update_many`` returned.
    seq
        The points' sequence numbers (default ``0 .. n-1``).
    timestamp
        The points' timestamps as text, if any.
    key
        The points' series keys (default: the result's own ``key`` when it has one).

    Examples
    --------
    >>> import numpy as np
    >>> from oddwatch import KeyedMonitor
    >>> result = KeyedMonitor().update_many(["a", "b"], [1.0, 2.0])
    >>> output_batch(result, timestamp=["t0", "t1"]).key.tolist()
    ['a', 'b']
    """
    n = len(result)
    if key is None:
        key = getattr(result, "key", None)
    return OutputBatch(
        seq=np.arange(n, dtype=np.int64) if seq is None else np.asarray(seq, dtype=np.int64),
        value=result.value,
        score=result.score,
        threshold=result.threshold,
        is_anomaly=np.asarray(result.is_anomaly, dtype=bool),
        reason=_reasons(result, n),
        key=None if key is None else np.asarray(key, dtype=str),
        timestamp=timestamp,
        expected=result.expected,
        scale=result.scale,
    )


def chunk_batch(records: Records, checked: Checked, result: Any) -> OutputBatch:
    """The output records of one validated chunk: valid ones with the Monitor's verdict
    (``result`` covers exactly the accepted records, in order; None when there are none),
    flagged invalid ones with their problem, skipped ones left out.

    Examples
    --------
    >>> import numpy as np
    >>> from oddwatch.sources import Records, Validator
    >>> records = Records(line=np.arange(1, 4), value=np.array([1.0, np.nan, 2.0]), end=0,
    ...                   problem=np.array([0, 3, 0], dtype=np.uint8), detail={1: "value 'x'"})
    >>> checked = Validator("flag").check(records)
    >>> batch = chunk_batch(records, checked, None)
    >>> batch.is_anomaly.tolist(), batch.reason[1]
    ([False, True, False], "invalid record (not_numeric): value 'x'")
    """
    n = checked.accepted.shape[0]
    value = records.value[:n]
    score = np.full(n, np.nan)
    threshold = np.full(n, np.nan)
    expected = np.full(n, np.nan)
    scale = np.full(n, np.nan)
    is_anomaly = checked.flagged.copy()
    keep = np.flatnonzero(checked.accepted)
    if result is not None and keep.shape[0]:
        score[keep], threshold[keep] = result.score, result.threshold
        expected[keep], scale[keep] = result.expected, result.scale
        is_anomaly[keep] = result.is_anomaly
        reason = _reasons(result, n, keep)
    else:
        reason = [""] * n
    for i in np.flatnonzero(checked.flagged).tolist():
        reason[i] = checked.reason(i)
    key = None if records.key is None else records.key[:n]
    timestamp = None if records.time_text is None else records.time_text[:n]
    batch = OutputBatch(
        checked.seq, value, score, threshold, is_anomaly, reason, key, timestamp, expected, scale
    )
    shown = checked.accepted | checked.flagged
    return batch if shown.all() else batch.select(shown)
