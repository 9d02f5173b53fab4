"""``KafkaSource``: records from a Kafka topic in a consumer group, committed at least once.

Messages are read with confluent-kafka (``pip install 'oddwatch[kafka]'``) and yielded as
:class:`~oddwatch.sources._base.Records` chunks; payloads are plain numbers or JSON (see
:mod:`oddwatch.sources._payload`), a message's time is its payload timestamp, else its Kafka
timestamp. With ``keyed=True`` each message key is a series key (messages without one are the
series ``""``).

Delivery is at least once. Offsets are never committed automatically: :meth:`commit` commits
the offsets of every chunk yielded so far, and the caller calls it only after the output of
those chunks is written (``oddwatch.pipeline`` does so after its sinks flush). A crash before
the commit means the uncommitted messages are read again on restart: output may repeat, it is
never missing. When a rebalance takes partitions away, their uncommitted offsets are dropped
(the new owner reads those messages again). In a pipeline checkpoint (``--checkpoint``) the
source saves the offsets through its last chunk, and a resumed run reads each partition from
there (the detector state, the output files and the input then agree exactly); without one,
a run starts at the group's committed offsets. Exactly-once output to Kafka is
:class:`~oddwatch.sinks.kafka.KafkaSink` (a transactional producer).

Examples
--------
>>> parse_kafka_url("kafka://127.0.0.1:9092,127.0.0.1:9093/metrics")
('127.0.0.1:9092,127.0.0.1:9093', 'metrics')
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from oddwatch.errors import CheckpointError, InvalidParameterError, SourceError
from oddwatch.sources._base import Records
from oddwatch.sources._payload import PayloadBatch

__all__ = ["KafkaSource", "parse_kafka_url"]


def parse_kafka_url(url: str) -> tuple[str, str]:
    """``kafka://BOOTSTRAP[,BOOTSTRAP...]/TOPIC`` as ``(bootstrap servers, topic)``.

    Examples
    --------
    >>> parse_kafka_url("kafka://broker:9092")
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: a Kafka address must look like ...
    """
    scheme, _, rest = url.partition("://")
    bootstrap, _, topic = rest.partition("/")
    if scheme != "kafka" or not bootstrap or not topic or "/" in topic:
        raise InvalidParameterError(
            "a Kafka address must look like kafka://HOST:PORT[,HOST:PORT...]/TOPIC "
            f"(e.g. kafka://127.0.0.1:9092/metrics); got {url!r}."
        )
    return bootstrap, topic


def _import_kafka() -> Any:
    try:
        import confluent_kafka
    except ImportError:
        raise SourceError(
            "reading Kafka needs confluent-kafka, which is not installed. "
            "Install it with: pip install 'oddwatch[kafka]'"
        ) from None
    return confluent_kafka


class KafkaSource:
    """Iterate Records chunks from a Kafka topic; :meth:`commit` once their output is written.

    Parameters
    ----------
    bootstrap
        Bootstrap servers, ``HOST:PORT[,HOST:PORT...]``.
    topic
        The topic to read.
    group
        The consumer group id (committed offsets are kept per group).
    keyed
        Whether message keys name series.
    value_field, time_field
        JSON payload fields (see :class:`~oddwatch.sources._payload.PayloadBatch`).
    chunk_size
        At most this many messages per chunk.
    poll_timeout
        Seconds one poll waits for messages.
    idle_timeout
        Stop after this many seconds without a message; ``None`` runs until closed.
    max_records
        Stop after this many messages; ``None`` for no limit.
    config
        More librdkafka settings (``auto.offset.reset`` is ``"earliest"`` unless set here);
        ``enable.auto.commit`` cannot be turned on.
    consumer
        A consumer object to use instead of creating one (tests pass a fake).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        *,
        keyed: bool = False,
        value_field: str = "value",
        time_field: str = "timestamp",
        chunk_size: int = 10_000,
        poll_timeout: float = 1.0,
        idle_timeout: float | None = None,
        max_records: int | None = None,
        config: Mapping[str, Any] | None = None,
        consumer: Any = None,
    ) -> None:
        if not group:
            raise InvalidParameterError(
                "KafkaSource needs a consumer group (--group G): committed offsets are kept per "
                "group, so a restart resumes where the last run committed."
            )
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise InvalidParameterError(
                f"`chunk_size` of KafkaSource must be an int >= 1; got {chunk_size!r}."
            )
        settings = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            **dict(config or {}),
        }
        if str(settings.get("enable.auto.commit", False)).lower() in ("true", "1"):
            raise InvalidParameterError(
                "KafkaSource commits offsets itself, after the output is written; got "
                "enable.auto.commit=true, which could commit messages whose output was lost. "
                "Remove it from the config."
            )
        settings.update({"enable.auto.commit": False, "enable.auto.offset.store": False})
        self.topic = topic
        self.group = group
        self.keyed = keyed
        self.chunk_size = chunk_size
        self.poll_timeout = poll_timeout
        self.idle_timeout = idle_timeout
        self.max_records = max_records
        self.n_read = 0
        self.n_errors = 0
        self.n_commit_failures = 0
        self._kafka = _import_kafka()
        self._batch = PayloadBatch(value_field, time_field, keyed=keyed)
        self._pending: dict[tuple[str, int], int] = {}  # next offset per partition, yielded
        self._marks: list[dict[tuple[str, int], int]] = []  # _pending after each chunk
        self.n_chunks = 0
        self._committed: dict[tuple[str, int], int] = {}
        if consumer is None:
            try:
                consumer = self._kafka.Consumer(settings)
            except self._kafka.KafkaException as exc:
                raise SourceError(f"cannot create a Kafka consumer: {exc}") from None
        self._consumer = consumer
        self._resume: dict[tuple[str, int], int] = {}  # offsets from a checkpoint, if any
        self._consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self._closed = False

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        """Start assigned partitions at a checkpoint's offsets (else the group's committed)."""
        if self._resume:
            for tp in partitions:
                at = self._resume.get((tp.topic, tp.partition))
                if at is not None:
                    tp.offset = at
            consumer.assign(partitions)

    def get_state(self) -> dict[str, Any]:
        """A pipeline checkpoint's view: records read and the next offset of every partition
        read so far (through the last chunk yielded), as JSON."""
        offsets = {f"{t}/{p}": o for (t, p), o in sorted(self._pending.items())}
        return {
            "line": self.n_read + 1,
            "records": self.n_read,
            "topic": self.topic,
            "offsets": offsets,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`get_state` (before iterating): each partition it names is read
        from its saved offset when assigned, whatever the group committed."""
        try:
            records, topic = int(state["records"]), str(state["topic"])
            resume = {}
            for name, offset in dict(state["offsets"]).items():
                t, _, p = str(name).rpartition("/")
                resume[(t, int(p))] = int(offset)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"the saved Kafka position is malformed ({exc}).") from None
        if topic != self.topic:
            raise CheckpointError(
                f"the checkpoint read the Kafka topic {topic!r}; this run reads {self.topic!r}. "
                "Use the same address, or delete the checkpoint to start over."
            )
        self.n_read, self._resume = records, resume
        self._pending = dict(resume)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            for offsets in (self._pending, *self._marks):
                offsets.pop((tp.topic, tp.partition), None)

    @property
    def position(self) -> dict[str, int]:
        """Messages read, and the committed next offset per ``topic/partition``."""
        offsets = {f"{t}/{p}": o for (t, p), o in sorted(self._committed.items())}
        return {"records": self.n_read, **offsets}

    @property
    def uncommitted(self) -> int:
        """Partitions with yielded messages not yet committed."""
        return sum(1 for k, o in self._pending.items() if self._committed.get(k) != o)

    def __iter__(self) -> Iterator[Records]:
        idle_since = time.monotonic()
        while not self._closed:
            room = self.chunk_size
            if self.max_records is not None:
                room = min(room, self.max_records - self.n_read)
                if room <= 0:
                    return
            messages = self._consumer.consume(num_messages=room, timeout=self.poll_timeout)
            offsets = self._take(messages)
            if not len(self._batch):
                if (
                    self.idle_timeout is not None
                    and time.monotonic() - idle_since >= self.idle_timeout
                ):
                    return
                continue
            idle_since = time.monotonic()
            records = self._batch.records(first_line=self.n_read + 1)
            self.n_read += len(records)
            self._pending.update(offsets)
            self._marks.append(dict(self._pending))
            self.n_chunks += 1
            yield records

    def _take(self, messages: list[Any]) -> dict[tuple[str, int], int]:
        """Parse messages into the batch; return the next offset per partition they reach."""
        offsets: dict[tuple[str, int], int] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == self._kafka.KafkaError._PARTITION_EOF:
                    continue
                if error.fatal():
                    raise SourceError(f"Kafka consumer failed: {error.str()}")
                self.n_errors += 1
                continue
            kind, stamp = message.timestamp()
            arrival = stamp / 1000 if kind != self._kafka.TIMESTAMP_NOT_AVAILABLE else time.time()
            key = message.key()
            body = message.value()
            self._batch.add(
                b"" if body is None else body,
                arrival,
                "" if key is None else key.decode("utf-8", errors="replace"),
            )
            offsets[(message.topic(), message.partition())] = message.offset() + 1
        return offsets

    def transaction_offsets(self) -> list[Any]:
        """The next offset of every partition read through the last chunk, not yet committed,
        as ``TopicPartition`` objects for ``send_offsets_to_transaction``."""
        todo = {k: o for k, o in self._pending.items() if self._committed.get(k) != o}
        return [self._kafka.TopicPartition(t, p, o) for (t, p), o in sorted(todo.items())]

    def group_metadata(self) -> Any:
        """The consumer group's metadata, for ``send_offsets_to_transaction``."""
        return self._consumer.consumer_group_metadata()

    def mark_committed(self) -> None:
        """Record that a transaction committed the offsets of every chunk yielded so far."""
        self._committed.update(self._pending)
        self._marks.clear()

    def commit(self, chunks: int | None = None) -> bool:
        """Commit the offsets of every chunk yielded so far (or of the first ``chunks`` of
        them); call it after their output is written. Returns False (and keeps them for the
        next call) when the broker refuses."""
        done = self.n_chunks - len(self._marks)  # chunks whose mark was already dropped
        upto = self.n_chunks if chunks is None else min(chunks, self.n_chunks)
        if upto <= done:
            return True
        target = self._marks[upto - done - 1]
        todo = {k: o for k, o in target.items() if self._committed.get(k) != o}
        if not todo:
            del self._marks[: upto - done]
            return True
        if not todo:
            return True
        partitions = [self._kafka.TopicPartition(t, p, o) for (t, p), o in todo.items()]
        try:
            self._consumer.commit(offsets=partitions, asynchronous=False)
        except self._kafka.KafkaException:
            self.n_commit_failures += 1
            return False
        self._committed.update(todo)
        del self._marks[: upto - done]
        return True

    def close(self) -> None:
        """Leave the group without committing (idempotent): uncommitted chunks are re-read."""
        if not self._closed:
            self._closed = True
            self._consumer.close()

    def __enter__(self) -> KafkaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
