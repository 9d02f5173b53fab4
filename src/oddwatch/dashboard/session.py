"""A dashboard for the length of a command: serve, feed, hold the page open, stop.

What ``oddwatch detect --dashboard``, ``oddwatch demo --dashboard`` and ``oddwatch
dashboard RESULTS.jsonl`` share.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from oddwatch.dashboard.board import Board
from oddwatch.dashboard.follow import follow_results
from oddwatch.dashboard.server import DashboardServer
from oddwatch.dashboard.sink import DashboardSink

__all__ = ["DashboardSession"]


class DashboardSession:
    """A served :class:`Board` with a sink to feed it.

    Parameters
    ----------
    host, port
        Where to serve (127.0.0.1 keeps the page on this machine; port 0 = any free port).
    messages
        Where to print the page's address and hints (stderr by default: stdout is data).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with DashboardSession(port=0, messages=out) as session:
    ...     session.sink.observe({"records_read": 1.0})
    >>> out.getvalue().startswith("dashboard: http://127.0.0.1:")
    True
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 8050, messages: TextIO | None = None
    ) -> None:
        self.messages = messages or sys.stderr
        self.board = Board()
        self.server = DashboardServer(self.board, host=host, port=port)
        self.sink = DashboardSink(self.board)
        self._follower: threading.Thread | None = None
        self._stop_following = threading.Event()
        if host not in ("127.0.0.1", "localhost", "::1"):
            self._say(f"warning: the dashboard is reachable from other machines via {host}")

    def _say(self, text: str) -> None:
        print(text, file=self.messages, flush=True)

    @property
    def url(self) -> str:
        """The page's address."""
        return self.server.url

    def start(self) -> DashboardSession:
        """Serve, and say where."""
        self.server.start()
        self._say(f"dashboard: {self.url}")
        return self

    def follow(self, path: str, from_start: bool = True) -> None:
        """Feed the board from a JSONL results file as it grows (in a thread)."""
        self._follower = threading.Thread(
            target=follow_results,
            args=(path, self.board, self._stop_following, from_start),
            name="oddwatch-follow",
            daemon=True,
        )
        self._follower.start()

    def hold(self, message: str = "run finished") -> bool:
        """Keep the page up until Ctrl-C (then True).

        Off the main thread nothing could deliver the Ctrl-C, so it returns False at once.
        """
        self.sink.close()
        done = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            done.set()

        try:  # the handler goes in before the message: a Ctrl-C right after it is caught
            previous = signal.signal(signal.SIGINT, stop)
        except ValueError:  # not the main thread: nothing can interrupt us, do not block
            return False
        try:
            self._say(f"{message}; the dashboard stays at {self.url} (Ctrl-C to exit)")
            while not done.wait(0.2):
                pass
        finally:
            signal.signal(signal.SIGINT, previous)
        return True

    def close(self) -> None:
        """Stop following and serving."""
        self._stop_following.set()
        if self._follower is not None:
            self._follower.join()
        self.server.stop()

    def __enter__(self) -> DashboardSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
