"""Doctest collection: skip the modules of optional extras that are not installed.

``pytest --doctest-modules`` imports every module under src/oddwatch; a module of an extra
(River, pandas, paho-mqtt, pyspark) cannot be imported without it. Outside CI those modules are left out
of collection; under ``CI=true`` nothing is left out, so a missing extra fails the run.
"""

from __future__ import annotations

import importlib.util
import os

_EXTRA_MODULES = {
    "river": ["src/oddwatch/river"],
    "pandas": ["src/oddwatch/frames.py"],
    "paho.mqtt": ["src/oddwatch/sources/mqtt.py"],
    "pyspark": ["src/oddwatch/spark"],
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


collect_ignore = [
    path
    for module, paths in _EXTRA_MODULES.items()
    if os.environ.get("CI") != "true" and not _installed(module)
    for path in paths
]
