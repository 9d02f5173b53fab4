"""Start and stop real servers for the feed tests: mosquitto and prometheus on 127.0.0.1.

Each runs on an ephemeral port in a temporary directory and is stopped (terminate, then kill)
when its context ends. When a binary is missing the test is skipped, except under ``CI=true``
where ``.ci/run`` installs it and a missing binary is a failure.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def need(module: str) -> Any:
    """Import ``module``; skip when it is missing, except under CI=true (then fail)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        message = f"{module} is not installed (pip install -e '.[integrations]'; .ci/run does this)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message, allow_module_level=True)


def find_binary(name: str, *extra_dirs: str) -> str:
    """The path of ``name``; skip (or fail under CI=true) when it is not installed."""
    path = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs]))
    if path is None:
        message = f"{name} is not installed (apt-get install {name}; .ci/run does this)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


@contextlib.contextmanager
def running(args: list[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextlib.contextmanager
def mosquitto(tmp: Path, port: int | None = None) -> Iterator[int]:
    """A mosquitto broker on 127.0.0.1; yields its port."""
    binary = find_binary("mosquitto", "/usr/sbin")
    port = port or free_port()
    conf = tmp / f"mosquitto-{port}.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    with running([binary, "-c", str(conf)], port, tmp / f"mosquitto-{port}.log"):
        yield port


class _Exporter(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        answer = self.server.render(self.path)  # type: ignore[attr-defined]
        status, text = answer if isinstance(answer, tuple) else (200, answer)
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def exporter(render: Callable[[str], str | tuple[int, str]]) -> Iterator[int]:
    """A tiny HTTP endpoint on 127.0.0.1 answering GETs with ``render(path)``; yields its port.

    ``render`` returns the body (status 200) or ``(status, body)``.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Exporter)
    server.render = render  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def prometheus(tmp: Path, target_port: int, interval: str = "1s") -> Iterator[int]:
    """A prometheus server on 127.0.0.1 scraping ``127.0.0.1:target_port``; yields its port."""
    binary = find_binary("prometheus")
    port = free_port()
    conf = tmp / "prometheus.yml"
    conf.write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: exporter\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    args = [
        binary,
        f"--config.file={conf}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, port, tmp / "prometheus.log"):
        yield port
