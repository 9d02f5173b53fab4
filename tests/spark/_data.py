"""Keyed test streams, the single-process reference, and Spark output read back for comparison."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd

import oddwatch.detectors as detectors_module
from oddwatch import KeyedMonitor
from oddwatch.errors import InvalidParameterError

COMPARED = ("value", "score", "threshold")


def keyed_detectors():
    """Every detector KeyedMonitor accepts at runtime, built from its test parameters."""
    found = []
    for name in detectors_module.__all__:
        cls = getattr(detectors_module, name)
        if not hasattr(cls, "_test_params"):
            continue
        detector = cls(**cls._test_params())
        try:
            KeyedMonitor(detector, max_keys=1)
        except InvalidParameterError:
            continue
        found.append(detector)
    return found


def points(n_keys=6, n_times=120, seed=0):
    """One row per key and time step: seasonal levels, noise, spikes, a stuck stretch."""
    rng = np.random.default_rng(seed)
    keys = [f"host-{i}" for i in range(n_keys)]
    t = np.repeat(np.arange(n_times), n_keys)
    key = np.tile(keys, n_times)
    level = np.tile(10.0 * np.arange(n_keys), n_times)
    value = level + 3.0 * np.sin(t / 2.0) + rng.normal(0, 1, t.size)
    value[rng.choice(t.size, t.size // 40, replace=False)] += 15.0
    stuck = (key == keys[0]) & (t >= n_times // 2) & (t < n_times // 2 + 20)
    value[stuck] = 7.0
    # Keys interleave in a different order at every time step.
    order = np.lexsort((rng.random(t.size), t))
    frame = pd.DataFrame({"host": key[order], "t": t[order], "cpu": value[order]})
    frame["ts"] = pd.Timestamp("2026-12-06", tz="UTC") + pd.to_timedelta(frame["t"] * 10, unit="s")
    return frame.reset_index(drop=True)


def reference(monitor, frame):
    """Single-process output of ``monitor`` on ``frame``'s rows in order, as output records."""
    result = monitor.update_many(frame["host"].to_numpy(), frame["cpu"].to_numpy())
    return pd.DataFrame(
        {
            "key": frame["host"].to_numpy(),
            "timestamp": _naive_utc(frame["ts"]).to_numpy(),
            "value": result.value,
            "score": result.score,
            "is_anomaly": result.is_anomaly,
            "threshold": result.threshold,
            "reason": [result.reason(i) for i in range(len(result))],
        }
    )


def cli_reference(frame, directory, detector=None, max_keys=64):
    """``oddwatch detect --key-col host`` on ``frame`` written as one CSV, as output records.

    Runs the real command in process (``detector`` with its parameters as ``--param`` flags,
    its default threshold) and reads back its JSON Lines output.
    """
    from oddwatch.cli.main import EXIT_OK, main

    os.makedirs(directory, exist_ok=True)
    source, out = os.path.join(directory, "all.csv"), os.path.join(directory, "flags.jsonl")
    rows = frame.assign(ts=frame["ts"].map(lambda t: t.isoformat()), cpu=frame["cpu"].map(repr))
    rows[["host", "ts", "cpu"]].to_csv(source, index=False)
    argv = ["detect", source, "--key-col", "host", "--time-col", "ts", "--value-col", "cpu"]
    argv += ["--max-keys", str(max_keys), "--out", out, "--quiet"]
    if detector is not None:
        argv += ["--detector", type(detector).__name__]
        for name, value in type(detector)._test_params().items():
            assert detector.get_params()[name] == value
            argv += ["--param", f"{name}={json.dumps(value)}"]
    assert main(argv) == EXIT_OK
    with open(out) as fh:
        records = pd.DataFrame([json.loads(line) for line in fh])
    times = pd.to_datetime(records["timestamp"], utc=True).dt.tz_convert(None)
    return pd.DataFrame(
        {
            "key": records["key"].astype(str),
            "timestamp": times.astype("datetime64[us]").to_numpy(),
            "value": records["value"].astype(np.float64),
            "score": records["score"].astype(np.float64),
            "is_anomaly": records["is_anomaly"].astype(bool),
            "threshold": records["threshold"].astype(np.float64),
            "reason": records["reason"].fillna(""),
        }
    )


def _naive_utc(times):
    """Timestamps as Spark hands them to pandas in a UTC session: tz-naive, in UTC."""
    return times.dt.tz_convert(None) if hasattr(times, "dt") and times.dt.tz else times


def by_key_time(frame):
    return frame.sort_values(["key", "timestamp"], kind="stable").reset_index(drop=True)


def assert_identical(got, want):
    """Row for row (matched on key and timestamp), floats bit for bit, flags and reasons."""
    got, want = by_key_time(got), by_key_time(want)
    assert len(got) == len(want)
    assert got["key"].tolist() == want["key"].tolist()
    assert (got["timestamp"].to_numpy() == want["timestamp"].to_numpy()).all()
    for column in COMPARED:
        a = got[column].to_numpy(np.float64).view(np.uint64)
        b = want[column].to_numpy(np.float64).view(np.uint64)
        bad = np.flatnonzero(a != b)
        assert bad.size == 0, f"{column} differs at {bad[:5]}: {got[column].iloc[bad[:5]]}"
    assert got["is_anomaly"].tolist() == want["is_anomaly"].tolist()
    # KeyedResult.reason(i) takes the "stuck value" test's previous value from the row before
    # i in the batch, whatever its key (pinned by an xfail test in test_state.py), so that one
    # wording can differ between one process and a bucket; every other reason must be equal.
    reasons = list(zip(got["reason"].fillna(""), want["reason"], strict=True))
    differ = [(i, a, b) for i, (a, b) in enumerate(reasons) if a != b]
    unexplained = [d for d in differ if "stopped changing" not in d[1] + d[2]]
    assert not unexplained, f"{len(unexplained)} reasons differ, e.g. {unexplained[:3]}"


def write_parts(frame, directory, n_parts, fmt="parquet"):
    """Split ``frame`` by time into ``n_parts`` files with increasing modification times."""
    os.makedirs(directory, exist_ok=True)
    bounds = np.linspace(0, frame["t"].max() + 1, n_parts + 1).astype(int)
    paths = []
    for i in range(n_parts):
        part = frame[(frame["t"] >= bounds[i]) & (frame["t"] < bounds[i + 1])]
        path = os.path.join(directory, f"part-{i:03d}.{fmt}")
        if fmt == "parquet":
            part.to_parquet(path, index=False, coerce_timestamps="us")
        elif fmt == "csv":
            part.to_csv(path, index=False)
        else:  # json.dumps writes floats as repr: they read back bit for bit
            records = part.assign(ts=part["ts"].map(lambda t: t.isoformat()))
            lines = [json.dumps(r) for r in records.to_dict("records")]
            with open(path, "w") as fh:
                fh.write("".join(line + "\n" for line in lines))
        stamp = 1_700_000_000 + i
        os.utime(path, (stamp, stamp))
        paths.append(path)
    return paths
