"""``oddwatch detect`` end to end on a large CSV, against ``wc -l`` and ``pandas.read_csv``.

Writes a ``--lines``-line CSV (``timestamp,value``: one point a minute, a daily cycle plus
noise and rare spikes) to a temporary directory, then times, in this one run and on the same
file: ``wc -l FILE``; ``pandas.read_csv(FILE)`` (in process, after importing pandas); and
``oddwatch detect FILE --out /dev/null`` as a subprocess (so including interpreter start,
imports and loading the cached numba kernels), two variants (CSV output, only anomalies),
and the start-up cost alone (a one-record file). A second table times the validator's
per-series order checks with eviction (``--max-keys`` 10,000 vs 500,000, 600,000 keys seen in
turn): its cost per chunk must not grow with the number of series tracked. Each is run
``--repeat`` times and the
fastest run is kept. Lines per second are given by wall-clock time and by CPU time (steadier
on a shared machine); ratios compare against ``wc -l`` and pandas. Prints a markdown table
and writes it to ``benchmarks/out/detect.md``.

Run: ``python benchmarks/bench_detect.py [--lines N --repeat R]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import oddwatch

OUT = Path(__file__).parent / "out" / "detect.md"
SRC = str(Path(oddwatch.__file__).resolve().parents[1])


def write_csv(path: Path, n_lines: int, seed: int = 0) -> None:
    """A ``timestamp,value`` CSV with ``n_lines`` data lines, written in blocks."""
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2026-01-01T00:00:00", "s")
    with path.open("w") as fh:
        fh.write("timestamp,value\n")
        for start in range(0, n_lines, 100_000):
            i = np.arange(start, min(start + 100_000, n_lines))
            values = 50 + 10 * np.sin(2 * np.pi * i / 1440) + rng.normal(0, 1, i.shape[0])
            values[rng.random(i.shape[0]) < 1e-4] += 15
            stamps = (t0 + i * np.timedelta64(60, "s")).astype(str)
            fh.write(
                "".join(
                    f"{t},{v!r}\n" for t, v in zip(stamps.tolist(), values.tolist(), strict=True)
                )
            )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(argv: list[str], repeat: int) -> tuple[float, float]:
    """Best wall-clock and CPU seconds of a subprocess over ``repeat`` runs."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        cpu, wall = children_cpu(), time.perf_counter()
        subprocess.run(
            argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        best = min(best, (time.perf_counter() - wall, children_cpu() - cpu))
    return best


def time_call(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall-clock and CPU seconds of an in-process call over ``repeat`` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        call()
        best = min(best, (time.perf_counter() - wall, time.process_time() - cpu))
    return best


def time_eviction(max_keys: int, repeat: int, n: int = 1_000_000) -> tuple[float, float]:
    """Best wall and CPU seconds of the validator over ``n`` keyed records in chunks of
    10,000, keys cycling over 600,000 series (so every chunk forgets some)."""
    from oddwatch.sources import Records, Validator

    keys = np.array([f"host-{i % 600_000:06d}" for i in range(n)])
    times = np.arange(n, dtype=np.float64)

    def run() -> None:
        validator = Validator("flag", max_keys=max_keys, warn=lambda message: None)
        for a in range(0, n, 10_000):
            b = min(a + 10_000, n)
            records = Records(
                line=np.arange(a, b), value=np.ones(b - a), problem=np.zeros(b - a, np.uint8),
                end=0, time=times[a:b], key=keys[a:b],
            )  # fmt: skip
            validator.check(records)

    return time_call(run, repeat)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stream.csv"
        write_csv(path, args.lines)
        detect = [sys.executable, "-m", "oddwatch.cli.main", "detect", str(path), "--quiet"]
        time_command(detect + ["--out", os.devnull], 1)  # compile or load the numba kernels
        runs = {
            "`wc -l FILE`": time_command(["wc", "-l", str(path)], args.repeat),
            "`pandas.read_csv(FILE)`": time_call(lambda: pd.read_csv(path), args.repeat),
            "`oddwatch detect FILE --out /dev/null`": time_command(
                detect + ["--out", os.devnull], args.repeat
            ),
            "... `--out-format csv`": time_command(
                detect + ["--out", os.devnull, "--out-format", "csv"], args.repeat
            ),
            "... `--only-anomalies`": time_command(detect + ["--only-anomalies"], args.repeat),
        }
        empty = Path(tmp) / "one.csv"  # start-up cost: one record (an empty file is refused)
        empty.write_text("timestamp,value\n2026-01-01T00:00:00,1.0\n")
        startup = time_command(detect[:4] + [str(empty), "--out", os.devnull], args.repeat)
        size_mb = path.stat().st_size / 1e6
    wc, pandas = runs["`wc -l FILE`"], runs["`pandas.read_csv(FILE)`"]
    n = args.lines + 1
    lines = [
        f"{args.lines:,} data lines ({size_mb:.0f} MB), best of {args.repeat} runs.",
        "",
        "| command | wall s | lines/s (wall) | lines/s (CPU) | vs `wc -l` (CPU) "
        "| vs pandas (CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for name, (wall, cpu) in runs.items():
        lines.append(
            f"| {name} | {wall:.2f} | {n / wall:,.0f} | {n / cpu:,.0f} | "
            f"{cpu / wc[1]:.1f}x | {cpu / pandas[1]:.2f}x |"
        )
    main_wall, main_cpu = runs["`oddwatch detect FILE --out /dev/null`"]
    lines += [
        "",
        "Ratios are CPU time relative to the reference (higher is slower). The detect runs "
        "include interpreter start-up and imports; pandas is timed in process after import.",
        f"Start-up alone (`detect` on a one-record file): {startup[0]:.2f} s wall, "
        f"{startup[1]:.2f} s CPU; without it the default run processes "
        f"{n / max(main_wall - startup[0], 1e-9):,.0f} lines/s (wall), "
        f"{n / max(main_cpu - startup[1], 1e-9):,.0f} lines/s (CPU).",
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs; "
        f"`python benchmarks/bench_detect.py --lines {args.lines} --repeat {args.repeat}`.",
        "",
        "Validator order checks with eviction, 1,000,000 keyed records in chunks of 10,000, "
        "600,000 keys in turn (in process):",
        "",
        "| --max-keys | wall s | records/s (wall) | records/s (CPU) |",
        "|---|---|---|---|",
    ]
    evictions = {m: time_eviction(m, args.repeat) for m in (10_000, 500_000)}
    for m, (wall, cpu) in evictions.items():
        lines.append(f"| {m:,} | {wall:.2f} | {1e6 / wall:,.0f} | {1e6 / cpu:,.0f} |")
    ratio = evictions[500_000][1] / evictions[10_000][1]
    lines += ["", f"CPU time at 500,000 keys / at 10,000 keys: {ratio:.2f}x."]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
