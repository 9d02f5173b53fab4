"""Every ``console`` example in docs/*.md runs as written and prints what the page shows.

The commands of one page run in order in one temporary directory (a later example may read a
file an earlier one wrote), with ``oddwatch`` on the PATH. Output is compared line by line
after blanking what changes from run to run (durations, rates); stdout and stderr are
compared as one set of lines, since the page shows them interleaved. A ``...`` line in the
page stands for any lines. A block preceded by ``<!-- not run: reason -->`` is skipped (it
needs a server or a file the page does not make); the Python (``>>>``) examples are doctests
(``--doctest-glob``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_BLOCK = re.compile(r"(<!-- not run: [^>]*-->\s*)?^( *)```console\n(.*?)^\2```", re.M | re.S)
_VARIABLE = [
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<T> s"),
    (re.compile(r'("seconds"|"records_per_second"|"first_point_seconds"): [\d.e+]+'), r"\1: <N>"),
    (re.compile(r"(records in )<T> s( in this run)"), r"\1<T> s\2"),
]


def examples(page: Path) -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` of every console block that is run."""
    found = []
    for skip, indent, body in _BLOCK.findall(page.read_text()):
        if skip:
            continue
        lines = [line[len(indent) :] for line in body.splitlines()]
        command: list[str] = []
        output: list[str] = []
        for line in lines:
            if line.startswith("$ ") and not (command and command[-1].endswith("\\")):
                if command:
                    found.append(("\n".join(command), output))
                command, output = [line[2:]], []
            elif command and command[-1].endswith("\\"):
                command.append(line)
            else:
                output.append(line)
        if command:
            found.append(("\n".join(command), output))
    return found


def normalized(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        for pattern, replacement in _VARIABLE:
            line = pattern.sub(replacement, line)
        out.append(line.rstrip())
    return [line for line in out if line]


def matches(actual: list[str], expected: list[str]) -> bool:
    if "..." not in expected:
        return sorted(actual) == sorted(expected)
    wanted = [line for line in expected if line != "..."]
    return all(line in actual for line in wanted)


PAGES = sorted(page for page in DOCS.glob("*.md") if examples(page))


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_console_examples_run_as_written(page, tmp_path):
    env = {
        **os.environ,
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "MPLBACKEND": "Agg",
        "COLUMNS": "100",
    }
    status = 0
    for command, expected in examples(page):
        done = subprocess.run(
            ["bash", "-c", f"(exit {status}); {command}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        status = done.returncode
        actual = normalized((done.stdout + done.stderr).splitlines())
        wanted = normalized(expected)
        assert matches(actual, wanted), (
            f"{page.name}: `{command}` printed\n" + "\n".join(actual) + "\n\nexpected\n"
            + "\n".join(wanted)
        )  # fmt: skip
