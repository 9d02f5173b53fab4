"""The Spark examples of docs/scale-out.md and README.md run as written and show what they say."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np

from oddwatch.cli.main import EXIT_OK, main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "scale-out.md"
README = ROOT / "README.md"
_SECONDS = re.compile(r"(\"seconds\": |, )\d+\.\d( s)?")


def python_blocks(text):
    """The ```python blocks, in order (```python notest blocks need a broker: left out)."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def console_commands(text):
    """``(argv, expected output lines)`` of each ``$ `` command of the ```console blocks."""
    found = []
    for block in re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M):
        command, output = "", []
        for line in block.splitlines():
            if line.startswith("$ ") or command.endswith("\\"):
                command = command.removesuffix("\\") + line.removeprefix("$ ")
            else:
                output.append(line)
        found.append((shlex.split(command), output))
    return found


def spark_section(text):
    """README's "Scale out with Spark" section."""
    start = text.index("## Scale out with Spark")
    return text[start : text.index("\n## ", start + 1)]


def absolute(block, tmp_path, names):
    # The test session's JVM started in another directory and resolves relative paths there;
    # a reader's fresh session starts in theirs. So Spark's paths are made absolute here.
    for name in names:
        block = block.replace(f'"{name}"', repr(str(tmp_path / name)))
    return block


def run_blocks(blocks, path):
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(path), "exec"), namespace)
    return namespace


def test_scale_out_example_runs_and_flags_the_spike(spark, tmp_path, monkeypatch, capsys):
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    blocks[1] = absolute(blocks[1], tmp_path, ("points", "flags", "checkpoint"))
    rows = run_blocks(blocks, DOC)["flagged"].collect()
    assert [(r.key, r.value) for r in rows] == [("web-2", 90.0)]
    assert "90 is " in rows[0].reason
    assert "web-2" in capsys.readouterr().out


def test_readme_spark_example_and_command_run_as_written(spark, tmp_path, monkeypatch, capsys):
    section = spark_section(README.read_text())
    (block,) = python_blocks(section)
    monkeypatch.chdir(tmp_path)
    run_blocks([absolute(block, tmp_path, ("points", "flags", "checkpoint"))], README)
    shown = [line[2:] for line in block.splitlines() if line.startswith(("# +", "# |"))]
    printed = capsys.readouterr().out.splitlines()
    assert len(shown) == 5 and printed[: len(shown)] == shown
    ((argv, expected),) = console_commands(section)
    assert argv[:2] == ["oddwatch", "spark-detect"]
    paths = {"points/", "checkpoint-cli/", "flags-cli/"}
    assert paths <= set(argv)
    argv = [str(tmp_path / a) if a in paths else a for a in argv[1:]]
    assert main(argv) == EXIT_OK
    err = capsys.readouterr().err.splitlines()
    assert [_SECONDS.sub(r"\1<T>\2", line) for line in err] == [
        _SECONDS.sub(r"\1<T>\2", line) for line in expected
    ]
    python = spark.read.parquet(str(tmp_path / "flags")).toPandas()
    command = spark.read.parquet(str(tmp_path / "flags-cli")).toPandas()
    python, command = (
        f.sort_values(["key", "timestamp"], ignore_index=True) for f in (python, command)
    )
    assert python["is_anomaly"].sum() == 1
    assert python[["key", "timestamp", "is_anomaly", "reason"]].equals(
        command[["key", "timestamp", "is_anomaly", "reason"]]
    )
    for column in ("value", "score", "threshold"):  # bit for bit
        bits = [f[column].to_numpy(np.float64).view(np.uint64) for f in (python, command)]
        assert np.array_equal(*bits)
