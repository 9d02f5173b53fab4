"""``detect --checkpoint`` survives SIGKILL at random moments: the final --out is byte-identical.

Each seed starts the command in a subprocess, waits until it has checkpointed at least once,
kills it with SIGKILL after a random extra delay (so kills land while records are written,
between the output fsync and the checkpoint rename, or inside either), and re-runs the same
command until it exits 0. The seeds are fixed and logged in the assertion messages.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import oddwatch

SRC = str(Path(oddwatch.__file__).resolve().parents[1])


def write_input(path: Path, n: int = 8000) -> None:
    rng = np.random.default_rng(7)
    lines = ["timestamp,host,cpu\n"]
    for i in range(n):
        host = "abc"[i % 3]
        x = 50 + 5 * np.sin(i / 40) + rng.normal()
        text = "oops" if i % 997 == 5 else repr(x)  # a few bad records for the validator
        lines.append(f"{1767225600 + 60 * (i // 3)},{host},{text}\n")
    path.write_text("".join(lines))


def command(work: Path, data: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "oddwatch.cli.main",
        "detect",
        str(data),
        "--out",
        str(work / "out.jsonl"),
        "--checkpoint",
        str(work / "run.ckpt"),
        "--checkpoint-every",
        "100",
        "--key-col",
        "host",
        "--quiet",
    ]


def run_to_completion(work: Path, data: Path, rng: random.Random | None) -> int:
    """Run (killing at random while ``rng`` allows) until exit 0; return the mid-run kills."""
    env = {**os.environ, "PYTHONPATH": SRC}
    ckpt = work / "run.ckpt"
    kills = 0
    for _attempt in range(6):
        process = subprocess.Popen(
            command(work, data), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if rng is not None and kills < 2:
            before = ckpt.stat().st_mtime_ns if ckpt.exists() else None
            while process.poll() is None and (
                not ckpt.exists() or ckpt.stat().st_mtime_ns == before
            ):
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.3))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
        _, err = process.communicate()
        if process.returncode == 0:
            return kills
        assert process.returncode == -signal.SIGKILL, err.decode()
    raise AssertionError("the command never completed")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The input file and the output of a run nobody kills."""
    work = tmp_path_factory.mktemp("reference")
    data = work / "in.csv"
    write_input(data)
    run_to_completion(work, data, rng=None)
    return data, (work / "out.jsonl").read_bytes()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sigkill_then_rerun_gives_the_uninterrupted_output(tmp_path, uninterrupted, seed):
    data, expected = uninterrupted
    work = tmp_path / "killed"
    work.mkdir()
    kills = run_to_completion(work, data, random.Random(seed))
    assert kills >= 1, f"seed {seed}: the run finished before any kill; make the input longer"
    assert (work / "out.jsonl").read_bytes() == expected, f"seed {seed}, {kills} kills"
