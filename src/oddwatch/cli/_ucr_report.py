"""What ``oddwatch evaluate ucr`` shows: the summary of a :class:`~oddwatch.evaluate.ucr.UcrRun`.

Examples
--------
>>> import numpy as np
>>> from oddwatch.detectors import RollingZScore
>>> from oddwatch.evaluate.ucr import UcrSeries, run_ucr
>>> xs = np.sin(np.arange(3000) / 8.0)
>>> xs[2000] = 3.0
>>> run = run_ucr([UcrSeries(1, xs, 1000, 2000, 2001)], lambda: RollingZScore(window_size=100))
>>> summary = ucr_summary(run, "RollingZScore", {"window_size": 100}, "demo")
>>> summary["top1"], summary["solved"], summary["flags"]
(1.0, [1], None)
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from oddwatch.cli._nab_report import number
from oddwatch.evaluate.ucr import UcrRun

__all__ = ["print_ucr_table", "ucr_summary"]


def ucr_summary(run: UcrRun, detector: str, params: dict[str, Any], data: str) -> dict[str, Any]:
    """The figures of `run` as a JSON-ready dict (own-flag figures None without flags)."""
    n_points = sum(s.values.shape[0] for s in run.series)
    flags = None
    if run.flags is not None:
        flags = {
            "hit_rate": run.hit_rate,
            "false_runs_prefix_per_100k": run.false_runs_prefix_per_100k,
            "false_runs_after_per_100k": run.false_runs_after_per_100k,
            "series_flagged_in_prefix": run.series_flagged_in_prefix,
        }
    return {
        "detector": detector,
        "params": params,
        "data": data,
        "series": len(run.series),
        "points": n_points,
        "top1": run.accuracy,
        "solved": [s.number for s, ok in zip(run.series, run.solved, strict=True) if ok],
        "flags": flags,
        "auc_pr": number(run.auc_pr),
        "vus_pr": number(run.vus_pr),
    }


def print_ucr_table(s: dict[str, Any], out: TextIO) -> None:
    """Print the summary `s` (from :func:`ucr_summary`, plus timings) as a short report."""
    print(
        f"UCR anomaly archive: {s['series']} series, {s['points']:,} points ({s['data']})\n"
        f"detector: {s['detector']} {json.dumps(s['params']) if s['params'] else '(defaults)'}\n",
        file=out,
    )
    print(f"top-1 accuracy   {s['top1']:.3f} ({len(s['solved'])}/{s['series']} solved)", file=out)
    f = s["flags"]
    if f is not None:
        print(
            f"own flags        hit rate {f['hit_rate']:.3f}; false flag runs per 100k points: "
            f"{f['false_runs_prefix_per_100k']:.1f} in the prefix, "
            f"{f['false_runs_after_per_100k']:.1f} after it; "
            f"{f['series_flagged_in_prefix']:.0%} of series flagged in their prefix",
            file=out,
        )
    auc = "n/a" if s["auc_pr"] is None else f"{s['auc_pr']:.3f}"
    vus = "n/a" if s["vus_pr"] is None else f"{s['vus_pr']:.3f}"
    print(f"ranking          AUC-PR {auc}, VUS-PR {vus} (mean over series)", file=out)
    rate = s["points"] / max(s["run_seconds"], 1e-9)
    print(
        f"time: {s['seconds']:.2f} s (load {s['load_seconds']:.2f} s, detector "
        f"{s['run_seconds']:.2f} s = {rate:,.0f} points/s, scoring {s['score_seconds']:.2f} s)",
        file=out,
    )
