"""``oddwatch detect`` in process: inputs, outputs, policies, detectors, keys, checkpoints."""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile
from pathlib import Path

import pytest
from local_http import Server

from oddwatch.cli.main import main
from oddwatch.detectors import SeasonalDetector
from oddwatch.sinks import FIELDS

from ._data import csv_text, keyed_csv, series, write


def run(capsys, *argv):
    code = main(["detect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def jsonl(text):
    return [json.loads(line) for line in text.splitlines()]


def summary(err):
    return json.loads(err.strip().splitlines()[-1])


@pytest.fixture
def stream(tmp_path):
    return write(tmp_path / "stream.csv", csv_text(series()))


def test_csv_in_anomalies_out(capsys, stream):
    code, out, err = run(capsys, stream, "--only-anomalies", "--json")
    rows = jsonl(out)
    assert code == 0
    assert 500 in [r["seq"] for r in rows] and all(r["is_anomaly"] for r in rows)
    assert list(rows[0]) == list(FIELDS)
    spike = next(r for r in rows if r["seq"] == 500)
    assert spike["timestamp"] == "2026-01-01T08:20:00" and "above the expected" in spike["reason"]
    stats = summary(err)
    assert stats["read"] == stats["valid"] == 600 and stats["written"] == len(rows)


def test_every_record_to_a_csv_file(capsys, stream, tmp_path):
    out_path = tmp_path / "flags.csv"
    code, out, _ = run(capsys, stream, "--out", out_path)
    lines = out_path.read_text().splitlines()
    assert code == 0 and out == ""
    assert lines[0] == ",".join(FIELDS) and len(lines) == 601
    assert lines[1].startswith("0,,2026-01-01T00:00:00,")


def test_stdin(capsys, monkeypatch, stream):
    data = Path(stream).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run(capsys, "-", "--only-anomalies", "--quiet")
    assert code == 0 and 500 in [r["seq"] for r in jsonl(out)]


def test_raise_stops_with_exit_3_naming_line_and_record(capsys, tmp_path):
    text = csv_text(series(50, spike=None)).replace(",", ",abc#", 1)
    lines = text.splitlines(keepends=True)
    lines[5] = "2026-01-01T00:04:00,abc\n"
    path = write(tmp_path / "bad.csv", "".join(lines).replace(",abc#", ","))
    code, out, err = run(capsys, path, "--on-invalid", "raise")
    assert code == 3
    assert err.strip().splitlines()[-1] == (
        "error: line 6: bad record (not_numeric): value 'abc' is not a number. Record: "
        "'2026-01-01T00:04:00,abc'. Use --on-invalid skip or flag to go on past bad records."
    )
    assert "Traceback" not in err and len(jsonl(out)) == 4  # the records before it


@pytest.mark.parametrize("policy", ["skip", "flag"])
def test_policies_account_for_every_record(capsys, tmp_path, policy):
    lines = csv_text(series(200, spike=None)).splitlines(keepends=True)
    lines[10] = lines[10].split(",")[0] + ",\n"  # missing value
    lines[20] = lines[19]  # duplicate timestamp
    lines[30] = "oops\n"  # wrong number of fields
    lines[40] = lines[40].split(",")[0] + ",inf\n"  # not finite
    path = write(tmp_path / "bad.csv", "".join(lines))
    code, out, err = run(capsys, path, "--on-invalid", policy, "--json")
    stats = summary(err)
    assert code == 0
    assert stats["valid"] + stats["skipped"] + stats["flagged"] == stats["read"] == 200
    assert stats["problems"] == {
        "missing_field": 1,
        "duplicate_timestamp": 1,
        "unparsable": 1,
        "not_finite": 1,
    }
    assert stats[{"skip": "skipped", "flag": "flagged"}[policy]] == 4
    invalid = [r for r in jsonl(out) if r["reason"].startswith("invalid record")]
    assert len(invalid) == (4 if policy == "flag" else 0)
    assert err.count("warning: line") == 4


def test_gaps_are_reported(capsys, tmp_path):
    text = csv_text(series(100, spike=None)) + csv_text(series(10, spike=None), 200, False)
    code, _, err = run(capsys, write(tmp_path / "gap.csv", text), "--json", "--quiet")
    stats = summary(err)
    assert code == 0 and stats["gaps"] == 1 and stats["largest_gap_seconds"] == 6060.0


def test_detector_threshold_by_name_and_params(capsys, stream):
    code, out, _ = run(
        capsys,
        stream,
        "--detector",
        "rollingzscore",
        "--param",
        "window_size=8",
        "--threshold",
        "fixed",
        "--threshold-param",
        "value=4",
        "--quiet",
    )
    rows = jsonl(out)
    assert code == 0 and rows[-1]["threshold"] == 4.0 and rows[7]["score"] is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--detector", "Nope"], "error: unknown detector 'Nope'; choose one of: "),
        (
            ["--detector", "RollingZScore", "--param", "size=3"],
            "error: RollingZScore has no parameter 'size'; its parameters are: window_size.",
        ),
        (
            ["--detector", "RollingZScore", "--param", "window_size=1"],
            "error: `window_size` of RollingZScore must be an int >= 2; got 1.",
        ),
        (["--param", "window_size"], "error: a parameter must look like KEY=VALUE"),
        (["--value-col", "cpu"], "error: there is no value column 'cpu'"),
        (["--max-keys", "0"], "error: --max-keys must be >= 1; got 0."),
        (["--webhook", "nope"], "error: the webhook URL must start with http://"),
    ],
)
def test_configuration_errors_exit_2_with_one_line(capsys, stream, flags, message):
    code, _, err = run(capsys, stream, *flags)
    assert code == 2 and err.startswith(message) and len(err.strip().splitlines()) <= 3
    assert "Traceback" not in err


def test_help_lists_the_detectors(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "SeasonalDetector" in out and "RollingZScore" in out


def test_toml_config_and_flags_win(capsys, stream, tmp_path):
    config = write(
        tmp_path / "detect.toml",
        'only_anomalies = true\non_invalid = "skip"\n'
        '[detector]\nname = "RollingZScore"\nwindow_size = 8\n'
        '[threshold]\nname = "FixedThreshold"\nvalue = 6.0\n',
    )
    code, out, _ = run(
        capsys, stream, "--config", config, "--threshold-param", "value=5", "--quiet"
    )
    rows = jsonl(out)
    assert code == 0 and rows and all(r["is_anomaly"] and r["threshold"] == 5.0 for r in rows)
    bad = write(tmp_path / "bad.toml", "colour = 3\n")
    code, _, err = run(capsys, stream, "--config", bad)
    assert code == 2 and "unknown key(s) colour" in err


def test_keyed_stream_with_evictions(capsys, tmp_path):
    path = keyed_csv(tmp_path / "hosts.csv")
    code, out, err = run(capsys, path, "--key-col", "host", "--json", "--quiet")
    rows = jsonl(out)
    stats = summary(err)
    assert code == 0 and stats["keys"] == 3 and stats["evicted_keys"] == 0
    assert {r["key"] for r in rows} == {"a", "b", "c"}
    flagged = [r for r in rows if r["is_anomaly"]]
    assert ("c", 3 * 280 + 2) in [(r["key"], r["seq"]) for r in flagged]
    code, _, err = run(capsys, path, "--key-col", "host", "--max-keys", "2", "--json")
    assert code == 0 and summary(err)["evicted_keys"] > 0


def test_follow_until_idle(capsys, stream):
    code, out, _ = run(
        capsys, stream, "--follow", "--idle-timeout", "0", "--poll-interval", "0", "--quiet"
    )
    assert code == 0 and len(jsonl(out)) == 600


def test_resume_after_the_input_grew_equals_one_run(capsys, tmp_path):
    xs = series(700)
    full = write(tmp_path / "full.csv", csv_text(xs))
    code, _, _ = run(capsys, full, "--out", tmp_path / "expected.jsonl")
    growing = tmp_path / "in.csv"
    out = tmp_path / "out.jsonl"
    args = [
        growing,
        "--out",
        out,
        "--checkpoint",
        tmp_path / "run.ckpt",
        "--checkpoint-every",
        "100",
    ]
    growing.write_text(csv_text(xs[:333]))
    assert run(capsys, *args)[0] == 0
    with growing.open("a") as fh:
        fh.write(csv_text(xs[333:], 333, header=False))
    code, _, err = run(capsys, *args)
    assert code == 0 and "resuming from" in err
    assert out.read_bytes() == (tmp_path / "expected.jsonl").read_bytes()
    assert run(capsys, *args)[0] == 0  # nothing new: a no-op
    assert out.read_bytes() == (tmp_path / "expected.jsonl").read_bytes()


def tamper(path):
    """Flip the last bytes of one state array (its checksum no longer matches)."""
    with zipfile.ZipFile(path) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    name = next(n for n in entries if n.endswith(".npy"))
    entries[name] = entries[name][:-8] + b"\x01" * 8
    with zipfile.ZipFile(path, "w") as zf:
        for entry, data in entries.items():
            zf.writestr(entry, data)


def test_bad_checkpoints_are_refused_with_exit_2(capsys, stream, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    args = [stream, "--out", tmp_path / "o.jsonl", "--checkpoint", ckpt]
    ckpt.write_bytes(b"\x00garbage")
    code, _, err = run(capsys, *args)
    assert code == 2 and "not an oddwatch checkpoint (corrupt or truncated" in err
    SeasonalDetector().save(ckpt)
    code, _, err = run(capsys, *args)
    assert code == 2 and "not a pipeline checkpoint" in err
    ckpt.unlink()
    assert run(capsys, *args)[0] == 0
    code, _, err = run(capsys, *args, "--only-anomalies")
    assert code == 2 and "written by a different command: only_anomalies was False, now True" in err
    tamper(ckpt)
    code, _, err = run(capsys, *args)
    assert code == 2 and "fails its checksum (corrupt)" in err and "Traceback" not in err
    code, _, err = run(capsys, "-", "--checkpoint", ckpt)
    assert code == 2 and "--checkpoint needs an input file" in err


def test_webhook_receives_the_anomalies(capsys, stream):
    with Server() as server:
        code, out, err = run(
            capsys, stream, "--only-anomalies", "--webhook", server.url, "--json", "--quiet"
        )
    rows = jsonl(out)
    assert code == 0 and server.received == rows
    assert summary(err)["webhook"] == {"sent": len(rows), "failed": 0, "dropped": 0}


def test_webhook_format_alertmanager(capsys, stream):
    with Server() as server:
        code, out, err = run(
            capsys, stream, "--only-anomalies", "--webhook", server.url, "--webhook-format",
            "alertmanager", "--json", "--quiet",
        )  # fmt: skip
    rows = jsonl(out)
    alerts = [alert for body in server.bodies for alert in body]
    assert code == 0 and len(alerts) == len(rows) > 0
    assert {alert["labels"]["alertname"] for alert in alerts} == {"OddwatchAnomaly"}
    assert summary(err)["webhook"] == {"sent": len(rows), "failed": 0, "dropped": 0}
    assert summary(err)["webhook_reasons"] == {"failed": {}, "dropped": {}}


def test_jsonl_input_to_csv_output(capsys, tmp_path):
    xs = series(300, spike=250)
    lines = [
        json.dumps({"ts": f"2026-01-01T{i // 60:02d}:{i % 60:02d}:00Z", "host": "db", "cpu": x})
        for i, x in enumerate(xs.tolist())
    ]
    lines[10] = '{"ts": "2026-01-01T00:10:00Z", "host": "db", "cpu": "busy"}'
    path = write(tmp_path / "metrics.jsonl", "\n".join(lines) + "\n")
    code, out, err = run(
        capsys,
        path,
        "--key-col",
        "host",
        "--value-col",
        "cpu",
        "--out-format",
        "csv",
        "--only-anomalies",
        "--json",
        "--quiet",
    )
    rows = {int(r["seq"]): r for r in csv.DictReader(io.StringIO(out))}
    assert code == 0 and out.startswith(",".join(FIELDS) + "\n")
    assert rows[250]["key"] == "db" and rows[250]["timestamp"] == "2026-01-01T04:10:00Z"
    assert rows[10]["reason"] == 'invalid record (not_numeric): value "busy" is not a number'
    assert rows[10]["value"] == "" and summary(err)["problems"] == {"not_numeric": 1}
