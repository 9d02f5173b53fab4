"""detect_stream on Spark equals one process, bit for bit: ``oddwatch detect --key-col`` and
``KeyedMonitor.update_many``.

Streaming runs read parquet files one per micro-batch (``maxFilesPerTrigger=1``) and stop in
the middle; a second query restarts from the same ``checkpointLocation`` after more files
arrive, and the joined output must still equal the uninterrupted single-process run.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from oddwatch import KeyedMonitor
from oddwatch.detectors import RollingZScore
from oddwatch.errors import InvalidParameterError
from oddwatch.spark import detect_stream
from oddwatch.thresholds import FixedThreshold

from ._data import (
    assert_identical,
    cli_reference,
    keyed_detectors,
    points,
    reference,
    write_parts,
)

SCHEMA = "host string, t long, cpu double, ts timestamp"
DETECTORS = [pytest.param(d, id=type(d).__name__) for d in keyed_detectors()]


def run_files(spark, source, checkpoint, out, monitor, buckets=3):
    """Process every file now in ``source`` (one per micro-batch) and stop."""
    stream = spark.readStream.schema(SCHEMA).option("maxFilesPerTrigger", 1).parquet(source)
    flags = detect_stream(
        stream, key="host", time="ts", value="cpu", monitor=monitor, buckets=buckets
    )
    query = (
        flags.writeStream.format("parquet")
        .option("path", out)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return query


def read_out(spark, out):
    return spark.read.parquet(out).toPandas()


def test_at_least_the_two_keyed_detectors_are_covered():
    names = {type(d).__name__ for d in keyed_detectors()}
    assert {"SeasonalDetector", "RollingZScore"} <= names


def warmup_points(detector):
    """Points a detector needs before its first real score (on a plain noisy sine)."""
    xs = np.sin(np.arange(2000) / 3.0) + np.random.default_rng(0).normal(0, 0.3, 2000)
    finite = np.flatnonzero(np.isfinite(detector.clone().update_many(xs)))
    return int(finite[0]) if finite.size else xs.shape[0]


@pytest.mark.parametrize("detector", DETECTORS)
def test_stream_with_restart_equals_the_cli_and_one_process(spark, tmp_path, detector):
    # long enough that most of each key's points are past the detector's warm-up
    frame = points(n_keys=5, n_times=max(100, 2 * warmup_points(detector) + 20), seed=1)
    monitor = KeyedMonitor(detector, max_keys=64)
    staging, source = tmp_path / "staging", tmp_path / "in"
    paths = write_parts(frame, staging, 4)
    source.mkdir()
    for path in paths[:2]:
        shutil.copy2(path, source)
    checkpoint, out = str(tmp_path / "checkpoint"), str(tmp_path / "out")
    first = run_files(spark, str(source), checkpoint, out, monitor)
    assert first.lastProgress["batchId"] == 1  # two files, two micro-batches
    halfway = read_out(spark, out)
    for path in paths[2:]:
        shutil.copy2(path, source)
    second = run_files(spark, str(source), checkpoint, out, monitor)
    assert second.lastProgress["batchId"] == 3  # resumed at batch 2, not from scratch
    got = read_out(spark, out)
    assert len(halfway) == 2 * len(got) // 4
    assert_identical(got, cli_reference(frame, tmp_path / "cli", detector, max_keys=64))
    assert_identical(got, reference(monitor.clone(), frame))
    assert np.isfinite(got["score"]).mean() > 0.5  # past warm-up: real scores are compared


def test_rows_are_scored_in_event_time_order_within_a_batch(spark):
    frame = points(n_keys=3, n_times=60, seed=2)
    shuffled = frame.sample(frac=1.0, random_state=3)
    df = spark.createDataFrame(shuffled[["host", "t", "cpu", "ts"]])
    monitor = KeyedMonitor(RollingZScore(window_size=5), max_keys=8)
    got = detect_stream(df, key="host", time="ts", value="cpu", monitor=monitor, buckets=2)
    assert_identical(got.toPandas(), reference(monitor.clone(), frame))


def test_static_frame_with_numeric_time_and_int_keys(spark):
    frame = points(n_keys=4, n_times=80, seed=4)
    frame["host"] = frame["host"].str.slice(5).astype(int)
    df = spark.createDataFrame(frame[["host", "t", "cpu"]])
    monitor = KeyedMonitor(RollingZScore(window_size=8), FixedThreshold(3.0), max_keys=8)
    got = detect_stream(df, key="host", time="t", value="cpu", monitor=monitor, buckets=4)
    want = reference(monitor.clone(), frame.assign(host=frame["host"].astype(str), ts=frame["t"]))
    assert_identical(got.toPandas(), want)


def test_late_row_in_a_later_batch_is_scored_on_arrival(spark, tmp_path):
    frame = points(n_keys=2, n_times=40, seed=5)
    late = frame[(frame["host"] == "host-1") & (frame["t"] == 10)]
    early = frame.drop(late.index)
    source = tmp_path / "in"
    write_parts(early, source, 2)
    late.to_parquet(source / "part-late.parquet", index=False, coerce_timestamps="us")
    os.utime(source / "part-late.parquet", (1_800_000_000, 1_800_000_000))
    monitor = KeyedMonitor(RollingZScore(window_size=5), max_keys=8)
    run_files(spark, str(source), str(tmp_path / "ck"), str(tmp_path / "out"), monitor)
    got = read_out(spark, str(tmp_path / "out"))
    arrival = pd.concat([early.sort_values("t", kind="stable"), late], ignore_index=True)
    assert_identical(got, reference(monitor.clone(), arrival))


def test_restart_with_other_monitor_or_buckets_fails_with_a_clear_error(spark, tmp_path):
    frame = points(n_keys=2, n_times=20, seed=6)
    source = tmp_path / "in"
    paths = write_parts(frame, tmp_path / "staging", 2)
    source.mkdir()
    shutil.copy2(paths[0], source)
    checkpoint, out = str(tmp_path / "ck"), str(tmp_path / "out")
    run_files(spark, str(source), checkpoint, out, KeyedMonitor(RollingZScore(window_size=5)))
    shutil.copy2(paths[1], source)
    with pytest.raises(Exception, match="this query runs") as info:
        run_files(spark, str(source), checkpoint, out, KeyedMonitor(RollingZScore(window_size=6)))
    assert "Use a new checkpoint directory" in str(info.value)
    with pytest.raises(Exception, match="written with buckets=3 but this query has buckets=2"):
        run_files(
            spark, str(source), checkpoint, out, KeyedMonitor(RollingZScore(window_size=5)), 2
        )


def test_invalid_values_and_missing_keys_follow_on_invalid(spark):
    rows = [("a", 1, 1.0), ("a", 2, None), (None, 3, 2.0), ("a", None, 3.0), ("a", 4, 4.0)]
    df = spark.createDataFrame(rows, "host string, t long, cpu double")
    flagged = detect_stream(
        df, key="host", time="t", value="cpu", monitor=KeyedMonitor(on_invalid="flag")
    ).toPandas()
    reasons = dict(zip(flagged["value"].fillna(-1.0), flagged["reason"], strict=True))
    warming = "warming up: no score until the detector has learned 64 points"
    assert reasons == {
        1.0: warming,
        -1.0: "missing value",
        2.0: "missing key",
        3.0: "missing timestamp",
        4.0: warming,
    }
    assert flagged["is_anomaly"].sum() == 3
    with pytest.raises(Exception, match="KeyedMonitor got .*nan.* for key 'a'"):
        detect_stream(df, key="host", time="t", value="cpu").collect()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "nope"}, "no column 'nope' \\(given as `key`\\)"),
        ({"time": "host"}, "`time` column 'host' must be a timestamp, date or number"),
        ({"buckets": 0}, "`buckets` of detect_stream must be an int >= 1; got 0"),
        ({"monitor": RollingZScore()}, "`monitor` of detect_stream must be a KeyedMonitor"),
    ],
)
def test_bad_arguments_are_refused_before_running(spark, kwargs, message):
    df = spark.createDataFrame([("a", 1, 1.0)], "host string, t long, cpu double")
    args = {"key": "host", "time": "t", "value": "cpu", **kwargs}
    with pytest.raises(InvalidParameterError, match=message):
        detect_stream(df, **args)


def test_state_per_key_is_the_keyed_monitor_state(spark):
    """One bucket's blob is the KeyedMonitor state plus a small header, nothing per row."""
    from oddwatch.spark._state import encode_monitor

    monitor = KeyedMonitor(max_keys=100)
    keys = np.repeat([f"k{i}" for i in range(50)], 3)
    monitor.update_many(keys, np.arange(150.0))
    state_bytes = sum(a.nbytes for a in monitor.get_state().values())
    blob = encode_monitor(monitor, buckets=1)
    # the header names each of the ~45 state arrays (seasonal.scalars.level, ...): ~8 kB
    assert state_bytes < len(blob) < state_bytes + 16_384
