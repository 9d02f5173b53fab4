"""Output rows as JSON Lines or CSV bytes, a whole batch in one compiled pass.

:func:`encode_rows` writes what the Python formatters of :mod:`oddwatch.sinks.jsonl` and
:mod:`oddwatch.sinks.csv` write, byte for byte, for the common batch: numbers ``repr`` can
be matched by :func:`oddwatch._numtext.write_float`, texts (keys, timestamps, reasons) of
printable ASCII that need no escaping or quoting. For any other batch it returns None and the
caller formats in Python.

Examples
--------
>>> import numpy as np
>>> from oddwatch.sinks._base import OutputBatch
>>> batch = OutputBatch(seq=np.array([7]), value=np.array([0.1 + 0.2]),
...                     score=np.array([np.nan]), threshold=np.array([0.8]),
...                     is_anomaly=np.array([False]), reason=[""], timestamp=["2026-01-01"])
>>> encode_rows(batch, csv=False)
b'{"seq":7,"key":null,"timestamp":"2026-01-01","value":0.30000000000000004,"score":null,...}\\n'
>>> encode_rows(batch, csv=True)
b'7,,2026-01-01,0.30000000000000004,,false,0.8,\\n'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import NDArray

from oddwatch._numtext import INLINE_OPTIONS, write_float, write_int
from oddwatch._textcolumn import TextColumn
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.sinks._base import OutputBatch

__all__ = ["encode_rows"]


def _table(texts: Sequence[str]) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Texts one after the other, and where each ends."""
    encoded = [t.encode() for t in texts]
    flat = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8).copy()
    return flat, np.cumsum([0] + [len(t) for t in encoded])


# what comes before each field (and after the last), and the text of a missing value
_JSON = _table(['{"seq":', ',"key":', ',"timestamp":', ',"value":', ',"score":',
                ',"is_anomaly":', ',"threshold":', ',"reason":', "}\n", "null"])  # fmt: skip
_CSV = _table(["", ",", ",", ",", ",", ",", ",", ",", "\n", ""])
_MISSING = 9
_FLOAT_ROOM = 32  # bytes reserved per number


@numba.jit(**INLINE_OPTIONS)
def _put(out: np.ndarray, pos: int, table: np.ndarray, bounds: np.ndarray, k: int) -> int:
    """Copy text ``k`` of ``table`` (it spans ``bounds[k]:bounds[k + 1]``)."""
    for j in range(bounds[k], bounds[k + 1]):
        out[pos] = table[j]
        pos += 1
    return pos


@numba.jit(**INLINE_OPTIONS)
def _put_text(out: np.ndarray, pos: int, data: np.ndarray, start: int, stop: int, csv: bool) -> int:
    """Copy a text field (quoted in JSON); -1 if it needs escaping or quoting."""
    if not csv:
        out[pos] = 34
        pos += 1
    for j in range(start, stop):
        c = data[j]
        if c < 32 or c > 126 or c == 34 or c == 92 or (csv and c == 44):
            return -1
        out[pos] = c
        pos += 1
    if not csv:
        out[pos] = 34
        pos += 1
    return pos


@numba.jit(**NUMBA_OPTIONS)
def _put_number(out: np.ndarray, pos: int, x: float, table: np.ndarray, bounds: np.ndarray) -> int:
    if math.isnan(x) or math.isinf(x):
        end: int = _put(out, pos, table, bounds, _MISSING)
    else:
        end = write_float(x, out, pos)
    return end


@numba.jit(**NUMBA_OPTIONS)
def _encode(
    seq: np.ndarray,
    value: np.ndarray,
    score: np.ndarray,
    threshold: np.ndarray,
    is_anomaly: np.ndarray,
    texts: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
    present: np.ndarray,
    csv: bool,
    table: np.ndarray,
    bounds: np.ndarray,
    out: np.ndarray,
) -> int:
    """Rows into ``out``; bytes written, or -1 when a field needs the Python formatter.

    ``texts``/``starts``/``stops`` hold the key, timestamp and reason columns (rows 0-2;
    ``present[c]`` False for an absent column); ``table`` the texts between fields.
    """
    pos = 0
    last, n_last = math.inf, -1  # the last threshold written, and its text
    last_text = np.empty(_FLOAT_ROOM, dtype=np.uint8)
    for i in range(seq.shape[0]):
        pos = write_int(seq[i], out, _put(out, pos, table, bounds, 0))
        for c in range(2):
            pos = _put(out, pos, table, bounds, 1 + c)
            if present[c]:
                pos = _put_text(out, pos, texts, starts[c, i], stops[c, i], csv)
                if pos < 0:
                    return -1
            else:
                pos = _put(out, pos, table, bounds, _MISSING)
        pos = _put_number(out, _put(out, pos, table, bounds, 3), value[i], table, bounds)
        if pos < 0:
            return -1
        pos = _put_number(out, _put(out, pos, table, bounds, 4), score[i], table, bounds)
        if pos < 0:
            return -1
        pos = _put(out, pos, table, bounds, 5)
        if is_anomaly[i]:
            out[pos : pos + 4] = _TRUE
            pos += 4
        else:
            out[pos : pos + 5] = _FALSE
            pos += 5
        pos = _put(out, pos, table, bounds, 6)
        same = threshold[i] == last or (math.isnan(threshold[i]) and math.isnan(last))
        if n_last >= 0 and same:
            for j in range(n_last):  # the threshold rarely changes: reuse its text
                out[pos + j] = last_text[j]
            pos += n_last
        else:
            end = _put_number(out, pos, threshold[i], table, bounds)
            if end < 0:
                return -1
            last, n_last = threshold[i], end - pos
            last_text[:n_last] = out[pos:end]
            pos = end
        pos = _put(out, pos, table, bounds, 7)
        pos = _put_text(out, pos, texts, starts[2, i], stops[2, i], csv)
        if pos < 0:
            return -1
        pos = _put(out, pos, table, bounds, 8)
    return pos


_TRUE = np.frombuffer(b"true", dtype=np.uint8).copy()
_FALSE = np.frombuffer(b"false", dtype=np.uint8).copy()
_Packed = tuple[bytes, NDArray[np.int64], NDArray[np.int64]]


def _packed(column: Sequence[str] | NDArray[np.str_] | None, n: int) -> _Packed | None:
    """``(bytes, starts, stops)`` of a text column, None when it is not all ASCII."""
    if column is None:
        return b"", np.zeros(n, np.int64), np.zeros(n, np.int64)
    if isinstance(column, TextColumn):
        return column.data, column.start, column.stop
    texts: list[str] = column.tolist() if isinstance(column, np.ndarray) else list(column)
    joined = "".join(texts)
    if not joined.isascii():
        return None
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    stops = np.cumsum(lengths)
    return joined.encode(), stops - lengths, stops


def encode_rows(batch: OutputBatch, *, csv: bool) -> bytes | None:
    """The batch's rows as JSON Lines (or CSV) bytes, or None to format them in Python."""
    n = len(batch)
    packed = [_packed(batch.key, n), _packed(batch.timestamp, n), _packed(batch.reason, n)]
    columns = [c for c in packed if c is not None]
    if len(columns) < 3:
        return None
    offsets = np.cumsum([0] + [len(c[0]) for c in columns[:-1]])
    texts = np.frombuffer(b"".join(c[0] for c in columns), dtype=np.uint8)
    starts = np.stack([c[1] + o for c, o in zip(columns, offsets, strict=True)])
    stops = np.stack([c[2] + o for c, o in zip(columns, offsets, strict=True)])
    present = np.array([batch.key is not None, batch.timestamp is not None, True])
    room = n * (160 + 3 * _FLOAT_ROOM) + int((stops - starts).sum())
    out = np.empty(room, dtype=np.uint8)
    end = _encode(
        np.ascontiguousarray(batch.seq, dtype=np.int64),
        np.ascontiguousarray(batch.value, dtype=np.float64),
        np.ascontiguousarray(batch.score, dtype=np.float64),
        np.ascontiguousarray(batch.threshold, dtype=np.float64),
        np.ascontiguousarray(batch.is_anomaly, dtype=np.bool_),
        texts,
        starts,
        stops,
        present,
        csv,
        *(_CSV if csv else _JSON),
        out,
    )
    return None if end < 0 else out[:end].tobytes()
