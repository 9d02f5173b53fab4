"""``oddwatch detect``: flag anomalies in a CSV or JSON Lines stream (file, stdin, or followed),
or in a feed (``mqtt://``, ``prometheus://``, ``kafka://``; see :mod:`oddwatch.cli._integrations`).

Each record goes through the validation policy (``--on-invalid``), its value through the
detector of its series, and out as one output record (``seq, key, timestamp, value, score,
is_anomaly, threshold, reason``) in JSON Lines or CSV; a summary goes to stderr at the end.
``--checkpoint`` makes the run resumable after a crash: re-running the same command
continues from the last checkpoint and, with ``--out FILE``, leaves the same file an
uninterrupted run would have written. A ``kafka://`` input commits its offsets only once the
output of the records read is synced (at least once).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
from collections.abc import Mapping
from typing import Any

from oddwatch.cli._integrations import (
    FEED_OPTIONS,
    CommitAfterOutput,
    add_feed_arguments,
    is_feed,
    is_kafka_out,
    kafka_output,
    open_feed,
)
from oddwatch.cli._settings import (
    INPUT_OPTIONS,
    Settings,
    add_input_arguments,
    count,
    load_model,
    make_monitor,
    make_source,
    make_validator,
    read_settings,
    warn,
)
from oddwatch.cli._text import duration, problems_text
from oddwatch.errors import InvalidInputError, InvalidParameterError, SourceError
from oddwatch.pipeline import Checkpoint, RunStats
from oddwatch.pipeline import run as run_pipeline
from oddwatch.pipeline.checkpoint import DEFAULT_EVERY
from oddwatch.sinks import CsvSink, FileSink, JsonlSink, WebhookSink
from oddwatch.sources import MAX_LINE_BYTES

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
  oddwatch detect metrics.jsonl --key-col host --dashboard    # live page on 127.0.0.1:8050
  oddwatch detect stream.csv --out flags.jsonl --report run.html --plot run.png
  oddwatch detect app.csv --follow --out flags.jsonl --metrics-port 9464  # for Prometheus
  oddwatch detect 'mqtt://127.0.0.1:1883/plant/+/temp' --only-anomalies   # topics as keys
  oddwatch detect prometheus://127.0.0.1:9090 --query 'rate(http_requests_total[5m])' \\
      --step 15s --since 1h --only-anomalies
  oddwatch detect kafka://127.0.0.1:9092/metrics --group oddwatch --message-key --out flags.jsonl
  oddwatch detect stream.csv --detector river:HalfSpaceTrees --param seed=1   # oddwatch[river]

exit codes: 0 done, 2 usage/configuration/checkpoint error, 3 bad record under
--on-invalid raise (the message names the line), 130 interrupted (Ctrl-C or SIGTERM: the
current batch is finished, the checkpoint written and the summary printed).
"""

OPTIONS: dict[str, tuple[tuple[type, ...], Any]] = {
    **INPUT_OPTIONS,
    **FEED_OPTIONS,
    "out": ((str,), None),
    "out_format": ((str,), None),
    "only_anomalies": ((bool,), False),
    "follow": ((bool,), False),
    "poll_interval": ((int, float), 0.2),
    "idle_timeout": ((int, float), None),
    "model": ((str,), None),
    "checkpoint": ((str,), None),
    "checkpoint_every": ((int,), None),
    "webhook": ((str,), None),
    "webhook_format": ((str,), "json"),
    "webhook_queue": ((int,), 1000),
    "webhook_retries": ((int,), 3),
    "webhook_timeout": ((int, float), 5.0),
    "dashboard": ((bool,), False),
    "host": ((str,), "127.0.0.1"),
    "port": ((int,), 8050),
    "no_hold": ((bool,), False),
    "report": ((str,), None),
    "plot": ((str,), None),
    "metrics_port": ((int,), None),
}
_OUT_FORMATS = {"jsonl": JsonlSink, "csv": CsvSink}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``detect`` flags (all default to None so a config file can fill them)."""
    parser.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="FILE",
        help="CSV or JSON Lines file, - for stdin (default), or a feed: "
        "mqtt://HOST[:PORT]/TOPIC, prometheus://HOST:PORT, kafka://BOOTSTRAP/TOPIC",
    )
    add_input_arguments(parser)
    add_feed_arguments(parser)
    add = parser.add_argument
    add(
        "--out",
        metavar="FILE",
        help="write output records here (default stdout); kafka://BOOTSTRAP/TOPIC publishes "
        "them (exactly once, in transactions, when the input is kafka:// too)",
    )
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
        help="keep reading as FILE grows, like tail -F (survives rotation); output is "
        "flushed after every batch",
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
        help="with --follow or a feed: stop after this long without new data (default never)",
    )
    add("--model", metavar="FILE", help="start from a model saved by `oddwatch fit`")
    add(
        "--checkpoint",
        metavar="FILE",
        help="save progress here; re-running the same command resumes from it",
    )
    add(
        "--checkpoint-every",
        type=count,
        metavar="N",
        help="records between checkpoints; by default 10000, or more for a large state: "
        "each checkpoint writes the whole state, so the next waits for one record per 100 "
        "bytes of it (a 2 GB state: every 20 million records)",
    )
    add("--webhook", metavar="URL", help="POST each anomaly as JSON to URL (in the background)")
    add(
        "--webhook-format",
        choices=["json", "alertmanager", "slack"],
        help='payload: {"alerts": [record, ...]} (json, default), Alertmanager alerts, or a '
        "Slack message",
    )
    add(
        "--webhook-queue",
        type=int,
        metavar="N",
        help="anomalies waiting for the webhook; when full, detection waits while the "
        "endpoint answers, else drops and counts them (default 1000)",
    )
    add("--webhook-retries", type=int, metavar="N", help="retries per anomaly (default 3)")
    add(
        "--webhook-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds per webhook request (default 5)",
    )
    add(
        "--dashboard",
        action="store_true",
        default=None,
        help="serve a live web dashboard of the run; it stays up after the run until Ctrl-C",
    )
    add(
        "--host",
        metavar="ADDR",
        help="interface for --dashboard and --metrics-port (default 127.0.0.1: this machine "
        "only; 0.0.0.0 exposes them)",
    )
    add("--port", type=int, metavar="PORT", help="dashboard port (default 8050; 0 = any free)")
    add(
        "--no-hold",
        action="store_true",
        default=None,
        help="with --dashboard: exit when the run ends instead of keeping the page up",
    )
    add("--report", metavar="FILE.html", help="write a self-contained HTML report at the end")
    add("--plot", metavar="FILE.png", help="write a picture of the most flagged series at the end")
    add(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve pipeline metrics for Prometheus on http://HOST:PORT/metrics during the run",
    )


def _fingerprint(s: Settings, chunk_lines: int) -> dict[str, Any]:
    """The settings a resumed run must share with the run that wrote the checkpoint."""

    def real(path: str | None) -> str | None:
        return None if path in (None, "-") else os.path.realpath(str(path))

    fp = {
        name: s.values[name]
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
    if is_feed(s.input):  # what a feed reads (--since and --until are relative to now)
        fp.update({k: s.values.get(k) for k in ("query", "step", "group", "message_key", "qos")})
    fp.update(
        input=s.input if is_feed(s.input) else real(s.input),
        out=real(s.out),
        model=real(s.model),
        chunk_lines=chunk_lines,
        detector=s.detector.to_json(),
        threshold=s.threshold.to_json(),
    )
    if s.max_line_bytes != MAX_LINE_BYTES:  # absent at the default: older checkpoints resume
        fp["max_line_bytes"] = s.max_line_bytes
    return fp


def _same_file(a: str | None, b: str | None) -> bool:
    if a in (None, "-") or b in (None, "-"):
        return False
    assert a is not None and b is not None
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _check(s: Settings) -> None:
    if is_feed(s.input) and s.follow:
        raise InvalidParameterError(
            "--follow works on files; a feed (mqtt://, prometheus://, kafka://) is followed "
            "already. Drop --follow."
        )
    if s.checkpoint and is_kafka_out(s.out):
        raise InvalidParameterError(
            "--checkpoint cannot be combined with --out kafka://: the output's transactions "
            "commit the input offsets, and a checkpoint would resume from its own. Drop "
            "--checkpoint (a restart then begins the detector's warm-up again)."
        )
    if s.checkpoint and s.input == "-":
        raise InvalidParameterError(
            "--checkpoint needs an input file: stdin cannot be read again on resume."
        )
    if s.checkpoint_every is not None and s.checkpoint_every < 1:
        raise InvalidParameterError(f"--checkpoint-every must be >= 1; got {s.checkpoint_every}.")
    if s.model and (s.detector.name or s.detector.params or s.threshold.name or s.threshold.params):
        raise InvalidParameterError(
            "--model already holds a detector and a threshold; drop "
            "--detector/--param/--threshold/--threshold-param."
        )
    if s.poll_interval < 0 or (s.idle_timeout is not None and s.idle_timeout < 0):
        raise InvalidParameterError("--poll-interval and --idle-timeout must be >= 0.")
    for other, flag in ((s.input, "the input"), (s.checkpoint, "--checkpoint")):
        if _same_file(s.out, other):
            raise InvalidParameterError(
                f"--out {s.out!r} is {flag}: writing there would destroy it. "
                "Give another --out path."
            )
    for flag, path in (("--report", s.report), ("--plot", s.plot)):
        if path and (_same_file(path, s.input) or _same_file(path, s.out)):
            raise InvalidParameterError(
                f"{flag} {path!r} is the input or --out; give another path."
            )
    if _same_file(s.checkpoint, s.input):
        raise InvalidParameterError(
            f"--checkpoint {s.checkpoint!r} is the input file. Give another --checkpoint path."
        )


def _output(s: Settings) -> FileSink:
    out = s.out or "-"
    fmt = s.out_format or ("csv" if out.lower().endswith(".csv") else "jsonl")
    return _OUT_FORMATS[fmt](out)


class _AnomaliesOnly:
    """Passes only the flagged records on to ``sink``, so the other sinks (dashboard,
    report) still see every record under --only-anomalies; counts what it wrote."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.written = 0

    def write(self, batch: Any) -> None:
        chosen = batch.select(batch.is_anomaly)
        self.written += len(chosen)
        self.sink.write(chosen)

    def flush(self) -> None:
        if callable(getattr(self.sink, "flush", None)):
            self.sink.flush()

    def close(self) -> None:
        pass


class _Summary:
    """Keeps the pipeline's counters; says once that the run resumed."""

    def __init__(self, s: Settings) -> None:
        self.settings = s
        self.stats: dict[str, float] = {}

    def observe(self, stats: Mapping[str, float]) -> None:
        if not self.stats and "resumed_at_line" in stats and not self.settings.quiet:
            warn(
                f"resuming from {self.settings.checkpoint} at line {int(stats['resumed_at_line'])}"
            )
        self.stats = dict(stats)

    def write(self, batch: Any) -> None:
        pass

    def close(self) -> None:
        pass


def run(args: argparse.Namespace) -> int:
    """Run detection; returns the exit code."""
    started = time.perf_counter()
    s = read_settings(args, OPTIONS)
    _check(s)
    every = s.checkpoint_every or DEFAULT_EVERY
    chunk_lines = min(s.batch, every) if s.checkpoint else s.batch
    checkpoint = None
    if s.checkpoint:
        checkpoint = Checkpoint(
            s.checkpoint, every=s.checkpoint_every, settings=_fingerprint(s, chunk_lines)
        )
    monitor = load_model(s.model) if s.model else make_monitor(s)
    validator = make_validator(s)
    limiter = validator.limiter
    follow: dict[str, Any] = {}
    if s.follow:
        follow = {
            "follow": True,
            "poll_interval": s.poll_interval,
            "idle_timeout": s.idle_timeout,
            "on_rotate": lambda message: limiter(message, "rotation") if limiter else None,
        }
    summary = _Summary(s)
    webhook = None
    stats = None
    session = None
    try:
        with contextlib.ExitStack() as stack:
            feed = is_feed(s.input)
            source = open_feed(s.input, s.values) if feed else make_source(s, chunk_lines, **follow)
            stack.callback(source.close)
            kafka_out = kafka_output(s.out, source) if is_kafka_out(s.out) else None
            output: Any = stack.enter_context(kafka_out or _output(s))
            file_out = output
            views = _views(s, stack)
            session = views.pop("dashboard", None)
            filtered = None
            if s.only_anomalies and views:
                output = filtered = _AnomaliesOnly(output)
            sinks: list[Any] = [output]
            if s.webhook:
                webhook = stack.enter_context(
                    WebhookSink(
                        s.webhook,
                        format=s.webhook_format,
                        max_queue=s.webhook_queue,
                        retries=s.webhook_retries,
                        timeout=s.webhook_timeout,
                    )
                )
                sinks.append(webhook)
            sinks.extend(views.values())
            sinks.append(summary)
            committer = None
            transactional = getattr(kafka_out, "transactional", False)  # offsets in the output's
            if callable(getattr(source, "commit", None)) and not transactional:  # else after it
                committer = CommitAfterOutput(source, [file_out])
                sinks.append(committer)
            try:
                stats = run_pipeline(
                    source,
                    monitor,
                    sinks,
                    validator=validator,
                    checkpoint=checkpoint,
                    only_anomalies=s.only_anomalies and filtered is None,
                    flush=s.follow or feed,
                    handle_signals=True,
                )
                if committer is not None:
                    committer.finish()
            except InvalidInputError:  # a bad record under --on-invalid raise: report, exit 3
                stack.close()
                _summary(summary.stats, webhook, s, time.perf_counter() - started)
                raise
            if filtered is not None:
                summary.stats["written"] = filtered.written
            if session is not None and not s.no_hold and not stats.interrupted:
                for view in views.values():  # write the report and plot before waiting
                    view.close()
                _summary(summary.stats, webhook, s, time.perf_counter() - started)
                return 130 if session.hold("run finished") else 0
    except BrokenPipeError:
        _silence_stdout()
        return 0
    assert stats is not None
    _summary(summary.stats, webhook, s, time.perf_counter() - started)
    if not s.quiet:
        _key_column_hint(source, stats)
    if stats.records_read == 0 and not stats.interrupted and not s.follow:
        raise SourceError(
            f"{'standard input' if s.input == '-' else repr(s.input)} holds no records "
            "(it is empty or has only a header line)."
        )
    return 130 if stats.interrupted else 0


def _views(s: Settings, stack: contextlib.ExitStack) -> dict[str, Any]:
    """The sinks of --dashboard, --report, --plot and --metrics-port (closed by ``stack``)."""
    views: dict[str, Any] = {}
    if s.metrics_port is not None:
        from oddwatch.sinks.metrics import MetricsSink

        views["metrics"] = stack.enter_context(MetricsSink(s.metrics_port, host=s.host))
        print(f"metrics: {views['metrics'].url}", file=sys.stderr, flush=True)
    if s.report:
        from oddwatch.sinks.report import HtmlReportSink

        views["report"] = stack.enter_context(HtmlReportSink(s.report))
    if s.plot:
        from oddwatch.sinks.report import PlotSink

        views["plot"] = stack.enter_context(PlotSink(s.plot))
    if s.dashboard:
        from oddwatch.dashboard import DashboardSession

        session = stack.enter_context(DashboardSession(s.host, s.port))
        views["dashboard"] = session
        views["dashboard sink"] = session.sink
    return views


def _key_column_hint(source: Any, stats: RunStats) -> None:
    """Suggest --key-col when many timestamps repeat and the CSV has other text fields.

    Only file sources have columns to name; a feed (MQTT, Prometheus, Kafka) has none.
    """
    repeats = stats.invalid_by_kind.get("duplicate_timestamp", 0)
    parser = getattr(source, "parser", None)
    columns = getattr(parser, "columns", None)
    names = getattr(parser, "names", None)
    if (
        columns is None
        or columns.key is not None
        or not names
        or repeats < 0.1 * stats.records_read
    ):
        return
    others = [n for i, n in enumerate(names) if i not in (columns.time, columns.value)]
    if others:
        warn(
            f"{repeats} of {stats.records_read} records repeat a timestamp: if the file holds "
            f"several series, name the series column with --key-col (one of: "
            f"{', '.join(others)})."
        )


def _silence_stdout() -> None:
    """Point stdout at devnull so the final flush after a closed pipe stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def _summary(
    stats: Mapping[str, float], webhook: WebhookSink | None, s: Settings, seconds: float
) -> None:
    def count(name: str) -> int:
        return int(stats.get(name, 0))

    this_run = count("records_this_run")
    problems = {k[8:]: int(v) for k, v in stats.items() if k.startswith("invalid.")}
    largest = stats.get("largest_gap_s", math.nan)
    keyed = count("keys") > 0
    summary: dict[str, Any] = {
        "read": count("records_read"),
        "valid": count("valid"),
        "skipped": count("skipped"),
        "flagged": count("flagged_invalid"),
        "problems": problems,
        "anomalies": count("anomalies"),
        "unscored": count("unscored"),
        "written": count("written"),
        "gaps": count("gaps"),
        "largest_gap_seconds": None if math.isnan(largest) else largest,
        "keys": count("keys") if keyed else None,
        "evicted_keys": count("evicted") if keyed else None,
        "webhook": webhook.stats() if webhook is not None else None,
        "webhook_reasons": webhook.reasons() if webhook is not None else None,
        "warnings_suppressed": count("warnings_suppressed"),
        "resumed_at_line": count("resumed_at_line") if "resumed_at_line" in stats else None,
        "seconds": round(seconds, 3),
        "records_per_second": round(this_run / seconds) if seconds > 0 else None,
    }
    if s.json:
        print(json.dumps(summary), file=sys.stderr)
        return
    flagged = summary["flagged"]
    lines = [
        f"{summary['read']} records read: {summary['valid']} valid, {flagged} flagged, "
        f"{summary['skipped']} skipped" + problems_text(problems),
        f"{summary['anomalies']} anomalies"
        + (f" and {flagged} flagged invalid records" if flagged else "")
        + f"; {summary['written']} records written; {summary['gaps']} gaps in time"
        + (f" (largest {duration(largest)})" if summary["gaps"] else ""),
    ]
    if count("unscored"):
        lines.append(
            f"{count('unscored')} valid records were not scored (the detector's warm-up: "
            "score null, never flagged)"
        )
    if keyed:
        lines.append(f"{summary['keys']} series tracked, {summary['evicted_keys']} evicted")
    if webhook is not None:
        hook = summary["webhook"]
        why = webhook.reasons()
        causes = {**why["failed"], **why["dropped"]}
        lines.append(
            f"webhook: {hook['sent']} sent, {hook['failed']} failed, {hook['dropped']} dropped"
            + (
                " (" + ", ".join(f"{n} {cause}" for cause, n in causes.items()) + ")"
                if causes
                else ""
            )
        )
    if summary["warnings_suppressed"]:
        lines.append(f"{summary['warnings_suppressed']} warnings suppressed")
    lines.append(f"{this_run} records in {seconds:.2f} s in this run")
    print("\n".join(lines), file=sys.stderr)
