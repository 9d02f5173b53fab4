"""Kafka topics of JSON records as a streaming DataFrame for :func:`detect_stream`.

Spark reads Kafka through its connector package, which is not part of pyspark: start Spark
with ``--packages org.apache.spark:spark-sql-kafka-0-10_2.13:<spark version>`` (or the
``spark.jars.packages`` setting). Each Kafka message value is one JSON object holding at least
the series key, the event time and the value, for example
``{"host": "web-1", "ts": "2026-12-06T12:00:00Z", "cpu": 0.93}``.

Ordering: Kafka keeps order within a partition only, so produce every point of a series to
the same partition (use the series key as the message key), in event-time order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from oddwatch.errors import InvalidParameterError
from oddwatch.spark._deps import require

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["KAFKA_COLUMNS", "parse_kafka", "read_kafka"]

KAFKA_COLUMNS = ("kafka_key", "kafka_partition", "kafka_offset", "kafka_timestamp")


def read_kafka(
    spark: SparkSession,
    bootstrap: str,
    topic: str,
    *,
    schema: str = "key string, time timestamp, value double",
    starting_offsets: str = "earliest",
    options: Mapping[str, str] | None = None,
) -> DataFrame:
    """Subscribe to ``topic`` and parse its JSON messages with :func:`parse_kafka`.

    Parameters
    ----------
    spark
        A session started with the Kafka connector package (see the module docstring).
    bootstrap
        ``kafka.bootstrap.servers``, e.g. ``"broker-1:9092,broker-2:9092"``.
    topic
        Topic to subscribe to.
    schema
        DDL of the JSON fields to read, e.g. ``"host string, ts timestamp, cpu double"``.
    starting_offsets
        Where a new query starts: ``"earliest"`` or ``"latest"``; a restarted query resumes
        from its checkpoint instead.
    options
        More reader options, e.g. ``{"kafka.security.protocol": "SSL"}``.

    Examples
    --------
    Needs a broker, so only the call is shown (``tests/spark/test_kafka.py`` runs it when
    ``ODDWATCH_KAFKA_BOOTSTRAP`` names one)::

        points = read_kafka(spark, "localhost:9092", "metrics",
                            schema="host string, ts timestamp, cpu double")
        flags = detect_stream(points, key="host", time="ts", value="cpu")
    """
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", starting_offsets)
    )
    for name, setting in (options or {}).items():
        reader = reader.option(name, setting)
    return parse_kafka(reader.load(), schema)


def parse_kafka(raw: DataFrame, schema: str) -> DataFrame:
    """Kafka records (``key``, ``value`` as bytes, ``partition``, ...) as typed columns.

    The JSON fields named in ``schema`` become columns, beside ``kafka_key`` (the message key
    as a string), ``kafka_partition``, ``kafka_offset`` and ``kafka_timestamp``. A message
    that is not a JSON object, or lacks a field, gives ``null`` there: ``detect_stream`` then
    treats the row as invalid under the monitor's ``on_invalid`` (never dropped silently).

    Examples
    --------
    >>> from oddwatch.spark import local_session
    >>> spark = local_session()
    >>> raw = spark.createDataFrame(
    ...     [(b"web-1", b'{"host": "web-1", "t": 7, "cpu": 0.5}', "metrics", 0, 12, None)],
    ...     "key binary, value binary, topic string, partition int, offset long, "
    ...     "timestamp timestamp")
    >>> parse_kafka(raw, "host string, t long, cpu double").collect()
    [Row(host='web-1', t=7, cpu=0.5, kafka_key='web-1', kafka_partition=0, kafka_offset=12,
    kafka_timestamp=None)]
    """
    functions = require("pyspark.sql.functions")
    missing = [
        c for c in ("key", "value", "partition", "offset", "timestamp") if c not in raw.columns
    ]
    if missing:
        raise InvalidParameterError(
            f"parse_kafka: the DataFrame lacks the Kafka column(s) {missing}; its columns are "
            f"{raw.columns}. Pass what spark.readStream.format('kafka').load() returns."
        )
    fields: Any = functions.from_json(functions.col("value").cast("string"), schema)
    parsed = raw.select(
        fields.alias("record"),
        functions.col("key").cast("string").alias("kafka_key"),
        functions.col("partition").alias("kafka_partition"),
        functions.col("offset").alias("kafka_offset"),
        functions.col("timestamp").alias("kafka_timestamp"),
    )
    return parsed.select("record.*", *KAFKA_COLUMNS)
