"""``detect_stream``: a :class:`~oddwatch.KeyedMonitor` per hash bucket, in Spark's keyed state.

Series are spread over ``buckets`` groups by ``pmod(hash(key), buckets)``; each group's state
is one KeyedMonitor holding all of its series, kept between micro-batches by
``applyInPandasWithState`` as one binary blob in oddwatch's own versioned array format
(:mod:`oddwatch.spark._state`, never pickle). Per micro-batch, Spark calls Python once per
bucket, not once per series, and the bucket's points are scored in one compiled pass; so the
cost per point is the single-process cost plus Arrow transfer and the state blob round trip.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from oddwatch.errors import InvalidParameterError
from oddwatch.keyed import KeyedMonitor
from oddwatch.spark._bucket import OUTPUT_COLUMNS, score_bucket
from oddwatch.spark._deps import require
from oddwatch.spark._state import monitor_spec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["BUCKET_COLUMN", "detect_stream", "output_schema"]

BUCKET_COLUMN = "oddwatch_bucket"
_TIME_TYPES = ("TimestampType", "TimestampNTZType", "DateType")


def detect_stream(
    df: DataFrame,
    *,
    key: str,
    time: str,
    value: str,
    monitor: KeyedMonitor | None = None,
    buckets: int = 16,
) -> DataFrame:
    """Score every row of ``df`` with a per-key detector whose state lives in Spark.

    Returns a DataFrame (streaming if ``df`` is) of output records ``key`` (string),
    ``timestamp`` (the type of ``time``), ``value``, ``score``, ``is_anomaly``, ``threshold``
    and ``reason``: one per input row, equal to what ``monitor.update_many`` gives in one
    process when fed each key's rows in event-time order. Within a micro-batch a key's rows
    are scored in event-time order (rows with equal timestamps by value); across micro-batches
    in batch order, so a late row (older than rows of its key already scored) is scored when
    it arrives, after them, never dropped. Rows without a key or timestamp, and non-finite
    values, follow ``monitor.on_invalid``; with ``"raise"`` the query stops with
    :class:`~oddwatch.errors.InvalidInputError`.

    Parameters
    ----------
    df
        Streaming or static DataFrame with one row per point. A static one is scored as a
        single micro-batch (``applyInPandas``, each bucket from a fresh monitor).
    key
        Column naming the series (any type; compared as its string form).
    time
        Event-time column: timestamp, date or numeric.
    value
        Column to watch, cast to double (``try_cast``: text that is not a number becomes
        ``nan`` and follows ``on_invalid``).
    monitor
        Template for every bucket (its parameters, never its learned state); default
        ``KeyedMonitor()``. ``max_keys`` bounds the series of one bucket: choose it above the
        series count divided by ``buckets``, with room for uneven hashing, or keys get evicted.
    buckets
        Number of state groups: about one per 8,000 series (each bucket's state is
        rewritten every micro-batch; blobs over ~20 MB slow Spark down, see
        ``docs/scale-out.md``), and at least 2 per core. Fixed for the life of a
        checkpoint, like ``spark.sql.shuffle.partitions``.

    Examples
    --------
    >>> from oddwatch.spark import local_session
    >>> spark = local_session()
    >>> rows = [("web-1", t, 50 + t % 4 * 0.5 + t % 7 * 0.3) for t in range(100)]
    >>> df = spark.createDataFrame(rows + [("web-1", 100, 95.0)], "host string, t long, cpu double")
    >>> out = detect_stream(df, key="host", time="t", value="cpu", buckets=2)
    >>> out.columns
    ['key', 'timestamp', 'value', 'score', 'is_anomaly', 'threshold', 'reason']
    >>> out.where("is_anomaly").select("timestamp", "reason").collect()
    [Row(timestamp=100, reason='95 is 50.9 sd above the expected 51.66')]
    """
    functions = require("pyspark.sql.functions")
    state_module = require("pyspark.sql.streaming.state")
    template = KeyedMonitor() if monitor is None else monitor
    if not isinstance(template, KeyedMonitor):
        raise InvalidParameterError(
            f"`monitor` of detect_stream must be a KeyedMonitor; got {template!r}. Wrap the "
            "detector: KeyedMonitor(detector, threshold, max_keys=...)."
        )
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
        raise InvalidParameterError(
            f"`buckets` of detect_stream must be an int >= 1; got {buckets!r}. Use about "
            "2-4 buckets per core of the cluster."
        )
    for role, column in (("key", key), ("time", time), ("value", value)):
        if column not in df.columns:
            raise InvalidParameterError(
                f"detect_stream: no column {column!r} (given as `{role}`); the DataFrame's "
                f"columns are {df.columns}."
            )
    time_type = df.schema[time].dataType
    if type(time_type).__name__ not in _TIME_TYPES and not _is_numeric(time_type):
        raise InvalidParameterError(
            f"detect_stream: `time` column {time!r} must be a timestamp, date or number to "
            f"order points by; got {time_type.simpleString()}. Convert it first, e.g. "
            f"df.withColumn({time!r}, F.to_timestamp({time!r}))."
        )
    spec = json.dumps(monitor_spec(template))
    rows = df.select(
        functions.col(key).cast("string").alias("key"),
        functions.col(time).alias("timestamp"),
        functions.col(value).try_cast("double").alias("value"),
    ).withColumn(
        BUCKET_COLUMN, functions.pmod(functions.hash("key"), functions.lit(buckets)).cast("int")
    )

    def score_group(group: tuple[Any, ...], frames: Iterator[Any], state: Any) -> Iterator[Any]:
        blob = bytes(state.get[0]) if state.exists else None
        parts = (f.drop(columns=BUCKET_COLUMN) for f in frames)
        out, new_blob = score_bucket(json.loads(spec), buckets, parts, blob)
        state.update((new_blob,))
        yield out

    def score_all(frame: Any) -> Any:
        return score_bucket(json.loads(spec), buckets, [frame.drop(columns=BUCKET_COLUMN)], None)[0]

    schema = output_schema(time_type)
    if not df.isStreaming:
        return rows.groupBy(BUCKET_COLUMN).applyInPandas(score_all, schema)
    return rows.groupBy(BUCKET_COLUMN).applyInPandasWithState(
        score_group,
        outputStructType=schema,
        stateStructType="blob binary",
        outputMode="append",
        timeoutConf=state_module.GroupStateTimeout.NoTimeout,
    )


def output_schema(time_type: Any) -> Any:
    """The StructType of :func:`detect_stream`'s output for a ``time`` column of ``time_type``.

    Examples
    --------
    >>> from pyspark.sql.types import LongType
    >>> output_schema(LongType()).simpleString()
    'struct<key:string,timestamp:bigint,value:double,score:double,is_anomaly:boolean,threshold:double,reason:string>'
    """
    types = require("pyspark.sql.types")
    kinds = {
        "key": types.StringType(),
        "timestamp": time_type,
        "value": types.DoubleType(),
        "score": types.DoubleType(),
        "is_anomaly": types.BooleanType(),
        "threshold": types.DoubleType(),
        "reason": types.StringType(),
    }
    return types.StructType([types.StructField(c, kinds[c], True) for c in OUTPUT_COLUMNS])


def _is_numeric(data_type: Any) -> bool:
    types = require("pyspark.sql.types")
    return isinstance(data_type, types.NumericType)
