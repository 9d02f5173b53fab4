"""State invariants: every index and count a kernel trusts, checked against the arrays.

Anyone can write a checkpoint with valid checksums, so after ``set_state`` a loaded
component is checked here before it runs: ring positions inside their rings, counts within
what the arrays can hold, tree nodes and split features inside their tables. A failure is a
:class:`~oddwatch.errors.CheckpointError` naming the component, the field and the value, so a
crafted file can never make a kernel read or write outside its arrays.

Each state structure declares its own invariants, beside its fields: a ``NamedTuple`` method
``check_invariants(self, owner, params)`` (``params``: the component's kernel parameters)
built from the helpers here (:func:`in_range`, :func:`ring`, :func:`counts`), so adding a
component touches no other file. :func:`check_state_invariants` walks a component's (nested)
state and calls the method of every structure in it; ``Monitor`` and ``KeyedMonitor`` are
walked part by part, a keyed part with one row per key in every array (the methods are
written for any leading axes). A structure without the method (a plug-in's) is not checked;
the test suite requires one on every built-in structure that holds integers.

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

from collections.abc import Mapping
from typing import Any

import numpy as np

from oddwatch.errors import CheckpointError

__all__ = [
    "BIG",
    "check_state_invariants",
    "counts",
    "fail",
    "finite",
    "in_range",
    "ring",
    "state_structures",
]

BIG = 2**62  # counts beyond this would overflow int64 arithmetic in the kernels


def fail(owner: str, field: str, expected: str, got: Any) -> CheckpointError:
    """The error for state field ``field`` of ``owner``: ``expected``, but ``got``."""
    return CheckpointError(
        f"state field `{field}` of {owner} must be {expected}; got {got}. "
        "The file is corrupt or crafted."
    )


def in_range(owner: str, field: str, array: np.ndarray, lo: float, hi: Any) -> None:
    """Every entry of ``array`` within ``[lo, hi]`` (``hi`` may be an array, broadcast)."""
    bad = (array < lo) | (array > hi)
    if np.any(bad):
        where = np.argwhere(bad)[0]
        limit = hi if np.ndim(hi) == 0 else np.broadcast_to(hi, bad.shape)[tuple(where)]
        raise fail(owner, field, f"in [{lo}, {limit}]", array[tuple(where)])


def finite(owner: str, field: str, array: np.ndarray, lo: float) -> None:
    """Every entry of ``array`` a finite number at least ``lo`` (a weight, a fitted scale)."""
    bad = ~np.isfinite(array) | (array < lo)
    if np.any(bad):
        raise fail(owner, field, f"finite and >= {lo}", array[tuple(np.argwhere(bad)[0])])


def ring(owner: str, window: np.ndarray, counters: np.ndarray) -> None:
    """``counters[..., 0]`` points seen, ``counters[..., 1]`` the ring position ``n % size``."""
    size = window.shape[-1]
    n, position = counters[..., 0], counters[..., 1]
    in_range(owner, "counters[0]", n, 0, BIG)
    expected = n % size
    bad = np.flatnonzero((position != expected).ravel())
    if bad.size:
        i = bad[0]
        raise fail(
            owner,
            "counters[1] (ring position)",
            f"{expected.ravel()[i]} (n_seen % {size})",
            position.ravel()[i],
        )


def counts(owner: str, counters: np.ndarray, names: tuple[str, ...] = ()) -> None:
    """Every ``counters[..., i]`` a count in ``[0, BIG]`` (``names[i]`` names it, else ``i``)."""
    names = names or tuple(str(i) for i in range(counters.shape[-1]))
    for i, name in enumerate(names):
        in_range(owner, f"counters[{name}]", counters[..., i], 0, BIG)


def state_structures(state: Any) -> list[Any]:
    """The state structures (``NamedTuple`` instances) nested in ``state``, itself first."""
    found = [state]
    for value in state:
        if isinstance(value, tuple):
            found += state_structures(value)
    return found


def _walk(owner: str, state: Any, params: Any) -> None:
    check = getattr(state, "check_invariants", None)
    if check is not None:  # a plug-in's own structures may declare none
        check(owner, params)
    for name, value in zip(state._fields, state, strict=True):
        if isinstance(value, tuple):
            _walk(owner, value, getattr(params, name, params))


def _rows(template: Any, arrays: Mapping[str, np.ndarray], prefix: str = "") -> Any:
    """``template``'s state structure holding ``arrays`` (one row per key) instead."""
    values = []
    for name, value in zip(template._fields, template, strict=True):
        if isinstance(value, tuple):
            values.append(_rows(value, arrays, f"{prefix}{name}."))
        elif value.dtype.names:  # a record of named scalars, one per key
            fields = {f: arrays[f"{prefix}{name}.{f}"] for f in value.dtype.names}
            record = np.empty(next(iter(fields.values())).shape, value.dtype)
            for field, array in fields.items():
                record[field] = array
            values.append(record)
        else:
            values.append(arrays[f"{prefix}{name}"])
    return type(template)(*values)


def check_state_invariants(component: Any) -> None:
    """Raise :class:`CheckpointError` unless every index and count in the state is in range.

    Structures without a ``check_invariants`` method (a plug-in's own) are not checked; the
    test suite requires one on every built-in structure that holds integers.
    """
    owner = type(component).__name__
    if owner == "Monitor":
        counts(owner, component.get_state()["monitor.counters"], ("n_seen", "n_skip", "n_flag"))
        for part in (component.detector_, component.threshold_, component.alarm_):
            check_state_invariants(part)
    elif owner == "KeyedMonitor":
        state = component.get_state()
        counts(owner, state["counters"], ("n_seen", "n_skipped", "n_flagged", "n_evicted"))
        for part, template in component._templates.items():
            arrays = {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith(f"{part}.")}
            structure = _rows(template._state, arrays)
            try:
                _walk(type(template).__name__, structure, template._kernel_params_)
            except CheckpointError as exc:
                raise CheckpointError(f"KeyedMonitor, {part} of some key: {exc}") from None
    elif hasattr(component, "_state") and hasattr(component, "_kernel_params_"):
        _walk(owner, component._state, component._kernel_params_)
