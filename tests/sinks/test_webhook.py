"""WebhookSink against a local HTTP server on 127.0.0.1: delivery, retries, drops, no stalls."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hostile_http import KeepAliveServer, RawServer
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
    assert [r["seq"] for r in server.received] == [0, 2]  # one sender: in order
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
    assert sink.stats() == {"sent": 0, "failed": 2, "dropped": 0}
    assert sink.n_retries == 2  # both alerts travel in one request, tried 3 times


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


def wait_for(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def add_up(sink, n):
    stats = sink.stats()
    assert sink.n_alerts == n
    assert stats["sent"] + stats["failed"] + stats["dropped"] == n, (stats, sink.reasons())
    reasons = sink.reasons()
    assert sum(reasons["failed"].values()) == stats["failed"]
    assert sum(reasons["dropped"].values()) == stats["dropped"]
    return stats, reasons


def test_an_endless_reply_is_cut_off_after_a_bounded_read():
    with RawServer("endless") as server:
        sink = WebhookSink(server.url, senders=1, timeout=5, close_timeout=30)
        for i in range(3):  # one request each: the next one needs a fresh connection
            sink.write(anomalies(1, i))
            wait_for(lambda n=i: sink.n_sent > n)
        sink.close()
        streamed = server.bytes_streamed
    stats, _ = add_up(sink, 3)
    assert stats == {"sent": 3, "failed": 0, "dropped": 0}
    assert server.requests == 3
    # the sender read at most max_reply_bytes (64 KiB) per reply and hung up; the server
    # could only push what the socket buffers hold, not an unbounded stream
    assert streamed < 3 * 16 * 2**20


def test_a_hanging_endpoint_times_out_and_every_alert_is_counted_with_its_reason():
    with RawServer("hang") as server:
        sink = WebhookSink(server.url, senders=2, retries=1, backoff=0, timeout=0.3)
        sink.write(anomalies(4))
        sink.close()
    stats, reasons = add_up(sink, 4)
    assert stats == {"sent": 0, "failed": 4, "dropped": 0}
    assert reasons == {"failed": {"timeout": 4}, "dropped": {}}
    assert "4 failed (4 timeout)" in sink.summary()


def test_a_full_queue_waits_for_a_slow_but_healthy_endpoint_instead_of_dropping():
    # 300 alerts through a queue of 5 to an endpoint taking 20 ms a request: write waits for
    # room while the sender makes progress (before, 295 or so were dropped as "queue full")
    with KeepAliveServer(delay=0.02) as server:
        sink = WebhookSink(server.url, max_queue=5)
        sink.write(anomalies(300))
        sink.close()
    stats, _ = add_up(sink, 300)
    assert stats == {"sent": 300, "failed": 0, "dropped": 0}
    received = [alert["seq"] for body in server.bodies for alert in body["alerts"]]
    assert received == list(range(300))


def test_close_gives_up_on_a_request_in_flight_and_counts_it_dropped():
    with RawServer("hang") as server:
        sink = WebhookSink(server.url, senders=1, max_queue=3, timeout=30, close_timeout=0.3)
        sink.write(anomalies(1))
        wait_for(lambda: server.requests)  # the request is stuck at the server
        sink.write(anomalies(9, 1))
        sink.close()
        sink.write(anomalies(2))  # after close: counted, not lost
    stats, reasons = add_up(sink, 12)
    assert stats == {"sent": 0, "failed": 0, "dropped": 12}
    assert reasons["dropped"] == {
        "in flight at close": 1,
        "queue full": 6,
        "unsent at close": 3,
        "written after close": 2,
    }


def test_counts_add_up_when_the_endpoint_is_refused():
    with Server() as server:
        url = server.url
    sink = WebhookSink(url, retries=1, backoff=0.0, close_timeout=10)
    sink.write(anomalies(3))
    sink.close()
    _, reasons = add_up(sink, 3)
    assert reasons == {"failed": {"connection refused": 3}, "dropped": {}}


def test_a_pool_of_keep_alive_senders_delivers_a_burst_without_dropping():
    n = 5000
    with KeepAliveServer() as server:
        sink = WebhookSink(server.url, senders=2, close_timeout=60)
        for start in range(0, n, 500):
            sink.write(anomalies(500, start))
        sink.close()
    assert add_up(sink, n)[0] == {"sent": n, "failed": 0, "dropped": 0}
    assert sorted(a["seq"] for body in server.bodies for a in body["alerts"]) == list(range(n))
    assert server.requests >= n // 100  # json: up to 100 alerts per request


def test_alertmanager_format_batches_alerts_in_its_api_shape():
    with KeepAliveServer() as server:
        sink = WebhookSink(server.url, format="alertmanager", senders=1, close_timeout=30)
        batch = anomalies(250)
        sink.write(batch)
        sink.close()
    assert add_up(sink, 250)[0]["sent"] == 250
    alerts = [alert for body in server.bodies for alert in body]
    assert all(isinstance(body, list) and len(body) <= 100 for body in server.bodies)
    assert sorted(int(a["annotations"]["seq"]) for a in alerts) == list(range(250))
    first = alerts[0]
    assert first["labels"] == {"alertname": "OddwatchAnomaly", "series": "default"}
    assert first["startsAt"].endswith("Z") and first["annotations"]["value"] == "9.0"


def test_slack_format_posts_text_messages_with_one_line_per_alert():
    with KeepAliveServer() as server:
        sink = WebhookSink(server.url, format="slack", senders=1, close_timeout=30)
        batch = anomalies(60)
        sink.write(batch)
        sink.close()
    assert add_up(sink, 60)[0]["sent"] == 60
    lines = [line for body in server.bodies for line in body["text"].splitlines()]
    assert sum(line.startswith("oddwatch: ") for line in lines) == len(server.bodies) >= 2
    assert sum(line.startswith("- #") for line in lines) == 60
    assert "- #0: value 9.0, score 1.0 (threshold 0.5) high" in lines


def test_unknown_format_is_refused():
    with pytest.raises(InvalidParameterError, match="unknown webhook format 'xml'"):
        WebhookSink("http://127.0.0.1:1/", format="xml")
