"""FollowReader: growth, partial lines, rotation, truncation (driven through its sleep hook)."""

from __future__ import annotations

import os

import pytest

from oddwatch.errors import SourceError
from oddwatch.sources.follow import FollowReader


def follow(path, actions, **kwargs):
    """Read ``path`` while each poll runs the next action; stop when they run out."""
    pending = list(actions)
    messages = []

    def sleep(_):
        if pending:
            pending.pop(0)()

    clock = iter(range(10_000))
    reader = FollowReader(
        str(path),
        poll_interval=0.0,
        sleep=sleep,
        on_rotate=messages.append,
        clock=lambda: float(next(clock)) if not pending else 0.0,
        idle_timeout=2.0,
        **kwargs,
    )
    lines = [line for block in reader.blocks() for line in block.lines()]
    reader.close()
    return lines, messages, reader


def write(path, data):
    with path.open("ab") as fh:
        fh.write(data)


def append(path, data):
    return lambda: write(path, data)


def test_new_lines_and_a_partial_line_wait_for_their_terminator(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2")
    lines, _, _ = follow(path, [append(path, b"2\n3\n"), append(path, b"4")])
    assert lines == [b"1", b"22", b"3", b"4"]


def test_rotation_reads_the_old_file_to_its_end_then_the_new_one(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n")

    def rotate():
        write(path, b"2\n")
        os.rename(path, tmp_path / "app.log.1")
        path.write_bytes(b"3\n")

    lines, messages, reader = follow(path, [rotate, append(path, b"4\n")])
    assert lines == [b"1", b"2", b"3", b"4"]
    assert reader.n_rotations == 1 and messages == [f"{path} was rotated; following the new file"]
    assert reader.position == {"offset": 4, "line": 3}


def test_truncation_starts_over(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2\n")
    lines, messages, _ = follow(path, [lambda: path.write_bytes(b"9\n")])
    assert lines == [b"1", b"2", b"9"]
    assert messages == [f"{path} was truncated; reading it from its start"]


def test_resume_at_an_offset_unless_the_file_was_replaced(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2\n3\n")
    stat = os.stat(path)
    lines, _, _ = follow(path, [], offset=2, line=2, identity=(stat.st_dev, stat.st_ino))
    assert lines == [b"2", b"3"]
    lines, messages, _ = follow(path, [], offset=2, line=2, identity=(0, 0))
    assert lines == [b"1", b"2", b"3"] and "not the file the checkpoint refers to" in messages[0]


def test_missing_file_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot follow .*: No such file or directory"):
        FollowReader(str(tmp_path / "nope.log"))
