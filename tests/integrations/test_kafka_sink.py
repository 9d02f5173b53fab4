"""KafkaSink: one transaction per chunk with the input offsets.

Against librdkafka's mock cluster (real client, real transaction protocol, in process): an
aborted chunk's messages stay invisible to read_committed readers, and each transaction
carries its chunk's input offsets. The mock acknowledges offsets sent in a transaction but
does not store them (``rd_kafka_mock_handle_TxnOffsetCommit`` parses and answers only), so the
crash-and-rerun check (every input record's output exactly once) runs against a real broker
when ``ODDWATCH_KAFKA_BOOTSTRAP`` names one (marker ``kafka``).
"""

from __future__ import annotations

import json
import os
import sys
import uuid

import numpy as np
import pytest

from oddwatch import Monitor
from oddwatch.detectors import RollingZScore
from oddwatch.errors import SourceError
from oddwatch.pipeline import run
from oddwatch.sinks.kafka import KafkaSink, parse_kafka_out
from oddwatch.sources.kafka import KafkaSource

from .servers import need

ck = need("confluent_kafka")

FAST = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
VALUES = np.random.default_rng(3).normal(50, 2, 60)
VALUES[41] = 90.0


@pytest.fixture(scope="module")
def mock_bootstrap():
    owner = ck.Producer({"test.mock.num.brokers": 3})  # transactions want 3 brokers
    brokers = owner.list_topics(timeout=10).brokers.values()
    yield ",".join(f"{b.host}:{b.port}" for b in brokers)
    owner.flush(5)


def fill(bootstrap, values):
    topic = f"in-{uuid.uuid4().hex[:8]}"
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    for v in values:
        producer.produce(topic, repr(float(v)).encode(), partition=0)
    assert producer.flush(10) == 0
    return topic


def by_seq(row):
    """Rows of one run in input order (an output topic's partitions interleave them)."""
    return row["seq"]


def new_topic(bootstrap, prefix="out"):
    """A one-partition topic, so readers see the output in the order it was written."""
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    (future,) = (
        AdminClient({"bootstrap.servers": bootstrap})
        .create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        .values()
    )
    future.result(10)
    return name


def read_committed(bootstrap, topic, n, timeout=30.0):
    """The output topic as a read_committed consumer sees it: JSON rows in order."""
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"reader-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    rows, eof = [], False
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (eof and len(rows) >= n):
        message = consumer.poll(0.5)
        if message is None:
            continue
        if message.error():
            eof = message.error().code() == ck.KafkaError._PARTITION_EOF
            continue
        rows.append(json.loads(message.value()))
    consumer.close()
    return rows


def committed(bootstrap, group, topic):
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    (tp,) = consumer.committed([ck.TopicPartition(topic, 0)], timeout=10)
    consumer.close()
    return tp.offset


class FailingOnce:
    """A real producer whose ``commit_transaction`` fails once, at the ``at``-th call; it
    records the offsets each transaction carries."""

    def __init__(self, producer, at):
        self.producer, self.at, self.calls, self.offsets = producer, at, 0, []

    def send_offsets_to_transaction(self, offsets, metadata, timeout):
        self.offsets.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])
        return self.producer.send_offsets_to_transaction(offsets, metadata, timeout)

    def commit_transaction(self, timeout):
        self.calls += 1
        if self.calls == self.at:
            raise ck.KafkaException(ck.KafkaError(ck.KafkaError._FAIL, "injected failure"))
        return self.producer.commit_transaction(timeout)

    def __getattr__(self, name):
        return getattr(self.producer, name)


def pipeline(bootstrap, in_topic, out_topic, group, producer=None, n=None):
    source = KafkaSource(
        bootstrap, in_topic, group, chunk_size=10, max_records=n, idle_timeout=30,
        poll_timeout=0.2, config=FAST,
    )  # fmt: skip
    try:
        sink = KafkaSink(
            bootstrap, out_topic, source=source, transactional_id=f"tx-{group}", producer=producer
        )
        with sink:
            return run(source, Monitor(RollingZScore(window_size=8)), [sink]), sink
    finally:
        source.close()


def first_run_fails_in_its_third_transaction(bootstrap, out_topic):
    in_topic = fill(bootstrap, VALUES)
    group = f"g-{uuid.uuid4().hex[:6]}"
    real = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": f"tx-{group}"})
    producer = FailingOnce(real, at=3)
    with pytest.raises(SourceError, match="the Kafka transaction for 10 output records was"):
        pipeline(bootstrap, in_topic, out_topic, group, producer)
    assert producer.offsets == [[(in_topic, 0, end)] for end in (10, 20, 30)]
    return in_topic, out_topic, group


def test_an_aborted_chunk_stays_invisible_mock_cluster(mock_bootstrap):
    out_topic = f"out-{uuid.uuid4().hex[:8]}"  # the mock's topics have several partitions
    in_topic, out_topic, group = first_run_fails_in_its_third_transaction(mock_bootstrap, out_topic)
    rows = sorted(read_committed(mock_bootstrap, out_topic, 20, timeout=10), key=by_seq)
    assert [r["value"] for r in rows] == VALUES[:20].tolist()  # chunk 3 was aborted
    assert committed(mock_bootstrap, group, in_topic) == -1001  # nothing outside a transaction


def exactly_once_scenario(bootstrap):
    topic = new_topic(bootstrap)
    in_topic, out_topic, group = first_run_fails_in_its_third_transaction(bootstrap, topic)
    assert committed(bootstrap, group, in_topic) == 20  # two chunks, with their output
    # the rerun reads from the offsets the last committed transaction stored
    stats, sink = pipeline(bootstrap, in_topic, out_topic, group, n=40)
    assert stats.records_read == 40 and sink.n_transactions == 4
    assert committed(bootstrap, group, in_topic) == 60
    rows = read_committed(bootstrap, out_topic, 60)
    assert [r["value"] for r in rows] == VALUES.tolist()  # each record once: none lost, none twice
    first = Monitor(RollingZScore(window_size=8)).update_many(VALUES[:20])
    again = Monitor(RollingZScore(window_size=8)).update_many(VALUES[20:])  # a fresh state
    want = np.r_[first.score, again.score]
    got = np.array([np.nan if r["score"] is None else r["score"] for r in rows])
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    flags = np.r_[first.is_anomaly, again.is_anomaly]
    assert [r["is_anomaly"] for r in rows] == flags.tolist() and rows[41]["is_anomaly"]


@pytest.mark.kafka
def test_exactly_once_against_a_real_broker():
    bootstrap = os.environ.get("ODDWATCH_KAFKA_BOOTSTRAP")
    if not bootstrap:
        pytest.skip("set ODDWATCH_KAFKA_BOOTSTRAP=HOST:PORT to run against a real broker")
    exactly_once_scenario(bootstrap)


def test_without_a_source_messages_are_flushed_per_chunk(mock_bootstrap):
    out_topic = f"out-{uuid.uuid4().hex[:8]}"
    sink = KafkaSink(mock_bootstrap, out_topic)
    from oddwatch.sinks import OutputBatch

    batch = OutputBatch(
        seq=np.array([0, 1]),
        value=np.array([1.0, 9.0]),
        score=np.array([np.nan, 5.0]),
        threshold=np.array([4.0, 4.0]),
        is_anomaly=np.array([False, True]),
        reason=["", "9 is high"],
        key=np.array(["pump-1", "pump-2"]),
    )
    with sink:
        sink.write(batch)
    assert sink.n_messages == 2 and not sink.transactional
    rows = read_committed(mock_bootstrap, out_topic, 2)
    assert sorted((r["key"], r["value"], r["reason"]) for r in rows) == [
        ("pump-1", 1.0, ""),
        ("pump-2", 9.0, "9 is high"),
    ]


def test_addresses_and_missing_client(monkeypatch):
    assert parse_kafka_out("kafka://b:9092/flags") == ("b:9092", "flags")
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with pytest.raises(SourceError, match=r"pip install 'oddwatch\[kafka\]'"):
        KafkaSink("b:1", "t")


def test_cli_kafka_to_kafka_in_transactions(mock_bootstrap, capsys):
    from oddwatch.cli.main import main

    in_topic, out_topic = fill(mock_bootstrap, VALUES), f"out-{uuid.uuid4().hex[:8]}"
    code = main(
        [
            "detect", f"kafka://{mock_bootstrap}/{in_topic}", "--group", "cli",
            "--out", f"kafka://{mock_bootstrap}/{out_topic}", "--batch", "25",
            "--idle-timeout", "8", "--detector", "RollingZScore", "--param", "window_size=8",
        ]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0, err
    rows = sorted(read_committed(mock_bootstrap, out_topic, 60), key=by_seq)
    assert [r["value"] for r in rows] == VALUES.tolist()
    want = Monitor(RollingZScore(window_size=8)).update_many(VALUES)
    got = np.array([np.nan if r["score"] is None else r["score"] for r in rows])
    np.testing.assert_allclose(got, want.score, rtol=1e-12, equal_nan=True)
    assert [r["is_anomaly"] for r in rows] == want.is_anomaly.tolist() and rows[41]["is_anomaly"]
    code = main(["detect", "-", "--out", "kafka://b:1/t", "--checkpoint", "x.ckpt"])
    assert code == 2 and "cannot be combined with --out kafka://" in capsys.readouterr().err
