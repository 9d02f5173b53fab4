"""Tests of run_nab: fresh causal components per file, score mapping, verdicts, event metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from oddwatch import Monitor
from oddwatch.detectors import RollingZScore, SeasonalDetector
from oddwatch.errors import InvalidParameterError
from oddwatch.evaluate import (
    NabCorpus,
    corpus_window_metrics,
    default_nab_dir,
    load_corpus,
    run_nab,
    score_corpus,
    score_flags,
    window_metrics,
)


def series(seed: int, n: int = 600, spike: int | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    xs = 10 + 3 * np.sin(np.arange(n) * 2 * np.pi / 50) + rng.normal(0, 0.5, n)
    if spike is not None:
        xs[spike] += 15
    return xs


@pytest.fixture
def corpus() -> NabCorpus:
    values = {"cat/a.csv": series(0, spike=400), "cat/b.csv": series(1), "dog/c.csv": series(2)}
    windows = {"cat/a.csv": [(390, 419)], "cat/b.csv": [], "dog/c.csv": [(500, 529)]}
    return NabCorpus.from_arrays(values, windows)


def test_each_file_gets_a_fresh_component(corpus: NabCorpus) -> None:
    run = run_nab(corpus, lambda: RollingZScore(window_size=20))
    for key, f in corpus.files.items():
        raw = RollingZScore(window_size=20).update_many(f.values)
        expected = np.nan_to_num(raw, nan=0.0) / (1 + np.nan_to_num(raw, nan=0.0))
        np.testing.assert_array_equal(run.scores[key], expected)


def test_scores_do_not_depend_on_file_order(corpus: NabCorpus) -> None:
    keys = list(corpus.files)[::-1]
    reversed_corpus = NabCorpus.from_arrays(
        {k: corpus.files[k].values for k in keys}, {k: corpus.files[k].windows for k in keys}
    )
    forward = run_nab(corpus, Monitor)
    backward = run_nab(reversed_corpus, Monitor)
    assert list(backward.scores) == keys
    for key in corpus.files:
        np.testing.assert_array_equal(forward.scores[key], backward.scores[key])
        np.testing.assert_array_equal(forward.flags[key], backward.flags[key])
    assert forward.optimised.scores == pytest.approx(backward.optimised.scores)


def test_scores_are_causal(corpus: NabCorpus) -> None:
    changed = {k: f.values.copy() for k, f in corpus.files.items()}
    changed["cat/a.csv"][450:] += 100.0
    other = NabCorpus.from_arrays(changed, {k: f.windows for k, f in corpus.files.items()})
    a = run_nab(corpus, SeasonalDetector).scores["cat/a.csv"]
    b = run_nab(other, SeasonalDetector).scores["cat/a.csv"]
    np.testing.assert_array_equal(a[:450], b[:450])
    assert not np.array_equal(a[450:], b[450:])


def test_labels_are_never_used(corpus: NabCorpus) -> None:
    relabelled = NabCorpus.from_arrays(
        {k: f.values for k, f in corpus.files.items()},
        {"cat/a.csv": [(100, 110)], "cat/b.csv": [(300, 340)], "dog/c.csv": []},
    )
    for key in corpus.files:
        np.testing.assert_array_equal(
            run_nab(corpus, Monitor).scores[key], run_nab(relabelled, Monitor).scores[key]
        )


def test_reusing_a_component_is_refused(corpus: NabCorpus) -> None:
    shared = RollingZScore(window_size=5)
    with pytest.raises(InvalidParameterError, match="new, untrained component for every file"):
        run_nab(corpus, lambda: shared)


def test_a_trained_component_is_refused(corpus: NabCorpus) -> None:
    def trained() -> RollingZScore:
        det = RollingZScore(window_size=5)
        det.update_many([1.0, 2.0])
        return det

    with pytest.raises(InvalidParameterError, match="already seen data"):
        run_nab(corpus, trained)


def test_warm_up_nan_becomes_zero_and_bounded_scores_are_kept(corpus: NabCorpus) -> None:
    run = run_nab(corpus, SeasonalDetector)
    raw = SeasonalDetector().update_many(corpus.files["cat/b.csv"].values)
    assert np.isnan(raw[0])
    assert not run.squashed
    np.testing.assert_array_equal(run.scores["cat/b.csv"], np.nan_to_num(raw, nan=0.0))


def test_unbounded_scores_are_squashed_monotonically(corpus: NabCorpus) -> None:
    run = run_nab(corpus, lambda: RollingZScore(window_size=10))
    assert run.squashed
    s = run.scores["cat/a.csv"]
    assert np.all(s[:10] == 0.0) and np.all((s >= 0) & (s < 1))
    # another monotone map of the same raw scores gives the same optimised verdict
    raw = {k: v / (1 - v) for k, v in run.scores.items()}
    top = max(float(v.max()) for v in raw.values())
    other = score_corpus(corpus, {k: v / (top + 1) for k, v in raw.items()})
    assert other.scores == pytest.approx(run.optimised.scores)


def test_squash_can_be_forced(corpus: NabCorpus) -> None:
    clipped = run_nab(corpus, lambda: RollingZScore(window_size=10), squash=False)
    assert not clipped.squashed and clipped.scores["cat/a.csv"].max() == 1.0
    squashed = run_nab(corpus, SeasonalDetector, squash=True)
    assert squashed.squashed and squashed.scores["cat/a.csv"].max() <= 0.5


def test_monitor_flags_are_its_own(corpus: NabCorpus) -> None:
    run = run_nab(corpus, Monitor)
    for key, f in corpus.files.items():
        result = Monitor().update_many(f.values)
        np.testing.assert_array_equal(run.flags[key], result.is_anomaly)
        np.testing.assert_array_equal(run.scores[key], np.nan_to_num(result.score, nan=0.0))
    assert run.own_flags.scores == score_flags(corpus, run.flags).scores
    assert run.optimised.scores == score_corpus(corpus, run.scores).scores
    assert run.event_metrics == corpus_window_metrics(corpus, run.flags)


def test_detectors_have_no_own_flags_and_events_use_the_standard_threshold(corpus) -> None:
    run = run_nab(corpus, SeasonalDetector)
    assert run.flags is None and run.own_flags is None
    threshold = run.optimised["standard"].threshold
    flags = {k: s >= threshold for k, s in run.scores.items()}
    assert run.event_metrics == corpus_window_metrics(corpus, flags)


def test_progress_and_timings(corpus: NabCorpus) -> None:
    calls = []
    run = run_nab(corpus, SeasonalDetector, progress=lambda *a: calls.append(a))
    assert calls == [(1, 3, "cat/a.csv"), (2, 3, "cat/b.csv"), (3, 3, "dog/c.csv")]
    assert set(run.seconds) == set(corpus.files)
    assert all(s >= 0 for s in run.seconds.values())
    assert run.total_seconds == pytest.approx(sum(run.seconds.values()))


def test_output_that_is_not_scores_is_refused(corpus: NabCorpus) -> None:
    class Broken:
        def update_many(self, xs: np.ndarray) -> list[float]:
            return [0.0] * len(xs)

    with pytest.raises(InvalidParameterError, match="expected one float score per value"):
        run_nab(corpus, Broken)


def test_corpus_window_metrics_pools_files_and_drops_probation() -> None:
    corpus = NabCorpus.from_arrays(
        {"a": np.zeros(200), "b": np.zeros(200), "c": np.zeros(200)},
        {"a": [(100, 109), (150, 159)], "b": [(40, 49)], "c": []},
    )
    flags = {k: np.zeros(200, dtype=bool) for k in "abc"}
    flags["a"][[10, 104, 105, 180]] = True  # row 10 is probationary (first 30 rows)
    flags["b"][[44]] = True
    flags["c"][[60]] = True
    m = corpus_window_metrics(corpus, flags)
    assert (m.n_events, m.n_detected_events, m.n_flags, m.n_true_flags) == (3, 2, 5, 3)
    assert m.precision == pytest.approx(3 / 5) and m.recall == pytest.approx(2 / 3)
    assert m.mean_delay == pytest.approx((4 + 4) / 2)
    single = window_metrics([(100 - 30, 109 - 30), (150 - 30, 159 - 30)], flags["a"][30:])
    alone = NabCorpus.from_arrays({"a": np.zeros(200)}, {"a": [(100, 109), (150, 159)]})
    assert corpus_window_metrics(alone, {"a": flags["a"]}) == single


def test_corpus_window_metrics_without_events_or_flags() -> None:
    corpus = NabCorpus.from_arrays({"a": np.zeros(50)}, {"a": []})
    m = corpus_window_metrics(corpus, {"a": np.zeros(50)})
    assert (m.precision, m.recall, m.n_events) == (1.0, 1.0, 0)
    assert math.isnan(m.mean_delay)
    with pytest.raises(InvalidParameterError, match="one array per corpus file"):
        corpus_window_metrics(corpus, {})


@pytest.mark.skipif(default_nab_dir() is None, reason="NAB corpus not found")
def test_tiny_nab_corpus_end_to_end() -> None:
    corpus = load_corpus(default_nab_dir(), "combined_windows_tiny.json")
    run = run_nab(corpus, Monitor)
    assert len(run.scores) == 2
    assert run.optimised.scores == score_corpus(corpus, run.scores).scores
    assert run.event_metrics.n_events == corpus.n_windows
