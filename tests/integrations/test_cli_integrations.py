"""The CLI's feed addresses: recognised, parsed and built into the right source."""

from __future__ import annotations

import time

import pytest

from oddwatch.cli._integrations import is_feed, open_feed, parse_duration
from oddwatch.errors import InvalidParameterError
from oddwatch.sources.kafka import KafkaSource
from oddwatch.sources.mqtt import MqttSource
from oddwatch.sources.prometheus import PrometheusSource

from .servers import mosquitto, need


@pytest.mark.parametrize(
    "address, expected",
    [
        ("mqtt://h/t", True),
        ("prometheus://h:9090", True),
        ("kafka://b:9092/t", True),
        ("-", False),
        ("data/mqtt.csv", False),
        ("http://h/x", False),
    ],
)
def test_is_feed(address, expected):
    assert is_feed(address) is expected


@pytest.mark.parametrize("text", ["", "fast", "-1s", "0", "1w"])
def test_bad_durations(text):
    with pytest.raises(InvalidParameterError, match="a duration must"):
        parse_duration(text)


def test_prometheus_settings():
    before = time.time()
    source = open_feed("prometheus://127.0.0.1:9", {"query": "up", "step": "30s", "since": "1h"})
    assert isinstance(source, PrometheusSource) and source.step_ms == 30_000
    assert before - 3600 - 30 <= source.next_ms / 1000 <= before - 3600 + 1
    until = open_feed("prometheus://127.0.0.1:9", {"query": "up", "until": "0s"})
    assert until.end_ms is not None and abs(until.end_ms / 1000 - time.time()) < 5
    with pytest.raises(InvalidParameterError, match="needs --query PROMQL"):
        open_feed("prometheus://127.0.0.1:9", {})


def test_kafka_settings():
    need("confluent_kafka")
    source = open_feed(
        "kafka://127.0.0.1:1/metrics", {"group": "g", "message_key": True, "value_col": "v"}
    )
    assert isinstance(source, KafkaSource) and source.keyed and source.topic == "metrics"
    assert source._batch.value_field == "v"
    source.close()
    with pytest.raises(InvalidParameterError, match="needs --group G"):
        open_feed("kafka://127.0.0.1:1/metrics", {})


def test_mqtt_settings(tmp_path):
    need("paho.mqtt.client")
    with mosquitto(tmp_path) as port:
        source = open_feed(f"mqtt://127.0.0.1:{port}/a/+", {"qos": 1, "idle_timeout": 0.1})
        assert isinstance(source, MqttSource) and source.keyed and source.qos == 1
        assert list(source) == []
        source.close()


def test_river_detector_from_the_cli_name(monkeypatch):
    need("river")
    from oddwatch.cli._integrations import river_detector

    det = river_detector("river:HalfSpaceTrees", {"window_size": 20, "seed": 1})
    assert det.warmup == 20 and "MinMaxScaler" in repr(det.model)
    det = river_detector("river:LODA", {"scaler": None, "seed": 1})
    assert "MinMaxScaler" not in repr(det.model)
    with pytest.raises(InvalidParameterError, match="unknown River anomaly detector 'Nope'"):
        river_detector("river:Nope", {})
    import sys

    for name in [m for m in sys.modules if m.startswith("oddwatch.river")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "river", None)
    with pytest.raises(InvalidParameterError, match=r"--detector river:X: .*oddwatch\[river\]"):
        river_detector("river:X", {})
