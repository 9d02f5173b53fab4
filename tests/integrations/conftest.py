"""Markers of the integration tests."""

from __future__ import annotations


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "kafka: needs a real Kafka broker at ODDWATCH_KAFKA_BOOTSTRAP (opt-in)"
    )
