"""CSV records: a header (or none), one record per line, parsed a block at a time.

Blocks without quotes whose lines all have the expected number of fields are scanned in one
compiled pass (:mod:`oddwatch.sources._csv_scan`: fields, numbers and ``YYYY-MM-DDTHH:MM:SS``
timestamps, exactly as Python reads them; millions of lines per second), the few fields it
cannot read going to Python. Other blocks go through the reference parser: one
``bytes.split`` when no line is empty, else line by line through the :mod:`csv` module, so
quoting works and a bad line only marks that record. A quoted field may not span lines.
Blank lines are not records.

Examples
--------
>>> import io
>>> from oddwatch.sources._base import read_blocks
>>> parser = CsvParser()
>>> data = b"timestamp,value\\n2026-01-01T00:00:00,1.5\\n2026-01-01T00:01:00,oops\\n"
>>> records = [parser.parse(b) for b in read_blocks(io.BytesIO(data))][0]
>>> parser.columns, records.line.tolist(), records.value.tolist(), records.problem.tolist()
(Columns(time=0, value=1, key=None), [2, 3], [1.5, nan], [0, 3])
>>> records.detail
{1: "value 'oops' is not a number"}
"""

from __future__ import annotations

import csv
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oddwatch._textcolumn import TextColumn
from oddwatch._typing import FloatArray
from oddwatch.errors import SourceError
from oddwatch.sources._base import LineBlock, Records
from oddwatch.sources._columns import Columns, resolve
from oddwatch.sources._csv_scan import ScanOutput, scan_block
from oddwatch.sources._time import parse_times
from oddwatch.sources.records import (
    MISSING_FIELD,
    NOT_FINITE,
    NOT_NUMERIC,
    UNPARSABLE,
    key_array,
    merge_problems,
)

__all__ = ["CsvParser", "decode_all", "parse_values"]


def _cut(data: bytes, start: NDArray[np.int64], stop: NDArray[np.int64]) -> list[bytes]:
    return [data[a:b] for a, b in zip(start.tolist(), stop.tolist(), strict=True)]


_BOM = b"\xef\xbb\xbf"


def decode_all(texts: list[bytes], errors: str = "replace") -> list[str]:
    """Decode UTF-8 fields in one call (invalid bytes become U+FFFD, or lone surrogates with
    ``errors="surrogateescape"``, which keeps two different fields different).

    Examples
    --------
    >>> decode_all([b"web-1", b"caf\\xc3\\xa9", b"\\xff"])
    ['web-1', 'café', '\\ufffd']
    >>> decode_all([b"h\\xff", b"h\\xfe"], errors="surrogateescape")
    ['h\\udcff', 'h\\udcfe']
    """
    joined = b"\x00".join(texts).decode("utf-8", errors=errors).split("\x00")
    if len(joined) == len(texts):
        return joined
    return [t.decode("utf-8", errors=errors) for t in texts]


def parse_values(texts: list[bytes]) -> tuple[FloatArray, NDArray[np.uint8], dict[int, str]]:
    """Numbers from text fields, with problem codes: blank, not a number, not finite.

    Examples
    --------
    >>> values, problem, detail = parse_values([b"1.5", b"", b"inf"])
    >>> values.tolist(), problem.tolist()
    ([1.5, nan, nan], [0, 2, 4])
    """
    n = len(texts)
    problem = np.zeros(n, dtype=np.uint8)
    detail: dict[int, str] = {}
    try:
        values = np.fromiter(map(float, texts), dtype=np.float64, count=n)
    except ValueError:
        values = np.empty(n)
        for i, text in enumerate(texts):
            try:
                values[i] = float(text)
            except ValueError:
                values[i] = math.nan
                if text.strip():
                    problem[i] = NOT_NUMERIC
                    shown = text.decode("utf-8", "replace")[:60]
                    detail[i] = f"value {shown!r} is not a number"
                else:
                    problem[i] = MISSING_FIELD
                    detail[i] = "the value field is empty"
    for i in map(int, np.flatnonzero(~np.isfinite(values) & (problem == 0))):
        problem[i] = NOT_FINITE
        detail[i] = f"value {values[i]} is not a finite number"
        values[i] = math.nan
    return values, problem, detail


class CsvParser:
    """Turn CSV line blocks into :class:`~oddwatch.sources._base.Records`.

    Parameters
    ----------
    time_col, value_col, key_col
        Field names (or 0-based positions); ``None`` guesses (see ``sources._columns``).
    header
        Whether line 1 names the fields; ``None`` decides from line 1 (a header has no field
        that reads as a number or a timestamp).
    delimiter
        One ASCII character.

    Examples
    --------
    >>> from oddwatch.sources._base import LineBlock
    >>> parser = CsvParser(key_col="host")
    >>> records = parser.parse(LineBlock(b"host,cpu\\nweb,0.5\\n", 1, 2, 0))
    >>> records.key.tolist(), records.value.tolist(), records.time is None
    (['web'], [0.5], True)
    """

    def __init__(
        self,
        time_col: str | None = None,
        value_col: str | None = None,
        key_col: str | None = None,
        header: bool | None = None,
        delimiter: str = ",",
    ) -> None:
        if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
            raise SourceError(f"the CSV delimiter must be one ASCII character; got {delimiter!r}.")
        self.time_col, self.value_col, self.key_col = time_col, value_col, key_col
        self.header = header
        self.delimiter = delimiter
        self.columns: Columns | None = None
        self.names: list[str] | None = None
        self.n_fields = 0

    def state(self) -> dict[str, Any]:
        """The resolved layout, as JSON (to resume without re-reading line 1)."""
        columns = None if self.columns is None else self.columns.to_json()
        return {"columns": columns, "names": self.names, "n_fields": self.n_fields}

    def restore(self, state: dict[str, Any]) -> None:
        """Adopt a layout from :meth:`state`."""
        columns = state["columns"]
        self.columns = None if columns is None else Columns(**columns)
        self.names = state["names"]
        self.n_fields = int(state["n_fields"])

    def _split_line(self, line: bytes, errors: str = "replace") -> list[str]:
        text = line.decode("utf-8", errors=errors)
        return next(csv.reader([text], delimiter=self.delimiter, strict=True), [])

    def _looks_like_data(self, fields: list[str]) -> bool:
        for f in fields:
            try:
                float(f)
                return True
            except ValueError:
                pass
        problem = parse_times([f.encode() for f in fields])[1]
        return bool((problem == 0).any())

    def _first_line(self, line: bytes) -> bool:
        """Resolve the layout from line 1 (once); return whether it is a header to skip."""
        line = line[len(_BOM) :] if line.startswith(_BOM) else line
        try:
            fields = self._split_line(line.rstrip(b"\r"))
        except csv.Error as exc:
            raise SourceError(f"line 1 is not valid CSV ({exc}).") from None
        if self.columns is not None:  # a rotated file: its header must be the same
            if self.names is not None and fields != self.names:
                raise SourceError(f"the header changed from {self.names} to {fields}.")
            return self.names is not None
        is_header = self.header if self.header is not None else not self._looks_like_data(fields)
        names = fields if is_header else [str(i) for i in range(len(fields))]
        if is_header or any((self.time_col, self.value_col, self.key_col)):
            self.columns = resolve(names, self.time_col, self.value_col, self.key_col)
        elif len(fields) <= 2:
            self.columns = Columns(0 if len(fields) == 2 else None, len(fields) - 1, None)
        else:
            raise SourceError(
                f"line 1 has {len(fields)} fields and no header; say which holds the values "
                "with --value-col POSITION (0-based), or add a header line."
            )
        self.names = fields if is_header else None
        self.n_fields = len(fields)
        return is_header

    def _fast_fields(self, data: bytes) -> list[bytes] | None:
        """All fields in row order, when every line splits cleanly into ``n_fields``."""
        if b'"' in data:
            return None
        arr = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(arr == 10)
        seps = np.flatnonzero(arr == ord(self.delimiter))
        per_line = np.diff(np.searchsorted(seps, ends), prepend=0)
        lengths = np.diff(ends, prepend=-1) - 1
        if not ((per_line == self.n_fields - 1).all() and (lengths > 0).all()):
            return None
        sep = self.delimiter.encode()
        return data[:-1].replace(b"\n", sep).split(sep)

    def _slow_fields(
        self, lines: list[bytes], first_line: int
    ) -> tuple[list[bytes], list[int], dict[int, str]]:
        """Fields of each non-blank line (blanks for a bad line), line numbers, bad lines."""
        fields: list[bytes] = []
        numbers: list[int] = []
        broken: dict[int, str] = {}
        blank = [b""] * self.n_fields
        for j, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                row = self._split_line(line, "surrogateescape")
                if len(row) != self.n_fields:
                    raise csv.Error(f"expected {self.n_fields} fields, got {len(row)}")
            except csv.Error as exc:
                broken[len(numbers)] = f"malformed CSV line ({exc})"
                fields.extend(blank)
            else:
                fields.extend(f.encode("utf-8", "surrogateescape") for f in row)
            numbers.append(first_line + j)
        return fields, numbers, broken

    def parse(self, block: LineBlock) -> Records:
        """Parse one block (line 1 of a file resolves the layout and may be a header)."""
        data = block.data if block.data.endswith(b"\n") else block.data + b"\n"
        first_line = block.first_line
        if first_line == 1:
            cut = data.index(b"\n") + 1
            if self._first_line(data[: cut - 1]):
                data, first_line = data[cut:], 2
        if self.columns is None:
            raise SourceError("the CSV layout is unknown: the first block must start at line 1.")
        records = self._parse_compiled(data, first_line, block)
        if records is None:
            records = self._parse_reference(data, first_line, block)
        return records

    def _parse_reference(self, data: bytes, first_line: int, block: LineBlock) -> Records:
        """Parse whole lines (header removed) with Python: any CSV, slowly."""
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        nf = self.n_fields
        fields = self._fast_fields(data) if data else []
        if fields is not None:
            line = np.arange(first_line, first_line + len(fields) // nf, dtype=np.int64)
            broken: dict[int, str] = {}
        else:
            fields, numbers, broken = self._slow_fields(data.split(b"\n")[:-1], first_line)
            line = np.array(numbers, dtype=np.int64)
        return self._records(fields, line, broken, block)

    def _parse_compiled(self, data: bytes, first_line: int, block: LineBlock) -> Records | None:
        """Parse whole lines (header removed) in one compiled pass; None when the block
        needs the reference parser (quotes, stray carriage returns, ragged lines)."""
        cols = self.columns
        assert cols is not None
        out = ScanOutput.empty(data.count(b"\n"))
        n, clean, times_ok = scan_block(
            np.frombuffer(data, dtype=np.uint8),
            ord(self.delimiter),
            self.n_fields,
            -1 if cols.time is None else cols.time,
            cols.value,
            -1 if cols.key is None else cols.key,
            first_line,
            *out,
        )
        if not clean:
            return None
        spans = out.spans[:n]
        values = out.value[:n]
        problem = np.zeros(n, dtype=np.uint8)
        detail: dict[int, str] = {}
        unread = np.flatnonzero(~out.value_ok[:n])
        if unread.shape[0]:
            v, p, d = parse_values(_cut(data, spans[unread, 2], spans[unread, 3]))
            values[unread], problem[unread] = v, p
            detail = {int(unread[j]): text for j, text in d.items()}
        time = time_text = key = None
        if cols.time is not None:
            time_text = TextColumn(data, spans[:, 0].copy(), spans[:, 1].copy())
            if times_ok:
                time = out.time[:n]
            else:
                time, p, d = parse_times(_cut(data, spans[:, 0], spans[:, 1]))
                merge_problems(problem, detail, p, d)
        if cols.key is not None:
            keys = decode_all(_cut(data, spans[:, 4], spans[:, 5]), "surrogateescape")
            key = key_array(keys, problem, detail)
        return Records(
            line=out.line[:n],
            value=values,
            problem=problem,
            end=block.end,
            time=time,
            time_text=time_text,
            key=key,
            detail=detail,
            block=block,
        )

    def _records(
        self,
        fields: list[bytes],
        line: NDArray[np.int64],
        broken: dict[int, str],
        block: LineBlock,
    ) -> Records:
        assert self.columns is not None
        nf, cols = self.n_fields, self.columns
        n = line.shape[0]
        problem = np.zeros(n, dtype=np.uint8)
        detail: dict[int, str] = {}
        for i, text in broken.items():
            problem[i], detail[i] = UNPARSABLE, text
        values, p, d = parse_values(fields[cols.value : n * nf : nf])
        merge_problems(problem, detail, p, d)
        time = time_text = key = None
        if cols.time is not None:
            raw_times = fields[cols.time : n * nf : nf]
            time, p, d = parse_times(raw_times)
            merge_problems(problem, detail, p, d)
            time_text = decode_all(raw_times)
        if cols.key is not None:
            keys = decode_all(fields[cols.key : n * nf : nf], "surrogateescape")
            key = key_array(keys, problem, detail)
        return Records(
            line=line,
            value=values,
            problem=problem,
            end=block.end,
            time=time,
            time_text=time_text,
            key=key,
            detail=detail,
            block=block,
        )
