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


def mock_kafka(ck, n=200):
    """librdkafka's mock cluster with ``n`` values on "metrics" (a spike at 150)."""
    owner = ck.Producer({"test.mock.num.brokers": 3})
    brokers = owner.list_topics(timeout=10).brokers.values()
    bootstrap = ",".join(f"{b.host}:{b.port}" for b in brokers)
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    values = np.random.default_rng(1).normal(100, 2, n)
    values[150] = 160.0
    for i, v in enumerate(values):
        producer.produce("metrics", value=repr(float(v)).encode(), key=b"pump-%d" % (i % 2))
    assert producer.flush(10) == 0
    return owner, bootstrap


def read_topic(ck, bootstrap, topic, n):
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "docs-reader",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    rows, deadline = [], time.monotonic() + 30
    while len(rows) < n and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            rows.append(json.loads(message.value()))
    consumer.close()
    return rows


def test_kafka_exactly_once_example(tmp_path, monkeypatch):
    ck = need("confluent_kafka")
    owner, bootstrap = mock_kafka(ck)
    printed = run(example("kafka-exactly-once").replace("127.0.0.1:9092", bootstrap))
    assert printed.split()[0] == "200" and printed.split()[2] == "0"
    rows = read_topic(ck, bootstrap, "flags", 200)
    assert len(rows) == 200 and int(printed.split()[1]) >= 1
    assert [(r["key"], r["value"]) for r in rows if r["is_anomaly"]] == [("pump-0", 160.0)]


def test_cli_examples(tmp_path, monkeypatch, capsys, prometheus_server):
    """Every command of the "From the command line" block, against local servers."""
    import shlex

    from oddwatch.cli.main import main

    ck = need("confluent_kafka")
    mqtt = need("paho.mqtt.client")
    need("river")
    block = re.search(r"<!-- example: cli -->\n```\n(.*?)```", DOC.read_text(), re.S).group(1)
    commands = [shlex.split(line) for line in block.splitlines() if line.strip()]
    assert len(commands) == 6 and all(c[:2] == ["oddwatch", "detect"] for c in commands)
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    (tmp_path / "stream.csv").write_text(
        "value\n" + "".join(f"{v!r}\n" for v in rng.normal(0, 1, 500).tolist())
    )
    pport, *_ = prometheus_server
    owner, bootstrap = mock_kafka(ck)
    with mosquitto(tmp_path) as mport:

        def publish():
            time.sleep(1.5)
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.connect("127.0.0.1", mport)
            client.loop_start()
            for i in range(60):
                value = 30.0 if i == 50 else 20.0 + i % 3
                client.publish("plant/a/temp", repr(value), qos=1).wait_for_publish(10)
            client.disconnect()
            client.loop_stop()

        outputs = []
        for argv in commands:
            args = [
                a.replace("127.0.0.1:1883", f"127.0.0.1:{mport}")
                .replace("127.0.0.1:9090", f"127.0.0.1:{pport}")
                .replace("127.0.0.1:9092", bootstrap)
                for a in argv[2:]
            ]
            if "--idle-timeout" in args:
                args[args.index("--idle-timeout") + 1] = "4"
            publisher = threading.Thread(target=publish) if "mqtt://" in args[0] else None
            if publisher:
                publisher.start()
            code = main(["detect", *args])
            if publisher:
                publisher.join(30)
            out, err = capsys.readouterr()
            assert code == 0, (argv, err)
            outputs.append((out, err))
    assert outputs[0][1].startswith("60 records read")  # the default detector still warms up
    assert "records read" in outputs[1][1]
    assert len((tmp_path / "flags.jsonl").read_text().splitlines()) == 200
    assert len(read_topic(ck, bootstrap, "flags", 200)) == 200
    assert (tmp_path / "up.ckpt").exists() and (tmp_path / "up.jsonl").read_text()
    assert len(outputs[5][0].splitlines()) == 500
