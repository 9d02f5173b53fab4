"""``MqttSource``: records from an MQTT broker, one series per topic when subscribing by wildcard.

Subscribes to a topic filter and yields :class:`~oddwatch.sources._base.Records` chunks of the
messages received, in arrival order. Payloads are plain numbers or JSON (see
:mod:`oddwatch.sources._payload`); a message's time is its payload timestamp, else its arrival
time. A filter with a wildcard (``+`` or ``#``) makes every matching topic its own series
(``key``); a plain topic is one series. The network runs in paho's background thread, which
reconnects after a dropped connection (waiting ``reconnect_min`` doubling up to
``reconnect_max`` seconds) and subscribes again. Messages published while disconnected are lost
under QoS 0; with ``qos=1`` and ``session="persistent"`` the broker keeps them for this client
(until the broker itself restarts without persistence). Needs paho-mqtt
(``pip install 'oddwatch[mqtt]'``).

Messages wait in a queue of at most ``queue_size``; when the detector falls behind, the queue
fills and the network thread waits, so the broker holds (QoS 1) or drops (QoS 0) the backlog
rather than this process growing without bound.

Examples
--------
>>> parse_mqtt_url("mqtt://127.0.0.1:1883/sensors/+/temp")
('127.0.0.1', 1883, 'sensors/+/temp')
"""

from __future__ import annotations

import queue
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from oddwatch._validation import FloatParam, IntParam, OptionParam, ParamSpec, check_params
from oddwatch.errors import CheckpointError, InvalidParameterError, SourceError
from oddwatch.sources._base import Records
from oddwatch.sources._payload import PayloadBatch

__all__ = ["MqttSource", "parse_mqtt_url"]


def parse_mqtt_url(url: str) -> tuple[str, int, str]:
    """``mqtt://HOST[:PORT]/TOPIC`` as ``(host, port, topic filter)``; port 1883 by default.

    Examples
    --------
    >>> parse_mqtt_url("mqtt://broker/plant/#")
    ('broker', 1883, 'plant/#')
    >>> parse_mqtt_url("mqtt://broker")
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: an MQTT address must look like ...
    """
    scheme, _, rest = url.partition("://")
    address, _, topic = rest.partition("/")
    parts = urllib.parse.urlsplit("//" + address)
    if scheme != "mqtt" or not parts.hostname or not topic:
        raise InvalidParameterError(
            f"an MQTT address must look like mqtt://HOST[:PORT]/TOPIC (e.g. "
            f"mqtt://127.0.0.1:1883/sensors/+/temp); got {url!r}."
        )
    try:
        port = parts.port or 1883
    except ValueError:
        raise InvalidParameterError(f"the port of {url!r} is not a number.") from None
    return parts.hostname, port, topic


def _import_paho() -> Any:
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise SourceError(
            "reading MQTT needs paho-mqtt, which is not installed. "
            "Install it with: pip install 'oddwatch[mqtt]'"
        ) from None
    return mqtt


class MqttSource:
    """Iterate Records chunks of the messages arriving on an MQTT topic filter.

    Parameters
    ----------
    host, port
        The broker.
    topic
        A topic or a filter with ``+``/``#`` wildcards (then each topic is a series key).
    qos
        Subscription quality of service: 0, 1 or 2.
    session
        ``"clean"`` (the broker forgets this client when it disconnects) or ``"persistent"``
        (it keeps the subscription and, under QoS >= 1, the messages missed meanwhile; needs
        ``client_id``).
    client_id
        The MQTT client id; empty for a broker-chosen one (``"clean"`` sessions only).
    value_field, time_field
        JSON payload fields (see :class:`~oddwatch.sources._payload.PayloadBatch`).
    chunk_size
        At most this many messages per chunk.
    linger
        Seconds to wait for more messages once one has arrived, before yielding a chunk.
    idle_timeout
        Stop after this many seconds without a message; ``None`` runs until closed.
    max_records
        Stop after this many messages; ``None`` for no limit.
    queue_size
        Messages held between the network thread and the reader.
    reconnect_min, reconnect_max
        Bounds of the reconnect back-off, in seconds.
    connect_timeout
        Seconds to wait for the first connection before giving up with a SourceError.

    Examples
    --------
    >>> MqttSource("127.0.0.1", 1, "t", connect_timeout=0.5)
    Traceback (most recent call last):
    ...
    oddwatch.errors.SourceError: cannot connect to the MQTT broker at 127.0.0.1:1 ...
    """

    _param_specs: ClassVar[Mapping[str, ParamSpec]] = {
        "port": IntParam(low=1, high=65535),
        "qos": IntParam(low=0, high=2),
        "session": OptionParam(("clean", "persistent")),
        "chunk_size": IntParam(low=1),
        "linger": FloatParam(low=0.0),
        "queue_size": IntParam(low=1),
        "reconnect_min": FloatParam(low=0.0, low_open=True),
        "reconnect_max": FloatParam(low=0.0, low_open=True),
        "connect_timeout": FloatParam(low=0.0, low_open=True),
    }

    def __init__(
        self,
        host: str,
        port: int,
        topic: str,
        *,
        qos: int = 0,
        session: str = "clean",
        client_id: str = "",
        value_field: str = "value",
        time_field: str = "timestamp",
        chunk_size: int = 10_000,
        linger: float = 0.05,
        idle_timeout: float | None = None,
        max_records: int | None = None,
        queue_size: int = 100_000,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        connect_timeout: float = 10.0,
    ) -> None:
        check_params(
            "MqttSource",
            self._param_specs,
            {
                "port": port,
                "qos": qos,
                "session": session,
                "chunk_size": chunk_size,
                "linger": linger,
                "queue_size": queue_size,
                "reconnect_min": reconnect_min,
                "reconnect_max": reconnect_max,
                "connect_timeout": connect_timeout,
            },
        )
        if session == "persistent" and not client_id:
            raise InvalidParameterError(
                "a persistent MQTT session needs a client_id (the broker keeps the session "
                "under that name); got none. Pass client_id='oddwatch-...' or session='clean'."
            )
        self.host, self.port, self.topic = host, port, topic
        self.qos = qos
        self.chunk_size = chunk_size
        self.linger = linger
        self.idle_timeout = idle_timeout
        self.max_records = max_records
        self.keyed = "+" in topic or "#" in topic
        self.n_read = 0
        self.n_connects = 0
        self._batch = PayloadBatch(value_field, time_field, keyed=self.keyed)
        self._queue: queue.Queue[tuple[str, bytes, float]] = queue.Queue(queue_size)
        self._connected = threading.Event()
        self._closed = False
        mqtt = _import_paho()
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=session == "clean",
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.reconnect_delay_set(reconnect_min, reconnect_max)
        self._connect(connect_timeout)

    def _connect(self, timeout: float) -> None:
        where = f"{self.host}:{self.port}"
        try:
            self._client.connect(self.host, self.port)
        except OSError as exc:
            raise SourceError(
                f"cannot connect to the MQTT broker at {where} ({exc}); is it running and "
                "reachable? Check the address of the mqtt:// URL."
            ) from None
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self.close()
            raise SourceError(
                f"the MQTT broker at {where} accepted the connection but did not confirm the "
                f"subscription to {self.topic!r} within {timeout} s; is it an MQTT broker, and "
                "may this client subscribe there?"
            )

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self.topic, self.qos)
            if flags.session_present:
                # the broker kept the subscription; its backlog may arrive before the SUBACK
                self._on_subscribe(client, userdata, None, None, props)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, codes: Any, props: Any) -> None:
        self.n_connects += 1
        self._connected.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self._connected.clear()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        item = (message.topic, bytes(message.payload), time.time())
        while not self._closed:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    @property
    def connected(self) -> bool:
        """Whether the client is connected and subscribed right now."""
        return self._connected.is_set()

    @property
    def position(self) -> dict[str, int]:
        """Messages read so far (MQTT has no offsets to resume from)."""
        return {"records": self.n_read}

    def __iter__(self) -> Iterator[Records]:
        while not self._closed:
            if self.max_records is not None and self.n_read >= self.max_records:
                return
            if not self._fill():
                return
            records = self._batch.records(first_line=self.n_read + 1)
            self.n_read += len(records)
            yield records

    def _fill(self) -> bool:
        """Wait for messages and parse them into the batch; False when the stream ends."""
        room = self.chunk_size
        if self.max_records is not None:
            room = min(room, self.max_records - self.n_read)
        item = self._first()
        if item is None:
            return False
        deadline = time.monotonic() + self.linger
        while True:
            topic, body, arrival = item
            self._batch.add(body, arrival, topic)
            if len(self._batch) >= room:
                return True
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return True
                try:
                    item = self._queue.get(timeout=wait)
                except queue.Empty:
                    return True

    def _first(self) -> tuple[str, bytes, float] | None:
        """The next message; None once closed or idle for ``idle_timeout`` seconds."""
        idle_until = None if self.idle_timeout is None else time.monotonic() + self.idle_timeout
        while not self._closed:
            wait = 0.5 if idle_until is None else min(0.5, idle_until - time.monotonic())
            if wait <= 0:
                return None
            try:
                return self._queue.get(timeout=wait)
            except queue.Empty:
                continue
        return None

    def get_state(self) -> dict[str, Any]:
        """A pipeline checkpoint's view of this source: records read, as JSON.

        MQTT cannot replay: a resumed run continues the detector state from the checkpoint
        and reads what the broker delivers from then on (see docs/integrations.md).
        """
        return {"line": self.n_read + 1, "records": self.n_read, "topic": self.topic}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue the record count of :meth:`get_state`; the topic filter must match."""
        try:
            records, topic = int(state["records"]), str(state["topic"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"the saved MQTT position is malformed ({exc}).") from None
        if topic != self.topic:
            raise CheckpointError(
                f"the checkpoint watched the MQTT topic {topic!r}; this run watches "
                f"{self.topic!r}. Use the same address, or delete the checkpoint to start over."
            )
        self.n_read = records

    def close(self) -> None:
        """Disconnect and stop the network thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> MqttSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
