"""The detector contract: score a point from the past, then learn it.

::

    det.update(x) -> float            # score x from what came before, then learn x
    det.update_many(xs) -> ndarray    # the same, in order, bit for bit
    det.score(x) -> float             # pure: what update would return, state untouched
    det.get_params() / get_state() / set_state(state) / clone() / save(path)

Scores are floats, higher is more anomalous, ``nan`` during warm-up (``warm_`` is False).
Invalid values (NaN, inf, text, wrong shape) raise :class:`~oddwatch.errors.InvalidInputError`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oddwatch._base import KernelComponent
from oddwatch._typing import FloatArray

__all__ = ["Detector"]


class Detector(KernelComponent):
    """Base class of every detector; see the module docstring for the contract."""

    @property
    def n_seen_(self) -> int:
        """Number of points learned so far."""
        return int(self._state["counters"][0])

    @property
    def warm_(self) -> bool:
        """True once scores are no longer ``nan`` warm-up placeholders."""
        raise NotImplementedError

    def explain_many(self, xs: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`update_many`, plus the expected value and the residual scale per point.

        Detectors without a forecast return ``nan`` for both; forecasting detectors override
        this so a flag can say "93.1 is 7.2 sd above the expected 41.0".
        """
        scores = self.update_many(xs)
        blank = np.full(scores.shape[0], np.nan)
        return scores, blank, blank.copy()
