"""Every registered detector, and the default Monitor, on the Numenta Anomaly Benchmark.

Each detector runs with its default parameters, one fresh instance per file
(:func:`oddwatch.evaluate.run_nab`), and is scored as NAB does: one optimised threshold per
profile over the whole corpus, comparable with the published scoreboard. The Monitor's own
flags are scored too (what a deployed user gets). When ``river`` is importable, River's
``HalfSpaceTrees`` runs as a reference: values min-max scaled causally (the scaler learns a
value after scaling it), then ``score_one`` and ``learn_one`` per point; its scores are already
in [0, 1]. Kernels are compiled before timing; seconds are the time in ``update_many`` only.
Prints a markdown table and writes it to ``benchmarks/out/nab.md``.

Run: ``python benchmarks/bench_nab.py [--detectors A,B] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np

from oddwatch.cli.commands.evaluate import build_factory, detector_names
from oddwatch.evaluate import SCOREBOARD, NabRun, default_nab_dir, load_corpus, run_nab

OUT = Path(__file__).parent / "out" / "nab.md"
RIVER = "River HalfSpaceTrees"
PROFILE_NAMES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


class RiverHalfSpaceTrees:
    """River's HalfSpaceTrees behind ``update_many``: scale, score, then learn, per point."""

    def __init__(self) -> None:
        from river import anomaly, preprocessing

        self.scaler = preprocessing.MinMaxScaler()
        self.model = anomaly.HalfSpaceTrees(seed=42)

    def update_many(self, xs: np.ndarray) -> np.ndarray:
        out = np.empty(len(xs))
        for i, x in enumerate(xs.tolist()):
            point = {"x": x}
            scaled = self.scaler.transform_one(point)
            out[i] = self.model.score_one(scaled)
            self.model.learn_one(scaled)
            self.scaler.learn_one(point)
        return out


def factories(names: list[str]) -> dict[str, Callable[[], Any]]:
    """Name -> factory of a fresh component, defaults only; unknown names exit with a message."""
    valid = [*detector_names(), RIVER]
    unknown = [n for n in names if n not in valid]
    if unknown:
        sys.exit(f"error: unknown detector {unknown[0]!r}; choose from: {', '.join(valid)}.")
    out = {}
    for name in names:
        if name == RIVER:
            out[name] = RiverHalfSpaceTrees
        else:
            out[name] = build_factory(name, {})
    return out


def river_available() -> bool:
    try:
        import river  # noqa: F401
    except ImportError:
        return False
    return True


def measure(corpus: Any, factory: Callable[[], Any]) -> NabRun:
    """The run over the corpus, after compiling (or loading) the kernels on a short series."""
    factory().update_many(np.linspace(0.0, 1.0, 3000))
    return run_nab(corpus, factory)


def fmt(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.2f}"


def table(results: dict[str, NabRun], n_rows: int, command: str) -> str:
    reference = results.get("Monitor", next(iter(results.values()))).total_seconds
    lines = [
        "| detector | standard | low FP | low FN | own flags: standard / low FP / low FN "
        "| windows caught | flags | AUC-PR | VUS-PR | seconds | time / Monitor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, run in sorted(
        results.items(), key=lambda item: -item[1].optimised.scores["standard"]
    ):
        own = run.own_flags
        own_text = "-" if own is None else " / ".join(fmt(own[p].score) for p in PROFILE_NAMES)
        events = run.event_metrics
        lines.append(
            f"| {name} | "
            + " | ".join(fmt(run.optimised[p].score) for p in PROFILE_NAMES)
            + f" | {own_text} | {events.n_detected_events}/{events.n_events} | "
            f"{events.n_flags:,} | {run.ranking['auc_pr']:.3f} | {run.ranking['vus_pr']:.3f} | "
            f"{run.total_seconds:.2f} | "
            f"{run.total_seconds / reference:.2f} |"
        )
    lines += [
        "",
        "Published NAB scoreboard, for comparison:",
        "",
        "| detector | standard | low FP | low FN |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | " + " | ".join(fmt(entry[p]) for p in PROFILE_NAMES) + " |"
            for name, entry in SCOREBOARD.items()
        ),
        "",
        "Scores: NAB v1.1 with one optimised threshold per profile (the scoreboard's rule); "
        "own flags: the Monitor's own alarms, scored as they are. Windows caught and flags: "
        "the Monitor's own flags, else the rows at or above the optimised standard threshold, "
        "after each file's probationary period. AUC-PR and VUS-PR (buffers up to 100 rows): "
        "mean over the files with windows, all rows. Seconds: time in `update_many` over all "
        f"{n_rows:,} rows, kernels compiled beforehand.",
        "",
        f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__},"
        f" {platform.machine()}; `{command}`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--detectors",
        help="comma-separated names (default: every registered detector, Monitor and, if "
        f"river is installed, {RIVER!r})",
    )
    parser.add_argument("--data", help="NAB checkout (default: $ODDWATCH_NAB_DIR or ../shared)")
    args = parser.parse_args(argv)
    if args.detectors:
        names = [n.strip() for n in args.detectors.split(",") if n.strip()]
    else:
        names = detector_names() + ([RIVER] if river_available() else [])
    data = Path(args.data) if args.data else default_nab_dir()
    if data is None:
        sys.exit("error: NAB corpus not found; pass --data DIR or set ODDWATCH_NAB_DIR.")
    corpus = load_corpus(data)
    results = {}
    for name, factory in factories(names).items():
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results[name] = measure(corpus, factory)
    n_rows = sum(f.n_rows for f in corpus.files.values())
    command = "python benchmarks/bench_nab.py" + (
        f" --detectors {args.detectors}" if args.detectors else ""
    )
    text = table(results, n_rows, command)
    print(text, end="")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
