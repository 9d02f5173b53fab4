"""oddwatch on Apache Spark Structured Streaming: the same keyed detectors, state in Spark.

Needs the ``spark`` extra (``pip install 'oddwatch[spark]'``: pyspark 4, pandas, pyarrow)
and Java 17 or later; the core package never imports this one. See ``docs/scale-out.md``.
"""

from __future__ import annotations

from oddwatch.spark.kafka import parse_kafka, read_kafka
from oddwatch.spark.session import local_session
from oddwatch.spark.stream import detect_stream, output_schema

__all__ = ["detect_stream", "local_session", "output_schema", "parse_kafka", "read_kafka"]
