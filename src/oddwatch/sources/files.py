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

import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any, BinaryIO

from oddwatch.errors import CheckpointError, SourceError
from oddwatch.sources._base import (
    MAX_LINE_BYTES,
    LineBlock,
    Records,
    add_long_lines,
    read_blocks,
)
from oddwatch.sources.csv import CsvParser
from oddwatch.sources.follow import FollowReader
from oddwatch.sources.jsonl import JsonlParser

__all__ = ["FORMATS", "FileSource", "format_of", "head_digest"]

FORMATS = ("csv", "jsonl")
_HEAD_BYTES = 1 << 16
_BOM = b"\xef\xbb\xbf"
_SNIFF_BYTES = 4096
_BINARY = {
    b"\x1f\x8b": "a gzip file: decompress it first, e.g. `zcat FILE | oddwatch detect -`",
    b"\x89PNG": "a PNG image",
    b"\x7fELF": "an executable (ELF)",
    b"PK\x03\x04": "a zip file",
}


def _refuse_binary(head: bytes, path: str) -> None:
    """Raise SourceError when the start of the input is not text (NUL bytes, known magic)."""
    name = "standard input" if path == "-" else repr(path)
    for magic, what in _BINARY.items():
        if head.startswith(magic):
            raise SourceError(f"{name} is {what}, not CSV or JSON Lines text.")
    if head.count(b"\x00") >= max(4, len(head) // 100):
        raise SourceError(
            f"{name} holds NUL bytes in its first {len(head)} bytes: it looks binary, not CSV "
            "or JSON Lines text. Check the file (or its encoding: UTF-8 is expected)."
        )


def head_digest(path: str, offset: int) -> str:
    """SHA-256 of the first ``min(offset, 64 KiB)`` bytes of ``path`` (hex).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "in.csv")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(b"abc")
    >>> head_digest(path, 3) == hashlib.sha256(b"abc").hexdigest()
    True
    """
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(min(offset, _HEAD_BYTES))).hexdigest()


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
    max_line_bytes
        Longest line read; a longer one is an unparsable record, its bytes never held (64 kB
        by default; line 1, which names the columns, must fit).
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
        max_line_bytes: int = MAX_LINE_BYTES,
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
        if follow and path == "-":
            raise SourceError("--follow needs a file path, not stdin.")
        self.path = path
        self.format = format or format_of(path)
        self._columns = {"time_col": time_col, "value_col": value_col, "key_col": key_col}
        self._header = header
        self._delimiter = "\t" if path.lower().endswith(".tsv") else ","
        self.parser: CsvParser | JsonlParser | None = None
        if self.format is not None:
            self.parser = self._make_parser(self.format)
        self.follow = follow
        self.chunk_lines = chunk_lines
        self.max_line_bytes = max_line_bytes
        self._position = {"offset": offset, "line": line}
        self._identity = identity
        self._follow_settings = (poll_interval, idle_timeout, on_rotate)
        self._stdin = stdin
        self._follow: FollowReader | None = None
        self._fh: BinaryIO | None = None
        self._head: tuple[str, int] | None = None  # digest of the input's start, bytes covered
        if path != "-" and not follow:
            self._fh = self._open(path, 0, None)  # fail early on a missing file

    def _blocks(self) -> Iterator[LineBlock]:
        """Open (or seek) at the current position and cut the input into blocks."""
        offset, line = self._position["offset"], self._position["line"]
        if self.follow:
            poll_interval, idle_timeout, on_rotate = self._follow_settings
            self._follow = FollowReader(
                self.path,
                offset=offset,
                line=line,
                identity=self._identity,
                chunk_lines=self.chunk_lines,
                max_line_bytes=self.max_line_bytes,
                poll_interval=poll_interval,
                idle_timeout=idle_timeout,
                on_rotate=on_rotate,
            )
            return self._follow.blocks()
        if self._fh is None:
            self._fh = self._open(self.path, offset, self._stdin)
        elif offset:
            self._fh.seek(offset)
        return read_blocks(
            self._fh,
            offset=offset,
            line=line,
            chunk_lines=self.chunk_lines,
            eager=not self._fh.seekable(),
            max_line_bytes=self.max_line_bytes,
        )

    def get_state(self) -> dict[str, Any]:
        """Where the next chunk starts, the file's identity, a digest of the bytes read (to
        check on resume that the input is the same) and the parser's layout, as JSON.

        Examples
        --------
        >>> import io
        >>> source = FileSource("-", stdin=io.BytesIO(b"value\\n1\\n2\\n"))
        >>> _ = list(source)
        >>> state = source.get_state()
        >>> state["offset"], state["line"], state["parser"]["columns"]
        (10, 4, {'time': None, 'value': 0, 'key': None})
        """
        position = self.position
        head = None
        if not self.follow and self.path != "-":
            covered = min(int(position["offset"]), _HEAD_BYTES)
            if self._head is None or self._head[1] != covered:
                self._head = (head_digest(self.path, covered), covered)
            head = self._head[0]
        return {
            **position,
            "identity": None if self.identity is None else list(self.identity),
            "head": head,
            "parser": self.parser_state(),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue from :meth:`get_state` (before iterating). Refuses an input that is
        shorter than the saved offset or whose start differs (not in follow mode)."""
        try:
            offset, line = int(state["offset"]), int(state["line"])
            identity = state.get("identity")
            self._identity = None if identity is None else (int(identity[0]), int(identity[1]))
            if state.get("parser") is not None:
                self.restore_parser(dict(state["parser"]))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CheckpointError(f"the saved input position is malformed ({exc}).") from None
        if not self.follow:
            self._verify(offset, state.get("head"))
        self._position = {"offset": offset, "line": line}

    def _verify(self, offset: int, head: Any) -> None:
        if self.path == "-":
            raise SourceError("cannot resume from standard input: it cannot be read again.")
        try:
            size = os.path.getsize(self.path)
        except OSError as exc:
            raise CheckpointError(
                f"cannot check the input {self.path!r}: {exc.strerror or exc}."
            ) from None
        if size < offset or head_digest(self.path, offset) != head:
            raise CheckpointError(
                f"the input {self.path!r} is not the one the checkpoint was taken on (it is "
                "shorter or its start differs). Delete the checkpoint to start over."
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
        return self._identity if self._follow is None else self._follow.identity

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
        if block.first_line == 1:
            if block.long_lines and block.long_lines[0][0] == 1:
                raise SourceError(
                    f"{self.path}: line 1 has {block.long_lines[0][1]} bytes, more than the "
                    f"limit of {self.max_line_bytes}. Is this a file of records? Raise the "
                    "limit with --max-line-bytes if it is."
                )
            _refuse_binary(block.data[:_SNIFF_BYTES], self.path)
        if self.parser is None:
            start = block.data[len(_BOM) :] if block.data.startswith(_BOM) else block.data
            self.format = "jsonl" if start.lstrip()[:1] == b"{" else "csv"
            self.parser = self._make_parser(self.format)
        return add_long_lines(self.parser.parse(block), block)

    def __iter__(self) -> Iterator[Records]:
        for block in self._blocks():
            records = self._parse(block)
            self._position = {"offset": block.end, "line": block.first_line + block.n_lines}
            yield records

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file (never stdin)."""
        if self._follow is not None:
            self._follow.close()
        elif self._fh is not None and self.path != "-":
            self._fh.close()
