"""follow_results: a results file that keeps growing feeds the board, partial lines wait."""

from __future__ import annotations

import json
import threading
import time

import pytest

from oddwatch.dashboard import Board
from oddwatch.dashboard.follow import follow_results
from oddwatch.errors import SourceError


def _line(seq, key, flagged=False):
    return json.dumps(
        {
            "seq": seq,
            "key": key,
            "timestamp": f"2026-01-01T00:00:{seq % 60:02d}",
            "value": float(seq),
            "score": 0.9 if flagged else 0.1,
            "is_anomaly": flagged,
            "threshold": 0.8,
            "reason": "odd" if flagged else "",
        }
    )


def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.02)
    return condition()


def test_appended_records_reach_the_board_and_a_half_written_line_waits(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("\n".join(_line(i, f"k{i % 3}") for i in range(30)) + "\n")
    board = Board(max_busy=1.0, burst=60.0)  # fold everything: the test checks content
    stop = threading.Event()
    follower = threading.Thread(target=follow_results, args=(str(path), board, stop, True, 0.02))
    follower.start()
    try:
        assert _wait(lambda: board.counters.get("records_read") == 30)
        with path.open("a") as fh:
            half = _line(30, "k9", flagged=True)
            fh.write(half[:20])
            fh.flush()
            time.sleep(0.2)
            assert board.counters["records_read"] == 30  # not a record yet
            fh.write(half[20:] + "\nnot json\n")
        assert _wait(lambda: board.counters.get("records_read") == 31)
    finally:
        stop.set()
        follower.join()
    board.drain()
    assert board.counters["anomalies"] == 1 and board.counters["unreadable_lines"] == 1
    assert board.counters["keys"] == 4
    assert board.overview()["alerts"][0]["key"] == "k9"
    assert board.series("k1")["value"] == [float(i) for i in range(1, 30, 3)]


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="cannot read .*nope.jsonl"):
        follow_results(str(tmp_path / "nope.jsonl"), Board(), threading.Event())
