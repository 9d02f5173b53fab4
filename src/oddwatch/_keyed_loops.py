"""The compiled loops of :class:`~oddwatch.KeyedMonitor`: each point's kernel on its key's rows.

Per-key state is a row of preallocated arrays (struct of arrays): every state array of the
template detector and threshold gets a leading slot dimension. Each supported detector and
threshold type has a short loop here (``_*_block``) that calls the type's own ``_step`` kernel
on each point's slot rows, so each key's outputs are bit for bit those of a standalone
component fed that key's points. A kernel passed as an argument or captured in a closure
defeats numba's on-disk cache (measured: a recompile and a new cache file in every process),
so the kernel is named in the loop's code. The loops are generic over the number and shapes
of state arrays (``_rows`` / ``_reset``). The cache directory is keyed by the package's
sources (:mod:`oddwatch.config`), so editing a detector's kernel recompiles these loops too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba.extending import overload

from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors import Detector, RollingZScore, SeasonalDetector, zscore
from oddwatch.detectors._seasonal_kernels import forecast
from oddwatch.detectors._seasonal_kernels import step as seasonal_step
from oddwatch.thresholds import FixedThreshold, Threshold, fixed

__all__ = ["DETECTOR_LOOPS", "THRESHOLD_LOOPS"]


def _rows(arrays: tuple[np.ndarray, ...], s: int) -> tuple[np.ndarray, ...]:
    """Row ``s`` of every array (compiled by the overload below)."""
    return tuple(a[s] for a in arrays)


@overload(_rows)
def _rows_impl(arrays: Any, s: Any) -> Any:
    # the implementations' parameters must match this signature, annotations included
    def last(arrays: Any, s: Any) -> Any:
        return ()

    def rows(arrays: Any, s: Any) -> Any:
        return (arrays[0][s],) + _rows(arrays[1:], s)

    return last if len(arrays) == 0 else rows


def _reset(arrays: tuple[np.ndarray, ...], initial: tuple[np.ndarray, ...], s: int) -> None:
    """Overwrite row ``s`` of every array with its initial value (compiled below)."""
    for a, a0 in zip(arrays, initial, strict=True):
        a[s] = a0


@overload(_reset)
def _reset_impl(arrays: Any, initial: Any, s: Any) -> Any:
    def last(arrays: Any, initial: Any, s: Any) -> None:
        return None

    def reset(arrays: Any, initial: Any, s: Any) -> None:
        arrays[0][s] = initial[0]
        _reset(arrays[1:], initial[1:], s)

    return last if len(arrays) == 0 else reset


_PROFILE, _STATS, _COUNTERS = (
    list(SeasonalDetector()._initial_state()).index(name)
    for name in ("profile", "stats", "counters")
)


@numba.jit(**NUMBA_OPTIONS)
def _seasonal_block(
    arrays: tuple[np.ndarray, ...],
    initial: tuple[np.ndarray, ...],
    order: np.ndarray,
    slots: np.ndarray,
    fresh: np.ndarray,
    xs: np.ndarray,
    out: np.ndarray,
    expected: np.ndarray,
    scale: np.ndarray,
) -> None:
    for i in order:
        s = slots[i]
        if fresh[i]:
            _reset(arrays, initial, s)
        rows = _rows(arrays, s)
        expected[i], scale[i] = forecast(rows[_PROFILE], rows[_STATS], rows[_COUNTERS])
        out[i] = seasonal_step(*rows, xs[i])


@numba.jit(**NUMBA_OPTIONS)
def _zscore_block(
    arrays: tuple[np.ndarray, ...],
    initial: tuple[np.ndarray, ...],
    order: np.ndarray,
    slots: np.ndarray,
    fresh: np.ndarray,
    xs: np.ndarray,
    out: np.ndarray,
    expected: np.ndarray,
    scale: np.ndarray,
) -> None:
    for i in order:
        s = slots[i]
        if fresh[i]:
            _reset(arrays, initial, s)
        expected[i] = math.nan
        scale[i] = math.nan
        out[i] = zscore._step(*_rows(arrays, s), xs[i])


@numba.jit(**NUMBA_OPTIONS)
def _fixed_block(
    arrays: tuple[np.ndarray, ...],
    initial: tuple[np.ndarray, ...],
    order: np.ndarray,
    slots: np.ndarray,
    fresh: np.ndarray,
    scores: np.ndarray,
    out: np.ndarray,
) -> None:
    for i in order:
        s = slots[i]
        if fresh[i]:
            _reset(arrays, initial, s)
        out[i] = fixed._step(*_rows(arrays, s), scores[i])


DETECTOR_LOOPS: dict[type[Detector], Callable[..., None]] = {
    RollingZScore: _zscore_block,
    SeasonalDetector: _seasonal_block,
}
THRESHOLD_LOOPS: dict[type[Threshold], Callable[..., None]] = {FixedThreshold: _fixed_block}
