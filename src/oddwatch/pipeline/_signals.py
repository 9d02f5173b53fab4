"""SIGINT and SIGTERM that stop a run between batches, never in the middle of one.

While a batch is being processed a signal is only noted, and the run stops after the batch;
while the run waits for input the signal raises :class:`KeyboardInterrupt` at once (nothing is
half done then). Either way the state is consistent, so a final checkpoint can be written.

Examples
--------
>>> with DeferredSignals() as signals:
...     signals.busy = True
...     signals.pending is None
True
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any

__all__ = ["DeferredSignals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DeferredSignals:
    """Context manager installing the handlers (main thread only; elsewhere it does nothing).

    ``busy`` says whether a batch is being processed; ``pending`` is the signal number noted
    during one (None if none).
    """

    def __init__(self) -> None:
        self.busy = False
        self.pending: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.busy and self.pending is None:
            self.pending = signum
            return
        raise KeyboardInterrupt

    def __enter__(self) -> DeferredSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
