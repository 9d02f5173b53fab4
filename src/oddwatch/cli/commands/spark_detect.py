"""``oddwatch spark-detect``: the command lives in :mod:`oddwatch.spark.command`.

Importing it needs no pyspark; running it needs the spark extra
(``pip install 'oddwatch[spark]'``) and says so when it is missing.
"""

from __future__ import annotations

from oddwatch.spark.command import EPILOG, HELP, NAME, add_arguments, run

__all__ = ["EPILOG", "HELP", "NAME", "add_arguments", "run"]
