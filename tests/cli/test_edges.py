"""Rough edges of ``detect``, ``fit`` and ``demo`` (issue 12, items 6, 7, 9, 10), each pinned.

Paths that would destroy the input or the output, SIGTERM, live output in follow mode, empty
and binary inputs, JSON Lines with a BOM or huge numbers, parameters of the default detector,
fitting on nothing, and the messages a new user reads.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import oddwatch
from oddwatch.cli.main import main

from ._data import csv_text, series, write

SRC = str(Path(oddwatch.__file__).resolve().parents[1])


def run(capsys, *argv):
    code = main([*map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def stream(tmp_path):
    return write(tmp_path / "stream.csv", csv_text(series()))


def test_out_equal_to_the_input_is_refused_and_the_input_kept(capsys, stream):
    before = Path(stream).read_bytes()
    code, _, err = run(capsys, "detect", stream, "--out", stream)
    assert code == 2 and "is the input: writing there would destroy it" in err
    assert Path(stream).read_bytes() == before


def test_checkpoint_equal_to_the_output_is_refused(capsys, stream, tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("kept\n")
    code, _, err = run(capsys, "detect", stream, "--out", out, "--checkpoint", out)
    assert code == 2 and "is --checkpoint" in err and out.read_text() == "kept\n"


def test_empty_header_only_and_binary_files_are_refused(capsys, tmp_path):
    cases = {
        "empty.csv": (b"", "holds no records"),
        "header.csv": (b"timestamp,value\n", "holds no records"),
        "app.png": (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "is a PNG image"),
        "x.csv.gz": (gzip.compress(b"timestamp,value\n1,2\n"), "is a gzip file"),
        "blob.csv": (b"a,b\n" + b"\x00\x01\x02" * 100, "looks binary"),
    }
    for name, (data, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        code, out, err = run(capsys, "detect", path, "--quiet")
        assert code == 2 and message in err, (name, err)
        assert out == ""


def test_jsonl_with_a_bom_is_read_and_its_format_guessed_on_stdin(capsys, monkeypatch):
    import io

    data = "\ufeff" + "".join(
        json.dumps({"timestamp": 1767225600 + 60 * i, "value": float(i % 5)}) + "\n"
        for i in range(100)
    )
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data.encode())))
    code, out, err = run(capsys, "detect", "-", "--json", "--quiet")
    summary = json.loads(err.splitlines()[-1])
    assert code == 0 and summary["read"] == summary["valid"] == 100
    assert len(out.splitlines()) == 100


def test_huge_json_numbers_are_flagged_not_raised(capsys, tmp_path):
    path = tmp_path / "big.jsonl"
    lines = [json.dumps({"timestamp": 1767225600 + 60 * i, "value": 1.0}) for i in range(70)]
    lines[40] = '{"timestamp": 1767228000, "value": ' + "9" * 401 + "}"
    lines[50] = '{"timestamp": ' + "9" * 401 + ', "value": 1.0}'
    path.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "detect", path, "--json", "--quiet", "--only-anomalies")
    summary = json.loads(err.splitlines()[-1])
    assert code == 0 and summary["read"] == 70 and summary["flagged"] == 2
    reasons = [json.loads(line)["reason"] for line in out.splitlines()]
    assert any("not_finite" in r for r in reasons) and any("bad_timestamp" in r for r in reasons)


def test_param_without_detector_applies_to_the_default_detector(capsys, stream):
    code, _, err = run(capsys, "detect", stream, "--param", "warmup=8", "--quiet", "--json")
    assert code == 0, err
    assert json.loads(err.splitlines()[-1])["unscored"] == 8
    code, _, err = run(capsys, "detect", stream, "--param", "nope=1", "--quiet")
    assert code == 2 and "has no parameter 'nope'" in err


def test_fit_on_zero_valid_records_is_refused(capsys, tmp_path):
    path = write(tmp_path / "bad.csv", "timestamp,value\n2026-01-01T00:00:00,x\n")
    model = tmp_path / "m.oddwatch"
    code, _, err = run(capsys, "fit", path, "--save", model, "--on-invalid", "skip")
    assert code == 3 and "no valid records to learn from" in err and not model.exists()


def test_summary_counts_flagged_invalid_records_and_says_what_was_unscored(capsys, tmp_path):
    text = csv_text(series()).replace("\n2026-01-01T01:00:00,", "\n2026-01-01T01:00:00,oops")
    code, out, err = run(capsys, "detect", write(tmp_path / "s.csv", text), "--only-anomalies")
    flagged_rows = sum(json.loads(line)["is_anomaly"] for line in out.splitlines())
    anomalies = int(err.split(" anomalies")[0].rsplit("\n", 1)[-1])
    assert code == 0 and "and 1 flagged invalid records" in err
    assert flagged_rows == anomalies + 1
    assert "valid records were not scored (the detector's warm-up" in err


def test_messages_show_plain_keys_and_human_durations(capsys, tmp_path):
    rows = ["timestamp,host,value"]
    rows += [f"{1767225600 + 60 * i},web,{i % 7}" for i in range(70)]
    rows.append(f"{1767225600 + 60 * 69 + 86400 * 3},web,1")
    code, _, err = run(capsys, "detect", write(tmp_path / "k.csv", "\n".join(rows) + "\n"),
                       "--key-col", "host")  # fmt: skip
    assert code == 0 and "gap of 3 days in series 'web' (more than 1.5 min" in err
    assert "np.str_" not in err


def test_repeated_timestamps_with_a_text_column_hint_at_key_col(capsys, tmp_path):
    rows = ["timestamp,host,value"]
    rows += [f"{1767225600 + 60 * (i // 3)},{'abc'[i % 3]},{i % 7}" for i in range(300)]
    code, _, err = run(capsys, "detect", write(tmp_path / "h.csv", "\n".join(rows) + "\n"),
                       "--value-col", "value", "--out", tmp_path / "o.jsonl")  # fmt: skip
    assert code == 0 and "name the series column with --key-col (one of: host)" in err


def _start(args, tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-m", "oddwatch.cli.main", *map(str, args)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_in_follow_mode_flushes_checkpoints_and_summarises(tmp_path):
    data = tmp_path / "app.csv"
    data.write_text(csv_text(series()))
    out, ckpt = tmp_path / "out.jsonl", tmp_path / "run.ckpt"
    args = ["detect", data, "--follow", "--out", out, "--checkpoint", ckpt,
            "--poll-interval", "0.05", "--quiet"]  # fmt: skip
    proc = _start(args, tmp_path)
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline
        and len(out.read_text().splitlines() if out.exists() else []) < 600
    ):
        time.sleep(0.1)
    # the output is on disk while the process still runs (flushed every batch)
    assert proc.poll() is None and len(out.read_text().splitlines()) == 600
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "600 records read" in err and ckpt.exists()


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_one_huge_key_or_timestamp_is_an_invalid_record_in_bounded_memory(capsys, tmp_path, fmt):
    import tracemalloc

    rows = [(f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}", "web", i % 7) for i in range(3000)]
    rows[100] = (rows[100][0], "k" * 100_000, 1)  # a 100 kB key
    rows[200] = ("2" * 1_000_000, "web", 1)  # a 1 MB timestamp
    rows[300] = ("2" * 10_000, "web", 1)  # a line under --max-line-bytes, a timestamp over 1 kB
    if fmt == "csv":
        text = "timestamp,host,value\n" + "".join(f"{t},{h},{v}\n" for t, h, v in rows)
    else:
        text = "".join(
            json.dumps({"timestamp": t, "host": h, "value": v}) + "\n" for t, h, v in rows
        )
    path = write(tmp_path / f"huge.{fmt}", text)
    tracemalloc.start()
    code, _, err = run(capsys, "detect", path, "--key-col", "host", "--out", tmp_path / "o",
                       "--detector", "RollingZScore", "--json", "--quiet")  # fmt: skip
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    summary = json.loads(err.splitlines()[-1])
    assert code == 0 and summary["read"] == 3000 and summary["flagged"] == 3
    assert summary["problems"] == {"unparsable": 2, "bad_timestamp": 1}  # 2 lines over 64 kB
    assert peak < 100e6  # was 3.7 GiB for the key, 10 GB for the timestamp


@pytest.mark.parametrize("neighbour", ["1.5", '"text"', "null"])
def test_a_json_boolean_is_never_a_number_whatever_its_neighbours(neighbour):
    from oddwatch.sources import JsonlParser
    from oddwatch.sources._base import LineBlock

    data = f'{{"value": true}}\n{{"value": {neighbour}}}\n{{"value": false}}\n'.encode()
    records = JsonlParser().parse(LineBlock(data, 1, 3, 0))
    assert records.problem[[0, 2]].tolist() == [3, 3]  # not_numeric, both
    assert "value true is not a number" in records.detail[0]


@pytest.mark.parametrize(
    ("fmt", "quoted"), [("csv", False), ("csv", True), ("jsonl", False)]
)  # compiled CSV scan, the reference CSV parser (a quote in the block), JSON Lines
def test_keys_with_invalid_utf8_never_merge_into_one_series(capsys, tmp_path, fmt, quoted):
    hosts = [b"web", b"h\xff", b"h\xfe", b"caf\xc3\xa9"]  # two bad keys, two good ones
    lines = []
    for i in range(40):
        stamp = f"2026-01-01T00:{i:02d}:00".encode()
        for host in hosts:
            if fmt == "csv":
                shown = b'"%s"' % host if quoted and host == b"web" else host
                lines.append(b"%s,%s,%d\n" % (stamp, shown, i % 5))
            else:
                lines.append(b'{"timestamp": "%s", "host": "%s", "value": %d}\n' % (stamp, host, i))
    path = tmp_path / f"keys.{fmt}"
    path.write_bytes((b"timestamp,host,value\n" if fmt == "csv" else b"") + b"".join(lines))
    code, _, err = run(capsys, "detect", path, "--key-col", "host", "--out", tmp_path / "o",
                       "--detector", "RollingZScore", "--json")  # fmt: skip
    summary = json.loads(err.splitlines()[-1])
    # before: h\xff and h\xfe were both read as 'h\ufffd', one series of 80 points
    assert code == 0 and summary["keys"] == 2 and summary["flagged"] == 80
    assert summary["problems"] == {"unparsable": 80}
    assert "the key b'h\\xff' is not valid UTF-8" in err


def test_max_keys_in_scientific_notation_too_large_is_a_clear_refusal(capsys, tmp_path):
    path = write(tmp_path / "k.csv", "timestamp,host,value\n2026-01-01T00:00:00,a,1\n")
    code, _, err = run(capsys, "detect", path, "--key-col", "host", "--max-keys", "1e8")
    assert code == 2 and "Traceback" not in err  # was: "invalid int value: '1e8'"
    assert err.startswith("error: `max_keys` of KeyedMonitor is 100,000,000: state for")
    code, _, err = run(capsys, "detect", path, "--max-keys", "2.5")
    assert code == 2 and "expected a whole number such as 5000 or 1e6; got '2.5'" in err
