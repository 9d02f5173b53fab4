"""HTTP endpoints on 127.0.0.1 (ephemeral ports) for webhook tests: fast, endless, hanging.

- :class:`KeepAliveServer` answers every POST with 200 over HTTP/1.1 keep-alive and records
  the decoded JSON bodies (a healthy production endpoint).
- :class:`RawServer` speaks raw sockets so it can misbehave: ``"endless"`` answers 200 and then
  streams a chunked body forever, ``"hang"`` reads the request and never answers.
Both run their own threads and stop them on exit.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class KeepAliveServer:
    """Answers every POST with 200, after ``delay`` seconds (a healthy but slow endpoint)."""

    def __init__(self, delay: float = 0.0):
        self.bodies: list = []
        self.requests = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(delay)
                with server.lock:
                    server.requests += 1
                    server.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _read_request(conn: socket.socket) -> bool:
    """Read one request (headers + Content-Length body); False if the client went away."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return False
        body += chunk
    return True


class RawServer:
    """``mode="endless"``: 200 + a never-ending chunked body; ``mode="hang"``: no answer."""

    def __init__(self, mode: str):
        self.mode = mode
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.stop = threading.Event()
        self.requests = 0
        self.bytes_streamed = 0
        self.threads: list[threading.Thread] = []
        self.lock = threading.Lock()

    def _serve(self, conn: socket.socket):
        conn.settimeout(0.2)
        with conn:
            try:
                while not self.stop.is_set() and _read_request(conn):
                    with self.lock:
                        self.requests += 1
                    if self.mode == "hang":
                        self.stop.wait()
                        return
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    chunk = b"%x\r\n%s\r\n" % (65536, b"x" * 65536)
                    conn.settimeout(2.0)  # a reader that stopped reading ends the stream
                    while not self.stop.is_set():
                        conn.sendall(chunk)
                        with self.lock:
                            self.bytes_streamed += 65536
            except OSError:
                return

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def __enter__(self):
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.acceptor.join(5)
        for thread in self.threads:
            thread.join(5)
        self.sock.close()
