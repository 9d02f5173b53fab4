"""A local HTTP server on 127.0.0.1 that records JSON POSTs (for webhook tests)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server:
    """Records the alerts POSTed as JSON; answers the next status in ``statuses`` (then 200)."""

    def __init__(self, statuses=(), gate: threading.Event | None = None):
        self.received: list[dict] = []
        self.bodies: list = []  # every accepted payload, whatever its format
        self.statuses = list(statuses)
        self.gate = gate
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if server.gate is not None:
                    server.gate.wait(10)
                status = server.statuses.pop(0) if server.statuses else 200
                if status == 200:
                    payload = json.loads(body)
                    server.bodies.append(payload)
                    if isinstance(payload, dict) and "alerts" in payload:  # the json format
                        server.received.extend(payload["alerts"])
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/alerts"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.gate is not None:
            self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
