"""System tools some tests need (Xvfb, xdotool, Chromium): skip without them, except in CI.

In CI (``CI=true``) `.ci/run` installs them, so a missing one fails the test instead of
letting it pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def screenshot_dir() -> Path:
    """Where screenshot tests save their pictures.

    ``docs/img`` when ``ODDWATCH_SCREENSHOTS=1`` (to refresh the pictures in the docs), else a
    temporary folder, so an ordinary test run leaves the tracked files alone.
    """
    if os.environ.get("ODDWATCH_SCREENSHOTS") == "1":
        target = Path(__file__).resolve().parents[1] / "docs" / "img"
    else:
        target = Path(tempfile.gettempdir()) / "oddwatch-screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


def require(*tools: str) -> None:
    """Skip (or fail in CI) unless every tool is on PATH."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"needs {', '.join(missing)} (installed by .ci/run)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@contextmanager
def virtual_display() -> Iterator[str]:
    """Start Xvfb on a free display number; yield the DISPLAY value; stop it."""
    require("Xvfb")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as fh:
            number = fh.readline().strip()
        if not number:
            pytest.fail("Xvfb did not report a display number")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)
