"""KafkaSource: parsing, and offsets committed only after the output is written.

No Kafka broker can be installed here, so the commit order is tested against a fake consumer
and against librdkafka's own mock cluster (``test.mock.num.brokers``, real client, real
protocol, in process). The test marked ``kafka`` runs against a real broker when
``ODDWATCH_KAFKA_BOOTSTRAP`` names one, and is skipped otherwise.
"""

from __future__ import annotations

import os
import sys
import uuid

import pytest

from oddwatch.errors import InvalidParameterError, SourceError
from oddwatch.sources.kafka import KafkaSource, parse_kafka_url
from oddwatch.sources.records import NOT_NUMERIC, OK, UNPARSABLE

from .servers import need

ck = need("confluent_kafka")


# ---- a fake consumer over an in-memory log, with group offsets that outlive a consumer ----


class FakeError:
    def __init__(self, code, fatal=False):
        self._code, self._fatal = code, fatal

    def code(self):
        return self._code

    def fatal(self):
        return self._fatal

    def str(self):
        return f"error {self._code}"


class FakeMessage:
    def __init__(self, offset, value, key=None, ts=1767225600000, error=None):
        self._offset, self._value, self._key, self._ts, self._error = offset, value, key, ts, error

    def error(self):
        return self._error

    def timestamp(self):
        return (ck.TIMESTAMP_CREATE_TIME, self._ts)

    def key(self):
        return self._key

    def value(self):
        return self._value

    def topic(self):
        return "t"

    def partition(self):
        return 0

    def offset(self):
        return self._offset


class FakeBroker:
    def __init__(self, values, events):
        self.log = [FakeMessage(i, v, key=b"k%d" % (i % 2)) for i, v in enumerate(values)]
        self.committed = 0
        self.events = events


class FakeConsumer:
    def __init__(self, broker):
        self.broker = broker
        self.next = broker.committed

    def subscribe(self, topics, on_assign=None, on_revoke=None):
        self.on_revoke = on_revoke

    def consume(self, num_messages, timeout):
        out = self.broker.log[self.next : self.next + num_messages]
        self.next += len(out)
        return out

    def commit(self, offsets, asynchronous):
        assert asynchronous is False
        (tp,) = offsets
        self.broker.committed = tp.offset
        self.broker.events.append(("commit", tp.offset))

    def close(self):
        self.broker.events.append(("close",))


def run(broker, crash_after=None):
    """The pipeline's order: write the chunk's output, then commit; optionally crash."""
    source = KafkaSource(
        "x:1", "t", "g", keyed=True, chunk_size=3, idle_timeout=0, consumer=FakeConsumer(broker)
    )
    written = []
    for i, chunk in enumerate(source):
        written += chunk.value.tolist()
        broker.events.append(("write", len(written)))
        if crash_after == i:
            return written  # no commit, no close: the process died
        source.commit()
    source.close()
    return written


def test_commit_comes_after_the_write_and_covers_the_chunk():
    events = []
    broker = FakeBroker([str(v).encode() for v in range(7)], events)
    assert run(broker) == [float(v) for v in range(7)]
    assert events == [
        ("write", 3),
        ("commit", 3),
        ("write", 6),
        ("commit", 6),
        ("write", 7),
        ("commit", 7),
        ("close",),
    ]


def test_a_crash_before_the_commit_rereads_never_loses():
    broker = FakeBroker([str(v).encode() for v in range(7)], [])
    first = run(broker, crash_after=1)  # chunk 0 committed, chunk 1 written but not committed
    assert first == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0] and broker.committed == 3
    second = run(broker)
    assert second == [3.0, 4.0, 5.0, 6.0]  # chunk 1 again (at least once), then the rest
    assert sorted(set(first + second)) == [float(v) for v in range(7)]


def test_commit_without_new_chunks_is_a_no_op_and_close_never_commits():
    events = []
    broker = FakeBroker([b"1", b"2"], events)
    source = KafkaSource("x:1", "t", "g", idle_timeout=0, consumer=FakeConsumer(broker))
    assert source.commit() is True and events == []
    list(source)
    assert source.uncommitted == 1
    source.close()
    assert events == [("close",)] and broker.committed == 0


def test_revoked_partitions_drop_their_pending_offsets():
    broker = FakeBroker([b"1", b"2"], [])
    consumer = FakeConsumer(broker)
    source = KafkaSource("x:1", "t", "g", idle_timeout=0, consumer=consumer)
    list(source)
    consumer.on_revoke(consumer, [ck.TopicPartition("t", 0)])
    assert source.commit() is True and broker.committed == 0


def test_payloads_keys_and_timestamps():
    broker = FakeBroker(
        [b"1.5", b'{"value": 2, "timestamp": "2026-01-01T00:00:05Z"}', b"x", None], []
    )
    source = KafkaSource("x:1", "t", "g", keyed=True, idle_timeout=0, consumer=FakeConsumer(broker))
    (chunk,) = list(source)
    assert chunk.value[:2].tolist() == [1.5, 2.0]
    assert chunk.problem.tolist() == [OK, OK, NOT_NUMERIC, UNPARSABLE]
    assert chunk.key.tolist() == ["k0", "k1", "k0", "k1"]
    assert chunk.time_text[:2] == ["2026-01-01T00:00:00Z", "2026-01-01T00:00:05Z"]


def test_transient_errors_are_counted_fatal_ones_raise():
    broker = FakeBroker([b"1"], [])
    broker.log.insert(0, FakeMessage(0, None, error=FakeError(ck.KafkaError._PARTITION_EOF)))
    broker.log.insert(1, FakeMessage(0, None, error=FakeError(ck.KafkaError._TRANSPORT)))
    source = KafkaSource("x:1", "t", "g", idle_timeout=0, consumer=FakeConsumer(broker))
    assert [c.value.tolist() for c in source] == [[1.0]] and source.n_errors == 1
    broker.log.append(FakeMessage(2, None, error=FakeError(ck.KafkaError._FATAL, fatal=True)))
    source = KafkaSource("x:1", "t", "g", idle_timeout=0, consumer=FakeConsumer(broker))
    with pytest.raises(SourceError, match="Kafka consumer failed: error"):
        list(source)


def test_parameters_and_urls():
    assert parse_kafka_url("kafka://b1:9092/metrics") == ("b1:9092", "metrics")
    for url in ["kafka://b1:9092", "kafka:///t", "http://b/t", "kafka://b/t/x"]:
        with pytest.raises(InvalidParameterError, match="a Kafka address must look like"):
            parse_kafka_url(url)
    with pytest.raises(InvalidParameterError, match="needs a consumer group"):
        KafkaSource("b:1", "t", "")
    with pytest.raises(InvalidParameterError, match="got enable.auto.commit=true"):
        KafkaSource("b:1", "t", "g", config={"enable.auto.commit": True})
    with pytest.raises(SourceError, match="cannot create a Kafka consumer"):
        KafkaSource("b:1", "t", "g", config={"no.such.setting": 1})


def test_missing_client_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with pytest.raises(SourceError, match=r"pip install 'oddwatch\[kafka\]'"):
        KafkaSource("b:1", "t", "g")


# ---- the real client against librdkafka's mock cluster, then (opt-in) a real broker -------


def produce(bootstrap_or_mock, topic, values):
    producer = ck.Producer(bootstrap_or_mock)
    for i, v in enumerate(values):
        producer.produce(topic, value=str(v).encode(), key=b"ab"[i % 2 : i % 2 + 1])
    assert producer.flush(10) == 0
    return producer


def consume_run(bootstrap, topic, group, n, commit=True, config=None):
    source = KafkaSource(
        bootstrap,
        topic,
        group,
        keyed=True,
        max_records=n,
        idle_timeout=30,
        poll_timeout=0.2,
        chunk_size=4,
        config=config,
    )
    got = []
    for chunk in source:
        got += list(zip(chunk.key.tolist(), chunk.value.tolist(), strict=True))
        if commit:
            assert source.commit()
    source.close()
    return got


def per_key(pairs):
    """Values by key, in arrival order (Kafka orders within a partition; a key has one)."""
    out = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def at_least_once_scenario(bootstrap, producer_config, config=None):
    topic = f"oddwatch-{uuid.uuid4().hex[:8]}"
    produce(producer_config, topic, range(10))
    first = consume_run(bootstrap, topic, "g1", 10, config=config)
    assert per_key(first) == {"a": [0.0, 2.0, 4.0, 6.0, 8.0], "b": [1.0, 3.0, 5.0, 7.0, 9.0]}
    produce(producer_config, topic, range(10, 14))
    uncommitted = consume_run(bootstrap, topic, "g1", 4, commit=False, config=config)
    again = consume_run(bootstrap, topic, "g1", 4, config=config)
    expected = {"a": [10.0, 12.0], "b": [11.0, 13.0]}
    assert per_key(uncommitted) == per_key(again) == expected
    other_group = consume_run(bootstrap, topic, "g2", 14, config=config)
    assert len(other_group) == 14


@pytest.fixture(scope="module")
def mock_cluster():
    producer = ck.Producer({"test.mock.num.brokers": 1})
    brokers = producer.list_topics(timeout=10).brokers
    (broker,) = brokers.values()
    yield producer, f"{broker.host}:{broker.port}"
    producer.flush(5)


def test_at_least_once_against_librdkafka_mock_cluster(mock_cluster):
    producer, bootstrap = mock_cluster
    # the mock cluster rebalances only after the old member's session times out (45 s by
    # default), so each rerun of the group would wait that long: shorten the session
    fast_rejoin = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    at_least_once_scenario(bootstrap, {"bootstrap.servers": bootstrap}, fast_rejoin)


@pytest.mark.kafka
def test_at_least_once_against_a_real_broker():
    bootstrap = os.environ.get("ODDWATCH_KAFKA_BOOTSTRAP")
    if not bootstrap:
        pytest.skip("set ODDWATCH_KAFKA_BOOTSTRAP=HOST:PORT to run against a real broker")
    at_least_once_scenario(bootstrap, {"bootstrap.servers": bootstrap})


def test_broker_times_are_output_text_not_checked_order():
    """A burst shares one broker millisecond: those times are not checked for order."""
    broker = FakeBroker([b"1", b"2", b"3"], [])
    source = KafkaSource("x:1", "t", "g", idle_timeout=0, consumer=FakeConsumer(broker))
    (chunk,) = list(source)
    assert chunk.time is None and chunk.time_text == ["2026-01-01T00:00:00Z"] * 3


def test_commit_through_the_first_chunks_only():
    broker = FakeBroker([str(v).encode() for v in range(7)], [])
    source = KafkaSource(
        "x:1", "t", "g", chunk_size=3, idle_timeout=0, consumer=FakeConsumer(broker)
    )
    assert len(list(source)) == 3
    assert source.commit(chunks=1) and broker.committed == 3
    assert source.commit(chunks=1) and broker.committed == 3  # already done: no call
    assert source.commit(chunks=2) and broker.committed == 6
    assert source.commit() and broker.committed == 7
    assert source.commit(chunks=2) and broker.committed == 7  # never goes back
