"""Score one bucket's rows of one micro-batch: the pandas side of :func:`detect_stream`.

Spark calls :func:`score_bucket` once per bucket and micro-batch with that bucket's rows (as
pandas frames with columns ``key``, ``timestamp``, ``value``) and the bucket's state blob from
the previous batch (``None`` at the first). The rows are put in event-time order (a stable
sort on ``timestamp``, ties broken by ``value`` so the result never depends on the order rows
arrive in from the shuffle), scored by the bucket's :class:`~oddwatch.KeyedMonitor` in one
``update_many`` call, and returned as output records with the new state blob. Nothing here
imports pyspark, so it is tested without a JVM.

Rows without a key or timestamp cannot be placed in a series: they follow ``on_invalid`` like
non-finite values (``"raise"`` fails the batch, ``"skip"`` returns them unscored and
unflagged, ``"flag"`` returns them flagged); they never reach the monitor.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from oddwatch.errors import InvalidInputError
from oddwatch.keyed import KeyedMonitor
from oddwatch.persist import decode_params
from oddwatch.spark._state import decode_monitor, encode_monitor

__all__ = ["OUTPUT_COLUMNS", "score_bucket"]

OUTPUT_COLUMNS = ("key", "timestamp", "value", "score", "is_anomaly", "threshold", "reason")


def score_bucket(
    spec: Mapping[str, Any], buckets: int, frames: Iterable[Any], blob: bytes | None
) -> tuple[Any, bytes]:
    """Output records for one bucket's rows, and the bucket's new state blob.

    Parameters
    ----------
    spec
        The template monitor as :func:`~oddwatch.spark._state.monitor_spec` gives it.
    buckets
        The query's bucket count, stored in and checked against the blob.
    frames
        pandas DataFrames with columns ``key``, ``timestamp`` and ``value``.
    blob
        The bucket's state from the previous micro-batch, or ``None`` for a new bucket.

    Examples
    --------
    >>> import pandas as pd
    >>> from oddwatch import KeyedMonitor
    >>> from oddwatch.detectors import RollingZScore
    >>> from oddwatch.spark._state import monitor_spec
    >>> spec = monitor_spec(KeyedMonitor(RollingZScore(window_size=2)))
    >>> rows = pd.DataFrame({"key": ["a"] * 4, "timestamp": [3, 1, 2, 4],
    ...                      "value": [2.0, 1.0, 3.0, 9.0]})
    >>> out, blob = score_bucket(spec, 1, [rows], None)
    >>> out["timestamp"].tolist(), out["score"].round(2).tolist()
    ([1, 2, 3, 4], [nan, nan, 0.0, 13.0])
    """
    import pandas as pd

    parts = [f for f in frames if len(f)]
    if not parts:
        frame = pd.DataFrame({"key": [], "timestamp": [], "value": []})
    else:
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    if blob is None:
        monitor = decode_params(spec, "detect_stream")
        assert isinstance(monitor, KeyedMonitor)
    else:
        monitor = decode_monitor(blob, spec, buckets)
    if not len(frame):
        return pd.DataFrame({c: [] for c in OUTPUT_COLUMNS}), encode_monitor(monitor, buckets)
    missing = (frame["key"].isna() | frame["timestamp"].isna()).to_numpy()
    placed = np.flatnonzero(~missing)
    values = frame["value"].to_numpy(dtype=np.float64, na_value=np.nan)
    times = frame["timestamp"].to_numpy()[placed]
    order = placed[np.lexsort((values[placed], times))]
    keys = frame["key"].to_numpy()[order].astype(str)
    result = monitor.update_many(keys, values[order])
    reason = np.full(len(result), "", dtype=object)
    for i in np.flatnonzero(result.is_anomaly | result.warming_up):  # as `oddwatch detect`
        reason[i] = result.reason(int(i))
    scored = pd.DataFrame(
        {
            "key": keys.astype(object),
            "timestamp": frame["timestamp"].iloc[order].to_numpy(),
            "value": result.value,
            "score": result.score,
            "is_anomaly": result.is_anomaly,
            "threshold": result.threshold,
            "reason": reason,
        }
    )
    if missing.any():
        scored = pd.concat([scored, _unplaced(frame[missing], monitor.on_invalid)])
    return scored.reset_index(drop=True), encode_monitor(monitor, buckets)


def _unplaced(rows: Any, on_invalid: str) -> Any:
    """Rows without key or timestamp, as output records under the ``on_invalid`` policy."""
    if on_invalid == "raise":
        first = rows.iloc[:1].to_dict("records")[0]
        raise InvalidInputError(
            f"detect_stream got {len(rows)} row(s) without a key or timestamp (first: {first});"
            " every row needs both. Filter them out, or use KeyedMonitor(on_invalid='skip' or"
            " 'flag')."
        )
    flag = on_invalid == "flag"
    no_key = rows["key"].isna().to_numpy()
    reason = np.where(no_key, "missing key", "missing timestamp") if flag else ""
    return rows.assign(
        value=rows["value"].astype(np.float64),
        score=np.nan,
        is_anomaly=flag,
        threshold=np.nan,
        reason=reason,
    )[list(OUTPUT_COLUMNS)]
