"""The dashboard as a sink: results and pipeline counters go to a :class:`Board`."""

from __future__ import annotations

from collections.abc import Mapping

from oddwatch.dashboard.board import Board
from oddwatch.sinks._base import OutputBatch

__all__ = ["DashboardSink"]


class DashboardSink:
    """Feed a :class:`~oddwatch.dashboard.Board` (served by a ``DashboardServer``).

    ``write`` queues the batch and returns at once (see :class:`Board` for what happens when
    the page cannot keep up); ``observe`` takes the pipeline's counters; ``close`` folds in
    what is still queued. The server keeps running after ``close`` so the page can be read.

    Examples
    --------
    >>> import numpy as np
    >>> board = Board()
    >>> with DashboardSink(board) as sink:
    ...     sink.write(OutputBatch(seq=np.arange(2), value=np.ones(2), score=np.zeros(2),
    ...                            threshold=np.ones(2), is_anomaly=np.zeros(2, bool),
    ...                            reason=["", ""]))
    ...     sink.observe({"records_read": 2.0})
    >>> board.overview()["board"]["records"], board.overview()["counters"]
    (2, {'records_read': 2.0})
    """

    def __init__(self, board: Board) -> None:
        self.board = board

    def write(self, batch: OutputBatch) -> None:
        """Queue ``batch`` for the page (never waits)."""
        self.board.submit(batch)

    def observe(self, stats: Mapping[str, float]) -> None:
        """Show the pipeline's counters."""
        self.board.observe(stats)

    def close(self) -> None:
        """Fold in what is still queued."""
        self.board.drain()

    def __enter__(self) -> DashboardSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
