"""JSON Lines and CSV sinks: valid output, escaping, positions, truncate-on-resume."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from oddwatch.errors import CheckpointError
from oddwatch.sinks import FIELDS, CsvSink, JsonlSink, MemorySink, OutputBatch


def batch(n=4, start=0, reason=None, key=None, timestamp=None):
    score = np.linspace(0.1, 0.9, n)
    score[:1] = np.nan
    return OutputBatch(
        seq=np.arange(start, start + n),
        value=np.arange(n) * 1.25,
        score=score,
        threshold=np.full(n, 0.8),
        is_anomaly=score > 0.8,
        reason=reason or [""] * n,
        key=None if key is None else np.asarray(key),
        timestamp=timestamp,
    )


def test_jsonl_rows_parse_back_to_the_batch_rows():
    tricky = batch(
        3,
        key=['a"b', "c\\d", "é"],
        timestamp=["t\n1", "t2", "t3"],
        reason=["", "50% above", 'said "no"'],
    )
    out = io.BytesIO()
    with JsonlSink(out) as sink:
        sink.write(tricky)
        sink.write(batch(2, start=3))
        sink.write(batch(0))
        assert sink.position == len(out.getvalue())
    rows = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert rows[:3] == list(tricky.rows()) and rows[3:] == list(batch(2, start=3).rows())
    assert list(rows[0]) == list(FIELDS) and rows[0]["score"] is None


def test_one_record_batch_with_percent_sign():
    out = io.BytesIO()
    JsonlSink(out).write(batch(1, reason=["100% sure"]))
    assert json.loads(out.getvalue())["reason"] == "100% sure"


def test_csv_has_a_header_and_empty_fields_for_missing_numbers():
    out = io.BytesIO()
    with CsvSink(out) as sink:
        sink.write(batch(3, reason=["", "a, b", ""]))
    rows = list(csv.DictReader(io.StringIO(out.getvalue().decode())))
    assert [r["seq"] for r in rows] == ["0", "1", "2"] and rows[0]["score"] == ""
    assert rows[1]["reason"] == "a, b" and rows[2]["is_anomaly"] == "true"


@pytest.mark.parametrize("sink_class", [JsonlSink, CsvSink])
def test_resume_truncates_to_the_recorded_position(tmp_path, sink_class):
    path = str(tmp_path / "out")
    with sink_class(path) as sink:
        sink.write(batch(3))
        sink.sync()
        position = sink.position
        sink.write(batch(2, start=3))  # written after the checkpoint: must go
    with sink_class(path, resume_at=position) as sink:
        sink.write(batch(2, start=3))
    expected = io.BytesIO()
    with sink_class(expected) as sink:
        sink.write(batch(3))
        sink.write(batch(2, start=3))
    with open(path, "rb") as fh:
        assert fh.read() == expected.getvalue()


def test_resume_on_a_shorter_file_is_refused(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"{}\n")
    with pytest.raises(CheckpointError, match="has 3 bytes but the checkpoint says 10"):
        JsonlSink(str(path), resume_at=10)


def test_memory_sink_collects_rows():
    with MemorySink() as sink:
        sink.write(batch(2))
    assert sink.closed and [r["seq"] for r in sink.records] == [0, 1]


def test_a_failed_write_is_a_one_line_error():
    import errno

    from oddwatch.errors import OddwatchError

    class Full(io.BytesIO):
        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OddwatchError, match="cannot write to the output: No space left"):
        JsonlSink(Full()).write(batch(2))
