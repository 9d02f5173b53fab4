"""Doctests of oddwatch.spark need the spark extra: skip them without it, except in CI."""

from __future__ import annotations

import os
from importlib.util import find_spec

if find_spec("pyspark") is None and os.environ.get("CI") != "true":
    collect_ignore_glob = ["*.py"]
