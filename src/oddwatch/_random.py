"""A splitmix64 generator whose whole state is one ``uint64`` in a state array.

Kernels draw from ``rng[0]`` in place, so the generator is saved with the rest of a
component's state and ``score`` can restore it (Steele, Lea & Flood, "Fast splittable
pseudorandom number generators", OOPSLA 2014).

Examples
--------
>>> import numpy as np
>>> rng = np.array([0], dtype=np.uint64)
>>> round(uniform(rng), 6), below(rng, 10), int(rng[0]) == 2 * 0x9E3779B97F4A7C15 % 2**64
(0.883311, 4, True)
"""

from __future__ import annotations

import numba
import numpy as np

from oddwatch.config import NUMBA_OPTIONS

__all__ = ["below", "uniform"]

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO_POW_53 = 9007199254740992.0


@numba.jit(**NUMBA_OPTIONS)
def uniform(rng: np.ndarray) -> float:
    """Next splitmix64 draw from ``rng[0]``, as a float in [0, 1)."""
    z = rng[0] + _GOLDEN
    rng[0] = z
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return float(z >> _S11) / _TWO_POW_53


@numba.jit(**NUMBA_OPTIONS)
def below(rng: np.ndarray, n: int) -> int:
    """A uniform integer in [0, n) from the next draw of ``rng[0]``."""
    return min(int(uniform(rng) * n), n - 1)
