"""Helpers for tests of a real window on a virtual display: wait for it, find it, end it."""

from __future__ import annotations

import os
import subprocess
import time

import pytest


def wait_for_line(proc, text, timeout=120.0):
    """Read stdout until a line containing ``text`` (fail if the process ends first)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    proc.kill()
    pytest.fail(f"no {text!r} line; got {seen!r} and stderr {proc.stderr.read()!r}")


def window_of(display, title, timeout=300.0):
    """The X id of the window named ``title`` (polled until it appears)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(
            ["xdotool", "search", "--name", title],
            env={**os.environ, "DISPLAY": display},
            capture_output=True,
            text=True,
        ).stdout.split()
        if found:
            return int(found[0])
        time.sleep(0.1)
    pytest.fail("the live window never appeared")


def finish(proc, timeout=30.0):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the run did not end after the window was closed or Ctrl-C")
    return proc.returncode, out, err
