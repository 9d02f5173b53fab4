"""``FileSource``: records from a CSV or JSON Lines file, from stdin, or from a followed file.

The format comes from ``format``, else the file extension (``.csv``, ``.tsv``, ``.jsonl``,
``.ndjson``), else the first character of the data (``{`` means JSON Lines). The source
remembers where the next chunk starts (``position``), so a later run can resume there.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "cpu.csv")
>>> with open(path, "w") as fh:
...     _ = fh.write("timestamp,value\\n2026-01-01T00:00:00,0.5\\n2026-01-01T00:01:00,0.7\\n")
>>> source = FileSource(path)
>>> [chunk.value.tolist() for chunk in source], source.position
([[0.5, 0.7]], {'offset': 64, 'line': 4})
>>> source.close()
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from oddwatch.errors import SourceError
from oddwatch.sources._base import LineBlock, Records, read_blocks
from oddwatch.sources.csv import CsvParser
from oddwatch.sources.follow import FollowReader
from oddwatch.sources.jsonl import JsonlParser

__all__ = ["FORMATS", "FileSource", "format_of"]

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def format_of(path: str) -> str | None:
    """The format a file name implies, or None.

    Examples
    --------
    >>> format_of("metrics.ndjson"), format_of("-")
    ('jsonl', None)
    """
    return _EXTENSIONS.get(os.path.splitext(path)[1].lower())


class FileSource:
    """Iterate :class:`~oddwatch.sources._base.Records` chunks from a file or stdin.

    Parameters
    ----------
    path
        A file, or ``"-"`` for standard input.
    format
        ``"csv"``, ``"jsonl"`` or ``None`` (from the extension or the data).
    time_col, value_col, key_col, header
        Passed to the parser (see :class:`~oddwatch.sources.csv.CsvParser`).
    follow
        Keep reading as the file grows, across rotations (see
        :class:`~oddwatch.sources.follow.FollowReader`); needs a file path.
    chunk_lines
        Most lines per chunk.
    offset, line, identity
        Where to start (a resumed run); ``identity`` is checked in follow mode only.
    poll_interval, idle_timeout, on_rotate
        Follow mode settings.
    stdin
        The binary stream read for ``"-"`` (default ``sys.stdin.buffer``).
    """

    def __init__(
        self,
        path: str,
        format: str | None = None,
        *,
        time_col: str | None = None,
        value_col: str | None = None,
        key_col: str | None = None,
        header: bool | None = None,
        follow: bool = False,
        chunk_lines: int = 10_000,
        offset: int = 0,
        line: int = 1,
        identity: tuple[int, int] | None = None,
        poll_interval: float = 0.2,
        idle_timeout: float | None = None,
        on_rotate: Callable[[str], None] | None = None,
        stdin: BinaryIO | None = None,
    ) -> None:
        if format is not None and format not in FORMATS:
            raise SourceError(f"unknown input format {format!r}; use one of {', '.join(FORMATS)}.")
        self.path = path
        self.format = format or format_of(path)
        self._columns = {"time_col": time_col, "value_col": value_col, "key_col": key_col}
        self._header = header
        self._delimiter = "\t" if path.lower().endswith(".tsv") else ","
        self.parser: CsvParser | JsonlParser | None = None
        if self.format is not None:
            self.parser = self._make_parser(self.format)
        self._position = {"offset": offset, "line": line}
        self._follow: FollowReader | None = None
        self._fh: BinaryIO | None = None
        if follow:
            if path == "-":
                raise SourceError("--follow needs a file path, not stdin.")
            self._follow = FollowReader(
                path,
                offset=offset,
                line=line,
                identity=identity,
                chunk_lines=chunk_lines,
                poll_interval=poll_interval,
                idle_timeout=idle_timeout,
                on_rotate=on_rotate,
            )
            self._blocks = self._follow.blocks()
            self._position = self._follow.position
        else:
            self._fh = self._open(path, offset, stdin)
            self._blocks = read_blocks(
                self._fh,
                offset=offset,
                line=line,
                chunk_lines=chunk_lines,
                eager=not self._fh.seekable(),
            )

    def _make_parser(self, format: str) -> CsvParser | JsonlParser:
        if format == "jsonl":
            return JsonlParser(**self._columns)
        return CsvParser(**self._columns, header=self._header, delimiter=self._delimiter)

    @staticmethod
    def _open(path: str, offset: int, stdin: BinaryIO | None) -> BinaryIO:
        if path == "-":
            fh = stdin if stdin is not None else sys.stdin.buffer
            if offset:
                if not fh.seekable():
                    raise SourceError("cannot resume from standard input: it is not seekable.")
                fh.seek(offset)
            return fh
        try:
            fh = open(path, "rb")
        except OSError as exc:
            raise SourceError(f"cannot read {path!r}: {exc.strerror or exc}.") from None
        if offset:
            fh.seek(offset)
        return fh

    @property
    def identity(self) -> tuple[int, int] | None:
        """``(device, inode)`` of the file being read (follow mode), else None."""
        return None if self._follow is None else self._follow.identity

    @property
    def position(self) -> dict[str, int]:
        """Where the chunk after the last one yielded starts."""
        return dict(self._position)

    def parser_state(self) -> dict[str, Any] | None:
        """The parser's resolved layout (None before the first chunk)."""
        return None if self.parser is None else {"format": self.format, **self.parser.state()}

    def restore_parser(self, state: dict[str, Any]) -> None:
        """Adopt a layout saved by :meth:`parser_state` (to resume after line 1)."""
        self.format = state["format"]
        self.parser = self._make_parser(str(self.format))
        self.parser.restore(state)

    def _parse(self, block: LineBlock) -> Records:
        if self.parser is None:
            self.format = "jsonl" if block.data.lstrip()[:1] == b"{" else "csv"
            self.parser = self._make_parser(self.format)
        return self.parser.parse(block)

    def __iter__(self) -> Iterator[Records]:
        for block in self._blocks:
            records = self._parse(block)
            self._position = {"offset": block.end, "line": block.first_line + block.n_lines}
            yield records

    def close(self) -> None:
        """Close the file (never stdin)."""
        if self._follow is not None:
            self._follow.close()
        elif self._fh is not None and self.path != "-":
            self._fh.close()
