"""JSON Lines records: one JSON object per line, fields picked by name.

The value may be a JSON number or a string holding one; the timestamp an ISO 8601 string or
a number of seconds; the key a string or a number. A line that is not one JSON object is
unparsable; ``null`` or an absent field is a missing field. Blank lines are not records.

Examples
--------
>>> from oddwatch.sources._base import LineBlock
>>> parser = JsonlParser()
>>> data = b'{"ts": "2026-01-01T00:00:00", "value": 2}\\n{"ts": 1767225660, "value": true}\\n'
>>> records = parser.parse(LineBlock(data, 1, 2, 0))
>>> parser.columns, records.value.tolist(), records.problem.tolist(), records.time_text
(Columns(time='ts', value='value', key=None), [2.0, nan], [0, 3],
 ['2026-01-01T00:00:00', '1767225660'])
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oddwatch._typing import FloatArray
from oddwatch.errors import SourceError
from oddwatch.sources._base import LineBlock, Records
from oddwatch.sources._columns import KEY_NAMES, TIME_NAMES, VALUE_NAMES, Columns, guess
from oddwatch.sources._time import parse_times
from oddwatch.sources.records import (
    BAD_TIMESTAMP,
    MISSING_FIELD,
    NOT_FINITE,
    NOT_NUMERIC,
    UNPARSABLE,
    key_array,
    merge_problems,
)

__all__ = ["JsonlParser"]

_DECODER = json.JSONDecoder()
_BOM = b"\xef\xbb\xbf"
_NUMBER = (int, float)


def _to_float(x: int | float) -> float:
    """``float(x)``, or ``inf`` for an integer beyond the float range (reported as not
    finite, never an OverflowError)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def _describe(x: Any) -> str:
    return json.dumps(x)[:60] if isinstance(x, (str, bool, list, dict)) else repr(x)[:60]


def _values(raw: list[Any]) -> tuple[FloatArray, NDArray[np.uint8], dict[int, str]]:
    n = len(raw)
    problem = np.zeros(n, dtype=np.uint8)
    detail: dict[int, str] = {}
    values = None
    if set(map(type, raw)) <= {int, float}:
        try:
            values = np.array(raw, dtype=np.float64).reshape(n)
        except OverflowError:  # an integer beyond the float range: one by one below
            values = None
    if values is None:
        values = np.full(n, np.nan)
        for i, x in enumerate(raw):
            if type(x) in _NUMBER:
                values[i] = _to_float(x)
            elif x is None:
                problem[i], detail[i] = MISSING_FIELD, "the value field is missing or null"
            elif isinstance(x, str):
                try:
                    values[i] = float(x)
                except ValueError:
                    problem[i], detail[i] = NOT_NUMERIC, f"value {_describe(x)} is not a number"
            else:
                problem[i], detail[i] = NOT_NUMERIC, f"value {_describe(x)} is not a number"
    for i in map(int, np.flatnonzero(~np.isfinite(values) & (problem == 0))):
        problem[i], detail[i] = NOT_FINITE, f"value {values[i]} is not a finite number"
        values[i] = math.nan
    return values, problem, detail


def _times(raw: list[Any]) -> tuple[FloatArray, NDArray[np.uint8], dict[int, str], list[str]]:
    n = len(raw)
    seconds = np.full(n, np.nan)
    problem = np.zeros(n, dtype=np.uint8)
    detail: dict[int, str] = {}
    text = [""] * n
    strings = [i for i, x in enumerate(raw) if isinstance(x, str)]
    if strings:
        s, p, d = parse_times([raw[i].encode("utf-8", "replace") for i in strings])
        seconds[strings], problem[strings] = s, p
        detail.update({strings[j]: msg for j, msg in d.items()})
        for i in strings:
            text[i] = raw[i]
    for i, x in enumerate(raw):
        if type(x) in _NUMBER:
            seconds[i], text[i] = _to_float(x), _describe(x)
            if not math.isfinite(seconds[i]):
                seconds[i] = math.nan
                problem[i], detail[i] = BAD_TIMESTAMP, f"timestamp {_describe(x)} is not finite"
        elif x is None:
            problem[i], detail[i] = MISSING_FIELD, "the timestamp field is missing or null"
        elif not isinstance(x, str):
            problem[i] = BAD_TIMESTAMP
            detail[i] = f"timestamp {_describe(x)} is neither text nor a number"
            text[i] = _describe(x)
    return seconds, problem, detail, text


class JsonlParser:
    """Turn JSON Lines blocks into :class:`~oddwatch.sources._base.Records`.

    Parameters
    ----------
    time_col, value_col, key_col
        Field names; ``None`` guesses them from the first object (see ``sources._columns``).

    Examples
    --------
    >>> from oddwatch.sources._base import LineBlock
    >>> parser = JsonlParser(key_col="host", value_col="cpu")
    >>> records = parser.parse(LineBlock(b'{"host": "a", "cpu": 1}\\n[1]\\n', 1, 2, 0))
    >>> records.key.tolist(), records.problem.tolist(), records.detail
    (['a', ''], [0, 1], {1: 'expected a JSON object, got a list'})
    """

    def __init__(
        self,
        time_col: str | None = None,
        value_col: str | None = None,
        key_col: str | None = None,
    ) -> None:
        self.time_col, self.value_col, self.key_col = time_col, value_col, key_col
        self.columns: Columns | None = None

    def state(self) -> dict[str, Any]:
        """The resolved field names, as JSON."""
        return {"columns": None if self.columns is None else self.columns.to_json()}

    def restore(self, state: dict[str, Any]) -> None:
        """Adopt field names from :meth:`state`."""
        columns = state["columns"]
        self.columns = None if columns is None else Columns(**columns)

    def _resolve(self, obj: dict[str, Any]) -> Columns:
        """Field names from the flags, the rest guessed from the first object's fields."""
        names = [str(k) for k in obj]
        time = self.time_col
        if time is None:
            found = guess(names, TIME_NAMES)
            time = None if found is None else names[found]
        key = self.key_col
        if key is None:
            found = guess(names, KEY_NAMES)
            key = None if found is None else names[found]
        value = self.value_col
        if value is None:
            found = guess(names, VALUE_NAMES)
            numeric = [k for k, v in obj.items() if type(v) in _NUMBER and k not in (time, key)]
            value = names[found] if found is not None else numeric[0] if len(numeric) == 1 else None
        if value is None:
            shown = ", ".join(repr(k) for k in names[:20])
            raise SourceError(
                f"cannot tell which field holds the values; the first object has {shown}. "
                "Name it with --value-col (and --time-col, --key-col)."
            )
        return Columns(time, value, key)

    def parse(self, block: LineBlock) -> Records:
        """Parse one block of lines."""
        objects: list[dict[str, Any]] = []
        numbers: list[int] = []
        broken: dict[int, str] = {}
        escaped: list[int] = []
        for j, raw in enumerate(block.lines()):
            if j == 0 and block.first_line == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            try:
                text = raw.decode("utf-8").strip()
            except UnicodeDecodeError:  # bad bytes kept apart, so two bad keys stay two
                text = raw.decode("utf-8", errors="surrogateescape").strip()
                escaped.append(len(numbers))
            if not text:
                continue
            problem = None
            try:
                obj, end = _DECODER.raw_decode(text)
            except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
                problem = f"invalid JSON ({exc})"
            else:
                if end != len(text):
                    column = len(text) - len(text[end:].lstrip()) + 1
                    problem = f"extra data after the JSON value at column {column}"
                elif not isinstance(obj, dict):
                    problem = f"expected a JSON object, got {_kind(obj)}"
            if problem is not None:
                broken[len(numbers)] = problem
                obj = {}
            if self.columns is None and obj:
                self.columns = self._resolve(obj)
            objects.append(obj)
            numbers.append(block.first_line + j)
        fields = () if self.columns is None else (self.columns.time, self.columns.value)
        for i in escaped:  # bad bytes read as U+FFFD, except in keys
            obj = objects[i]
            for name in fields:
                if isinstance(obj.get(name), str):
                    obj[name] = _replace_escapes(obj[name])
        return self._records(objects, np.array(numbers, dtype=np.int64), broken, block)

    def _records(
        self,
        objects: list[dict[str, Any]],
        line: NDArray[np.int64],
        broken: dict[int, str],
        block: LineBlock,
    ) -> Records:
        n = line.shape[0]
        cols = self.columns or Columns(self.time_col, self.value_col or "value", self.key_col)
        problem = np.zeros(n, dtype=np.uint8)
        detail: dict[int, str] = {}
        for i, text in broken.items():
            problem[i], detail[i] = UNPARSABLE, text
        values, p, d = _values([o.get(cols.value) for o in objects])
        merge_problems(problem, detail, p, d)
        time = time_text = key = None
        if cols.time is not None:
            time, p, d, time_text = _times([o.get(cols.time) for o in objects])
            merge_problems(problem, detail, p, d)
        if cols.key is not None:
            raw_keys = [o.get(cols.key) for o in objects]
            names = [
                k if isinstance(k, str) else str(k) if type(k) in _NUMBER else "" for k in raw_keys
            ]
            key = key_array(names, problem, detail, "the key field is missing, null or not text")
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


def _replace_escapes(text: str) -> str:
    """Bytes decoded with ``surrogateescape`` read again as U+FFFD."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate written as a JSON escape
        return text.encode("utf-8", "replace").decode("utf-8")


def _kind(obj: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(obj), "a number"
    )
