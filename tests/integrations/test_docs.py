"""Every example of docs/integrations.md runs: doctests, and the feed examples against real
servers (mosquitto, prometheus, librdkafka's mock Kafka cluster) whose ports are swapped in."""

from __future__ import annotations

import contextlib
import doctest
import io
import json
import re
import threading
import time
from pathlib import Path

import numpy as np

from .servers import mosquitto, need

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS


def example(name: str) -> str:
    """The ```python block after ``<!-- example: name -->``."""
    match = re.search(rf"<!-- example: {name} -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    assert match, f"docs/integrations.md has no example {name!r}"
    return match.group(1)


def run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "__docs__"})
    return out.getvalue()


def test_doctests(tmp_path, monkeypatch):
    need("river")
    need("sklearn")
    need("pandas")
    monkeypatch.chdir(tmp_path)
    failed, attempted = doctest.testfile(str(DOC), module_relative=False, optionflags=FLAGS)
    assert attempted > 20 and failed == 0


def test_mqtt_example(tmp_path):
    mqtt = need("paho.mqtt.client")
    code = example("mqtt")
    with mosquitto(tmp_path) as port:

        def publish():
            time.sleep(1.5)  # the example subscribes first
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.connect("127.0.0.1", port)
            client.loop_start()
            for i in range(80):
                for host, base in (("a", 20.0), ("b", 60.0)):
                    value = base + (i % 4) + (30.0 if (host, i) == ("b", 70) else 0.0)
                    client.publish(f"plant/{host}/temp", json.dumps({"value": value}), qos=1)
            client.publish("plant/a/temp", b"sensor fault", qos=1).wait_for_publish(10)
            client.disconnect()
            client.loop_stop()

        publisher = threading.Thread(target=publish)
        publisher.start()
        printed = run(code.replace('"127.0.0.1", 1883', f'"127.0.0.1", {port}'))
        publisher.join(30)
    lines = printed.splitlines()
    assert len(lines) == 1 and lines[0].startswith("plant/b/temp 20")
    assert "above" in lines[0]


def test_prometheus_example(prometheus_server):
    pport, eport, *_ = prometheus_server
    code = example("prometheus").replace("127.0.0.1:9090", f"127.0.0.1:{pport}")
    printed = run(code)
    assert printed == f'[\'up{{instance="127.0.0.1:{eport}",job="exporter"}}\'] True\n'


def test_kafka_example(tmp_path, monkeypatch):
    ck = need("confluent_kafka")
    mock = ck.Producer({"test.mock.num.brokers": 1})
    (broker,) = mock.list_topics(timeout=10).brokers.values()
    bootstrap = f"{broker.host}:{broker.port}"
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    values = np.random.default_rng(1).normal(100, 2, 200)
    values[150] = 160.0
    for i, v in enumerate(values):
        producer.produce("metrics", value=repr(float(v)).encode(), key=b"pump-%d" % (i % 2))
    assert producer.flush(10) == 0
    monkeypatch.chdir(tmp_path)
    run(example("kafka").replace("127.0.0.1:9092", bootstrap))
    flags = [json.loads(line) for line in (tmp_path / "flags.jsonl").read_text().splitlines()]
    assert [(f["key"], f["value"]) for f in flags] == [("pump-0", 160.0)]
    # everything was committed: the group has nothing left to read
    consumer = ck.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "oddwatch", "enable.auto.commit": False}
    )
    partitions = consumer.list_topics("metrics", timeout=10).topics["metrics"].partitions
    tps = [ck.TopicPartition("metrics", p) for p in partitions]
    committed = {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    ends = {
        p: consumer.get_watermark_offsets(ck.TopicPartition("metrics", p), timeout=10)[1]
        for p in partitions
    }
    consumer.close()
    assert committed == {p: e for p, e in ends.items() if e > 0} | {
        p: -1001 for p, e in ends.items() if e == 0
    }
