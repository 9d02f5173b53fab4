"""Kafka records parsed into detect_stream's input; a real broker only when one is configured."""

from __future__ import annotations

import json
import os

import pytest

from oddwatch.errors import InvalidParameterError
from oddwatch.spark import detect_stream, parse_kafka, read_kafka

KAFKA_SCHEMA = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)


def kafka_frame(spark, messages):
    rows = [
        (key.encode(), value.encode(), "metrics", 0, offset, None)
        for offset, (key, value) in enumerate(messages)
    ]
    return spark.createDataFrame(rows, KAFKA_SCHEMA)


def test_json_values_become_typed_columns(spark):
    messages = [
        ("web-1", json.dumps({"host": "web-1", "ts": "2026-12-06T12:00:00Z", "cpu": 0.5})),
        ("web-2", json.dumps({"host": "web-2", "ts": "2026-12-06T12:00:10Z", "cpu": 0.25})),
    ]
    parsed = parse_kafka(kafka_frame(spark, messages), "host string, ts timestamp, cpu double")
    assert parsed.columns == [
        "host",
        "ts",
        "cpu",
        "kafka_key",
        "kafka_partition",
        "kafka_offset",
        "kafka_timestamp",
    ]
    rows = parsed.collect()
    assert [(r.host, r.cpu, r.kafka_key, r.kafka_offset) for r in rows] == [
        ("web-1", 0.5, "web-1", 0),
        ("web-2", 0.25, "web-2", 1),
    ]
    assert rows[1].ts.isoformat() == "2026-12-06T12:00:10"  # the session runs in UTC


def test_malformed_messages_reach_detect_stream_as_invalid_rows(spark):
    messages = [
        ("a", json.dumps({"host": "a", "t": 1, "cpu": 1.0})),
        ("a", "not json"),
        ("a", json.dumps({"host": "a", "t": 3})),
    ]
    parsed = parse_kafka(kafka_frame(spark, messages), "host string, t long, cpu double")
    from oddwatch import KeyedMonitor

    out = detect_stream(
        parsed, key="host", time="t", value="cpu", monitor=KeyedMonitor(on_invalid="flag")
    ).toPandas()
    warming = "warming up: no score until the detector has learned 64 points"
    assert sorted(out["reason"].tolist()) == ["missing key", "missing value", warming]


def test_a_frame_that_is_not_kafka_is_refused(spark):
    df = spark.createDataFrame([("a", 1.0)], "key string, value double")
    with pytest.raises(InvalidParameterError, match=r"lacks the Kafka column\(s\) \['partition'"):
        parse_kafka(df, "host string")


@pytest.mark.kafka
@pytest.mark.skipif(
    not os.environ.get("ODDWATCH_KAFKA_BOOTSTRAP"),
    reason="set ODDWATCH_KAFKA_BOOTSTRAP (and ODDWATCH_KAFKA_TOPIC) to a broker holding JSON "
    "points, and start Spark with the spark-sql-kafka connector package",
)
def test_read_kafka_from_a_real_broker(spark, tmp_path):
    topic = os.environ.get("ODDWATCH_KAFKA_TOPIC", "oddwatch-test")
    points = read_kafka(
        spark,
        os.environ["ODDWATCH_KAFKA_BOOTSTRAP"],
        topic,
        schema="key string, time timestamp, value double",
    )
    flags = detect_stream(points, key="key", time="time", value="value")
    query = (
        flags.writeStream.format("memory")
        .queryName("oddwatch_kafka")
        .option("checkpointLocation", str(tmp_path / "ck"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    assert spark.table("oddwatch_kafka").count() > 0
