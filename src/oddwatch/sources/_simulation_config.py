"""The settings of a simulated stream (:class:`SimulationConfig`), validated at construction.

Examples
--------
>>> SimulationConfig(n_points=100, seed=3).n_points
100
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from oddwatch._validation import FloatParam, IntParam, ParamSpec
from oddwatch.errors import InvalidParameterError

__all__ = ["ANOMALY_KINDS", "DELAY", "SimulationConfig"]

ANOMALY_KINDS: tuple[str, ...] = (
    "spike",
    "dip",
    "level_shift",
    "variance_burst",
    "stuck",
    "pattern_change",
    "missing",
)
_T = TypeVar("_T")

_OWNER = "SimulationConfig"
_PARAMS: dict[str, ParamSpec] = {
    "n_points": IntParam(low=1, hint="Ask for at least one point."),
    "seed": IntParam(low=0, hint="Use any non-negative integer."),
    "step_seconds": IntParam(low=1, hint="Give the spacing in whole seconds."),
    "base_level": FloatParam(hint="Give the mean level of the signal."),
    "trend_per_point": FloatParam(hint="Use 0 for no trend."),
    "drift_scale": FloatParam(low=0, hint="Use 0 for no drift."),
    "level_shift_rate": FloatParam(low=0, high=1, hint="Use 0 for no normal level shifts."),
    "level_shift_scale": FloatParam(low=0, hint="Use 0 for no normal level shifts."),
    "noise_scale": FloatParam(low=0, low_open=True, hint="Anomaly sizes are in noise units."),
    "noise_scale_variation": FloatParam(
        low=0, high=1, high_open=True, hint="Use 0 for constant noise, 0.3 for +-30%."
    ),
    "outlier_prob": FloatParam(low=0, high=1, hint="Use 0 for a stream without anomalies."),
    "anomaly_magnitude": FloatParam(
        low=0, low_open=True, hint="Give the size in noise standard deviations, e.g. 8."
    ),
    "delay": FloatParam(low=0, hint="Use 0 to generate as fast as possible."),
}


def _fail(name: str, what: str, got: object, hint: str) -> InvalidParameterError:
    return InvalidParameterError(f"`{name}` of {_OWNER} must be {what}; got {got!r}. {hint}")


def _is_number(x: object, integer: bool = False) -> bool:
    kinds = numbers.Integral if integer else numbers.Real
    return isinstance(x, kinds) and not isinstance(x, bool) and math.isfinite(x)


def _sequence(
    name: str,
    value: Any,
    ok: Callable[[Any], bool],
    convert: Callable[[Any], _T],
    what: str,
    hint: str,
) -> tuple[_T, ...]:
    """``value`` as a tuple of converted items (not a str), each passing ``ok``, or raise."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise _fail(name, what, value, hint)
    items = tuple(value)
    if not all(ok(x) for x in items):
        raise _fail(name, what, value, hint)
    return tuple(map(convert, items))


@dataclass(frozen=True)
class SimulationConfig:
    """Every setting of the simulated stream, validated at construction.

    Parameters
    ----------
    n_points
        Number of points to generate.
    seed
        Seed of all randomness; the same seed and settings give identical streams.
    start
        ISO 8601 time of the first point; an offset such as ``+02:00`` is converted to UTC.
    step_seconds
        Seconds between consecutive timestamps.
    base_level
        Mean level of the signal at the first point.
    seasonal_periods, seasonal_amplitudes
        One sine per period (in points, >= 2) with the matching amplitude (>= 0). The one
        with the largest amplitude is the dominant season; ``()`` means no seasonality.
    trend_per_point
        Linear trend added per point.
    drift_scale
        Standard deviation per point of a slow random-walk drift of the level.
    level_shift_rate, level_shift_scale
        Probability per point of a normal, permanent, unlabelled level shift (concept drift)
        of ``level_shift_scale`` times a uniform draw in [0.5, 1.5], random sign.
    noise_scale, noise_scale_variation
        Gaussian noise standard deviation, varying slowly by ``+-noise_scale_variation``
        (relative) over a cycle of ten dominant seasons.
    outlier_prob
        Probability per point that an anomaly event starts (the spec's
        ``OUTLIERS_GENERATION_PROBABILITY``). Events never overlap, are followed by at least
        50 normal points and skip the warm-up (:attr:`warmup`).
    anomaly_kinds
        Kinds drawn uniformly per event, from :data:`ANOMALY_KINDS`: ``spike``/``dip`` (one
        point up/down), ``level_shift`` (temporary offset, 20-60 points), ``variance_burst``
        (noise x4-6, 20-50 points), ``stuck`` (value frozen, 15-40 points),
        ``pattern_change`` (dominant season inverted, flattened or doubled in frequency,
        half to one season) and ``missing`` (NaN, 1-5 points). ``()`` means no anomalies.
    anomaly_magnitude
        Size of spikes, dips and level shifts in local noise standard deviations (+-20%).
    delay
        Seconds between points when paced by :func:`iter_points` or the writers.

    Examples
    --------
    >>> SimulationConfig(n_points=100, seasonal_periods=[24]).seasonal_periods
    (24,)
    >>> SimulationConfig(outlier_prob=2)
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: `outlier_prob` of SimulationConfig must be a number
    in [0, 1]; got 2. Use 0 for a stream without anomalies.
    """

    n_points: int = 5000
    seed: int = 0
    start: str = "2026-01-01T00:00:00"
    step_seconds: int = 60
    base_level: float = 50.0
    seasonal_periods: tuple[int, ...] = (144,)
    seasonal_amplitudes: tuple[float, ...] = (10.0,)
    trend_per_point: float = 0.001
    drift_scale: float = 0.02
    level_shift_rate: float = 1 / 2500
    level_shift_scale: float = 8.0
    noise_scale: float = 1.0
    noise_scale_variation: float = 0.2
    outlier_prob: float = 0.005
    anomaly_kinds: tuple[str, ...] = ANOMALY_KINDS
    anomaly_magnitude: float = 8.0
    delay: float = 0.0

    def __post_init__(self) -> None:
        def store(name: str, value: object) -> None:
            object.__setattr__(self, name, value)

        for name, spec in _PARAMS.items():
            store(name, spec.check(_OWNER, name, getattr(self, name)))
        hint = "Use an ISO 8601 datetime in whole seconds such as '2026-01-01T00:00:00'."
        try:
            when = dt.datetime.fromisoformat(self.start)
        except (TypeError, ValueError):
            when = None
        if when is None or when.microsecond:
            raise _fail("start", "an ISO 8601 datetime string", self.start, hint)
        hint = "Use e.g. (144,), or () for no seasonality."
        periods = _sequence(
            "seasonal_periods",
            self.seasonal_periods,
            lambda x: _is_number(x, True) and x >= 2,
            int,
            "a sequence of ints >= 2",
            hint,
        )
        amplitudes = _sequence(
            "seasonal_amplitudes",
            self.seasonal_amplitudes,
            lambda x: _is_number(x) and x >= 0,
            float,
            "a sequence of numbers >= 0",
            hint,
        )
        store("seasonal_periods", periods)
        store("seasonal_amplitudes", amplitudes)
        if len(self.seasonal_periods) != len(self.seasonal_amplitudes):
            raise InvalidParameterError(
                "`seasonal_periods` and `seasonal_amplitudes` of SimulationConfig must have the "
                f"same length; got {len(self.seasonal_periods)} and "
                f"{len(self.seasonal_amplitudes)}. Give one amplitude per period."
            )
        kinds = _sequence(
            "anomaly_kinds",
            self.anomaly_kinds,
            lambda x: x in ANOMALY_KINDS,
            str,
            f"a sequence of distinct names from {', '.join(ANOMALY_KINDS)}",
            "Use e.g. ('spike', 'dip'), or () for no anomalies.",
        )
        if len(set(kinds)) != len(kinds):
            raise _fail(
                "anomaly_kinds",
                "a sequence of distinct names",
                self.anomaly_kinds,
                "Name each kind once.",
            )
        if "pattern_change" in kinds and max(self.seasonal_amplitudes, default=0.0) == 0:
            raise InvalidParameterError(
                "`anomaly_kinds` of SimulationConfig includes 'pattern_change', which needs a "
                "seasonal component with amplitude > 0; got seasonal_amplitudes="
                f"{self.seasonal_amplitudes}. Add a season or drop 'pattern_change'."
            )
        store("anomaly_kinds", kinds)

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> SimulationConfig:
        """Build a config from a mapping such as a parsed TOML file, rejecting unknown keys.

        Missing keys keep their defaults; a TOML datetime is accepted for ``start``.

        Examples
        --------
        >>> SimulationConfig.from_mapping({"n_points": 10, "seasonal_periods": [5]}).n_points
        10
        >>> SimulationConfig.from_mapping({"points": 10})
        Traceback (most recent call last):
        ...
        oddwatch.errors.InvalidParameterError: unknown simulation setting 'points'; allowed
        keys: anomaly_kinds, anomaly_magnitude, base_level, ...
        """
        allowed = sorted(f.name for f in dataclasses.fields(cls))
        unknown = sorted(set(settings) - set(allowed))
        if unknown:
            raise InvalidParameterError(
                f"unknown simulation setting {', '.join(map(repr, unknown))}; allowed keys: "
                f"{', '.join(allowed)}. Check the spelling."
            )
        values = dict(settings)
        if isinstance(values.get("start"), dt.datetime):
            values["start"] = values["start"].isoformat()
        return cls(**values)

    @property
    def warmup(self) -> int:
        """Points kept free of anomalies and normal level shifts: 1.5 longest seasons, >= 100.

        Examples
        --------
        >>> SimulationConfig().warmup
        216
        """
        return max(math.ceil(1.5 * max(self.seasonal_periods, default=0)), 100)

    @property
    def dominant_season(self) -> tuple[int, float]:
        """``(period, amplitude)`` of the largest-amplitude season, ``(0, 0.0)`` if none.

        Examples
        --------
        >>> SimulationConfig(seasonal_periods=(24, 168), seasonal_amplitudes=(5, 2)).dominant_season
        (24, 5.0)
        """
        if not self.seasonal_periods:
            return 0, 0.0
        best = int(np.argmax(self.seasonal_amplitudes))
        return self.seasonal_periods[best], self.seasonal_amplitudes[best]


DELAY = _PARAMS["delay"]
