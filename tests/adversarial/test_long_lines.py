"""Long lines never make memory scale (issue 12, item 2).

A line longer than ``max_line_bytes`` is an unparsable record whose bytes are dropped as they
arrive, and a block ends at the first line end past ``BLOCK_BYTES``, so memory is bounded by a
block whatever the lines hold. Peak RSS is measured in a child process (``ru_maxrss`` of the
child itself) and compared with the same command on a small file, in the same test.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import oddwatch
from oddwatch.sources import FileSource, FollowReader, read_blocks
from oddwatch.sources._base import LineCutter

SRC = str(Path(oddwatch.__file__).resolve().parents[1])
PEAK_RSS = """
import resource, sys
from oddwatch.cli.main import main
code = main(sys.argv[1:])
print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, file=sys.stderr)
"""


def _stamp(i: int) -> str:
    return str(np.datetime64("2026-01-01T00:00:00", "s") + np.timedelta64(60 * i, "s"))


def _line(fmt: str, i: int, value: str = "1.5", note: str = "x") -> str:
    if fmt == "csv":
        return f"{_stamp(i)},{value},{note}\n"
    return f'{{"timestamp": "{_stamp(i)}", "value": {value}, "note": {json.dumps(note)}}}\n'


def _peak(tmp_path: Path, path: Path, *, stdin: bool = False) -> tuple[int, dict]:
    argv = ["detect", "-" if stdin else str(path), "--out", str(tmp_path / "out"),
            "--detector", "RollingZScore", "--json", "--quiet"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": SRC}
    with open(path, "rb") as fh:
        proc = subprocess.run(
            [sys.executable, "-c", PEAK_RSS, *argv],
            stdin=fh if stdin else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    *_, summary, last = proc.stderr.splitlines()
    code, peak = map(int, last.split())
    assert code == 0, proc.stderr[-2000:]
    return peak, json.loads(summary)


@pytest.mark.parametrize(("fmt", "stdin"), [("csv", False), ("jsonl", False), ("csv", True)])
def test_huge_lines_are_invalid_records_in_bounded_memory(tmp_path, fmt, stdin):
    header = "timestamp,value,note\n" if fmt == "csv" else ""
    small = tmp_path / f"small.{fmt}"
    small.write_text(header + "".join(_line(fmt, i) for i in range(300)))
    big = tmp_path / f"big.{fmt}"
    with open(big, "w") as fh:
        fh.write(header)
        for i in range(300):  # 150 lines of 1 MB: 150 MB held at once before the cap
            fh.write(_line(fmt, i, note="n" * 1_000_000 if i % 2 else "x"))
        fh.write(_line(fmt, 300, value="9" * 5_000_000))  # a 5 MB value
        fh.write(_line(fmt, 301)[:20] + "7" * 200_000_000)  # 200 MB without an end of line
    base, _ = _peak(tmp_path, small, stdin=stdin)
    peak, summary = _peak(tmp_path, big, stdin=stdin)
    assert summary["read"] == 302 and summary["flagged"] == 152
    assert summary["problems"] == {"unparsable": 152}
    assert peak - base < 120e6, (peak, base)  # was 1 GB over the baseline for the 150 lines


def test_lines_under_the_cap_fill_blocks_of_bounded_bytes(tmp_path):
    path = tmp_path / "wide.csv"
    with open(path, "w") as fh:
        fh.write("timestamp,value,note\n")
        for i in range(3000):  # 3,000 lines of 60 kB: one 10,000-line chunk held 180 MB
            fh.write(_line("csv", i, note="n" * 60_000))
    small = tmp_path / "small.csv"
    small.write_text("timestamp,value,note\n" + "".join(_line("csv", i) for i in range(300)))
    base, _ = _peak(tmp_path, small)
    peak, summary = _peak(tmp_path, path)
    assert summary["read"] == 3000 and summary["valid"] == 3000
    assert peak - base < 120e6, (peak, base)


def _cut(data: bytes, pieces: int, **kwargs):
    cutter = LineCutter(**kwargs)
    size = -(-len(data) // pieces)
    blocks = []
    for i in range(0, len(data), size):
        blocks += cutter.feed(data[i : i + size], eager=True)
    return blocks + cutter.finish(), cutter


@pytest.mark.parametrize("pieces", [1, 3, 7, 50])
@pytest.mark.parametrize("last_end", [b"\n", b""])
def test_cutter_drops_long_lines_however_the_bytes_arrive(pieces, last_end):
    lines = [b"a", b"x" * 30, b"bb", b"y" * 11, b"", b"c" * 10, b"z" * 25]
    data = b"\n".join(lines) + last_end
    blocks, cutter = _cut(data, pieces, chunk_lines=3, max_line_bytes=10)
    got = [line for b in blocks for line in b.lines()]
    assert got == [b"a", b"", b"bb", b"", b"", b"c" * 10, b""]
    assert [n for b in blocks for n in b.long_lines] == [(2, 30), (4, 11), (7, 25)]
    assert cutter.offset == len(data) and cutter.line == 8 and cutter.pending == 0
    for before, after in zip(blocks, blocks[1:], strict=False):  # offsets are exact
        assert before.end == after.start
    assert blocks[-1].end == len(data)


def test_pending_counts_the_bytes_of_a_long_line_being_dropped():
    cutter = LineCutter(max_line_bytes=4)
    assert cutter.feed(b"ab\n" + b"x" * 10, eager=True)[0].lines() == [b"ab"]
    cutter.feed(b"x" * 5, eager=True)
    assert cutter.pending == 15  # the follower compares offset + pending with the file size


def test_a_resumed_read_cuts_the_rest_as_an_uninterrupted_one(monkeypatch):
    import oddwatch.sources._base as base

    monkeypatch.setattr(base, "BLOCK_BYTES", 64)
    data = b"".join(b"%d,%s\n" % (i, b"v" * (i % 40)) for i in range(200))
    whole = list(read_blocks(io.BytesIO(data), chunk_lines=16))
    assert max(len(b.data) for b in whole) < 64 + 48 and len(whole) > 200 * 22 // 64
    for k in (3, 17, len(whole) - 2):
        start = whole[k].start
        rest = list(
            read_blocks(
                io.BytesIO(data[start:]), offset=start, line=whole[k].first_line, chunk_lines=16
            )  # fmt: skip
        )
        assert [(b.start, b.first_line, b.data) for b in rest] == [
            (b.start, b.first_line, b.data) for b in whole[k:]
        ]


def test_file_source_reports_long_lines_in_order_and_resumes_after_them(tmp_path):
    path = tmp_path / "in.jsonl"
    rows = [_line("jsonl", i, note="n" * 100 if i in (2, 5) else "x") for i in range(8)]
    path.write_text("".join(rows))
    with FileSource(str(path), chunk_lines=3, max_line_bytes=90) as source:
        chunks = list(source)
    line = np.concatenate([c.line for c in chunks]).tolist()
    problem = np.concatenate([c.problem for c in chunks]).tolist()
    assert line == list(range(1, 9)) and problem == [0, 0, 1, 0, 0, 1, 0, 0]
    assert "more than the limit of 90 (--max-line-bytes)" in chunks[0].detail[2]
    assert source.position == {"offset": path.stat().st_size, "line": 9}


def test_a_long_header_is_refused_naming_the_limit(tmp_path):
    from oddwatch.errors import SourceError

    path = tmp_path / "in.csv"
    path.write_text("t" * 100 + "\n1,2\n")
    with (
        FileSource(str(path), max_line_bytes=50) as source,
        pytest.raises(SourceError, match="line 1 has 100 bytes, more than the limit of 50"),
    ):
        list(source)


def test_follow_mode_drops_a_long_line_written_across_polls(tmp_path):
    path = tmp_path / "app.csv"
    path.write_text("timestamp,value\n" + f"{_stamp(0)},1\n")
    writes = [f"{_stamp(1)},".encode() + b"9" * 300] + [b"9" * 300] * 5
    writes += [b"\n" + f"{_stamp(2)},2\n".encode()]

    def sleep(_):
        if writes:
            with open(path, "ab") as fh:
                fh.write(writes.pop(0))

    clock = iter(range(10_000))
    reader = FollowReader(str(path), chunk_lines=10, max_line_bytes=100, idle_timeout=1.0,
                          poll_interval=0.0, sleep=sleep,
                          clock=lambda: float(next(clock)) if not writes else 0.0)  # fmt: skip
    blocks = list(reader.blocks())
    assert [line for b in blocks for line in b.lines()] == [
        b"timestamp,value",
        f"{_stamp(0)},1".encode(),
        b"",
        f"{_stamp(2)},2".encode(),
    ]
    assert [n for b in blocks for n in b.long_lines] == [(3, 20 + 1800)]
    assert reader.position["offset"] == path.stat().st_size
    reader.close()
