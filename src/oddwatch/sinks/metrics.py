"""Pipeline metrics for Prometheus: a sink that serves ``/metrics`` in the text format.

Only pipeline-level series are exported, never one per key (10^5 keys would be 10^5 time
series in Prometheus): records read, invalid records by kind, anomalies, keys, evictions,
webhook deliveries, and a histogram of the time each batch took. Per-key scores belong in
the JSONL/CSV output. The text format is written here (it is small), so no extra package is
needed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from oddwatch.errors import InvalidParameterError
from oddwatch.sinks._base import OutputBatch

__all__ = ["LATENCY_BUCKETS", "MetricsSink", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

# counter name from observe() -> (metric, type, help)
_KNOWN = {
    "records_read": ("oddwatch_records_read_total", "counter", "Records read from the source."),
    "valid": ("oddwatch_records_valid_total", "counter", "Records with a usable value."),
    "invalid": ("oddwatch_records_invalid_total", "counter", "Records that were not valid."),
    "skipped": ("oddwatch_records_skipped_total", "counter", "Invalid records skipped."),
    "flagged_invalid": (
        "oddwatch_records_flagged_invalid_total",
        "counter",
        "Invalid records written out as flagged.",
    ),
    "anomalies": ("oddwatch_anomalies_total", "counter", "Valid points flagged as anomalies."),
    "keys": ("oddwatch_keys", "gauge", "Keys (series) currently held by the detector."),
    "evicted": ("oddwatch_keys_evicted_total", "counter", "Keys evicted to stay under max_keys."),
    "elapsed_s": ("oddwatch_run_seconds", "gauge", "Seconds since the run started."),
    "webhook_sent": ("oddwatch_webhook_sent_total", "counter", "Webhook alerts delivered."),
    "webhook_failed": ("oddwatch_webhook_failed_total", "counter", "Webhook deliveries failed."),
    "webhook_dropped": (
        "oddwatch_webhook_dropped_total",
        "counter",
        "Webhook alerts dropped (queue full).",
    ),
}
_INVALID_BY_KIND = "oddwatch_invalid_records_by_kind_total"


def _name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", text)


def _label(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(x: float) -> str:
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


class _Histogram:
    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = np.zeros(len(bounds) + 1, dtype=np.int64)  # last: above every bound
        self.total = 0.0

    def observe(self, x: float) -> None:
        self.counts[int(np.searchsorted(self.bounds, x, side="left"))] += 1
        self.total += x

    def lines(self, name: str) -> list[str]:
        cumulative = np.cumsum(self.counts)
        out = [
            f'{name}_bucket{{le="{_value(b)}"}} {int(c)}'
            for b, c in zip(self.bounds, cumulative[:-1], strict=True)
        ]
        out.append(f'{name}_bucket{{le="+Inf"}} {int(cumulative[-1])}')
        out.append(f"{name}_sum {_value(self.total)}")
        out.append(f"{name}_count {int(cumulative[-1])}")
        return out


def render_metrics(
    stats: Mapping[str, float],
    batch_seconds: _Histogram | None = None,
    output: Mapping[str, float] | None = None,
    last_batch: float | None = None,
) -> str:
    """The Prometheus text exposition of the pipeline's counters (and the sink's own).

    Examples
    --------
    >>> print(render_metrics({"records_read": 10.0, "invalid.not_numeric": 2.0}), end="")
    # HELP oddwatch_records_read_total Records read from the source.
    # TYPE oddwatch_records_read_total counter
    oddwatch_records_read_total 10
    # HELP oddwatch_invalid_records_by_kind_total Invalid records by kind of problem.
    # TYPE oddwatch_invalid_records_by_kind_total counter
    oddwatch_invalid_records_by_kind_total{kind="not_numeric"} 2
    """
    lines: list[str] = []
    for key, (metric, kind, text) in _KNOWN.items():
        if key in stats:
            lines += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
            lines.append(f"{metric} {_value(stats[key])}")
    kinds = sorted(k for k in stats if k.startswith("invalid."))
    if kinds:
        lines += [
            f"# HELP {_INVALID_BY_KIND} Invalid records by kind of problem.",
            f"# TYPE {_INVALID_BY_KIND} counter",
        ]
        for key in kinds:
            lines.append(f'{_INVALID_BY_KIND}{{kind="{_label(key[8:])}"}} {_value(stats[key])}')
    for key in sorted(stats):
        if key not in _KNOWN and not key.startswith("invalid."):
            metric = f"oddwatch_{_name(key)}"
            lines += [f"# HELP {metric} Pipeline counter {key!r}.", f"# TYPE {metric} gauge"]
            lines.append(f"{metric} {_value(stats[key])}")
    for key, value in (output or {}).items():
        metric = f"oddwatch_output_{key}_total"
        lines += [f"# HELP {metric} Output {key} written.", f"# TYPE {metric} counter"]
        lines.append(f"{metric} {_value(value)}")
    if batch_seconds is not None:
        name = "oddwatch_batch_duration_seconds"
        lines += [
            f"# HELP {name} Seconds between consecutive output batches (read + detect + write).",
            f"# TYPE {name} histogram",
            *batch_seconds.lines(name),
        ]
    if last_batch is not None:
        lines += [
            "# HELP oddwatch_last_batch_timestamp_seconds Unix time of the last output batch.",
            "# TYPE oddwatch_last_batch_timestamp_seconds gauge",
            f"oddwatch_last_batch_timestamp_seconds {_value(last_batch)}",
        ]
    return "\n".join(lines) + "\n"


class MetricsSink:
    """Serve the pipeline's metrics on ``http://host:port/metrics`` while the run lasts.

    ``observe(stats)`` (called by the pipeline after each batch) sets the counters;
    ``write(batch)`` counts output records and anomalies and times the batch interval.
    Bound to 127.0.0.1 unless ``host`` says otherwise; ``port=0`` picks a free port.

    Examples
    --------
    >>> import urllib.request
    >>> with MetricsSink(port=0) as sink:
    ...     sink.observe({"records_read": 5.0, "anomalies": 1.0})
    ...     with urllib.request.urlopen(sink.url) as response:
    ...         text = response.read().decode()
    >>> "oddwatch_records_read_total 5" in text, "oddwatch_anomalies_total 1" in text
    (True, True)
    """

    def __init__(self, port: int = 9464, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._stats: dict[str, float] = {}
        self._output = {"records": 0.0, "anomalies": 0.0}
        self._last_batch = 0.0
        self._batches = _Histogram(LATENCY_BUCKETS)
        self._previous: float | None = None
        try:
            self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:
            raise InvalidParameterError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}. "
                "Pick another --metrics-port (0 = any free port)."
            ) from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.5},
            name="oddwatch-metrics",
            daemon=True,
        )
        self._thread.start()
        self._closed = False

    @property
    def url(self) -> str:
        """The scrape address, e.g. ``http://127.0.0.1:9464/metrics``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host if isinstance(host, str) else host.decode()}:{port}/metrics"

    def observe(self, stats: Mapping[str, float]) -> None:
        """Take the pipeline's counters (flat names, ``invalid.<kind>`` by kind)."""
        with self._lock:
            self._stats = dict(stats)

    def write(self, batch: OutputBatch) -> None:
        """Count the batch's records and anomalies; time the interval since the last one."""
        now = time.monotonic()
        with self._lock:
            self._output["records"] += len(batch)
            self._output["anomalies"] += int(np.count_nonzero(batch.is_anomaly))
            self._last_batch = time.time()
            if self._previous is not None:
                self._batches.observe(now - self._previous)
        self._previous = now

    def render(self) -> str:
        """The current exposition text."""
        with self._lock:
            return render_metrics(self._stats, self._batches, self._output, self._last_batch)

    def close(self) -> None:
        """Stop serving."""
        if not self._closed:
            self._closed = True
            self._httpd.shutdown()
            self._thread.join()
            self._httpd.server_close()

    def __enter__(self) -> MetricsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _handler(sink: MetricsSink) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(HTTPStatus.NOT_FOUND)
                return
            body = sink.render().encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
