"""Replaying a simulated stream as points, CSV or JSON Lines, optionally in real time.

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
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO, TypeVar

import numpy as np

from oddwatch.sources._simulation_config import DELAY

if TYPE_CHECKING:
    from oddwatch.sources.simulate import Simulation

__all__ = ["SimulatedPoint", "iter_points", "write_csv", "write_jsonl"]

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
