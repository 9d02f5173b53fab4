"""``oddwatch.pipeline.run``: counters given to observers, the policies, checkpoint and resume,
signals, and the batches built from Monitor results."""

from __future__ import annotations

import io
import os
import signal

import numpy as np
import pytest

from oddwatch import KeyedMonitor, Monitor
from oddwatch.errors import CheckpointError, InvalidInputError
from oddwatch.pipeline import Checkpoint, output_batch, run
from oddwatch.sinks import JsonlSink, MemorySink
from oddwatch.sources import FileSource, SimulationSource, Validator, simulate

COUNTERS = {
    "records_read", "valid", "invalid", "skipped", "flagged_invalid", "anomalies", "keys",
    "evicted", "elapsed_s", "written", "unscored",
}  # fmt: skip


def csv_bytes(n=600, bad=(50, 51, 300)):
    rows = [b"timestamp,value"]
    for i in range(n):
        x = 10 + float(np.sin(i / 20)) + (8 if i == 400 else 0)
        value = b"oops" if i in bad else repr(x).encode()
        rows.append(b"%d,%s" % (1767225600 + 60 * i, value))
    return b"\n".join(rows) + b"\n"


def source(data, chunk_lines=100):
    return FileSource("-", stdin=io.BytesIO(data), chunk_lines=chunk_lines)


@pytest.mark.parametrize("policy", ["flag", "skip"])
def test_observers_get_every_counter_after_every_batch(policy):
    seen = []

    class Observer(MemorySink):
        def observe(self, stats):
            seen.append(dict(stats))

    sink = Observer()
    stats = run(source(csv_bytes()), Monitor(), [sink], validator=Validator(policy))
    assert len(seen) == 8  # 601 lines in chunks of 100, then the final counters
    last = seen[-1]
    assert COUNTERS <= set(last) and last["invalid.not_numeric"] == 3
    assert last["records_read"] == 600 == last["valid"] + last["invalid"]
    assert last["invalid"] == last["skipped"] + last["flagged_invalid"]
    assert last["written"] == len(sink.records) == (600 if policy == "flag" else 597)
    flagged = sum(r["is_anomaly"] for r in sink.records)
    assert (
        flagged
        == last["anomalies"] + last["flagged_invalid"]
        == stats.anomalies + (3 if policy == "flag" else 0)
    )
    assert [s["records_read"] for s in seen[:3]] == [99, 199, 299]  # line 1 is the header


def test_raise_writes_the_records_before_the_bad_one_then_stops():
    sink = MemorySink()
    with pytest.raises(InvalidInputError, match="line 52: bad record"):
        run(source(csv_bytes()), Monitor(), [sink], validator=Validator("raise"))
    assert [r["seq"] for r in sink.records] == list(range(50))


def test_only_anomalies_and_a_keyed_factory():
    data = b"key,value\n" + b"".join(
        b"%s,%d\n" % (k, i % 5) for i in range(300) for k in (b"a", b"b")
    )
    sink = MemorySink()
    stats = run(
        source(data), lambda keyed: KeyedMonitor() if keyed else Monitor(), [sink],
        only_anomalies=True,
    )  # fmt: skip
    assert stats.keys == 2 and all(r["is_anomaly"] for r in sink.records)


def test_a_resumed_run_writes_exactly_what_an_uninterrupted_one_does(tmp_path):
    data_path = tmp_path / "in.csv"
    data_path.write_bytes(csv_bytes(2000))
    whole = tmp_path / "whole.jsonl"
    with FileSource(str(data_path), chunk_lines=100) as src, JsonlSink(str(whole)) as out:
        run(src, Monitor(), [out])

    class Crash(Exception):
        pass

    class CrashAfter(MemorySink):
        def observe(self, stats):
            if stats["records_read"] >= 1200:
                raise Crash

    part, ckpt = tmp_path / "part.jsonl", str(tmp_path / "run.ckpt")
    with pytest.raises(Crash), JsonlSink(str(part)) as out:
        with FileSource(str(data_path), chunk_lines=100) as src:
            run(src, Monitor(), [out, CrashAfter()], checkpoint=Checkpoint(ckpt, every=500))
    with FileSource(str(data_path), chunk_lines=100) as src, JsonlSink(str(part)) as out:
        stats = run(src, Monitor(), [out, MemorySink()], checkpoint=Checkpoint(ckpt, every=500))
    assert 1 < stats.resumed_at_line <= 1201 and stats.records_read == 2000
    assert part.read_bytes() == whole.read_bytes()


def test_a_checkpoint_with_other_settings_or_other_outputs_is_refused(tmp_path):
    data_path = tmp_path / "in.csv"
    data_path.write_bytes(csv_bytes(300))
    ckpt = str(tmp_path / "run.ckpt")

    def again(settings, sinks=()):
        with FileSource(str(data_path)) as src:
            run(src, Monitor(), list(sinks), checkpoint=Checkpoint(ckpt, settings=settings))

    again({"a": 1})
    with pytest.raises(CheckpointError, match="a was 1, now 2"):
        again({"a": 2})
    with pytest.raises(CheckpointError, match="written with 0 outputs, this run has 1"):
        again({"a": 1}, [MemorySink()])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_batch_finishes_the_batch_then_stops(signum):
    class Signal(MemorySink):
        def write(self, batch):
            super().write(batch)
            if len(self.records) == 2 * 4096:
                os.kill(os.getpid(), signum)

    sink = Signal()
    before = signal.getsignal(signum)  # not always the default: pyspark's tests install one
    stats = run(SimulationSource(simulate(n_points=20_000, seed=2)), Monitor(), [sink],
                handle_signals=True)  # fmt: skip
    assert stats.interrupted and stats.records_read == len(sink.records) == 2 * 4096
    assert signal.getsignal(signum) is before  # the handler in place before the run is back


def test_output_batch_of_a_keyed_result_builds_reasons_for_flags_and_warm_up():
    result = KeyedMonitor().update_many(["a"] * 200 + ["b"], [1.0, 2.0] * 100 + [5.0])
    batch = output_batch(result, seq=np.arange(201) + 10, timestamp=[str(i) for i in range(201)])
    assert batch.seq[0] == 10 and batch.key.tolist()[-1] == "b" and len(batch) == 201
    worded = (result.is_anomaly | result.warming_up).tolist()
    assert [bool(r) for r in batch.reason] == worded
    assert batch.reason[0].startswith("warming up: no score until") and not batch.is_anomaly[0]


def test_checkpoints_of_a_large_state_are_spaced_by_its_size(tmp_path, monkeypatch):
    # 40 keys of the default detector make a checkpoint of about 1.7 MB: at one record per
    # 100 bytes the next waits ~16,700 records, not the default spacing (100 here)
    monkeypatch.setattr("oddwatch.pipeline.checkpoint.DEFAULT_EVERY", 100)
    rows = [b"timestamp,host,value"]
    rows += [b"%d,h%d,%d" % (60 * (i // 40), i % 40, i % 7) for i in range(24_000)]
    ckpt = str(tmp_path / "run.ckpt")
    written = []

    class Counted(Checkpoint):
        def write(self, monitor, run):
            super().write(monitor, run)
            written.append(self.size)

    data = io.BytesIO(b"\n".join(rows) + b"\n")
    with FileSource("-", stdin=data, chunk_lines=100, key_col="host") as src:
        run(src, lambda keyed: KeyedMonitor(), [MemorySink()], checkpoint=Counted(ckpt))
    assert written[0] > 1_000_000  # the state is large: after 100 records, the next
    assert len(written) == 3  # checkpoint waits ~16,700 more, then the final one (was 241)
