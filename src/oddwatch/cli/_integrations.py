"""The CLI's integrations: feed inputs (``mqtt://``, ``prometheus://``, ``kafka://``) and
``--detector river:NAME``.

:func:`is_feed` tells a feed address from a file name, :func:`add_feed_arguments` adds the
flags only feeds use, and :func:`open_feed` builds the source from the address and the
settings. ``--value-col`` / ``--time-col`` name the JSON payload fields for MQTT and Kafka;
``--idle-timeout`` stops a feed after that long without data. :func:`river_detector` builds
a :class:`~oddwatch.river.RiverDetector` from ``river:NAME`` and the ``--param`` values (River
is imported only then).

Examples
--------
>>> is_feed("mqtt://127.0.0.1/plant/+/temp"), is_feed("metrics.csv")
(True, False)
>>> parse_duration("15s"), parse_duration("2m"), parse_duration("1h"), parse_duration("0.5")
(15.0, 120.0, 3600.0, 0.5)
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Mapping
from typing import Any

from oddwatch.errors import InvalidParameterError

__all__ = [
    "FEED_OPTIONS",
    "CommitAfterOutput",
    "add_feed_arguments",
    "is_feed",
    "is_kafka_out",
    "is_river",
    "kafka_output",
    "open_feed",
    "parse_duration",
    "river_detector",
]

FEED_SCHEMES = ("mqtt", "prometheus", "kafka")

FEED_OPTIONS: dict[str, tuple[tuple[type, ...], Any]] = {
    "query": ((str,), None),
    "step": ((str, int, float), "15s"),
    "since": ((str, int, float), None),
    "until": ((str, int, float), None),
    "group": ((str,), None),
    "qos": ((int,), 0),
    "message_key": ((bool,), False),
}

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def is_feed(address: str) -> bool:
    """Whether ``address`` is a feed URL rather than a file (or ``-``)."""
    return address.split("://", 1)[0] in FEED_SCHEMES and "://" in address


def parse_duration(text: Any, allow_zero: bool = False) -> float:
    """``"500ms"``, ``"15s"``, ``"2m"``, ``"1h"``, ``"1d"`` or a number, as seconds (> 0, or
    >= 0 with ``allow_zero``)."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|m|h|d)?\s*", str(text))
        if match is None:
            raise InvalidParameterError(
                f"a duration must look like 15s, 2m, 1h or a number of seconds; got {text!r}."
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not (seconds >= 0 if allow_zero else seconds > 0):
        raise InvalidParameterError(
            f"a duration must be {'>=' if allow_zero else '>'} 0; got {text!r}."
        )
    return seconds


def add_feed_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags only feed inputs use (defaults None so a config file can fill them)."""
    add = parser.add_argument
    add("--query", metavar="PROMQL", help="prometheus://: the PromQL expression to poll")
    add(
        "--step",
        metavar="DURATION",
        help="prometheus://: seconds between evaluation times, e.g. 15s (default 15s)",
    )
    add(
        "--since",
        metavar="DURATION",
        help="prometheus://: start this long ago, e.g. 1h (default: now)",
    )
    add(
        "--until",
        metavar="DURATION",
        help="prometheus://: stop at this long before now, e.g. 0s (default: keep polling)",
    )
    add("--group", metavar="G", help="kafka://: the consumer group (required)")
    add("--qos", type=int, choices=[0, 1, 2], help="mqtt://: subscription QoS (default 0)")
    add(
        "--message-key",
        action="store_true",
        default=None,
        help="kafka://: each message key names a series",
    )


def open_feed(address: str, s: Mapping[str, Any]) -> Any:
    """The source for a feed ``address``, configured from the settings ``s``."""
    scheme = address.split("://", 1)[0]
    value_field = str(s.get("value_col") or "value")
    time_field = str(s.get("time_col") or "timestamp")
    idle = s.get("idle_timeout")
    batch = int(s.get("batch") or 10_000)
    if scheme == "mqtt":
        from oddwatch.sources.mqtt import MqttSource, parse_mqtt_url

        host, port, topic = parse_mqtt_url(address)
        return MqttSource(
            host,
            port,
            topic,
            qos=int(s.get("qos") or 0),
            idle_timeout=idle,
            chunk_size=batch,
            value_field=value_field,
            time_field=time_field,
        )
    if scheme == "prometheus":
        from oddwatch.sources.prometheus import PrometheusSource

        if not s.get("query"):
            raise InvalidParameterError(
                "a prometheus:// input needs --query PROMQL (e.g. --query 'rate(x_total[5m])')."
            )
        step = parse_duration(s.get("step") or "15s")
        now = time.time()
        since, until = s.get("since"), s.get("until")
        start = None if since is None else now - parse_duration(since)
        end = None if until is None else now - parse_duration(until, allow_zero=True)
        return PrometheusSource(address, str(s["query"]), step=step, start=start, end=end)
    from oddwatch.sources.kafka import KafkaSource, parse_kafka_url

    bootstrap, topic = parse_kafka_url(address)
    if not s.get("group"):
        raise InvalidParameterError(
            "a kafka:// input needs --group G: offsets are committed per consumer group."
        )
    return KafkaSource(
        bootstrap,
        topic,
        str(s["group"]),
        keyed=bool(s.get("message_key")),
        idle_timeout=idle,
        chunk_size=batch,
        value_field=value_field,
        time_field=time_field,
    )


def is_river(name: str | None) -> bool:
    """Whether a ``--detector`` name asks for a River model (``river:NAME``).

    Examples
    --------
    >>> is_river("river:HalfSpaceTrees"), is_river("RollingZScore"), is_river(None)
    (True, False, False)
    """
    return name is not None and name.lower().startswith("river:")


def river_detector(name: str, params: Mapping[str, Any]) -> Any:
    """``RiverDetector.from_name(NAME, params)`` for ``river:NAME``; ``scaler=`` among the
    params names the ``river.preprocessing`` transformer in front (``none`` for no scaler)."""
    try:
        from oddwatch.river import RiverDetector
    except ImportError as exc:
        raise InvalidParameterError(f"--detector {name}: {exc}") from None
    rest = dict(params)
    scaler = rest.pop("scaler", "MinMaxScaler")
    return RiverDetector.from_name(name.split(":", 1)[1], rest, scaler=scaler)


def is_kafka_out(address: str | None) -> bool:
    """Whether ``--out`` names a Kafka topic (``kafka://BOOTSTRAP/TOPIC``).

    Examples
    --------
    >>> is_kafka_out("kafka://127.0.0.1:9092/flags"), is_kafka_out("flags.jsonl")
    (True, False)
    """
    return address is not None and address.startswith("kafka://")


def kafka_output(address: str, source: Any) -> Any:
    """The :class:`~oddwatch.sinks.kafka.KafkaSink` for ``--out kafka://BOOTSTRAP/TOPIC``:
    one transaction per chunk with the input offsets when the input is Kafka too (exactly
    once), else an idempotent producer flushed per chunk (at least once)."""
    from oddwatch.sinks.kafka import KafkaSink, parse_kafka_out
    from oddwatch.sources.kafka import KafkaSource

    bootstrap, topic = parse_kafka_out(address)
    return KafkaSink(bootstrap, topic, source=source if isinstance(source, KafkaSource) else None)


class CommitAfterOutput:
    """A last sink that commits a source's offsets once the output before it is durable.

    ``oddwatch.pipeline.run`` writes each chunk to its sinks in order, then goes on to the
    next chunk only if the chunk had no error. So when chunk ``k + 1`` reaches this sink,
    chunk ``k`` was written whole: the sinks are synced, then offsets through chunk ``k`` are
    committed. :meth:`finish` commits the rest after a run that ended normally; a run stopped
    by an error commits nothing more, and its last chunk is read again (at least once).
    """

    def __init__(self, source: Any, outputs: list[Any]) -> None:
        self.source = source
        self.outputs = outputs
        self.n_chunks = 0

    def _sync(self) -> None:
        for sink in self.outputs:
            sync = getattr(sink, "sync", None)
            if callable(sync):
                sync()

    def write(self, batch: Any) -> None:
        self.n_chunks += 1
        if self.n_chunks > 1:
            self._sync()
            self.source.commit(chunks=self.n_chunks - 1)

    def finish(self) -> None:
        """After a normal end: make the output durable and commit everything read."""
        self._sync()
        self.source.commit()

    def close(self) -> None:
        """Commits nothing: only :meth:`finish` does, after a normal end."""
