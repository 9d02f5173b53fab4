"""``--checkpoint`` for feeds: a resumed run continues the detector state where it stopped.

Prometheus resumes from the evaluation time saved in the checkpoint; Kafka from the offsets
saved in it (librdkafka's mock cluster); MQTT continues the state and the record count only.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import uuid

import numpy as np
import pytest

from oddwatch import KeyedMonitor
from oddwatch.cli.main import main
from oddwatch.detectors import RollingZScore
from oddwatch.errors import CheckpointError, SourceError
from oddwatch.pipeline import Checkpoint, run
from oddwatch.sinks import JsonlSink
from oddwatch.sources.prometheus import PrometheusSource

from .servers import exporter, mosquitto, need


def value(key: str, t: float) -> float:
    """The fake server's series: a slow wave per key, and a spike every 4,999 s."""
    spike = 9.0 if int(t) % 4999 == 0 else 0.0
    return (10.0 if key == "a" else 20.0) + math.sin(t / 37.0) + spike


class FakePrometheus:
    """``/api/v1/query_range`` over two series whose values depend only on time.

    After ``fail_after`` answers it rejects the query (400: the run stops at once).
    """

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.answers = 0

    def __call__(self, path: str):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        if self.fail_after is not None and self.answers >= self.fail_after:
            return 400, json.dumps({"errorType": "bad_data", "error": "stopped by the test"})
        self.answers += 1
        start, end, step = (float(query[k][0]) for k in ("start", "end", "step"))
        times = np.arange(start, end + step / 2, step)
        result = [
            {
                "metric": {"__name__": "m", "s": key},
                "values": [[float(t), repr(value(key, t))] for t in times],
            }
            for key in "ab"
        ]
        return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}})


START, END = 1_700_000_000.0, 1_700_000_000.0 + 25_000  # 25,001 steps of 1 s: 3 requests


def prometheus_run(port, out, checkpoint=None, retries=0):
    source = PrometheusSource(
        f"prometheus://127.0.0.1:{port}", "m", step=1, start=START, end=END, retries=retries
    )
    with JsonlSink(str(out)) as sink:
        return run(
            source,
            lambda keyed: KeyedMonitor(RollingZScore(window_size=50)),
            [sink],
            checkpoint=checkpoint,
        )


def test_a_resumed_prometheus_run_scores_as_an_uninterrupted_one(tmp_path):
    with exporter(FakePrometheus()) as port:
        whole = prometheus_run(port, tmp_path / "whole.jsonl")
    assert whole.records_read == 2 * 25_001
    ckpt = Checkpoint(str(tmp_path / "run.ckpt"), every=1, settings={"query": "m"})
    with exporter(FakePrometheus(fail_after=2)) as port:  # dies in its third request
        with pytest.raises(SourceError, match="stopped by the test"):
            prometheus_run(port, tmp_path / "resumed.jsonl", ckpt)
    with exporter(FakePrometheus()) as port:
        again = prometheus_run(port, tmp_path / "resumed.jsonl", ckpt)
    assert again.resumed_at_line == 2 * 20_000 + 1 and again.records_this_run == 2 * 5_001
    a = (tmp_path / "whole.jsonl").read_text().splitlines()
    b = (tmp_path / "resumed.jsonl").read_text().splitlines()
    assert len(a) == len(b) == 50_002 and a == b  # scores, flags, order: byte for byte
    flagged = {json.loads(line)["value"] for line in a if '"is_anomaly":true' in line}
    spikes = {value(k, t) for t in range(int(START), int(END) + 1) if t % 4999 == 0 for k in "ab"}
    assert len(spikes) == 10 and spikes <= flagged


def test_a_checkpoint_of_another_query_is_refused(tmp_path):
    source = PrometheusSource("prometheus://127.0.0.1:1", "m", step=1, start=START)
    state = source.get_state()
    other = PrometheusSource("prometheus://127.0.0.1:1", "n", step=2, start=START)
    with pytest.raises(CheckpointError, match="the checkpoint polled 'm' every 1 s; this run"):
        other.set_state(state)
    with pytest.raises(CheckpointError, match="the saved Prometheus position is malformed"):
        source.set_state({"next_ms": "x"})
    source.set_state({**state, "next_ms": state["next_ms"] + 5000, "records": 9})
    assert source.position == {"next_ms": state["next_ms"] + 5000, "records": 9}


def cli(capsys, *argv):
    code = main(["detect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_checkpoint_resumes_a_prometheus_feed(capsys, tmp_path):
    """``--checkpoint`` with prometheus://: the second run continues at the saved time."""
    out, ckpt = tmp_path / "flags.jsonl", tmp_path / "run.ckpt"
    argv = [
        "--query", "m", "--step", "1s", "--since", "25000s", "--until", "0s",
        "--detector", "RollingZScore", "--param", "window_size=50",
        "--out", out, "--checkpoint", ckpt, "--checkpoint-every", "1",
    ]  # fmt: skip
    fake = FakePrometheus(fail_after=1)
    with exporter(fake) as port:
        code, _, err = cli(capsys, f"prometheus://127.0.0.1:{port}", *argv)
        assert code == 2 and "stopped by the test" in err
        first = out.read_text().splitlines()
        fake.fail_after = None
        code, _, err = cli(capsys, f"prometheus://127.0.0.1:{port}", *argv)
    assert code == 0, err
    assert f"resuming from {ckpt} at line {len(first) + 1}" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [json.dumps(r) for r in rows[: len(first)]] == [
        json.dumps(json.loads(line)) for line in first
    ]
    by_key: dict[str, list] = {}
    for r in rows:
        by_key.setdefault(r["key"], []).append(r)
    for key, mine in by_key.items():
        times = [r["timestamp"] for r in mine]
        assert times == sorted(set(times))  # no evaluation time twice
        stamps = np.array([np.datetime64(t.rstrip("Z")) for t in times])
        assert (np.diff(stamps) == np.timedelta64(1, "s")).all()  # none skipped
        want = KeyedMonitor(RollingZScore(window_size=50)).update_many(
            [key] * len(mine), [r["value"] for r in mine]
        )
        got = np.array([np.nan if r["score"] is None else r["score"] for r in mine])
        np.testing.assert_allclose(got, want.score, rtol=1e-12, equal_nan=True)


def test_cli_checkpoint_of_another_query_is_refused(capsys, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    with exporter(FakePrometheus()) as port:
        url = f"prometheus://127.0.0.1:{port}"
        common = ["--step", "1s", "--since", "30s", "--until", "0s", "--checkpoint", ckpt]
        assert cli(capsys, url, "--query", "m", *common, "--out", tmp_path / "o.jsonl")[0] == 0
        code, _, err = cli(capsys, url, "--query", "m2", *common, "--out", tmp_path / "o.jsonl")
    assert code == 2 and "query was 'm', now 'm2'" in err


# ---- Kafka: the checkpoint's offsets, against librdkafka's mock cluster --------------------


def test_a_resumed_kafka_run_rereads_from_the_checkpoint(tmp_path):
    ck = need("confluent_kafka")
    from oddwatch.sources.kafka import KafkaSource

    mock = ck.Producer({"test.mock.num.brokers": 1})
    (broker,) = mock.list_topics(timeout=10).brokers.values()
    bootstrap = f"{broker.host}:{broker.port}"
    topic = f"ckpt-{uuid.uuid4().hex[:8]}"
    producer = ck.Producer({"bootstrap.servers": bootstrap})
    xs = np.random.default_rng(1).normal(10, 1, 40)
    xs[33] = 30.0
    for x in xs:
        producer.produce(topic, repr(float(x)).encode(), partition=0)  # one order
    assert producer.flush(10) == 0
    fast = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}

    class Crash:
        def __init__(self, after):
            self.after, self.n = after, 0

        def write(self, batch):
            self.n += 1
            if self.n == self.after:
                raise RuntimeError("crash")

    def go(group, out, checkpoint=None, crash_after=None):
        source = KafkaSource(
            bootstrap, topic, group, chunk_size=8, max_records=40, idle_timeout=20,
            poll_timeout=0.2, config=fast,
        )  # fmt: skip
        try:
            with JsonlSink(str(out)) as sink:
                sinks = [sink, Crash(crash_after)]  # the same sinks in every run
                return run(source, _monitor(), sinks, checkpoint=checkpoint)
        finally:
            source.close()

    whole = go("g-whole", tmp_path / "whole.jsonl")
    assert whole.records_read == 40
    ckpt = Checkpoint(str(tmp_path / "k.ckpt"), every=8)
    with pytest.raises(RuntimeError, match="crash"):
        go("g-resume", tmp_path / "resumed.jsonl", ckpt, crash_after=3)  # 2 chunks saved
    again = go("g-resume", tmp_path / "resumed.jsonl", ckpt)
    assert again.resumed_at_line == 17 and again.records_this_run == 24
    a = (tmp_path / "whole.jsonl").read_text().splitlines()
    b = (tmp_path / "resumed.jsonl").read_text().splitlines()
    assert len(a) == 40 and a == b


def _monitor():
    from oddwatch import Monitor

    return Monitor(RollingZScore(window_size=10))


# ---- MQTT: the state continues; what the broker delivers from then on is read ---------------


def test_cli_checkpoint_continues_an_mqtt_run(capsys, tmp_path):
    paho = need("paho.mqtt.client")
    import threading
    import time

    xs = np.random.default_rng(2).normal(5, 1, 60)
    out, ckpt = tmp_path / "flags.jsonl", tmp_path / "m.ckpt"
    with mosquitto(tmp_path) as port:

        def publish(values):
            time.sleep(2.0)  # the run has subscribed
            client = paho.Client(paho.CallbackAPIVersion.VERSION2)
            client.connect("127.0.0.1", port)
            client.loop_start()
            for v in values:
                client.publish("plant/t", repr(float(v)), qos=1).wait_for_publish(5)
            client.loop_stop()
            client.disconnect()

        argv = [
            f"mqtt://127.0.0.1:{port}/plant/t", "--qos", "1", "--idle-timeout", "3",
            "--detector", "RollingZScore", "--param", "window_size=20",
            "--out", out, "--checkpoint", ckpt,
        ]  # fmt: skip
        for part in (xs[:30], xs[30:]):
            sender = threading.Thread(target=publish, args=(part,))
            sender.start()
            code, _, err = cli(capsys, *argv)
            sender.join()
            assert code == 0, err
    assert "resuming from" in err and "at line 31" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["value"] for r in rows] == xs.tolist()
    from oddwatch import Monitor

    want = Monitor(RollingZScore(window_size=20)).update_many(xs)
    got = np.array([np.nan if r["score"] is None else r["score"] for r in rows])
    np.testing.assert_allclose(got, want.score, rtol=1e-12, equal_nan=True)
