"""``Monitor``: validation + detector + threshold, with a verdict and a reason per point."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from oddwatch._base import Component
from oddwatch._typing import BoolArray, FloatArray, State
from oddwatch._validation import OptionParam, check_params
from oddwatch.detectors import Detector, DualSurpriseDetector
from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.persist import register
from oddwatch.thresholds import Threshold

__all__ = ["Monitor", "MonitorResult", "Verdict"]

ON_INVALID = ("raise", "skip", "flag")


@dataclass(frozen=True)
class Verdict:
    """What the Monitor says about one point."""

    value: float
    score: float
    threshold: float
    is_anomaly: bool
    reason: str


@dataclass(frozen=True)
class MonitorResult:
    """What the Monitor says about a chunk of points: one array entry per input point.

    ``is_invalid`` marks points that were not numbers (``nan`` score, never learned);
    ``expected`` and ``scale`` are the forecast and residual scale when the detector has them.
    """

    value: FloatArray
    score: FloatArray
    threshold: FloatArray
    is_anomaly: BoolArray
    is_invalid: BoolArray
    expected: FloatArray
    scale: FloatArray

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def n_anomalies(self) -> int:
        return int(self.is_anomaly.sum())

    def reason(self, i: int) -> str:
        """A short human reason for point ``i`` ("" when it is not flagged)."""
        if not self.is_anomaly[i]:
            return ""
        value = self.value[i]
        if self.is_invalid[i]:
            return "missing value" if math.isnan(value) else "value is not a finite number"
        expected, scale = self.expected[i], self.scale[i]
        if math.isfinite(expected) and math.isfinite(scale) and scale > 0:
            z = (value - expected) / scale
            if abs(z) >= 2.0:
                side = "above" if z >= 0 else "below"
                return f"{value:.4g} is {abs(z):.1f} sd {side} the expected {expected:.4g}"
        if i > 0 and value == self.value[i - 1]:
            return f"{value:.4g} has stopped changing (stuck value)"
        return f"score {self.score[i]:.4g} is above the threshold {self.threshold[i]:.4g}"

    def verdict(self, i: int) -> Verdict:
        return Verdict(
            float(self.value[i]),
            float(self.score[i]),
            float(self.threshold[i]),
            bool(self.is_anomaly[i]),
            self.reason(i),
        )


def _coerce(xs: Any) -> tuple[FloatArray, BoolArray]:
    """Values as float64 (``nan`` where unusable) and the mask of unusable entries."""
    if isinstance(xs, (str, bytes)):
        raise InvalidInputError(
            f"Monitor.update_many expects a 1-D sequence of numbers; got {type(xs).__name__}."
        )
    try:
        values = np.asarray(xs, dtype=np.float64)
    except (TypeError, ValueError):
        items = np.asarray(xs, dtype=object)
        if items.ndim != 1:
            raise InvalidInputError(
                f"Monitor.update_many expects a 1-D sequence; got shape {items.shape}."
            ) from None
        values = np.array([_to_float(v) for v in items], dtype=np.float64)
    if values.ndim != 1:
        raise InvalidInputError(
            f"Monitor.update_many expects a 1-D sequence of numbers; got an array of shape "
            f"{values.shape}. Use one Monitor per series (or KeyedMonitor)."
        )
    return values, ~np.isfinite(values)


def _to_float(v: Any) -> float:
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, (str, bytes)):
        try:
            return float(v)
        except ValueError:
            return math.nan
    return math.nan


@register
class Monitor(Component):
    """Validation, a detector and a threshold joined with good defaults.

    ``update(x)`` returns a :class:`Verdict` (score, threshold, is_anomaly and a short
    reason); ``update_many(xs)`` returns a :class:`MonitorResult` of arrays, equal point for
    point to calling ``update`` in a loop. Points that are not finite numbers follow
    ``on_invalid``: ``"raise"`` an :class:`~oddwatch.errors.InvalidInputError`, ``"skip"`` them
    (``nan`` score, not flagged) or ``"flag"`` them as anomalies; they are never learned and
    are counted in ``n_skipped_`` / ``n_invalid_flagged_``.

    Parameters
    ----------
    detector
        Scores each point; default :class:`~oddwatch.detectors.DualSurpriseDetector`.
    threshold
        Turns scores into flags; default ``detector.default_threshold()``: for the default
        detector ``FixedThreshold(0.8)``, a false-alarm probability of 1e-4 per point under its
        noise model.
    on_invalid
        ``"raise"``, ``"skip"`` or ``"flag"``.

    Examples
    --------
    >>> import numpy as np
    >>> xs = np.random.default_rng(1).normal(10, 1, 300)
    >>> xs[250] = 25.0
    >>> mon = Monitor()
    >>> result = mon.update_many(xs)
    >>> np.flatnonzero(result.is_anomaly)
    array([250])
    >>> result.reason(250)
    '25 is 16.1 sd above the expected 9.771'
    >>> mon.update(10.3).is_anomaly
    False
    """

    _param_specs = {"on_invalid": OptionParam(ON_INVALID)}

    def __init__(
        self,
        detector: Detector | None = None,
        threshold: Threshold | None = None,
        on_invalid: str = "raise",
    ) -> None:
        self.detector = detector
        self.threshold = threshold
        self.on_invalid = on_invalid
        check_params("Monitor", self._param_specs, {"on_invalid": on_invalid})
        if detector is not None and not isinstance(detector, Detector):
            raise InvalidParameterError(
                f"`detector` of Monitor must be an oddwatch Detector; got {detector!r}."
            )
        if threshold is not None and not isinstance(threshold, Threshold):
            raise InvalidParameterError(
                f"`threshold` of Monitor must be an oddwatch Threshold; got {threshold!r}."
            )
        self.detector_: Detector = DualSurpriseDetector() if detector is None else detector
        self.threshold_: Threshold = (
            self.detector_.default_threshold() if threshold is None else threshold
        )
        self._counters = np.zeros(3, dtype=np.int64)  # points, skipped, flagged invalid

    @property
    def n_seen_(self) -> int:
        """Points received, valid or not."""
        return int(self._counters[0])

    @property
    def n_skipped_(self) -> int:
        return int(self._counters[1])

    @property
    def n_invalid_flagged_(self) -> int:
        return int(self._counters[2])

    def update(self, x: Any) -> Verdict:
        """Score ``x`` from the past, flag it or not, then learn it."""
        return self.update_many([x]).verdict(0)

    def update_many(self, xs: Any) -> MonitorResult:
        """:meth:`update` over ``xs`` in order, as arrays."""
        values, invalid = _coerce(xs)
        n = values.shape[0]
        if invalid.any() and self.on_invalid == "raise":
            i = int(np.argmax(invalid))
            raw = xs[i] if hasattr(xs, "__getitem__") else values[i]
            raise InvalidInputError(
                f"Monitor got {raw!r} at index {i}; values must be finite numbers. "
                "Use Monitor(on_invalid='skip' or 'flag') to tolerate them."
            )
        valid = ~invalid
        score = np.full(n, np.nan)
        expected = np.full(n, np.nan)
        scale = np.full(n, np.nan)
        threshold = np.full(n, np.nan)
        s, e, sc = self.detector_.explain_many(values[valid])
        score[valid], expected[valid], scale[valid] = s, e, sc
        threshold[valid] = self.threshold_.update_many(s)
        with np.errstate(invalid="ignore"):
            is_anomaly = score > threshold
        n_invalid = int(invalid.sum())
        if self.on_invalid == "flag":
            is_anomaly |= invalid
            self._counters[2] += n_invalid
        else:
            self._counters[1] += n_invalid
        self._counters[0] += n
        return MonitorResult(values, score, threshold, is_anomaly, invalid, expected, scale)

    def get_state(self) -> State:
        state = {f"detector.{k}": v for k, v in self.detector_.get_state().items()}
        state.update({f"threshold.{k}": v for k, v in self.threshold_.get_state().items()})
        state["monitor.counters"] = self._counters.copy()
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        from oddwatch._base import check_state

        check_state("Monitor", self.get_state(), state)
        self.detector_.set_state(
            {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith("detector.")}
        )
        self.threshold_.set_state(
            {k.split(".", 1)[1]: v for k, v in state.items() if k.startswith("threshold.")}
        )
        self._counters[...] = state["monitor.counters"]

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"detector": DualSurpriseDetector(**DualSurpriseDetector._test_params())}
