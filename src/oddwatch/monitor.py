"""``Monitor``: validation + detector + threshold, with a verdict and a reason per point."""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from operator import itemgetter
from typing import Any, NoReturn

import numpy as np

from oddwatch._base import Component, check_state, entry_point
from oddwatch._dispatch import monitor_block, monitor_point
from oddwatch._python_detector import _ScoreRelay, is_python_detector, save_python
from oddwatch._typing import BoolArray, FloatArray, State
from oddwatch._validation import OptionParam
from oddwatch.alarms import AlarmPolicy, EveryPoint, QuietPeriod
from oddwatch.detectors import Detector, DualSurpriseDetector
from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.thresholds import (
    SPOT,
    CalibratedThreshold,
    FixedThreshold,
    QuantileThreshold,
    Threshold,
)

__all__ = [
    "Monitor",
    "MonitorResult",
    "Verdict",
    "default_alarm",
    "default_threshold",
    "sensitivity_threshold",
]

ON_INVALID = ("raise", "skip", "flag")
_BLOCK = 1 << 16  # points scored at a time when some are invalid (bounds the temporaries)


def explain(
    value: float,
    score: float,
    threshold: float,
    invalid: bool,
    expected: float,
    scale: float,
    previous: float,
) -> str:
    """A short human reason for a flagged point (see :meth:`MonitorResult.reason`)."""
    if invalid:
        return "missing value" if math.isnan(value) else "value is not a finite number"
    if math.isfinite(expected) and math.isfinite(scale) and scale > 0:
        z = (value - expected) / scale
        if abs(z) >= 2.0:
            side = "above" if z >= 0 else "below"
            return f"{value:.4g} is {abs(z):.1f} sd {side} the expected {expected:.4g}"
    if value == previous:
        return f"{value:.4g} has stopped changing (stuck value)"
    return f"score {score:.4g} is above the threshold {threshold:.4g}"


def warming_up_reason(warmup: int | None = None) -> str:
    """The reason of a valid point left unscored while the detector warms up.

    ``warmup``: points the detector learns before its first score (None when it has no such
    count). The same text for a series alone and inside a KeyedMonitor.

    >>> warming_up_reason(64)
    'warming up: no score until the detector has learned 64 points'
    >>> warming_up_reason()
    'warming up: not scored yet'
    """
    if warmup is None:
        return "warming up: not scored yet"
    return f"warming up: no score until the detector has learned {warmup:,} points"


def detector_warmup(detector: Any) -> int | None:
    """Points ``detector`` learns before its first score, when it says (a ``warmup`` param).

    A detector that runs in Python need not have parameters: then None.
    """
    get_params = getattr(detector, "get_params", None)
    warmup = get_params().get("warmup") if callable(get_params) else None
    return warmup if isinstance(warmup, int) else None


class Verdict(tuple):  # type: ignore[type-arg]
    """What the Monitor says about one point; ``reason`` is worded only when read.

    ``value``, ``score``, ``threshold`` and ``is_anomaly`` are read-only attributes. It is a
    tuple underneath (built straight from the compiled step's output, which keeps
    ``Monitor.update`` cheap); compare and print it by those fields and ``reason``.

    Examples
    --------
    >>> v = Verdict(25.0, 0.97, 0.8, True, expected=10.0, scale=1.0)
    >>> v.is_anomaly, v.reason
    (True, '25 is 15.0 sd above the expected 10')
    """

    __slots__ = ()
    # tuple layout: value, score, threshold, is_anomaly, expected, scale, invalid, previous,
    # and optionally the detector's warm-up (points learned before its first score)

    def __new__(
        cls,
        value: float,
        score: float,
        threshold: float,
        is_anomaly: bool,
        *,
        invalid: bool = False,
        expected: float = math.nan,
        scale: float = math.nan,
        previous: float = math.nan,
        warmup: int | None = None,
    ) -> Verdict:
        fields = (value, score, threshold, is_anomaly, expected, scale, invalid, previous)
        if warmup is not None:  # the detector's warm-up, for the reason of an unscored point
            return tuple.__new__(cls, (*fields, warmup))
        return tuple.__new__(cls, fields)

    value = property(itemgetter(0), doc="The point's value.")
    score = property(itemgetter(1), doc="Its score (as reported by the alarm stage).")
    threshold = property(itemgetter(2), doc="The threshold in force for it.")
    is_anomaly = property(itemgetter(3), doc="Whether it raised an alarm.")

    @property
    def warming_up(self) -> bool:
        """Whether the point is valid but unscored because the detector is still warming up."""
        return math.isnan(self[1]) and not self[6]

    @property
    def reason(self) -> str:
        """A short human reason: why it is flagged, or that it is not scored yet (warm-up).

        "" for a scored point that is not flagged.
        """
        if not self[3]:
            if not self.warming_up:
                return ""
            return warming_up_reason(self[8] if len(self) > 8 else None)
        value, score, threshold, _, expected, scale, invalid, previous = self[:8]
        return explain(value, score, threshold, invalid, expected, scale, previous)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Verdict):
            return NotImplemented
        return self._fields() == other._fields()

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def _fields(self) -> tuple[float, float, float, bool, str]:
        return (self[0], self[1], self[2], self[3], self.reason)

    def __repr__(self) -> str:
        value, score, threshold, is_anomaly, reason = self._fields()
        return (
            f"Verdict(value={value!r}, score={score!r}, threshold={threshold!r}, "
            f"is_anomaly={is_anomaly!r}, reason={reason!r})"
        )


@dataclass(frozen=True)
class MonitorResult:
    """What the Monitor says about a chunk of points: one array entry per input point.

    ``is_invalid`` marks points that were not numbers (``nan`` score, never learned);
    ``expected`` and ``scale`` are the forecast and residual scale when the detector has them.
    ``index`` is the index of the pandas Series or DataFrame given to ``update_many`` (None
    for other inputs), so results can be lined up with it. ``previous_value`` is the series'
    latest valid value before the chunk (``nan`` if none): with the chunk's own values it
    tells a stuck value, so a reason does not depend on where the chunks were cut.
    ``warmup`` (points the detector learns before its first score) words the reason of points
    left unscored by the warm-up.
    """

    value: FloatArray
    score: FloatArray
    threshold: FloatArray
    is_anomaly: BoolArray
    is_invalid: BoolArray
    expected: FloatArray
    scale: FloatArray
    index: Any = field(default=None, kw_only=True)
    previous_value: float = field(default=math.nan, kw_only=True)
    warmup: int | None = field(default=None, kw_only=True)

    def __len__(self) -> int:
        return int(self.score.shape[0])

    @property
    def n_anomalies(self) -> int:
        return int(self.is_anomaly.sum())

    @property
    def warming_up(self) -> BoolArray:
        """Valid points left unscored (``nan`` score, never flagged) while the detector warms up.

        >>> result = Monitor().update_many([1.0, 2.0, 1.5])
        >>> result.warming_up.tolist(), result.is_anomaly.tolist()
        ([True, True, True], [False, False, False])
        """
        warming: BoolArray = np.isnan(self.score) & ~self.is_invalid
        return warming

    def reason(self, i: int) -> str:
        """A short human reason for point ``i``: why it is flagged, or that the detector is
        still warming up ("" for a scored point that is not flagged).

        >>> result = Monitor().update_many([1.0, 2.0, 1.5])
        >>> result.reason(2)
        'warming up: no score until the detector has learned 64 points'
        """
        return self.verdict(i).reason

    def verdict(self, i: int) -> Verdict:
        """Point ``i`` as a :class:`Verdict`."""
        return Verdict(
            float(self.value[i]),
            float(self.score[i]),
            float(self.threshold[i]),
            bool(self.is_anomaly[i]),
            invalid=bool(self.is_invalid[i]),
            expected=float(self.expected[i]),
            scale=float(self.scale[i]),
            previous=math.nan if self.is_invalid[i] else self._previous(i),
            warmup=self.warmup,
        )

    def _previous(self, i: int) -> float:
        """The series' latest valid value before point ``i`` (``nan`` if none)."""
        j = i - 1
        while j >= 0 and self.is_invalid[j]:
            j -= 1
        return float(self.value[j]) if j >= 0 else self.previous_value


def _coerce(xs: Any, owner: str = "Monitor.update_many") -> tuple[FloatArray, BoolArray]:
    """Values as float64 (``nan`` or ``inf`` where unusable) and the mask of unusable entries.

    One rule for every input shape: a real number (int, float, numeric text) is a value; a
    bool, ``None`` or other text is not (invalid, as ``nan``); an int too large for a float
    is not finite (invalid, as ``inf``); complex numbers are refused, since dropping their
    imaginary part would silently alter the stream.
    """
    if isinstance(xs, (str, bytes)):
        raise InvalidInputError(
            f"{owner} expects a 1-D sequence of numbers; got {type(xs).__name__}."
        )
    arr = xs if isinstance(xs, np.ndarray) else _as_array(xs)
    if arr.ndim != 1:
        raise InvalidInputError(
            f"{owner} expects a 1-D sequence of numbers; got an array of shape "
            f"{arr.shape}. Use one Monitor per series (or KeyedMonitor)."
        )
    kind = arr.dtype.kind
    if kind == "c":
        _refuse_complex(owner, arr.dtype)
    if kind in "fiu" and not (isinstance(xs, (list, tuple)) and _has_bool(xs)):
        values = np.asarray(arr, dtype=np.float64)
    elif kind == "b":
        values = np.full(arr.shape[0], np.nan)
    else:
        items = arr.tolist() if arr is xs else list(xs)
        values = np.array([_to_float(v, owner) for v in items], dtype=np.float64)
    invalid = np.isfinite(values)
    return values, np.logical_not(invalid, out=invalid)


def _as_array(xs: Any) -> np.ndarray:
    """A sequence as an array, an object array when numpy cannot find one dtype for it."""
    try:
        return np.asarray(xs)
    except (TypeError, ValueError, OverflowError):
        return np.asarray(xs, dtype=object)


def _has_bool(xs: Any) -> bool:
    """Whether a (non-array) sequence holds a bool, which numpy would turn into 0 or 1."""
    return any(isinstance(v, (bool, np.bool_)) for v in xs)


def _refuse_complex(owner: str, dtype: Any) -> NoReturn:
    raise InvalidInputError(
        f"{owner} expects real numbers; got complex values ({dtype}). Pass the real part "
        "(xs.real) or the magnitude (abs(xs)) explicitly."
    )


def _to_float(v: Any, owner: str) -> float:
    if isinstance(v, (bool, np.bool_)):
        return math.nan
    if isinstance(v, numbers.Real):
        try:
            return float(v)
        except OverflowError:
            return -math.inf if str(v).startswith("-") else math.inf
    if isinstance(v, numbers.Complex):
        _refuse_complex(owner, type(v).__name__)
    if isinstance(v, (str, bytes)):
        try:
            return float(v)
        except ValueError:
            return math.nan
    return math.nan


_MIN_SENSITIVITY, _MAX_SENSITIVITY = 1e-12, 0.01
_DEFAULT_LEVELS: dict[str, float] = {"surprise": 0.8, "sustained_surprise": 0.7, "sd": 4.0}


def default_threshold(detector: Detector) -> Threshold:
    """The threshold a Monitor uses with ``detector`` when given none, from its score scale.

    ``FixedThreshold(0.8)`` for surprises ``S / (1 + S)``, ``S = -log10 p`` (a 1-in-10,000
    point); 0.7 for the sustained surprise of
    :class:`~oddwatch.detectors.CalibratedSurpriseDetector`, which saturates near each
    stream's alarm budget (where NAB's optimiser puts it, 0.696); 4 sd for z-scores; the
    stream's own 0.999 quantile (:class:`~oddwatch.thresholds.QuantileThreshold`) for
    isolation and mass ranks, which have no fixed meaning.

    >>> from oddwatch.detectors import HalfSpaceTrees, SeasonalDetector
    >>> default_threshold(SeasonalDetector()), default_threshold(HalfSpaceTrees())
    (FixedThreshold(value=0.8), QuantileThreshold(q=0.999, window_size=10000))
    """
    level = _DEFAULT_LEVELS.get(detector.score_scale)
    return QuantileThreshold() if level is None else FixedThreshold(level)


def sensitivity_threshold(detector: Detector, sensitivity: float) -> Threshold:
    """The threshold that flags a share ``sensitivity`` of the points of normal data.

    :class:`~oddwatch.thresholds.CalibratedThreshold` for surprises (the nominal level
    ``-log10(sensitivity)``, raised by the stream's own tail where it is heavier), else
    :class:`~oddwatch.thresholds.SPOT` with that risk on the detector's scores.

    >>> from oddwatch.detectors import DualSurpriseDetector, RollingZScore
    >>> sensitivity_threshold(DualSurpriseDetector(), 1e-3)
    CalibratedThreshold(false_alarm_rate=0.001, init_size=1000, max_peaks=1000)
    >>> sensitivity_threshold(RollingZScore(), 1e-3)
    SPOT(risk=0.001, init_size=1000, level=0.98, max_peaks=1000)
    """
    if detector.score_scale == "surprise":
        return CalibratedThreshold(false_alarm_rate=sensitivity)
    return SPOT(risk=sensitivity)


def threshold_in_force(
    detector: Detector, threshold: Threshold | None, sensitivity: Any, owner: str
) -> Threshold:
    """The threshold a Monitor (or KeyedMonitor) uses: given, from ``sensitivity``, or default."""
    if sensitivity is None:
        return default_threshold(detector) if threshold is None else threshold
    if threshold is not None:
        raise InvalidParameterError(
            f"{owner} takes a `threshold` or a `sensitivity`, not both; got threshold="
            f"{threshold!r} and sensitivity={sensitivity!r}. The sensitivity builds the "
            "threshold: drop one of them."
        )
    bad_type = isinstance(sensitivity, bool) or not isinstance(sensitivity, numbers.Real)
    if bad_type or not _MIN_SENSITIVITY <= float(sensitivity) <= _MAX_SENSITIVITY:
        raise InvalidParameterError(
            f"`sensitivity` of {owner} must be a false-alarm rate between {_MIN_SENSITIVITY:g} "
            f"and {_MAX_SENSITIVITY:g} (the share of normal points flagged); got "
            f"{sensitivity!r}. Use e.g. 1e-4 for one false alarm per 10,000 points."
        )
    return sensitivity_threshold(detector, float(sensitivity))


def default_alarm(detector: Detector) -> AlarmPolicy:
    """The alarm policy a Monitor uses when given none (``alarm="default"``).

    :class:`~oddwatch.alarms.QuietPeriod` ``(quiet_period=50)`` for point surprises
    (``score_scale == "surprise"``), whose consecutive points of one event score alike;
    :class:`~oddwatch.alarms.EveryPoint` for the others (z-scores and ranks report every
    point above the threshold, as they always did; the sustained surprise fires once per
    peak by itself). Pass ``alarm=QuietPeriod(...)`` to any Monitor to change it.

    >>> from oddwatch.detectors import RollingZScore, SeasonalDetector
    >>> default_alarm(SeasonalDetector())
    QuietPeriod(quiet_period=50, break_factor=1.5, stretch_power=3.0, break_power=2.0)
    >>> default_alarm(RollingZScore())
    EveryPoint()
    """
    if detector.score_scale == "surprise":
        return QuietPeriod()
    return EveryPoint()


class Monitor(Component):
    """Validation, a detector, a threshold and an alarm stage joined with good defaults.

    ``update(x)`` returns a :class:`Verdict` (score, threshold, is_anomaly and a short
    reason); ``update_many(xs)`` returns a :class:`MonitorResult` of arrays, equal point for
    point to calling ``update`` in a loop. Points that are not finite numbers follow
    ``on_invalid``: ``"raise"`` an :class:`~oddwatch.errors.InvalidInputError`, ``"skip"`` them
    (``nan`` score, not flagged) or ``"flag"`` them as anomalies; they are never learned and
    are counted in ``n_skipped_`` / ``n_invalid_flagged_``.

    Each valid point goes detector -> threshold -> alarm policy in one compiled step: the
    detector scores it from the past, the threshold says whether the score is anomalous, and
    the policy whether that anomaly is reported (see :mod:`oddwatch.alarms`).

    Parameters
    ----------
    detector
        Scores each point; default :class:`~oddwatch.detectors.DualSurpriseDetector`.
    threshold
        Turns scores into flags; default :func:`default_threshold` of the detector: for the
        default detector ``FixedThreshold(0.8)``, a 1-in-10,000 point surprise under its
        Gaussian noise model. On pure Gaussian noise the default Monitor flags about 1.5e-4
        of the points, on heavier-tailed Student-t(3) noise about 2e-3 (docs/algorithms.md).
        For a rate that holds on every stream, give ``sensitivity`` instead.
    on_invalid
        ``"raise"``, ``"skip"`` or ``"flag"``.
    alarm
        The alarm policy; ``"default"`` is :func:`default_alarm`, ``None`` reports every point
        above the threshold (:class:`~oddwatch.alarms.EveryPoint`).
    sensitivity
        The false-alarm rate: the share of the points of anomaly-free data that may be
        flagged, the same on every stream (e.g. ``1e-4``: one in 10,000 points; between 1e-12
        and 0.01). It builds the threshold (:func:`sensitivity_threshold`), so it cannot be
        given with ``threshold``. On long Gaussian and Student-t noise the default detector
        then flags within a factor of about 2 of it (tests/test_sensitivity.py); the first
        1,000 scored points use the nominal level only.

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

    _on_invalid = OptionParam(ON_INVALID)
    _waivers = {
        "keyed_equals_standalone": "a Monitor is the standalone side of that check, which "
        "every registered detector and threshold runs"
    }

    def __init__(
        self,
        detector: Detector | None = None,
        threshold: Threshold | None = None,
        on_invalid: str = "raise",
        alarm: AlarmPolicy | str | None = "default",
        sensitivity: float | None = None,
    ) -> None:
        self.detector = detector
        self.threshold = threshold
        self.on_invalid = on_invalid
        self.alarm = alarm
        self.sensitivity = sensitivity
        self._on_invalid.check("Monitor", "on_invalid", on_invalid)
        python = is_python_detector(detector)
        if detector is not None and not (python or isinstance(detector, Detector)):
            raise InvalidParameterError(
                f"`detector` of Monitor must be an oddwatch Detector; got {detector!r}."
            )
        if threshold is not None and not isinstance(threshold, Threshold):
            raise InvalidParameterError(
                f"`threshold` of Monitor must be an oddwatch Threshold; got {threshold!r}."
            )
        self.detector_: Detector = DualSurpriseDetector() if detector is None else detector
        self.threshold_: Threshold = threshold_in_force(
            self.detector_, threshold, sensitivity, "Monitor"
        )
        self.alarm_: AlarmPolicy = resolve_alarm(alarm, self.detector_, "Monitor")
        self._counters = np.zeros(3, dtype=np.int64)  # points, skipped, flagged invalid
        self._previous = np.full(1, math.nan)  # the latest valid value (stuck-value reason)
        self._point: Any = None
        self._relay = _ScoreRelay() if python else None  # scores from a Python detector

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

    def _stages(self) -> tuple[Any, ...]:
        """``(state, kernel parameters)`` of the detector, threshold and alarm policy."""
        detector = self.detector_ if self._relay is None else self._relay
        parts = (detector, self.threshold_, self.alarm_)
        return tuple((part._state, part._kernel_params_) for part in parts)

    def update(self, x: Any) -> Verdict:
        """Score ``x`` from the past, flag it or not, then learn it.

        A finite ``float`` (or int) goes straight to the compiled step; anything else takes
        the checked path of :meth:`update_many`.
        """
        if type(x) is not float or not math.isfinite(x) or self._relay is not None:
            if type(x) is int and self._relay is None:
                x = float(x)
            else:
                return self._update_checked([x], "update").verdict(0)
        point = self._point
        if point is None:
            point = self._point = self._compile_point(x)
        fields = point(x)
        if fields[1] != fields[1]:  # nan: a valid point left unscored by the warm-up
            return self._warming_up_verdict(fields)
        return tuple.__new__(Verdict, fields)

    def _warming_up_verdict(self, fields: tuple[Any, ...]) -> Verdict:
        """The verdict of a point the warm-up left unscored, with the detector's warm-up."""
        return tuple.__new__(Verdict, (*fields, detector_warmup(self.detector_)))

    def _compile_point(self, x: float) -> Any:
        """The compiled one-point step, bound to this Monitor's state (no dispatch per call)."""
        stages = self._stages()
        compiled = entry_point(monitor_point, self._counters, self._previous, stages, x)
        return partial(compiled, self._counters, self._previous, stages)

    def update_many(self, xs: Any, *, assume_valid: bool = False) -> MonitorResult:
        """:meth:`update` over ``xs`` in order, as arrays.

        With ``assume_valid=True`` the caller guarantees ``xs`` is a 1-D float64 numpy array
        of finite values (already checked, e.g. by a source that validated its chunk): the
        conversion and the invalid-value scan are skipped. Passing anything else then gives
        wrong results or a numba error, never a silently altered stream.

        Memory: the result arrays (34 bytes per point, 4.25x a float64 input) plus at most
        one block of 65,536 points of temporaries, whatever the input size.
        """
        if assume_valid:
            values = xs
            invalid = np.zeros(values.shape[0], dtype=np.bool_)
            return self._run(values, invalid, 0)
        series, index = pandas_column(xs, "Monitor.update_many")
        result = self._update_checked(series, "update_many")
        return result if index is None else replace(result, index=index)

    def _update_checked(self, xs: Any, method: str) -> MonitorResult:
        values, invalid = _coerce(xs, f"Monitor.{method}")
        n_invalid = int(np.count_nonzero(invalid))
        if n_invalid and self.on_invalid == "raise":
            i = int(np.argmax(invalid))
            raw = _raw_item(xs, i, values)
            where = "" if method == "update" else f" at index {i:,} of this call"
            raise InvalidInputError(
                f"Monitor.{method} got {raw!r}{where} (point {self.n_seen_ + i:,} of the "
                "stream, counting from 0); values must be finite numbers. Monitor() raises on "
                "them by default: use Monitor(on_invalid='flag') to flag them as anomalies "
                "(what the oddwatch CLI does) or on_invalid='skip' to pass over them."
            )
        return self._run(values, invalid, n_invalid)

    def _run(self, values: FloatArray, invalid: BoolArray, n_invalid: int) -> MonitorResult:
        """Score ``values`` into the result arrays; temporaries stay within one block."""
        n = values.shape[0]
        score, threshold, expected, scale = (np.empty(n) for _ in range(4))
        flag = np.empty(n, dtype=np.bool_)
        stages = self._stages()
        steps = (
            values if self._relay is None else self._relay.scores(self.detector_, values, invalid)
        )
        if not n_invalid:
            monitor_block(stages, steps, score, threshold, flag, expected, scale)
        else:
            for a in range(0, n, _BLOCK):
                b = min(a + _BLOCK, n)
                keep = ~invalid[a:b]
                outs = (score[a:b], threshold[a:b], flag[a:b], expected[a:b], scale[a:b])
                if keep.all():
                    monitor_block(stages, np.ascontiguousarray(steps[a:b]), *outs)
                else:
                    _run_sparse(stages, steps[a:b][keep], keep, outs)
            if self.on_invalid == "flag":
                flag |= invalid
                self._counters[2] += n_invalid
            else:
                self._counters[1] += n_invalid
        self._counters[0] += n
        before = float(self._previous[0])
        last = _last_valid(invalid) if n_invalid else n - 1
        if last >= 0:
            self._previous[0] = values[last]
        return MonitorResult(
            values,
            score,
            threshold,
            flag,
            invalid,
            expected,
            scale,
            previous_value=before,
            warmup=detector_warmup(self.detector_),
        )

    def __repr__(self) -> str:
        """The parts in force (defaults resolved), not the ``None`` placeholders."""
        in_force = {"detector": self.detector_, "threshold": self.threshold_, "alarm": self.alarm_}
        args = []
        for name, value in self.get_params().items():
            placeholder = value is None or (isinstance(value, str) and value == "default")
            shown = in_force[name] if placeholder and name in in_force else value
            args.append(f"{name}={shown!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    def save(self, path: str | os.PathLike[str], *, allow_pickle: bool = False) -> None:
        """Write the Monitor to ``path`` (see :func:`oddwatch.persist.save`).

        A Monitor over a detector that runs in Python (a River model) has no array state:
        saving it is refused unless ``allow_pickle=True``, which writes pickle.
        """
        if self._relay is not None:
            save_python(self, self.detector_, path, allow_pickle)
        else:
            super().save(path)

    def get_state(self) -> State:
        state = {f"detector.{k}": v for k, v in self.detector_.get_state().items()}
        state.update({f"threshold.{k}": v for k, v in self.threshold_.get_state().items()})
        state.update({f"alarm.{k}": v for k, v in self.alarm_.get_state().items()})
        state["monitor.counters"] = self._counters.copy()
        state["monitor.previous"] = self._previous.copy()
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        check_state("Monitor", self.get_state(), state)
        for prefix, part in (
            ("detector.", self.detector_),
            ("threshold.", self.threshold_),
            ("alarm.", self.alarm_),
        ):
            part.set_state({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
        self._counters[...] = state["monitor.counters"]
        self._previous[...] = state["monitor.previous"]

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {"detector": DualSurpriseDetector(**DualSurpriseDetector._test_params())}


def pandas_column(xs: Any, owner: str) -> tuple[Any, Any]:
    """A pandas Series, or the one column of a DataFrame, and its index; else ``(xs, None)``.

    Duck-typed, so pandas is never imported here.
    """
    columns = getattr(xs, "columns", None)
    if columns is not None and hasattr(xs, "iloc"):
        if len(columns) != 1:
            raise InvalidInputError(
                f"{owner} takes one column of values; got a DataFrame with {len(columns)} "
                f"columns {list(columns)[:5]}. Pass frame[column], or use "
                "KeyedMonitor.update_frame for one series per key."
            )
        xs = xs.iloc[:, 0]
    if hasattr(xs, "iloc") and hasattr(xs, "index"):
        return xs, xs.index
    return xs, None


def _raw_item(xs: Any, i: int, values: FloatArray) -> Any:
    """Entry ``i`` as the caller gave it (a plain Python value), for error messages."""
    try:
        raw = xs.iloc[i] if hasattr(xs, "iloc") else xs[i]
    except (TypeError, IndexError, KeyError):
        raw = values[i]
    return raw.item() if isinstance(raw, np.generic) else raw


def resolve_alarm(alarm: Any, detector: Detector, owner: str) -> AlarmPolicy:
    """The alarm policy in force for ``alarm`` ("default", None or a policy)."""
    if isinstance(alarm, str) and alarm == "default":
        policy = default_alarm(detector)
    elif alarm is None:
        policy = EveryPoint()
    elif isinstance(alarm, AlarmPolicy):
        policy = alarm
    else:
        raise InvalidParameterError(
            f'`alarm` of {owner} must be an oddwatch AlarmPolicy, None or "default"; got '
            f"{alarm!r}. Use oddwatch.alarms.QuietPeriod(...) or None."
        )
    policy.bind(detector.score_scale)
    return policy


def _last_valid(invalid: BoolArray) -> int:
    """Index of the last valid point (-1 if none), scanning back one block at a time."""
    for start in range((invalid.shape[0] - 1) // _BLOCK * _BLOCK, -1, -_BLOCK):
        valid = np.flatnonzero(~invalid[start : start + _BLOCK])
        if valid.size:
            return start + int(valid[-1])
    return -1


def _run_sparse(
    stages: tuple[Any, ...], valid: FloatArray, keep: BoolArray, outs: tuple[np.ndarray, ...]
) -> None:
    """Score the ``valid`` points of one block and place them at ``keep`` in ``outs``.

    The other points get ``nan`` and no flag.
    """
    packed = [np.empty(valid.shape[0], dtype=out.dtype) for out in outs]
    monitor_block(stages, valid, *packed)
    for out, part in zip(outs, packed, strict=True):
        out[...] = False if out.dtype == np.bool_ else np.nan
        out[keep] = part


def _spread(packed: FloatArray, where: BoolArray) -> FloatArray:
    """``packed`` placed at the True entries of ``where``; ``nan`` elsewhere."""
    out = np.full(where.shape[0], np.nan)
    out[where] = packed
    return out


def _spread_flags(packed: BoolArray, where: BoolArray) -> BoolArray:
    out = np.zeros(where.shape[0], dtype=np.bool_)
    out[where] = packed
    return out
