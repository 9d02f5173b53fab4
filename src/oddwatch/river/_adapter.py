"""``OddwatchAnomalyDetector``: an oddwatch detector or Monitor behind River's anomaly API."""

from __future__ import annotations

import math
from typing import Any

from oddwatch._base import Component
from oddwatch.detectors import Detector
from oddwatch.errors import InvalidParameterError
from oddwatch.monitor import Monitor
from oddwatch.river._import import base

__all__ = ["OddwatchAnomalyDetector"]


class OddwatchAnomalyDetector(base.AnomalyDetector):
    """A River ``AnomalyDetector`` that scores one feature with an oddwatch detector or Monitor.

    ``score_one(x)`` is the score oddwatch would give ``x[feature]`` now, computed from the
    points learned so far and changing nothing (River's contract: pure); ``learn_one(x)``
    learns it (returns None). Calling ``score_one`` then ``learn_one`` on each point is exactly
    oddwatch's ``update``, so the scores equal ``detector.update_many`` bit for bit. A wrapped
    Monitor scores with its detector and learns through its threshold too (its ``on_invalid``
    policy applies); a wrapped detector raises
    :class:`~oddwatch.errors.InvalidInputError` on a value that is not a finite number.

    The wrapped object is the one that learns, so it can be checkpointed with
    ``detector.save(path)`` (oddwatch's own format, no pickle). ``clone()`` gives a fresh,
    untrained copy, as River expects (River's default would deep-copy the learned state).

    Parameters
    ----------
    detector
        An oddwatch :class:`~oddwatch.detectors.Detector` or :class:`~oddwatch.Monitor`;
        ``None`` for ``Monitor()`` (the library default).
    feature
        The key of ``x`` holding the value. A dict without it is not learned (counted in
        ``n_missing_``) and scores ``default_score``.
    default_score
        What ``score_one`` returns while oddwatch has no score yet (warm-up ``nan``) or the
        feature is missing: River's filters and metrics need a number, and 0.0 is River's own
        convention (its HalfSpaceTrees scores 0 in its first window).

    Examples
    --------
    >>> from oddwatch.detectors import RollingZScore
    >>> model = OddwatchAnomalyDetector(RollingZScore(window_size=3), feature="cpu")
    >>> scores = []
    >>> for v in [1.0, 2.0, 3.0, 2.0, 10.0]:
    ...     scores.append(round(model.score_one({"cpu": v}), 2))
    ...     model.learn_one({"cpu": v})
    >>> scores
    [0.0, 0.0, 0.0, 0.0, 16.26]
    >>> model.score_one({"load": 1.0}), model.n_missing_
    (0.0, 0)
    """

    def __init__(
        self, detector: Any = None, feature: str = "value", default_score: float = 0.0
    ) -> None:
        if detector is not None and not isinstance(detector, (Detector, Monitor)):
            raise InvalidParameterError(
                "`detector` of OddwatchAnomalyDetector must be an oddwatch Detector or "
                f"Monitor; got {detector!r:.80}. For a River model, use it directly."
            )
        if not isinstance(default_score, (int, float)) or isinstance(default_score, bool):
            raise InvalidParameterError(
                "`default_score` of OddwatchAnomalyDetector must be a number; got "
                f"{default_score!r}."
            )
        self.detector = detector
        self.feature = feature
        self.default_score = default_score
        self.detector_: Detector | Monitor = Monitor() if detector is None else detector
        self._given = detector is not None
        self.n_missing_ = 0

    @classmethod
    def _unit_test_params(cls) -> Any:
        from oddwatch.detectors import RollingZScore

        yield {"detector": RollingZScore(window_size=16)}
        yield {"detector": Monitor(RollingZScore(window_size=16)), "default_score": -1.0}

    def clone(
        self, new_params: dict[str, Any] | None = None, include_attributes: bool = False
    ) -> OddwatchAnomalyDetector:
        """A fresh copy with the same parameters; the oddwatch object is cloned untrained."""
        fresh = self.detector.clone() if isinstance(self.detector, Component) else None
        params = {"detector": fresh, **(new_params or {})}
        clone: OddwatchAnomalyDetector = super().clone(params, include_attributes)
        return clone

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the oddwatch object as a fresh clone plus its state arrays (its compiled
        entry points do not pickle); River's checks and ``copy`` rely on pickling."""
        state = dict(self.__dict__)
        state["detector_"] = (self.detector_.clone(), self.detector_.get_state())
        state["detector"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        fresh, arrays = state.pop("detector_")
        fresh.set_state(arrays)
        shared = "_given" not in state or state["_given"]
        self.__dict__.update(state)
        self.detector_ = fresh
        self.detector = fresh if shared else None

    def learn_one(self, x: dict[Any, Any]) -> None:
        """Learn ``x[feature]``; a dict without it is counted in ``n_missing_``."""
        if self.feature not in x:
            self.n_missing_ += 1
            return
        self.detector_.update(x[self.feature])

    def score_one(self, x: dict[Any, Any]) -> float:
        """The score of ``x[feature]`` from the points learned so far; changes nothing."""
        if self.feature not in x:
            return float(self.default_score)
        value = x[self.feature]
        if isinstance(self.detector_, Monitor):
            saved = self.detector_.get_state()
            try:
                score = self.detector_.update(value).score
            finally:
                self.detector_.set_state(saved)
        else:
            score = self.detector_.score(value)
        return float(self.default_score) if math.isnan(score) else float(score)
