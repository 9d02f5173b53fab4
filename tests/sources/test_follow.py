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
    assert reader.position == {"offset": 4, "line": 5}  # no header repeated: numbering goes on


def test_truncation_starts_over(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2\n")
    lines, messages, _ = follow(path, [lambda: path.write_bytes(b"9\n")])
    assert lines == [b"1", b"2", b"9"]
    assert messages == [
        f"{path} was truncated; reading it from its start (lines written to it after the last "
        "poll, if any, were lost with no copy to read them from)"
    ]


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


def rotate(path, suffix):
    return lambda: os.rename(path, path.with_name(path.name + suffix))


def test_truncation_refilled_past_the_old_size_is_seen_by_content(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2\n")
    refill = lambda: path.write_bytes(b"7\n8\n9\n10\n")  # noqa: E731  (longer than before)
    lines, messages, reader = follow(path, [refill])
    assert lines == [b"1", b"2", b"7", b"8", b"9", b"10"]
    assert reader.n_truncations == 1 and "was truncated" in messages[0]


def test_copytruncate_lines_written_before_the_truncation_are_read_from_the_copy(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2\n")

    def copytruncate():
        write(path, b"3\n4\n")  # written after the last poll
        (tmp_path / "app.log.1").write_bytes(path.read_bytes())
        os.truncate(path, 0)
        write(path, b"5\n")  # the writer goes on (O_APPEND)

    lines, messages, reader = follow(path, [copytruncate, append(path, b"6\n")])
    assert lines == [b"1", b"2", b"3", b"4", b"5", b"6"]
    assert f"from its copy {tmp_path / 'app.log.1'}" in messages[0]
    assert reader.n_truncations == 1


def test_csv_copytruncate_without_a_new_header_keeps_the_known_one(tmp_path):
    from oddwatch.sources.csv import CsvParser

    path = tmp_path / "app.csv"
    path.write_bytes(b"timestamp,value\n1,10\n2,20\n")

    def copytruncate():
        (tmp_path / "app.csv.1").write_bytes(path.read_bytes())
        os.truncate(path, 0)
        write(path, b"3,30\n4,40\n")

    messages = []
    pending = [copytruncate, append(path, b"5,50\n")]
    clock = iter(range(10_000))
    reader = FollowReader(
        str(path),
        poll_interval=0.0,
        sleep=lambda _: pending.pop(0)() if pending else None,
        on_rotate=messages.append,
        clock=lambda: float(next(clock)) if not pending else 0.0,
        idle_timeout=2.0,
    )
    parser = CsvParser()
    records = [parser.parse(block) for block in reader.blocks()]
    reader.close()
    values = [v for r in records for v in r.value.tolist()]
    assert values == [10.0, 20.0, 30.0, 40.0, 50.0]
    assert all((r.problem == 0).all() for r in records)
    assert [n for r in records for n in r.line.tolist()] == [2, 3, 4, 5, 6]


def test_a_rotated_file_starting_with_the_same_header_restarts_line_numbers(tmp_path):
    path = tmp_path / "app.csv"
    path.write_bytes(b"value\n1\n")

    def rotate_with_header():
        os.rename(path, tmp_path / "app.csv.1")
        path.write_bytes(b"value\n2\n")

    blocks = []
    pending = [rotate_with_header]
    clock = iter(range(10_000))
    reader = FollowReader(
        str(path),
        poll_interval=0.0,
        sleep=lambda _: pending.pop(0)() if pending else None,
        clock=lambda: float(next(clock)) if not pending else 0.0,
        idle_timeout=2.0,
    )
    blocks = [(b.first_line, b.lines()) for b in reader.blocks()]
    reader.close()
    assert blocks == [(1, [b"value", b"1"]), (1, [b"value", b"2"])]


def test_two_rotations_between_polls_are_warned_about_and_counted(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n")

    def rotate_twice():
        write(path, b"2\n")
        os.rename(path, tmp_path / "app.log.1")
        path.write_bytes(b"b1\nb2\n")  # never seen by the reader
        os.rename(tmp_path / "app.log.1", tmp_path / "app.log.2")
        os.rename(path, tmp_path / "app.log.1")
        path.write_bytes(b"c1\n")

    lines, messages, reader = follow(path, [rotate_twice])
    assert lines == [b"1", b"2", b"c1"]
    assert (reader.n_missed_files, reader.n_missed_bytes, reader.n_rotations) == (1, 6, 1)
    assert any(
        f"1 file(s) ({tmp_path / 'app.log.1'}; 6 bytes) were never read" in m for m in messages
    )


def test_on_idle_is_called_once_everything_written_so_far_was_yielded(tmp_path):
    path = tmp_path / "app.log"
    path.write_bytes(b"1\n2\n")
    events = []
    pending = [append(path, b"3\n")]
    clock = iter(range(10_000))
    reader = FollowReader(
        str(path),
        poll_interval=0.0,
        sleep=lambda _: pending.pop(0)() if pending else None,
        on_idle=lambda: events.append("idle"),
        clock=lambda: float(next(clock)) if not pending else 0.0,
        idle_timeout=2.0,
    )
    for block in reader.blocks():
        events.append(block.lines())
    reader.close()
    assert events[:4] == [[b"1", b"2"], "idle", [b"3"], "idle"]
