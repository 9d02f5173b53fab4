"""Timestamps as seconds since the epoch: ISO 8601 text or plain numbers, parsed in bulk.

A field whose fifth character is ``-`` is read as ISO 8601 (``2026-01-01T00:00:00``, a space
instead of ``T``, fractions, ``Z`` or ``+01:00`` offsets; naive times are taken as UTC);
any other field as a number of seconds. A chunk whose ISO texts share one layout is parsed
in bulk (:mod:`oddwatch.sources._iso`); the rest (mixed layouts, odd spacing) one by one
with :meth:`datetime.datetime.fromisoformat`.

Examples
--------
>>> seconds, problem, detail = parse_times([b"2026-01-01T00:01:00", b"1767225600.5", b"soon"])
>>> seconds.tolist(), problem.tolist(), detail
([1767225660.0, 1767225600.5, nan], [0, 0, 5],
 {2: "timestamp 'soon' is neither ISO 8601 nor a number"})
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
from numpy.typing import NDArray

from oddwatch._typing import FloatArray
from oddwatch.sources._iso import parse_uniform
from oddwatch.sources._problems import BAD_TIMESTAMP, MAX_FIELD_BYTES, MISSING_FIELD

__all__ = ["parse_times"]

_EPOCH = datetime(1970, 1, 1)
_SECOND = timedelta(seconds=1)


def _bad(text: bytes) -> str:
    return f"timestamp {text.decode('utf-8', 'replace')[:60]!r} is neither ISO 8601 nor a number"


def _one_iso(text: bytes) -> float:
    """Seconds since the epoch of one ISO 8601 text, or ``nan``."""
    try:
        moment = datetime.fromisoformat(text.decode("utf-8").strip())
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):  # UnicodeDecodeError is a ValueError
        return math.nan
    return float((moment - _EPOCH) / _SECOND)


def _iso(texts: list[bytes], arr: NDArray[np.bytes_] | None = None) -> FloatArray:
    seconds = parse_uniform(np.array(texts, dtype="S") if arr is None else arr)
    if seconds is None:
        return np.array([_one_iso(t) for t in texts], dtype=np.float64)
    return seconds


def _numbers(texts: list[bytes]) -> FloatArray:
    try:
        return np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except ValueError:
        out = np.empty(len(texts))
        for i, text in enumerate(texts):
            try:
                out[i] = float(text)
            except ValueError:
                out[i] = math.nan
        return out


def parse_times(
    texts: list[bytes],
) -> tuple[FloatArray, NDArray[np.uint8], dict[int, str]]:
    """Parse timestamp fields; return seconds, problem codes and problem details.

    A blank field is a missing field; an unparsable or non-finite one, or one longer than
    ``MAX_FIELD_BYTES``, a bad timestamp.
    """
    n = len(texts)
    seconds = np.full(n, np.nan)
    problem = np.zeros(n, dtype=np.uint8)
    detail: dict[int, str] = {}
    if n == 0:
        return seconds, problem, detail
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    too_long = np.flatnonzero(lengths > MAX_FIELD_BYTES)
    if too_long.shape[0]:
        texts = list(texts)
        for j in too_long.tolist():
            texts[j] = b"?"  # keeps the array below narrow; reported below
        seconds, problem, detail = parse_times(texts)
        for j in too_long.tolist():
            problem[j] = BAD_TIMESTAMP
            detail[j] = (
                f"the timestamp has {lengths[j]} bytes, more than the limit of {MAX_FIELD_BYTES}"
            )
        return seconds, problem, detail
    arr = np.array(texts, dtype="S")
    width = arr.dtype.itemsize
    chars = arr.view(np.uint8).reshape(n, width)
    iso = chars[:, 4] == ord("-") if width > 4 else np.zeros(n, dtype=bool)
    blank = chars[:, 0] == 0
    if blank.any():
        blank = np.array([not t.strip() for t in texts])
    where_iso = np.flatnonzero(iso & ~blank)
    where_num = np.flatnonzero(~iso & ~blank)
    if where_iso.shape[0] == n:
        seconds[:] = _iso(texts, arr)
    elif where_iso.shape[0]:
        seconds[where_iso] = _iso([texts[i] for i in where_iso])
    if where_num.shape[0]:
        seconds[where_num] = _numbers([texts[i] for i in where_num])
    bad = ~np.isfinite(seconds) & ~blank
    for i in np.flatnonzero(bad & ~iso):  # e.g. " 2026-01-01": padded ISO text
        seconds[i] = _one_iso(texts[i])
    bad = ~np.isfinite(seconds) & ~blank
    seconds[bad] = math.nan
    problem[blank] = MISSING_FIELD
    problem[bad] = BAD_TIMESTAMP
    for i in np.flatnonzero(bad):
        detail[int(i)] = _bad(texts[i])
    for i in np.flatnonzero(blank):
        detail[int(i)] = "the timestamp field is empty"
    return seconds, problem, detail
