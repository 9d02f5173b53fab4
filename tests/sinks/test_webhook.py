"""WebhookSink against a local HTTP server on 127.0.0.1: delivery, retries, drops, no stalls."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from local_http import Server

from oddwatch.errors import InvalidParameterError
from oddwatch.sinks import OutputBatch, WebhookSink


def anomalies(n, start=0):
    return OutputBatch(
        seq=np.arange(start, start + n),
        value=np.full(n, 9.0),
        score=np.ones(n),
        threshold=np.full(n, 0.5),
        is_anomaly=np.ones(n, dtype=bool),
        reason=["high"] * n,
    )


def test_each_anomaly_is_posted_as_json_and_normal_points_are_not():
    with Server() as server:
        sink = WebhookSink(server.url, close_timeout=10)
        mixed = anomalies(3)
        mixed.is_anomaly[1] = False
        sink.write(mixed)
        sink.close()
    assert [r["seq"] for r in server.received] == [0, 2]
    assert server.received[0] == next(mixed.rows())
    assert sink.stats() == {"sent": 2, "failed": 0, "dropped": 0}


def test_server_errors_are_retried_client_errors_are_not():
    with Server(statuses=[503, 500]) as server:
        sink = WebhookSink(server.url, backoff=0.0, close_timeout=10)
        sink.write(anomalies(1))
        sink.close()
    assert sink.stats() == {"sent": 1, "failed": 0, "dropped": 0} and sink.n_retries == 2
    with Server(statuses=[404]) as server:
        sink = WebhookSink(server.url, backoff=0.0, close_timeout=10)
        sink.write(anomalies(1))
        sink.close()
    assert sink.stats() == {"sent": 0, "failed": 1, "dropped": 0} and sink.n_retries == 0


def test_dead_endpoint_fails_after_retries():
    with Server() as server:
        url = server.url
    sink = WebhookSink(url, retries=2, backoff=0.0, timeout=2, close_timeout=10)
    sink.write(anomalies(2))
    sink.close()
    assert sink.stats() == {"sent": 0, "failed": 2, "dropped": 0} and sink.n_retries == 4


def test_a_stuck_endpoint_never_blocks_writes_and_drops_are_counted():
    gate = threading.Event()
    with Server(gate=gate) as server:
        sink = WebhookSink(server.url, max_queue=5, retries=0, close_timeout=0.0)
        for start in range(0, 100, 10):
            sink.write(anomalies(10, start))  # returns although the server has not answered
        assert not gate.is_set()
        sink.close()
        stats = sink.stats()
    assert stats["sent"] + stats["failed"] + stats["dropped"] == 100
    assert stats["dropped"] >= 94


def test_bad_settings():
    with pytest.raises(InvalidParameterError, match="must start with http:// or https://"):
        WebhookSink("ftp://example.org/x")
    with pytest.raises(InvalidParameterError, match="max_queue >= 1"):
        WebhookSink("http://127.0.0.1:1/", max_queue=0)
