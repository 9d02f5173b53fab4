"""Run a stream through a Monitor into sinks: ``source -> validation -> Monitor -> sinks``.

:func:`run` is the loop behind ``oddwatch detect``, ``fit`` and ``demo``: it validates each
chunk of records once (the ``on_invalid`` policy, with counts), feeds the valid points to a
:class:`~oddwatch.Monitor` or :class:`~oddwatch.KeyedMonitor`, writes the output records to
the sinks, reports its counters to sinks that ``observe``, and checkpoints its progress so a
crashed run resumes exactly where it stopped.

Examples
--------
>>> import io
>>> from oddwatch import Monitor
>>> from oddwatch.pipeline import run
>>> from oddwatch.sinks import MemorySink
>>> from oddwatch.sources import FileSource
>>> data = b"timestamp,value\\n" + b"".join(
...     b"2026-01-01T00:%02d:00,%d\\n" % (i, i % 3) for i in range(60))
>>> sink = MemorySink()
>>> stats = run(FileSource("-", stdin=io.BytesIO(data)), Monitor(), [sink])
>>> stats.records_read, len(sink.records), sink.records[0]["timestamp"]
(60, 60, '2026-01-01T00:00:00')
"""

from __future__ import annotations

from oddwatch.pipeline._run import MonitorFactory, RunStats, run
from oddwatch.pipeline.batch import chunk_batch, output_batch
from oddwatch.pipeline.checkpoint import Checkpoint, SavedRun

__all__ = [
    "Checkpoint",
    "MonitorFactory",
    "RunStats",
    "SavedRun",
    "chunk_batch",
    "output_batch",
    "run",
]
