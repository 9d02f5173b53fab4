"""Message payloads from a feed (MQTT, Kafka) as :class:`~oddwatch.sources._base.Records`.

A payload is a plain number (``b"21.5"``) or JSON: a number, or an object whose
``value_field`` holds the value and whose ``time_field`` (when present) holds the timestamp as
epoch seconds or ISO 8601 text. A message without a timestamp gets its arrival (or broker)
time as ``time_text`` for the output; only when some payload of the chunk carries its own
timestamp is ``time`` set, so the validator's order and duplicate checks apply to times that
come from the data, never to arrival times (a burst can share one broker millisecond, and the
broker's order is the stream's order). An unusable payload keeps its place with a problem
code and its raw text, so the validator's ``on_invalid`` policy decides what happens to it
(never a silent drop).

Examples
--------
>>> batch = PayloadBatch()
>>> for body in [b"21.5", b'{"value": 22, "timestamp": 1767225600}', b"hot", b'{"v": 1}']:
...     batch.add(body, arrival=1767225660.0)
>>> records = batch.records(first_line=1)
>>> records.value.tolist(), records.problem.tolist()
([21.5, 22.0, nan, nan], [0, 0, 3, 2])
>>> records.time_text[:2], records.detail[2]
(['2026-01-01T00:01:00Z', '2026-01-01T00:00:00Z'], "payload 'hot' is not a number")
>>> batch.add(b"1", arrival=1767225600.0)
>>> batch.records(first_line=5).time is None  # arrival times only: no order checks
True
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any

import numpy as np

from oddwatch._typing import FloatArray
from oddwatch.sources._base import Records
from oddwatch.sources.records import (
    BAD_TIMESTAMP,
    MISSING_FIELD,
    NOT_FINITE,
    NOT_NUMERIC,
    OK,
    UNPARSABLE,
)

__all__ = ["PayloadBatch", "iso_text", "iso_texts", "parse_time"]


def iso_text(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC text with a ``Z`` (milliseconds only when present).

    Examples
    --------
    >>> iso_text(1767225600.0), iso_text(1767225600.25)
    ('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.250Z')
    """
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def iso_texts(seconds: FloatArray) -> list[str]:
    """:func:`iso_text` of every entry, in bulk (``""`` where ``nan``).

    Examples
    --------
    >>> iso_texts(np.array([1767225600.0, np.nan, 1767225600.25]))
    ['2026-01-01T00:00:00Z', '', '2026-01-01T00:00:00.250Z']
    """
    finite = np.isfinite(seconds)
    ms = np.zeros(seconds.shape[0], dtype=np.int64)
    ms[finite] = np.round(seconds[finite] * 1000).astype(np.int64)
    whole = ms % 1000 == 0
    stamps = ms.astype("datetime64[ms]")
    texts = np.where(
        whole,
        np.char.add(np.datetime_as_string(stamps, unit="s"), "Z"),
        np.char.add(np.datetime_as_string(stamps, unit="ms"), "Z"),
    )
    texts[~finite] = ""
    return [str(t) for t in texts.tolist()]


def parse_time(raw: Any) -> float:
    """A JSON timestamp (epoch seconds, or ISO 8601 text; naive means UTC) as epoch seconds.

    Raises ValueError when it is neither.

    Examples
    --------
    >>> parse_time(1767225600), parse_time("2026-01-01T00:00:00+01:00")
    (1767225600.0, 1767222000.0)
    """
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if math.isfinite(raw):
            return float(raw)
    elif isinstance(raw, str):
        try:
            return float(raw)
        except ValueError:
            pass
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    raise ValueError(f"timestamp {raw!r} is neither ISO 8601 nor a number")


def _short(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    return text if len(text) <= 80 else text[:77] + "..."


class PayloadBatch:
    """Collects payloads (with their series key and arrival time) into one Records chunk.

    Parameters
    ----------
    value_field
        The JSON object field holding the value.
    time_field
        The JSON object field holding the timestamp; without it the arrival time is used.
    keyed
        Whether each payload carries a series key (``add(..., key=...)``).
    """

    def __init__(
        self, value_field: str = "value", time_field: str = "timestamp", keyed: bool = False
    ) -> None:
        self.value_field = value_field
        self.time_field = time_field
        self.keyed = keyed
        self.clear()

    def clear(self) -> None:
        self._value: list[float] = []
        self._time: list[float] = []
        self._problem: list[int] = []
        self._key: list[str] = []
        self._detail: dict[int, str] = {}
        self._own_time = False

    def __len__(self) -> int:
        return len(self._value)

    def add(self, body: bytes, arrival: float, key: str = "") -> None:
        """Parse one payload; ``arrival`` is its time when the payload has none."""
        i = len(self._value)
        value, when, problem = math.nan, arrival, OK
        if body[:1] in (b"{", b"["):
            value, when, problem = self._json(body, arrival, i)
        else:
            try:
                value = float(body)
            except ValueError:
                value, when, problem = self._json(body, arrival, i)
            else:
                if not math.isfinite(value):
                    problem = NOT_FINITE
                    self._detail[i] = f"payload {_short(body)!r} is not a finite number"
        self._value.append(value if problem == OK else math.nan)
        self._time.append(when)
        self._problem.append(problem)
        self._key.append(key)

    def _json(self, body: bytes, arrival: float, i: int) -> tuple[float, float, int]:
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            self._detail[i] = f"payload {_short(body)!r} is not a number"
            return math.nan, arrival, NOT_NUMERIC if body.strip() else UNPARSABLE
        when = arrival
        if isinstance(obj, dict):
            if self.time_field in obj:
                self._own_time = True
                try:
                    when = parse_time(obj[self.time_field])
                except ValueError as exc:
                    self._detail[i] = f"payload {_short(body)!r}: {exc}"
                    return math.nan, math.nan, BAD_TIMESTAMP
            if self.value_field not in obj:
                self._detail[i] = f"payload {_short(body)!r} has no field {self.value_field!r}"
                return math.nan, when, MISSING_FIELD
            obj = obj[self.value_field]
        if isinstance(obj, bool) or not isinstance(obj, (int, float, str)):
            self._detail[i] = f"payload {_short(body)!r} holds no number"
            return math.nan, when, NOT_NUMERIC
        try:
            value = float(obj)
        except ValueError:
            self._detail[i] = f"payload {_short(body)!r} holds no number"
            return math.nan, when, NOT_NUMERIC
        if not math.isfinite(value):
            self._detail[i] = f"payload {_short(body)!r} is not a finite number"
            return math.nan, when, NOT_FINITE
        return value, when, OK

    def records(self, first_line: int) -> Records:
        """The collected payloads as Records numbered from ``first_line``; then clears."""
        n = len(self._value)
        time = np.array(self._time, dtype=np.float64)
        records = Records(
            line=np.arange(first_line, first_line + n, dtype=np.int64),
            value=np.array(self._value, dtype=np.float64),
            problem=np.array(self._problem, dtype=np.uint8),
            end=first_line + n - 1,
            time=time if self._own_time else None,
            time_text=iso_texts(time),
            key=np.array(self._key, dtype=np.str_) if self.keyed else None,
            detail=self._detail,
        )
        self.clear()
        return records
