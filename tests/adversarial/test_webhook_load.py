"""A healthy loopback endpoint receives every alert of a 300k-line ``detect`` run.

The run flags ~3% of the points (about 9,700 alerts in a couple of seconds, far more than a
request per alert could carry); the CLI's default queue of 1,000 must not overflow, and the
summary's counts must add up to the anomalies written.
"""

from __future__ import annotations

import json

import numpy as np
from hostile_http import KeepAliveServer

from oddwatch.cli.main import main

N_LINES = 300_000


def write_series(path):
    rng = np.random.default_rng(1)
    x = 50 + 5 * np.sin(np.arange(N_LINES) / 40) + rng.normal(0, 1, N_LINES)
    x[::100] += 40
    stamps = np.arange(N_LINES) + 1_767_225_600
    body = "\n".join(f"{t},{v:.4f}" for t, v in zip(stamps.tolist(), x.tolist(), strict=True))
    path.write_text("timestamp,value\n" + body + "\n")


def test_no_alert_is_dropped_at_300k_lines(tmp_path, capsys):
    data, out = tmp_path / "big.csv", tmp_path / "out.jsonl"
    write_series(data)
    args = ["detect", str(data), "--out", str(out), "--only-anomalies", "--json", "--quiet"]
    args += ["--detector", "RollingZScore", "--param", "window_size=50"]
    args += ["--threshold", "FixedThreshold", "--threshold-param", "value=2.5"]
    with KeepAliveServer() as server:
        code = main([*args, "--webhook", server.url])
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and summary["anomalies"] == len(written) > 5_000
    assert summary["webhook"] == {"sent": len(written), "failed": 0, "dropped": 0}
    received = [alert for body in server.bodies for alert in body["alerts"]]
    assert received == written  # every alert, in order, exactly once
