"""Does the dashboard slow detection down? A detect-like loop with and without it.

The loop is what ``oddwatch detect`` does per batch once records are parsed: a
``KeyedMonitor.update_many`` over ``--keys`` series, an ``OutputBatch`` with the reasons of
the flagged points, a JSONL sink writing every record (to /dev/null) and the pipeline
counters handed to ``observe``. "With dashboard" adds a :class:`DashboardSink` feeding a
:class:`Board` served by a running :class:`DashboardServer` on 127.0.0.1 with another
process reading its event stream (an open page), so the board's worker and the server compete with
detection for the CPU and the GIL as they would in a real run.

Runs alternate (without, without again, with, ...) so all see the same machine load; the
median over the repeats of (with / without) is the number to quote, next to the same ratio
for two identical runs (the machine's noise floor). Wall-clock rates include
waiting for the interpreter lock; the detection thread's CPU time does not, but is steadier
on a shared machine. Also reports the board's own fold rate and how
many records it had to sample out. Prints a markdown table and writes it to
``benchmarks/out/dashboard.md``.

Run: ``python benchmarks/bench_dashboard.py [--keys K --points N --batch B --repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from oddwatch import KeyedMonitor
from oddwatch.dashboard import Board, DashboardServer, DashboardSink
from oddwatch.sinks import JsonlSink
from oddwatch.sinks._base import OutputBatch

OUT = Path(__file__).parent / "out" / "dashboard.md"


def stream(n_keys: int, n_points: int, batch: int, seed: int = 0):
    """``(keys, values, timestamps)`` batches: every key once per round, seasonal + spikes."""
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
        yield names[key], value, stamps.astype(str).tolist()


def detect_like(batches, n_keys: int, extra_sink: DashboardSink | None) -> tuple[float, float, int]:
    """Wall seconds and detection-thread CPU seconds for the whole loop, and the records."""
    monitor = KeyedMonitor(max_keys=n_keys)
    out = JsonlSink(open(os.devnull, "wb"))
    n = n_anomalies = 0
    tick = time.perf_counter()
    cpu = time.thread_time()
    process = time.process_time()
    for keys, values, stamps in batches:
        result = monitor.update_many(keys, values)
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
            "keys": float(monitor.n_keys_),
            "evicted": float(monitor.n_evicted_),
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--max-busy", type=float, default=Board().max_busy, help="the Board's CPU budget"
    )
    args = parser.parse_args()
    data = list(stream(args.keys, args.points, args.batch))
    detect_like(data[:20], args.keys, None)  # compile the kernels
    names = ("without dashboard", "without dashboard, again", "with dashboard")
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    boards = []
    other_cpu: list[float] = []
    for _ in range(args.repeat):
        for name in names[:2]:
            seconds, thread, _, n = detect_like(data, args.keys, None)
            wall[name].append(n / seconds)
            cpu[name].append(n / thread)
        board = Board(max_busy=args.max_busy, burst=args.max_busy)
        with DashboardServer(board, port=0) as server:
            page = open_page(server.url)
            seconds, thread, others, n = detect_like(data, args.keys, DashboardSink(board))
            other_cpu.append(others / thread)
            wall["with dashboard"].append(n / seconds)
            cpu["with dashboard"].append(n / thread)
            page.terminate()
            page.wait()
        boards.append(board.overview()["board"])

    def pair_ratio(rates: dict[str, list[float]], name: str = "with dashboard") -> float:
        """Median over the repeats of ``name`` / without, measured back to back."""
        pairs = zip(rates[name], rates["without dashboard"], strict=True)
        return statistics.median(w / wo for w, wo in pairs)

    fold = sum(b["fold_seconds"] for b in boards)
    folded = sum(b["folded"] for b in boards)
    sampled = sum(b["sampled_out"] for b in boards)
    lines = [
        f"{args.points:,} records over {args.keys:,} keys in batches of {args.batch:,}, "
        f"{args.repeat} alternating pairs of runs",
        "",
        "| run | records/s, wall (median) | records/s, detection-thread CPU (median) |",
        "|---|---:|---:|",
    ]
    for name in wall:
        median_wall, median_cpu = statistics.median(wall[name]), statistics.median(cpu[name])
        lines.append(f"| {name} | {median_wall:,.0f} | {median_cpu:,.0f} |")
    lines += [
        "",
        f"with / without, median of the pairs: wall **{pair_ratio(wall):.3f}**, "
        f"detection-thread CPU **{pair_ratio(cpu):.3f}**",
        f"noise floor (without, again / without): wall {pair_ratio(wall, names[1]):.3f}, "
        f"CPU {pair_ratio(cpu, names[1]):.3f}",
        f"wall runs without: {', '.join(f'{v:,.0f}' for v in wall['without dashboard'])}",
        f"wall runs with: {', '.join(f'{v:,.0f}' for v in wall['with dashboard'])}",
        f"dashboard threads' CPU, as a share of the detection thread's: "
        f"{statistics.median(other_cpu):.1%} (median)",
        f"board worker: {folded / max(fold, 1e-9):,.0f} records/s folded "
        f"({fold:.2f} s CPU in all); sampled out {sampled:,} of {sampled + folded:,} records",
    ]
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text + "\n")


if __name__ == "__main__":
    main()
