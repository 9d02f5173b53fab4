"""``oddwatch fit``: learn from a history file and save the model; ``detect --model`` uses it.

The history goes through the same parsing and validation as ``oddwatch detect`` (same
flags), and every valid point is learned; nothing is flagged or written but the model, a
versioned oddwatch state file (one series, or one state per key with ``--key-col``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

from oddwatch import KeyedMonitor, Monitor
from oddwatch.cli._settings import (
    INPUT_OPTIONS,
    add_input_arguments,
    make_monitor,
    make_source,
    make_validator,
    read_settings,
)
from oddwatch.cli._text import problems_text
from oddwatch.errors import CheckpointError, InvalidInputError
from oddwatch.persist import save
from oddwatch.pipeline import RunStats
from oddwatch.pipeline import run as run_pipeline

__all__ = ["EPILOG", "HELP", "NAME", "add_arguments", "run"]

NAME = "fit"
HELP = "Learn from a history file and save the model for `oddwatch detect --model`."
EPILOG = """\
examples:
  oddwatch fit history.csv --save model.oddwatch
  oddwatch detect today.csv --model model.oddwatch --only-anomalies
  oddwatch fit metrics.jsonl --key-col host --value-col cpu --save hosts.oddwatch
  oddwatch fit history.csv --detector RollingZScore --param window_size=48 \\
      --threshold FixedThreshold --threshold-param value=4 --save z.oddwatch
  cat history.csv | oddwatch fit - --on-invalid skip --save model.oddwatch --json
"""

MODEL_KIND = "oddwatch.model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``fit`` flags."""
    parser.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="HISTORY",
        help="CSV or JSON Lines file, or - for stdin (default)",
    )
    parser.add_argument("--save", required=True, metavar="MODEL", help="where to save the model")
    add_input_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Learn from the history and save the model; returns the exit code."""
    started = time.perf_counter()
    s = read_settings(args, INPUT_OPTIONS)
    build = make_monitor(s)
    built: list[Monitor | KeyedMonitor] = []

    def monitor(keyed: bool) -> Monitor | KeyedMonitor:
        built.append(build(keyed))
        return built[0]

    source = make_source(s, s.batch)
    try:
        stats = run_pipeline(source, monitor, validator=make_validator(s))
    finally:
        source.close()
    if stats.valid == 0 or not built:
        raise InvalidInputError(
            f"{s.input}: no valid records to learn from ({stats.records_read} read"
            + problems_text(stats.invalid_by_kind)
            + "); the model was not saved. Check the columns (--value-col, --time-col) and "
            "the format."
        )
    engine = built[0]
    extra = {
        MODEL_KIND: {
            "version": 1,
            "input": s.input,
            "parser": source.parser_state(),
            "counts": {
                "read": stats.records_read,
                "valid": stats.valid,
                "skipped": stats.skipped,
                "flagged": stats.flagged_invalid,
            },
        }
    }
    try:
        save(engine, args.save, extra=extra)
    except OSError as exc:
        raise CheckpointError(
            f"cannot write the model {args.save!r}: {exc.strerror or exc}."
        ) from None
    _summary(stats, engine, args.save, s.json, time.perf_counter() - started)
    return 0


def _summary(
    stats: RunStats, engine: Monitor | KeyedMonitor, path: str, as_json: bool, seconds: float
) -> None:
    keyed = isinstance(engine, KeyedMonitor)
    summary: Mapping[str, Any] = {
        "read": stats.records_read,
        "valid": stats.valid,
        "skipped": stats.skipped,
        "flagged": stats.flagged_invalid,
        "problems": stats.invalid_by_kind,
        "gaps": stats.gaps,
        "keys": stats.keys if keyed else None,
        "evicted_keys": stats.evicted if keyed else None,
        "model": path,
        "kind": type(engine).__name__,
        "seconds": round(seconds, 3),
    }
    if as_json:
        print(json.dumps(summary), file=sys.stderr)
        return
    series = f" over {stats.keys} series" if keyed else ""
    print(
        f"learned {stats.valid} of {stats.records_read} records{series} "
        f"({stats.invalid} bad); saved {type(engine).__name__} to {path}",
        file=sys.stderr,
    )
