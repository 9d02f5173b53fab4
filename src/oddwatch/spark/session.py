"""``local_session``: a SparkSession on this machine, set up for oddwatch."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from oddwatch.spark._deps import require

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["local_session"]


def local_session(
    cores: int = 2,
    shuffle_partitions: int = 4,
    app_name: str = "oddwatch",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Start (or return the running) local SparkSession, its Python workers on this Python.

    Sets ``spark.pyspark.python`` to ``sys.executable`` (workers that import another Python
    cannot import oddwatch), a small ``spark.sql.shuffle.partitions`` (Spark's default of 200
    means 200 tasks per micro-batch), the session time zone to UTC (timestamps show and reach
    Python in UTC, whatever the machine's zone), and turns the web UI off. Starting the JVM took
    20 to 60 s on a shared 2-core machine (``benchmarks/bench_spark.py``). A session already
    running in this process is returned as it is.

    Parameters
    ----------
    cores
        Local worker threads (``local[cores]``).
    shuffle_partitions
        ``spark.sql.shuffle.partitions``; frozen into a streaming query's checkpoint.
    app_name
        Name shown in Spark's logs.
    conf
        More settings, e.g. ``{"spark.driver.memory": "8g"}`` (JVM settings only take
        effect when this call starts the JVM).

    Examples
    --------
    >>> spark = local_session()
    >>> spark.range(3).count()
    3
    """
    sql = require("pyspark.sql")
    settings = {
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        **(conf or {}),
    }
    builder = sql.SparkSession.builder.master(f"local[{cores}]").appName(app_name)
    for name, setting in settings.items():
        builder = builder.config(name, setting)
    spark: SparkSession = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
