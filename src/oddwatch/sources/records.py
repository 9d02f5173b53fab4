"""The validation policy for parsed records: what is wrong with each, what to do, the counts.

Parsers mark records they cannot use (:data:`PROBLEMS`); :class:`Validator` adds the checks
that need history -- timestamps out of order or repeated within a series -- and applies the
policy: ``"raise"`` stops at the first bad record with its line number, the record and what
was wrong; ``"skip"`` drops bad records; ``"flag"`` reports them as anomalies. Bad records
are never learned. Every record read is counted once: ``n_valid + n_skipped + n_flagged ==
n_read``. Gaps in time (more than ``max_gap`` seconds between consecutive points of a series;
by default 1.5 times the median of the first 64 steps) are counted and reported, and the
records stay valid. Every record whose timestamp (and key) can be read takes part in the
order and gap checks, even when its value is bad: a missing value is not a gap in time.
Warnings go through a :class:`RateLimiter`.

Examples
--------
>>> import numpy as np
>>> from oddwatch.sources._base import Records
>>> records = Records(line=np.arange(1, 5), value=np.array([1.0, np.nan, 3.0, 4.0]),
...                   problem=np.array([0, NOT_NUMERIC, 0, 0], dtype=np.uint8), end=0,
...                   time=np.array([0.0, 60.0, 120.0, 60.0]))
>>> validator = Validator("skip", warn=print)
>>> checked = validator.check(records)
line 2: skipped (not_numeric)
line 4: skipped (out_of_order): timestamp is before the latest one of its series
>>> checked.accepted.tolist(), validator.counts()
([True, False, True, False], {'read': 4, 'valid': 2, 'skipped': 2, 'flagged': 0})
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oddwatch._typing import BoolArray, FloatArray
from oddwatch._validation import FloatParam, IntParam, OptionParam, ParamSpec, check_params
from oddwatch.sources._base import Records
from oddwatch.sources._order import SeriesClock
from oddwatch.sources._problems import *  # noqa: F403 -- the problem codes, re-exported
from oddwatch.sources._problems import (
    DUPLICATE_TIMESTAMP,
    MAX_FIELD_BYTES,
    MISSING_FIELD,
    OK,
    OUT_OF_ORDER,
    PROBLEMS,
    UNPARSABLE,
)
from oddwatch.sources._problems import __all__ as _CODES

__all__ = [
    *_CODES,
    "Checked",
    "RateLimiter",
    "Validator",
    "duration",
    "key_array",
    "merge_problems",
]

_UNITS = ((86400.0, "days"), (3600.0, "h"), (60.0, "min"))


def duration(seconds: float) -> str:
    """A number of seconds in the largest unit that keeps it >= 1 (days, h, min, s).

    Examples
    --------
    >>> duration(26688800.0), duration(90.0), duration(0.25)
    ('309 days', '1.5 min', '0.25 s')
    """
    for size, unit in _UNITS:
        if abs(seconds) >= size:
            return f"{seconds / size:.3g} {unit}"
    return f"{seconds:.3g} s"


_ORDER_DETAIL = {
    OUT_OF_ORDER: "timestamp is before the latest one of its series",
    DUPLICATE_TIMESTAMP: "timestamp repeats the latest one of its series",
}


def key_array(
    names: list[str],
    problem: NDArray[np.uint8],
    detail: dict[int, str],
    missing: str = "the key field is empty",
) -> NDArray[np.str_]:
    """Series keys as an array; an empty key is a missing field, one longer than
    ``MAX_FIELD_BYTES`` or not valid UTF-8 (invalid bytes decoded as lone surrogates,
    ``surrogateescape``) makes the record unparsable (problems added in place).

    A key with invalid UTF-8 is refused rather than read with U+FFFD in place of its bad
    bytes, which would merge ``h\\xff`` and ``h\\xfe`` into one series.

    Examples
    --------
    >>> problem, detail = np.zeros(4, dtype=np.uint8), {}
    >>> names = ["web", "", "x" * 2000, b"h\\xff".decode("utf-8", "surrogateescape")]
    >>> key_array(names, problem, detail).tolist(), problem.tolist(), detail[3]
    (['web', '', '', ''], [0, 2, 1, 1], "the key b'h\\\\xff' is not valid UTF-8")
    """
    n = len(names)
    lengths = np.fromiter(map(len, names), dtype=np.int64, count=n)
    too_long = np.flatnonzero(lengths > MAX_FIELD_BYTES // 4)  # up to 4 bytes a character
    codes = np.zeros(n, dtype=np.uint8)
    more: dict[int, str] = {}
    suspects = too_long.tolist() if "".join(names).isascii() else range(n)
    names = list(names) if len(suspects) else names
    for i in suspects:
        try:
            size = len(names[i].encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
            more[i] = f"the key {_raw_text(names[i][:60])} is not valid UTF-8"
        else:
            if size <= MAX_FIELD_BYTES:
                continue
            more[i] = f"the key has {size} bytes, more than the limit of {MAX_FIELD_BYTES}"
        codes[i] = UNPARSABLE
        names[i] = ""
    key = np.array(names, dtype=str).reshape(n)
    for i in np.flatnonzero((key == "") & (codes == 0)).tolist():
        codes[i] = MISSING_FIELD
        more[i] = missing
    merge_problems(problem, detail, codes, more)
    return key


def _raw_text(text: str) -> str:
    """The bytes a text with lone surrogates was decoded from, for a message."""
    try:
        return repr(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate from a JSON escape, not from a byte
        return ascii(text)


def merge_problems(
    problem: NDArray[np.uint8],
    detail: dict[int, str],
    more: NDArray[np.uint8],
    more_detail: dict[int, str],
) -> None:
    """Add problems found in another field to the records that have none yet (in place).

    Examples
    --------
    >>> problem, detail = np.array([0, 3], dtype=np.uint8), {1: "value 'x' is not a number"}
    >>> merge_problems(problem, detail, np.array([5, 5], dtype=np.uint8), {0: "bad", 1: "bad"})
    >>> problem.tolist(), detail
    ([5, 3], {1: "value 'x' is not a number", 0: 'bad'})
    """
    for i in np.flatnonzero((problem == 0) & (more != 0)):
        problem[i] = more[i]
        if int(i) in more_detail:
            detail[int(i)] = more_detail[int(i)]


class RateLimiter:
    """Pass at most ``burst`` messages per ``interval`` seconds for each kind; count the rest.

    Examples
    --------
    >>> limiter = RateLimiter(print, burst=2, interval=60.0)
    >>> for i in range(4):
    ...     limiter(f"bad line {i}", "not_numeric")
    bad line 0
    bad line 1
    >>> limiter.n_suppressed
    2
    """

    def __init__(
        self,
        emit: Callable[[str], None],
        burst: int = 5,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.emit = emit
        self.burst = burst
        self.interval = interval
        self.clock = clock
        self.n_suppressed = 0
        self._windows: dict[str, tuple[float, int]] = {}

    def allow(self, kind: str) -> bool:
        """Whether a message of ``kind`` may go out now (counts it as sent or suppressed)."""
        now = self.clock()
        start, sent = self._windows.get(kind, (now, 0))
        if now - start >= self.interval:
            start, sent = now, 0
        if sent >= self.burst:
            self.n_suppressed += 1
            return False
        self._windows[kind] = (start, sent + 1)
        return True

    def __call__(self, message: str, kind: str) -> None:
        if self.allow(kind):
            self.emit(message)


@dataclass(frozen=True)
class Checked:
    """The verdict on one chunk of records (the first ``len(accepted)`` of them).

    ``accepted`` records go to the detector; ``flagged`` ones are reported as anomalies;
    ``error`` is set when the policy is ``"raise"`` and the record after the last one covered
    is bad: process the covered ones, then stop with it.
    """

    accepted: BoolArray
    flagged: BoolArray
    problem: NDArray[np.uint8]
    seq: NDArray[np.int64]
    detail: Mapping[int, str]
    error: str | None = None

    def reason(self, i: int) -> str:
        """ "invalid record (<problem>): <detail>" for a bad record ``i``, else ""."""
        code = int(self.problem[i])
        if code == OK:
            return ""
        detail = self.detail.get(i, "")
        return f"invalid record ({PROBLEMS[code]})" + (f": {detail}" if detail else "")


class Validator:
    """Apply an ``on_invalid`` policy to parsed records, with exact counts.

    Parameters
    ----------
    on_invalid
        ``"raise"``, ``"skip"`` or ``"flag"``.
    max_gap
        Seconds between consecutive points of a series above which a gap is reported;
        ``None`` learns it (1.5 x the median of the first 64 steps).
    max_keys
        Series whose latest timestamp is remembered; the least recently seen are forgotten
        beyond that (checked at the end of each chunk).
    warn
        Called with each warning line, at most 5 per kind per 10 s; ``None``: silent.
    limiter
        A :class:`RateLimiter` to use instead (shared with other warnings); wins over ``warn``.
    hint
        Appended to the error message under ``"raise"``.

    Examples
    --------
    >>> import numpy as np
    >>> from oddwatch.sources._base import Records
    >>> validator = Validator("flag", max_gap=90.0)
    >>> records = Records(line=np.arange(1, 4), value=np.ones(3), end=0,
    ...                   problem=np.zeros(3, dtype=np.uint8), time=np.array([0.0, 0.0, 300.0]))
    >>> checked = validator.check(records)
    >>> checked.flagged.tolist(), checked.reason(1), validator.n_gaps
    ([False, True, False],
     'invalid record (duplicate_timestamp): timestamp repeats the latest one of its series', 1)
    """

    _param_specs: dict[str, ParamSpec] = {
        "on_invalid": OptionParam(("raise", "skip", "flag")),
        "max_keys": IntParam(low=1),
    }

    def __init__(
        self,
        on_invalid: str = "raise",
        max_gap: float | None = None,
        max_keys: int = 10_000,
        warn: Callable[[str], None] | None = None,
        limiter: RateLimiter | None = None,
        hint: str = "Use on_invalid='skip' or 'flag' to go on past bad records.",
    ) -> None:
        check_params(
            "Validator", self._param_specs, {"on_invalid": on_invalid, "max_keys": max_keys}
        )
        if max_gap is not None:
            FloatParam(
                low=0, low_open=True, hint="Give the gap in seconds, or None to learn it."
            ).check("Validator", "max_gap", max_gap)
        self.on_invalid = on_invalid
        self.max_gap = max_gap
        self.max_keys = max_keys
        self.hint = hint
        self.limiter = limiter if limiter is not None else RateLimiter(warn) if warn else None
        self.n_read = self.n_valid = self.n_skipped = self.n_flagged = 0
        self.by_problem = np.zeros(len(PROBLEMS), dtype=np.int64)
        self.n_gaps = 0
        self.largest_gap = 0.0
        self._clock = SeriesClock(max_gap, max_keys)

    def counts(self) -> dict[str, int]:
        """``{"read", "valid", "skipped", "flagged"}`` so far."""
        return {
            "read": self.n_read,
            "valid": self.n_valid,
            "skipped": self.n_skipped,
            "flagged": self.n_flagged,
        }

    def problems(self) -> dict[str, int]:
        """Bad records so far by problem (only the problems that occurred)."""
        return {PROBLEMS[i]: int(n) for i, n in enumerate(self.by_problem) if n and i}

    @property
    def max_gap_(self) -> float:
        """The gap limit in force (``nan`` while it is being learned)."""
        return self._clock.max_gap_

    def check(self, records: Records) -> Checked:
        """Validate one chunk; see :class:`Checked` for the result."""
        n = len(records)
        problem = records.problem.copy()
        detail = dict(records.detail)
        gaps = np.zeros(n)
        if records.time is not None:
            self._check_order(records, problem, gaps)
        for i in np.flatnonzero(problem >= OUT_OF_ORDER):
            detail.setdefault(int(i), _ORDER_DETAIL[int(problem[i])])
        bad = problem != OK
        error = None
        if bad.any() and self.on_invalid == "raise":
            stop = int(np.argmax(bad))
            error = self._message(records, problem, detail, stop)
            n, problem, bad, gaps = stop, problem[:stop], bad[:stop], gaps[:stop]
        seq = np.arange(self.n_read, self.n_read + n, dtype=np.int64)
        self._count(problem, bad, gaps, records, n)
        flagged = bad if self.on_invalid == "flag" else np.zeros(n, dtype=bool)
        self._report(records, problem, detail, gaps)
        return Checked(~bad, flagged, problem, seq, detail, error)

    def _check_order(self, records: Records, problem: NDArray[np.uint8], gaps: FloatArray) -> None:
        assert records.time is not None
        timed = np.isfinite(records.time)  # a record with a bad value still marks the time
        if records.key is not None:
            timed &= records.key != ""
        usable = np.flatnonzero(timed)
        if usable.shape[0] == 0:
            return
        keys = None if records.key is None else records.key[usable]
        order, found = self._clock.check(records.time[usable], keys, self.n_read)
        before = problem[usable]
        problem[usable] = np.where(before == OK, order, before)
        gaps[usable] = found

    def _count(
        self,
        problem: NDArray[np.uint8],
        bad: BoolArray,
        gaps: FloatArray,
        records: Records,
        n: int,
    ) -> None:
        n_bad = int(bad.sum())
        self.n_read += n
        self.n_valid += n - n_bad
        if self.on_invalid == "flag":
            self.n_flagged += n_bad
        else:
            self.n_skipped += n_bad
        self.by_problem += np.bincount(problem, minlength=len(PROBLEMS))[: len(PROBLEMS)]
        self.by_problem[OK] = 0
        found = gaps > 0
        self.n_gaps += int(found.sum())
        if found.any():
            self.largest_gap = max(self.largest_gap, float(gaps.max()))

    def _report(
        self,
        records: Records,
        problem: NDArray[np.uint8],
        detail: Mapping[int, str],
        gaps: FloatArray,
    ) -> None:
        limiter = self.limiter
        if limiter is None:
            return
        action = "flagged" if self.on_invalid == "flag" else "skipped"
        for i in np.flatnonzero(problem):
            name = PROBLEMS[int(problem[i])]
            if limiter.allow(name):
                text = detail.get(int(i))
                limiter.emit(
                    f"line {int(records.line[i])}: {action} ({name})"
                    + (f": {text}" if text else "")
                )
        for i in np.flatnonzero(gaps):
            if limiter.allow("gap"):
                key = "" if records.key is None else f" in series {str(records.key[i])!r}"
                limiter.emit(
                    f"line {records.line[i]}: gap of {duration(float(gaps[i]))}{key} (more "
                    f"than {duration(self.max_gap_)} since the previous point)"
                )

    def _message(
        self, records: Records, problem: NDArray[np.uint8], detail: Mapping[int, str], i: int
    ) -> str:
        text = detail.get(i)
        message = f"line {int(records.line[i])}: bad record ({PROBLEMS[int(problem[i])]})"
        if text:
            message += f": {text}"
        raw = records.raw(i)
        if raw is not None:
            message += f". Record: {raw[:200]!r}"
        return f"{message}. {self.hint}"

    def get_state(self) -> dict[str, Any]:
        """Counts and per-series history as plain JSON (for checkpoints)."""
        return {
            "counts": [self.n_read, self.n_valid, self.n_skipped, self.n_flagged],
            "by_problem": self.by_problem.tolist(),
            "gaps": [self.n_gaps, self.largest_gap],
            "clock": self._clock.get_state(),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`get_state` returned; ``ValueError``/``KeyError`` if malformed."""
        self.n_read, self.n_valid, self.n_skipped, self.n_flagged = map(int, state["counts"])
        self.by_problem = np.array(state["by_problem"], dtype=np.int64)
        if self.by_problem.shape != (len(PROBLEMS),):
            raise ValueError(f"by_problem has {self.by_problem.shape[0]} entries")
        self.n_gaps, self.largest_gap = int(state["gaps"][0]), float(state["gaps"][1])
        self._clock.set_state(state["clock"])
