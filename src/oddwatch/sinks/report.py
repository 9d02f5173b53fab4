"""End-of-run pictures of a whole run: a self-contained HTML report and a PNG plot.

Both sinks record the run while it streams, in bounded memory: exact per-key counts, every
flagged record (up to ``max_flags``), and the points themselves up to ``max_points`` (past
that, the kept points are thinned to every other one and the keep-rate halves, so a long
run is drawn from an evenly thinned sample while flags are always drawn). On ``close`` the
``top_n`` series with the most flags are drawn; every series is listed in a table.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oddwatch._keyhash import KeyIndex
from oddwatch.errors import InvalidParameterError
from oddwatch.sinks._base import OutputBatch

__all__ = ["HtmlReportSink", "PlotSink", "RunRecorder"]

SINGLE_SERIES = "(series)"


@dataclass
class _Chunk:
    slot: NDArray[np.int64]
    seq: NDArray[np.int64]
    value: NDArray[np.float64]
    expected: NDArray[np.float64]
    scale: NDArray[np.float64]
    flag: NDArray[np.bool_]
    timestamp: Sequence[str] | None

    def thin(self) -> _Chunk:
        stamps = None if self.timestamp is None else self.timestamp[::2]
        return _Chunk(
            self.slot[::2],
            self.seq[::2],
            self.value[::2],
            self.expected[::2],
            self.scale[::2],
            self.flag[::2],
            stamps,
        )


def _severity(score: NDArray[np.float64], threshold: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(threshold > 0, score / threshold, np.nan)
    return np.nan_to_num(ratio, nan=0.0, posinf=0.0, neginf=0.0)


class RunRecorder:
    """What a report needs from a run, in bounded memory (see the module docstring).

    Examples
    --------
    >>> recorder = RunRecorder(max_points=4)
    >>> for start in (0, 3):
    ...     recorder.write(OutputBatch(
    ...         seq=np.arange(start, start + 3), value=np.arange(3.0), score=np.zeros(3),
    ...         threshold=np.ones(3), is_anomaly=np.array([False, True, False]),
    ...         reason=["", "odd", ""], key=np.array(["a", "b", "a"])))
    >>> recorder.n_records, recorder.kept_points, recorder.keep_every, len(recorder.flags)
    (6, 4, 2, 2)
    >>> [(s.key, s.n_points, s.n_flags) for s in recorder.series_summary()]
    [('b', 2, 2), ('a', 4, 0)]
    """

    def __init__(self, max_points: int = 1_000_000, max_flags: int = 100_000) -> None:
        self.max_points = max_points
        self.max_flags = max_flags
        self.index = KeyIndex()
        self.n_records = 0
        self.n_flags = 0
        self.keep_every = 1
        self.kept_points = 0
        self._chunks: list[_Chunk] = []
        self._points = np.zeros(0, dtype=np.int64)
        self._flag_count = np.zeros(0, dtype=np.int64)
        self._max_severity = np.zeros(0, dtype=np.float64)
        self.flags: list[dict[str, Any]] = []
        self.counters: dict[str, float] = {}
        self.started = time.time()
        self.first_timestamp: str | None = None
        self.last_timestamp: str | None = None

    def observe(self, stats: Mapping[str, float]) -> None:
        """Keep the pipeline's latest counters for the run summary."""
        self.counters = dict(stats)

    def write(self, batch: OutputBatch) -> None:
        """Record a batch."""
        n = len(batch)
        if not n:
            return
        keys = batch.key if batch.key is not None else np.full(n, SINGLE_SERIES)
        slot = self.index.slots(keys)
        size = len(self.index)
        if size > len(self._points):
            grow = max(size, 2 * len(self._points), 64)
            self._points = np.concatenate([self._points, np.zeros(grow - len(self._points), int)])
            self._flag_count = np.concatenate(
                [self._flag_count, np.zeros(grow - len(self._flag_count), int)]
            )
            self._max_severity = np.concatenate(
                [self._max_severity, np.zeros(grow - len(self._max_severity))]
            )
        severity = _severity(batch.score, batch.threshold)
        np.add.at(self._points, slot, 1)
        flagged = np.flatnonzero(batch.is_anomaly)
        np.add.at(self._flag_count, slot[flagged], 1)
        np.maximum.at(self._max_severity, slot, severity)
        self.n_records += n
        self.n_flags += len(flagged)
        if batch.timestamp is not None:
            self.first_timestamp = self.first_timestamp or batch.timestamp[0]
            self.last_timestamp = batch.timestamp[-1]
        self._record_flags(batch, keys, flagged, severity)
        self._keep(batch, slot)

    def _record_flags(
        self,
        batch: OutputBatch,
        keys: NDArray[Any],
        flagged: NDArray[np.int64],
        severity: NDArray[np.float64],
    ) -> None:
        for i in flagged[: max(0, self.max_flags - len(self.flags))].tolist():
            self.flags.append(
                {
                    "key": str(keys[i]),
                    "seq": int(batch.seq[i]),
                    "timestamp": None if batch.timestamp is None else batch.timestamp[i],
                    "value": float(batch.value[i]),
                    "expected": math.nan if batch.expected is None else float(batch.expected[i]),
                    "score": float(batch.score[i]),
                    "threshold": float(batch.threshold[i]),
                    "severity": float(severity[i]),
                    "reason": batch.reason[i],
                }
            )

    def _keep(self, batch: OutputBatch, slot: NDArray[np.int64]) -> None:
        n = len(batch)
        nan = np.full(n, np.nan)
        warm = np.isfinite(batch.score)  # no expected band while a detector warms up
        chunk = _Chunk(
            slot,
            batch.seq,
            batch.value,
            nan if batch.expected is None else np.where(warm, batch.expected, np.nan),
            nan if batch.scale is None else batch.scale,
            batch.is_anomaly,
            batch.timestamp,
        )
        if self.keep_every > 1:
            start = (-self.n_records + n) % self.keep_every
            stamps = None if chunk.timestamp is None else chunk.timestamp[start :: self.keep_every]
            step = slice(start, None, self.keep_every)
            chunk = _Chunk(
                chunk.slot[step],
                chunk.seq[step],
                chunk.value[step],
                chunk.expected[step],
                chunk.scale[step],
                chunk.flag[step],
                stamps,
            )
        self._chunks.append(chunk)
        self.kept_points += len(chunk.seq)
        while self.kept_points > self.max_points:
            self._chunks = [c.thin() for c in self._chunks]
            self.kept_points = sum(len(c.seq) for c in self._chunks)
            self.keep_every *= 2

    @dataclass
    class Summary:
        """One series' counts."""

        key: str
        slot: int
        n_points: int
        n_flags: int
        max_severity: float

    def series_summary(self) -> list[RunRecorder.Summary]:
        """Every series, most flags first (then highest score/threshold, then name)."""
        n = len(self.index)
        rows = [
            RunRecorder.Summary(
                self.index.names[s],
                s,
                int(self._points[s]),
                int(self._flag_count[s]),
                float(self._max_severity[s]),
            )
            for s in range(n)
        ]
        rows.sort(key=lambda r: (-r.n_flags, -r.max_severity, r.key))
        return rows

    def panels(self, summaries: list[RunRecorder.Summary]) -> list[Any]:
        """Plot panels (:class:`oddwatch.viz.plot.SeriesPanel`) for these series."""
        from oddwatch.viz.plot import SeriesPanel

        if not self._chunks:
            return []
        slot = np.concatenate([c.slot for c in self._chunks])
        columns = {
            name: np.concatenate([getattr(c, name) for c in self._chunks])
            for name in ("seq", "value", "expected", "scale", "flag")
        }
        stamps: list[str] | None = None
        if all(c.timestamp is not None for c in self._chunks):
            stamps = [t for c in self._chunks for t in (c.timestamp or [])]
        flag_reasons: dict[int, list[str]] = {}
        for f in self.flags:
            flag_reasons.setdefault(self.index.slot_of(f["key"]) or 0, []).append(f["reason"])
        panels = []
        for summary in summaries:
            rows = np.flatnonzero(slot == summary.slot)
            x: Any = columns["seq"][rows]
            if stamps is not None:
                x = _parse_times([stamps[i] for i in rows.tolist()], x)
            note = f"{summary.n_flags:,} flags in {summary.n_points:,} points"
            if self.keep_every > 1:
                note += f"; every {self.keep_every}th point drawn"
            panels.append(
                SeriesPanel(
                    summary.key,
                    x,
                    columns["value"][rows],
                    columns["flag"][rows],
                    columns["expected"][rows],
                    columns["scale"][rows],
                    note,
                    flag_reasons.get(summary.slot, []),
                )
            )
        return panels


def _parse_times(stamps: list[str], fallback: NDArray[np.int64]) -> Any:
    """ISO timestamps as ``datetime64`` (UTC offsets applied), or ``fallback`` if any fails."""
    cleaned = []
    for text in stamps:
        text = text.strip().replace(" ", "T")
        offset = np.timedelta64(0, "m")
        if text.endswith("Z"):
            text = text[:-1]
        elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":":
            sign = 1 if text[-6] == "-" else -1
            offset = np.timedelta64(sign * (int(text[-5:-3]) * 60 + int(text[-2:])), "m")
            text = text[:-6]
        cleaned.append((text, offset))
    try:
        return np.array([np.datetime64(t, "ms") + o for t, o in cleaned], dtype="datetime64[ms]")
    except ValueError:
        return fallback


class _RecordingSink:
    """Records the run; subclasses write their file on ``close``."""

    def __init__(self, path: str | os.PathLike[str], top_n: int, max_points: int) -> None:
        if top_n < 0:
            raise InvalidParameterError(f"`top_n` must be >= 0; got {top_n}.")
        self.path = os.fspath(path)
        self.top_n = top_n
        self.recorder = RunRecorder(max_points=max_points)
        self.closed = False

    def write(self, batch: OutputBatch) -> None:
        """Record a batch (nothing is written before ``close``)."""
        self.recorder.write(batch)

    def observe(self, stats: Mapping[str, float]) -> None:
        """Keep the pipeline's counters for the summary."""
        self.recorder.observe(stats)

    def close(self) -> None:
        """Write the file (once)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._write_file()
        except OSError as exc:
            raise InvalidParameterError(
                f"cannot write {self.path!r}: {exc.strerror or exc}. Check the directory exists "
                "and is writable."
            ) from None

    def _write_file(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> _RecordingSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PlotSink(_RecordingSink):
    """At the end of the run, a PNG (or SVG/PDF) of the ``top_n`` series with the most flags.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.png"
    >>> with PlotSink(path) as sink:
    ...     sink.write(OutputBatch(seq=np.arange(3), value=np.arange(3.0), score=np.zeros(3),
    ...                            threshold=np.ones(3), is_anomaly=np.array([0, 1, 0], bool),
    ...                            reason=["", "odd", ""]))
    >>> path.read_bytes()[:4]
    b'\\x89PNG'
    """

    def __init__(
        self, path: str | os.PathLike[str], top_n: int = 6, max_points: int = 1_000_000
    ) -> None:
        super().__init__(path, top_n, max_points)

    def _write_file(self) -> None:
        from oddwatch.viz.plot import save_plot

        recorder = self.recorder
        top = recorder.series_summary()[: self.top_n]
        title = (
            f"oddwatch: {recorder.n_records:,} records, {len(recorder.index):,} series, "
            f"{recorder.n_flags:,} flagged"
        )
        if len(recorder.index) > len(top):
            title += f" (top {len(top)} series by flags)"
        save_plot(self.path, recorder.panels(top), title=title)


class HtmlReportSink(_RecordingSink):
    """At the end of the run, one self-contained HTML file: summary, top anomalies, series.

    Readable from 1 to 10,000+ series: the ``top_n`` series with the most flags are drawn
    (values, expected band, flags, and each flag's reason), the ``n_anomalies`` strongest
    flags are listed, and every series (up to ``max_rows``) is in a table.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> with HtmlReportSink(path, title="test run") as sink:
    ...     sink.write(OutputBatch(seq=np.arange(3), value=np.arange(3.0), score=np.zeros(3),
    ...                            threshold=np.ones(3), is_anomaly=np.array([0, 1, 0], bool),
    ...                            reason=["", "1 is 5.0 sd above the expected 0", ""]))
    >>> text = path.read_text()
    >>> "test run" in text, "1 is 5.0 sd above the expected 0" in text, "<img" in text
    (True, True, True)
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        top_n: int = 12,
        max_points: int = 1_000_000,
        n_anomalies: int = 20,
        max_rows: int = 10_000,
        title: str = "oddwatch run report",
    ) -> None:
        super().__init__(path, top_n, max_points)
        self.n_anomalies = n_anomalies
        self.max_rows = max_rows
        self.title = title

    def _write_file(self) -> None:
        from oddwatch.sinks._report_html import render_report

        text = render_report(self)
        with open(self.path, "w", encoding="utf-8") as fh:
            fh.write(text)
