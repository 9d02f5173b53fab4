"""Every registered detector on the demo's simulated stream: own-flag and best-threshold F1.

For seeds 1-10, the demo's stream (``oddwatch demo --points 5000 --seed S``: 5,000 points,
outlier probability 0.005) runs through ``Monitor(detector, on_invalid="flag")`` with the
detector's defaults, as the demo runs the default Monitor. Reported per detector, as means over
the seeds: event F1 (10-point tolerance) of the Monitor's own flags, which is the demo's F1 for
the default Monitor, and the best event F1 over every score threshold in hindsight.
Prints a markdown table and writes it to ``benchmarks/out/simulator.md``.

Run: ``python benchmarks/bench_simulator.py [--detectors A,B]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from oddwatch import Monitor
from oddwatch.cli.commands.evaluate import build_factory, detector_names
from oddwatch.evaluate import event_metrics
from oddwatch.sources.simulate import SimulationConfig, simulate

OUT = Path(__file__).parent / "out" / "simulator.md"
SEEDS = range(1, 11)
TOLERANCE = 10


def best_f1(labels: np.ndarray, scores: np.ndarray, invalid: np.ndarray) -> float:
    """Best event F1 over thresholds at every distinct score (invalid points always flagged)."""
    filled = np.nan_to_num(scores, nan=-np.inf)
    candidates = np.unique(filled[np.isfinite(filled)])
    if candidates.size > 400:
        candidates = np.quantile(candidates, np.linspace(0.0, 1.0, 400))
    return max(
        event_metrics(labels, (filled >= c) | invalid, tolerance=TOLERANCE).f1 for c in candidates
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--detectors", help="comma-separated names (default: all, and Monitor)")
    args = parser.parse_args(argv)
    names = (
        [n.strip() for n in args.detectors.split(",") if n.strip()]
        if args.detectors
        else detector_names()
    )
    lines = [
        "| detector | own-flag F1 (demo) | best F1 | flags per 5,000 points |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        factory = build_factory(name, {})
        own, best, n_flags = [], [], []
        for seed in SEEDS:
            sim = simulate(
                SimulationConfig.from_mapping(
                    {"n_points": 5000, "seed": seed, "outlier_prob": 0.005}
                )
            )
            inner = factory()
            monitor = Monitor(inner.detector_, inner.threshold_, on_invalid="flag")
            result = monitor.update_many(sim.values)
            labels = np.asarray(sim.labels, dtype=bool)
            own.append(event_metrics(labels, result.is_anomaly, tolerance=TOLERANCE).f1)
            best.append(best_f1(labels, result.score, result.is_invalid))
            n_flags.append(int(result.is_anomaly.sum()))
        lines.append(
            f"| {name} | {np.mean(own):.3f} | {np.mean(best):.3f} | {np.mean(n_flags):.0f} |"
        )
    command = "python benchmarks/bench_simulator.py"
    if args.detectors:
        command += f" --detectors {args.detectors}"
    lines += [
        "",
        f"Means over seeds {SEEDS.start}-{SEEDS.stop - 1}; event F1 with a {TOLERANCE}-point "
        "tolerance; invalid (missing) points count as flagged, as in the demo. "
        f"`{command}`.",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
