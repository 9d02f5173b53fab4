"""POST each anomaly as JSON to a webhook, from a background thread that never blocks detection.

``write`` only puts anomalies on a bounded queue (a full queue drops the record and counts
it); a daemon thread sends them one by one, retrying timeouts, connection errors, 408, 429
and 5xx answers with exponential backoff (``backoff * 2**attempt`` seconds, at most
``max_backoff``). Other 4xx answers are not retried. ``close`` waits up to
``close_timeout`` seconds for the queue to drain; what is left is counted as dropped, so
``n_sent + n_failed + n_dropped`` equals the anomalies written. Uses only the standard
library (:mod:`urllib.request`).

Examples
--------
>>> sink = WebhookSink("http://127.0.0.1:9/alerts", max_queue=1, retries=0, close_timeout=0.0)
>>> sink.url
'http://127.0.0.1:9/alerts'
>>> sink.close()
>>> sink.stats()
{'sent': 0, 'failed': 0, 'dropped': 0}
"""

from __future__ import annotations

import http.client
import json
import queue
import threading
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType
from typing import Any

from oddwatch.errors import InvalidParameterError
from oddwatch.sinks._base import OutputBatch

__all__ = ["WebhookSink"]

_RETRY_STATUS = {408, 429}


class _Permanent(Exception):
    """An answer that retrying will not change (4xx other than 408/429)."""


class WebhookSink:
    """Send anomalies to ``url`` as JSON POST requests, asynchronously.

    Parameters
    ----------
    url
        An ``http://`` or ``https://`` URL.
    max_queue
        Anomalies waiting to be sent; more are dropped (and counted).
    retries
        Extra attempts per anomaly after a transient failure.
    backoff, max_backoff
        Seconds before the first retry, doubling each time, capped.
    timeout
        Seconds per request.
    close_timeout
        Seconds ``close`` waits for the queue to drain.
    """

    def __init__(
        self,
        url: str,
        *,
        max_queue: int = 1000,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 5.0,
        close_timeout: float = 5.0,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidParameterError(
                f"the webhook URL must start with http:// or https:// and name a host; got {url!r}."
            )
        if max_queue < 1 or retries < 0 or backoff < 0 or timeout <= 0 or close_timeout < 0:
            raise InvalidParameterError(
                "webhook settings must be: max_queue >= 1, retries >= 0, backoff >= 0, "
                f"timeout > 0, close_timeout >= 0; got {max_queue}, {retries}, {backoff}, "
                f"{timeout}, {close_timeout}."
            )
        self.url = url
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.close_timeout = close_timeout
        self.n_sent = self.n_failed = self.n_dropped = self.n_retries = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._final = False
        self._thread = threading.Thread(target=self._run, name="oddwatch-webhook", daemon=True)
        self._thread.start()

    def _count(self, name: str) -> None:
        with self._lock:
            if not self._final:  # after close, a request that outlived it was counted dropped
                setattr(self, name, getattr(self, name) + 1)

    def write(self, batch: OutputBatch) -> None:
        """Queue the anomalies of ``batch`` (never blocks; drops when the queue is full)."""
        if self._closing.is_set() or not batch.is_anomaly.any():
            return
        for row in batch.select(batch.is_anomaly).rows():
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self._count("n_dropped")

    def _post(self, row: dict[str, Any]) -> None:
        from oddwatch import __version__

        request = urllib.request.Request(
            self.url,
            data=json.dumps(row).encode(),
            headers={"Content-Type": "application/json", "User-Agent": f"oddwatch/{__version__}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code < 500 and exc.code not in _RETRY_STATUS:
                raise _Permanent(str(exc)) from None
            raise

    def _deliver(self, row: dict[str, Any]) -> None:
        for attempt in range(self.retries + 1):
            try:
                self._post(row)
            except _Permanent:
                self._count("n_failed")
                return
            except (OSError, http.client.HTTPException, ValueError):  # URLError is an OSError
                if attempt == self.retries:
                    self._count("n_failed")
                    return
                self._count("n_retries")
                if self._abort.wait(min(self.backoff * 2**attempt, self.max_backoff)):
                    self._count("n_dropped")
                    return
            else:
                self._count("n_sent")
                return

    def _run(self) -> None:
        while not self._abort.is_set():
            try:
                row = self._queue.get(timeout=0.05)
            except queue.Empty:
                if self._closing.is_set():
                    return
                continue
            self._deliver(row)

    def close(self) -> None:
        """Send what is queued for up to ``close_timeout`` seconds; drop (and count) the rest."""
        if self._closing.is_set():
            return
        self._closing.set()
        self._thread.join(self.close_timeout)
        if self._thread.is_alive():
            self._abort.set()
            self._thread.join(0.5)
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            self._count("n_dropped")
        with self._lock:
            if self._thread.is_alive():  # still inside a request: give that record up
                self.n_dropped += 1
            self._final = True

    def stats(self) -> dict[str, int]:
        """``{"sent", "failed", "dropped"}`` so far."""
        with self._lock:
            return {"sent": self.n_sent, "failed": self.n_failed, "dropped": self.n_dropped}

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
