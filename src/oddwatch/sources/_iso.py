"""ISO 8601 timestamps that all share one layout, parsed with integer arithmetic in NumPy.

A chunk of timestamps from one file nearly always has one layout (same length, separators in
the same places), e.g. ``2026-01-01T00:00:00``, ``2026-01-01 00:00:00.250`` or
``2026-01-01T00:00:00+01:00``. Such a chunk is parsed column by column on a ``uint8`` view of
the text: no Python object per timestamp, and no use of NumPy's ``datetime64`` string
parser (NumPy 2.4 crashes on a malformed string, or a time zone offset, in a cast of more
than about a thousand strings). Chunks with mixed layouts are left to the caller.

Examples
--------
>>> import numpy as np
>>> texts = np.array([b"2026-01-01T00:00:00Z", b"2026-01-01T01:30:00Z"])
>>> parse_uniform(texts).tolist()
[1767225600.0, 1767231000.0]
>>> parse_uniform(np.array([b"2026-02-30 00:00", b"2026-03-01 00:00"])).tolist()
[nan, 1772323200.0]
"""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import NDArray

from oddwatch._typing import FloatArray

__all__ = ["parse_uniform"]

# the layout with each digit written as "d"
_LAYOUT = re.compile(
    r"dddd-dd-dd(?:[T ]dd:dd(?::dd(?P<fraction>\.d{1,9})?)?)?(?P<zone>Z|[+-]dd:?dd)?"
)
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_FIRST, _LAST = -62135596800.0, 253402300800.0  # 0001-01-01 and 10000-01-01, UTC


def _digits(chars: NDArray[np.uint8], start: int, stop: int) -> NDArray[np.int64]:
    value = np.zeros(chars.shape[0], dtype=np.int64)
    for j in range(start, stop):
        value = value * 10 + (chars[:, j].astype(np.int64) - 48)
    return value


def _days_from_civil(
    year: NDArray[np.int64], month: NDArray[np.int64], day: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    year = year - (month <= 2)
    era = year // 400
    yoe = year - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    result: NDArray[np.int64] = era * 146097 + doe - 719468
    return result


def _layout(chars: NDArray[np.uint8]) -> str | None:
    """The shared layout of all rows ("d" for digits), or None when rows differ."""
    digit = (chars >= 48) & (chars <= 57)
    if not (digit == digit[0]).all():
        return None
    fixed = ~digit[0]
    if not (chars[:, fixed] == chars[0, fixed]).all():
        return None
    row = chars[0]
    length = int(np.count_nonzero(row))
    if row[length:].any():
        return None
    return "".join("d" if digit[0, i] else chr(row[i]) for i in range(length))


def parse_uniform(texts: NDArray[np.bytes_]) -> FloatArray | None:
    """Seconds since the epoch (UTC) of same-layout ISO 8601 texts; ``nan`` for impossible
    dates or times; None when the texts do not share one supported layout."""
    n = texts.shape[0]
    width = texts.dtype.itemsize
    if n == 0 or width < 10:
        return None
    chars = np.ascontiguousarray(texts).view(np.uint8).reshape(n, width)
    layout = _layout(chars)
    match = None if layout is None else _LAYOUT.fullmatch(layout)
    if layout is None or match is None:
        return None
    year, month, day = _digits(chars, 0, 4), _digits(chars, 5, 7), _digits(chars, 8, 10)
    length = len(layout)
    zone_at = match.start("zone") if match.group("zone") else length
    hour = _digits(chars, 11, 13) if zone_at > 10 else np.zeros(n, np.int64)
    minute = _digits(chars, 14, 16) if zone_at > 10 else np.zeros(n, np.int64)
    second = _digits(chars, 17, 19) if zone_at > 16 else np.zeros(n, np.int64)
    seconds = (
        _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
    ).astype(np.float64)
    if match.group("fraction"):
        start, stop = match.start("fraction") + 1, match.end("fraction")
        seconds += _digits(chars, start, stop) / 10.0 ** (stop - start)
    if match.group("zone") and match.group("zone") != "Z":
        zone = layout[zone_at:].replace(":", "")
        offset = (
            _digits(chars, zone_at + 1, zone_at + 3) * 3600
            + _digits(chars, length - 2, length) * 60
        )
        seconds -= offset if zone[0] == "+" else -offset
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_ok = (month >= 1) & (month <= 12)
    days = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] - ((month == 2) & ~leap)
    ok = (year >= 1) & month_ok & (day >= 1) & (day <= days) & (hour < 24) & (minute < 60)
    ok &= (second < 60) & (seconds >= _FIRST) & (seconds < _LAST)  # in UTC, as Python's
    seconds[~ok] = np.nan
    return seconds
