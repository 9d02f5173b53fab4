"""Checks at the public boundary: parameters from a declarative table, stream values per call.

Every failure raises an :mod:`oddwatch.errors` exception whose message says what was wrong,
what was received and what to do.

Examples
--------
>>> spec = IntParam(low=2)
>>> spec.check("RollingZScore", "window_size", 0)
Traceback (most recent call last):
...
oddwatch.errors.InvalidParameterError: `window_size` of RollingZScore must be an int >= 2; got 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import numpy as np

from oddwatch._typing import FloatArray
from oddwatch.errors import InvalidInputError, InvalidParameterError

__all__ = [
    "BoolParam",
    "FloatParam",
    "IntParam",
    "OptionParam",
    "ParamSpec",
    "as_value",
    "as_values",
    "check_params",
]


def _fmt(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class IntParam:
    """An integer in ``[low, high]`` (``high=None``: no upper bound)."""

    low: int | None = None
    high: int | None = None
    hint: str = ""

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"an int in [{self.low}, {self.high}]"
        if self.low is not None:
            return f"an int >= {self.low}"
        if self.high is not None:
            return f"an int <= {self.high}"
        return "an int"

    def check(self, owner: str, name: str, value: Any) -> int:
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if (
            ok
            and (self.low is None or value >= self.low)
            and (self.high is None or value <= self.high)
        ):
            return int(value)
        _fail(owner, name, self.describe(), value, self.hint)


@dataclass(frozen=True)
class FloatParam:
    """A finite real number in an interval; ``low_open``/``high_open`` exclude the ends."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    hint: str = ""

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"a number in {left}{lo}, {hi}{right}"

    def check(self, owner: str, name: str, value: Any) -> float:
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            v = float(value)
            if math.isfinite(v) and self._inside(v):
                return v
        _fail(owner, name, self.describe(), value, self.hint)

    def _inside(self, v: float) -> bool:
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return not (
            self.high is not None and (v > self.high or (self.high_open and v == self.high))
        )


@dataclass(frozen=True)
class OptionParam:
    """One value out of a fixed set."""

    options: tuple[Any, ...]
    hint: str = ""

    def describe(self) -> str:
        return "one of " + ", ".join(_fmt(o) for o in self.options)

    def check(self, owner: str, name: str, value: Any) -> Any:
        if any(value == o and type(value) is type(o) for o in self.options):
            return value
        _fail(owner, name, self.describe(), value, self.hint)


@dataclass(frozen=True)
class BoolParam:
    """True or False."""

    hint: str = ""

    def describe(self) -> str:
        return "a bool"

    def check(self, owner: str, name: str, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        _fail(owner, name, self.describe(), value, self.hint)


ParamSpec = IntParam | FloatParam | OptionParam | BoolParam


def _fail(owner: str, name: str, expected: str, value: Any, hint: str) -> NoReturn:
    message = f"`{name}` of {owner} must be {expected}; got {_fmt(value)}."
    if hint:
        message += f" {hint}"
    raise InvalidParameterError(message)


def check_params(owner: str, specs: Mapping[str, ParamSpec], values: Mapping[str, Any]) -> None:
    """Check each parameter against its spec; raise on the first that fails.

    Examples
    --------
    >>> check_params("X", {"n": IntParam(low=1)}, {"n": 3})
    >>> check_params("X", {"n": IntParam(low=1)}, {"n": 2.5})
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: `n` of X must be an int >= 1; got 2.5.
    """
    for name, spec in specs.items():
        spec.check(owner, name, values[name])


_NAN_HINT = "Drop or impute missing values first, or use Monitor(on_invalid='skip' or 'flag')."


def as_value(x: Any, owner: str) -> float:
    """Return ``x`` as a finite float or raise :class:`InvalidInputError`.

    Examples
    --------
    >>> as_value(3, "RollingZScore")
    3.0
    >>> as_value(float("nan"), "RollingZScore")
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidInputError: RollingZScore.update got nan; ...
    """
    if isinstance(x, float):
        v = x
    elif isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_)):
        v = float(x)
    elif isinstance(x, np.ndarray) and x.shape == () and x.dtype.kind in "iuf":
        v = float(x)
    else:
        raise InvalidInputError(
            f"{owner}.update expects one real number; got {_fmt(x)} ({type(x).__name__}). "
            "Convert the value to float first, or use update_many for arrays."
        )
    if not math.isfinite(v):
        raise InvalidInputError(f"{owner}.update got {v}; the value must be finite. {_NAN_HINT}")
    return v


def as_values(xs: Any, owner: str, allow_nan: bool = False) -> FloatArray:
    """Return ``xs`` as a contiguous 1-D float64 array of finite values, or raise.

    With ``allow_nan`` (thresholds, which receive warm-up scores) ``nan`` passes; inf never.

    Examples
    --------
    >>> as_values([1, 2.5], "RollingZScore")
    array([1. , 2.5])
    >>> as_values([[1.0, 2.0]], "RollingZScore")
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidInputError: RollingZScore.update_many expects a 1-D sequence ...
    """
    if isinstance(xs, (str, bytes)) or not isinstance(xs, (Sequence, np.ndarray)):
        if not hasattr(xs, "__array__"):
            raise InvalidInputError(
                f"{owner}.update_many expects a 1-D sequence of real numbers; "
                f"got {type(xs).__name__}."
            )
    arr = np.asarray(xs)
    if arr.ndim != 1:
        raise InvalidInputError(
            f"{owner}.update_many expects a 1-D sequence of real numbers; got an array of "
            f"shape {arr.shape}. Pass one series at a time (or flatten it)."
        )
    if arr.dtype.kind not in "iuf":
        raise InvalidInputError(
            f"{owner}.update_many expects real numbers; got dtype {arr.dtype}. "
            "Parse text into numbers first (oddwatch detect does this with a policy)."
        )
    out = np.ascontiguousarray(arr, dtype=np.float64)
    finite = np.isfinite(out)
    if allow_nan:
        finite |= np.isnan(out)
    if not finite.all():
        i = int(np.argmin(finite))
        raise InvalidInputError(
            f"{owner}.update_many got {out[i]} at index {i}; values must be finite. {_NAN_HINT}"
        )
    return out
