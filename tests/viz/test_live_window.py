"""The live window under Xvfb: Ctrl-C and the close button end the run cleanly, with a summary.

Each test runs tests/viz/live_script.py (a live run the way ``oddwatch demo`` drives it) in a
subprocess on a virtual display, waits for its window, then interrupts or closes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from system import require, screenshot_dir, virtual_display

from viz.window import finish, wait_for_line, window_of
from viz.x11 import request_close

SCRIPT = Path(__file__).with_name("live_script.py")
TITLE = "oddwatch live test"
IMAGES = screenshot_dir()


@pytest.fixture(scope="module")
def display():
    require("xdotool")
    with virtual_display() as value:
        yield value


def _start(display, points, delay, hold, *extra):
    env = {**os.environ, "DISPLAY": display, "MPLBACKEND": "TkAgg"}
    args = [sys.executable, str(SCRIPT), str(points), str(delay), "1" if hold else "0", *extra]
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )
    return proc


def test_ctrl_c_while_streaming_ends_with_the_summary_and_exit_130(display):
    proc = _start(display, 10_000_000, 0.005, True)
    wait_for_line(proc, "window open")
    window_of(display, TITLE)
    time.sleep(1.5)  # let it stream and draw a few frames
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 130
    assert "summary: " in out and "stream ended" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


def test_ctrl_c_while_holding_the_final_figure_exits_130(display):
    proc = _start(display, 400, 0.0, True)
    wait_for_line(proc, "stream ended")
    window_of(display, TITLE)
    time.sleep(0.5)
    assert proc.poll() is None, "the final figure must stay open until closed"
    proc.send_signal(signal.SIGINT)
    code, out, err = finish(proc)
    assert code == 130 and "summary: 400 points" in out
    assert "Traceback" not in err


def test_closing_the_window_while_streaming_ends_the_run_with_exit_0(display):
    proc = _start(display, 10_000_000, 0.005, True)
    wait_for_line(proc, "window open")
    window = window_of(display, TITLE)
    time.sleep(1.0)
    request_close(display, window)
    code, out, err = finish(proc)
    assert code == 0
    assert "summary: " in out
    assert "Traceback" not in err


def test_closing_the_held_window_exits_0(display):
    proc = _start(display, 400, 0.0, True)
    wait_for_line(proc, "stream ended")
    window = window_of(display, TITLE)
    time.sleep(0.5)
    assert proc.poll() is None
    request_close(display, window)
    code, out, err = finish(proc)
    assert (code, "Traceback" in err) == (0, False)
    assert "summary: 400 points" in out


def test_without_hold_the_run_exits_by_itself_and_saves_a_screenshot(display):
    target = IMAGES / "live.png"
    proc = _start(display, 3000, 0.0, False, str(target))
    code, out, err = finish(proc, timeout=180.0)
    assert code == 0, err
    assert "summary: 3000 points" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
