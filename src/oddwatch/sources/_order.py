"""Per-series clocks: the latest timestamp of each series, for order, duplicate and gap checks.

A point is out of order when its timestamp is before the latest one of its series, a
duplicate when equal to it. A gap is a step between consecutive points of a series longer
than ``max_gap`` seconds; by default that limit is learned as 1.5 times the median of the
first 64 steps (pooled over series, in stream order, so it does not depend on chunking). At
most ``max_keys`` series are remembered; beyond that the least recently seen are forgotten
at the end of a chunk. The series are kept in the order they were last seen, so forgetting
costs only the series forgotten and the ones seen in the chunk, never a walk over all.

Examples
--------
>>> import numpy as np
>>> clock = SeriesClock(max_gap=90.0)
>>> problem, gaps = clock.check(np.array([0.0, 60.0, 60.0, 300.0]), None, first_seq=0)
>>> problem.tolist(), gaps.tolist()
([0, 0, 7, 0], [0.0, 0.0, 0.0, 240.0])
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray

from oddwatch._typing import FloatArray
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.sources._problems import DUPLICATE_TIMESTAMP, OUT_OF_ORDER

__all__ = ["SeriesClock"]

_N_STEPS = 64  # steps between points that set the automatic gap limit
_GAP_FACTOR = 1.5


@numba.jit(**NUMBA_OPTIONS)
def _median(values: np.ndarray) -> float:
    """The median of a few values (insertion sort of a copy), as ``np.median`` gives it.

    Written out because numba's ``np.median`` costs ~1.3 s to compile on a first run, for
    one call on 64 numbers per run.

    >>> _median(np.array([4.0, 1.0, 3.0, 2.0]))
    2.5
    """
    ordered = values.copy()
    for i in range(1, ordered.shape[0]):
        key = ordered[i]
        j = i - 1
        while j >= 0 and ordered[j] > key:
            ordered[j + 1] = ordered[j]
            j -= 1
        ordered[j + 1] = key
    m = ordered.shape[0] // 2
    if ordered.shape[0] % 2:
        return float(ordered[m])
    return float((ordered[m - 1] + ordered[m]) / 2.0)


@numba.jit(**NUMBA_OPTIONS)
def _order_block(
    slots: np.ndarray,
    times: np.ndarray,
    last: np.ndarray,
    steps: np.ndarray,
    gap_state: np.ndarray,
    problem: np.ndarray,
    gaps: np.ndarray,
) -> None:
    """Mark points not after their series' latest timestamp; record gaps; learn the step.

    ``gap_state`` is ``[max_gap (nan while learning), steps learned]``.
    """
    for i in range(slots.shape[0]):
        s = slots[i]
        t = times[i]
        prev = last[s]
        if t < prev:
            problem[i] = OUT_OF_ORDER
        elif t == prev:
            problem[i] = DUPLICATE_TIMESTAMP
        else:
            if prev > -math.inf:
                step = t - prev
                if not math.isnan(gap_state[0]):
                    if step > gap_state[0]:
                        gaps[i] = step
                else:
                    n = int(gap_state[1])
                    steps[n] = step
                    gap_state[1] = n + 1
                    if n + 1 == steps.shape[0]:
                        gap_state[0] = _GAP_FACTOR * _median(steps)
            last[s] = t


class SeriesClock:
    """The latest timestamp per series; see the module docstring.

    Parameters
    ----------
    max_gap
        Seconds between consecutive points of a series above which a gap is reported;
        ``None`` learns it.
    max_keys
        Series remembered at once.
    """

    def __init__(self, max_gap: float | None = None, max_keys: int = 10_000) -> None:
        self.max_keys = max_keys
        self._gap_state = np.array([math.nan if max_gap is None else float(max_gap), 0.0])
        self._steps = np.zeros(_N_STEPS)
        self._slot_of: OrderedDict[str, int] = OrderedDict()  # least recently seen first
        self._last = np.full(16, -math.inf)
        self._seen = np.zeros(16, dtype=np.int64)
        self._free: list[int] = []

    @property
    def max_gap_(self) -> float:
        """The gap limit in force (``nan`` while it is being learned)."""
        return float(self._gap_state[0])

    def check(
        self, times: FloatArray, keys: NDArray[np.str_] | None, first_seq: int
    ) -> tuple[NDArray[np.uint8], FloatArray]:
        """Order problems (0, out of order, duplicate) and gap lengths (0: none) per point.

        ``first_seq`` numbers the points (for forgetting the least recently seen series).
        """
        n = times.shape[0]
        problem = np.zeros(n, dtype=np.uint8)
        gaps = np.zeros(n)
        if n:
            slots, names, unique = self._slots(keys, n)
            _order_block(
                slots,
                np.ascontiguousarray(times),
                self._last,
                self._steps,
                self._gap_state,
                problem,
                gaps,
            )
            np.maximum.at(self._seen, slots, np.arange(first_seq + 1, first_seq + n + 1))
            move = self._slot_of.move_to_end
            for j in np.argsort(self._seen[unique]).tolist():  # seen values are distinct
                move(names[j])
            self._forget()
        return problem, gaps

    def _slots(
        self, keys: NDArray[np.str_] | None, n: int
    ) -> tuple[NDArray[np.int64], list[str], NDArray[np.int64]]:
        """Each point's slot, and the chunk's series names with their slots."""
        if keys is None:  # one series, remembered under the key ""
            names, inverse = np.array([""]), np.zeros(n, dtype=np.intp)
        else:
            names, inverse = np.unique(keys, return_inverse=True)
        slot_of = self._slot_of
        slots = np.empty(names.shape[0], dtype=np.int64)
        listed = names.tolist()
        for j, name in enumerate(listed):
            slot = slot_of.get(name)
            if slot is None:
                slot = self._new_slot()
                slot_of[name] = slot
            slots[j] = slot
        return slots[inverse.reshape(-1)], listed, slots

    def _new_slot(self) -> int:
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._slot_of)
            if slot >= self._last.shape[0]:
                grow = self._last.shape[0]
                self._last = np.concatenate([self._last, np.full(grow, -math.inf)])
                self._seen = np.concatenate([self._seen, np.zeros(grow, dtype=np.int64)])
        self._last[slot] = -math.inf
        self._seen[slot] = 0
        return slot

    def _forget(self) -> None:
        """Forget the least recently seen series beyond ``max_keys``."""
        pop = self._slot_of.popitem
        for _ in range(len(self._slot_of) - self.max_keys):
            self._free.append(pop(last=False)[1])

    def get_state(self) -> dict[str, Any]:
        """The clocks as plain JSON (for checkpoints)."""
        names = list(self._slot_of)
        slots = [self._slot_of[k] for k in names]
        return {
            "gap_state": self._gap_state.tolist(),
            "steps": self._steps.tolist(),
            "keys": names,
            "last": self._last[slots].tolist(),
            "seen": self._seen[slots].tolist(),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`get_state` returned; ``ValueError``/``KeyError`` if malformed."""
        self._gap_state = np.array(state["gap_state"], dtype=np.float64).reshape(2)
        self._steps = np.array(state["steps"], dtype=np.float64).reshape(_N_STEPS)
        names = [str(k) for k in state["keys"]]
        size = max(16, len(names))
        self._last = np.full(size, -math.inf)
        self._seen = np.zeros(size, dtype=np.int64)
        self._last[: len(names)] = np.array(state["last"], dtype=np.float64).reshape(len(names))
        self._seen[: len(names)] = np.array(state["seen"], dtype=np.int64).reshape(len(names))
        order = np.argsort(self._seen[: len(names)], kind="stable").tolist()
        self._slot_of = OrderedDict((names[i], i) for i in order)
        self._free = []
