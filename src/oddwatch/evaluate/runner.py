"""Run a detector or a Monitor over a NAB corpus: one fresh component per file, causally.

:func:`run_nab` builds a new component for every file from one factory (one parameter set for
the whole corpus, no labels, no per-file tuning), feeds it the file's values in order with
``update_many`` (each score is computed before its point is learned) and keeps the scores,
the component's own flags when it makes any (a :class:`~oddwatch.Monitor`) and the time spent.
The returned :class:`NabRun` scores them as NAB does (one optimised threshold per profile,
comparable with the published scoreboard), scores the own flags (what a deployed user gets)
and counts anomaly windows caught (:func:`corpus_window_metrics`).

Examples
--------
>>> import numpy as np
>>> from oddwatch import Monitor
>>> from oddwatch.evaluate.nab import NabCorpus
>>> xs = np.random.default_rng(0).normal(0.0, 1.0, 800)
>>> xs[600] = 12.0
>>> corpus = NabCorpus.from_arrays({"demo/a.csv": xs}, {"demo/a.csv": [(590, 619)]})
>>> run = run_nab(corpus, Monitor)
>>> round(run.optimised["standard"].score, 2), round(run.own_flags["standard"].score, 2)
(97.19, 97.19)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from oddwatch._typing import BoolArray, FloatArray
from oddwatch.errors import InvalidParameterError
from oddwatch.evaluate.metrics import EventMetrics, window_metrics
from oddwatch.evaluate.nab import NabCorpus, NabResult, score_corpus, score_flags
from oddwatch.evaluate.ranking import auc_pr, vus_pr

__all__ = ["NabRun", "Streaming", "corpus_window_metrics", "run_nab"]


class Streaming(Protocol):
    """What :func:`run_nab` runs: a detector, a Monitor, or anything with ``update_many``.

    ``update_many(xs)`` must score each value before learning it and return either one float
    score per value (a detector; ``nan`` during warm-up) or an object with ``score`` and
    ``is_anomaly`` arrays (a :class:`~oddwatch.MonitorResult`).
    """

    def update_many(self, xs: FloatArray) -> Any: ...


def _unit_scores(raw: FloatArray, squash: bool) -> FloatArray:
    """Raw scores mapped into [0, 1]: nan -> 0, below 0 -> 0, then s / (1 + s) or a clip at 1."""
    s = np.maximum(np.nan_to_num(raw, nan=0.0, posinf=np.inf, neginf=0.0), 0.0)
    if squash:
        with np.errstate(invalid="ignore"):
            return np.where(np.isinf(s), 1.0, s / (1.0 + s))
    return np.minimum(s, 1.0)


@dataclass(frozen=True, eq=False)
class NabRun:
    """The output of one component per file over a NAB corpus, and its verdicts.

    Parameters
    ----------
    corpus
        The corpus that was run.
    scores
        Per file, one score in [0, 1] per row (warm-up ``nan`` mapped to 0.0; see
        :func:`run_nab` for how scores outside [0, 1] are mapped).
    flags
        Per file, the component's own flags (a Monitor's ``is_anomaly``); None for detectors.
    seconds
        Per file, the seconds spent in ``update_many`` (building the component excluded).
    squashed
        Whether the raw scores were mapped by ``s / (1 + s)`` (True) or clipped to [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from oddwatch.detectors import RollingZScore
    >>> from oddwatch.evaluate.nab import NabCorpus
    >>> xs = np.sin(np.arange(300) / 5.0)
    >>> xs[250] = 9.0
    >>> corpus = NabCorpus.from_arrays({"demo/a.csv": xs}, {"demo/a.csv": [(245, 264)]})
    >>> run = run_nab(corpus, lambda: RollingZScore(window_size=20))
    >>> run.squashed, run.flags, float(run.scores["demo/a.csv"][0])
    (True, None, 0.0)
    >>> round(run.optimised["standard"].score, 2), run.event_metrics.recall
    (98.35, 1.0)
    >>> {k: round(v, 2) for k, v in run.ranking.items()}
    {'auc_pr': 0.09, 'vus_pr': 0.25}
    """

    corpus: NabCorpus
    scores: Mapping[str, FloatArray]
    flags: Mapping[str, BoolArray] | None
    seconds: Mapping[str, float]
    squashed: bool

    @property
    def total_seconds(self) -> float:
        """Seconds spent in ``update_many`` over all files."""
        return math.fsum(self.seconds.values())

    @cached_property
    def optimised(self) -> NabResult:
        """NAB's verdict with one optimised threshold per profile (the scoreboard's rule)."""
        return score_corpus(self.corpus, self.scores)

    @cached_property
    def own_flags(self) -> NabResult | None:
        """NAB's verdict on the component's own flags; None when it makes none."""
        return None if self.flags is None else score_flags(self.corpus, self.flags)

    @cached_property
    def ranking(self) -> dict[str, float]:
        """Mean AUC-PR and VUS-PR over the files with windows (labels: every window row).

        Computed on the [0, 1] scores over all rows of each file; VUS-PR with buffers up to 100
        rows (:func:`~oddwatch.evaluate.ranking.vus_pr`).
        """
        aucs, volumes = [], []
        for key, f in self.corpus.files.items():
            if not f.windows:
                continue
            labels = np.zeros(f.n_rows, dtype=np.bool_)
            for a, b in f.windows:
                labels[a : b + 1] = True
            aucs.append(auc_pr(labels, self.scores[key]))
            volumes.append(vus_pr(labels, self.scores[key]))
        if not aucs:
            return {"auc_pr": math.nan, "vus_pr": math.nan}
        return {"auc_pr": float(np.mean(aucs)), "vus_pr": float(np.mean(volumes))}

    @cached_property
    def event_metrics(self) -> EventMetrics:
        """Windows caught and flag precision, over all files (see :func:`corpus_window_metrics`).

        Uses the component's own flags when it has them, else the rows scoring at or above the
        optimised ``standard`` threshold.
        """
        if self.flags is not None:
            return corpus_window_metrics(self.corpus, self.flags)
        threshold = self.optimised["standard"].threshold
        return corpus_window_metrics(
            self.corpus, {key: s >= threshold for key, s in self.scores.items()}
        )


def run_nab(
    corpus: NabCorpus,
    factory: Callable[..., Streaming],
    progress: Callable[[int, int, str], None] | None = None,
    squash: bool | None = None,
    known_range: bool = False,
) -> NabRun:
    """Run a fresh component from `factory` over each file of `corpus`, in order, causally.

    Scores are mapped into [0, 1] for NAB: warm-up ``nan`` becomes 0.0 and negative scores 0.0.
    Detectors whose scores can exceed 1 (e.g. :class:`~oddwatch.detectors.RollingZScore`, a
    z-score) are mapped by the fixed monotone ``s / (1 + s)`` on every file; detectors scoring
    in [0, 1] are only clipped. A strictly monotone map applied to the whole corpus does not
    change NAB's optimised scores: the threshold sweep sees the same order of rows.

    Parameters
    ----------
    corpus
        The series to run over; their labels are never shown to the component.
    factory
        Called once per file, with no arguments, to build a new, untrained component (a
        detector class or ``lambda: Monitor(...)``).
    progress
        Called as ``progress(files_done, n_files, key)`` after each file.
    squash
        True maps every score by ``s / (1 + s)``, False clips at 1; None (default) squashes
        exactly when some raw score in the corpus exceeds 1.
    known_range
        Call ``factory(value_range=(lo, hi))`` with each file's minimum and maximum, as NAB
        hands them to every detector. Not causal (the range comes from the whole file):
        report such runs apart from causal ones.

    Raises
    ------
    InvalidParameterError
        `factory` returned a component already used or trained, or one whose output is
        neither scores nor a Monitor's result.

    Examples
    --------
    >>> import numpy as np
    >>> from oddwatch.detectors import SeasonalDetector
    >>> from oddwatch.evaluate.nab import NabCorpus
    >>> values = {k: np.random.default_rng(i).normal(5, 1, 400) for i, k in enumerate("ab")}
    >>> corpus = NabCorpus.from_arrays(values, {"a": [], "b": [(300, 319)]})
    >>> run = run_nab(corpus, SeasonalDetector, progress=lambda i, n, key: print(i, n, key))
    1 2 a
    2 2 b
    >>> run.scores["b"].shape, bool(np.all((run.scores["b"] >= 0) & (run.scores["b"] <= 1)))
    ((400,), True)
    """
    raw: dict[str, FloatArray] = {}
    flags: dict[str, BoolArray] = {}
    seconds: dict[str, float] = {}
    previous: Streaming | None = None
    for i, (key, f) in enumerate(corpus.files.items()):
        if known_range:
            bounds = (float(np.min(f.values)), float(np.max(f.values)))
            component = factory(value_range=bounds)
        else:
            component = factory()
        n_seen = int(getattr(component, "n_seen_", 0))
        if component is previous or n_seen > 0:
            raise InvalidParameterError(
                f"factory must return a new, untrained component for every file; for {key!r} "
                f"it returned {component!r}, which has already seen data. Pass a class or a "
                "lambda that builds one, e.g. lambda: Monitor()."
            )
        previous = component
        start = time.perf_counter()
        out = component.update_many(f.values.copy())
        seconds[key] = time.perf_counter() - start
        if hasattr(out, "score") and hasattr(out, "is_anomaly"):
            raw[key] = np.asarray(out.score, dtype=np.float64)
            flags[key] = np.asarray(out.is_anomaly, dtype=np.bool_)
        elif isinstance(out, np.ndarray) and out.shape == f.values.shape:
            raw[key] = out.astype(np.float64)
        else:
            raise InvalidParameterError(
                f"update_many of {type(component).__name__} returned {type(out).__name__} for "
                f"{key!r}; expected one float score per value or a Monitor's result."
            )
        if progress is not None:
            progress(i + 1, len(corpus.files), key)
    if squash is None:
        squash = any(bool(np.any(s > 1.0)) for s in raw.values())
    return NabRun(
        corpus=corpus,
        scores={key: _unit_scores(s, squash) for key, s in raw.items()},
        flags=flags or None,
        seconds=seconds,
        squashed=squash,
    )


def corpus_window_metrics(
    corpus: NabCorpus, flags: Mapping[str, Any], tolerance: int = 0
) -> EventMetrics:
    """Event metrics of flags against every window of `corpus`, pooled over its files.

    Only NAB's scored rows count: each file's probationary period is dropped (its flags are
    ignored, as NAB ignores them), and a window inside it is no event. Counts are summed over
    files; precision and recall are ratios of the sums and the mean delay is over all detected
    windows. Definitions and empty-case conventions are those of
    :func:`~oddwatch.evaluate.window_metrics`.

    Parameters
    ----------
    corpus
        The corpus whose windows are the events.
    flags
        Per file, one 0/1 (or boolean) flag per row.
    tolerance
        Rows after a window's end where a flag still detects it.

    Examples
    --------
    >>> import numpy as np
    >>> from oddwatch.evaluate.nab import NabCorpus
    >>> corpus = NabCorpus.from_arrays(
    ...     {"a": np.zeros(100), "b": np.zeros(100)}, {"a": [(50, 59)], "b": [(80, 89)]}
    ... )
    >>> flags = {"a": np.zeros(100), "b": np.zeros(100)}
    >>> flags["a"][[5, 30, 54]] = 1  # row 5 is in the probationary period: ignored
    >>> m = corpus_window_metrics(corpus, flags)
    >>> m.recall, m.precision, m.n_flags, m.mean_delay
    (0.5, 0.5, 2, 4.0)
    """
    missing = sorted(set(corpus.files) - set(flags))
    if missing:
        raise InvalidParameterError(
            f"flags must have one array per corpus file; missing: {missing[:3]}."
        )
    per_file = []
    for key, f in corpus.files.items():
        p = f.probationary
        windows = [(max(a, p) - p, b - p) for a, b in f.windows if b >= p]
        per_file.append(window_metrics(windows, np.asarray(flags[key])[p:], tolerance))
    n_events = sum(m.n_events for m in per_file)
    n_detected = sum(m.n_detected_events for m in per_file)
    n_flags = sum(m.n_flags for m in per_file)
    n_true = sum(m.n_true_flags for m in per_file)
    delay_sum = math.fsum(
        m.mean_delay * m.n_detected_events for m in per_file if m.n_detected_events
    )
    return EventMetrics.from_counts(
        n_events, n_detected, n_flags, n_true, delay_sum / n_detected if n_detected else math.nan
    )
