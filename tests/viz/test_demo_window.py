"""``oddwatch demo`` with its live window under Xvfb: Ctrl-C, the close button, hold, no-hold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from system import require, virtual_display

from viz.window import finish, window_of
from viz.x11 import request_close

TITLE = "oddwatch demo: simulated stream"
MAIN = "import sys; from oddwatch.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def display():
    require("xdotool")
    # compile the demo's kernels first, headless: on a fresh checkout that takes a minute or
    # more, which the window tests below must not spend waiting for their window
    warm = [sys.executable, "-c", MAIN, "demo", "--quiet", "--no-plot", "--points", "300"]
    subprocess.run(warm, capture_output=True, timeout=900, check=True)
    with virtual_display() as value:
        yield value


def _demo(display, *args):
    env = {**os.environ, "DISPLAY": display, "MPLBACKEND": "TkAgg"}
    return subprocess.Popen(
        [sys.executable, "-c", MAIN, "demo", "--quiet", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ctrl_c_stops_an_endless_demo_with_the_summary_and_exit_130(display):
    proc = _demo(display, "--points", "0", "--delay", "0.001")
    window_of(display, TITLE)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 130
    assert "points," in out and "precision" in out
    assert "interrupted: summary of the points seen so far" in err
    assert "Traceback" not in err


def test_closing_the_window_stops_an_endless_demo_with_exit_0(display):
    proc = _demo(display, "--points", "0", "--delay", "0.001")
    window = window_of(display, TITLE)
    time.sleep(1.5)
    request_close(display, window)
    code, out, err = finish(proc)
    assert (code, "Traceback" in err) == (0, False)
    assert "precision" in out


def test_the_final_figure_stays_open_until_closed(display):
    proc = _demo(display, "--points", "600")
    window = window_of(display, TITLE)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if "first point after" in line:  # the summary's last line: the stream has ended
            break
    time.sleep(1.0)
    assert proc.poll() is None, "the window must stay open after the stream ends"
    request_close(display, window)
    code, out, err = finish(proc)
    assert code == 0 and "Traceback" not in err


def test_no_hold_exits_when_the_stream_ends(display):
    proc = _demo(display, "--points", "600", "--no-hold")
    code, out, err = finish(proc, timeout=180)
    assert code == 0 and "precision" in out
