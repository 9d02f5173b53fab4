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
from typing import Any

from oddwatch.cli._pipeline import INPUT_OPTIONS, Pipeline, add_input_arguments, read_settings, warn
from oddwatch.errors import CheckpointError, InvalidInputError
from oddwatch.keyed import KeyedMonitor
from oddwatch.persist import save
from oddwatch.sources.files import FileSource
from oddwatch.sources.records import RateLimiter, Validator

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
    s, detector, threshold = read_settings(args, INPUT_OPTIONS)
    limiter = RateLimiter(lambda message: None if s["quiet"] else warn(message))
    validator = Validator(
        s["on_invalid"],
        max_gap=s["max_gap"],
        max_keys=s["max_keys"],
        limiter=limiter,
        hint="Use --on-invalid skip or flag to go on past bad records.",
    )
    pipeline = Pipeline(
        validator,
        None,
        detector.build("detector"),
        threshold.build("threshold"),
        max_keys=s["max_keys"],
    )
    source = FileSource(
        args.input,
        s["format"],
        time_col=s["time_col"],
        value_col=s["value_col"],
        key_col=s["key_col"],
        header=s["header"],
        chunk_lines=s["batch"],
    )
    try:
        for records in source:
            error = pipeline.process(records)[1]
            if error is not None:
                raise InvalidInputError(error)
    finally:
        source.close()
    columns = source.parser.columns if source.parser is not None else None
    engine = pipeline.ensure_engine(columns is not None and columns.key is not None)
    extra = {
        MODEL_KIND: {
            "version": 1,
            "input": args.input,
            "parser": source.parser_state(),
            "counts": validator.counts(),
        }
    }
    try:
        save(engine, args.save, extra=extra)
    except OSError as exc:
        raise CheckpointError(
            f"cannot write the model {args.save!r}: {exc.strerror or exc}."
        ) from None
    _summary(validator, engine, args.save, s["json"], time.perf_counter() - started)
    return 0


def _summary(validator: Validator, engine: Any, path: str, as_json: bool, seconds: float) -> None:
    counts = validator.counts()
    keyed = isinstance(engine, KeyedMonitor)
    summary = {
        **counts,
        "problems": validator.problems(),
        "gaps": validator.n_gaps,
        "keys": engine.n_keys_ if keyed else None,
        "evicted_keys": engine.n_evicted_ if keyed else None,
        "model": path,
        "kind": type(engine).__name__,
        "seconds": round(seconds, 3),
    }
    if as_json:
        print(json.dumps(summary), file=sys.stderr)
        return
    series = f" over {engine.n_keys_} series" if keyed else ""
    print(
        f"learned {counts['valid']} of {counts['read']} records{series} "
        f"({counts['skipped'] + counts['flagged']} bad); saved {type(engine).__name__} "
        f"to {path}",
        file=sys.stderr,
    )
