"""``RiverMonitor``: a :class:`~oddwatch.Monitor` whose detector defaults to a River model.

Kept for code written before ``Monitor`` took Python detectors: ``RiverMonitor(det)`` is
``Monitor(det)`` with a :class:`~oddwatch.river.RiverDetector` required (``None`` builds the
default one).
"""

from __future__ import annotations

from typing import Any

from oddwatch.errors import InvalidParameterError
from oddwatch.monitor import Monitor
from oddwatch.river._detector import RiverDetector

__all__ = ["RiverMonitor"]


class RiverMonitor(Monitor):
    """``Monitor(detector, threshold, on_invalid, alarm)`` over a River model.

    Each point is scored by ``detector`` (score, then learn) and the score goes through the
    threshold and the alarm stage of :class:`~oddwatch.Monitor`; warm-up points (``nan``
    scores) are neither learned by the threshold nor flagged; invalid values follow
    ``on_invalid`` and are never learned. ``save`` refuses unless ``allow_pickle=True``
    (River state is pickle-only).

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
        if detector is not None and not isinstance(detector, RiverDetector):
            raise InvalidParameterError(
                "`detector` of RiverMonitor must be a RiverDetector; got "
                f"{detector!r:.80}. An oddwatch detector goes in a Monitor."
            )
        super().__init__(
            RiverDetector() if detector is None else detector, threshold, on_invalid, alarm
        )
        self.detector = detector

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"detector": RiverDetector(**RiverDetector._test_params())}
