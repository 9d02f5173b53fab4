"""pandas in and out: a Series or a DataFrame through a Monitor / KeyedMonitor, index kept.

:func:`detect_series` scores a Series (one series); :func:`detect_frame` a DataFrame with a
value column and optionally a key column (one series per key, through a KeyedMonitor) and a
time column (rows are fed in time order, stable within equal times; without one, in row
order). Both return a DataFrame with the input's index and the columns ``value``, ``score``,
``is_anomaly``, ``threshold``, ``expected`` and ``reason`` (plus the key column when keyed),
rows in the input's order. Importing this module also registers the accessors
``series.oddwatch.detect()`` and ``frame.oddwatch.detect(value=..., key=..., time=...)``.
Needs pandas (``pip install 'oddwatch[pandas]'``).

The monitor passed in learns the rows (call again with later rows to continue); by default a
fresh ``Monitor()`` / ``KeyedMonitor()`` is used.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from oddwatch.detectors import RollingZScore
>>> index = pd.date_range("2026-01-01", periods=6, freq="min")
>>> s = pd.Series([1.0, 2.0, 1.0, 2.0, 1.5, 9.0], index=index, name="cpu")
>>> out = s.oddwatch.detect(Monitor(RollingZScore(window_size=4)))
>>> out[["score", "is_anomaly"]].round(2).iloc[-2:]
                     score  is_anomaly
2026-01-01 00:04:00   0.00       False
2026-01-01 00:05:00  17.79        True
>>> out["reason"].iloc[-1]
'score 17.79 is above the threshold 4'
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oddwatch.errors import InvalidInputError
from oddwatch.keyed import KeyedMonitor
from oddwatch.monitor import Monitor, MonitorResult

try:
    import pandas as pd
except ImportError:  # pragma: no cover - exercised in tests/integrations/test_frames.py
    raise ImportError(
        "oddwatch.frames needs pandas, which is not installed. "
        "Install it with: pip install 'oddwatch[pandas]'"
    ) from None

__all__ = ["OUTPUT_COLUMNS", "detect_frame", "detect_series"]

OUTPUT_COLUMNS = ("value", "score", "is_anomaly", "threshold", "expected", "reason")


def _output(result: MonitorResult, index: Any, order: Any = None) -> pd.DataFrame:
    """The result as columns; ``order[i]`` is the input row of result entry ``i``."""
    columns: dict[str, Any] = {
        "value": result.value,
        "score": result.score,
        "is_anomaly": result.is_anomaly,
        "threshold": result.threshold,
        "expected": result.expected,
        "reason": np.array([result.reason(i) for i in range(len(result))], dtype=object),
    }
    if order is not None:
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.shape[0])
        columns = {name: column[inverse] for name, column in columns.items()}
    return pd.DataFrame(columns, index=index)


def detect_series(series: Any, monitor: Monitor | None = None) -> pd.DataFrame:
    """Score a Series in order; the result keeps its index.

    Examples
    --------
    >>> out = detect_series(pd.Series([1.0, 2.0], index=["a", "b"]))
    >>> out.index.tolist(), out.columns.tolist()
    (['a', 'b'], ['value', 'score', 'is_anomaly', 'threshold', 'expected', 'reason'])
    """
    if not isinstance(series, pd.Series):
        raise InvalidInputError(
            f"detect_series needs a pandas Series; got {type(series).__name__}. "
            "For a DataFrame use detect_frame(frame, value='column')."
        )
    engine = Monitor() if monitor is None else monitor
    return _output(engine.update_many(series.to_numpy()), series.index)


def _column(frame: pd.DataFrame, name: str | None, role: str) -> Any:
    if name is None:
        return None
    if name not in frame.columns:
        raise InvalidInputError(
            f"detect_frame: no {role} column {name!r} in the frame; its columns are "
            f"{list(frame.columns)}."
        )
    return frame[name]


def _time_order(times: Any) -> Any:
    """A stable permutation sorting rows by time; None when the rows are already in order."""
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise InvalidInputError(
            f"detect_frame: the time column has a missing value at row {row}; every row "
            "needs a time to be put in order. Drop or fill those rows first."
        )
    if times.is_monotonic_increasing:
        return None
    return np.argsort(times.to_numpy(), kind="stable")


def detect_frame(
    frame: Any,
    value: str,
    key: str | None = None,
    time: str | None = None,
    monitor: Monitor | KeyedMonitor | None = None,
) -> pd.DataFrame:
    """Score the ``value`` column of a DataFrame, one series per ``key`` if given.

    Rows are fed in ``time`` order (stable), else in row order; the result has the frame's
    index and row order, and the ``key`` column when keyed. ``monitor`` must be a
    KeyedMonitor when ``key`` is given and a Monitor otherwise (default: a fresh one).

    Examples
    --------
    >>> frame = pd.DataFrame({"t": [2, 1, 3], "host": ["a", "a", "b"], "cpu": [5., 4., 1.]})
    >>> detect_frame(frame, "cpu", key="host", time="t")[["host", "value"]]
      host  value
    0    a    5.0
    1    a    4.0
    2    b    1.0
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(
            f"detect_frame needs a pandas DataFrame; got {type(frame).__name__}. "
            "For a Series use detect_series(series)."
        )
    values = _column(frame, value, "value")
    keys = _column(frame, key, "key")
    times = _column(frame, time, "time")
    expected_type = KeyedMonitor if key is not None else Monitor
    engine = expected_type() if monitor is None else monitor
    if not isinstance(engine, expected_type):
        raise InvalidInputError(
            f"detect_frame: with key={key!r} the monitor must be a {expected_type.__name__}; "
            f"got {type(engine).__name__}."
        )
    order = None if times is None else _time_order(times)
    rows = values.to_numpy() if order is None else values.to_numpy()[order]
    if isinstance(engine, KeyedMonitor):
        key_values = keys.astype(str).to_numpy()
        result: MonitorResult = engine.update_many(
            key_values if order is None else key_values[order], rows
        )
    else:
        result = engine.update_many(rows)
    out = _output(result, frame.index, order)
    if key is not None:
        out.insert(0, key, keys.to_numpy())
    return out


@pd.api.extensions.register_series_accessor("oddwatch")
class SeriesAccessor:
    """``series.oddwatch.detect(monitor=None)``: :func:`detect_series` as a method."""

    def __init__(self, series: pd.Series) -> None:
        self._series = series

    def detect(self, monitor: Monitor | None = None) -> pd.DataFrame:
        return detect_series(self._series, monitor)


@pd.api.extensions.register_dataframe_accessor("oddwatch")
class FrameAccessor:
    """``frame.oddwatch.detect(value, key=None, time=None, monitor=None)``: :func:`detect_frame`.

    Examples
    --------
    >>> frame = pd.DataFrame({"cpu": [0.5, 0.7]})
    >>> frame.oddwatch.detect("cpu").columns.tolist()
    ['value', 'score', 'is_anomaly', 'threshold', 'expected', 'reason']
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def detect(
        self,
        value: str,
        key: str | None = None,
        time: str | None = None,
        monitor: Monitor | KeyedMonitor | None = None,
    ) -> pd.DataFrame:
        return detect_frame(self._frame, value, key, time, monitor)
