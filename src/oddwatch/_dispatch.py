"""Generic compiled loops that find each component's kernels by its state type.

Every kernel component has a state class (a ``NamedTuple`` of arrays, nested for
composition) and registers its kernels against it (:func:`register_kernels`):

* ``step(state, params, x) -> float``: detectors map a value to a score, thresholds a score
  to the threshold in force (required);
* ``forecast(state, params) -> (expected, scale)``: read before the step (optional; ``nan``);
* ``alarm_scale(state, params) -> float``: how much wider than usual the detector's surprise
  was when it scored the latest point, read after the step, for the alarm stage
  (optional; 1.0);
* ``alarm(state, params, score, threshold, width) -> float``: an alarm policy's step; it
  returns the score to report (the score, or a muted point's score capped at or below the
  threshold), and a point is flagged when its reported score is above the threshold.

The loops below call :func:`step_of` and friends, stubs that numba's ``@overload`` resolves
at compile time from the state's class, so one loop serves every component: a detector
written in another module (or a plug-in) runs in ``Monitor`` and ``KeyedMonitor`` with no
change here. Kernels are named through the registry, never passed as arguments (which would
defeat numba's on-disk cache); the cache still hits in a new process.

For ``KeyedMonitor`` every state array gets a leading slot dimension; :func:`row_of` builds
the state ``NamedTuple`` of one slot's rows (views), so the kernels run unchanged on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import types
from numba.extending import overload

from oddwatch.config import INLINE_OPTIONS, NUMBA_OPTIONS

__all__ = [
    "keyed_monitor_block",
    "keyed_point",
    "monitor_block",
    "monitor_point",
    "register_kernels",
    "run_alarm_block",
    "run_block",
    "run_block_explained",
]

_KERNELS: dict[tuple[Any, str], Any] = {}
ROLES = ("step", "forecast", "alarm_scale", "alarm")


def register_kernels(state_class: type, **kernels: Callable[..., Any] | None) -> None:
    """Name the compiled kernels of components whose state is a ``state_class``."""
    for role, kernel in kernels.items():
        if role not in ROLES:
            raise ValueError(f"unknown kernel role {role!r}; expected one of {ROLES}")
        if kernel is not None:
            _KERNELS[(state_class, role)] = kernel


def _kernel(state_type: Any, role: str) -> Any:
    cls = getattr(state_type, "instance_class", None)
    return _KERNELS.get((cls, role))


def step_of(state: Any, params: Any, x: float) -> float:
    """The registered step of ``state``'s component (compiled code only)."""
    raise NotImplementedError("step_of runs inside compiled code only")


def forecast_of(state: Any, params: Any) -> tuple[float, float]:
    """The registered forecast, or ``(nan, nan)`` (compiled code only)."""
    raise NotImplementedError("forecast_of runs inside compiled code only")


def alarm_scale_of(state: Any, params: Any) -> float:
    """The registered alarm scale, or 1.0 (compiled code only)."""
    raise NotImplementedError("alarm_scale_of runs inside compiled code only")


def alarm_of(state: Any, params: Any, score: float, threshold: float, width: float) -> float:
    """The registered alarm policy step (compiled code only)."""
    raise NotImplementedError("alarm_of runs inside compiled code only")


def row_of(state: Any, s: int) -> Any:
    """The state of slot ``s``: each array's row ``s`` (compiled code only)."""
    raise NotImplementedError("row_of runs inside compiled code only")


def reset_row(state: Any, initial: Any, s: int) -> None:
    """Overwrite slot ``s`` of every array with its initial value (compiled code only)."""
    raise NotImplementedError("reset_row runs inside compiled code only")


@overload(step_of)
def _step_of(state: Any, params: Any, x: Any) -> Any:
    kernel = _kernel(state, "step")
    if kernel is None:
        raise TypeError(f"no step registered for state {state}")

    def impl(state: Any, params: Any, x: Any) -> Any:
        return kernel(state, params, x)

    return impl


def _no_forecast(state: Any, params: Any) -> tuple[float, float]:
    return math.nan, math.nan


def _usual_scale(state: Any, params: Any) -> float:
    return 1.0


def _optional_kernel(role: str, absent: Callable[[Any, Any], Any]) -> Any:
    """The typing function of a ``(state, params)`` role: the registered kernel or ``absent``."""

    def resolve(state: Any, params: Any) -> Any:
        kernel = _kernel(state, role)
        if kernel is None:
            return absent

        def impl(state: Any, params: Any) -> Any:
            return kernel(state, params)

        return impl

    return resolve


# inlined at numba's IR level: a call would pass every array of the state, whose reference
# counting costs more than these small kernels do (measured: the default Monitor 0.95 -> 1.05M
# points/s); the step is a call, once per point
overload(forecast_of, inline="always")(_optional_kernel("forecast", _no_forecast))
overload(alarm_scale_of, inline="always")(_optional_kernel("alarm_scale", _usual_scale))


@overload(alarm_of)
def _alarm_of(state: Any, params: Any, score: Any, threshold: Any, width: Any) -> Any:
    kernel = _kernel(state, "alarm")
    if kernel is None:
        raise TypeError(f"no alarm policy registered for state {state}")

    def impl(state: Any, params: Any, score: Any, threshold: Any, width: Any) -> Any:
        return kernel(state, params, score, threshold, width)

    return impl


def _generate(name: str, source: str, namespace: dict[str, Any]) -> Any:
    exec(source, namespace)  # code built from a NamedTuple's field names only
    return namespace[name]


@overload(row_of)
def _row_of(state: Any, s: Any) -> Any:
    cls = state.instance_class
    parts = []
    for field, kind in zip(cls._fields, state.types, strict=True):
        parts.append(
            f"row_of(state.{field}, s)"
            if isinstance(kind, types.BaseTuple)
            else f"state.{field}[s]"
        )
    source = f"def impl(state: Any, s: Any) -> Any:\n    return cls({', '.join(parts)})\n"
    return _generate("impl", source, {"cls": cls, "row_of": row_of, "Any": Any})


@overload(reset_row)
def _reset_row(state: Any, initial: Any, s: Any) -> Any:
    cls = state.instance_class
    lines = []
    for field, kind in zip(cls._fields, state.types, strict=True):
        if isinstance(kind, types.BaseTuple):
            lines.append(f"    reset_row(state.{field}, initial.{field}, s)")
        else:
            lines.append(f"    state.{field}[s] = initial.{field}")
    source = "def impl(state: Any, initial: Any, s: Any) -> None:\n" + "\n".join(lines) + "\n"
    return _generate("impl", source, {"reset_row": reset_row, "Any": Any})


@numba.jit(**NUMBA_OPTIONS)
def run_block(state: Any, params: Any, xs: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = step(state, params, xs[i])`` in order: one component over a chunk."""
    for i in range(xs.shape[0]):
        out[i] = step_of(state, params, xs[i])


@numba.jit(**NUMBA_OPTIONS)
def run_block_explained(
    state: Any,
    params: Any,
    xs: np.ndarray,
    out: np.ndarray,
    expected: np.ndarray,
    scale: np.ndarray,
) -> None:
    """:func:`run_block`, plus the forecast in force before each point."""
    for i in range(xs.shape[0]):
        expected[i], scale[i] = forecast_of(state, params)
        out[i] = step_of(state, params, xs[i])


@numba.jit(**NUMBA_OPTIONS)
def run_alarm_block(
    state: Any,
    params: Any,
    scores: np.ndarray,
    thresholds: np.ndarray,
    widths: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out[i]`` = the reported score of :func:`alarm_of` for each point, in order."""
    for i in range(scores.shape[0]):
        out[i] = alarm_of(state, params, scores[i], thresholds[i], widths[i])


@numba.jit(**INLINE_OPTIONS)
def _through_stages(stages: Any, x: float) -> tuple[float, float, float, float]:
    """One point through detector, threshold and alarm stage (inlined into each loop below).

    ``stages`` is ``((detector, params), (threshold, params), (alarm, params))``, each a
    state tuple and its kernel parameters. Returns the reported score, the threshold in
    force, and the forecast (expected, scale) read before the detector learns ``x``; the
    point is flagged when the reported score is above the threshold.
    """
    (detector, detector_params), (threshold, threshold_params), (alarm, alarm_params) = stages
    expected, scale = forecast_of(detector, detector_params)
    score = step_of(detector, detector_params, x)
    width = alarm_scale_of(detector, detector_params)
    level = step_of(threshold, threshold_params, score)
    reported = alarm_of(alarm, alarm_params, score, level, width)
    return reported, level, expected, scale


@numba.jit(**INLINE_OPTIONS)
def _slot_stages(keyed: Any, previous: np.ndarray, s: int, fresh: bool, x: float) -> Any:
    """Slot ``s``'s stages, reset first if ``fresh`` (a new key); and its previous value.

    ``keyed`` is ``((rows, initial, params), ...)`` per stage: the state arrays with a leading
    slot dimension, the initial state and the kernel parameters. The slot's previous value
    (``nan`` for a new key) is returned and ``x`` recorded in its place.
    """
    (detector, detector_initial, detector_params) = keyed[0]
    (threshold, threshold_initial, threshold_params) = keyed[1]
    (alarm, alarm_initial, alarm_params) = keyed[2]
    if fresh:
        reset_row(detector, detector_initial, s)
        reset_row(threshold, threshold_initial, s)
        reset_row(alarm, alarm_initial, s)
        previous[s] = math.nan
    before: float = previous[s]
    previous[s] = x
    stages = (
        (row_of(detector, s), detector_params),
        (row_of(threshold, s), threshold_params),
        (row_of(alarm, s), alarm_params),
    )
    return stages, before


@numba.jit(**NUMBA_OPTIONS)
def monitor_point(
    counters: np.ndarray, previous: np.ndarray, stages: Any, x: float
) -> tuple[float, float, float, bool, float, float, bool, float]:
    """One point through the ``stages`` (see :func:`_through_stages`); ``counters[0]`` counts it.

    Returns the fields of a :class:`~oddwatch.Verdict`: ``x``, reported score, threshold,
    flag, expected, scale, invalid (False) and the series' previous value, ``previous[0]``
    (``nan`` before the first), which then becomes ``x``.
    """
    counters[0] += 1
    before = previous[0]
    previous[0] = x
    reported, level, expected, scale = _through_stages(stages, x)
    return x, reported, level, reported > level, expected, scale, False, before


@numba.jit(**NUMBA_OPTIONS)
def monitor_block(
    stages: Any,
    xs: np.ndarray,
    score: np.ndarray,
    level: np.ndarray,
    flag: np.ndarray,
    expected: np.ndarray,
    scale: np.ndarray,
) -> None:
    """:func:`monitor_point` over a chunk of valid values, into arrays."""
    for i in range(xs.shape[0]):
        score[i], level[i], expected[i], scale[i] = _through_stages(stages, xs[i])
        flag[i] = score[i] > level[i]


@numba.jit(**NUMBA_OPTIONS)
def keyed_monitor_block(
    keyed: Any,
    previous: np.ndarray,
    order: np.ndarray,
    slots: np.ndarray,
    fresh: np.ndarray,
    xs: np.ndarray,
    score: np.ndarray,
    level: np.ndarray,
    flag: np.ndarray,
    expected: np.ndarray,
    scale: np.ndarray,
    before: np.ndarray,
) -> None:
    """:func:`monitor_block` where point ``i`` runs on slot ``slots[i]`` (see :func:`_slot_stages`).

    Points are visited in ``order``; each key's points must keep their order in it.
    ``before[i]`` is the key's previous value (``nan`` for a new key).
    """
    for i in order:
        stages, before[i] = _slot_stages(keyed, previous, slots[i], fresh[i], xs[i])
        score[i], level[i], expected[i], scale[i] = _through_stages(stages, xs[i])
        flag[i] = score[i] > level[i]


@numba.jit(**NUMBA_OPTIONS)
def keyed_point(
    keyed: Any, previous: np.ndarray, s: int, fresh: bool, x: float, out: np.ndarray
) -> None:
    """:func:`monitor_point` on slot ``s`` (reset first when ``fresh``).

    ``out`` gets the reported score, threshold, flag, expected, scale and previous value.
    """
    stages, out[5] = _slot_stages(keyed, previous, s, fresh, x)
    out[0], out[1], out[3], out[4] = _through_stages(stages, x)
    out[2] = 1.0 if out[0] > out[1] else 0.0
