"""One local SparkSession for every Spark test; in CI a missing pyspark or Java is a failure."""

from __future__ import annotations

import os
import shutil
from importlib.util import find_spec

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "kafka: needs a Kafka broker (ODDWATCH_KAFKA_BOOTSTRAP)")


def _missing() -> str | None:
    if find_spec("pyspark") is None or find_spec("pyarrow") is None:
        return "pyspark/pyarrow not installed (pip install 'oddwatch[spark]')"
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        return "no Java runtime (apt-get install default-jre-headless)"
    return None


@pytest.fixture(scope="session")
def spark():
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Spark tests must run in CI: {reason}")
        pytest.skip(reason)
    from oddwatch.spark import local_session

    session = local_session(cores=2, shuffle_partitions=2)
    session.conf.set("spark.sql.session.timeZone", "UTC")
    yield session
    session.stop()
