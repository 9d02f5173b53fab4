"""The dashboard's web server: the page, its static files, a JSON API and a live event stream.

Standard library only (:mod:`http.server` with one thread per connection). Bound to
127.0.0.1 unless a host is given: the page shows your data to whoever can reach the port.

Routes
------
``/``                       the page
``/static/<file>``          its scripts, styles and the bundled uPlot (no CDN: works offline)
``/api/overview?lanes=N``   top keys by recent surprise, heat rows, alerts, counters
``/api/series?key=K``       one key's recent points, expected band and flags
``/api/keys?q=TEXT``        keys containing TEXT (for the search box)
``/events?lanes=N&key=K``   Server-Sent Events: the overview (and key K's series) on change
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oddwatch.dashboard.board import Board
from oddwatch.errors import InvalidParameterError

__all__ = ["DashboardServer"]

_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "uPlot.min.css": "text/css; charset=utf-8",
}
_HEARTBEAT_SECONDS = 10.0
_MIN_PUSH_SECONDS = 0.2


def _static(name: str) -> bytes:
    return resources.files("oddwatch.dashboard").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: stderr is the user's
        return

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        if not self._host_allowed():
            self._send(b"forbidden host\n", "text/plain", status=HTTPStatus.FORBIDDEN)
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        board = self.server.board
        path = url.path
        if path in ("/", "/index.html"):
            self._send(_static("index.html"), "text/html; charset=utf-8")
        elif path.startswith("/static/") and path[8:] in _STATIC:
            self._send(_static(path[8:]), _STATIC[path[8:]], cache=True)
        elif path == "/api/overview":
            self._json(board.overview(_lanes(query)))
        elif path == "/api/series":
            key = query.get("key", "")
            board.request(key)
            self._json(board.series(key))
        elif path == "/api/keys":
            self._json(board.keys(query.get("q", ""), limit=50))
        elif path == "/events":
            self._events(board, _lanes(query), query.get("key"))
        else:
            self._send(b"not found\n", "text/plain", status=HTTPStatus.NOT_FOUND)

    def _host_allowed(self) -> bool:
        """On a loopback address, only loopback Host names (blocks DNS rebinding: a web
        page elsewhere cannot read the dashboard through a name that points here)."""
        allowed = self.server.allowed_hosts
        if allowed is None:
            return True
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        return host in allowed

    def _send(
        self, body: bytes, kind: str, status: HTTPStatus = HTTPStatus.OK, cache: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, payload: Any) -> None:
        self._send(json.dumps(payload, allow_nan=False).encode(), "application/json")

    def _events(self, board: Board, lanes: int, key: str | None) -> None:
        """Push the overview whenever the board changes (at most 5 times a second)."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if key:
            board.request(key)
        stopping = self.server.stopping
        sent = -1
        try:
            while not stopping.is_set():
                with board.changed:
                    if board.version == sent:
                        board.changed.wait(_HEARTBEAT_SECONDS)
                if stopping.is_set():
                    break
                if board.version == sent:
                    self.wfile.write(b": still here\n\n")
                else:
                    sent = board.version
                    payload = board.overview(lanes)
                    if key:
                        payload["series"] = board.series(key)
                    data = json.dumps(payload, allow_nan=False)
                    self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()
                stopping.wait(_MIN_PUSH_SECONDS)
        except (BrokenPipeError, ConnectionResetError):
            return  # the page went away


def _lanes(query: dict[str, str]) -> int:
    try:
        return max(1, min(500, int(query.get("lanes", "40"))))
    except ValueError:
        return 40


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    board: Board
    stopping: threading.Event
    allowed_hosts: frozenset[str] | None


class DashboardServer:
    """Serve a :class:`~oddwatch.dashboard.Board` on ``http://host:port/`` from a thread.

    Parameters
    ----------
    board
        What to show.
    host
        Interface to bind; ``127.0.0.1`` keeps the page on this machine. Use ``0.0.0.0``
        (or a specific address) only to expose it on purpose.
    port
        TCP port; 0 picks a free one (see :attr:`url`).

    Examples
    --------
    >>> import json, urllib.request
    >>> with DashboardServer(Board(), port=0) as server:
    ...     with urllib.request.urlopen(server.url + "api/overview") as response:
    ...         json.load(response)["n_keys"]
    0
    """

    def __init__(self, board: Board, host: str = "127.0.0.1", port: int = 8050) -> None:
        self.board = board
        try:
            self._httpd = _Server((host, port), _Handler)
        except OSError as exc:
            raise InvalidParameterError(
                f"cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}. "
                "Pick another --port (0 = any free port) or --host."
            ) from None
        self._httpd.board = board
        self._httpd.stopping = threading.Event()
        loopback = host in ("127.0.0.1", "localhost", "::1")
        self._httpd.allowed_hosts = (
            frozenset({"127.0.0.1", "localhost", "::1"}) if loopback else None
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:8050/``."""
        host, port = self._httpd.server_address[:2]
        shown = host if isinstance(host, str) else host.decode()
        return f"http://{'localhost' if shown == '0.0.0.0' else shown}:{port}/"

    def start(self) -> DashboardServer:
        """Serve from a background thread (and start the board's worker)."""
        self.board.start()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.5},
                name="oddwatch-dashboard",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end the event streams, and stop the board's worker."""
        self._httpd.stopping.set()
        with self.board.changed:
            self.board.changed.notify_all()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        self.board.stop()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
