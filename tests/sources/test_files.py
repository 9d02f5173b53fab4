"""FileSource: formats, stdin, resuming at a recorded position."""

from __future__ import annotations

import io

import numpy as np
import pytest

from oddwatch.errors import SourceError
from oddwatch.sources.files import FileSource

CSV = "".join(["timestamp,value\n"] + [f"{60 * i},{i}\n" for i in range(20)])


def values(source):
    return np.concatenate([c.value for c in source]).tolist()


def test_resuming_at_a_position_reads_the_rest(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(CSV)
    source = FileSource(str(path), chunk_lines=5)
    chunks = iter(source)
    first = next(chunks)
    position, state = source.position, source.parser_state()
    rest = FileSource(str(path), chunk_lines=5, **position)
    rest.restore_parser(state)
    assert first.value.tolist() + values(rest) == [float(i) for i in range(20)]
    source.close()
    rest.close()


def test_stdin_and_sniffed_jsonl():
    data = b'{"value": 1}\n{"value": 2}\n'
    source = FileSource("-", stdin=io.BytesIO(data))
    assert values(source) == [1.0, 2.0] and source.format == "jsonl"


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(SourceError, match="cannot read '.*nope.csv': No such file"):
        FileSource(str(tmp_path / "nope.csv"))
    with pytest.raises(SourceError, match="unknown input format 'xml'"):
        FileSource("-", "xml")
    with pytest.raises(SourceError, match="--follow needs a file path"):
        FileSource("-", follow=True)
