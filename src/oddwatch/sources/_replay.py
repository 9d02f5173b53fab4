"""Replaying a simulated stream as points, CSV, JSON Lines or Records chunks, optionally in
real time.

Pacing follows a ``time.monotonic()`` schedule, so a slow consumer does not accumulate drift:
point ``i`` is released ``i * delay`` seconds after the first.

Examples
--------
>>> from oddwatch.sources import simulate
>>> [round(p.value, 2) for p in iter_points(simulate(n_points=2, seed=5))]
[50.42, 50.31]
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable, Iterator
from itertools import starmap
from typing import Any, NamedTuple, TextIO, TypeVar

import numpy as np

from oddwatch.sources._base import Records
from oddwatch.sources._problems import MISSING_FIELD
from oddwatch.sources._simulation import Simulation
from oddwatch.sources._simulation_config import DELAY

__all__ = ["SimulatedPoint", "SimulationSource", "iter_points", "write_csv", "write_jsonl"]

_CHUNK = 65536  # points converted to Python objects at a time when iterating
_T = TypeVar("_T")


class SimulatedPoint(NamedTuple):
    """One point of a simulated stream, as yielded by :func:`iter_points`.

    Examples
    --------
    >>> from oddwatch.sources import simulate
    >>> next(iter_points(simulate(n_points=1)))
    SimulatedPoint(timestamp=datetime.datetime(2026, 1, 1, 0, 0), value=50.11...,
                   label=False, kind='')
    """

    timestamp: dt.datetime
    value: float
    label: bool
    kind: str


def _pace(items: Iterable[_T], delay: float) -> Iterator[_T]:
    """Yield item ``i`` at ``i * delay`` seconds after the first, on the monotonic clock."""
    origin = time.monotonic()
    for i, item in enumerate(items):
        wait = origin + i * delay - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        yield item


def _delay(sim: Simulation, delay: float | None, owner: str) -> float:
    return sim.config.delay if delay is None else DELAY.check(owner, "delay", delay)


def _rows(sim: Simulation, delay: float, iso: bool) -> Iterator[tuple[Any, ...]]:
    """Tuples (timestamp, value, label, kind) of Python objects, paced when delay > 0."""
    rows = (
        row
        for a in range(0, len(sim), _CHUNK)
        for row in zip(
            (
                np.datetime_as_string(sim.timestamps[a : a + _CHUNK], unit="s")
                if iso
                else sim.timestamps[a : a + _CHUNK]
            ).tolist(),
            sim.values[a : a + _CHUNK].tolist(),
            sim.labels[a : a + _CHUNK].tolist(),
            sim.kinds[a : a + _CHUNK].tolist(),
            strict=True,
        )
    )
    return _pace(rows, delay) if delay else rows


def iter_points(sim: Simulation, delay: float | None = None) -> Iterator[SimulatedPoint]:
    """Yield the points of ``sim`` one by one, ``delay`` seconds apart (default: config.delay).

    Pacing follows a ``time.monotonic()`` schedule, so a slow consumer does not accumulate
    drift: point ``i`` is released ``i * delay`` seconds after the first.

    Examples
    --------
    >>> from oddwatch.sources import simulate
    >>> sim = simulate(n_points=3, seed=5)
    >>> [round(p.value, 2) for p in iter_points(sim, delay=0.001)]
    [50.42, 50.31, 50.89]
    """
    return map(SimulatedPoint._make, _rows(sim, _delay(sim, delay, "iter_points"), iso=False))


def _csv_row(timestamp: str, value: float, label: bool, kind: str) -> str:
    return f"{timestamp},{'' if math.isnan(value) else repr(value)},{int(label)},{kind}\n"


def _jsonl_row(timestamp: str, value: float, label: bool, kind: str) -> str:
    number = "null" if math.isnan(value) else repr(value)
    return (
        f'{{"timestamp": "{timestamp}", "value": {number}, "label": {int(label)}, '
        f'"kind": "{kind}"}}\n'
    )


def _write(file: TextIO, lines: Iterator[str], paced: bool) -> None:
    if not paced:
        file.writelines(lines)
        return
    for line in lines:
        file.write(line)
        file.flush()


def write_csv(sim: Simulation, file: TextIO, *, delay: float | None = 0.0) -> None:
    """Write ``sim`` as CSV with header ``timestamp,value,label,kind`` to an open text stream.

    Timestamps are ISO 8601, a missing value is an empty field, labels are 0/1 and ``kind``
    is empty for normal points; values use ``repr``, so they read back exactly. With
    ``delay`` > 0 (``None``: config.delay) rows are paced as by :func:`iter_points` and
    flushed one by one. The stream is left open.

    Examples
    --------
    >>> import sys
    >>> from oddwatch.sources import simulate
    >>> write_csv(simulate(n_points=2, seed=5), sys.stdout)
    timestamp,value,label,kind
    2026-01-01T00:00:00,50.42...,0,
    2026-01-01T00:01:00,50.31...,0,
    """
    delay = _delay(sim, delay, "write_csv")
    file.write("timestamp,value,label,kind\n")
    _write(file, starmap(_csv_row, _rows(sim, delay, iso=True)), paced=delay > 0)


def write_jsonl(sim: Simulation, file: TextIO, *, delay: float | None = 0.0) -> None:
    """Write ``sim`` as JSON Lines, one object per point, to an open text stream.

    Keys are ``timestamp`` (ISO 8601), ``value`` (``null`` if missing), ``label`` (0/1) and
    ``kind`` (``""`` for normal points). ``delay`` works as in :func:`write_csv`.

    Examples
    --------
    >>> import sys
    >>> from oddwatch.sources import simulate
    >>> write_jsonl(simulate(n_points=1, seed=5), sys.stdout)
    {"timestamp": "2026-01-01T00:00:00", "value": 50.42..., "label": 0, "kind": ""}
    """
    delay = _delay(sim, delay, "write_jsonl")
    _write(file, starmap(_jsonl_row, _rows(sim, delay, iso=True)), paced=delay > 0)


class SimulationSource:
    """A simulated stream as :class:`~oddwatch.sources.Records` chunks, like a file source.

    Record ``i`` (0-based over all segments) is line ``i + 1``; a missing value (a
    ``missing`` anomaly) is a record with a missing field. ``labels`` and ``kinds`` hold the
    ground truth of the chunk last yielded.

    Parameters
    ----------
    simulation
        One :class:`Simulation`, or an iterable of them read one after the other (e.g. an
        endless generator of segments).
    chunk_size
        Points per chunk.
    delay
        Seconds between points (default: each simulation's ``config.delay``). Points are
        released on a fixed schedule; when the consumer falls behind, the points that came
        due meanwhile form one chunk, so the stream keeps its pace.

    Examples
    --------
    >>> from oddwatch.sources import simulate
    >>> source = SimulationSource(simulate(n_points=5, seed=1), chunk_size=3)
    >>> [(chunk.line.tolist(), chunk.time_text[0]) for chunk in source]
    [([1, 2, 3], '2026-01-01T00:00:00'), ([4, 5], '2026-01-01T00:03:00')]
    """

    def __init__(
        self,
        simulation: Simulation | Iterable[Simulation],
        *,
        chunk_size: int = 4096,
        delay: float | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1; got {chunk_size}.")
        self._segments = [simulation] if isinstance(simulation, Simulation) else simulation
        self.chunk_size = chunk_size
        self.delay = delay
        self.n_points = 0
        self.labels = np.zeros(0, dtype=bool)
        self.kinds = np.zeros(0, dtype=object)

    def _due(self, origin: float, delay: float) -> int:
        """Sleep until the next point is due; return how many are due by then."""
        now = time.monotonic()
        next_due = origin + self.n_points * delay
        if next_due > now:
            time.sleep(next_due - now)
            now = next_due
        return max(1, min(_CHUNK, int((now - origin) / delay) + 1 - self.n_points))

    def __iter__(self) -> Iterator[Records]:
        origin = time.monotonic()
        for sim in self._segments:
            delay = _delay(sim, self.delay, "SimulationSource")
            start = 0
            while start < len(sim):
                take = self._due(origin, delay) if delay > 0 else self.chunk_size
                stop = min(start + take, len(sim))
                yield self._chunk(sim, start, stop)
                start = stop

    def _chunk(self, sim: Simulation, start: int, stop: int) -> Records:
        value = np.array(sim.values[start:stop], dtype=np.float64)
        missing = np.isnan(value)
        problem = np.where(missing, MISSING_FIELD, 0).astype(np.uint8)
        stamps = sim.timestamps[start:stop]
        first = self.n_points + 1
        self.n_points += stop - start
        self.labels, self.kinds = sim.labels[start:stop], sim.kinds[start:stop]
        return Records(
            line=np.arange(first, first + stop - start, dtype=np.int64),
            value=value,
            problem=problem,
            end=self.n_points,
            time=stamps.astype("datetime64[ms]").astype(np.int64) / 1000.0,
            time_text=np.datetime_as_string(stamps, unit="s").tolist(),
            detail={int(i): "the value is missing" for i in np.flatnonzero(missing)},
        )
