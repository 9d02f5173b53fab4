"""detect_stream on local Spark against KeyedMonitor in one process, on the same data.

For each series count S, writes ``--rounds`` parquet files of S rows (one point per series
per file, series in a fresh random order in each file), then in one child process per S:

1. single process: ``KeyedMonitor(max_keys=S).update_many`` on each file's rows (the files
   already in memory as numpy arrays; only the calls are timed);
2. Spark: starts a local session (timed: JVM start-up), streams the files one per micro-batch
   through :func:`oddwatch.spark.detect_stream` into Spark's ``noop`` sink with a checkpoint,
   and reads each micro-batch's duration and state size from the query's progress reports.

The first micro-batch creates every series and starts Python workers, so it is reported on
its own ("first batch"); steady-state rows/s are over the later batches. State bytes per
series are the bucket blobs (what the checkpoint stores per batch) and Spark's state store
memory (``memoryUsedBytes``, which keeps the versions Spark retains), each divided by S.
Prints a markdown table and the cluster projection, and writes them to
``benchmarks/out/spark.md``.

"Spark floor" is a separate run (``--floor``): the same files, grouping and output schema
through ``applyInPandasWithState`` with a function that echoes its rows and keeps a 1-byte
state, i.e. what Spark costs before oddwatch does anything.

``--transform`` compares engines instead: per S, in one child process, ``detect_stream``
(``applyInPandasWithState``), the same bucket scoring through ``transformWithStateInPandas``
(RocksDB state store; needs ``protobuf``), then ``detect_stream`` again; the table goes to
``benchmarks/out/spark-transform.md``.

Run: ``python benchmarks/bench_spark.py [--series 10000 100000 1000000] [--rounds 6 6 4]``;
``--floor`` for the floor runs (JSON lines on stderr); ``--results FILE`` to redo the table
from saved JSON lines of both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).parent / "out" / "spark.md"
TARGET_SERIES = 10**7
TARGET_INTERVAL_S = 10.0


def write_files(directory: Path, n_series: int, rounds: int, seed: int = 0) -> None:
    """``rounds`` parquet files; file r holds every series' point at time r, shuffled."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    names = np.char.mod("host-%07d/cpu", np.arange(n_series))
    level = rng.uniform(10.0, 100.0, n_series)
    amplitude = rng.uniform(0.0, 10.0, n_series)
    period = rng.choice([12, 24, 60], n_series)
    start = pd.Timestamp("2026-12-06", tz="UTC")
    for r in range(rounds):
        order = rng.permutation(n_series)
        values = level + amplitude * np.sin(2 * np.pi * r / period) + rng.normal(0, 1, n_series)
        frame = pd.DataFrame(
            {
                "host": names[order],
                "ts": start + pd.Timedelta(seconds=10 * r),
                "cpu": values[order],
            }
        )
        path = directory / f"round-{r:04d}.parquet"
        frame.to_parquet(path, index=False, coerce_timestamps="us")
        os.utime(path, (1_700_000_000 + r, 1_700_000_000 + r))


def run_single(directory: Path, n_series: int) -> dict[str, float]:
    import pyarrow.parquet as pq

    from oddwatch import KeyedMonitor

    files = sorted(directory.glob("*.parquet"))
    batches = []
    for path in files:
        table = pq.read_table(path)
        keys = table.column("host").to_numpy(zero_copy_only=False).astype(str)
        batches.append((keys, table.column("cpu").to_numpy()))
    monitor = KeyedMonitor(max_keys=n_series)
    times = []
    for keys, values in batches:
        t0 = time.perf_counter()
        monitor.update_many(keys, values)
        times.append(time.perf_counter() - t0)
    steady = sum(times[1:])
    from oddwatch.spark._state import encode_monitor

    blob = len(encode_monitor(monitor, buckets=1))
    return {
        "single_first_s": times[0],
        "single_rows_per_s": n_series * (len(times) - 1) / steady,
        "blob_bytes_per_series": blob / n_series,
    }


def passthrough(stream: Any, buckets: int) -> Any:
    """Spark's floor: the same bucket grouping and output, no oddwatch, a 1-byte state."""
    from pyspark.sql import functions as F
    from pyspark.sql.streaming.state import GroupStateTimeout

    from oddwatch.spark import output_schema

    def echo(key: Any, frames: Any, state: Any) -> Any:
        import pandas as pd

        for frame in frames:
            yield pd.DataFrame(
                {
                    "key": frame["host"],
                    "timestamp": frame["ts"],
                    "value": frame["cpu"],
                    "score": float("nan"),
                    "is_anomaly": False,
                    "threshold": float("nan"),
                    "reason": "",
                }
            )
        state.update((b"x",))

    grouped = stream.withColumn("b", F.pmod(F.hash("host"), F.lit(buckets))).groupBy("b")
    schema = output_schema(stream.schema["ts"].dataType)
    return grouped.applyInPandasWithState(
        echo, schema, "blob binary", "append", GroupStateTimeout.NoTimeout
    )


# the shipped engine runs before and after the candidate; its two runs are averaged
ENGINE_ORDER = ("apply", "transform", "apply")
ROCKSDB = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"


def detect_transform(stream: Any, n_series: int, buckets: int) -> Any:
    """``detect_stream``'s bucket scoring through ``transformWithStateInPandas`` instead.

    The same grouping, :func:`~oddwatch.spark._bucket.score_bucket` and state blob, kept in a
    ``ValueState`` of the state API v2 (PySpark 4; needs protobuf and the RocksDB state store).
    """
    from pyspark.sql import functions as F
    from pyspark.sql.streaming import StatefulProcessor

    from oddwatch import KeyedMonitor
    from oddwatch.spark import output_schema
    from oddwatch.spark._bucket import score_bucket
    from oddwatch.spark._state import monitor_spec

    spec = monitor_spec(KeyedMonitor(max_keys=int(1.3 * n_series / buckets) + 64))

    class BucketProcessor(StatefulProcessor):  # type: ignore[misc]
        def init(self, handle: Any) -> None:
            self.blob = handle.getValueState("blob", "blob binary")

        def handleInputRows(self, key: Any, rows: Any, timerValues: Any) -> Any:  # noqa: N802
            blob = bytes(self.blob.get()[0]) if self.blob.exists() else None
            frames = (f.drop(columns="b") for f in rows)
            out, new_blob = score_bucket(spec, buckets, frames, blob)
            self.blob.update((new_blob,))
            yield out

        def close(self) -> None:
            pass

    rows = stream.select(
        F.col("host").alias("key"), F.col("ts").alias("timestamp"), F.col("cpu").alias("value")
    ).withColumn("b", F.pmod(F.hash("key"), F.lit(buckets)).cast("int"))
    return rows.groupBy("b").transformWithStateInPandas(
        BucketProcessor(), output_schema(stream.schema["ts"].dataType), "Append", "None"
    )


def run_spark(
    directory: Path,
    n_series: int,
    buckets: int,
    memory: str,
    engine: str = "apply",
) -> dict[str, float]:
    """Stream the files through ``engine``: ``"apply"`` (detect_stream, as shipped),
    ``"transform"`` (:func:`detect_transform`) or ``"floor"`` (:func:`passthrough`)."""
    from oddwatch import KeyedMonitor
    from oddwatch.spark import detect_stream, local_session

    t0 = time.perf_counter()
    spark = local_session(
        cores=2,
        shuffle_partitions=buckets,
        conf={"spark.driver.memory": memory}
        | (
            {"spark.sql.streaming.stateStore.providerClass": ROCKSDB}
            if engine == "transform"
            else {}
        ),
    )
    startup = time.perf_counter() - t0
    per_bucket = int(1.3 * n_series / buckets) + 64
    stream = (
        spark.readStream.schema("host string, ts timestamp, cpu double")
        .option("maxFilesPerTrigger", 1)
        .parquet(str(directory))
    )
    flags = (
        passthrough(stream, buckets)
        if engine == "floor"
        else detect_transform(stream, n_series, buckets)
        if engine == "transform"
        else detect_stream(
            stream,
            key="host",
            time="ts",
            value="cpu",
            monitor=KeyedMonitor(max_keys=per_bucket),
            buckets=buckets,
        )
    )
    with tempfile.TemporaryDirectory() as checkpoint:
        query = (
            flags.writeStream.format("noop")
            .option("checkpointLocation", checkpoint)
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        progress = [p for p in query.recentProgress if p["numInputRows"]]
    spark.stop()
    for p in progress:
        print(json.dumps(p["durationMs"]), file=sys.stderr)
    durations = [p["durationMs"]["triggerExecution"] / 1000 for p in progress]
    state = progress[-1]["stateOperators"][0]
    return {
        "startup_s": startup,
        "first_batch_s": durations[0],
        "batches": len(durations),
        "spark_rows_per_s": n_series * (len(durations) - 1) / sum(durations[1:]),
        "batch_s": float(np.median(durations[1:])),
        "state_store_bytes_per_series": state["memoryUsedBytes"] / n_series,
        "state_commit_s": state["commitTimeMs"] / 1000,
    }


def bucket_cost(n_keys: int, rounds: int = 4) -> dict[str, float]:
    """Seconds for one bucket of ``n_keys`` series, one point each: the Python work per batch.

    Times :func:`~oddwatch.spark._bucket.score_bucket` as Spark calls it (decode the blob,
    sort, ``update_many``, reasons, encode) on pandas frames, after a first round that
    creates the keys; no JVM, no Arrow transfer.
    """
    import pandas as pd

    from oddwatch import KeyedMonitor
    from oddwatch.spark._bucket import score_bucket
    from oddwatch.spark._state import monitor_spec

    rng = np.random.default_rng(1)
    spec = monitor_spec(KeyedMonitor(max_keys=int(1.3 * n_keys) + 64))
    names = np.char.mod("host-%07d/cpu", np.arange(n_keys)).astype(object)
    blob, times = None, []
    for r in range(rounds):
        frame = pd.DataFrame(
            {"key": names, "timestamp": np.int64(r), "value": rng.normal(50, 5, n_keys)}
        )
        t0 = time.perf_counter()
        _, blob = score_bucket(spec, 1, [frame], blob)
        times.append(time.perf_counter() - t0)
    steady = float(np.median(times[1:]))
    return {"bucket_keys": n_keys, "bucket_s": steady, "bucket_rows_per_s": n_keys / steady}


def child(n_series: int, rounds: int, buckets: int, memory: str, mode: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_files(directory, n_series, rounds)
        result: dict[str, Any] = {"series": n_series, "rounds": rounds, "buckets": buckets}
        if mode == "floor":
            spark = run_spark(directory, n_series, buckets, memory, "floor")
            result["floor_rows_per_s"] = spark["spark_rows_per_s"]
        elif mode == "transform":  # apply, transform, apply on the same files, in one JVM
            runs = [run_spark(directory, n_series, buckets, memory, e) for e in ENGINE_ORDER]
            for engine in set(ENGINE_ORDER):
                mine = [r for e, r in zip(ENGINE_ORDER, runs, strict=True) if e == engine]
                for name in ("first_batch_s", "spark_rows_per_s", "batch_s"):
                    result[f"{engine}_{name}"] = float(np.mean([r[name] for r in mine]))
        else:
            result.update(run_single(directory, n_series))
            result.update(run_spark(directory, n_series, buckets, memory))
    print(json.dumps(result))


def bucket_table(costs: list[dict[str, float]]) -> str:
    head = "| series per bucket | Python work per bucket and batch | rows/s per core |\n"
    head += "|---:|---:|---:|\n"
    lines = [
        f"| {c['bucket_keys']:,} | {c['bucket_s'] * 1000:,.1f} ms | {c['bucket_rows_per_s']:,.0f} |"
        for c in costs
    ]
    return head + "\n".join(lines) + "\n"


def table(results: list[dict[str, float]]) -> str:
    head = (
        "| series | batches x rows | buckets | Spark rows/s | one process rows/s | ratio |"
        " Spark batch | first batch | session start | blob B/series | state store B/series |"
        " Spark floor rows/s |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = []
    for r in results:
        lines.append(
            f"| {r['series']:,} | {r['rounds']} x {r['series']:,} | {r['buckets']} |"
            f" {r['spark_rows_per_s']:,.0f} | {r['single_rows_per_s']:,.0f} |"
            f" {r['single_rows_per_s'] / r['spark_rows_per_s']:.0f}x slower |"
            f" {r['batch_s']:.2f} s | {r['first_batch_s']:.1f} s | {r['startup_s']:.1f} s |"
            f" {r['blob_bytes_per_series']:,.0f} | {r['state_store_bytes_per_series']:,.0f} |"
            f" {r.get('floor_rows_per_s', float('nan')):,.0f} |"
        )
    return head + "\n".join(lines) + "\n"


def transform_table(results: list[dict[str, float]]) -> str:
    head = (
        "| series | batches x rows | buckets | applyInPandasWithState rows/s (batch) |"
        " transformWithStateInPandas rows/s (batch) | transform / apply |"
        " first batch (apply / transform) |\n|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    lines = [
        f"| {r['series']:,} | {r['rounds']} x {r['series']:,} | {r['buckets']} |"
        f" {r['apply_spark_rows_per_s']:,.0f} ({r['apply_batch_s']:.1f} s) |"
        f" {r['transform_spark_rows_per_s']:,.0f} ({r['transform_batch_s']:.1f} s) |"
        f" {r['transform_spark_rows_per_s'] / r['apply_spark_rows_per_s']:.2f} |"
        f" {r['apply_first_batch_s']:.1f} s / {r['transform_first_batch_s']:.1f} s |"
        for r in results
    ]
    return head + "\n".join(lines) + "\n"


def projection(largest: dict[str, float], cost: dict[str, float]) -> str:
    """Executor cores for 10^7 series at one point per 10 s: two bounds, from two costs.

    Lower bound: the Python work per bucket alone (``cost``, buckets of the same size as in
    the largest run). Upper bound: the largest local run end to end, per core, which also
    pays Spark's scan, shuffle, Arrow transfer and state store commit on the same 2 cores.
    """
    rate = TARGET_SERIES / TARGET_INTERVAL_S
    buckets = TARGET_SERIES / cost["bucket_keys"]
    python_cores = buckets * cost["bucket_s"] / TARGET_INTERVAL_S
    local_per_core = largest["spark_rows_per_s"] / 2
    local_cores = rate / local_per_core
    state_gb = TARGET_SERIES * largest["blob_bytes_per_series"] / 1e9
    return (
        f"{TARGET_SERIES:,} series at one point per {TARGET_INTERVAL_S:.0f} s is {rate:,.0f} "
        f"rows/s, in {buckets:,.0f} buckets of {cost['bucket_keys']:,} series:\n\n"
        f"- Python work per bucket ({cost['bucket_s']:.2f} s per bucket and batch): "
        f"{python_cores:.0f} cores busy per {TARGET_INTERVAL_S:.0f} s trigger (lower bound).\n"
        f"- End to end as measured here ({local_per_core:,.0f} rows/s per local core): "
        f"{local_cores:,.0f} cores (upper bound: local mode on a shared 2-core machine).\n"
        f"- State: {state_gb:.1f} GB of blobs, all rewritten to the checkpoint every "
        f"micro-batch ({state_gb / TARGET_INTERVAL_S:.1f} GB/s at a "
        f"{TARGET_INTERVAL_S:.0f} s trigger), held twice in executor memory by the state store "
        f"(two retained versions).\n"
    )


def run_child(n_series: int, rounds: int, args: argparse.Namespace) -> dict[str, float]:
    print(f"running {n_series:,} series x {rounds} rounds ...", file=sys.stderr)
    command = [sys.executable, __file__, "--child", str(n_series), str(rounds)]
    command += ["--buckets", str(args.buckets), "--memory", args.memory]
    command += ["--floor"] if args.floor else ["--transform"] if args.transform else []
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(result), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, nargs="+", default=[10**4, 10**5, 10**6])
    parser.add_argument("--rounds", type=int, nargs="+", default=[6, 6, 4])
    parser.add_argument("--buckets", type=int, default=16)
    parser.add_argument("--memory", default="12g", help="spark.driver.memory")
    parser.add_argument(
        "--results", help="JSON lines of earlier child runs: skip the Spark runs, redo the table"
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="measure only Spark's pass-through floor (same grouping, no oddwatch)",
    )
    parser.add_argument(
        "--transform",
        action="store_true",
        help="compare applyInPandasWithState with transformWithStateInPandas (RocksDB)",
    )
    parser.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    mode = "floor" if args.floor else "transform" if args.transform else "both"
    if args.child:
        child(args.child[0], args.child[1], args.buckets, args.memory, mode)
        return
    if args.transform:
        results = [run_child(n, r, args) for n, r in zip(args.series, args.rounds, strict=True)]
        report = transform_table(results)
        OUT.parent.mkdir(exist_ok=True)
        (OUT.parent / "spark-transform.md").write_text(report)
        print(report)
        return
    if args.floor:
        for n, r in zip(args.series, args.rounds, strict=True):
            run_child(n, r, args)
        return
    if args.results:
        lines = [json.loads(line) for line in Path(args.results).read_text().splitlines()]
        floors = {r["series"]: r["floor_rows_per_s"] for r in lines if "floor_rows_per_s" in r}
        results = [r for r in lines if "floor_rows_per_s" not in r]
        for r in results:
            r["floor_rows_per_s"] = floors.get(r["series"], float("nan"))
    else:
        results = [run_child(n, r, args) for n, r in zip(args.series, args.rounds, strict=True)]
    costs = [bucket_cost(int(r["series"] // r["buckets"])) for r in results]
    load = os.getloadavg()[0]
    report = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (load average "
        f"{load:.1f} at the end), Python {platform.python_version()}\n\n{table(results)}\n"
        f"{bucket_table(costs)}\n{projection(results[-1], costs[-1])}"
    )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
