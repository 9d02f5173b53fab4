"""``oddwatch spark-detect``: score a directory of files with Spark, restartable from a checkpoint.

Reads the parquet, CSV or JSON Lines files of ``INPUT_DIR`` as a Spark file stream (files are
taken oldest modification time first, ``--max-files-per-trigger`` per micro-batch), scores
them with :func:`oddwatch.spark.detect_stream`, and appends the output records to ``--out``
as files of ``--out-format``. By default it processes the files present and stops; run it
again later to continue from ``--checkpoint`` with the files added since. With ``--interval
SECONDS`` it keeps watching until interrupted.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any

from oddwatch import errors
from oddwatch.keyed import KeyedMonitor
from oddwatch.spark._deps import require

__all__ = ["EPILOG", "HELP", "NAME", "add_arguments", "run"]

NAME = "spark-detect"
HELP = "Score a directory of files on Apache Spark, one state per key, restartable."
EPILOG = """\
examples:
  oddwatch spark-detect points/ --checkpoint ck/ --out flags/ --key-col host \\
      --time-col ts --value-col cpu
  oddwatch spark-detect points/ --checkpoint ck/ --out flags/ --key-col host \\
      --detector RollingZScore --param window_size=48 --buckets 64 --master local[4]
  oddwatch spark-detect points/ --checkpoint ck/ --out flags/ --interval 10

needs: pip install 'oddwatch[spark]' and Java 17+; see docs/scale-out.md
"""

_FORMATS = ("parquet", "csv", "json")
_TIME_NAMES = ("timestamp", "time", "ts", "datetime", "date")
_VALUE_NAMES = ("value", "val", "y")
_KEY_NAMES = ("key", "series")
_ERROR = re.compile(r"oddwatch\.errors\.(\w+): (.*)")


# flag -> argparse settings (--detector to --on-invalid are read as `oddwatch detect` reads them)
_FLAGS: dict[str, dict[str, Any]] = {
    "--checkpoint": {"required": True, "metavar": "DIR", "help": "Spark checkpoint directory"},
    "--out": {"required": True, "metavar": "DIR", "help": "directory the output files go to"},
    "--format": {"choices": _FORMATS, "help": "input format (default: from the file extensions)"},
    "--out-format": {"choices": _FORMATS, "default": "parquet", "help": "output files (parquet)"},
    "--key-col": {"metavar": "COL", "help": "series key column (default: a column key/series)"},
    "--time-col": {"metavar": "COL", "help": "event time (default: timestamp/time/ts/datetime)"},
    "--value-col": {"metavar": "COL", "help": "value column (default: value/val/y)"},
    "--detector": {"metavar": "NAME", "help": "detector (default: DualSurpriseDetector)"},
    "--param": {
        "action": "append",
        "default": [],
        "metavar": "KEY=VALUE",
        "help": "a detector parameter",
    },
    "--threshold": {"metavar": "NAME", "help": "threshold (default: the detector's default)"},
    "--threshold-param": {
        "action": "append",
        "default": [],
        "metavar": "KEY=VALUE",
        "help": "a threshold parameter",
    },
    "--max-keys": {"type": int, "metavar": "N", "help": "most series per bucket (10000)"},
    "--buckets": {"type": int, "default": 16, "metavar": "N", "help": "fixed per checkpoint (16)"},
    "--on-invalid": {"choices": ("raise", "skip", "flag"), "help": "bad rows (default flag)"},
    "--only-anomalies": {"action": "store_true", "help": "write flagged records only"},
    "--master": {"default": "local[*]", "metavar": "URL", "help": "Spark master (local[*])"},
    "--shuffle-partitions": {"type": int, "metavar": "N", "help": "default: --buckets"},
    "--max-files-per-trigger": {"type": int, "metavar": "N", "help": "files per micro-batch"},
    "--interval": {"type": float, "metavar": "SECONDS", "help": "keep watching, a batch each"},
    "--quiet": {"action": "store_true", "help": "no progress lines on stderr"},
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``spark-detect`` flags."""
    parser.add_argument("input", metavar="INPUT_DIR", help="directory of parquet/CSV/JSONL files")
    for flag, settings in _FLAGS.items():
        parser.add_argument(flag, **settings)


def run(args: argparse.Namespace) -> int:
    """Run the stream until the files are processed (or until interrupted); exit code."""
    from oddwatch.cli._settings import INPUT_OPTIONS, make_monitor, read_settings

    try:
        require("pyspark.sql")
    except ImportError as exc:
        raise errors.OddwatchError(str(exc)) from None
    # the detector, threshold, --max-keys and --on-invalid settings of `oddwatch detect`
    settings = read_settings(argparse.Namespace(**vars(args), config=None), INPUT_OPTIONS)
    built = make_monitor(settings)(True)
    monitor = KeyedMonitor(
        built.detector, built.threshold, settings.max_keys, on_invalid=settings.on_invalid
    )
    fmt = args.format or _guess_format(args.input)
    spark = _session(args)
    functions = require("pyspark.sql.functions")
    reader = spark.read.format(fmt)
    if fmt == "csv":
        reader = reader.option("header", True).option("inferSchema", True)
    try:
        schema = reader.load(args.input).schema
    except Exception as exc:  # Spark raises its own AnalysisException types
        raise errors.InvalidInputError(
            f"cannot read {fmt} files in {args.input!r}: {exc}"
        ) from None
    names = [f.name for f in schema.fields]
    key = _column("key", args.key_col, _KEY_NAMES, names)
    time_col = _column("time", args.time_col, _TIME_NAMES, names)
    value = _column("value", args.value_col, _VALUE_NAMES, names)
    stream = spark.readStream.format(fmt).schema(schema)
    if fmt == "csv":
        stream = stream.option("header", True)
    if args.max_files_per_trigger:
        stream = stream.option("maxFilesPerTrigger", args.max_files_per_trigger)
    points = stream.load(args.input)
    if schema[time_col].dataType.simpleString() == "string":
        points = points.withColumn(time_col, functions.try_to_timestamp(time_col))
    from oddwatch.spark.stream import detect_stream

    flags = detect_stream(
        points, key=key, time=time_col, value=value, monitor=monitor, buckets=args.buckets
    )
    if args.only_anomalies:
        flags = flags.where("is_anomaly")
    writer = (
        flags.writeStream.format(args.out_format)
        .option("path", args.out)
        .option("checkpointLocation", args.checkpoint)
    )
    if args.interval is None:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{args.interval} seconds")
    return _watch(writer.start(), args.quiet)


def _session(args: argparse.Namespace) -> Any:
    sql = require("pyspark.sql")
    partitions = args.shuffle_partitions or args.buckets
    builder = (
        sql.SparkSession.builder.master(args.master)
        .appName("oddwatch spark-detect")
        .config("spark.pyspark.python", sys.executable)
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
    )
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _guess_format(directory: str) -> str:
    from pathlib import Path

    path = Path(directory)
    if not path.is_dir():
        raise errors.InvalidParameterError(
            f"spark-detect reads a directory of files; {directory!r} is not a directory."
        )
    suffixes = {p.suffix.lower().lstrip(".") for p in path.iterdir() if p.is_file()}
    found = {"jsonl": "json", "ndjson": "json"}
    formats = {found.get(s, s) for s in suffixes} & set(_FORMATS)
    if len(formats) != 1:
        raise errors.InvalidParameterError(
            f"cannot tell the input format of {directory!r} from its file extensions "
            f"{sorted(suffixes)}; pass --format parquet, csv or json."
        )
    return formats.pop()


def _column(role: str, given: str | None, usual: tuple[str, ...], names: list[str]) -> str:
    if given is not None:
        if given not in names:
            raise errors.InvalidParameterError(
                f"--{role}-col {given!r} is not a column of the input; its columns are {names}."
            )
        return given
    for name in names:
        if name.lower() in usual:
            return name
    raise errors.InvalidParameterError(
        f"no {role} column found (looked for {', '.join(usual)}) among {names}; "
        f"name it with --{role}-col."
    )


def _watch(query: Any, quiet: bool) -> int:
    """Wait for the query, printing one progress line per micro-batch to stderr."""
    started, seen, rows = time.perf_counter(), -1, 0
    try:
        while not query.awaitTermination(1.0):
            seen, rows = _report(query, seen, rows, started, quiet)
    except KeyboardInterrupt:
        query.stop()
        raise
    except Exception as exc:  # StreamingQueryException carries the worker's traceback
        raise _oddwatch_error(exc) from None
    seen, rows = _report(query, seen, rows, started, quiet)
    if not quiet:
        print(
            f"done: {rows} records in {seen + 1} micro-batch{'es' if seen else ''}, "
            f"{time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    return 0


def _report(query: Any, seen: int, rows: int, started: float, quiet: bool) -> tuple[int, int]:
    for progress in query.recentProgress:
        batch = int(progress["batchId"])
        if batch <= seen or not progress["numInputRows"]:
            continue
        seen, rows = batch, rows + int(progress["numInputRows"])
        if not quiet:
            line = {"batch": batch, "records": progress["numInputRows"], "total": rows}
            line["seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps(line), file=sys.stderr)
    return seen, rows


def _oddwatch_error(exc: Exception) -> Exception:
    """Our error inside a Spark failure, as itself; anything else as a one-line error."""
    match = _ERROR.search(str(exc))
    kinds = {
        "InvalidInputError": errors.InvalidInputError,
        "CheckpointError": errors.CheckpointError,
    }
    if match and match.group(1) in kinds:
        return kinds[match.group(1)](match.group(2))
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return errors.OddwatchError(f"the Spark query failed: {first[:500]}")
