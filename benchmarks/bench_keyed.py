"""KeyedMonitor throughput and memory: many series in one stream, against one series.

Feeds ``--points`` points spread over ``--keys`` series to ``KeyedMonitor.update_many`` in
batches of ``--batch`` points. Every key comes once per round, in a fresh random order each
round (``--order round-robin``: the same order every round); values are a per-key seasonal
pattern plus noise and rare spikes. Then feeds the same points as one series to the
template detector's ``update_many`` (same parameters): the cost of the kernel alone, without
key mapping or scattered memory. ``--detector default`` is ``KeyedMonitor``'s default (the
Monitor's, ``DualSurpriseDetector()``, with its threshold and alarm stage);
``--detector seasonal64`` is ``SeasonalDetector(max_season_length=64)``, v0.1's keyed default.
Only the ``update_many`` calls are timed; data generation is not. Throughput is given by
wall-clock time and by process CPU time (the latter is steadier on a shared machine).
Prints a markdown table and writes it to ``benchmarks/out/keyed.md``.

Run: ``python benchmarks/bench_keyed.py [--points N --keys K --batch B --order O]``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np

from oddwatch import DualSurpriseDetector, KeyedMonitor, SeasonalDetector
from oddwatch.detectors import Detector

TEMPLATES = {
    "default": DualSurpriseDetector,
    "seasonal64": lambda: SeasonalDetector(max_season_length=64),
}

OUT = Path(__file__).parent / "out" / "keyed.md"


class Stream:
    """Deterministic keyed test data, generated batch by batch with numpy."""

    def __init__(self, n_keys: int, seed: int, shuffle: bool) -> None:
        rng = np.random.default_rng(seed)
        self.n_keys = n_keys
        self.seed = seed
        self.shuffle = shuffle
        self.names = np.char.mod("host-%06d/cpu", np.arange(n_keys))
        self.level = rng.uniform(10.0, 100.0, n_keys)
        self.amplitude = rng.uniform(0.0, 10.0, n_keys)
        self.period = rng.choice([12, 24, 60], n_keys)
        self.noise = rng.uniform(0.5, 2.0, n_keys)

    def order(self, round_: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 1, round_ if self.shuffle else 0])
        return rng.permutation(self.n_keys)

    def batches(self, n_points: int, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(keys, values)`` batches; point g is key ``order(g // K)[g % K]`` at time g // K."""
        rng = np.random.default_rng([self.seed, 2])
        for start in range(0, n_points, batch):
            g = np.arange(start, min(start + batch, n_points))
            rounds = g // self.n_keys
            key = np.empty(g.shape[0], dtype=np.int64)
            for r in np.unique(rounds):
                at = rounds == r
                key[at] = self.order(int(r))[g[at] % self.n_keys]
            t = rounds.astype(np.float64)
            values = (
                self.level[key]
                + self.amplitude[key] * np.sin(2.0 * np.pi * t / self.period[key])
                + self.noise[key] * rng.standard_normal(g.shape[0])
            )
            spikes = rng.random(g.shape[0]) < 1e-4
            values[spikes] += 10.0 * self.noise[key[spikes]]
            yield self.names[key], values


class Clock:
    """Accumulates wall-clock and process CPU time over ``with`` blocks."""

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> None:
        self._start = (time.perf_counter(), time.process_time())

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]

    def rates(self, n_points: int) -> dict[str, float]:
        return {
            "wall": self.wall,
            "cpu": self.cpu,
            "per_wall_s": n_points / self.wall,
            "per_cpu_s": n_points / self.cpu,
        }


def peak_rss_mb() -> float:
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0  # kB on Linux, B on macOS
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def run_keyed(stream: Stream, n_points: int, batch: int, template: Detector) -> dict[str, float]:
    # compile or load every kernel first: evictions, and enough keys to visit in slot order
    warm = KeyedMonitor(template.clone(), max_keys=10_000)
    warm_keys = np.char.mod("warm-%d", np.arange(10_001))
    warm.update_many(warm_keys, np.ones(warm_keys.shape[0]))
    rss_before = peak_rss_mb()
    tracemalloc.start()
    monitor = KeyedMonitor(template.clone(), max_keys=stream.n_keys)
    clock = Clock()
    n_flagged = 0
    for keys, values in stream.batches(n_points, batch):
        with clock:
            result = monitor.update_many(keys, values)
        n_flagged += result.n_anomalies
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert monitor.n_keys_ == stream.n_keys and monitor.n_evicted_ == 0
    return {
        **clock.rates(n_points),
        "traced_peak_mb": traced_peak / 1e6,
        "rss_growth_mb": peak_rss_mb() - rss_before,
        "state_bytes_per_key": monitor.nbytes_ / monitor.max_keys,
        "flagged": n_flagged,
    }


def run_single(stream: Stream, n_points: int, batch: int, template: Detector) -> dict[str, float]:
    detector = template.clone()
    detector.update_many([1.0, 2.0])
    detector = detector.clone()
    clock = Clock()
    for _, values in stream.batches(n_points, batch):
        with clock:
            detector.update_many(values)
    return clock.rates(n_points)


def table(args: argparse.Namespace, keyed: dict[str, float], single: dict[str, float]) -> str:
    def speed(run: dict[str, float]) -> str:
        return (
            f"{run['per_wall_s']:,.0f} points/s wall ({run['wall']:.2f} s), "
            f"{run['per_cpu_s']:,.0f} points/s CPU ({run['cpu']:.2f} s)"
        )

    rows = [
        (
            "detector / points / distinct keys / batch / key order",
            f"{args.detector} / {args.points:,} / {args.keys:,} / {args.batch:,} / {args.order}",
        ),
        ("KeyedMonitor.update_many", speed(keyed)),
        (f"{args.detector} detector's update_many, same points as one series", speed(single)),
        (
            "ratio keyed / one series (wall, CPU)",
            f"{keyed['per_wall_s'] / single['per_wall_s']:.2f}, "
            f"{keyed['per_cpu_s'] / single['per_cpu_s']:.2f}",
        ),
        ("allocated state per key (nbytes_ / max_keys)", f"{keyed['state_bytes_per_key']:,.0f} B"),
        ("peak traced memory of the keyed run", f"{keyed['traced_peak_mb']:,.0f} MB"),
        ("peak RSS growth of the keyed run", f"{keyed['rss_growth_mb']:,.0f} MB"),
        ("points flagged", f"{keyed['flagged']:,}"),
    ]
    lines = [
        "| measure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        f"Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__},"
        f" {platform.machine()}; `python benchmarks/bench_keyed.py --detector {args.detector}"
        f" --points {args.points}"
        f" --keys {args.keys} --batch {args.batch} --order {args.order}`.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--order", choices=["random", "round-robin"], default="random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detector", choices=sorted(TEMPLATES), default="default")
    args = parser.parse_args(argv)
    stream = Stream(args.keys, args.seed, shuffle=args.order == "random")
    template = TEMPLATES[args.detector]()
    keyed = run_keyed(stream, args.points, args.batch, template)
    single = run_single(stream, args.points, args.batch, template)
    text = table(args, keyed, single)
    print(text, end="")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


if __name__ == "__main__":
    main()
