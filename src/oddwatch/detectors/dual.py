"""The default detector: one seasonal forecast; point, sustained and shape evidence, calibrated."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numba
import numpy as np

from oddwatch._base import param
from oddwatch._state_checks import BIG, in_range
from oddwatch._validation import FloatParam, IntParam
from oddwatch.config import INLINE_OPTIONS
from oddwatch.detectors._base import Detector
from oddwatch.detectors._histogram_tail import (
    HistogramTail,
    TailParams,
    histogram_tail,
    learn,
    rarity,
    surprise_of,
    tail_params,
)
from oddwatch.detectors._seasonal_kernels import (
    _STUCK_REPORTED_BITS,
    SeasonalState,
    beyond_range,
    floored_scale,
    forecast,
    last_width,
    season_length,
    seen_range,
)
from oddwatch.detectors._shape_kernels import (
    ShapeParams,
    ShapeState,
    longest_window,
    max_slots,
    ring_size,
    shape_distance,
    shape_state,
)
from oddwatch.detectors.calibrated_surprise import (
    CalibratedParams,
    CalibratedState,
    CalibratedSurpriseDetector,
    calibrated_params,
    calibrated_state,
    step_both,
)
from oddwatch.detectors.combined import gaussian_surprise
from oddwatch.detectors.seasonal import SeasonalDetector, check_season_length
from oddwatch.errors import InvalidParameterError

__all__ = ["DualSurpriseDetector"]

# the point surprise -log10(max(p, 1e-300)) stops at 300: near it, it is recomputed from z
_CAPPED_BITS = 299.0
_LN10 = math.log(10.0)
_N_LONGEST = 3  # completed runs of repeats remembered, longest first
_LATEST = _N_LONGEST  # DualState.runs / run_values: the current run
_MIN_RUNS = 100  # completed runs of repeats learned before their lengths calibrate the stuck rule
# the evidence that gave a score (DualState.channel, DualSurpriseDetector.channel_)
POINT, STUCK, SUSTAINED, BEYOND, SHAPE = range(5)
CHANNELS = ("point", "stuck", "sustained", "beyond range", "shape")


class DualState(NamedTuple):
    calibrated: CalibratedState  # its forecast is the point detector's seasonal state
    channel: np.ndarray  # [which evidence gave the latest score: POINT, STUCK, ... SHAPE]
    runs: np.ndarray  # [the three longest runs of repeats completed so far, the current run]
    run_values: np.ndarray  # the value repeated in each of those runs
    shape: ShapeState  # the shape channel
    shape_tail: HistogramTail  # the stream's own distances, for the shape surprise
    run_tail: HistogramTail  # the lengths of the stream's completed runs of repeats

    def check_invariants(self, owner: str, params: Any) -> None:
        """Run lengths are counts (compared, never used as indices); a known channel."""
        in_range(owner, "runs", self.runs, 0, BIG)
        in_range(owner, "channel", self.channel, POINT, SHAPE)


class DualParams(NamedTuple):
    calibrated: CalibratedParams
    record_factor: float
    known_low: float  # value_range: the range the stream is known to span (inf, -inf: none)
    known_high: float
    shape: ShapeParams
    tail: TailParams
    run_tail: TailParams


@numba.jit(**INLINE_OPTIONS)
def _bits(score: float) -> float:
    """``S`` of a score ``S / (1 + S)``; -1 for a warm-up ``nan``."""
    return -1.0 if math.isnan(score) else score / (1.0 - score)


@numba.jit(**INLINE_OPTIONS)
def _keep_longest(runs: np.ndarray, values: np.ndarray, run: int, value: float) -> None:
    """Insert a completed run of ``value`` into the three longest (longest first)."""
    for k in range(_N_LONGEST):
        if run > runs[k]:
            run, runs[k] = runs[k], run
            value, values[k] = values[k], value


@numba.jit(**INLINE_OPTIONS)
def _run_bits(
    seasonal: SeasonalState, runs: HistogramTail, tail: TailParams, run: int, beyond: int
) -> float:
    """Surprise of a run of ``run`` repeats, ``beyond`` points longer than this value's usual run.

    ``beyond`` points at the stream's repeat rate (``-log10`` of it per repeated point), or,
    once the stream has completed enough runs, as rare as its own run lengths say ``run`` is,
    if that is less.
    """
    if beyond <= 0:
        return 0.0
    v = seasonal.scalars[0]
    bits = beyond * -math.log10(v.repeat_rate + 1.0 / (v.n_seen + 1.0))
    own = surprise_of(runs, tail, float(run))
    return bits if own < 0.0 else min(bits, own)


@numba.jit(**INLINE_OPTIONS)
def _stuck_surprise(
    seasonal: SeasonalState, runs: HistogramTail, tail: TailParams, run: int, beyond: int
) -> float:
    """Surprise of a run of repeats ``beyond`` points longer than this value's usual run.

    The seasonal kernel's stuck rule (the run's surprise at the stream's repeat rate, reported
    once when it passes 4), counted from the longest run of *the same value* among the three
    longest runs this stream completed, instead of from 0, and no rarer than the stream's own
    completed runs make it: a series that sits at one value for long stretches (a count at 0
    every night) is stuck only when it stays there longer than it did before, while a sensor
    frozen at a new value is reported as soon as the run is improbable.
    """
    bits = _run_bits(seasonal, runs, tail, run, beyond)
    if _run_bits(seasonal, runs, tail, run - 1, beyond - 1) >= _STUCK_REPORTED_BITS:
        return float(min(bits, 1.0))  # reported when it passed the level: one alarm per run
    return float(bits)


@numba.jit(**INLINE_OPTIONS)
def _step(state: DualState, params: DualParams, x: float) -> float:
    seasonal = state.calibrated.seasonal
    expected, scale = forecast(seasonal)
    scale = floored_scale(seasonal, scale)
    z = abs(x - expected) / scale
    n_seen = state.calibrated.scalars[0].n_seen
    lowest, highest = seen_range(seasonal)
    lowest, highest = min(lowest, params.known_low), max(highest, params.known_high)
    calibrated, point = step_both(state.calibrated, params.calibrated, x)
    sustained: float = _bits(calibrated)
    beyond = -1.0
    if sustained >= 0.0 and beyond_range(x, lowest, highest, params.calibrated.range_margin):
        # beyond all n values seen: at most 1 / (n + 1) likely; further out by `excess`, an
        # exponential tail at the residual scale: the surprise grows with the distance
        excess = max(x - highest, lowest - x) / (scale * last_width(seasonal))
        beyond = params.record_factor * (math.log10(n_seen + 1.0) + excess / _LN10)
    score = point  # as SeasonalDetector scored it, bit for bit (nan in warm-up)
    surprise = _bits(point)
    gaussian = gaussian_surprise(z / last_width(seasonal))
    runs, run_values = state.runs, state.run_values
    run = seasonal.scalars[0].stuck_run  # repeats of the previous value, this point included
    stuck = run != 0 and not math.isnan(point)
    channel = POINT
    if surprise >= _CAPPED_BITS or stuck:
        # past the float floor of p, go on in logs; in a run of repeats, the Gaussian
        # surprise and this detector's own stuck rule replace the seasonal kernel's
        surprise = gaussian
        score = surprise / (1.0 + surprise)
    if run == 0:
        if runs[_LATEST] > 0:
            learn(state.run_tail, params.run_tail, float(runs[_LATEST]))
        _keep_longest(runs, run_values, runs[_LATEST], run_values[_LATEST])
    elif stuck:
        usual = 0
        for k in range(_N_LONGEST):
            if run_values[k] == x:
                usual = max(usual, runs[k])
        stuck_surprise = _stuck_surprise(
            seasonal, state.run_tail, params.run_tail, run, run - usual
        )
        if stuck_surprise > surprise:
            surprise = stuck_surprise
            score = surprise / (1.0 + surprise)
            channel = STUCK
    runs[_LATEST] = run
    run_values[_LATEST] = x
    best = surprise
    if sustained > best:
        best, channel = sustained, SUSTAINED
    if beyond > best:
        best, channel = beyond, BEYOND
    if params.shape.seasons > 0:
        distance = shape_distance(state.shape, params.shape, x, seasonal.scalars[0].period)
        shaped = rarity(state.shape_tail, params.tail, distance)
        if shaped > best:
            best, channel = shaped, SHAPE
    if channel > STUCK:
        score = best / (1.0 + best)
    state.channel[0] = channel
    return float(score)


@numba.jit(**INLINE_OPTIONS)
def _forecast(state: DualState, params: DualParams) -> tuple[float, float]:
    seasonal = state.calibrated.seasonal
    expected, scale = forecast(seasonal)
    return expected, scale


@numba.jit(**INLINE_OPTIONS)
def _alarm_scale(state: DualState, params: DualParams) -> float:
    """The point surprise's tail widening, or 1 when another, calibrated, evidence won."""
    if state.channel[0] > STUCK:
        return 1.0
    return float(last_width(state.calibrated.seasonal))


def check_value_range(owner: str, value: Any) -> None:
    """Raise unless ``value`` is None or two finite numbers ``low < high``."""
    ok = value is None or (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
        and value[0] < value[1]
    )
    if not ok:
        raise InvalidParameterError(
            f"`value_range` of {owner} must be None or (low, high) with finite low < high; got "
            f"{value!r}. E.g. value_range=(0, 100) for a percentage."
        )


class DualSurpriseDetector(Detector):
    """Point, sustained and shape evidence, calibrated on the stream's own past: the rarest wins.

    The default detector of :class:`~oddwatch.Monitor`. Each point is predicted by the
    :class:`SeasonalDetector` model (robust level, online season, residual scale) and scored,
    causally, by five kinds of evidence, each a surprise ``S = -log10 p``:

    * *point*: :class:`SeasonalDetector`'s score (Gaussian tail of the residual, widened on
      heavy-tailed streams): spikes, dips and short bursts, at once;
    * *stuck*: a run of repeats longer than this value's usual run, at the stream's repeat
      rate;
    * *sustained*: :class:`CalibratedSurpriseDetector`'s score (the mean of the last
      ``smoothing`` residuals against the stream's own history of such means, once per
      rising peak): excursions and regime changes that no single point reveals;
    * *beyond range*: a value past every value seen (at most ``1 / (n + 1)`` likely, times an
      exponential tail in the distance), multiplied by ``record_factor``;
    * *shape*: the newest season's subsequence against the same stretch one and two seasons
      back (:mod:`~oddwatch.detectors._shape_kernels`), z-normalised: a beat, a stride or a
      day whose values stay in range but whose shape is new.

    The point, stuck, sustained and shape surprises are then checked against the stream's own
    history (:mod:`~oddwatch.detectors._histogram_tail`, once ``tail_warmup`` values are
    learned): a point, sustained or stuck surprise is lowered to how rare the stream's own past
    says it is, where that past is heavier-tailed than the model (never raised); the shape
    distance is turned into its surprise that way. The score is ``S / (1 + S)`` for the largest
    (0.8 = a 1-in-10,000 point), ``nan`` until ``warmup`` points are learned; ``channel_`` names
    the evidence that gave it. One alarm per anomaly is the Monitor's alarm stage
    (:class:`~oddwatch.alarms.QuietPeriod`). Cost: one seasonal step, a few histogram updates,
    and, per block of ``season // shape_resolution`` points, three rolling sums and one
    correlation for each of about ``4 * shape_slack * shape_resolution`` lags per season looked
    back; memory about ``3 * max_season_length + 1,300`` floats. See docs/algorithms/dual.md.

    Parameters
    ----------
    season_length
        Points per season; ``None`` estimates it online, ``0`` disables seasonality (and the
        shape evidence).
    max_season_length
        Longest season searched for when ``season_length`` is None.
    warmup
        Points learned before the first (point) score.
    calibrated_warmup
        Points learned before the sustained surprise starts (its calibration is unreliable
        before).
    smoothing
        Number of recent residuals averaged for the sustained surprise.
    half_life
        Points after which the sustained surprise's remembered peak has halved.
    record_factor
        Factor on the surprise of a value beyond every value seen so far (chosen on NAB,
        where such records are the commonest anomaly).
    value_range
        ``(low, high)`` the stream is known to span (e.g. ``(0, 100)`` for a CPU percentage),
        or None. Optional knowledge the detector may use: the out-of-range evidence then
        starts only beyond the wider of this range and the range seen so far, so an early
        value inside the known range is not "beyond everything seen".
    shape_seasons
        Seasons looked back by the shape evidence; 0 turns it off.
    shape_slack
        How far from a whole number of seasons back, as a share of a season, a neighbour may
        end (beats and strides vary in length).
    shape_resolution
        A season longer than twice this is compared in blocks of ``season // resolution``
        points (their means), to bound the cost.
    tail_memory
        Effective number of recent values each calibration remembers.
    tail_fraction
        Share of a calibration's values above which its tail is fitted (exponential).
    tail_warmup
        Values each calibration learns before it is used.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> t = np.arange(3000)
    >>> xs = 10 + np.sin(2 * np.pi * t / 50) + rng.normal(0, 0.2, 3000)
    >>> xs[1000] += 3.0  # a lone spike of 15 sd
    >>> det = DualSurpriseDetector()
    >>> scores = det.update_many(xs)
    >>> det.period_, bool(np.isnan(scores[:64]).all()), np.flatnonzero(scores > 0.8).tolist()
    (50, True, [1000])
    """

    season_length: int | None = param(default=None)
    max_season_length: int = param(default=1024, check=IntParam(low=4, high=100_000))
    warmup: int = param(default=64, check=IntParam(low=2))
    calibrated_warmup: int = param(default=500, check=IntParam(low=2))
    smoothing: int = param(default=10, check=IntParam(low=1, high=10_000))
    half_life: float = param(default=100.0, check=FloatParam(0.0, None, low_open=True))
    record_factor: float = param(default=3.0, check=FloatParam(1.0, None))
    value_range: tuple[float, float] | None = param(default=None, kernel=False)
    shape_seasons: int = param(default=2, check=IntParam(low=0, high=8))
    shape_slack: float = param(default=0.1, check=FloatParam(0.0, 0.5))
    shape_resolution: int = param(default=128, check=IntParam(low=4, high=4096))
    tail_memory: float = param(default=10_000.0, check=FloatParam(10.0, None))
    tail_fraction: float = param(default=0.02, check=FloatParam(0.0, 0.5, low_open=True))
    tail_warmup: int = param(default=2000, check=IntParam(low=1))
    State = DualState
    Params = DualParams
    _step = staticmethod(_step)
    _forecast = staticmethod(_forecast)
    _alarm_scale = staticmethod(_alarm_scale)

    def _check_combination(self) -> None:
        check_season_length("DualSurpriseDetector", self.season_length)
        check_value_range("DualSurpriseDetector", self.value_range)

    def _point(self) -> SeasonalDetector:
        """The point surprise; its forecast is the one both surprises share."""
        return SeasonalDetector(
            season_length=self.season_length,
            max_season_length=self.max_season_length,
            warmup=self.warmup,
        )

    def _kernel_params(self) -> DualParams:
        point = self._point()
        calibrated = calibrated_params(self._sustained(), point._kernel_params_)
        low, high = (math.inf, -math.inf) if self.value_range is None else self.value_range
        shape = ShapeParams(
            seasons=int(self.shape_seasons),
            slack=float(self.shape_slack),
            resolution=int(self.shape_resolution),
        )
        tail = tail_params(self.tail_memory, self.tail_fraction, self.tail_warmup)
        runs = tail_params(self.tail_memory, self.tail_fraction, _MIN_RUNS)
        return DualParams(
            calibrated,
            float(self.record_factor),
            float(low),
            float(high),
            shape,
            tail,
            runs,
        )

    def _sustained(self) -> CalibratedSurpriseDetector:
        """The sustained surprise's parameters (its own forecast state is not used)."""
        return CalibratedSurpriseDetector(
            season_length=self.season_length,
            max_season_length=self.max_season_length,
            warmup=self.calibrated_warmup,
            smoothing=self.smoothing,
            half_life=self.half_life,
        )

    def _initial_state(self) -> DualState:
        calibrated = calibrated_state(self._sustained(), self._point()._state)
        longest = self.max_season_length if self.season_length is None else self.season_length
        window = longest_window(self.shape_resolution, longest)
        shape = (window, self.shape_seasons, float(self.shape_slack))
        slots, size = (max_slots(*shape), ring_size(*shape)) if self.shape_seasons > 0 else (1, 1)
        return DualState(
            calibrated,
            np.zeros(1, dtype=np.int8),
            np.zeros(_N_LONGEST + 1, dtype=np.int64),
            np.zeros(_N_LONGEST + 1),
            shape_state(slots, size),
            histogram_tail(),
            histogram_tail(),
        )

    @property
    def n_seen_(self) -> int:
        return int(self._state.calibrated.scalars["n_seen"][0])

    @property
    def channel_(self) -> str:
        """The evidence that gave the latest score: point, stuck, sustained, beyond range, shape."""
        return CHANNELS[int(self._state.channel[0])]

    @property
    def period_(self) -> int:
        """Season length in use by the forecast (0 while none is known)."""
        return season_length(self._state.calibrated.seasonal)

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {
            "max_season_length": 32,
            "warmup": 8,
            "calibrated_warmup": 12,
            "smoothing": 3,
            "half_life": 20.0,
        }
