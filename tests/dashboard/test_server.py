"""DashboardServer over real HTTP on 127.0.0.1: page, static files, API, event stream."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest

from oddwatch.dashboard import Board, DashboardServer, DashboardSink
from oddwatch.errors import InvalidParameterError
from oddwatch.sinks._base import OutputBatch


def _get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def _flagged(key="a"):
    return OutputBatch(
        seq=np.arange(2),
        value=np.array([1.0, 9.0]),
        score=np.array([0.1, 0.99]),
        threshold=np.full(2, 0.9),
        is_anomaly=np.array([False, True]),
        reason=["", "9 is 8.0 sd above the expected 1"],
        key=np.array([key, key]),
    )


def _next_event(stream):
    for _ in range(100):
        line = stream.readline()
        if line.startswith(b"data: "):
            return json.loads(line[6:])
    pytest.fail("no event in 100 lines")


@pytest.fixture
def server():
    with DashboardServer(Board(), port=0) as running:
        yield running


def test_binds_127_0_0_1_by_default_on_the_asked_port(server):
    assert server.url.startswith("http://127.0.0.1:")
    assert server._httpd.server_address[0] == "127.0.0.1"


def test_page_and_bundled_files_are_served_without_any_cdn(server):
    status, kind, body = _get(server.url)
    assert status == 200 and kind.startswith("text/html")
    page = body.decode()
    assert "/static/uPlot.iife.min.js" in page and "http" not in page.replace("http-equiv", "")
    for name in ("app.js", "style.css", "uPlot.iife.min.js", "uPlot.min.css"):
        status, _, body = _get(server.url + "static/" + name)
        assert status == 200 and len(body) > 100
    with pytest.raises(urllib.error.HTTPError) as missing:
        _get(server.url + "static/../board.py")
    assert missing.value.code == 404
    missing.value.close()


def test_api_serves_overview_series_and_key_search(server):
    sink = DashboardSink(server.board)
    sink.write(_flagged())
    sink.observe({"records_read": 2.0, "invalid.not_numeric": 0.0})
    sink.close()
    overview = json.loads(_get(server.url + "api/overview?lanes=5")[2])
    assert overview["n_keys"] == 1 and overview["counters"]["records_read"] == 2.0
    assert overview["alerts"][0]["reason"] == "9 is 8.0 sd above the expected 1"
    series = json.loads(_get(server.url + "api/series?key=a")[2])
    assert series["value"] == [1.0, 9.0] and series["flag"] == [False, True]
    assert json.loads(_get(server.url + "api/keys?q=a")[2]) == ["a"]


def test_event_stream_pushes_the_overview_when_something_is_written(server):
    with urllib.request.urlopen(server.url + "events?lanes=3&key=b", timeout=10) as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = _next_event(stream)  # the current state, sent on connect
        assert first["alerts"] == [] and first["series"]["known"] is False
        server.board.submit(_flagged("b"))
        event = _next_event(stream)
    assert event["alerts"][0]["key"] == "b"
    assert event["series"]["key"] == "b" and event["series"]["value"] == [1.0, 9.0]


def test_a_busy_port_gives_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InvalidParameterError, match=r"cannot serve the dashboard on .*--port"):
            DashboardServer(Board(), port=port)


def test_stop_ends_open_event_streams():
    server = DashboardServer(Board(), port=0).start()
    stream = urllib.request.urlopen(server.url + "events", timeout=10)
    server.stop()
    assert stream.read() is not None  # the stream closes instead of hanging
    stream.close()


def test_a_foreign_host_name_is_refused_on_loopback(server):
    request = urllib.request.Request(server.url + "api/overview", headers={"Host": "evil.example"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    refused.value.close()
    assert refused.value.code == 403
    port = server.url.rsplit(":", 1)[1]
    request = urllib.request.Request(
        server.url + "api/overview", headers={"Host": f"localhost:{port}"}
    )
    assert _get_request(request)["n_keys"] == 0


def _get_request(request):
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)
