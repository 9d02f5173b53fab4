"""Does the dashboard slow detection down? A detect-like loop with and without it.

The loop is what ``oddwatch detect`` does per batch once records are parsed: a
``KeyedMonitor.update_many`` over ``--keys`` series (a plain ``Monitor`` for ``--keys 1``,
as ``detect`` without ``--key-col``), an ``OutputBatch`` with the reasons of the flagged
points, a JSONL sink writing every record (to /dev/null) and the pipeline counters handed to
``observe``. "With dashboard" adds a :class:`DashboardSink` feeding a :class:`Board` served
by a running :class:`DashboardServer` on 127.0.0.1 with another process reading its event
stream (an open page), so the board's worker and the server compete with detection for the
CPU and the interpreter lock as they would in a real run.

Runs come in A/B pairs (without, with), the order swapped from one pair to the next so a
drift in machine load favours neither side. The number to quote is the median over the
pairs of (with / without) records/s, with its spread (min-max and quartiles). Wall-clock
rates include waiting for the CPU and the interpreter lock; the detection thread's CPU time
does not. Also reports the dashboard threads' CPU as a share of the detection thread's, the
board's fold rate and how many records it sampled out. Prints a markdown table and writes it
to ``benchmarks/out/dashboard-<keys>.md``.

Run: ``python benchmarks/bench_dashboard.py [--keys K --points N --batch B --pairs P]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from oddwatch import KeyedMonitor, Monitor
from oddwatch.dashboard import Board, DashboardServer, DashboardSink
from oddwatch.sinks import JsonlSink
from oddwatch.sinks._base import OutputBatch

OUT = Path(__file__).parent / "out"

Batch = tuple[Any, np.ndarray, list[str]]


def stream(n_keys: int, n_points: int, batch: int, seed: int = 0) -> Iterator[Batch]:
    """``(keys, values, timestamps)`` batches: every key once per round, seasonal + spikes.

    ``keys`` is None for one series (no key column).
    """
    rng = np.random.default_rng(seed)
    names = np.char.mod("host-%06d/cpu", np.arange(n_keys))
    level = rng.uniform(10.0, 100.0, n_keys)
    phase = rng.uniform(0.0, 2 * np.pi, n_keys)
    for start in range(0, n_points, batch):
        g = np.arange(start, min(start + batch, n_points))
        key, t = g % n_keys, g // n_keys
        value = level[key] + 5 * np.sin(2 * np.pi * t / 24 + phase[key])
        value += rng.normal(0.0, 1.0, len(g))
        value[rng.random(len(g)) < 1e-4] += 50.0
        stamps = np.datetime64("2026-01-01T00:00:00", "s") + t.astype("timedelta64[m]")
        yield (names[key] if n_keys > 1 else None), value, stamps.astype(str).tolist()


def detect_like(
    batches: list[Batch], n_keys: int, extra_sink: DashboardSink | None
) -> tuple[float, float, float, int]:
    """Wall and detection-thread CPU seconds, other threads' CPU seconds, records."""
    keyed = KeyedMonitor(max_keys=n_keys) if n_keys > 1 else None
    single = Monitor() if n_keys == 1 else None
    out = JsonlSink(open(os.devnull, "wb"))
    n = n_anomalies = 0
    tick = time.perf_counter()
    cpu = time.thread_time()
    process = time.process_time()
    for keys, values, stamps in batches:
        result = single.update_many(values) if single else keyed.update_many(keys, values)  # type: ignore[union-attr]
        reason = [""] * len(result)
        for i in np.flatnonzero(result.is_anomaly).tolist():
            reason[i] = result.reason(i)
        batch = OutputBatch(
            np.arange(n, n + len(result)),
            result.value,
            result.score,
            result.threshold,
            result.is_anomaly,
            reason,
            keys,
            stamps,
            result.expected,
            result.scale,
        )
        out.write(batch)
        n += len(result)
        n_anomalies += result.n_anomalies
        stats = {
            "records_read": float(n),
            "valid": float(n),
            "anomalies": float(n_anomalies),
            "keys": float(keyed.n_keys_ if keyed else 1),
            "evicted": float(keyed.n_evicted_ if keyed else 0),
            "elapsed_s": time.perf_counter() - tick,
        }
        if extra_sink is not None:
            extra_sink.write(batch)
            extra_sink.observe(stats)
    seconds, cpu = time.perf_counter() - tick, time.thread_time() - cpu
    others = time.process_time() - process - cpu
    out.close()
    return seconds, cpu, others, n


READER = """
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "events?lanes=40", timeout=60) as events:
    while events.readline():
        pass
"""


def open_page(url: str) -> subprocess.Popen[bytes]:
    """An open page: another process reading the event stream (as a browser would be)."""
    return subprocess.Popen([sys.executable, "-c", READER, url], stderr=subprocess.DEVNULL)


def spread(ratios: list[float]) -> str:
    """``median (min-max, quartiles q1-q3)`` of the pair ratios."""
    q1, _, q3 = (
        statistics.quantiles(ratios, n=4, method="inclusive") if len(ratios) > 1 else ratios * 3
    )
    return (
        f"**{statistics.median(ratios):.3f}** (min-max {min(ratios):.3f}-{max(ratios):.3f}, "
        f"quartiles {q1:.3f}-{q3:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000, help="1: one series, no key")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument(
        "--max-busy", type=float, default=Board().max_busy, help="the Board's CPU budget"
    )
    args = parser.parse_args()
    data = list(stream(args.keys, args.points, args.batch))
    detect_like(data[:20], args.keys, None)  # compile the kernels
    runs: dict[str, dict[str, list[float]]] = {
        side: {"wall": [], "cpu": []} for side in ("without", "with")
    }
    boards = []
    other_cpu: list[float] = []
    for pair in range(args.pairs):
        for side in ("without", "with") if pair % 2 == 0 else ("with", "without"):
            if side == "without":
                seconds, thread, _, n = detect_like(data, args.keys, None)
            else:
                board = Board(max_busy=args.max_busy)
                with DashboardServer(board, port=0) as server:
                    page = open_page(server.url)
                    seconds, thread, others, n = detect_like(data, args.keys, DashboardSink(board))
                    page.terminate()
                    page.wait()
                other_cpu.append(others / thread)
                boards.append(board.overview()["board"])
            runs[side]["wall"].append(n / seconds)
            runs[side]["cpu"].append(n / thread)

    def ratios(kind: str) -> list[float]:
        pairs = zip(runs["with"][kind], runs["without"][kind], strict=True)
        return [w / wo for w, wo in pairs]

    fold = sum(b["fold_seconds"] for b in boards)
    folded = sum(b["folded"] for b in boards)
    sampled = sum(b["sampled_out"] for b in boards)
    what = f"{args.keys:,} keys" if args.keys > 1 else "one series (no key column)"
    lines = [
        f"{args.points:,} records, {what}, batches of {args.batch:,}, "
        f"{args.pairs} A/B pairs (order alternating), load average "
        f"{os.getloadavg()[0]:.1f} at the end",
        "",
        "| run | records/s, wall (median) | records/s, detection-thread CPU (median) |",
        "|---|---:|---:|",
    ]
    for side in ("without", "with"):
        median_wall = statistics.median(runs[side]["wall"])
        median_cpu = statistics.median(runs[side]["cpu"])
        lines.append(f"| {side} dashboard | {median_wall:,.0f} | {median_cpu:,.0f} |")
    lines += [
        "",
        f"with / without per pair, wall: {spread(ratios('wall'))}",
        f"with / without per pair, detection-thread CPU: {spread(ratios('cpu'))}",
        f"wall ratios in run order: {', '.join(f'{r:.3f}' for r in ratios('wall'))}",
        f"dashboard threads' CPU, as a share of the detection thread's: "
        f"{statistics.median(other_cpu):.1%} (median), {max(other_cpu):.1%} (max)",
        f"board worker: {folded / max(fold, 1e-9):,.0f} records/s folded "
        f"({fold:.2f} s CPU in all); sampled out {sampled:,} of {sampled + folded:,} records",
    ]
    text = "\n".join(lines)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"dashboard-{args.keys}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
