"""The exceptions oddwatch raises, all under one root.

::

    OddwatchError
    ├── InvalidParameterError (also ValueError)  a constructor argument or setting is wrong
    ├── InvalidInputError (also ValueError)      a stream point or array is unusable
    ├── CheckpointError                          a saved file is corrupt, foreign or incompatible
    └── SourceError                              an input cannot be read or parsed

Every message says what was wrong, what was received, where, and what to do.

Examples
--------
>>> from oddwatch.errors import InvalidParameterError, OddwatchError
>>> issubclass(InvalidParameterError, (OddwatchError, ValueError))
True
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "InvalidInputError",
    "InvalidParameterError",
    "OddwatchError",
    "SourceError",
]


class OddwatchError(Exception):
    """Base class of every error oddwatch raises on purpose."""


class InvalidParameterError(OddwatchError, ValueError):
    """A constructor argument, CLI flag or config value is out of its allowed range."""


class InvalidInputError(OddwatchError, ValueError):
    """A stream value or array cannot be scored: NaN, inf, non-numeric or wrong shape."""


class CheckpointError(OddwatchError):
    """A checkpoint or model file is corrupt, truncated, foreign or from a newer version."""


class SourceError(OddwatchError):
    """An input file or stream cannot be opened or parsed."""
