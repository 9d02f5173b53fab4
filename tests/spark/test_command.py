"""``oddwatch spark-detect``: a directory of files in, output files out, restartable."""

from __future__ import annotations

import argparse
import shutil

import pandas as pd
import pytest

from oddwatch import KeyedMonitor
from oddwatch.errors import InvalidInputError, InvalidParameterError
from oddwatch.spark import command

from ._data import assert_identical, cli_reference, points, reference, write_parts


def spark_detect(argv):
    """Parse and run like ``oddwatch spark-detect ARGV``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="oddwatch spark-detect")
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


def test_spark_detect_csv_with_restart_equals_detect(spark, tmp_path, capsys):
    frame = points(n_keys=4, n_times=60, seed=7)
    paths = write_parts(
        frame[["host", "ts", "cpu"]].assign(t=frame["t"]), tmp_path / "all", 3, "csv"
    )
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy2(paths[0], source)
    argv = [str(source), "--checkpoint", str(tmp_path / "ck"), "--out", str(tmp_path / "out")]
    argv += ["--key-col", "host", "--time-col", "ts", "--value-col", "cpu"]
    argv += ["--max-files-per-trigger", "1"]
    argv += ["--buckets", "3", "--on-invalid", "raise"]
    assert spark_detect(argv) == 0
    for path in paths[1:]:
        shutil.copy2(path, source)
    assert spark_detect(argv) == 0
    err = capsys.readouterr().err
    assert '"batch": 2' in err and "done: " in err
    got = spark.read.parquet(str(tmp_path / "out")).toPandas()
    assert_identical(got, cli_reference(frame, tmp_path / "cli", max_keys=10_000))
    assert_identical(got, reference(KeyedMonitor(on_invalid="raise"), frame))


def test_spark_detect_only_anomalies_and_detector_flags(spark, tmp_path):
    frame = points(n_keys=3, n_times=50, seed=8)
    write_parts(frame, tmp_path / "in", 1, "json")
    argv = [str(tmp_path / "in"), "--checkpoint", str(tmp_path / "ck"), "--out"]
    argv += [str(tmp_path / "out"), "--key-col", "host", "--value-col", "cpu", "--quiet"]
    argv += ["--detector", "RollingZScore", "--param", "window_size=6", "--only-anomalies"]
    argv += ["--threshold", "FixedThreshold", "--threshold-param", "value=3"]
    argv += ["--out-format", "json"]
    assert spark_detect(argv) == 0
    got = spark.read.json(str(tmp_path / "out")).toPandas()
    from oddwatch.detectors import RollingZScore
    from oddwatch.thresholds import FixedThreshold

    want = reference(KeyedMonitor(RollingZScore(window_size=6), FixedThreshold(3.0)), frame)
    assert len(got) > 0
    times = pd.to_datetime(got["timestamp"]).dt.tz_convert(None)
    assert_identical(got.assign(timestamp=times), want[want["is_anomaly"]])


def test_spark_detect_bad_value_under_raise_is_an_input_error(spark, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    (source / "a.csv").write_text(
        "host,ts,cpu\na,2026-12-06T00:00:00,1.0\na,2026-12-06T00:00:10,x\n"
    )
    argv = [str(source), "--checkpoint", str(tmp_path / "ck"), "--out", str(tmp_path / "out")]
    with pytest.raises(InvalidInputError, match="KeyedMonitor got .*nan.* for key 'a'"):
        spark_detect([*argv, "--key-col", "host", "--value-col", "cpu", "--on-invalid", "raise"])


@pytest.mark.parametrize(
    ("files", "extra", "message"),
    [
        ({"a.csv": "k,t,v\n", "b.json": "{}\n"}, [], "cannot tell the input format"),
        ({"a.csv": "host,ts,cpu\na,1,1.0\n"}, [], "no key column found"),
        ({"a.csv": "host,ts,cpu\na,1,1.0\n"}, ["--key-col", "nope"], "--key-col 'nope' is not"),
    ],
)
def test_spark_detect_configuration_errors(spark, tmp_path, files, extra, message):
    source = tmp_path / "in"
    source.mkdir()
    for name, text in files.items():
        (source / name).write_text(text)
    argv = [str(source), "--checkpoint", str(tmp_path / "ck"), "--out", str(tmp_path / "o")]
    with pytest.raises(InvalidParameterError, match=message):
        spark_detect(argv + extra)


def test_spark_detect_without_pyspark_says_what_to_install(tmp_path, monkeypatch):
    import importlib

    from oddwatch.errors import OddwatchError

    real_import = importlib.import_module

    def no_pyspark(name, *args):
        if name.startswith("pyspark"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_pyspark)
    with pytest.raises(OddwatchError, match=r"needs pyspark.*pip install 'oddwatch\[spark\]'"):
        spark_detect([str(tmp_path), "--checkpoint", "ck", "--out", "out"])
