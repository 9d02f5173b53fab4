"""State invariants: every index and count a kernel trusts, checked against the arrays.

Anyone can write a checkpoint with valid checksums, so after ``set_state`` a loaded
component is checked here before it runs: ring positions inside their rings, counts within
what the arrays can hold, tree nodes and split features inside their tables. A failure is a
:class:`~oddwatch.errors.CheckpointError` naming the component, the field and the value, so a
crafted file can never make a kernel read or write outside its arrays.

One function per state structure, keyed by the name of its ``NamedTuple`` in :data:`CHECKS`
and called as ``check(owner, state, params)`` with the component's kernel parameters.
:func:`check_state_invariants` walks a component's (nested) state and calls the function of
every structure in it; ``Monitor`` and ``KeyedMonitor`` are walked part by part, a keyed
part with one row per key in every array (the functions are written for any leading axes).

Examples
--------
>>> from oddwatch.detectors import RollingZScore
>>> det = RollingZScore(window_size=4)
>>> _ = det.update_many([1.0, 2.0, 3.0])
>>> state = det.get_state()
>>> state["counters"][1] = 40  # a ring position past the end of a 4-slot window
>>> det.set_state(state)
>>> check_state_invariants(det)
Traceback (most recent call last):
...
oddwatch.errors.CheckpointError: state field `counters[1] (ring position)` of RollingZScore
must be 3 (n_seen % 4); got 40. The file is corrupt or crafted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from oddwatch.errors import CheckpointError

__all__ = ["CHECKS", "check_state_invariants", "state_structures"]

_BIG = 2**62  # counts beyond this would overflow int64 arithmetic in the kernels


def _fail(owner: str, field: str, expected: str, got: Any) -> CheckpointError:
    return CheckpointError(
        f"state field `{field}` of {owner} must be {expected}; got {got}. "
        "The file is corrupt or crafted."
    )


def _in_range(owner: str, field: str, array: np.ndarray, lo: float, hi: Any) -> None:
    """Every entry of ``array`` within ``[lo, hi]`` (``hi`` may be an array, broadcast)."""
    bad = (array < lo) | (array > hi)
    if np.any(bad):
        where = np.argwhere(bad)[0]
        limit = hi if np.ndim(hi) == 0 else np.broadcast_to(hi, bad.shape)[tuple(where)]
        raise _fail(owner, field, f"in [{lo}, {limit}]", array[tuple(where)])


def _ring(owner: str, window: np.ndarray, counters: np.ndarray) -> None:
    """``counters[..., 0]`` points seen, ``counters[..., 1]`` the ring position ``n % size``."""
    size = window.shape[-1]
    n, position = counters[..., 0], counters[..., 1]
    _in_range(owner, "counters[0]", n, 0, _BIG)
    expected = n % size
    bad = np.flatnonzero((position != expected).ravel())
    if bad.size:
        i = bad[0]
        raise _fail(
            owner,
            "counters[1] (ring position)",
            f"{expected.ravel()[i]} (n_seen % {size})",
            position.ravel()[i],
        )


def _counts(owner: str, counters: np.ndarray, names: tuple[str, ...]) -> None:
    for i, name in enumerate(names):
        _in_range(owner, f"counters[{name}]", counters[..., i], 0, _BIG)


def _check_zscore(owner: str, s: Any, params: Any) -> None:
    _ring(owner, s.window, s.counters)


def _check_mad(owner: str, s: Any, params: Any) -> None:
    _ring(owner, s.window, s.counters)
    size = s.window.shape[-1]
    n = s.counters[..., 0].ravel()
    window, ordered = s.window.reshape(-1, size), s.ordered.reshape(-1, size)
    full = n >= size
    sorted_ok = np.array_equal(np.sort(window[full], axis=-1), ordered[full])
    for row in np.flatnonzero(~full):  # windows still filling: only their first n values
        count = int(n[row])
        sorted_ok &= np.array_equal(np.sort(window[row, :count]), ordered[row, :count])
    if not sorted_ok:
        raise _fail(owner, "ordered", "the window's values in order", "other values")


def _check_seasonal(owner: str, s: Any, params: Any) -> None:
    from oddwatch.detectors import _seasonal_kernels as k  # its counter slots, by name

    limits = {
        "n_seen": (k._N_SEEN, 0, _BIG),
        "season_length": (k._PERIOD, 0, s.profile.shape[-1]),
        "next_check": (k._NEXT_CHECK, 0, _BIG),
        "n_rebaseline": (k._N_REBASELINE, 0, _BIG),
        "run": (k._RUN, -k._RUN_LENGTH, k._RUN_LENGTH),
        "stuck_run": (k._STUCK_RUN, 0, _BIG),
        "n_averaged": (k._N_AVG, 0, _BIG),
    }
    for name, (i, lo, hi) in limits.items():
        _in_range(owner, f"seasonal counters[{name}]", s.counters[..., i], lo, hi)


def _check_discord(owner: str, s: Any, params: Any) -> None:
    from oddwatch.detectors import discord as k

    history = s.dots.shape[-1]
    longest = s.values.shape[-1] // 2 - history  # max_length
    n_seen, length = s.counters[..., k._N_SEEN], s.counters[..., k._LENGTH]
    _in_range(owner, "counters[n_seen]", n_seen, 0, _BIG)
    _in_range(owner, "counters[period]", s.counters[..., k._PERIOD], 0, _BIG)
    _in_range(owner, "counters[length]", length, 0, longest)
    # a length is in use (8 to max_length) from the end of the warm-up on; 0 only before it
    started = n_seen >= k._WARMUP_SEASONS * longest
    bad = ((length > 0) | started) & (length < k.MIN_LENGTH)
    if np.any(bad):
        raise _fail(owner, "counters[length]", f"in [{k.MIN_LENGTH}, {longest}]", length[bad][0])


def _check_tail(owner: str, s: Any, params: Any) -> None:
    """A calibration tail (ShapeAndPointDetector): its float counts index the sorted copy."""
    from oddwatch.detectors import combined

    size = s.ring.shape[-1]
    n_sorted, n_seen = s.stats[..., combined._N_SORTED], s.stats[..., combined._N_SEEN]
    for name, count, hi in (("n_sorted", n_sorted, size), ("n_seen", n_seen, _BIG)):
        if not np.all(count == np.floor(count)):
            raise _fail(owner, f"stats[{name}]", "a whole number", count[count != np.floor(count)])
        _in_range(owner, f"stats[{name}]", count, 0, hi)
    _in_range(owner, "stats[excess]", s.stats[..., combined._EXCESS], combined._MIN_EXCESS, np.inf)


def _check_calibrated(owner: str, s: Any, params: Any) -> None:
    _counts(owner, s.counters, ("n_seen", "n_calibrated"))


def _check_counts(owner: str, s: Any, params: Any) -> None:
    """Components whose only integers are counts (EWMA, fixed threshold, alarm policies)."""
    _counts(owner, s.counters, tuple(str(i) for i in range(s.counters.shape[-1])))


def _check_dual(owner: str, s: Any, params: Any) -> None:
    """Run lengths are counts (compared, never used as indices)."""
    _in_range(owner, "runs", s.runs, 0, _BIG)


def _check_nothing(owner: str, s: Any, params: Any) -> None:
    """Structures without integers of their own (their parts are checked)."""


def _check_quantile(owner: str, s: Any, params: Any) -> None:
    _ring(owner, s.window, s.counters)
    _in_range(owner, "counters[n_top]", s.counters[..., 2], 0, s.top.shape[-1])
    _in_range(owner, "counters[n_ties]", s.counters[..., 3], 0, s.window.shape[-1])


def _check_tail_memory(owner: str, s: Any, params: Any) -> None:
    """The peaks-over-threshold memory shared by SPOT and DSPOT."""
    c, size = s.counters, s.tail.shape[-1]
    _counts(owner, c[..., :2], ("n_seen", "n_counted"))
    stored, n_counted = c[..., 2], c[..., 1]
    _in_range(owner, "tail counters[n_stored]", stored, 0, size)
    _in_range(owner, "tail counters[n_censored]", c[..., 3], 0, stored)
    held = np.arange(size) < stored[..., None]
    partial = stored < size
    flagged = (s.censored & held).sum(axis=-1)
    if np.any(partial & (flagged != c[..., 3])):
        raise _fail(owner, "tail counters[n_censored]", "the censored flags stored", c[..., 3])
    _in_range(owner, "tail counters[position]", c[..., 4], 0, size - 1)
    if np.any(partial & (c[..., 4] != stored)):
        raise _fail(owner, "tail counters[position]", "n_stored (ring not full)", c[..., 4])
    _in_range(owner, "tail counters[span_start]", c[..., 5], 0, n_counted)
    _in_range(owner, "tail counters[new_since_fit]", c[..., 6], 0, _BIG)
    _in_range(owner, "tail counters[fitted]", c[..., 7], 0, 1)
    _in_range(owner, "tail_at", s.tail_at, 0, n_counted[..., None])


def _check_half_space(owner: str, s: Any, params: Any) -> None:
    c = s.counters
    _counts(owner, c[..., :2], ("n_seen", "window"))
    _in_range(owner, "counters[in_window]", c[..., 2], 0, params.window_size - 1)
    n, window = c[..., 0], c[..., 1]
    if np.any((window == 0) != (n < s.history.shape[-1])):
        raise _fail(owner, "counters[window]", "0 exactly while the first window fills", window)
    _in_range(owner, "split_dim", s.split_dim, 0, params.shingle_size - 1)
    for name in ("reference_mass", "latest_mass"):
        _in_range(owner, name, getattr(s, name), 0, 2**31 - 1)
    _in_range(owner, "mass_window", s.mass_window, 0, window[..., None, None] + 2)


def _check_forest(owner: str, s: Any, params: Any) -> None:
    _counts(owner, s.counters, ("n_seen",))
    feature = s.feature
    _in_range(owner, "feature", feature, -1, s.window.shape[-1] - 1)
    leaves = feature[..., feature.shape[-1] // 2 :]  # the last level has no children
    _in_range(owner, "feature (last tree level)", leaves, -1, -1)


StateCheck = Callable[[str, Any, Any], None]

CHECKS: dict[str, StateCheck] = {
    "CalibratedState": _check_calibrated,
    "CalibratedThresholdState": _check_nothing,
    "DspotState": _check_nothing,
    "DiscordState": _check_discord,
    "DualState": _check_dual,
    "EWMAState": _check_counts,
    "EveryPointState": _check_counts,
    "FixedState": _check_counts,
    "ForestState": _check_forest,
    "HalfSpaceState": _check_half_space,
    "MADState": _check_mad,
    "QuantileState": _check_quantile,
    "QuietState": _check_counts,
    "SeasonalState": _check_seasonal,
    "ShapeAndPointState": _check_counts,
    "SpotState": _check_nothing,
    "TailMemory": _check_tail_memory,
    "TailState": _check_tail,
    "ZScoreState": _check_zscore,
}


def state_structures(state: Any) -> list[str]:
    """Names of the state structures (``NamedTuple`` classes) nested in ``state``."""
    names = [type(state).__name__]
    for value in state:
        if isinstance(value, tuple):
            names += state_structures(value)
    return names


def _walk(owner: str, state: Any, params: Any) -> None:
    check = CHECKS.get(type(state).__name__)
    if check is not None:  # a plug-in's own structures are not known here
        check(owner, state, params)
    for name, value in zip(state._fields, state, strict=True):
        if isinstance(value, tuple):
            _walk(owner, value, getattr(params, name, params))


def _rows(template: Any, arrays: Mapping[str, np.ndarray], prefix: str = "") -> Any:
    """``template``'s state structure holding ``arrays`` (one row per key) instead."""
    values = [
        _rows(value, arrays, f"{prefix}{name}.")
        if isinstance(value, tuple)
        else arrays[f"{prefix}{name}"]
        for name, value in zip(template._fields, template, strict=True)
    ]
    return type(template)(*values)


def check_state_invariants(component: Any) -> None:
    """Raise :class:`CheckpointError` unless every index and count in the state is in range.

    Structures without an entry in :data:`CHECKS` (a plug-in's own) are not checked; the
    test suite requires one for every built-in structure.
    """
    owner = type(component).__name__
    if owner == "Monitor":
        _counts(owner, component.get_state()["monitor.counters"], ("n_seen", "n_skip", "n_flag"))
        for part in (component.detector_, component.threshold_, component.alarm_):
            check_state_invariants(part)
    elif owner == "KeyedMonitor":
        state = component.get_state()
        _counts(owner, state["counters"], ("n_seen", "n_skipped", "n_flagged", "n_evicted"))
        for part, template in component._templates.items():
            arrays = {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(f"{part}.")}
            structure = _rows(template._state, arrays)
            try:
                _walk(type(template).__name__, structure, template._kernel_params_)
            except CheckpointError as exc:
                raise CheckpointError(f"KeyedMonitor, {part} of some key: {exc}") from None
    elif hasattr(component, "_state") and hasattr(component, "_kernel_params_"):
        _walk(owner, component._state, component._kernel_params_)
