"""The copy-paste example of docs/scale-out.md runs as written and finds its spike."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"


def python_blocks(text):
    """The ```python blocks, in order (```python notest blocks need a broker: left out)."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_scale_out_example_runs_and_flags_the_spike(spark, tmp_path, monkeypatch, capsys):
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    # The test session's JVM started in another directory and resolves relative paths there;
    # a reader's fresh session starts in theirs. So Spark's paths are made absolute here.
    for name in ("points", "flags", "checkpoint"):
        blocks[1] = blocks[1].replace(f'"{name}"', repr(str(tmp_path / name)))
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    rows = namespace["flagged"].collect()
    assert [(r.key, r.value) for r in rows] == [("web-2", 90.0)]
    assert "90 is " in rows[0].reason
    assert "web-2" in capsys.readouterr().out
