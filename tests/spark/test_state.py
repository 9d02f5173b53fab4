"""Bucket state blobs and the per-bucket scoring step, without a JVM."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from oddwatch import KeyedMonitor
from oddwatch.detectors import RollingZScore
from oddwatch.errors import CheckpointError, InvalidInputError
from oddwatch.spark._bucket import OUTPUT_COLUMNS, score_bucket
from oddwatch.spark._state import MAGIC, decode_monitor, encode_monitor, monitor_spec

from ._data import keyed_detectors

pytest.importorskip("pandas")

DETECTORS = [pytest.param(d, id=type(d).__name__) for d in keyed_detectors()]


def stream(n=400, n_keys=7, seed=0):
    rng = np.random.default_rng(seed)
    keys = rng.choice([f"k{i}" for i in range(n_keys)], n)
    values = np.sin(np.arange(n) / 3.0) + rng.normal(0, 0.3, n)
    values[rng.choice(n, 8, replace=False)] += 6.0
    return keys, values


@pytest.mark.parametrize("detector", DETECTORS)
def test_blob_round_trip_continues_bit_for_bit(detector):
    keys, values = stream()
    whole = KeyedMonitor(detector, max_keys=16)
    want = whole.update_many(keys, values)
    first = KeyedMonitor(detector, max_keys=16)
    head = first.update_many(keys[:150], values[:150])
    blob = encode_monitor(first, buckets=5)
    second = decode_monitor(blob, monitor_spec(first), buckets=5)
    tail = second.update_many(keys[150:], values[150:])
    for field in ("score", "threshold", "expected", "scale"):
        got = np.concatenate([getattr(head, field), getattr(tail, field)])
        assert got.view(np.uint64).tolist() == getattr(want, field).view(np.uint64).tolist()


def test_blob_of_a_fresh_monitor_round_trips():
    mon = KeyedMonitor(RollingZScore(window_size=3), max_keys=4)
    again = decode_monitor(encode_monitor(mon, 1), monitor_spec(mon), 1)
    assert again.n_keys_ == 0 and again.get_params()["max_keys"] == 4


def blob_with_header(**changes):
    mon = KeyedMonitor(RollingZScore(window_size=3), max_keys=4)
    mon.update_many(["a", "b"], [1.0, 2.0])
    blob = encode_monitor(mon, 2)
    start = len(MAGIC) + 4
    length = int.from_bytes(blob[len(MAGIC) : start], "little")
    header = json.loads(blob[start : start + length])
    header.update(changes)
    head = json.dumps(header).encode()
    return mon, MAGIC + len(head).to_bytes(4, "little") + head + blob[start + length :]


def test_blob_errors_say_what_is_wrong():
    mon, blob = blob_with_header()
    spec = monitor_spec(mon)
    with pytest.raises(CheckpointError, match="not an oddwatch blob"):
        decode_monitor(b"\x80\x04pickle", spec, 2)
    with pytest.raises(CheckpointError, match="bucket header is corrupt"):
        decode_monitor(blob[:20], spec, 2)
    with pytest.raises(CheckpointError, match="unreadable"):
        decode_monitor(blob[:-10], spec, 2)
    with pytest.raises(CheckpointError, match="10 unexpected trailing bytes"):
        decode_monitor(blob + bytes(10), spec, 2)
    with pytest.raises(
        CheckpointError, match="written with buckets=2 but this query has buckets=3"
    ):
        decode_monitor(blob, spec, 3)
    other = monitor_spec(KeyedMonitor(RollingZScore(window_size=4), max_keys=4))
    with pytest.raises(CheckpointError, match="but this query runs .*window_size.*4"):
        decode_monitor(blob, other, 2)
    _, newer = blob_with_header(version=2, library="9.0")
    with pytest.raises(CheckpointError, match="format version 2 \\(written by oddwatch 9.0\\)"):
        decode_monitor(newer, spec, 2)
    _, shifted = blob_with_header(arrays=[["keys", 1]])
    with pytest.raises(CheckpointError, match="state array `keys` is .* bytes long but the header"):
        decode_monitor(shifted, spec, 2)
    _, foreign = blob_with_header(format="something.else")
    with pytest.raises(CheckpointError, match="is not 'oddwatch.spark.bucket'"):
        decode_monitor(foreign, spec, 2)


def test_blob_never_unpickles_an_object_array():
    mon, blob = blob_with_header()
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([object()], dtype=object), allow_pickle=True)
    raw = buf.getvalue()
    _, evil = blob_with_header(arrays=[["keys", len(raw)]])
    start = len(MAGIC) + 4 + int.from_bytes(evil[len(MAGIC) : len(MAGIC) + 4], "little")
    with pytest.raises(CheckpointError, match="state array `keys` is unreadable"):
        decode_monitor(evil[:start] + raw, monitor_spec(mon), 2)


def test_wrong_state_names_the_field_and_the_writer_version():
    mon, blob = blob_with_header(library="0.0.1")
    start = len(MAGIC) + 4 + int.from_bytes(blob[len(MAGIC) : len(MAGIC) + 4], "little")
    header = json.loads(blob[len(MAGIC) + 4 : start])
    lengths = dict(header["arrays"])
    arrays_start = start + sum(n for name, n in header["arrays"][:1])
    dropped = {**header, "arrays": header["arrays"][1:]}
    head = json.dumps(dropped).encode()
    blob = MAGIC + len(head).to_bytes(4, "little") + head + blob[arrays_start:]
    missing = header["arrays"][0][0]
    assert lengths[missing] > 0
    with pytest.raises(
        CheckpointError, match=f"written by oddwatch 0.0.1: .*missing \\['{missing}'"
    ):
        decode_monitor(blob, monitor_spec(mon), 2)


def test_score_bucket_with_no_rows_keeps_the_state():
    spec = monitor_spec(KeyedMonitor(RollingZScore(window_size=3)))
    empty = pd.DataFrame({"key": [], "timestamp": [], "value": []})
    out, blob = score_bucket(spec, 1, [empty], None)
    assert list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == 0
    assert decode_monitor(blob, spec, 1).n_keys_ == 0


def test_score_bucket_sorts_by_time_then_value_and_concatenates_chunks():
    spec = monitor_spec(KeyedMonitor(RollingZScore(window_size=2)))
    a = pd.DataFrame({"key": ["x", "x"], "timestamp": [5, 2], "value": [9.0, 4.0]})
    b = pd.DataFrame({"key": ["x", "x", "x"], "timestamp": [1, 2, 3], "value": [1.0, 3.0, 5.0]})
    out, _ = score_bucket(spec, 1, [a, b], None)
    assert out["timestamp"].tolist() == [1, 2, 2, 3, 5]
    assert out["value"].tolist() == [1.0, 3.0, 4.0, 5.0, 9.0]
    want = KeyedMonitor(RollingZScore(window_size=2)).update_many(["x"] * 5, out["value"])
    assert out["score"].tolist()[2:] == want.score.tolist()[2:]


def test_score_bucket_rows_without_key_or_time_under_raise():
    spec = monitor_spec(KeyedMonitor())
    rows = pd.DataFrame({"key": ["a", None], "timestamp": [1, 2], "value": [1.0, 2.0]})
    with pytest.raises(
        InvalidInputError,
        match=r"1 row\(s\) without a key or timestamp \(first: "
        r"\{'key': None, 'timestamp': 2, 'value': 2.0\}\)",
    ):
        score_bucket(spec, 1, [rows], None)


def test_score_bucket_skip_returns_unplaced_rows_unflagged():
    spec = monitor_spec(KeyedMonitor(on_invalid="skip"))
    rows = pd.DataFrame({"key": ["a", "a"], "timestamp": [1, None], "value": [1.0, 2.0]})
    out, _ = score_bucket(spec, 1, [rows], None)
    assert out["is_anomaly"].tolist() == [False, False]
    # the placed row is the detector's warm-up (worded as detect does), the unplaced one skipped
    assert out["reason"].tolist() == [
        "warming up: no score until the detector has learned 64 points",
        "",
    ]
    assert np.isnan(out["score"]).all()


def test_reason_of_a_bucket_equals_the_reason_in_one_process():
    keys = ["a", "b"] * 7
    values = [1.0, 10.0, 2.0, 11.0] * 3 + [7.0, 7.0]
    one_process = KeyedMonitor(RollingZScore(window_size=4)).update_many(keys, values)
    spec = monitor_spec(KeyedMonitor(RollingZScore(window_size=4)))
    only_b = pd.DataFrame({"key": "b", "timestamp": np.arange(7), "value": values[1::2]})
    bucket, _ = score_bucket(spec, 1, [only_b], None)
    assert one_process.is_anomaly[13] and bucket["is_anomaly"].iloc[6]
    assert bucket["reason"].iloc[6] == one_process.reason(13)
