"""``oddwatch detect`` on feeds and with ``--detector river:NAME``, in process, real servers."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from oddwatch.cli.main import main

from .servers import mosquitto, need


def run(capsys, *argv):
    code = main(["detect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def rows(text):
    return [json.loads(line) for line in text.splitlines()]


def test_mqtt_topics_as_keys(capsys, tmp_path):
    mqtt = need("paho.mqtt.client")
    with mosquitto(tmp_path) as port:

        def publish():
            time.sleep(1.5)  # detect subscribes first
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            client.connect("127.0.0.1", port)
            client.loop_start()
            rng = np.random.default_rng(0)
            for i in range(100):
                for host in "ab":
                    value = rng.normal(20, 1) + (25 if (host, i) == ("b", 80) else 0)
                    client.publish(f"plant/{host}/temp", repr(value), qos=1)
            client.publish("plant/a/temp", b"sensor fault", qos=1).wait_for_publish(10)
            client.disconnect()
            client.loop_stop()

        publisher = threading.Thread(target=publish)
        publisher.start()
        code, out, err = run(
            capsys,
            f"mqtt://127.0.0.1:{port}/plant/+/temp",
            "--idle-timeout",
            3,
            "--only-anomalies",
            "--detector",
            "RollingZScore",
            "--param",
            "window_size=30",
            "--on-invalid",
            "skip",
            "--qos",
            1,
            "--json",
        )
        publisher.join(30)
    assert code == 0, err
    flagged = rows(out)
    assert [r["key"] for r in flagged] == ["plant/b/temp"] and flagged[0]["value"] > 40
    stats = json.loads(err.strip().splitlines()[-1])
    assert stats["read"] == 201 and stats["skipped"] == 1 and stats["keys"] == 2


def test_prometheus_label_sets_as_keys(capsys, prometheus_server):
    pport, eport, *_ = prometheus_server
    code, out, err = run(
        capsys,
        f"prometheus://127.0.0.1:{pport}",
        "--query",
        "oddwatch_test_value",
        "--step",
        "1s",
        "--since",
        "30s",
        "--until",
        "0s",
        "--json",
    )
    assert code == 0, err
    got = rows(out)
    keys = {r["key"] for r in got}
    assert keys == {
        f'oddwatch_test_value{{instance="127.0.0.1:{eport}",job="exporter",series="{k}"}}'
        for k in "ab"
    }
    assert all(r["timestamp"].endswith("Z") for r in got)


def test_kafka_commits_what_was_written(capsys, tmp_path):
    ck = need("confluent_kafka")
    mock = ck.Producer({"test.mock.num.brokers": 1})
    (broker,) = mock.list_topics(timeout=10).brokers.values()
    bootstrap = f"{broker.host}:{broker.port}"
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    for i in range(120):
        value = 100.0 + (i % 5) + (50.0 if i == 100 else 0.0)
        producer.produce("metrics", value=json.dumps({"value": value}).encode(), key=b"pump")
    assert producer.flush(10) == 0
    out_path = tmp_path / "flags.jsonl"
    code, _, err = run(
        capsys,
        f"kafka://{bootstrap}/metrics",
        "--group",
        "ow",
        "--message-key",
        "--idle-timeout",
        5,
        "--out",
        out_path,
        "--detector",
        "RollingZScore",
        "--param",
        "window_size=20",
    )
    assert code == 0, err
    written = rows(out_path.read_text())
    assert len(written) == 120 and [r["seq"] for r in written if r["is_anomaly"]] == [100]
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "ow"})
    parts = consumer.list_topics("metrics", timeout=10).topics["metrics"].partitions
    committed = consumer.committed([ck.TopicPartition("metrics", p) for p in parts], timeout=10)
    ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in committed]
    consumer.close()
    assert sum(ends) == 120
    assert [tp.offset for tp in committed if tp.offset >= 0] == [e for e in ends if e > 0]


def test_river_detector_by_name(capsys, tmp_path):
    need("river")
    rng = np.random.default_rng(3)
    path = tmp_path / "stream.csv"
    rng_values = rng.normal(10, 1, 400)
    path.write_text("value\n" + "".join(f"{v!r}\n" for v in rng_values.tolist()))
    code, out, err = run(
        capsys,
        path,
        "--detector",
        "river:HalfSpaceTrees",
        "--param",
        "window_size=50",
        "--param",
        "seed=1",
        "--json",
    )
    assert code == 0, err
    got = rows(out)
    assert len(got) == 400 and got[0]["score"] is None and got[60]["score"] is not None
    # it is a plain Monitor over the River model: same scores and flags as the library's
    from oddwatch import Monitor
    from oddwatch.river import RiverDetector

    det = RiverDetector.from_name("HalfSpaceTrees", {"window_size": 50, "seed": 1})
    want = Monitor(det).update_many(rng_values)
    scores = np.array([np.nan if r["score"] is None else r["score"] for r in got])
    np.testing.assert_allclose(scores, want.score, rtol=1e-9, equal_nan=True)
    assert [r["is_anomaly"] for r in got] == want.is_anomaly.tolist()


def test_river_detector_builds_a_monitor():
    need("river")
    from oddwatch import Monitor
    from oddwatch.cli._settings import make_monitor, read_settings
    from oddwatch.cli.commands.detect import OPTIONS
    from oddwatch.cli.main import build_parser

    parser = build_parser()
    args = parser.parse_args(["detect", "x.csv", "--detector", "river:HalfSpaceTrees"])
    monitor = make_monitor(read_settings(args, OPTIONS))(False)
    assert type(monitor) is Monitor and type(monitor.detector_).__name__ == "RiverDetector"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["prometheus://127.0.0.1:1"], "needs --query PROMQL"),
        (["kafka://127.0.0.1:1/t"], "needs --group G"),
        (["mqtt://127.0.0.1:1/t", "--follow"], "--follow works on files"),
        (["prometheus://127.0.0.1:1", "--query", "up", "--step", "soon"], "a duration must"),
        (["-", "--detector", "river:Nope"], "unknown River anomaly detector 'Nope'"),
    ],
)
def test_usage_errors(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def committed_total(ck, bootstrap, group, topic):
    consumer = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    committed = consumer.committed([ck.TopicPartition(topic, p) for p in parts], timeout=10)
    consumer.close()
    return sum(tp.offset for tp in committed if tp.offset >= 0)


def test_kafka_bad_record_under_raise_commits_only_the_chunks_before(capsys, tmp_path):
    ck = need("confluent_kafka")
    mock = ck.Producer({"test.mock.num.brokers": 1})
    (broker,) = mock.list_topics(timeout=10).brokers.values()
    bootstrap = f"{broker.host}:{broker.port}"
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    bodies = [b"%d" % (i % 7) for i in range(50)] + [b"broken"] + [b"1"] * 10
    for body in bodies:
        producer.produce("m", value=body, key=b"k")  # one key: one partition, in order
    assert producer.flush(10) == 0
    out_path = tmp_path / "out.jsonl"
    code, _, err = run(
        capsys,
        f"kafka://{bootstrap}/m",
        "--group",
        "g",
        "--batch",
        20,
        "--idle-timeout",
        5,
        "--on-invalid",
        "raise",
        "--out",
        out_path,
    )
    assert code == 3 and "broken" in err
    assert len(rows(out_path.read_text())) == 50  # chunks 1-2 and chunk 3 up to the bad record
    assert committed_total(ck, bootstrap, "g", "m") == 40  # chunk 3 will be read again


def test_river_detector_with_keyed_input_says_what_to_do(capsys, tmp_path):
    need("river")
    path = tmp_path / "keyed.csv"
    path.write_text("key,value\n" + "".join(f"{'ab'[i % 2]},{i % 5}\n" for i in range(40)))
    code, _, err = run(capsys, path, "--key-col", "key", "--detector", "river:HalfSpaceTrees")
    assert code == 2 and "one Monitor per series" in err and "Traceback" not in err
