"""MqttSource against a real mosquitto broker on 127.0.0.1 (started and stopped here)."""

from __future__ import annotations

import json
import sys
import time

import numpy as np
import pytest

from oddwatch import KeyedMonitor, Monitor
from oddwatch.detectors import RollingZScore
from oddwatch.errors import InvalidParameterError, SourceError
from oddwatch.sources.mqtt import MqttSource, parse_mqtt_url
from oddwatch.sources.records import MISSING_FIELD, NOT_FINITE, NOT_NUMERIC, OK, UNPARSABLE

from .servers import mosquitto, need

mqtt = need("paho.mqtt.client")


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, body in messages:
            client.publish(topic, body, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def read_all(source: MqttSource) -> tuple[list, list, list, list]:
    values, keys, problems, times = [], [], [], []
    for chunk in source:
        values += chunk.value.tolist()
        problems += chunk.problem.tolist()
        times += chunk.time_text
        keys += [] if chunk.key is None else chunk.key.tolist()
    return values, keys, problems, times


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mqtt://127.0.0.1:1884/a/b", ("127.0.0.1", 1884, "a/b")),
        ("mqtt://h/plant/+/temp", ("h", 1883, "plant/+/temp")),
        ("mqtt://h:9/#", ("h", 9, "#")),
    ],
)
def test_parse_url(url, expected):
    assert parse_mqtt_url(url) == expected


@pytest.mark.parametrize("url", ["mqtt://h", "http://h/t", "mqtt:///t", "mqtt://h:x/t"])
def test_parse_url_rejects(url):
    with pytest.raises(InvalidParameterError, match="mqtt://|port"):
        parse_mqtt_url(url)


def test_refused_connection_is_a_source_error():
    with pytest.raises(SourceError, match="cannot connect to the MQTT broker at 127.0.0.1:1 "):
        MqttSource("127.0.0.1", 1, "t", connect_timeout=1.0)


def test_missing_paho_says_which_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "paho.mqtt.client", None)
    with pytest.raises(SourceError, match=r"pip install 'oddwatch\[mqtt\]'"):
        MqttSource("127.0.0.1", 1883, "t")


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match="`qos` of MqttSource must be an int in"):
        MqttSource("127.0.0.1", 1883, "t", qos=3)
    with pytest.raises(InvalidParameterError, match="persistent MQTT session needs a client_id"):
        MqttSource("127.0.0.1", 1883, "t", session="persistent")


def test_wildcard_topics_are_series_keys_and_payloads_parse(tmp_path):
    messages = [
        ("plant/a/temp", b"21.5"),
        ("plant/b/temp", json.dumps({"value": 30, "timestamp": 1767225600}).encode()),
        ("plant/a/temp", b'{"value": "22.5"}'),
        ("plant/b/temp", b"hot"),
        ("plant/a/temp", b'{"v": 1}'),
        ("plant/b/temp", b"nan"),
        ("plant/a/temp", b""),
        ("other/topic", b"99"),  # not matched by the filter
    ]
    with mosquitto(tmp_path) as port:
        with MqttSource("127.0.0.1", port, "plant/+/temp", qos=1, idle_timeout=1.0) as source:
            publish(port, messages)
            values, keys, problems, times = read_all(source)
            assert source.position == {"records": 7}
    assert keys == ["plant/a/temp", "plant/b/temp"] * 3 + ["plant/a/temp"]
    np.testing.assert_array_equal(values[:3], [21.5, 30.0, 22.5])
    assert problems == [OK, OK, OK, NOT_NUMERIC, MISSING_FIELD, NOT_FINITE, UNPARSABLE]
    assert times[1] == "2026-01-01T00:00:00Z"
    assert times[0].endswith("Z") and times[0] > "2026-"  # arrival time


def test_plain_topic_is_one_series_and_max_records_stops(tmp_path):
    with mosquitto(tmp_path) as port:
        with MqttSource("127.0.0.1", port, "cpu", qos=1, max_records=3, chunk_size=2) as source:
            publish(port, [("cpu", str(v).encode()) for v in range(5)])
            chunks = list(source)
    assert [c.value.tolist() for c in chunks] == [[0.0, 1.0], [2.0]]
    assert all(c.key is None for c in chunks)
    assert [c.line.tolist() for c in chunks] == [[1, 2], [3]]


def test_keyed_monitor_over_mqtt_equals_each_series_alone(tmp_path):
    rng = np.random.default_rng(3)
    series = {k: rng.normal(10, 1, 60) for k in ("a", "b")}
    series["b"][50] = 40.0
    messages = [(f"m/{k}", repr(float(series[k][i])).encode()) for i in range(60) for k in "ab"]
    with mosquitto(tmp_path) as port:
        with MqttSource("127.0.0.1", port, "m/#", qos=1, idle_timeout=1.0) as source:
            publish(port, messages)
            keyed = KeyedMonitor(RollingZScore(window_size=8))
            results = [keyed.update_many(c.key, c.value) for c in source]
    key = np.concatenate([r.key for r in results])
    score = np.concatenate([r.score for r in results])
    flagged = np.concatenate([r.is_anomaly for r in results])
    for k in "ab":
        alone = Monitor(RollingZScore(window_size=8)).update_many(series[k])
        np.testing.assert_array_equal(score[key == f"m/{k}"], alone.score)
        np.testing.assert_array_equal(flagged[key == f"m/{k}"], alone.is_anomaly)
    assert flagged[key == "m/b"][50]


def test_reconnects_after_the_broker_restarts(tmp_path):
    with mosquitto(tmp_path) as port:
        source = MqttSource(
            "127.0.0.1", port, "r", qos=1, idle_timeout=2.0, reconnect_min=0.1, reconnect_max=0.5
        )
        publish(port, [("r", b"1")])
        first = next(iter(source))
    assert first.value.tolist() == [1.0]
    try:
        deadline = time.monotonic() + 10
        while source.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not source.connected
        with mosquitto(tmp_path, port=port):
            deadline = time.monotonic() + 15
            while not source.connected and time.monotonic() < deadline:
                time.sleep(0.05)
            assert source.connected and source.n_connects == 2
            publish(port, [("r", b"2"), ("r", b"3")])
            rest = [v for c in source for v in c.value.tolist()]
    finally:
        source.close()
    assert rest == [2.0, 3.0]


def test_persistent_session_receives_what_arrived_while_away(tmp_path):
    with mosquitto(tmp_path) as port:
        args = ("127.0.0.1", port, "p/#")
        MqttSource(*args, qos=1, session="persistent", client_id="ow-test").close()
        publish(port, [("p/x", b"1"), ("p/y", b"2"), ("p/x", b"3")])  # nobody connected
        with MqttSource(
            *args, qos=1, session="persistent", client_id="ow-test", idle_timeout=1.0
        ) as source:
            values, keys, _, _ = read_all(source)
    assert values == [1.0, 2.0, 3.0] and keys == ["p/x", "p/y", "p/x"]


def test_close_from_another_thread_ends_a_waiting_iteration(tmp_path):
    import threading

    with mosquitto(tmp_path) as port:
        source = MqttSource("127.0.0.1", port, "quiet")  # no idle timeout: waits for ever
        timer = threading.Timer(0.3, source.close)
        timer.start()
        started = time.monotonic()
        assert list(source) == []
        assert time.monotonic() - started < 5
        timer.join()
