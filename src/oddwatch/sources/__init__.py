"""Where points come from: simulated streams, CSV and JSON Lines files, stdin, followed files.

Examples
--------
>>> from oddwatch.sources import simulate
>>> len(simulate(n_points=10))
10
"""

from __future__ import annotations

from oddwatch.sources._base import MAX_LINE_BYTES, LineBlock, Records, Source, read_blocks
from oddwatch.sources.csv import CsvParser
from oddwatch.sources.files import FileSource
from oddwatch.sources.follow import FollowReader
from oddwatch.sources.jsonl import JsonlParser
from oddwatch.sources.records import PROBLEMS, RateLimiter, Validator
from oddwatch.sources.simulate import (
    ANOMALY_KINDS,
    AnomalyEvent,
    SimulatedPoint,
    Simulation,
    SimulationConfig,
    SimulationSource,
    iter_points,
    simulate,
    write_csv,
    write_jsonl,
)

__all__ = [
    "ANOMALY_KINDS",
    "AnomalyEvent",
    "CsvParser",
    "FileSource",
    "FollowReader",
    "JsonlParser",
    "LineBlock",
    "MAX_LINE_BYTES",
    "PROBLEMS",
    "RateLimiter",
    "Records",
    "SimulatedPoint",
    "Simulation",
    "SimulationConfig",
    "SimulationSource",
    "Source",
    "Validator",
    "iter_points",
    "read_blocks",
    "simulate",
    "write_csv",
    "write_jsonl",
]
