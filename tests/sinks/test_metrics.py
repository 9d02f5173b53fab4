"""MetricsSink scraped over HTTP on 127.0.0.1: valid text format, no per-key labels."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

from oddwatch.errors import InvalidParameterError
from oddwatch.sinks._base import OutputBatch
from oddwatch.sinks.metrics import CONTENT_TYPE, LATENCY_BUCKETS, MetricsSink

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_]\w*="[^"]*",?)*\})? (\S+)$')


def _scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.headers["Content-Type"] == CONTENT_TYPE
        return response.read().decode()


def _parse(text):
    """{(name, labels): value}, checking every line is a comment or a valid sample."""
    samples, typed = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            typed[name] = kind
            continue
        if line.startswith("# HELP "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        name, labels, value = match.groups()
        samples[(name, labels or "")] = float(value)
    for name, _ in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or family in typed, f"{name} has no # TYPE"
    return samples, typed


def _batch(keys, flagged):
    n = len(keys)
    return OutputBatch(
        seq=np.arange(n),
        value=np.ones(n),
        score=np.zeros(n),
        threshold=np.ones(n),
        is_anomaly=np.isin(np.arange(n), flagged),
        reason=[""] * n,
        key=np.array(keys),
    )


def test_scrape_shows_pipeline_counters_invalid_by_kind_and_a_latency_histogram():
    stats = {
        "records_read": 1000.0,
        "valid": 990.0,
        "invalid": 10.0,
        "invalid.not_numeric": 7.0,
        "invalid.missing_value": 3.0,
        "skipped": 10.0,
        "anomalies": 4.0,
        "keys": 250.0,
        "evicted": 2.0,
        "elapsed_s": 1.25,
        "webhook_dropped": 1.0,
    }
    with MetricsSink(port=0) as sink:
        assert sink.url.startswith("http://127.0.0.1:") and sink.url.endswith("/metrics")
        for _ in range(4):
            sink.write(_batch([f"secret-key-{i}" for i in range(50)], flagged=[3]))
        sink.observe(stats)
        samples, typed = _parse(_scrape(sink.url))
    assert samples[("oddwatch_records_read_total", "")] == 1000
    assert samples[("oddwatch_invalid_records_by_kind_total", '{kind="not_numeric"}')] == 7
    assert samples[("oddwatch_invalid_records_by_kind_total", '{kind="missing_value"}')] == 3
    assert samples[("oddwatch_anomalies_total", "")] == 4
    assert samples[("oddwatch_keys", "")] == 250 and typed["oddwatch_keys"] == "gauge"
    assert samples[("oddwatch_keys_evicted_total", "")] == 2
    assert samples[("oddwatch_webhook_dropped_total", "")] == 1
    assert samples[("oddwatch_output_records_total", "")] == 200
    assert samples[("oddwatch_output_anomalies_total", "")] == 4
    assert typed["oddwatch_batch_duration_seconds"] == "histogram"
    buckets = [
        samples[("oddwatch_batch_duration_seconds_bucket", f'{{le="{b:g}"}}')]
        for b in LATENCY_BUCKETS
    ]
    assert buckets == sorted(buckets)  # cumulative
    total = samples[("oddwatch_batch_duration_seconds_bucket", '{le="+Inf"}')]
    assert total == samples[("oddwatch_batch_duration_seconds_count", "")] == 3


def test_no_per_key_labels_by_default():
    with MetricsSink(port=0) as sink:
        sink.write(_batch(["host-1/cpu", "host-2/cpu"], flagged=[0]))
        sink.observe({"records_read": 2.0, "keys": 2.0})
        text = _scrape(sink.url)
    assert "host-1" not in text and "key=" not in text


def test_unknown_counters_are_still_exported_and_other_paths_are_404():
    with MetricsSink(port=0) as sink:
        sink.observe({"some.new counter": 3.0})
        samples, _ = _parse(_scrape(sink.url))
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(sink.url.replace("/metrics", "/other"), timeout=10)
        missing.value.close()
    assert samples[("oddwatch_some_new_counter", "")] == 3
    assert missing.value.code == 404


def test_a_busy_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(InvalidParameterError, match="cannot serve metrics on 127.0.0.1:"):
            MetricsSink(port=taken.getsockname()[1])
