"""``KafkaSink``: output records to a Kafka topic; exactly once when reading Kafka.

Each record is one message: its JSON Lines object (the fields of
:class:`~oddwatch.sinks.JsonlSink`) as the value, its series key (if any) as the message key.
Needs confluent-kafka (``pip install 'oddwatch[kafka]'``).

Given the :class:`~oddwatch.sources.kafka.KafkaSource` it reads from (``source=``), the sink
writes each chunk in one Kafka transaction (consume-transform-produce): ``begin_transaction``,
the chunk's messages, ``send_offsets_to_transaction`` with the input offsets through that
chunk (for the source's consumer group), ``commit_transaction``. The output messages and the
input offsets are committed together or not at all, so a consumer reading the output topic
with ``isolation.level=read_committed`` (librdkafka's default) sees every input record's
output exactly once, across crashes and restarts: a chunk whose transaction did not commit
is aborted (or aborted by the broker when the next producer with the same
``transactional.id`` starts, which also fences off a zombie) and read again from the last
committed offsets. Without a source, each chunk is produced with an idempotent producer and
flushed before the next (at least once, no duplicates from retries).

Other sinks in the same run (a webhook, a dashboard) are side effects outside the
transaction: they see a re-read chunk again after a crash (at least once).

Examples
--------
>>> parse_kafka_out("kafka://127.0.0.1:9092/flags")
('127.0.0.1:9092', 'flags')
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import Any

from oddwatch.errors import InvalidParameterError, SourceError
from oddwatch.sinks._base import OutputBatch
from oddwatch.sinks.jsonl import JsonlSink
from oddwatch.sources.kafka import parse_kafka_url

__all__ = ["KafkaSink", "parse_kafka_out"]


def parse_kafka_out(url: str) -> tuple[str, str]:
    """``kafka://BOOTSTRAP[,BOOTSTRAP...]/TOPIC`` as ``(bootstrap servers, topic)``."""
    return parse_kafka_url(url)


def _import_kafka() -> Any:
    try:
        import confluent_kafka
    except ImportError:
        raise SourceError(
            "writing to Kafka needs confluent-kafka, which is not installed. "
            "Install it with: pip install 'oddwatch[kafka]'"
        ) from None
    return confluent_kafka


class KafkaSink:
    """Write output records to ``topic``; in one transaction per chunk with ``source``.

    Parameters
    ----------
    bootstrap
        Bootstrap servers, ``HOST:PORT[,HOST:PORT...]``.
    topic
        The output topic.
    source
        The :class:`~oddwatch.sources.kafka.KafkaSource` of the run, for exactly-once output
        (its offsets go into each transaction); ``None`` for at-least-once output.
    transactional_id
        The producer's ``transactional.id`` (with ``source``): keep it the same across
        restarts of one job, so a restart fences off the previous instance and aborts its
        open transaction; default ``oddwatch-<group>-<input topic>``.
    timeout
        Seconds to wait for the broker in transaction calls and flushes.
    config
        More librdkafka producer settings.
    producer
        A producer object to use instead of creating one (tests pass a fake).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        source: Any = None,
        transactional_id: str | None = None,
        timeout: float = 30.0,
        config: Mapping[str, Any] | None = None,
        producer: Any = None,
    ) -> None:
        if not isinstance(topic, str) or not topic:
            raise InvalidParameterError(
                f"`topic` of KafkaSink must be a topic name; got {topic!r}."
            )
        self._kafka = _import_kafka()
        self.topic = topic
        self.source = source
        self.timeout = timeout
        self.n_messages = 0
        self.n_transactions = 0
        self.n_aborted = 0
        self.transactional = source is not None
        settings: dict[str, Any] = {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            **dict(config or {}),
        }
        if self.transactional:
            settings["transactional.id"] = transactional_id or (
                f"oddwatch-{source.group}-{source.topic}"
            )
        self.transactional_id = settings.get("transactional.id")
        if producer is None:
            try:
                producer = self._kafka.Producer(settings)
            except self._kafka.KafkaException as exc:
                raise SourceError(f"cannot create a Kafka producer: {exc}") from None
        self._producer = producer
        if self.transactional:
            self._call("start transactions", producer.init_transactions, timeout)
        self._buffer = io.BytesIO()
        self._encoder = JsonlSink(self._buffer)
        self._closed = False

    def _call(self, what: str, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except self._kafka.KafkaException as exc:
            raise SourceError(f"Kafka producer could not {what}: {exc.args[0]}") from None

    def _messages(self, batch: OutputBatch) -> list[tuple[bytes | None, bytes]]:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._encoder.write(batch)
        self._encoder.flush()
        lines = self._buffer.getvalue().splitlines()
        keys = [None] * len(lines) if batch.key is None else [k.encode() for k in batch.key]
        return list(zip(keys, lines, strict=True))

    def _produce(self, key: bytes | None, value: bytes) -> None:
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.1)

    def write(self, batch: OutputBatch) -> None:
        """Publish the batch (with its input offsets, in one transaction, given a source)."""
        messages = self._messages(batch)
        if not self.transactional:
            for key, value in messages:
                self._produce(key, value)
            left = self._producer.flush(self.timeout)
            if left:
                raise SourceError(
                    f"{left} messages to Kafka topic {self.topic!r} were not delivered within "
                    f"{self.timeout:g} s; is the broker reachable?"
                )
            self.n_messages += len(messages)
            return
        producer = self._producer
        self._call("begin a transaction", producer.begin_transaction)
        try:
            for key, value in messages:
                self._produce(key, value)
            offsets = self.source.transaction_offsets()
            if offsets:
                producer.send_offsets_to_transaction(
                    offsets, self.source.group_metadata(), self.timeout
                )
            producer.commit_transaction(self.timeout)
        except (self._kafka.KafkaException, BufferError) as exc:
            self._abort()
            reason = exc.args[0] if exc.args else exc
            raise SourceError(
                f"the Kafka transaction for {len(messages)} output records was aborted "
                f"({reason}): none of them is visible to read_committed consumers and the input "
                "offsets were not committed, so a rerun reads those records again."
            ) from None
        self.source.mark_committed()
        self.n_messages += len(messages)
        self.n_transactions += 1

    def _abort(self) -> None:
        self.n_aborted += 1
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                self._producer.abort_transaction(self.timeout)
                return
            except self._kafka.KafkaException as exc:
                if not exc.args[0].retriable():
                    return  # fatal: the broker aborts it when the producer is fenced or expires

    def sync(self) -> None:
        """Every message written so far is acknowledged (committed, with a source)."""
        if not self.transactional:
            self._producer.flush(self.timeout)

    def close(self) -> None:
        """Flush (at-least-once mode); an open transaction cannot remain (each write ends its
        own)."""
        if not self._closed:
            self._closed = True
            self._producer.flush(self.timeout)

    def __enter__(self) -> KafkaSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
