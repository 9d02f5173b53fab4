"""One pass over a block of plain CSV lines in compiled code: fields, numbers, timestamps.

:func:`scan_block` cuts each line into fields, and parses the value field as a number and the
time field as ``YYYY-MM-DDTHH:MM:SS`` (``T`` or a space, optional ``Z``) or a number of
seconds, exactly as Python would (:mod:`oddwatch._numtext`). It declines a block -- the
caller then uses the reference parser -- when a line has a quote, a stray carriage return or
a NUL byte, or the wrong number of fields. Within a clean block it flags the value fields it
could not read (``value_ok``) for the caller to read with Python, and reports whether every
time field was read (else the caller parses the whole time column with Python).

Examples
--------
>>> import numpy as np
>>> data = np.frombuffer(b"2026-01-01T00:00:00,1.5\\n\\r\\n2026-01-01T00:01:00,x\\n", np.uint8)
>>> out = ScanOutput.empty(3)
>>> scan_block(data, 44, 2, 0, 1, -1, 1, *out)
(2, True, True)
>>> out.line[:2].tolist(), out.value[:1].tolist(), out.value_ok[:2].tolist(), out.time[:2]
([1, 3], [1.5], [True, False], array([1.7672256e+09, 1.7672257e+09]))
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numpy.typing import NDArray

from oddwatch._numtext import parse_float
from oddwatch.config import NUMBA_OPTIONS

__all__ = ["ScanOutput", "scan_block"]

_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


class ScanOutput(NamedTuple):
    """Per-record outputs of :func:`scan_block` (preallocated, one entry per line)."""

    line: NDArray[np.int64]
    value: NDArray[np.float64]
    value_ok: NDArray[np.bool_]
    time: NDArray[np.float64]
    spans: NDArray[np.int64]  # (records, 6): time, value and key fields' start and stop

    @classmethod
    def empty(cls, n: int) -> ScanOutput:
        return cls(
            np.empty(n, np.int64),
            np.empty(n),
            np.empty(n, np.bool_),
            np.empty(n),
            np.empty((n, 6), np.int64),
        )


@numba.jit(**NUMBA_OPTIONS)
def _digits(data: np.ndarray, start: int, n: int) -> int:
    """The number written by ``n`` ASCII digits at ``start``; -1 if one is not a digit."""
    value = 0
    for j in range(start, start + n):
        c = data[j]
        if c < 48 or c > 57:
            return -1
        value = value * 10 + (c - 48)
    return value


@numba.jit(**NUMBA_OPTIONS)
def _iso_seconds(data: np.ndarray, a: int, b: int) -> tuple[float, bool]:
    """Seconds since the epoch of ``YYYY-MM-DD[T ]HH:MM:SS[Z]``; False for anything else."""
    n = b - a
    if n == 20 and data[b - 1] == 90:  # Z
        n = 19
    if n != 19 or data[a + 4] != 45 or data[a + 7] != 45 or data[a + 13] != 58:
        return 0.0, False
    if data[a + 16] != 58 or (data[a + 10] != 84 and data[a + 10] != 32):
        return 0.0, False
    year, month, day = _digits(data, a, 4), _digits(data, a + 5, 2), _digits(data, a + 8, 2)
    hour, minute = _digits(data, a + 11, 2), _digits(data, a + 14, 2)
    second = _digits(data, a + 17, 2)
    if min(year, month, day, hour, minute, second) < 0 or year < 1:
        return 0.0, False
    if month < 1 or month > 12 or day < 1 or hour > 23 or minute > 59 or second > 59:
        return 0.0, False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > _DAYS_IN_MONTH[month] - (1 if month == 2 and not leap else 0):
        return 0.0, False
    y = year - (1 if month <= 2 else 0)  # days from civil (H. Hinnant)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return float(days * 86400 + hour * 3600 + minute * 60 + second), True


@numba.jit(**NUMBA_OPTIONS)
def scan_block(
    data: np.ndarray,
    delimiter: int,
    n_fields: int,
    time_col: int,
    value_col: int,
    key_col: int,
    first_line: int,
    line: np.ndarray,
    value: np.ndarray,
    value_ok: np.ndarray,
    time: np.ndarray,
    spans: np.ndarray,
) -> tuple[int, bool, bool]:
    """Scan ``data`` (whole lines, the last one ending in ``\\n``); return the number of
    records, whether the block is clean, and whether every time field was read.

    Empty lines are not records (a line of whitespace declines the block). Columns are
    0-based; -1 means absent. ``spans[i]`` holds the byte ranges of record ``i``'s time,
    value and key fields.
    """
    n = 0
    times_ok = True
    pos = 0
    number = first_line
    size = data.shape[0]
    while pos < size:
        end = pos
        blank = True
        quote = False
        while data[end] != 10:
            c = data[end]
            if c != 32 and (c < 9 or c > 13):
                blank = False
            if c == 34 or c == 0:
                quote = True
            end += 1
        stop = end - 1 if end > pos and data[end - 1] == 13 else end
        if blank and stop > pos:  # whitespace, which the reference parser may keep
            return n, False, times_ok
        if not blank:
            if quote:
                return n, False, times_ok
            field = 0
            start = pos
            for j in range(pos, stop + 1):
                if j == stop or data[j] == delimiter:
                    if field == time_col:
                        spans[n, 0], spans[n, 1] = start, j
                    if field == value_col:
                        spans[n, 2], spans[n, 3] = start, j
                    if field == key_col:
                        spans[n, 4], spans[n, 5] = start, j
                    field += 1
                    start = j + 1
                elif data[j] == 13:
                    return n, False, times_ok
            if field != n_fields:
                return n, False, times_ok
            line[n] = number
            value[n], value_ok[n] = parse_float(data, spans[n, 2], spans[n, 3])
            if time_col >= 0 and times_ok:
                a, b = spans[n, 0], spans[n, 1]
                if b - a > 4 and data[a + 4] == 45:
                    time[n], times_ok = _iso_seconds(data, a, b)
                else:
                    time[n], times_ok = parse_float(data, a, b)
            n += 1
        pos = end + 1
        number += 1
    return n, True, times_ok
