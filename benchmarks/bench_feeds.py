"""Records/s through the MQTT and Prometheus sources vs reading the same records from a file.

The same records (``--keys`` series, one point every 15 s each, JSON payloads) are read three
ways in one run, each timed from opening the source to the last record parsed:

- file: a JSON Lines file through ``FileSource`` (the reference);
- mqtt: a backlog of messages queued by a local mosquitto for a persistent session, drained
  through ``MqttSource`` (one message per record, topic = series);
- paho-only: the same backlog drained by a bare paho-mqtt client whose callback only counts
  (the ceiling for any source built on paho);
- prometheus: the same points backfilled into a local prometheus with promtool, read back
  through ``PrometheusSource`` (range queries, ``step`` = 15 s, every label set a key);
- kafka-mock: the same records produced to librdkafka's mock cluster (in process: no broker
  can be installed here), drained through ``KafkaSource`` keyed by series; timed from the
  first chunk (the consumer group join before it, seconds on the mock, is printed apart).

Every server runs on 127.0.0.1 on an ephemeral port and is stopped at the end. Needs the Debian
packages mosquitto and prometheus (promtool comes with it) and ``oddwatch[mqtt]``.

Usage::

    python benchmarks/bench_feeds.py [--n 100000] [--keys 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from oddwatch.sources import FileSource
from oddwatch.sources.mqtt import MqttSource
from oddwatch.sources.prometheus import PrometheusSource

STEP = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def server(args: list[str], port: int, log: Path, ready_path: str | None = None) -> Iterator[None]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{args[0]} did not start; see {log}")
            try:
                if ready_path is None:
                    socket.create_connection(("127.0.0.1", port), 0.2).close()
                else:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def make_data(n: int, keys: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Epoch times (15 s apart per key, ending a day ago), keys and values, in time order."""
    per_key = n // keys
    end = (int(time.time()) - 86_400) // STEP * STEP
    t = end - STEP * (per_key - 1) + STEP * np.repeat(np.arange(per_key), keys)
    k = np.tile(np.array([f"k{i}" for i in range(keys)]), per_key)
    v = np.round(np.random.default_rng(0).normal(50, 5, per_key * keys), 4)
    return t.astype(np.int64), k, v


def drain(source: object) -> int:
    return sum(len(chunk) for chunk in source)  # type: ignore[attr-defined]


def bench_file(tmp: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[int, float]:
    t, k, v = data
    path = tmp / "records.jsonl"
    with open(path, "w") as fh:
        for ti, ki, vi in zip(t.tolist(), k.tolist(), v.tolist(), strict=True):
            fh.write(json.dumps({"timestamp": ti, "key": ki, "value": vi}) + "\n")
    start = time.perf_counter()
    source = FileSource(str(path), time_col="timestamp", value_col="value", key_col="key")
    n = drain(source)
    source.close()
    return n, time.perf_counter() - start


@contextlib.contextmanager
def mqtt_backlog(
    tmp: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray], client_id: str
) -> Iterator[int]:
    """A mosquitto holding the records as a backlog for ``client_id``; yields its port."""
    import paho.mqtt.client as mqtt

    t, k, v = data
    binary = shutil.which("mosquitto", path=os.environ["PATH"] + ":/usr/sbin")
    if binary is None:
        raise SystemExit("mosquitto is not installed: apt-get install mosquitto")
    port = free_port()
    conf = tmp / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 0\nmax_queued_bytes 0\nqueue_qos0_messages true\n"
    )
    with server([binary, "-c", str(conf)], port, tmp / "mosquitto.log"):
        # register a persistent session, then go offline so the broker queues the backlog
        MqttSource("127.0.0.1", port, "bench/+", session="persistent", client_id=client_id).close()
        publisher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        publisher.max_inflight_messages_set(1000)
        publisher.connect("127.0.0.1", port)
        publisher.loop_start()
        pending = []
        for ti, ki, vi in zip(t.tolist(), k.tolist(), v.tolist(), strict=True):
            body = json.dumps({"timestamp": ti, "value": vi})
            pending.append(publisher.publish(f"bench/{ki}", body, qos=1))
            if len(pending) == 500:  # bounded in flight: wait for the broker's acks
                for info in pending:
                    info.wait_for_publish(60)
                pending.clear()
        for info in pending:
            info.wait_for_publish(60)
        publisher.disconnect()
        publisher.loop_stop()
        yield port


def bench_mqtt(tmp: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[int, float]:
    with mqtt_backlog(tmp, data, "oddwatch-bench") as port:
        start = time.perf_counter()
        source = MqttSource(
            "127.0.0.1",
            port,
            "bench/+",
            session="persistent",
            client_id="oddwatch-bench",
            max_records=len(data[2]),
            idle_timeout=10,
        )
        n = drain(source)
        elapsed = time.perf_counter() - start
        source.close()
    return n, elapsed


def bench_paho(tmp: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[int, float]:
    """The bare paho-mqtt client draining the same backlog with a callback that only counts."""
    import paho.mqtt.client as mqtt

    total = len(data[2])
    with mqtt_backlog(tmp, data, "paho-bench") as port:
        count = [0]
        done = threading.Event()

        def on_message(client: object, userdata: object, message: object) -> None:
            count[0] += 1
            if count[0] >= total:
                done.set()

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="paho-bench", clean_session=False
        )
        client.on_message = on_message
        start = time.perf_counter()
        client.connect("127.0.0.1", port)
        client.loop_start()
        done.wait(120)
        elapsed = time.perf_counter() - start
        client.disconnect()
        client.loop_stop()
    return count[0], elapsed


def bench_prometheus(
    tmp: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[int, float]:
    t, k, v = data
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus is None or promtool is None:
        raise SystemExit("prometheus is not installed: apt-get install prometheus")
    metrics = tmp / "backfill.om"
    with open(metrics, "w") as fh:
        fh.write("# TYPE bench_value gauge\n")
        for ti, ki, vi in zip(t.tolist(), k.tolist(), v.tolist(), strict=True):
            fh.write(f'bench_value{{key="{ki}"}} {vi} {ti}\n')
        fh.write("# EOF\n")
    tsdb = tmp / "tsdb"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(metrics), str(tsdb)],
        check=True,
    )
    port = free_port()
    conf = tmp / "prometheus.yml"
    conf.write_text("global:\n  scrape_interval: 1m\n")
    args = [
        prometheus,
        f"--config.file={conf}",
        f"--storage.tsdb.path={tsdb}",
        "--storage.tsdb.retention.time=30d",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with server(args, port, tmp / "prometheus.log", ready_path="/-/ready"):
        start = time.perf_counter()
        source = PrometheusSource(
            f"prometheus://127.0.0.1:{port}",
            "bench_value",
            step=STEP,
            start=float(t[0]),
            end=float(t[-1]),
        )
        n = drain(source)
        elapsed = time.perf_counter() - start
    return n, elapsed


def bench_kafka(tmp: Path, data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[int, float]:
    """The same records produced to librdkafka's mock cluster (in process), drained through
    ``KafkaSource`` (keyed by series). No Kafka broker can be installed here, so this measures
    the client and the source, not a network."""
    import confluent_kafka as ck

    from oddwatch.sources.kafka import KafkaSource

    t, k, v = data
    owner = ck.Producer({"test.mock.num.brokers": 1})
    (broker,) = owner.list_topics(timeout=10).brokers.values()
    bootstrap = f"{broker.host}:{broker.port}"
    producer = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 50})
    for ti, ki, vi in zip(t.tolist(), k.tolist(), v.tolist(), strict=True):
        body = json.dumps({"timestamp": ti, "value": vi}).encode()
        while True:
            try:
                producer.produce("bench", body, key=str(ki).encode())
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    opened = time.perf_counter()
    source = KafkaSource(
        bootstrap, "bench", tmp.name, keyed=True, max_records=len(v), idle_timeout=10
    )
    chunks = iter(source)
    n = len(next(chunks))  # the consumer group's join (seconds on the mock) is not timed
    start = time.perf_counter()
    n += drain(chunks)
    elapsed = time.perf_counter() - start
    source.close()
    owner.flush(5)
    print(f"  (kafka-mock: joining the group and the first chunk took {start - opened:.2f} s)")
    return n, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="records (default 100000)")
    parser.add_argument("--keys", type=int, default=10, help="series (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per source; best is kept")
    args = parser.parse_args()
    data = make_data(args.n, args.keys)
    rows = {}
    benches = (
        ("file", bench_file),
        ("mqtt", bench_mqtt),
        ("paho-only", bench_paho),
        ("prometheus", bench_prometheus),
        ("kafka-mock", bench_kafka),
    )
    for name, bench in benches:
        best = None
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                n, elapsed = bench(Path(tmp), data)
            if n != len(data[2]):
                print(f"warning: {name} read {n} of {len(data[2])} records", file=sys.stderr)
            best = elapsed if best is None else min(best, elapsed)
        assert best is not None
        rows[name] = (n, best)
        print(f"{name:<11} {n:>8} records  {best:7.3f} s  {n / best:>10,.0f} records/s", flush=True)
    file_rate = rows["file"][0] / rows["file"][1]
    for name in ("mqtt", "paho-only", "prometheus", "kafka-mock"):
        n, elapsed = rows[name]
        print(f"{name}/file throughput ratio: {n / elapsed / file_rate:.3f}")
    mqtt_rate = rows["mqtt"][0] / rows["mqtt"][1]
    paho_rate = rows["paho-only"][0] / rows["paho-only"][1]
    print(f"mqtt/paho-only throughput ratio: {mqtt_rate / paho_rate:.3f}")


if __name__ == "__main__":
    main()
