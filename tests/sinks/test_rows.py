"""The compiled row writer gives the Python formatters' bytes exactly, or declines."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oddwatch._textcolumn import TextColumn
from oddwatch.sinks import CsvSink
from oddwatch.sinks._base import OutputBatch
from oddwatch.sinks._rows import encode_rows
from oddwatch.sinks.jsonl import _format as format_jsonl

floats = st.one_of(st.floats(), st.sampled_from([0.5, 1.0, -0.0, 1e-5, 1e16, 0.8, np.nan, np.inf]))
texts = st.one_of(st.sampled_from(["", "a", "web-1", "a,b", 'say "hi"', "t\\x", "caf\xe9"]),
                  st.text(max_size=6))  # fmt: skip


@st.composite
def batches(draw):
    n = draw(st.integers(0, 8))
    column = st.lists(floats, min_size=n, max_size=n).map(lambda v: np.array(v, dtype=float))
    strings = st.lists(texts, min_size=n, max_size=n)
    key = draw(st.one_of(st.none(), strings.map(lambda k: np.array(k, dtype=str).reshape(n))))
    stamps = draw(st.one_of(st.none(), strings))
    if stamps is not None and draw(st.booleans()):  # as a parser gives them
        raw = [s.encode() for s in stamps]
        stops = np.cumsum([len(r) for r in raw], dtype=np.int64).reshape(n)
        stamps = TextColumn(b"".join(raw), stops - [len(r) for r in raw], stops)
    return OutputBatch(
        seq=np.array(draw(st.lists(st.integers(0, 2**62), min_size=n, max_size=n)), np.int64),
        value=draw(column),
        score=draw(column),
        threshold=draw(column),
        is_anomaly=np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), bool),
        reason=draw(strings),
        key=key,
        timestamp=stamps,
    )


@settings(max_examples=500, deadline=None)
@given(batches())
def test_compiled_rows_are_the_python_rows(batch):
    for csv in (False, True):
        fast = encode_rows(batch, csv=csv)
        if csv:
            python = CsvSink._encode_python(CsvSink.__new__(CsvSink), batch)
        else:
            python = format_jsonl(batch).encode("utf-8", errors="replace")
        assert fast is None or fast == python


def test_ordinary_batches_are_written_by_the_compiled_path():
    rng = np.random.default_rng(0)
    batch = OutputBatch(
        seq=np.arange(100),
        value=50 + rng.normal(size=100),
        score=rng.random(100),
        threshold=np.full(100, 0.8),
        is_anomaly=rng.random(100) < 0.1,
        reason=["score 0.9 is above the threshold 0.8"] * 100,
        timestamp=["2026-01-01T00:00:00"] * 100,
    )
    assert encode_rows(batch, csv=False) is not None
    assert encode_rows(batch, csv=True) is not None
