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
from oddwatch._validation import IntParam
from oddwatch.thresholds import FixedThreshold, QuantileThreshold, Threshold

__all__ = ["Detector", "WindowDetector", "quantile_default_threshold"]


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

    def default_threshold(self) -> Threshold:
        """The threshold a :class:`~oddwatch.Monitor` uses with this detector when given none.

        ``FixedThreshold(0.8)`` for scores of the form ``S / (1 + S)`` with ``S = -log10 p``
        (0.8 is a 1-in-10,000 point); detectors whose scores mean something else override it.

        >>> from oddwatch.detectors import SeasonalDetector
        >>> SeasonalDetector().default_threshold()
        FixedThreshold(value=0.8)
        """
        return FixedThreshold(0.8)

    def explain_many(self, xs: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`update_many`, plus the expected value and the residual scale per point.

        Detectors without a forecast return ``nan`` for both; forecasting detectors override
        this so a flag can say "93.1 is 7.2 sd above the expected 41.0".
        """
        scores = self.update_many(xs)
        blank = np.full(scores.shape[0], np.nan)
        return scores, blank, blank.copy()


class WindowDetector(Detector):
    """Base of detectors that score a point against the previous ``window_size`` points.

    Subclasses set the kernels and ``_initial_state``; parameters, checks and ``warm_`` (the
    window is full) are shared.
    """

    _param_specs = {"window_size": IntParam(low=2, hint="Use at least 2 points per window.")}

    def __init__(self, window_size: int = 64) -> None:
        self.window_size = window_size
        self._setup()

    @property
    def warm_(self) -> bool:
        return self.n_seen_ >= self.window_size

    def default_threshold(self) -> Threshold:
        """``FixedThreshold(4.0)``: the window detectors score in standard deviations."""
        return FixedThreshold(4.0)


def quantile_default_threshold(self: Detector) -> Threshold:
    """``QuantileThreshold()`` (the stream's own 0.999 quantile), for scores with no fixed meaning.

    Isolation and mass scores are ranks, not probabilities; a quantile of the score stream
    flags about 1 point in 1,000 whatever their scale.
    """
    return QuantileThreshold()
