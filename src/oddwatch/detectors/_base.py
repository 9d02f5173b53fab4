"""The detector contract: score a point from the past, then learn it.

::

    det.update(x) -> float            # score x from what came before, then learn x
    det.update_many(xs) -> ndarray    # the same, in order, bit for bit
    det.score(x) -> float             # pure: what update would return, state untouched
    det.get_params() / get_state() / set_state(state) / clone() / save(path)

Scores are floats, higher is more anomalous, ``nan`` during warm-up (``warm_`` is False).
Invalid values (NaN, inf, text, wrong shape) raise :class:`~oddwatch.errors.InvalidInputError`.
A detector returns its surprise only: it holds no alarm level and no quiet period (the
:class:`~oddwatch.Monitor`'s threshold and alarm stage decide what is flagged). It names
the scale of its scores (``score_scale``) so the Monitor can pick a default threshold
without the detector importing threshold classes:

* ``"surprise"``: ``S / (1 + S)`` with ``S = -log10 p`` (0.8 is a 1-in-10,000 point);
* ``"sustained_surprise"``: the same form, but saturating near each stream's alarm budget;
* ``"sd"``: distances in standard deviations;
* ``"rank"``: isolation or mass scores with no fixed meaning (use a quantile of the stream).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from oddwatch._base import KernelComponent, param
from oddwatch._dispatch import run_block_explained
from oddwatch._typing import FloatArray
from oddwatch._validation import IntParam

__all__ = ["Detector", "ScoreScale", "WindowDetector"]

ScoreScale = Literal["surprise", "sustained_surprise", "sd", "rank"]


class Detector(KernelComponent):
    """Base class of every detector; see the module docstring for the contract."""

    _abstract = True
    score_scale: ClassVar[ScoreScale] = "surprise"

    @property
    def n_seen_(self) -> int:
        """Number of points learned so far."""
        return int(self._state.counters[0])

    @property
    def warm_(self) -> bool:
        """True once scores are no longer ``nan`` warm-up placeholders.

        By default: once ``warmup`` points are learned, for detectors with that parameter.
        """
        if "warmup" not in self._params:
            raise NotImplementedError(f"{type(self).__name__} must define warm_")
        return self.n_seen_ >= int(self.get_params()["warmup"])

    def explain_many(self, xs: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:meth:`update_many`, plus the expected value and the residual scale per point.

        Detectors without a forecast return ``nan`` for both; forecasting detectors register
        a ``_forecast`` kernel so a flag can say "93.1 is 7.2 sd above the expected 41.0".
        """
        arr = self._values(xs)
        n = arr.shape[0]
        out, expected, scale = np.empty(n), np.empty(n), np.empty(n)
        run_block_explained(self._state, self._kernel_params_, arr, out, expected, scale)
        return out, expected, scale


class WindowDetector(Detector):
    """Base of detectors that score a point against the previous ``window_size`` points.

    Subclasses set the kernel and ``_initial_state``; the parameter, its check and ``warm_``
    (the window is full) are shared. Scores are in standard deviations.
    """

    _abstract = True
    score_scale = "sd"
    window_size: int = param(
        default=64, check=IntParam(low=2, hint="Use at least 2 points per window.")
    )

    @property
    def warm_(self) -> bool:
        return self.n_seen_ >= self.window_size
