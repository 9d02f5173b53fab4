"""Feed a :class:`Board` from a results file that ``oddwatch detect --out`` keeps writing.

This runs the dashboard in a process of its own, so it cannot slow detection at all: detect
writes JSON Lines, and this reads them as they are appended (like ``tail -f``). Records
carry no forecast in that format, so the page shows no expected band in this mode.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import IO, Any

import numpy as np

from oddwatch.dashboard.board import Board
from oddwatch.errors import SourceError
from oddwatch.sinks._base import OutputBatch

__all__ = ["follow_results", "read_batches"]


def _float(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else np.nan


def _batch(rows: list[dict[str, Any]]) -> OutputBatch:
    keys = [r.get("key") for r in rows]
    stamps = [r.get("timestamp") for r in rows]
    return OutputBatch(
        seq=np.array([int(r.get("seq") or 0) for r in rows], dtype=np.int64),
        value=np.array([_float(r.get("value")) for r in rows]),
        score=np.array([_float(r.get("score")) for r in rows]),
        threshold=np.array([_float(r.get("threshold")) for r in rows]),
        is_anomaly=np.array([bool(r.get("is_anomaly")) for r in rows]),
        reason=[str(r.get("reason") or "") for r in rows],
        key=None if all(k is None for k in keys) else np.array([str(k) for k in keys]),
        timestamp=None if all(t is None for t in stamps) else [str(t or "") for t in stamps],
    )


def read_batches(fh: IO[bytes], batch: int = 10_000) -> Iterator[tuple[OutputBatch, int]]:
    """Complete lines available now, as batches, with the count of lines not understood.

    A last line without its newline is left for the next call (it is still being written).

    Examples
    --------
    >>> import io
    >>> fh = io.BytesIO(b'{"seq": 1, "key": "a", "value": 2.0, "is_anomaly": true, '
    ...                 b'"reason": "odd"}\\nnot json\\n{"seq": 2')
    >>> [(len(b), bad, b.reason) for b, bad in read_batches(fh)]
    [(1, 1, ['odd'])]
    >>> fh.read()  # the unfinished line was put back
    b'{"seq": 2'
    """
    rows: list[dict[str, Any]] = []
    bad = 0
    while True:
        start = fh.tell()
        line = fh.readline()
        if not line:
            break
        if not line.endswith(b"\n"):
            fh.seek(start)
            break
        try:
            row = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if not isinstance(row, dict):
            bad += 1
            continue
        rows.append(row)
        if len(rows) >= batch:
            yield _batch(rows), bad
            rows, bad = [], 0
    if rows or bad:
        yield (_batch(rows) if rows else _batch([])), bad


def follow_results(
    path: str,
    board: Board,
    stop: threading.Event,
    from_start: bool = True,
    poll_seconds: float = 0.2,
) -> None:
    """Feed ``board`` with the records of ``path`` as they are appended, until ``stop``.

    Counts go to the board as the counters ``records_read``, ``anomalies``, ``keys`` and
    ``unreadable_lines``.
    """
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise SourceError(f"cannot read {path!r}: {exc.strerror or exc}.") from None
    counts = {"records_read": 0.0, "anomalies": 0.0, "unreadable_lines": 0.0}
    keys: set[str] = set()
    with fh:
        if not from_start:
            fh.seek(0, os.SEEK_END)
        while not stop.is_set():
            got = False
            for batch, bad in read_batches(fh):
                got = True
                counts["unreadable_lines"] += bad
                if not len(batch):
                    continue
                board.submit(batch)
                counts["records_read"] += len(batch)
                counts["anomalies"] += int(np.count_nonzero(batch.is_anomaly))
                if batch.key is not None and len(keys) < 1_000_000:
                    keys.update(np.unique(batch.key).tolist())
                board.observe({**counts, "keys": float(len(keys) or 1)})
            if not got:
                stop.wait(poll_seconds)
