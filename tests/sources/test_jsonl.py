"""JsonlParser: field guessing, value and timestamp types, broken lines."""

from __future__ import annotations

import pytest

from oddwatch.errors import SourceError
from oddwatch.sources._base import LineBlock
from oddwatch.sources.jsonl import JsonlParser
from oddwatch.sources.records import (
    BAD_TIMESTAMP,
    MISSING_FIELD,
    NOT_FINITE,
    NOT_NUMERIC,
    UNPARSABLE,
)


def parse(lines: list[str], **kwargs):
    data = "".join(line + "\n" for line in lines).encode()
    parser = JsonlParser(**kwargs)
    return parser, parser.parse(LineBlock(data, 1, len(lines), 0))


def test_types_of_values():
    _, records = parse(
        [
            '{"timestamp": 0, "value": 1}',
            '{"timestamp": 60, "value": "2.5"}',
            '{"timestamp": 120, "value": "high"}',
            '{"timestamp": 180, "value": null}',
            '{"timestamp": 240}',
            '{"timestamp": 300, "value": false}',
            '{"timestamp": 360, "value": NaN}',
            '{"timestamp": 420, "value": [1]}',
        ]
    )
    assert records.value[:2].tolist() == [1.0, 2.5]
    assert records.problem.tolist() == [
        0,
        0,
        NOT_NUMERIC,
        MISSING_FIELD,
        MISSING_FIELD,
        NOT_NUMERIC,
        NOT_FINITE,
        NOT_NUMERIC,
    ]


def test_broken_lines_and_blank_lines():
    _, records = parse(
        ['{"value": 1}', "", "{oops", "[1, 2]", '{"value": 2} x', '"text"', '{"value": 3}']
    )
    assert records.line.tolist() == [1, 3, 4, 5, 6, 7]
    assert records.problem.tolist() == [0, UNPARSABLE, UNPARSABLE, UNPARSABLE, UNPARSABLE, 0]
    assert records.detail[1].startswith("invalid JSON (Expecting property name")
    assert records.detail[2] == "expected a JSON object, got a list"
    assert records.detail[3] == "extra data after the JSON value at column 14"


def test_deep_nesting_is_unparsable_not_a_crash():
    _, records = parse(["[" * 100_000 + "]" * 100_000, '{"value": 1}'])
    assert records.problem.tolist() == [UNPARSABLE, 0]


def test_timestamps_and_keys():
    _, records = parse(
        [
            '{"ts": "2026-01-01T00:00:00Z", "host": "a", "v": 1}',
            '{"ts": 1767225660, "host": 7, "v": 2}',
            '{"ts": true, "host": "a", "v": 3}',
            '{"ts": 1767225720, "host": null, "v": 4}',
        ],
        key_col="host",
    )
    assert records.time_text[:2] == ["2026-01-01T00:00:00Z", "1767225660"]
    assert records.key.tolist() == ["a", "7", "a", ""]
    assert records.problem.tolist() == [0, 0, BAD_TIMESTAMP, MISSING_FIELD]
    assert records.time[1] - records.time[0] == 60.0


def test_single_numeric_field_is_the_value_else_an_error():
    parser, records = parse(['{"time": 1, "cpu": 0.5, "host": "a"}'])
    assert parser.columns.value == "cpu" and records.value.tolist() == [0.5]
    with pytest.raises(SourceError, match="cannot tell which field holds the values"):
        parse(['{"a": 1, "b": 2}'])
