"""``oddwatch detect``: flag anomalies in a CSV or JSON Lines stream (file, stdin, or followed).

Each record goes through the validation policy (``--on-invalid``), its value through the
detector of its series, and out as one output record (``seq, key, timestamp, value, score,
is_anomaly, threshold, reason``) in JSON Lines or CSV; a summary goes to stderr at the end.
``--checkpoint`` makes the run resumable after a crash: re-running the same command
continues from the last checkpoint and, with ``--out FILE``, leaves the same file an
uninterrupted run would have written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from oddwatch.cli._checkpoint import (
    RunState,
    head_digest,
    read_checkpoint,
    verify_input,
    write_checkpoint,
)
from oddwatch.cli._pipeline import (
    INPUT_OPTIONS,
    Pipeline,
    add_input_arguments,
    load_model,
    read_settings,
    warn,
)
from oddwatch.errors import CheckpointError, InvalidInputError, InvalidParameterError
from oddwatch.keyed import KeyedMonitor
from oddwatch.sinks import CsvSink, FileSink, JsonlSink, WebhookSink
from oddwatch.sources.files import FileSource
from oddwatch.sources.records import RateLimiter, Validator

__all__ = ["EPILOG", "HELP", "NAME", "add_arguments", "run"]

NAME = "detect"
HELP = "Flag anomalies in a CSV or JSON Lines stream (file, stdin or a growing file)."
EPILOG = """\
examples:
  oddwatch simulate --points 5000 --out stream.csv
  oddwatch detect stream.csv --only-anomalies          # anomalies as JSON Lines on stdout
  oddwatch detect stream.csv --out flags.csv --on-invalid skip
  cat stream.csv | oddwatch detect - --only-anomalies --json
  oddwatch detect metrics.jsonl --key-col host --value-col cpu --max-keys 5000
  oddwatch detect app.csv --follow --only-anomalies --webhook http://127.0.0.1:8080/alerts
  oddwatch detect big.csv --out flags.jsonl --checkpoint run.ckpt   # re-run to resume
  oddwatch detect stream.csv --detector RollingZScore --param window_size=32 \\
      --threshold FixedThreshold --threshold-param value=4
  oddwatch fit history.csv --save model.oddwatch && oddwatch detect new.csv --model model.oddwatch

exit codes: 0 done, 2 usage/configuration/checkpoint error, 3 bad record under
--on-invalid raise (the message names the line), 130 interrupted.
"""

OPTIONS: dict[str, tuple[tuple[type, ...], Any]] = {
    **INPUT_OPTIONS,
    "out": ((str,), None),
    "out_format": ((str,), None),
    "only_anomalies": ((bool,), False),
    "follow": ((bool,), False),
    "poll_interval": ((int, float), 0.2),
    "idle_timeout": ((int, float), None),
    "model": ((str,), None),
    "checkpoint": ((str,), None),
    "checkpoint_every": ((int,), 10_000),
    "webhook": ((str,), None),
    "webhook_queue": ((int,), 1000),
    "webhook_retries": ((int,), 3),
    "webhook_timeout": ((int, float), 5.0),
}
_OUT_FORMATS = {"jsonl": JsonlSink, "csv": CsvSink}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``detect`` flags (all default to None so a config file can fill them)."""
    parser.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="FILE",
        help="CSV or JSON Lines file, or - for stdin (default)",
    )
    add_input_arguments(parser)
    add = parser.add_argument
    add("--out", metavar="FILE", help="write output records here (default stdout)")
    add(
        "--out-format",
        choices=sorted(_OUT_FORMATS),
        help="jsonl or csv (default: from the --out extension, else jsonl)",
    )
    add(
        "--only-anomalies",
        action="store_true",
        default=None,
        help="write only anomalies (and flagged bad records)",
    )
    add(
        "--follow",
        action="store_true",
        default=None,
        help="keep reading as FILE grows, like tail -F (survives rotation)",
    )
    add(
        "--poll-interval",
        type=float,
        metavar="SECONDS",
        help="with --follow: wait between looks at the file (default 0.2)",
    )
    add(
        "--idle-timeout",
        type=float,
        metavar="SECONDS",
        help="with --follow: stop after this long without new data (default never)",
    )
    add("--model", metavar="FILE", help="start from a model saved by `oddwatch fit`")
    add(
        "--checkpoint",
        metavar="FILE",
        help="save progress here; re-running the same command resumes from it",
    )
    add(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="records between checkpoints (default 10000)",
    )
    add("--webhook", metavar="URL", help="POST each anomaly as JSON to URL (in the background)")
    add(
        "--webhook-queue",
        type=int,
        metavar="N",
        help="anomalies waiting for the webhook; more are dropped and counted (default 1000)",
    )
    add("--webhook-retries", type=int, metavar="N", help="retries per anomaly (default 3)")
    add(
        "--webhook-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds per webhook request (default 5)",
    )


@dataclass
class _Totals:
    """Running counts that are not the validator's."""

    written: int = 0
    read_at_start: int = 0
    resumed_at_line: int | None = None
    head: tuple[str, int] | None = None  # digest of the input's start, bytes covered


def _fingerprint(
    args: argparse.Namespace, s: dict[str, Any], detector: Any, threshold: Any, chunk_lines: int
) -> dict[str, Any]:
    """The settings a resumed run must share with the run that wrote the checkpoint."""

    def real(path: str | None) -> str | None:
        return None if path in (None, "-") else os.path.realpath(str(path))

    fp = {
        name: s[name]
        for name in (
            "format",
            "time_col",
            "value_col",
            "key_col",
            "header",
            "on_invalid",
            "max_gap",
            "max_keys",
            "only_anomalies",
            "out_format",
            "follow",
        )
    }
    fp.update(
        input=real(args.input),
        out=real(s["out"]),
        model=real(s["model"]),
        chunk_lines=chunk_lines,
        detector=detector.to_json(),
        threshold=threshold.to_json(),
    )
    result: dict[str, Any] = json.loads(json.dumps(fp, default=str))
    return result


def _check(s: dict[str, Any], args: argparse.Namespace) -> None:
    if s["checkpoint"] and args.input == "-":
        raise InvalidParameterError(
            "--checkpoint needs an input file: stdin cannot be read again on resume."
        )
    if s["checkpoint_every"] < 1:
        raise InvalidParameterError(
            f"--checkpoint-every must be >= 1; got {s['checkpoint_every']}."
        )
    if s["model"] and (args.detector or args.param or args.threshold or args.threshold_param):
        raise InvalidParameterError(
            "--model already holds a detector and a threshold; drop "
            "--detector/--param/--threshold/--threshold-param."
        )
    if s["poll_interval"] < 0 or (s["idle_timeout"] is not None and s["idle_timeout"] < 0):
        raise InvalidParameterError("--poll-interval and --idle-timeout must be >= 0.")


def _open_sink(s: dict[str, Any], resume_at: int | None) -> FileSink:
    out = s["out"] or "-"
    fmt = s["out_format"] or ("csv" if out.lower().endswith(".csv") else "jsonl")
    if resume_at is not None and out != "-" and not os.path.exists(out):
        raise CheckpointError(
            f"the output {out!r} is gone but the checkpoint says {resume_at} "
            "bytes were written to it. Delete the checkpoint to start over."
        )
    return _OUT_FORMATS[fmt](out, resume_at=resume_at if out != "-" else None)


def run(args: argparse.Namespace) -> int:
    """Run detection; returns the exit code."""
    started = time.perf_counter()
    s, detector_choice, threshold_choice = read_settings(args, OPTIONS)
    _check(s, args)
    limiter = RateLimiter(lambda message: None if s["quiet"] else warn(message))
    chunk_lines = min(s["batch"], s["checkpoint_every"]) if s["checkpoint"] else s["batch"]
    fp = _fingerprint(args, s, detector_choice, threshold_choice, chunk_lines)
    resumed = read_checkpoint(s["checkpoint"], fp) if s["checkpoint"] else None
    engine = resumed[0] if resumed else load_model(s["model"]) if s["model"] else None
    state = resumed[1] if resumed else None
    detector = threshold = None
    if engine is None:
        detector = detector_choice.build("detector")
        threshold = threshold_choice.build("threshold")
    validator = Validator(
        s["on_invalid"],
        max_gap=s["max_gap"],
        max_keys=s["max_keys"],
        limiter=limiter,
        hint="Use --on-invalid skip or flag to go on past bad records.",
    )
    totals = _Totals()
    pipeline = Pipeline(validator, engine, detector, threshold, max_keys=s["max_keys"])
    position = _restore(state, args, s, pipeline, totals) if state is not None else {}
    identity = position.get("identity")
    source = FileSource(
        args.input,
        s["format"],
        time_col=s["time_col"],
        value_col=s["value_col"],
        key_col=s["key_col"],
        header=s["header"],
        follow=s["follow"],
        chunk_lines=chunk_lines,
        offset=int(position.get("offset", 0)),
        line=int(position.get("line", 1)),
        identity=None if identity is None else (int(identity[0]), int(identity[1])),
        poll_interval=s["poll_interval"],
        idle_timeout=s["idle_timeout"],
        on_rotate=lambda message: limiter(message, "rotation"),
    )
    if state is not None and state.parser is not None:
        source.restore_parser(state.parser)
    webhook = sink = None
    interrupted = report = False
    try:
        if s["webhook"]:
            webhook = WebhookSink(
                s["webhook"],
                max_queue=s["webhook_queue"],
                retries=s["webhook_retries"],
                timeout=s["webhook_timeout"],
            )
        sink = _open_sink(s, state.output_position if state is not None else None)
        interrupted = _loop(source, pipeline, sink, webhook, s, totals, fp)
        report = True
    except InvalidInputError:  # a bad record under --on-invalid raise: report, then exit 3
        report = True
        raise
    except BrokenPipeError:
        _silence_stdout()
    finally:
        _close(sink, webhook, source)
        if report:
            _summary(validator, pipeline, webhook, totals, s, time.perf_counter() - started)
    return 130 if interrupted else 0


def _restore(
    state: RunState,
    args: argparse.Namespace,
    s: dict[str, Any],
    pipeline: Pipeline,
    totals: _Totals,
) -> dict[str, Any]:
    """Adopt a checkpoint's counts and history; return its input position."""
    if not s["follow"]:
        verify_input(args.input, state)
    try:
        pipeline.validator.set_state(state.validator)
        pipeline.n_anomalies = int(state.totals["anomalies"])
        totals.written = int(state.totals["written"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{s['checkpoint']}: the run state is malformed ({exc}).") from None
    totals.read_at_start = pipeline.validator.n_read
    totals.resumed_at_line = int(state.input["line"])
    if not s["quiet"]:
        warn(f"resuming from {s['checkpoint']} at line {state.input['line']}")
    return state.input


def _close(sink: FileSink | None, webhook: WebhookSink | None, source: FileSource) -> None:
    try:
        if sink is not None:
            sink.close()
    except BrokenPipeError:
        _silence_stdout()
    finally:
        if webhook is not None:
            webhook.close()
        source.close()


def _loop(
    source: FileSource,
    pipeline: Pipeline,
    sink: FileSink,
    webhook: WebhookSink | None,
    s: dict[str, Any],
    totals: _Totals,
    fp: dict[str, Any],
) -> bool:
    """Process chunks until the input ends; returns True when interrupted by Ctrl-C."""
    validator = pipeline.validator
    last_checkpoint = validator.n_read
    try:
        for records in source:
            batch, error = pipeline.process(records)
            out = batch.select(batch.is_anomaly) if s["only_anomalies"] else batch
            sink.write(out)
            totals.written += len(out)
            if webhook is not None:
                webhook.write(batch)
            if error is not None:
                raise InvalidInputError(error)
            if s["checkpoint"] and validator.n_read - last_checkpoint >= s["checkpoint_every"]:
                _save(source, pipeline, sink, s, totals, fp)
                last_checkpoint = validator.n_read
    except KeyboardInterrupt:
        return True
    if s["checkpoint"]:
        _save(source, pipeline, sink, s, totals, fp)
    return False


def _save(
    source: FileSource,
    pipeline: Pipeline,
    sink: FileSink,
    s: dict[str, Any],
    totals: _Totals,
    fp: dict[str, Any],
) -> None:
    """Make the output durable, then write the checkpoint that points into it."""
    position = source.position
    covered = min(int(position["offset"]), 1 << 16)
    if not s["follow"] and (totals.head is None or totals.head[1] != covered):
        totals.head = (head_digest(source.path, covered), covered)
    columns = source.parser.columns if source.parser is not None else None
    keyed = (columns.key is not None) if columns is not None else s["key_col"] is not None
    engine = pipeline.ensure_engine(keyed)
    sink.sync()
    out_position = sink.position if s["out"] not in (None, "-") else None
    state = RunState(
        input={
            **position,
            "identity": source.identity,
            "head": None if totals.head is None else totals.head[0],
        },
        parser=source.parser_state(),
        output_position=out_position,
        validator=pipeline.validator.get_state(),
        totals={"anomalies": pipeline.n_anomalies, "written": totals.written},
    )
    write_checkpoint(s["checkpoint"], engine, fp, state)


def _silence_stdout() -> None:
    """Point stdout at devnull so the final flush after a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _summary(
    validator: Validator,
    pipeline: Pipeline,
    webhook: WebhookSink | None,
    totals: _Totals,
    s: dict[str, Any],
    seconds: float,
) -> None:
    counts = validator.counts()
    this_run = counts["read"] - totals.read_at_start
    engine = pipeline.engine
    summary: dict[str, Any] = {
        **counts,
        "problems": validator.problems(),
        "anomalies": pipeline.n_anomalies,
        "written": totals.written,
        "gaps": validator.n_gaps,
        "largest_gap_seconds": validator.largest_gap if validator.n_gaps else None,
        "keys": engine.n_keys_ if isinstance(engine, KeyedMonitor) else None,
        "evicted_keys": engine.n_evicted_ if isinstance(engine, KeyedMonitor) else None,
        "webhook": webhook.stats() if webhook is not None else None,
        "warnings_suppressed": validator.limiter.n_suppressed if validator.limiter else 0,
        "resumed_at_line": totals.resumed_at_line,
        "seconds": round(seconds, 3),
        "records_per_second": round(this_run / seconds) if seconds > 0 else None,
    }
    if s["json"]:
        print(json.dumps(summary), file=sys.stderr)
        return
    problems = ", ".join(f"{n} {p}" for p, n in summary["problems"].items())
    lines = [
        f"{counts['read']} records read: {counts['valid']} valid, {counts['flagged']} flagged, "
        f"{counts['skipped']} skipped" + (f" ({problems})" if problems else ""),
        f"{pipeline.n_anomalies} anomalies; {totals.written} records written; "
        f"{validator.n_gaps} gaps in time"
        + (f" (largest {validator.largest_gap:g} s)" if validator.n_gaps else ""),
    ]
    if summary["keys"] is not None:
        lines.append(f"{summary['keys']} series tracked, {summary['evicted_keys']} evicted")
    if webhook is not None:
        stats = webhook.stats()
        lines.append(
            f"webhook: {stats['sent']} sent, {stats['failed']} failed, {stats['dropped']} dropped"
        )
    if summary["warnings_suppressed"]:
        lines.append(f"{summary['warnings_suppressed']} warnings suppressed")
    lines.append(f"{this_run} records in {seconds:.2f} s in this run")
    print("\n".join(lines), file=sys.stderr)
