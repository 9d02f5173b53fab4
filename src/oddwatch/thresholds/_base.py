"""The threshold contract: a component that maps each score to the threshold in force.

::

    thr.update(score) -> float        # threshold for this score, from past scores only; then learn
    thr.update_many(scores) -> ndarray

A point is anomalous when ``score > threshold``. ``nan`` scores (detector warm-up) are passed
through unlearned, and a ``nan`` threshold (the threshold's own warm-up) never flags.
"""

from __future__ import annotations

from oddwatch._base import KernelComponent

__all__ = ["Threshold"]


class Threshold(KernelComponent):
    """Base class of thresholds; see the module docstring for the contract."""

    _abstract = True
    _allow_nan_input = True

    @property
    def n_seen_(self) -> int:
        """Number of (non-nan) scores learned so far."""
        return int(self._state.counters[0])
