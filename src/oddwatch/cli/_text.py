"""Small text helpers for the command line's messages: durations, problem counts.

Examples
--------
>>> duration(26688800.0), duration(90.0), duration(0.25)
('309 days', '1.5 min', '0.25 s')
>>> problems_text({"not_numeric": 2, "bad_timestamp": 1})
' (2 not_numeric, 1 bad_timestamp)'
"""

from __future__ import annotations

from collections.abc import Mapping

from oddwatch.sources.records import duration

__all__ = ["duration", "problems_text"]


def problems_text(problems: Mapping[str, int]) -> str:
    """`` (n kind, ...)`` for the problems seen, or "" for none."""
    if not problems:
        return ""
    return " (" + ", ".join(f"{n} {kind}" for kind, n in problems.items()) + ")"
