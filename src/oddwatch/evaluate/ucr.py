"""Run a detector or a Monitor over the UCR anomaly archive and judge it by the archive's rule.

Each series of the archive (Wu & Keogh, TKDE 2023) holds one labelled anomaly after an
anomaly-free training prefix ``[0, train_end)``. :func:`run_ucr` runs one fresh component per
series over all of it, causally (the prefix is learned like any other data), and
:class:`UcrRun` reports:

* **top-1 accuracy**, the archive's rule: the prediction is the position of the highest score
  at or after ``train_end`` (the first one on ties, NaN lowest); a series is solved when
  ``anomaly_start - 100 <= prediction < anomaly_end + 100``;
* **own flags** (a Monitor's ``is_anomaly``, what a deployed user sees): the share of series
  with a flag inside that widened range, and the false flag runs (maximal runs of flagged
  points outside it) per 100,000 points, in the prefix and after it;
* **AUC-PR and VUS-PR** (:mod:`oddwatch.evaluate.ranking`) of the scores over the whole
  series against the labelled range, NaN scores counted lowest, averaged over series.

Data: ``index.csv`` (``number,length,train_end,anomaly_start,anomaly_end``, 0-based, end
exclusive) and ``npz/NNN_<train_end>_<start>_<end>.npz`` (one array ``values``) under one
directory; see :func:`default_ucr_dir`.

Examples
--------
>>> import numpy as np
>>> from oddwatch.detectors import RollingZScore
>>> xs = np.sin(np.arange(3000) * 2 * np.pi / 50)
>>> xs[2000] = 3.0
>>> series = [UcrSeries(1, xs, train_end=1000, anomaly_start=2000, anomaly_end=2001)]
>>> run = run_ucr(series, lambda: RollingZScore(window_size=100))
>>> run.accuracy, run.predictions
(1.0, (2000,))
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from oddwatch._typing import BoolArray, FloatArray
from oddwatch.errors import InvalidParameterError, SourceError
from oddwatch.evaluate.ranking import auc_pr, vus_pr

__all__ = [
    "TOLERANCE",
    "UcrRun",
    "UcrSeries",
    "default_ucr_dir",
    "false_flag_runs",
    "load_ucr",
    "run_ucr",
    "top1_prediction",
]

TOLERANCE = 100
"""Points either side of the labelled anomaly that still count as finding it (the archive's)."""

_HINT = "pass --data DIR holding index.csv and npz/ (the UCR dev split) or set ODDWATCH_UCR_DIR"


@dataclass(frozen=True, eq=False)
class UcrSeries:
    """One series of the archive: values, training prefix and the labelled anomaly.

    Parameters
    ----------
    number
        The archive's series number.
    values
        The whole series.
    train_end
        End of the anomaly-free prefix (exclusive).
    anomaly_start, anomaly_end
        The labelled anomaly, ``[anomaly_start, anomaly_end)``.

    Examples
    --------
    >>> s = UcrSeries(7, np.zeros(500), 100, 300, 310)
    >>> s.hit_range, int(s.labels[295:312].sum())
    ((200, 410), 10)
    """

    number: int
    values: FloatArray
    train_end: int
    anomaly_start: int
    anomaly_end: int

    def __post_init__(self) -> None:
        n = self.values.shape[0]
        if not 0 < self.train_end <= self.anomaly_start < self.anomaly_end <= n:
            raise InvalidParameterError(
                f"UCR series {self.number} needs 0 < train_end <= anomaly_start < anomaly_end "
                f"<= length; got {self.train_end}, {self.anomaly_start}, {self.anomaly_end} for "
                f"{n} points. Check index.csv."
            )

    @property
    def hit_range(self) -> tuple[int, int]:
        """``[start, end)`` where a prediction or a flag finds the anomaly."""
        n = self.values.shape[0]
        return max(self.anomaly_start - TOLERANCE, 0), min(self.anomaly_end + TOLERANCE, n)

    @property
    def labels(self) -> BoolArray:
        """True inside the labelled anomaly."""
        out = np.zeros(self.values.shape[0], dtype=np.bool_)
        out[self.anomaly_start : self.anomaly_end] = True
        return out


def default_ucr_dir() -> Path | None:
    """Where the UCR dev split is, if it can be found.

    ``$ODDWATCH_UCR_DIR`` when set, else the first existing of ``<cwd>/../shared/data/ucr-dev``
    and ``<repository root>/../shared/data/ucr-dev``; None when neither exists.

    Examples
    --------
    >>> found = default_ucr_dir()
    >>> found is None or found.is_dir()
    True
    """
    env = os.environ.get("ODDWATCH_UCR_DIR")
    if env:
        return Path(env)
    candidates = (
        Path.cwd() / ".." / "shared" / "data" / "ucr-dev",
        Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "ucr-dev",
    )
    return next((c.resolve() for c in candidates if c.is_dir()), None)


def _int(row: dict[str, str], name: str, where: str) -> int:
    try:
        return int(row[name])
    except (KeyError, TypeError, ValueError):
        raise SourceError(
            f"{where}: column {name!r} must be an integer; got {row.get(name)!r}; {_HINT}."
        ) from None


def load_ucr(
    directory: str | os.PathLike[str], numbers: Sequence[int] | None = None
) -> list[UcrSeries]:
    """The series listed in ``directory/index.csv`` (or only `numbers`), values from ``npz/``.

    Raises
    ------
    SourceError
        The index or a series file is missing or malformed, or a series' length differs from
        the index.

    Examples
    --------
    >>> load_ucr("no/such/dir")
    Traceback (most recent call last):
    ...
    oddwatch.errors.SourceError: no/such/dir/index.csv does not exist; pass --data DIR ...
    """
    root = Path(directory)
    index = root / "index.csv"
    try:
        with index.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except FileNotFoundError:
        raise SourceError(f"{index} does not exist; {_HINT}.") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise SourceError(f"cannot read {index}: {exc}; {_HINT}.") from None
    wanted = None if numbers is None else set(numbers)
    series = []
    for line, row in enumerate(rows, start=2):
        where = f"{index} line {line}"
        number = _int(row, "number", where)
        if wanted is not None and number not in wanted:
            continue
        length, train_end, start, end = (
            _int(row, name, where)
            for name in ("length", "train_end", "anomaly_start", "anomaly_end")
        )
        path = root / "npz" / f"{number:03d}_{train_end}_{start}_{end}.npz"
        try:
            with np.load(path, allow_pickle=False) as archive:
                values = np.asarray(archive["values"], dtype=np.float64)
        except FileNotFoundError:
            raise SourceError(f"{path} does not exist ({where}); {_HINT}.") from None
        except (OSError, KeyError, ValueError) as exc:
            raise SourceError(f"cannot read `values` from {path}: {exc}.") from None
        if values.ndim != 1 or values.shape[0] != length:
            raise SourceError(f"{path} holds shape {values.shape}; {where} says {length} points.")
        if not np.all(np.isfinite(values)):
            raise SourceError(f"{path} holds NaN or inf values; the archive has none.")
        series.append(UcrSeries(number, values, train_end, start, end))
    if wanted is not None and len(series) != len(wanted):
        missing = sorted(wanted - {s.number for s in series})
        raise SourceError(f"series {missing} are not in {index}.")
    return series


def top1_prediction(scores: FloatArray, train_end: int) -> int:
    """Position of the highest score at or after `train_end`: first on ties, NaN lowest.

    Examples
    --------
    >>> top1_prediction(np.array([9.0, 1.0, np.nan, 3.0, 3.0]), train_end=1)
    3
    >>> top1_prediction(np.array([9.0, np.nan, np.nan]), train_end=1)
    1
    """
    tail = np.nan_to_num(scores[train_end:], nan=-np.inf)
    return train_end + int(np.argmax(tail))


def false_flag_runs(flags: BoolArray, start: int, end: int) -> int:
    """Maximal runs of flags inside ``[start, end)``.

    Examples
    --------
    >>> false_flag_runs(np.array([1, 1, 0, 1, 0, 1, 1], dtype=bool), 1, 6)
    3
    """
    part = flags[start:end].astype(np.int8)
    if part.size == 0:
        return 0
    return int(part[0]) + int(np.count_nonzero(np.diff(part) == 1))


@dataclass(frozen=True)
class _Flags:
    hit: bool
    runs_prefix: int
    runs_after: int
    points_after: int


def _own_flags(s: UcrSeries, flags: BoolArray) -> _Flags:
    lo, hi = s.hit_range
    outside = flags.copy()
    outside[lo:hi] = False
    n = flags.shape[0]
    # a run crossing the widened range is cut by it: each side counts once
    return _Flags(
        hit=bool(flags[lo:hi].any()),
        runs_prefix=false_flag_runs(outside, 0, s.train_end),
        runs_after=false_flag_runs(outside, s.train_end, lo) + false_flag_runs(outside, hi, n),
        points_after=n - s.train_end - (hi - max(lo, s.train_end)),
    )


@dataclass(frozen=True, eq=False)
class UcrRun:
    """The output of one component per series over the UCR archive, and its verdicts.

    Parameters
    ----------
    series
        The series that were run, in order.
    scores
        Per series, the raw scores (NaN during warm-up).
    flags
        Per series, the component's own flags (a Monitor's ``is_anomaly``); None for detectors.
    seconds
        Per series, seconds spent in ``update_many``.
    max_window
        Buffer width of VUS-PR (:func:`~oddwatch.evaluate.ranking.vus_pr`).

    Examples
    --------
    >>> xs = np.random.default_rng(0).normal(0, 1, 2000)
    >>> xs[1500] = 9.0
    >>> s = UcrSeries(1, xs, 500, 1500, 1501)
    >>> flags = np.zeros(2000, dtype=bool)
    >>> flags[[100, 101, 1500, 1800]] = True
    >>> run = UcrRun((s,), (np.abs(xs),), (flags,), (0.1,))
    >>> run.accuracy, run.hit_rate, run.false_runs_prefix_per_100k
    (1.0, 1.0, 200.0)
    >>> round(run.false_runs_after_per_100k, 2)  # 1 run in 2000 - 500 - 201 points
    76.98
    """

    series: tuple[UcrSeries, ...]
    scores: tuple[FloatArray, ...]
    flags: tuple[BoolArray, ...] | None
    seconds: tuple[float, ...]
    max_window: int = TOLERANCE

    @property
    def total_seconds(self) -> float:
        """Seconds spent in ``update_many`` over all series."""
        return math.fsum(self.seconds)

    @cached_property
    def predictions(self) -> tuple[int, ...]:
        """Top-1 position per series (:func:`top1_prediction`)."""
        return tuple(
            top1_prediction(sc, s.train_end) for s, sc in zip(self.series, self.scores, strict=True)
        )

    @cached_property
    def solved(self) -> tuple[bool, ...]:
        """Whether each series' top-1 prediction falls in its widened anomaly range."""
        return tuple(
            s.hit_range[0] <= p < s.hit_range[1]
            for s, p in zip(self.series, self.predictions, strict=True)
        )

    @property
    def accuracy(self) -> float:
        """Share of series solved (the archive's top-1 accuracy)."""
        return sum(self.solved) / len(self.series)

    @cached_property
    def _flag_figures(self) -> tuple[_Flags, ...] | None:
        if self.flags is None:
            return None
        return tuple(_own_flags(s, f) for s, f in zip(self.series, self.flags, strict=True))

    @property
    def hit_rate(self) -> float:
        """Share of series with an own flag in the widened anomaly range; nan without flags."""
        figures = self._flag_figures
        return math.nan if figures is None else sum(f.hit for f in figures) / len(figures)

    @property
    def false_runs_prefix_per_100k(self) -> float:
        """False flag runs in the anomaly-free prefixes per 100,000 prefix points (pooled)."""
        figures = self._flag_figures
        if figures is None:
            return math.nan
        points = sum(s.train_end for s in self.series)
        return 1e5 * sum(f.runs_prefix for f in figures) / points

    @property
    def false_runs_after_per_100k(self) -> float:
        """False flag runs after the prefixes (outside the widened ranges) per 100,000 points."""
        figures = self._flag_figures
        if figures is None:
            return math.nan
        points = sum(f.points_after for f in figures)
        return 1e5 * sum(f.runs_after for f in figures) / points

    @property
    def series_flagged_in_prefix(self) -> float:
        """Share of series with at least one false flag run in their prefix; nan without flags."""
        figures = self._flag_figures
        return (
            math.nan if figures is None else sum(f.runs_prefix > 0 for f in figures) / len(figures)
        )

    @cached_property
    def auc_pr_per_series(self) -> tuple[float, ...]:
        """AUC-PR of each series' scores (NaN lowest) against its labelled anomaly."""
        return tuple(
            auc_pr(s.labels, np.nan_to_num(sc, nan=-np.inf))
            for s, sc in zip(self.series, self.scores, strict=True)
        )

    @cached_property
    def vus_pr_per_series(self) -> tuple[float, ...]:
        """VUS-PR of each series' scores (NaN lowest) with buffers up to ``max_window``."""
        return tuple(
            vus_pr(s.labels, np.nan_to_num(sc, nan=-np.inf), self.max_window)
            for s, sc in zip(self.series, self.scores, strict=True)
        )

    @property
    def auc_pr(self) -> float:
        """Mean AUC-PR over series."""
        return float(np.mean(self.auc_pr_per_series))

    @property
    def vus_pr(self) -> float:
        """Mean VUS-PR over series."""
        return float(np.mean(self.vus_pr_per_series))


def run_ucr(
    series: Sequence[UcrSeries],
    factory: Callable[[], Any],
    progress: Callable[[int, int, str], None] | None = None,
    max_window: int = TOLERANCE,
) -> UcrRun:
    """Run a fresh component from `factory` over each series, in order, causally.

    Parameters
    ----------
    series
        The series to run; labels are never shown to the component.
    factory
        Called once per series, with no arguments, to build a new, untrained component (a
        detector class or ``lambda: Monitor(...)``).
    progress
        Called as ``progress(series_done, n_series, name)`` after each series.
    max_window
        Buffer width of VUS-PR.

    Raises
    ------
    InvalidParameterError
        `series` is empty, or `factory` returned a component already trained or one whose
        output is neither scores nor a Monitor's result.

    Examples
    --------
    >>> from oddwatch import Monitor
    >>> xs = np.random.default_rng(0).normal(0, 1, 3000)
    >>> xs[2500] = 12.0
    >>> run = run_ucr([UcrSeries(1, xs, 1000, 2500, 2501)], Monitor)
    >>> run.accuracy, run.hit_rate, bool(run.flags[0][2500])
    (1.0, 1.0, True)
    """
    if not series:
        raise InvalidParameterError("no UCR series to run; check --data and its index.csv.")
    scores: list[FloatArray] = []
    flags: list[BoolArray] = []
    seconds: list[float] = []
    for i, s in enumerate(series):
        component = factory()
        if int(getattr(component, "n_seen_", 0)) > 0:
            raise InvalidParameterError(
                f"factory must return a new, untrained component for every series; for series "
                f"{s.number} it returned {component!r}, which has already seen data. Pass a "
                "class or a lambda that builds one, e.g. lambda: Monitor()."
            )
        start = time.perf_counter()
        out = component.update_many(s.values.copy())
        seconds.append(time.perf_counter() - start)
        if hasattr(out, "score") and hasattr(out, "is_anomaly"):
            scores.append(np.asarray(out.score, dtype=np.float64))
            flags.append(np.asarray(out.is_anomaly, dtype=np.bool_))
        elif isinstance(out, np.ndarray) and out.shape == s.values.shape:
            scores.append(out.astype(np.float64))
        else:
            raise InvalidParameterError(
                f"update_many of {type(component).__name__} returned {type(out).__name__} for "
                f"series {s.number}; expected one float score per value or a Monitor's result."
            )
        if progress is not None:
            progress(i + 1, len(series), f"{s.number:03d}")
    return UcrRun(
        series=tuple(series),
        scores=tuple(scores),
        flags=tuple(flags) if flags else None,
        seconds=tuple(seconds),
        max_window=max_window,
    )
