"""Speed, memory and accuracy of every detector on one simulated stream, with two references.

In one run, on the same 100,000-point simulated stream (``simulate(n_points=N, seed=1)``,
missing values dropped), for every registered detector with default parameters:

* points/s via ``update`` in a Python loop and via ``update_many`` (kernels compiled first);
* state size in bytes (everything a checkpoint holds) after the whole stream, and the peak
  memory traced by ``tracemalloc`` while building the detector and scoring the whole stream
  (state + the 100k-point output; allocations inside numba kernels are not traced);
* event F1 (tolerance 10 points) at the best threshold in hindsight ("oracle", so detectors
  whose scores live on different scales compare fairly), and the default Monitor's own flags.

References, measured in the same run:

* the original spec's approach: scikit-learn ``IsolationForest`` (100 trees) refit on the last
  10 points at every point, scoring the newest point; timed on a prefix (``--spec-points``),
  and its F1 compared with ours on that same prefix;
* River's ``HalfSpaceTrees`` (min-max scaled causally, ``score_one`` then ``learn_one``).

The default ``Monitor()`` (detector, threshold and alarm stage, with a verdict per point) is
timed the same two ways: ``Monitor.update`` in a Python loop is the per-point path River users
call, and its ratio to River's HalfSpaceTrees is printed below the table; ``update_many`` is
compared with its own detector's and threshold's ``update_many`` run one after the other (the
stages alone, without the alarm stage and the verdict arrays).

Ratios are against those references. Prints a markdown table and writes ``benchmarks/out/
detectors.md``. Run: ``python benchmarks/bench_detectors.py [--points N] [--spec-points M]``.
"""

from __future__ import annotations

import argparse
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

from oddwatch import Monitor
from oddwatch.detectors import __all__ as detector_names
from oddwatch.evaluate import event_metrics
from oddwatch.persist import registered_kinds
from oddwatch.sources import simulate

OUT = Path(__file__).parent / "out" / "detectors.md"
TOLERANCE = 10


def best_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    """Best event F1 over thresholds at 80 tail quantiles of the scores (oracle)."""
    finite = np.nan_to_num(scores, nan=-np.inf)
    levels = 1.0 - np.logspace(-5, -0.7, 80)
    candidates = np.unique(np.quantile(scores[np.isfinite(scores)], levels))
    return max(event_metrics(labels, finite > t, tolerance=TOLERANCE).f1 for t in candidates)


def spec_scores(values: np.ndarray) -> tuple[np.ndarray, float]:
    """The spec's approach: refit sklearn's IsolationForest on the last 10 points each point."""
    from sklearn.ensemble import IsolationForest as SkIsolationForest

    out = np.full(len(values), np.nan)
    start = time.perf_counter()
    for i in range(10, len(values)):
        window = values[i - 9 : i + 1].reshape(-1, 1)
        model = SkIsolationForest(n_estimators=100, random_state=0).fit(window)
        out[i] = -model.score_samples(values[i : i + 1].reshape(-1, 1))[0]
    return out, (len(values) - 10) / (time.perf_counter() - start)


def _river_run(values: np.ndarray) -> np.ndarray:
    from river import anomaly, preprocessing

    scaler, model = preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=42)
    out = np.empty(len(values))
    for i, x in enumerate(values.tolist()):
        point = {"x": x}
        scaled = scaler.transform_one(point)
        out[i] = model.score_one(scaled)
        model.learn_one(scaled)
        scaler.learn_one(point)
    return out


def river_scores(values: np.ndarray) -> tuple[np.ndarray, float, int]:
    """River's scores and points/s (untraced), then its peak memory on a traced second run."""
    start = time.perf_counter()
    out = _river_run(values)
    speed = len(values) / (time.perf_counter() - start)
    tracemalloc.start()
    _river_run(values[:20_000])  # its model has a fixed size; a prefix shows the peak
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, speed, peak


def measure(name: str, values: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    cls = registered_kinds()[name]
    cls().update_many(values[:300])  # compile / load the kernels of both paths
    cls().update(float(values[0]))
    tracemalloc.start()
    detector = cls()
    start = time.perf_counter()
    scores = detector.update_many(values)
    many = len(values) / (time.perf_counter() - start)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    loop_detector, loop_points = cls(), values[: min(len(values), 50_000)].tolist()
    start = time.perf_counter()
    for x in loop_points:
        loop_detector.update(x)
    loop = len(loop_points) / (time.perf_counter() - start)
    state = sum(a.nbytes for a in detector.get_state().values())
    return {"many": many, "loop": loop, "state": state, "peak": peak, "f1": best_f1(labels, scores)}


def _stages_alone(values: np.ndarray) -> float:
    """Seconds for the default Monitor's detector, then its threshold, each ``update_many``.

    The Monitor's own work without its alarm stage and verdict arrays: the reference its
    ``update_many`` is compared with (the best of three runs, like the Monitor's).
    """
    best = np.inf
    for _ in range(3):
        reference = Monitor()
        detector, threshold = reference.detector_, reference.threshold_
        start = time.perf_counter()
        threshold.update_many(detector.update_many(values))
        best = min(best, time.perf_counter() - start)
    return float(best)


def measure_monitor(values: np.ndarray) -> dict[str, float]:
    """The default Monitor's points/s through update_many and through update in a loop.

    ``update_many`` is timed three times (best kept), beside the detector and threshold
    alone (:func:`_stages_alone`) in the same run.
    """
    Monitor().update_many(values[:300])
    _stages_alone(values[:300])
    warm = Monitor()
    for x in values[:300].tolist():
        warm.update(x)
    best = np.inf
    for _ in range(3):
        monitor = Monitor()
        start = time.perf_counter()
        monitor.update_many(values)
        best = min(best, time.perf_counter() - start)
    many = len(values) / best
    stages = len(values) / _stages_alone(values)
    monitor, points = Monitor(), values[: min(len(values), 50_000)].tolist()
    start = time.perf_counter()
    for x in points:
        monitor.update(x)
    loop = len(points) / (time.perf_counter() - start)
    return {"many": many, "stages": stages, "loop": loop}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--spec-points", type=int, default=5000)
    args = parser.parse_args()
    sim = simulate(n_points=args.points, seed=1)
    ok = np.isfinite(sim.values)
    values, labels = sim.values[ok], sim.labels[ok]
    names = [n for n in detector_names if n != "Detector"]
    rows = {n: measure(n, values, labels) for n in names}
    monitor_speed = measure_monitor(values)
    monitor_flags = Monitor().update_many(values).is_anomaly
    monitor_f1 = event_metrics(labels, monitor_flags, tolerance=TOLERANCE).f1
    river, river_speed, river_peak = river_scores(values)
    river_f1 = best_f1(labels, river)
    prefix = args.spec_points
    spec, spec_speed = spec_scores(values[:prefix])
    spec_f1 = best_f1(labels[:prefix], spec)
    iforest = registered_kinds()["IsolationForest"]()
    ours_prefix_f1 = best_f1(labels[:prefix], iforest.update_many(values[:prefix]))

    lines = [
        f"Simulated stream: {len(values):,} points (seed 1), "
        f"{platform.processor() or platform.machine()}, {platform.python_version()}. "
        f"Event F1 with tolerance {TOLERANCE}, best threshold in hindsight.",
        "",
        "| detector | update_many points/s | update loop points/s | x River HST (loop) "
        "| x spec approach (loop) | state bytes | peak traced MB | x River peak | best F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['many']:,.0f} | {r['loop']:,.0f} | {r['loop'] / river_speed:,.1f} "
            f"| {r['loop'] / spec_speed:,.0f} | {r['state']:,.0f} | {r['peak'] / 1e6:,.1f} "
            f"| {r['peak'] / river_peak:.2f} | {r['f1']:.3f} |"
        )
    lines.append(
        f"| River HalfSpaceTrees (reference) | - | {river_speed:,.0f} | 1.0 | "
        f"{river_speed / spec_speed:,.0f} | - | {river_peak / 1e6:,.1f} | 1.00 "
        f"| {river_f1:.3f} |"
    )
    lines.append(
        f"| spec: sklearn IsolationForest refit per point on 10 points (reference, first "
        f"{prefix} points) | - | {spec_speed:,.1f} | - | 1 | - | - | - | {spec_f1:.3f} |"
    )
    lines += [
        "",
        "Default `Monitor()` (detector + threshold + alarm stage + verdict): "
        f"`update_many` {monitor_speed['many']:,.0f} points/s "
        f"({monitor_speed['many'] / monitor_speed['stages']:.2f}x its detector's and "
        f"threshold's own `update_many` in sequence, {monitor_speed['stages']:,.0f} points/s), "
        "`update` in a loop "
        f"{monitor_speed['loop']:,.0f} points/s = "
        f"{monitor_speed['loop'] / river_speed:,.1f}x River HalfSpaceTrees per point.",
        "",
        "Default `Monitor()` own flags (no oracle), event F1 on the whole stream: "
        f"{monitor_f1:.3f}.",
        f"On the first {prefix} points, best F1: spec approach {spec_f1:.3f}, "
        f"`IsolationForest()` {ours_prefix_f1:.3f}.",
    ]
    text = "\n".join(lines)
    print(text)
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(text + "\n")


if __name__ == "__main__":
    main()
