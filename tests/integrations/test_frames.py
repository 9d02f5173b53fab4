"""pandas in and out: index kept, exactly the Monitor's results, keyed == each key alone."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from .servers import need

pd = need("pandas")

from oddwatch import KeyedMonitor, Monitor  # noqa: E402
from oddwatch.detectors import RollingZScore  # noqa: E402
from oddwatch.errors import InvalidInputError  # noqa: E402
from oddwatch.frames import OUTPUT_COLUMNS, detect_frame, detect_series  # noqa: E402


def values(n: int = 300, seed: int = 0) -> np.ndarray:
    xs = np.random.default_rng(seed).normal(10, 1, n)
    xs[n - 50] = 30.0 + seed / 100  # distinct per series: see the note in keyed_frame
    return xs


def zscore() -> RollingZScore:
    return RollingZScore(window_size=20)


def assert_matches(out, result, rows=None):
    rows = np.arange(len(result)) if rows is None else rows
    np.testing.assert_array_equal(out["value"].to_numpy()[rows], result.value)
    np.testing.assert_array_equal(out["score"].to_numpy()[rows], result.score)
    np.testing.assert_array_equal(out["threshold"].to_numpy()[rows], result.threshold)
    np.testing.assert_array_equal(out["expected"].to_numpy()[rows], result.expected)
    np.testing.assert_array_equal(out["is_anomaly"].to_numpy()[rows], result.is_anomaly)
    assert out["reason"].to_numpy()[rows].tolist() == [result.reason(i) for i in range(len(result))]


@pytest.mark.parametrize(
    "index",
    [
        pd.date_range("2026-01-01", periods=300, freq="5min", tz="UTC"),
        pd.Index([f"row{i}" for i in range(300)]),
        pd.RangeIndex(100, 400),
    ],
)
def test_series_keeps_its_index_and_equals_the_monitor(index):
    xs = values()
    out = detect_series(pd.Series(xs, index=index), Monitor(zscore()))
    assert out.index.equals(index)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert_matches(out, Monitor(zscore()).update_many(xs))
    assert out["is_anomaly"].iloc[250] and "above" in out["reason"].iloc[250]


def test_chunks_through_one_monitor_equal_one_call():
    xs = values()
    mon = Monitor(zscore())
    parts = [detect_series(pd.Series(xs[a:b]), mon) for a, b in [(0, 1), (1, 120), (120, 300)]]
    whole = detect_series(pd.Series(xs), Monitor(zscore()))
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_invalid_values_follow_the_monitor_policy():
    xs = values()
    xs[10] = np.nan
    out = detect_series(pd.Series(xs), Monitor(zscore(), on_invalid="flag"))
    assert out["is_anomaly"].iloc[10] and out["reason"].iloc[10] == "missing value"
    with pytest.raises(InvalidInputError, match="values must be finite numbers"):
        detect_series(pd.Series(xs), Monitor(zscore()))


def keyed_frame():
    """Three hosts interleaved, rows shuffled (the time column gives the real order).

    Their spikes differ: KeyedResult.reason(i) compares a point with the previous point of the
    batch, whatever its key, so equal consecutive values of two keys read as "stuck" (a core
    bug, reported; not worked around here).
    """
    rng = np.random.default_rng(1)
    rows = []
    for host in "abc":
        xs = values(200, seed=ord(host))
        rows += [{"time": t * 60.0, "host": host, "cpu": x} for t, x in enumerate(xs)]
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=3)
    frame.index = pd.Index(rng.permutation(len(frame)) + 1000)
    return frame


def test_keyed_frame_equals_each_key_alone_in_time_order():
    frame = keyed_frame()
    out = detect_frame(frame, "cpu", key="host", time="time", monitor=KeyedMonitor(zscore()))
    assert out.index.equals(frame.index)
    assert out["host"].tolist() == frame["host"].tolist()
    for host in "abc":
        mine = frame[frame["host"] == host].sort_values("time", kind="stable")
        alone = Monitor(zscore()).update_many(mine["cpu"].to_numpy())
        assert_matches(out.loc[mine.index], alone)
        assert out.loc[mine.index, "is_anomaly"].iloc[150]


def test_unkeyed_frame_in_time_order():
    xs = values()
    frame = pd.DataFrame({"t": np.arange(300), "v": xs}).iloc[::-1]
    out = detect_frame(frame, "v", time="t", monitor=Monitor(zscore()))
    assert out.index.equals(frame.index)
    assert_matches(out, Monitor(zscore()).update_many(xs), rows=np.arange(299, -1, -1))
    rows_order = detect_frame(frame, "v", monitor=Monitor(zscore()))
    assert_matches(rows_order, Monitor(zscore()).update_many(xs[::-1]))


def test_accessors():
    frame = keyed_frame()
    via_accessor = frame.oddwatch.detect("cpu", key="host", time="time")
    pd.testing.assert_frame_equal(via_accessor, detect_frame(frame, "cpu", "host", "time"))
    s = pd.Series(values())
    pd.testing.assert_frame_equal(s.oddwatch.detect(), detect_series(s))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda f: detect_frame(f, "nope"), r"no value column 'nope' in the frame; its columns"),
        (lambda f: detect_frame(f, "cpu", key="k"), "no key column 'k'"),
        (lambda f: detect_frame(f, "cpu", key="host", monitor=Monitor()), "must be a KeyedMonitor"),
        (lambda f: detect_frame(f, "cpu", monitor=KeyedMonitor()), "must be a Monitor"),
        (lambda f: detect_frame(f["cpu"], "cpu"), "needs a pandas DataFrame; got Series"),
        (lambda f: detect_series(f, Monitor()), "needs a pandas Series; got DataFrame"),
    ],
)
def test_errors(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call(keyed_frame())


def test_missing_time_is_an_error():
    frame = pd.DataFrame({"t": [1.0, None, 3.0], "v": [1.0, 2.0, 3.0]})
    with pytest.raises(InvalidInputError, match="time column has a missing value at row 1"):
        detect_frame(frame, "v", time="t")


def test_missing_pandas_names_the_extra(monkeypatch):
    monkeypatch.delitem(sys.modules, "oddwatch.frames")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"pip install 'oddwatch\[pandas\]'"):
        importlib.import_module("oddwatch.frames")
