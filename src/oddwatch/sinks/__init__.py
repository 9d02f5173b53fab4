"""Where results go: JSON Lines or CSV files (or stdout), memory, a webhook.

Examples
--------
>>> from oddwatch.sinks import MemorySink
>>> with MemorySink() as sink:
...     pass
>>> sink.closed
True
"""

from __future__ import annotations

from oddwatch.sinks._base import FIELDS, FileSink, OutputBatch, Sink
from oddwatch.sinks.csv import CsvSink
from oddwatch.sinks.jsonl import JsonlSink
from oddwatch.sinks.memory import MemorySink
from oddwatch.sinks.webhook import WebhookSink

__all__ = [
    "FIELDS",
    "CsvSink",
    "FileSink",
    "JsonlSink",
    "MemorySink",
    "OutputBatch",
    "Sink",
    "WebhookSink",
]
