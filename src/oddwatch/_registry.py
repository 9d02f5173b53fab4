"""The closed world of component kinds a checkpoint may name, filled as classes are defined.

Every concrete :class:`~oddwatch._base.Component` subclass adds itself here when Python
creates it (``__init_subclass__``), so a detector module needs no import of
:mod:`oddwatch.persist` to become loadable.

Examples
--------
>>> import oddwatch
>>> kinds()["RollingZScore"].__name__
'RollingZScore'
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_kind", "kinds"]

_KINDS: dict[str, type[Any]] = {}


def add_kind(cls: type[Any]) -> None:
    """Make ``cls`` loadable under its class name (a later class of that name replaces it)."""
    _KINDS[cls.__name__] = cls


def kinds() -> dict[str, type[Any]]:
    """The classes registered so far, by name."""
    return dict(_KINDS)
