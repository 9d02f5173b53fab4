"""A message printed only when a step turns out slow (the first run compiling kernels)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["COMPILING", "notice_if_slow"]

COMPILING = "compiling kernels, first run only (cached afterwards)..."


@contextmanager
def notice_if_slow(
    message: str = COMPILING, after: float = 0.5, stream: TextIO | None = None
) -> Iterator[None]:
    """Print ``message`` (to stderr by default) if the block is still running after ``after`` s.

    A warm start finishes before the timer fires and prints nothing.

    Examples
    --------
    >>> import io, time
    >>> out = io.StringIO()
    >>> with notice_if_slow("slow step...", after=0.01, stream=out):
    ...     time.sleep(0.2)
    >>> out.getvalue()
    'slow step...\\n'
    >>> with notice_if_slow("slow step...", after=5.0, stream=out):
    ...     pass
    >>> out.getvalue().count("slow step")
    1
    """

    def say() -> None:
        print(message, file=stream or sys.stderr, flush=True)

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
