"""The compiled CSV scan gives exactly what the reference (Python) parser gives, on tricky
input: quoted fields, missing fields, bad numbers, bad/duplicate/out-of-order timestamps,
CRLF, BOM, empty and blank lines, invalid UTF-8, keys. And ``detect`` end to end writes the
same bytes and counts with and without the compiled paths, under every policy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oddwatch.cli.main import main
from oddwatch.sinks import _rows
from oddwatch.sources._base import LineBlock
from oddwatch.sources.csv import CsvParser

TIMES = [
    "2026-01-01T00:00:00",
    "2026-01-01 00:01:00",
    "2026-01-01T00:02:00Z",
    "2026-01-01T00:00:00",  # a repeat: out of order / duplicate later
    "2026-02-30T00:00:00",  # no such day
    "2026-01-01T24:00:00",
    "2026-01-01T00:03:00.250",
    "2026-01-01T00:04:00+01:00",
    "1767225600",
    "1767225660.5",
    "",
    "soon",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59",
]
VALUES = [
    "1.5",
    "49.98819559712427",
    "50.640422650443284",
    "-0",
    "1e5",
    "1E-3",
    "+.5",
    "5.",
    "",
    " 7 ",
    "1_0",
    "nan",
    "inf",
    "1e400",
    "oops",
    "123456789012345678901",
    "0.1000000000000000055511151231257827",
    "\xff",
    '"2.5"',
]
KEYS = ["a", "b", "", "caf\xe9", '"q"']


def line(time, value, key, layout):
    fields = {"tv": [time, value], "tvk": [time, value, key], "v": [value]}[layout]
    return ",".join(fields)


rows = st.one_of(
    st.tuples(st.sampled_from(TIMES), st.sampled_from(VALUES), st.sampled_from(KEYS)),
    st.sampled_from(["", " ", "\r", "1,2,3,4", "only", '"unclosed', "a\rb,1"]),
)


def parse_both(data: bytes, header: str, layout: str):
    kwargs = {"key_col": "key"} if layout == "tvk" else {}
    results = []
    for compiled in (True, False):
        parser = CsvParser(**kwargs)
        block = LineBlock(header.encode() + data, 1, data.count(b"\n") + 2, 0)
        if not compiled:
            parser._parse_compiled = lambda *args: None
        results.append(parser.parse(block))
    return results


def assert_same(fast, slow):
    assert fast.line.tolist() == slow.line.tolist()
    np.testing.assert_array_equal(fast.value.view(np.int64), slow.value.view(np.int64))
    assert fast.problem.tolist() == slow.problem.tolist()
    assert fast.detail == slow.detail
    if slow.time is None:
        assert fast.time is None
    else:
        np.testing.assert_array_equal(fast.time.view(np.int64), slow.time.view(np.int64))
        assert list(fast.time_text) == list(slow.time_text)
    assert (fast.key is None) == (slow.key is None)
    if slow.key is not None:
        assert fast.key.tolist() == slow.key.tolist()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(rows, max_size=30),
    st.sampled_from(["tv", "tvk", "v"]),
    st.booleans(),
    st.booleans(),
)
def test_compiled_scan_equals_the_reference_parser(items, layout, crlf, bom):
    header = {"tv": "timestamp,value", "tvk": "timestamp,value,key", "v": "value"}[layout]
    lines = [line(*item, layout) if isinstance(item, tuple) else item for item in items]
    end = "\r\n" if crlf else "\n"
    data = "".join(text + end for text in lines).encode("utf-8", "surrogateescape")
    data = data.replace("\xff".encode(), b"\xff")
    fast, slow = parse_both(data, ("\ufeff" if bom else "") + header + end, layout)
    assert_same(fast, slow)


def test_a_clean_block_takes_the_compiled_path():
    data = b"".join(b"2026-01-01T00:%02d:00,%d.25\n" % (i, i) for i in range(50))
    parser = CsvParser()
    block = LineBlock(b"timestamp,value\n" + data, 1, 51, 0)
    parser.parse(block)  # resolves the layout
    assert parser._parse_compiled(data, 2, block) is not None


@pytest.fixture
def tricky(tmp_path):
    rng = np.random.default_rng(3)
    lines = ["timestamp,value"]
    for i in range(3000):
        t = f"2026-01-01T{i // 60 % 24:02d}:{i % 60:02d}:00"
        v = repr(float(50 + 5 * np.sin(i / 50) + rng.normal()))
        if i % 97 == 5:
            v = "oops"
        if i % 211 == 7:
            t = "2026-13-01T00:00:00"
        if i % 173 == 9:
            lines.append("")
        if i % 389 == 11:
            v = '"' + v + '"'
        lines.append(f"{t},{v}")
    path = tmp_path / "tricky.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


@pytest.mark.parametrize("policy", ["flag", "skip", "raise"])
@pytest.mark.parametrize("out_format", ["jsonl", "csv"])
def test_detect_writes_the_same_bytes_and_counts_without_the_compiled_paths(
    tricky, tmp_path, capsys, monkeypatch, policy, out_format
):
    def detect(name):
        out = tmp_path / name
        code = main(
            ["detect", str(tricky), "--out", str(out), "--out-format", out_format,
             "--on-invalid", policy, "--batch", "500", "--json", "--quiet"]
        )  # fmt: skip
        err = capsys.readouterr().err.splitlines()
        summary = json.loads(next(x for x in reversed(err) if x.startswith("{")))
        for key in ("seconds", "records_per_second"):
            summary.pop(key)
        return code, out.read_bytes(), summary

    fast = detect("fast")
    monkeypatch.setattr(CsvParser, "_parse_compiled", lambda *args: None)
    monkeypatch.setattr(_rows, "_encode", lambda *args: -1)
    slow = detect("slow")
    assert fast == slow
    assert fast[0] == (3 if policy == "raise" else 0)
