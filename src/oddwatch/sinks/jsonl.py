"""Output records as JSON Lines: one object per record, fields in :data:`FIELDS` order.

Formatting is done a batch at a time, in one compiled pass for the usual batch
(:mod:`oddwatch.sinks._rows`), else in Python: each column becomes a list of JSON texts (numbers via
``repr``, ``nan`` as ``null``; strings quoted directly when they need no escaping) and the
rows are put together by :func:`~oddwatch.sinks._base.assemble`.

Examples
--------
>>> import io
>>> import numpy as np
>>> from oddwatch.sinks._base import OutputBatch
>>> out = io.BytesIO()
>>> with JsonlSink(out) as sink:
...     sink.write(OutputBatch(seq=np.array([0, 1]), value=np.array([1.5, 90.0]),
...                            score=np.array([np.nan, 1.0]), threshold=np.array([0.99, 0.99]),
...                            is_anomaly=np.array([False, True]), reason=["", "too high"]))
>>> for line in out.getvalue().decode().splitlines():
...     print(line.replace(",", ", "))
{"seq":0, "key":null, "timestamp":null, "value":1.5, "score":null, "is_anomaly":false,
 "threshold":0.99, "reason":""}
{"seq":1, "key":null, "timestamp":null, "value":90.0, "score":1.0, "is_anomaly":true,
 "threshold":0.99, "reason":"too high"}
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

import numpy as np

from oddwatch._typing import FloatArray
from oddwatch.sinks._base import FIELDS, FileSink, OutputBatch, assemble
from oddwatch.sinks._rows import encode_rows

__all__ = ["JsonlSink", "json_numbers", "json_strings", "text_columns"]

_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def json_numbers(values: FloatArray, missing: str = "null") -> list[str]:
    """JSON texts of floats: shortest round-trip form, ``missing`` for ``nan``/``inf``.

    A column that holds one value throughout is formatted once.

    Examples
    --------
    >>> json_numbers(np.array([0.1, np.nan, 3.0]))
    ['0.1', 'null', '3.0']
    """
    n = int(values.shape[0])
    if n > 1 and bool((values == values[0]).all()):
        return json_numbers(values[:1], missing) * n
    if n == 0:
        return []
    texts = repr(values.tolist())[1:-1].split(", ")  # float.__repr__ in one C loop
    for i in np.flatnonzero(~np.isfinite(values)):
        texts[i] = missing
    return texts


def json_strings(values: Sequence[str]) -> tuple[list[str], bool]:
    """``(texts, quoted)``: the strings as JSON, or as-is when none needs escaping.

    When ``quoted`` is False the caller adds the quotes (in its template), saving a step.

    Examples
    --------
    >>> json_strings(["a", "b"]), json_strings(['say "hi"'])
    ((['a', 'b'], False), (['"say \\\\"hi\\\\""'], True))
    """
    texts = list(values)
    if _NEEDS_ESCAPE.search("".join(texts)) is None:
        return texts, False
    return [json.dumps(t, ensure_ascii=False) for t in texts], True


def text_columns(
    batch: OutputBatch, missing: str, strings: Callable[[Sequence[str]], tuple[list[str], bool]]
) -> list[tuple[list[str], bool]]:
    """The fields of ``batch`` in :data:`FIELDS` order, as columns of texts.

    Numbers and booleans become JSON texts, ``missing`` for ``nan`` and for an absent key or
    timestamp column; strings go through ``strings``, which returns ``(texts, quoted)`` as
    :func:`json_strings` does. Each column comes with that ``quoted`` flag (True but for
    strings left for the caller to quote).

    Examples
    --------
    >>> from oddwatch.sinks._base import OutputBatch
    >>> batch = OutputBatch(seq=np.array([3]), value=np.array([1.5]), score=np.array([np.nan]),
    ...                     threshold=np.array([0.9]), is_anomaly=np.array([False]),
    ...                     reason=["ok"])
    >>> text_columns(batch, "null", json_strings)
    [(['3'], True), (['null'], True), (['null'], True), (['1.5'], True), (['null'], True),
     (['false'], True), (['0.9'], True), (['ok'], False)]
    """
    n = len(batch)
    blank = ([missing] * n, True)
    return [
        (list(map(str, batch.seq.tolist())), True),
        blank if batch.key is None else strings(batch.key.tolist()),
        blank if batch.timestamp is None else strings(batch.timestamp),
        (json_numbers(batch.value, missing), True),
        (json_numbers(batch.score, missing), True),
        (np.where(batch.is_anomaly, "true", "false").tolist(), True),
        (json_numbers(batch.threshold, missing), True),
        strings(batch.reason),
    ]


def _format(batch: OutputBatch) -> str:
    parts: list[str | list[str]] = ["{"]
    columns = text_columns(batch, "null", json_strings)
    for name, (texts, quoted) in zip(FIELDS, columns, strict=True):
        quote = "" if quoted else '"'
        parts += [("," if parts[1:] else "") + f'"{name}":' + quote, texts, quote]
    parts.append("}\n")
    return assemble(parts, len(batch))


class JsonlSink(FileSink):
    """Write output records as JSON Lines to a file or stdout (see :class:`FileSink`)."""

    def _encode(self, batch: OutputBatch) -> bytes:
        fast = encode_rows(batch, csv=False)
        return _format(batch).encode("utf-8", errors="replace") if fast is None else fast
