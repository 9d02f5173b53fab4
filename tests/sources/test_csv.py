"""CsvParser: layouts, the fast and the slow path, bad lines, chunking."""

from __future__ import annotations

import io

import numpy as np
import pytest

from oddwatch.errors import SourceError
from oddwatch.sources._base import read_blocks
from oddwatch.sources.csv import CsvParser
from oddwatch.sources.records import (
    BAD_TIMESTAMP,
    MISSING_FIELD,
    NOT_FINITE,
    NOT_NUMERIC,
    UNPARSABLE,
)


def parse(data: bytes, chunk_lines: int = 10_000, **kwargs):
    parser = CsvParser(**kwargs)
    chunks = [parser.parse(b) for b in read_blocks(io.BytesIO(data), chunk_lines=chunk_lines)]
    return parser, chunks


def joined(chunks, name):
    parts = [getattr(c, name) for c in chunks]
    if parts and isinstance(parts[0], list):
        return [x for p in parts for x in p]
    return np.concatenate(parts).tolist()


GOOD = (
    b"timestamp,value\n2026-01-01T00:00:00,1.5\n2026-01-01T00:01:00,2\n2026-01-01T00:02:00,-3e2\n"
)


def test_guesses_timestamp_value_with_header():
    parser, (records,) = parse(GOOD)
    assert parser.names == ["timestamp", "value"]
    assert records.line.tolist() == [2, 3, 4]
    assert records.value.tolist() == [1.5, 2.0, -300.0]
    assert np.diff(records.time).tolist() == [60.0, 60.0]
    assert records.time_text == [
        "2026-01-01T00:00:00",
        "2026-01-01T00:01:00",
        "2026-01-01T00:02:00",
    ]
    assert records.problem.tolist() == [0, 0, 0]
    assert records.end == len(GOOD)


def test_no_header_two_and_one_columns():
    _, (two,) = parse(b"100,1\n160,2\n")
    assert two.time.tolist() == [100.0, 160.0] and two.line.tolist() == [1, 2]
    _, (one,) = parse(b"1\n2\n3\n")
    assert one.time is None and one.value.tolist() == [1.0, 2.0, 3.0]


def test_columns_by_name_and_position_and_key():
    data = b"when,host,cpu,mem\n5,a,0.5,10\n6,b,0.7,11\n"
    parser, (records,) = parse(data, time_col="when", value_col="3", key_col="host")
    assert records.value.tolist() == [10.0, 11.0]
    assert records.key.tolist() == ["a", "b"]
    assert parser.columns.to_json() == {"time": 0, "value": 3, "key": 1}


def test_unknown_column_and_unguessable_layout_are_source_errors():
    with pytest.raises(
        SourceError, match="there is no value column 'cpu'; the fields are 'timestamp', 'value'"
    ):
        parse(GOOD, value_col="cpu")
    with pytest.raises(SourceError, match="cannot tell which field holds the values"):
        parse(b"a,b,c\n1,2,3\n")
    with pytest.raises(SourceError, match="line 1 has 3 fields and no header"):
        parse(b"1,2,3\n")


def test_bad_records_are_marked_not_dropped():
    data = (
        b"timestamp,value\n"
        b"2026-01-01T00:00:00,abc\n"  # not numeric
        b"2026-01-01T00:01:00,\n"  # missing
        b"2026-01-01T00:02:00,inf\n"  # not finite
        b"yesterday,4\n"  # bad timestamp
        b"2026-01-01T00:04:00,5,6\n"  # too many fields
        b"\n"  # blank: not a record
        b"2026-01-01T00:05:00,7\n"
    )
    _, (records,) = parse(data)
    assert records.problem.tolist() == [
        NOT_NUMERIC,
        MISSING_FIELD,
        NOT_FINITE,
        BAD_TIMESTAMP,
        UNPARSABLE,
        0,
    ]
    assert records.line.tolist() == [2, 3, 4, 5, 6, 8]
    assert records.detail[0] == "value 'abc' is not a number"
    assert records.detail[4] == "malformed CSV line (expected 2 fields, got 3)"
    assert records.raw(3) == "yesterday,4"
    assert np.isnan(records.value[:5]).sum() == 4  # the bad timestamp keeps its value


def test_quoted_fields_crlf_and_bom_match_the_plain_file():
    plain = parse(GOOD)[1][0]
    fancy_bytes = b"\xef\xbb\xbf" + GOOD.replace(b"\n", b"\r\n").replace(b",1.5", b',"1.5"')
    fancy = parse(fancy_bytes)[1][0]
    assert fancy.value.tolist() == plain.value.tolist()
    assert fancy.time.tolist() == plain.time.tolist()
    assert fancy.line.tolist() == plain.line.tolist()


def test_unclosed_quote_marks_only_its_line():
    _, (records,) = parse(b'timestamp,value\n1,"2\n3,4\n')
    assert records.problem.tolist() == [UNPARSABLE, 0]
    assert records.value[1] == 4.0


@pytest.mark.parametrize("chunk_lines", [1, 2, 3, 7])
def test_chunking_does_not_change_the_records(chunk_lines):
    data = GOOD + b"2026-01-01T00:03:00,x\n2026-01-01T00:04:00,9\n" * 3
    whole = parse(data)[1]
    parts = parse(data, chunk_lines=chunk_lines)[1]
    for name in ("line", "problem", "time_text"):
        assert joined(parts, name) == joined(whole, name)
    np.testing.assert_array_equal(joined(parts, "value"), joined(whole, "value"))


def test_tab_delimiter_and_rotated_header_check():
    parser = CsvParser(delimiter="\t")
    (records,) = [parser.parse(b) for b in read_blocks(io.BytesIO(b"ts\tvalue\n1\t2\n"))]
    assert records.value.tolist() == [2.0]
    again = next(read_blocks(io.BytesIO(b"ts\tvalue\n3\t4\n")))
    assert parser.parse(again).value.tolist() == [4.0]
    with pytest.raises(SourceError, match="the header changed"):
        parser.parse(next(read_blocks(io.BytesIO(b"t\tv\n3\t4\n"))))
    with pytest.raises(SourceError, match="delimiter must be one ASCII character"):
        CsvParser(delimiter=";;")


def test_state_restores_the_layout_for_a_resumed_reader():
    parser, _ = parse(GOOD, key_col=None)
    fresh = CsvParser()
    fresh.restore(parser.state())
    block = list(read_blocks(io.BytesIO(GOOD), chunk_lines=2))[1]  # lines 3-4, no header
    assert fresh.parse(block).value.tolist() == [2.0, -300.0]
