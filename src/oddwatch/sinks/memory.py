"""An in-memory sink for tests: keeps every record as a dict, and the latest run counters.

Examples
--------
>>> import numpy as np
>>> from oddwatch.sinks._base import OutputBatch
>>> sink = MemorySink()
>>> sink.write(OutputBatch(seq=np.array([0]), value=np.array([2.0]), score=np.array([0.5]),
...                        threshold=np.array([0.9]), is_anomaly=np.array([False]), reason=[""]))
>>> sink.records[0]["value"], sink.position, sink.closed
(2.0, 1, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

from oddwatch.sinks._base import OutputBatch

__all__ = ["MemorySink"]


class MemorySink:
    """Collect output records in ``records`` (``position`` counts them); ``stats`` holds the
    counters :func:`oddwatch.pipeline.run` last passed to :meth:`observe`."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.stats: dict[str, float] = {}
        self.closed = False

    @property
    def position(self) -> int:
        return len(self.records)

    def write(self, batch: OutputBatch) -> None:
        """Append the records of ``batch`` as dicts."""
        self.records.extend(batch.rows())

    def observe(self, stats: Mapping[str, float]) -> None:
        """Keep the pipeline's counters (called after every batch)."""
        self.stats = dict(stats)

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> MemorySink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
