"""The problems a record can have, as small integer codes (0 is a usable record).

Examples
--------
>>> PROBLEMS[NOT_NUMERIC]
'not_numeric'
"""

from __future__ import annotations

__all__ = [
    "MAX_FIELD_BYTES",
    "BAD_TIMESTAMP",
    "DUPLICATE_TIMESTAMP",
    "MISSING_FIELD",
    "NOT_FINITE",
    "NOT_NUMERIC",
    "OK",
    "OUT_OF_ORDER",
    "PROBLEMS",
    "UNPARSABLE",
]

PROBLEMS = (
    "",
    "unparsable",
    "missing_field",
    "not_numeric",
    "not_finite",
    "bad_timestamp",
    "out_of_order",
    "duplicate_timestamp",
)
(
    OK,
    UNPARSABLE,
    MISSING_FIELD,
    NOT_NUMERIC,
    NOT_FINITE,
    BAD_TIMESTAMP,
    OUT_OF_ORDER,
    DUPLICATE_TIMESTAMP,
) = range(len(PROBLEMS))

# Longest timestamp or key read (bytes); a longer one makes its record unusable. Arrays of
# text are as wide as their longest entry, so this bounds a chunk's memory.
MAX_FIELD_BYTES = 1024
