"""Compilation settings shared by every numba kernel.

Kernels are compiled in nopython mode and cached on disk, so only the first run on a machine
pays the compile time. ``fastmath`` stays off: chunked and point-by-point updates must agree
bit for bit, and fast-math lets the compiler reorder floating-point sums.

Examples
--------
>>> NUMBA_OPTIONS["fastmath"]
False
"""

from __future__ import annotations

from typing import Any

NUMBA_OPTIONS: dict[str, Any] = {"nopython": True, "cache": True, "nogil": True, "fastmath": False}
