"""Detectors that run in Python (River models), inside a :class:`~oddwatch.Monitor`.

The Monitor runs detector, threshold and alarm stage in one compiled step. A detector whose
model is Python objects (``runs_in_python = True``, e.g.
:class:`~oddwatch.river.RiverDetector`) cannot join that step, so the Monitor scores each
chunk's valid values with the detector's ``update_many`` first (score, then learn, in order)
and hands the scores to the compiled step through :class:`_ScoreRelay`, a detector that returns
its input. Thresholds, alarm stage, ``on_invalid`` and results are then exactly the Monitor's.

The protocol such a detector provides: ``runs_in_python = True``, ``score_scale``,
``update_many(values) -> scores`` (finite float64 values in, one float score each, ``nan``
while warming up) and, for an explicit pickle opt-in, ``save_pickle(component, path)``.
``Monitor.clone`` clones it only if it is an oddwatch component (as ``RiverDetector`` is).

Examples
--------
>>> import numpy as np
>>> relay = _ScoreRelay()
>>> relay.update_many(np.array([0.5, 0.25, 2.0])).tolist()
[0.5, 0.25, 2.0]
>>> is_python_detector(relay)
False
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors import Detector
from oddwatch.errors import CheckpointError

__all__ = ["is_python_detector", "save_python"]


def is_python_detector(obj: Any) -> bool:
    """Whether ``obj`` declares ``runs_in_python = True`` and has ``update_many``."""
    return getattr(obj, "runs_in_python", False) is True and callable(
        getattr(obj, "update_many", None)
    )


class _RelayState(NamedTuple):
    counters: np.ndarray  # [scores passed]


@numba.jit(**NUMBA_OPTIONS)
def _relay_step(state: _RelayState, params: Any, x: float) -> float:
    state.counters[0] += 1
    return x


class _ScoreRelay(Detector):
    """Returns its input: scores computed in Python, into the Monitor's compiled step."""

    score_scale = "rank"
    State = _RelayState
    _step = staticmethod(_relay_step)

    @property
    def warm_(self) -> bool:
        return True

    def _initial_state(self) -> _RelayState:
        return _RelayState(np.zeros(1, dtype=np.int64))

    @staticmethod
    def scores(detector: Any, values: np.ndarray, invalid: np.ndarray) -> np.ndarray:
        """``values`` with each valid entry replaced by ``detector``'s score of it, in order.

        Invalid entries are left as they are (the Monitor never passes them to the step).
        """
        out = values.copy()
        keep = ~invalid
        out[keep] = detector.update_many(np.ascontiguousarray(values[keep]))
        return out


def save_python(component: Any, detector: Any, path: str | os.PathLike[str], allow: bool) -> None:
    """Save ``component`` holding a Python ``detector``: pickle, and only with ``allow``."""
    name = type(detector).__name__
    saver = getattr(detector, "save_pickle", None)
    if allow is not True or not callable(saver):
        how = (
            "If you trust every reader of the file, pass allow_pickle=True (read it back with "
            "oddwatch.river.load_pickle(path, allow_pickle=True))."
            if callable(saver)
            else f"{name} offers no way to save it."
        )
        raise CheckpointError(
            f"{type(component).__name__} with a {name} cannot be saved as an oddwatch "
            "checkpoint: its model lives in Python objects that only pickle can save, and "
            f"oddwatch checkpoints never hold pickle (loading one could run code); got "
            f"allow_pickle={allow!r}. {how}"
        )
    saver(component, path)
