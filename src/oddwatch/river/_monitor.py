"""``RiverMonitor``: a River model's scores through oddwatch's thresholds and alarm stage.

oddwatch's :class:`~oddwatch.Monitor` runs detector, threshold and alarm stage in one compiled
step, which a River model (Python objects) cannot join. A RiverMonitor scores each chunk with
its :class:`~oddwatch.river.RiverDetector` in Python first, then hands the scores to the
Monitor machinery through a pass-through detector, so thresholds, alarm policies, reasons and
results are exactly the Monitor's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._typing import State
from oddwatch._validation import OptionParam
from oddwatch.config import NUMBA_OPTIONS
from oddwatch.detectors import Detector
from oddwatch.errors import CheckpointError, InvalidInputError, InvalidParameterError
from oddwatch.monitor import ON_INVALID, Monitor, MonitorResult, Verdict, _coerce
from oddwatch.monitor import default_threshold as _default_threshold
from oddwatch.river._detector import _REFUSAL, RiverDetector

__all__ = ["RiverMonitor"]


class _ScoresState(NamedTuple):
    counters: np.ndarray  # [scores passed]


@numba.jit(**NUMBA_OPTIONS)
def _pass_score(state: _ScoresState, params: Any, x: float) -> float:
    state.counters[0] += 1
    return x


class _Scores(Detector):
    """Returns its input: the scores a RiverDetector computed, into the compiled loop."""

    score_scale = "rank"
    State = _ScoresState
    _step = staticmethod(_pass_score)

    @property
    def warm_(self) -> bool:
        return True

    def _initial_state(self) -> _ScoresState:
        return _ScoresState(np.zeros(1, dtype=np.int64))


class RiverMonitor(Monitor):
    """A Monitor whose detector is a River model: thresholds, alarm stage, reasons, results.

    Each point is scored by ``detector`` (score, then learn) and the score goes through the
    threshold and the alarm stage exactly as in :class:`~oddwatch.Monitor`; warm-up points
    (``nan`` scores) are neither learned by the threshold nor flagged. Values that are not
    finite numbers follow ``on_invalid`` (``"raise"``, ``"skip"``, ``"flag"``; counted in
    ``n_skipped_`` / ``n_invalid_flagged_``) and are never learned. One RiverMonitor watches
    one series. ``save`` refuses (River state is pickle-only); see
    :func:`oddwatch.river.save_pickle`.

    Parameters
    ----------
    detector
        A :class:`~oddwatch.river.RiverDetector`; ``None`` for ``RiverDetector()``.
    threshold
        Default: the stream's 0.999 quantile (River scores have no fixed scale).
    on_invalid, alarm
        As in :class:`~oddwatch.Monitor`.

    Examples
    --------
    >>> import numpy as np
    >>> from river import anomaly, preprocessing
    >>> from oddwatch.thresholds import FixedThreshold
    >>> model = preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=1, window_size=50)
    >>> mon = RiverMonitor(RiverDetector(model, warmup=50), FixedThreshold(0.99))
    >>> result = mon.update_many(np.random.default_rng(0).normal(0, 1, 400))
    >>> bool(np.isnan(result.score[:50]).all()), float(result.threshold[60])
    (True, 0.99)
    >>> bool((result.is_anomaly == (result.score > 0.99)).all()), result.reason(51)
    (True, 'score 0.991 is above the threshold 0.99')
    """

    _waivers = {
        **Monitor._waivers,
        **{
            name: "River state is pickle-only, so get_state refuses (see RiverDetector)"
            for name in ("bounded_state", "checkpoint_continues", "empty_input", "score_is_pure")
        },
    }

    def __init__(
        self,
        detector: RiverDetector | None = None,
        threshold: Any = None,
        on_invalid: str = "raise",
        alarm: Any = "default",
    ) -> None:
        river = RiverDetector() if detector is None else detector
        if not isinstance(river, RiverDetector):
            raise InvalidParameterError(
                "`detector` of RiverMonitor must be a RiverDetector; got "
                f"{detector!r:.80}. An oddwatch detector goes in a Monitor."
            )
        OptionParam(ON_INVALID).check("RiverMonitor", "on_invalid", on_invalid)
        level = _default_threshold(river) if threshold is None else threshold
        super().__init__(_Scores(), level, "skip", alarm)
        self.detector, self.threshold, self.on_invalid = detector, threshold, on_invalid
        self.river_ = river
        self._invalid = np.zeros(2, dtype=np.int64)  # skipped, flagged

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"detector": RiverDetector(**RiverDetector._test_params())}

    @property
    def n_skipped_(self) -> int:
        return int(self._invalid[0])

    @property
    def n_invalid_flagged_(self) -> int:
        return int(self._invalid[1])

    def update(self, x: Any) -> Verdict:
        """Score ``x`` with the River model, threshold it, flag it or not; then learn it."""
        return self.update_many([x]).verdict(0)

    def update_many(self, xs: Any, *, assume_valid: bool = False) -> MonitorResult:
        """:meth:`update` over ``xs`` in order, as arrays (``assume_valid`` is ignored)."""
        values, invalid = _coerce(xs)
        n_invalid = int(np.count_nonzero(invalid))
        if n_invalid and self.on_invalid == "raise":
            i = int(np.argmax(invalid))
            raw = xs[i] if hasattr(xs, "__getitem__") else float(values[i])
            raise InvalidInputError(
                f"RiverMonitor got {raw!r} at index {i}; values must be finite numbers. "
                "Use RiverMonitor(on_invalid='skip' or 'flag') to tolerate them."
            )
        scores = np.full(values.shape[0], math.nan)
        scores[~invalid] = self.river_.update_many(values[~invalid])
        policy, self.on_invalid = self.on_invalid, "skip"  # nan scores: not learned, not flagged
        try:
            inner = super().update_many(scores)
        finally:
            self.on_invalid = policy
        flags = inner.is_anomaly
        if n_invalid:
            if self.on_invalid == "flag":
                flags = flags | invalid
            self._invalid[0 if self.on_invalid == "skip" else 1] += n_invalid
        return MonitorResult(
            values, inner.score, inner.threshold, flags, invalid, inner.expected, inner.scale
        )

    def get_state(self) -> State:
        raise CheckpointError(_REFUSAL.replace("RiverDetector", "RiverMonitor", 1))

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        raise CheckpointError(_REFUSAL.replace("RiverDetector", "RiverMonitor", 1))
