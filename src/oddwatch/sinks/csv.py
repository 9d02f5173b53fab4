"""Output records as CSV with a header line; missing numbers are empty fields.

Examples
--------
>>> import io
>>> import numpy as np
>>> from oddwatch.sinks._base import OutputBatch
>>> out = io.BytesIO()
>>> with CsvSink(out) as sink:
...     sink.write(OutputBatch(seq=np.array([4]), value=np.array([90.0]), score=np.array([1.0]),
...                            threshold=np.array([np.nan]), is_anomaly=np.array([True]),
...                            reason=["90 is high, very"], key=np.array(["web-1"])))
>>> print(out.getvalue().decode(), end="")
seq,key,timestamp,value,score,is_anomaly,threshold,reason
4,web-1,,90.0,1.0,true,,"90 is high, very"
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from oddwatch.sinks._base import FIELDS, FileSink, OutputBatch, assemble
from oddwatch.sinks._rows import encode_rows
from oddwatch.sinks.jsonl import text_columns

__all__ = ["CsvSink"]


_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def _quoted(values: Sequence[str]) -> tuple[list[str], bool]:
    """CSV fields: quoted (quotes doubled) only when they hold a comma, quote or newline."""
    texts = list(values)
    if _NEEDS_QUOTES.search("".join(texts)) is None:
        return texts, True
    return ['"' + t.replace('"', '""') + '"' if _NEEDS_QUOTES.search(t) else t for t in texts], True


class CsvSink(FileSink):
    """Write output records as CSV to a file or stdout (see :class:`FileSink`)."""

    def _header(self) -> bytes:
        return (",".join(FIELDS) + "\n").encode()

    def _encode(self, batch: OutputBatch) -> bytes:
        fast = encode_rows(batch, csv=True)
        return self._encode_python(batch) if fast is None else fast

    def _encode_python(self, batch: OutputBatch) -> bytes:
        parts: list[str | list[str]] = []
        for column, _ in text_columns(batch, "", _quoted):
            parts += [column, ","]
        parts[-1] = "\n"
        return assemble(parts, len(batch)).encode("utf-8", errors="replace")
