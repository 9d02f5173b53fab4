"""POST anomalies to a webhook from background senders; a dead endpoint never stalls detection.

``write`` puts anomalies on a bounded queue. When the queue is full while the endpoint is
answering (no request failed since the last one delivered, and the senders took alerts off the
queue within the last second), ``write`` waits for room, up to ``timeout`` seconds per call: a
healthy endpoint that is slower than detection slows it down instead of losing alerts. When the
endpoint fails or hangs, or the wait ran out, a full queue drops the record and counts it.
Sender threads (one by default, a small pool if asked), each keeping one HTTP/1.1 connection
alive, take the waiting alerts off the queue -- up to 100 per request for
``format="json"`` (``{"alerts": [record, ...]}``) and ``"alertmanager"``, 50 for ``"slack"``
(see :mod:`oddwatch.sinks._webhook_payload`) -- and retry timeouts, connection errors, 408,
429 and 5xx answers with exponential backoff (``backoff * 2**attempt`` seconds, at most
``max_backoff``). Other 4xx answers are not retried. At most ``max_reply_bytes`` of a reply
body are read, within ``timeout`` seconds: an endless or slow reply is cut off, never
buffered. ``write`` and ``close`` are called from one thread.

Every alert given to ``write`` ends in exactly one count: ``sent``, ``failed`` (retries
exhausted or a permanent error) or ``dropped`` (queue full, sink closed, or still unsent
when ``close`` gave up after ``close_timeout`` seconds), so after ``close``
``n_sent + n_failed + n_dropped == n_alerts``. :meth:`reasons` says why each alert failed
or was dropped. Uses only the standard library (:mod:`http.client`).

Examples
--------
>>> sink = WebhookSink("http://127.0.0.1:9/alerts", max_queue=1, retries=0, close_timeout=0.0)
>>> sink.url, sink.format
('http://127.0.0.1:9/alerts', 'json')
>>> sink.close()
>>> sink.stats(), sink.reasons()
({'sent': 0, 'failed': 0, 'dropped': 0}, {'failed': {}, 'dropped': {}})
"""

from __future__ import annotations

import http.client
import queue
import threading
import time
import urllib.parse
from collections import Counter
from types import TracebackType
from typing import Any

from oddwatch.errors import InvalidParameterError
from oddwatch.sinks._base import OutputBatch
from oddwatch.sinks._webhook_payload import ALERTS_PER_REQUEST, FORMATS, encode

__all__ = ["WebhookSink"]

_RETRY_STATUS = {408, 429}
_READ_STEP = 8192
_PATIENCE = 1.0  # seconds a full queue waits without the senders taking anything off it
_POLL = 0.05  # seconds between two looks at a full queue

Alert = dict[str, Any]


class _Failure(Exception):
    """A failed request: ``reason`` is the summary's label, ``retry`` whether to try again."""

    def __init__(self, reason: str, retry: bool) -> None:
        super().__init__(reason)
        self.reason, self.retry = reason, retry


class WebhookSink:
    """Send anomalies to ``url`` as JSON POST requests, asynchronously.

    Parameters
    ----------
    url
        An ``http://`` or ``https://`` URL.
    format
        ``"json"`` (``{"alerts": [output record, ...]}``), ``"alertmanager"`` or ``"slack"``.
    max_queue
        Alerts waiting to be sent. When it is full, ``write`` waits for room while the
        endpoint is answering (up to ``timeout`` seconds per call), else drops (and counts).
    senders
        Sender threads, each with its own keep-alive connection. With one (the default)
        alerts arrive in order; with more they may not (each carries its ``seq``).
    retries
        Extra attempts per request after a transient failure.
    backoff, max_backoff
        Seconds before the first retry, doubling each time, capped.
    timeout
        Seconds to connect, and to wait for each part of the reply.
    close_timeout
        Seconds ``close`` waits for the queue to drain.
    max_reply_bytes
        Most bytes of a reply body read (the rest is discarded with the connection).
    """

    def __init__(
        self,
        url: str,
        *,
        format: str = "json",
        max_queue: int = 10_000,
        senders: int = 1,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        timeout: float = 5.0,
        close_timeout: float = 5.0,
        max_reply_bytes: int = 65_536,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidParameterError(
                f"the webhook URL must start with http:// or https:// and name a host; got {url!r}."
            )
        if format not in FORMATS:
            raise InvalidParameterError(
                f"unknown webhook format {format!r}; use one of {', '.join(FORMATS)}."
            )
        numbers = (max_queue, senders, retries, backoff, timeout, close_timeout, max_reply_bytes)
        if (
            max_queue < 1
            or not 1 <= senders <= 64
            or retries < 0
            or backoff < 0
            or timeout <= 0
            or close_timeout < 0
            or max_reply_bytes < 0
        ):
            raise InvalidParameterError(
                "webhook settings must be: max_queue >= 1, 1 <= senders <= 64, retries >= 0, "
                "backoff >= 0, timeout > 0, close_timeout >= 0, max_reply_bytes >= 0; got "
                f"{', '.join(map(str, numbers))}."
            )
        self.url, self.format = url, format
        self.retries, self.backoff, self.max_backoff = retries, backoff, max_backoff
        self.timeout, self.close_timeout = timeout, close_timeout
        self.max_reply_bytes = max_reply_bytes
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname, parts.port
        self._target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        self._per_request = ALERTS_PER_REQUEST[format]
        self.n_alerts = self.n_sent = self.n_failed = self.n_dropped = self.n_retries = 0
        self._failed: Counter[str] = Counter()
        self._dropped: Counter[str] = Counter()
        self._in_flight: dict[int, int] = {}
        self._queue: queue.Queue[Alert] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._abort = threading.Event()
        self._final = False
        self._failing = False  # a request failed or was retried since the last one delivered
        self._n_taken = 0  # alerts the senders took off the queue (progress, for write's wait)
        self._threads = [
            threading.Thread(target=self._run, name=f"oddwatch-webhook-{i}", daemon=True)
            for i in range(senders)
        ]
        for thread in self._threads:
            thread.start()

    # -- accounting: every alert ends in exactly one of sent / failed / dropped ------------

    def _settle(self, outcome: str, reason: str, n: int, sender: bool = False) -> None:
        with self._lock:
            if sender:
                self._in_flight.pop(threading.get_ident(), None)
                if self._final:  # close() already counted this request's alerts as dropped
                    return
            self._failing = outcome != "sent"
            if outcome == "sent":
                self.n_sent += n
            elif outcome == "failed":
                self.n_failed += n
                self._failed[reason] += n
            else:
                self.n_dropped += n
                self._dropped[reason] += n

    def write(self, batch: OutputBatch) -> None:
        """Queue the anomalies of ``batch``; when the queue is full, wait for room while the
        endpoint is answering (up to ``timeout`` seconds in all), else drop and count."""
        if not batch.is_anomaly.any():
            return
        rows = list(batch.select(batch.is_anomaly).rows())
        with self._lock:
            self.n_alerts += len(rows)
        if self._closing.is_set():
            self._settle("dropped", "written after close", len(rows))
            return
        deadline = time.monotonic() + self.timeout
        for i, row in enumerate(rows):
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                if self._wait_for_room(row, deadline):
                    continue
                self._settle("dropped", "queue full", 1)
                if self._closing.is_set():
                    self._settle("dropped", "written after close", len(rows) - i - 1)
                    return

    def _wait_for_room(self, row: Alert, deadline: float) -> bool:
        """Queue ``row`` as room frees up while the senders make progress; False if not."""
        taken, progress = self._n_taken, time.monotonic()
        while not (self._failing or self._closing.is_set()):
            now = time.monotonic()
            if now >= deadline or now - progress > _PATIENCE:
                return False
            try:
                self._queue.put(row, timeout=_POLL)
                return True
            except queue.Full:
                if self._n_taken != taken:
                    taken, progress = self._n_taken, time.monotonic()
        return False

    # -- sending ----------------------------------------------------------------------------

    def _connect(self) -> http.client.HTTPConnection:
        if self._https:
            return http.client.HTTPSConnection(self._host or "", self._port, timeout=self.timeout)
        return http.client.HTTPConnection(self._host or "", self._port, timeout=self.timeout)

    def _read_reply(self, response: http.client.HTTPResponse) -> bool:
        """Read at most ``max_reply_bytes`` within ``timeout``; whether it ended cleanly."""
        deadline = time.monotonic() + self.timeout
        left = self.max_reply_bytes
        while left > 0 and time.monotonic() < deadline:
            data = response.read(min(left, _READ_STEP))
            if not data:
                return not response.will_close
            left -= len(data)
        return False  # body too long or too slow: abandon it with the connection

    def _post(self, conn: http.client.HTTPConnection, body: bytes) -> bool:
        """One request; returns whether ``conn`` may be reused. Raises :class:`_Failure`."""
        from oddwatch import __version__

        headers = {"Content-Type": "application/json", "User-Agent": f"oddwatch/{__version__}"}
        try:
            conn.request("POST", self._target, body=body, headers=headers)
            response = conn.getresponse()
        except TimeoutError:
            raise _Failure("timeout", retry=True) from None
        except ConnectionRefusedError:
            raise _Failure("connection refused", retry=True) from None
        except OSError as exc:
            raise _Failure(f"connection error ({type(exc).__name__})", retry=True) from None
        except http.client.HTTPException as exc:
            raise _Failure(f"bad reply ({type(exc).__name__})", retry=True) from None
        try:  # the answer is in: a reply body that breaks off only costs the connection
            reusable = self._read_reply(response)
        except (OSError, http.client.HTTPException):
            reusable = False
        status = response.status
        if 200 <= status < 300:
            return reusable
        permanent = status < 500 and status not in _RETRY_STATUS
        raise _Failure(f"HTTP {status}", retry=not permanent)

    def _deliver(self, conn: http.client.HTTPConnection, alerts: list[Alert]) -> tuple[str, str]:
        """Send one request's alerts with retries; ``(outcome, reason)``. Closes ``conn`` on
        any failure so the next attempt starts on a fresh connection."""
        try:
            body = encode(self.format, alerts)
        except (TypeError, ValueError) as exc:
            return "failed", f"unencodable alert ({exc})"
        for attempt in range(self.retries + 1):
            try:
                if not self._post(conn, body):
                    conn.close()
                return "sent", ""
            except _Failure as failure:
                conn.close()
                if not failure.retry or attempt == self.retries:
                    return "failed", failure.reason
            except Exception as exc:  # never let a sender die with alerts uncounted
                conn.close()
                return "failed", f"error ({type(exc).__name__})"
            with self._lock:
                self.n_retries += 1
                self._failing = True
            if self._abort.wait(min(self.backoff * 2**attempt, self.max_backoff)):
                return "dropped", "unsent at close"
        raise AssertionError("unreachable")  # pragma: no cover

    def _take(self) -> list[Alert] | None:
        """The next request's alerts; ``None`` once closing and the queue is empty."""
        while not self._abort.is_set():
            try:
                alerts = [self._queue.get(timeout=0.05)]
            except queue.Empty:
                if self._closing.is_set():
                    return None
                continue
            while len(alerts) < self._per_request:
                try:
                    alerts.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            with self._lock:
                self._in_flight[threading.get_ident()] = len(alerts)
                self._n_taken += len(alerts)
            return alerts
        return None

    def _run(self) -> None:
        conn = self._connect()
        try:
            while (alerts := self._take()) is not None:
                outcome, reason = self._deliver(conn, alerts)
                self._settle(outcome, reason, len(alerts), sender=True)
        finally:
            conn.close()

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Send what is queued for up to ``close_timeout`` seconds; drop (and count) the rest."""
        if self._closing.is_set():
            return
        self._closing.set()
        deadline = time.monotonic() + self.close_timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._abort.set()
        for thread in self._threads:
            thread.join(0.2)
        with self._lock:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
                self.n_dropped += 1
                self._dropped["unsent at close"] += 1
            stuck = sum(self._in_flight.values())  # senders still inside a request
            if stuck:
                self.n_dropped += stuck
                self._dropped["in flight at close"] += stuck
            self._final = True

    def stats(self) -> dict[str, int]:
        """``{"sent", "failed", "dropped"}`` so far."""
        with self._lock:
            return {"sent": self.n_sent, "failed": self.n_failed, "dropped": self.n_dropped}

    def reasons(self) -> dict[str, dict[str, int]]:
        """Why alerts failed or were dropped: ``{"failed": {reason: n}, "dropped": {...}}``."""
        with self._lock:
            return {"failed": dict(self._failed), "dropped": dict(self._dropped)}

    def summary(self) -> str:
        """One line for a run summary, with the reason counts.

        Examples
        --------
        >>> sink = WebhookSink("http://127.0.0.1:9/", close_timeout=0.0)
        >>> sink.close()
        >>> sink.summary()
        'webhook: 0 of 0 alerts sent, 0 failed, 0 dropped'
        """
        stats, reasons = self.stats(), self.reasons()

        def part(name: str) -> str:
            detail = ", ".join(f"{n} {why}" for why, n in sorted(reasons[name].items()))
            return f"{stats[name]} {name}" + (f" ({detail})" if detail else "")

        return (
            f"webhook: {stats['sent']} of {self.n_alerts} alerts sent, "
            f"{part('failed')}, {part('dropped')}"
        )

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
