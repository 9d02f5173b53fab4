"""Which field holds the timestamp, the value and the series key: by flag or by guessing.

Guesses look for the usual names, case-insensitively: ``timestamp``/``time``/``ts``/
``datetime``/``date`` for the time, ``value``/``val``/``y`` for the value, ``key``/``series``
for the key. Without a value name, the one field left over (not time, not key) is the value.

Examples
--------
>>> resolve(["timestamp", "value", "label"], None, None, None)
Columns(time=0, value=1, key=None)
>>> resolve(["when", "host", "cpu"], "when", "cpu", "host")
Columns(time=0, value=2, key=1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from oddwatch.errors import SourceError

__all__ = ["KEY_NAMES", "TIME_NAMES", "VALUE_NAMES", "Columns", "guess", "resolve"]

TIME_NAMES = ("timestamp", "time", "ts", "datetime", "date")
VALUE_NAMES = ("value", "val", "y")
KEY_NAMES = ("key", "series")


@dataclass(frozen=True)
class Columns:
    """Positions (CSV) or names (JSONL) of the time, value and key fields; None if absent."""

    time: Any
    value: Any
    key: Any

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "value": self.value, "key": self.key}


def guess(names: Sequence[str], candidates: Sequence[str]) -> int | None:
    """Position of the first candidate name in ``names`` (case-insensitive), or None."""
    lowered = [n.strip().lower() for n in names]
    for candidate in candidates:
        if candidate in lowered:
            return lowered.index(candidate)
    return None


def _find(names: Sequence[str], spec: str, what: str, positional: bool) -> int:
    if spec in names:
        return list(names).index(spec)
    if positional and spec.isdigit() and int(spec) < len(names):
        return int(spec)
    shown = ", ".join(repr(n) for n in names[:20])
    how = "a field name or a 0-based position" if positional else "a field name"
    raise SourceError(
        f"there is no {what} column {spec!r}; the fields are {shown}. Give {how} that exists."
    )


def resolve(
    names: Sequence[str],
    time: str | None,
    value: str | None,
    key: str | None,
    positional: bool = True,
) -> Columns:
    """Positions in ``names`` of the time, value and key fields (flags win over guesses).

    ``time``/``value``/``key`` are the flags: a name, or with ``positional`` a 0-based
    position. Raises :class:`~oddwatch.errors.SourceError` naming the fields on failure.
    """
    t = _find(names, time, "time", positional) if time else guess(names, TIME_NAMES)
    k = _find(names, key, "key", positional) if key else guess(names, KEY_NAMES)
    v: int | None
    if value:
        v = _find(names, value, "value", positional)
    else:
        v = guess(names, VALUE_NAMES)
        rest = [i for i in range(len(names)) if i not in (t, k)]
        if v is None and len(rest) == 1:
            v = rest[0]
    if v is None:
        shown = ", ".join(repr(n) for n in names[:20])
        raise SourceError(
            f"cannot tell which field holds the values; the fields are {shown}. "
            "Name it with --value-col (and --time-col, --key-col)."
        )
    if v in (t, k) or (t is not None and t == k):
        raise SourceError(
            f"the time, value and key columns must differ; got time={t}, value={v}, key={k}."
        )
    return Columns(t, v, k)
