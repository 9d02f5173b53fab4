"""Every registered detector, and the default Monitor, on the UCR anomaly archive's dev split.

Each detector runs with its default parameters, one fresh instance per series, inside
``Monitor(detector)`` so its own flags (from the detector's default threshold) are judged too
(:func:`oddwatch.evaluate.ucr.run_ucr`): top-1 accuracy by the archive's rule, own-flag hit
rate, false flag runs per 100,000 points in the anomaly-free prefix and after it, AUC-PR and
VUS-PR. Kernels are compiled before timing; seconds are the time in ``update_many`` only. When
``TSB_AD`` is importable (``pip install --no-deps tsb-ad``), VUS-PR and AUC-PR of a few series
are also recomputed with TSB-AD's own code and the largest difference is printed.
Prints a markdown table and writes it to ``benchmarks/out/ucr.md``.

Run: ``python benchmarks/bench_ucr.py [--detectors A,B] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
from pathlib import Path

import numba
import numpy as np

from oddwatch.cli.commands.evaluate import build_factory, detector_names
from oddwatch.evaluate.ucr import UcrRun, default_ucr_dir, load_ucr, run_ucr

OUT = Path(__file__).parent / "out" / "ucr.md"


def fmt(x: float, spec: str = ".3f") -> str:
    return "-" if math.isnan(x) else format(x, spec)


def check_against_tsb_ad(run: UcrRun, n: int = 5) -> None:
    """Largest difference between our AUC-PR / VUS-PR and TSB-AD 1.5's on `n` series."""
    try:
        from TSB_AD.evaluation.basic_metrics import basic_metricor, generate_curve
    except ImportError:
        print("TSB_AD not importable: skipping the cross-check", file=sys.stderr)
        return
    worst = 0.0
    for s, scores in list(zip(run.series, run.scores, strict=True))[:n]:
        filled = np.nan_to_num(scores, nan=np.nanmin(scores) - 1.0)
        labels = s.labels.astype(int)
        theirs_vus = generate_curve(labels, filled, 100, "opt", 250)[-1]
        theirs_auc = basic_metricor().metric_PR(labels, filled)
        ours_vus = run.vus_pr_per_series[run.series.index(s)]
        ours_auc = run.auc_pr_per_series[run.series.index(s)]
        worst = max(worst, abs(theirs_vus - ours_vus), abs(theirs_auc - ours_auc))
    print(f"TSB-AD 1.5 cross-check on {n} series: max |difference| = {worst:.2e}", file=sys.stderr)


def table(results: dict[str, UcrRun], command: str) -> str:
    reference = results.get("Monitor", next(iter(results.values()))).total_seconds
    n_points = sum(s.values.shape[0] for s in next(iter(results.values())).series)
    lines = [
        "| detector | top-1 | own-flag hit | false runs /100k prefix | false runs /100k after "
        "| AUC-PR | VUS-PR | seconds | time / Monitor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in sorted(results.items(), key=lambda item: -item[1].accuracy):
        lines.append(
            f"| {name} | {run.accuracy:.3f} | {fmt(run.hit_rate)} | "
            f"{fmt(run.false_runs_prefix_per_100k, '.1f')} | "
            f"{fmt(run.false_runs_after_per_100k, '.1f')} | {run.auc_pr:.3f} | "
            f"{run.vus_pr:.3f} | {run.total_seconds:.1f} | {run.total_seconds / reference:.1f} |"
        )
    lines += [
        "",
        f"{len(next(iter(results.values())).series)} series, {n_points:,} points. Top-1: the "
        "highest score after the training prefix within 100 points of the anomaly. Own flags: "
        "the detector inside `Monitor(detector)` with its default threshold. AUC-PR and VUS-PR "
        "(buffers up to 100 points): mean over series, whole series, NaN lowest.",
        "",
        f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__},"
        f" {platform.machine()}; `{command}`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--detectors", help="comma-separated names (default: every registered detector, Monitor)"
    )
    parser.add_argument("--data", help="UCR dev split (default: $ODDWATCH_UCR_DIR or ../shared)")
    args = parser.parse_args(argv)
    names = (
        [n.strip() for n in args.detectors.split(",") if n.strip()]
        if args.detectors
        else detector_names()
    )
    data = Path(args.data) if args.data else default_ucr_dir()
    if data is None:
        sys.exit("error: UCR dev split not found; pass --data DIR or set ODDWATCH_UCR_DIR.")
    series = load_ucr(data)
    results = {}
    for name in names:
        factory = build_factory(name, {})
        print(f"running {name} ...", file=sys.stderr, flush=True)
        factory().update_many(np.sin(np.arange(5000) / 7.0))  # compile before timing
        results[name] = run_ucr(series, factory)
    check_against_tsb_ad(next(iter(results.values())))
    command = "python benchmarks/bench_ucr.py" + (
        f" --detectors {args.detectors}" if args.detectors else ""
    )
    text = table(results, command)
    print(text, end="")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
