"""Build a detector or a threshold from a name and ``KEY=VALUE`` parameters (flags or TOML).

Names are the registered class names (``persist.registered_kinds()``), matched without regard
to case, with or without their ``Detector``/``Threshold`` suffix (``seasonal`` is
``SeasonalDetector``); ``river:NAME`` is a River anomaly detector (``oddwatch[river]``). A
value is read as a TOML literal (``12``, ``0.5``, ``true``, ``"text"``), ``none``/``null`` as
None, anything else as text.

Examples
--------
>>> build("detector", "rollingzscore", dict([parse_param("window_size=8")]))
RollingZScore(window_size=8)
>>> build("detector", "nope", {})
Traceback (most recent call last):
...
oddwatch.errors.InvalidParameterError: unknown detector 'nope'; choose one of: ...
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping
from typing import Any

from oddwatch.cli._integrations import is_river, river_detector
from oddwatch.detectors import Detector
from oddwatch.errors import InvalidParameterError
from oddwatch.persist import registered_kinds
from oddwatch.thresholds import Threshold

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["build", "names", "parse_param"]

_BASES: dict[str, type] = {"detector": Detector, "threshold": Threshold}


def names(family: str) -> list[str]:
    """Registered class names of a family (``"detector"`` or ``"threshold"``), sorted.

    Examples
    --------
    >>> "SeasonalDetector" in names("detector"), "FixedThreshold" in names("threshold")
    (True, True)
    """
    base = _BASES[family]
    return sorted(n for n, cls in registered_kinds().items() if issubclass(cls, base))


def parse_param(text: str) -> tuple[str, Any]:
    """``"KEY=VALUE"`` as ``(key, value)``; raises InvalidParameterError without ``=``.

    Examples
    --------
    >>> [parse_param(t) for t in ["a=3", "b=0.5", "c=true", "d=none", "e=hello"]]
    [('a', 3), ('b', 0.5), ('c', True), ('d', None), ('e', 'hello')]
    """
    key, sep, raw = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key.isidentifier():
        raise InvalidParameterError(
            f"a parameter must look like KEY=VALUE (e.g. window_size=64); got {text!r}."
        )
    raw = raw.strip()
    if raw.lower() in ("none", "null"):
        return key, None
    try:
        return key, tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return key, raw


def _lookup(family: str, name: str) -> type:
    wanted = name.lower().replace("_", "").replace("-", "")
    suffix = family
    for candidate in names(family):
        lowered = candidate.lower()
        if wanted in (lowered, lowered.removesuffix(suffix)):
            return registered_kinds()[candidate]
    raise InvalidParameterError(
        f"unknown {family} {name!r}; choose one of: {', '.join(names(family))}."
    )


def build(family: str, name: str | None, params: Mapping[str, Any]) -> Any:
    """The ``family`` component called ``name`` with ``params``; None for no name and params.

    Bad names, unknown parameters and bad values raise
    :class:`~oddwatch.errors.InvalidParameterError` with a one-line message.
    """
    if name is None:
        if params:
            raise InvalidParameterError(
                f"{family} parameters {sorted(params)} were given without a {family} name; "
                f"add --{family} NAME (one of: {', '.join(names(family))})."
            )
        return None
    if family == "detector" and is_river(name):
        return river_detector(name, params)
    cls = _lookup(family, name)
    accepted = list(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InvalidParameterError(
            f"{cls.__name__} has no parameter {unknown[0]!r}; its parameters are: "
            f"{', '.join(accepted)}."
        )
    try:
        return cls(**params)
    except InvalidParameterError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"cannot build {cls.__name__}({params}): {exc}") from None
