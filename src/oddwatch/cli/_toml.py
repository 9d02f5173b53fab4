"""Reading TOML configuration files with one-line errors."""

from __future__ import annotations

import sys
from typing import Any

from oddwatch.errors import InvalidParameterError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["read_toml"]


def read_toml(path: str) -> dict[str, Any]:
    """Parse the TOML file at ``path``; a missing or malformed file is an InvalidParameterError.

    Examples
    --------
    >>> read_toml("/nonexistent.toml")
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: cannot read config file '/nonexistent.toml': ...
    """
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot read config file {path!r}: {exc.strerror or exc}."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameterError(f"config file {path!r} is not valid TOML: {exc}.") from None
