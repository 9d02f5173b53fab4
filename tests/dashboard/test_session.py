"""DashboardSession: serve, follow a file, hold until Ctrl-C, stop (in a subprocess)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

SCRIPT = """
import sys
from oddwatch.dashboard import DashboardSession
with DashboardSession(port=0) as session:
    session.follow(sys.argv[1])
    session.hold("file followed")
print("closed", flush=True)
"""


def test_session_follows_a_file_holds_until_ctrl_c_and_leaves_nothing_running(tmp_path):
    results = tmp_path / "out.jsonl"
    results.write_text(
        json.dumps({"seq": 1, "key": "a", "value": 5.0, "is_anomaly": True, "reason": "odd"}) + "\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(results)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = proc.stderr.readline().split("dashboard: ")[1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert "stays at" in proc.stderr.readline()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url + "api/overview", timeout=5) as response:
                overview = json.load(response)
            if overview["alerts"]:
                break
            time.sleep(0.1)
        assert overview["alerts"][0]["reason"] == "odd"
        assert proc.poll() is None  # held open
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and out == "closed\n"
    assert "Traceback" not in err
