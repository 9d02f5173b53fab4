"""Judge detectors: NAB runs and scoring, and event metrics for labelled streams.

Examples
--------
>>> from oddwatch.evaluate import event_metrics
>>> event_metrics([0, 1, 1, 0], [0, 0, 1, 0]).recall
1.0
"""

from __future__ import annotations

from oddwatch.evaluate.metrics import EventMetrics, event_metrics, window_metrics
from oddwatch.evaluate.nab import (
    PROFILES,
    SCOREBOARD,
    NabCorpus,
    NabFile,
    NabResult,
    Profile,
    ProfileResult,
    default_nab_dir,
    load_corpus,
    load_results_dir,
    rank_on_scoreboard,
    score_corpus,
    score_flags,
    write_results,
)
from oddwatch.evaluate.runner import NabRun, Streaming, corpus_window_metrics, run_nab

__all__ = [
    "PROFILES",
    "SCOREBOARD",
    "EventMetrics",
    "NabCorpus",
    "NabFile",
    "NabResult",
    "NabRun",
    "Profile",
    "ProfileResult",
    "Streaming",
    "corpus_window_metrics",
    "default_nab_dir",
    "event_metrics",
    "load_corpus",
    "load_results_dir",
    "rank_on_scoreboard",
    "run_nab",
    "score_corpus",
    "score_flags",
    "window_metrics",
    "write_results",
]
