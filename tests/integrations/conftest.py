"""Markers and shared servers of the integration tests."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
import urllib.request

import pytest

from .servers import exporter, prometheus


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "kafka: needs a real Kafka broker at ODDWATCH_KAFKA_BOOTSTRAP (opt-in)"
    )


class Metrics:
    """What the exporter serves: two gauges that step through 0..4, and one NaN gauge."""

    def __init__(self):
        self.count = itertools.count()
        self.served = {"a": set(), "b": set()}
        self.lock = threading.Lock()

    def __call__(self, path: str) -> str:
        with self.lock:
            i = next(self.count)
        lines = ["# TYPE oddwatch_test_value gauge"]
        for key, base in (("a", 10), ("b", 20)):
            value = base + i % 5
            self.served[key].add(float(value))
            lines.append(f'oddwatch_test_value{{series="{key}"}} {value}')
        lines.append('oddwatch_test_bad{series="c"} NaN')
        return "\n".join(lines) + "\n"


def instant(port: int, query: str) -> list:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]["result"]


@pytest.fixture(scope="session")
def prometheus_server(tmp_path_factory):
    """Prometheus (1 s scrapes) with at least 6 s of samples of the exporter's gauges."""
    metrics = Metrics()
    tmp = tmp_path_factory.mktemp("prometheus")
    with exporter(metrics) as eport, prometheus(tmp, eport, interval="1s") as pport:
        first = time.time()
        deadline = first + 60
        while time.time() < deadline:
            try:
                got = instant(pport, "count_over_time(oddwatch_test_value[1m])")
            except OSError:  # 503 until its storage is ready
                got = []
            if len(got) == 2 and min(float(r["value"][1]) for r in got) >= 7:
                break
            time.sleep(0.5)
        else:
            pytest.fail("prometheus did not collect 7 scrapes within 60 s")
        yield pport, eport, metrics, first
