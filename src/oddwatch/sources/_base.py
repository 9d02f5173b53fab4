"""What every file source shares: blocks of whole lines, parsed records, the Source protocol.

A source reads bytes, cuts them into :class:`LineBlock` s of whole lines (each knows its first
line number and its byte range in the file, so a reader can resume exactly after it), and a
parser turns each block into :class:`Records`: one array entry per record, with a problem code
where the record is unusable (see :mod:`oddwatch.sources.records`). Blocks never straddle a
multiple of ``chunk_lines`` (counted from the start of the file) and stop at the first line end
past ``BLOCK_BYTES``, so a run resumed at a block boundary cuts the rest of the file exactly as
an uninterrupted run does.

Memory is bounded whatever the input: a line longer than ``max_line_bytes``
(:data:`MAX_LINE_BYTES` by default) is never held. Its bytes are dropped as they arrive, an
empty line stands in its place in the block (``LineBlock.long_lines`` names it and its length),
and :func:`add_long_lines` turns it into an unparsable record, which the invalid-record policy
handles and counts like any other.

Examples
--------
>>> import io
>>> blocks = list(read_blocks(io.BytesIO(b"a\\nb\\nc"), chunk_lines=2))
>>> [(b.first_line, b.lines(), b.start, b.end) for b in blocks]
[(1, [b'a', b'b'], 0, 4), (3, [b'c'], 4, 5)]
>>> [(b.lines(), b.long_lines, b.end) for b in read_blocks(io.BytesIO(b"a\\n" + b"x" * 9 + b"\\nb"),
...                                                           max_line_bytes=4)]
[([b'a', b'', b'b'], ((2, 9),), 13)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import numpy as np
from numpy.typing import NDArray

from oddwatch._textcolumn import TextColumn
from oddwatch._typing import FloatArray
from oddwatch.sources._problems import UNPARSABLE

__all__ = [
    "BLOCK_BYTES",
    "MAX_LINE_BYTES",
    "LineBlock",
    "LineCutter",
    "Records",
    "Source",
    "add_long_lines",
    "read_blocks",
]

READ_SIZE = 1 << 20
MAX_LINE_BYTES = 1 << 16  # longest line read (bytes, terminator excluded); longer: unparsable
BLOCK_BYTES = 1 << 24  # a block ends at the first line end past this many bytes


@dataclass(frozen=True)
class LineBlock:
    """Whole lines read from one file: ``data`` holds them with their ``\\n`` terminators.

    Only the last line of a file may lack its terminator. ``start``/``end`` are byte offsets
    in the file and ``first_line`` is the 1-based number of the first line. ``long_lines``
    holds ``(line number, bytes)`` of each line too long to read, left empty in ``data``;
    ``dropped`` is the number of file bytes they took besides those empty lines, and
    ``max_line_bytes`` the limit they broke.
    """

    data: bytes
    first_line: int
    n_lines: int
    start: int
    long_lines: tuple[tuple[int, int], ...] = ()
    dropped: int = 0
    max_line_bytes: int = MAX_LINE_BYTES

    @property
    def end(self) -> int:
        """Byte offset just after the block: where to resume reading."""
        return self.start + len(self.data) + self.dropped

    def lines(self) -> list[bytes]:
        """The lines without terminators (a ``\\r`` before ``\\n`` is dropped too)."""
        lines = self.data.split(b"\n")
        if self.data.endswith(b"\n"):
            lines.pop()
        if b"\r" in self.data:
            lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
        return lines


@dataclass
class Records:
    """One parsed block: an array entry per record, in file order.

    ``problem`` is 0 for a usable record, else a code of :mod:`oddwatch.sources.records`;
    ``detail`` maps a record index to a description of its problem (raw text included).
    ``value`` and ``time`` (seconds since the epoch, UTC) are ``nan`` where missing or bad;
    ``time`` is ``None`` when the input has no timestamp column, ``key`` when it has no key
    column. ``end`` is the byte offset to resume reading from after this block; ``block`` is
    the block the records came from (for error messages).
    """

    line: NDArray[np.int64]
    value: FloatArray
    problem: NDArray[np.uint8]
    end: int
    time: FloatArray | None = None
    time_text: Sequence[str] | None = None
    key: NDArray[np.str_] | None = None
    detail: dict[int, str] = field(default_factory=dict)
    block: LineBlock | None = None

    def __len__(self) -> int:
        return int(self.line.shape[0])

    def raw(self, i: int) -> str | None:
        """The text of record ``i``'s line, when the block it came from is known."""
        if self.block is None:
            return None
        line = self.block.lines()[int(self.line[i]) - self.block.first_line]
        return line.decode("utf-8", errors="replace")


def add_long_lines(records: Records, block: LineBlock) -> Records:
    """``records`` with an unparsable record for each of the block's lines too long to read,
    in line order (parsers skip the empty lines left in their place).

    Examples
    --------
    >>> block = LineBlock(b"1\\n\\n3\\n", 1, 3, 0, long_lines=((2, 70000),), dropped=70000)
    >>> records = Records(line=np.array([1, 3]), value=np.array([1.0, 3.0]),
    ...                   problem=np.zeros(2, np.uint8), end=block.end, detail={1: "x"})
    >>> out = add_long_lines(records, block)
    >>> out.line.tolist(), out.value.tolist(), out.problem.tolist(), out.detail
    ([1, 2, 3], [1.0, nan, 3.0], [0, 1, 0], {2: 'x', 1: 'the line has 70000 bytes, more than the
    limit of 65536 (--max-line-bytes)'})
    """
    if not block.long_lines:
        return records
    numbers = np.array([n for n, _ in block.long_lines], dtype=np.int64)
    at = np.searchsorted(records.line, numbers)
    k = numbers.shape[0]
    shift = np.searchsorted(at, np.arange(len(records)), side="right")
    detail = {i + int(shift[i]): text for i, text in records.detail.items()}
    for j, (_, size) in enumerate(block.long_lines):
        detail[int(at[j]) + j] = (
            f"the line has {size} bytes, more than the limit of {block.max_line_bytes} "
            "(--max-line-bytes)"
        )
    time_text = records.time_text
    if time_text is not None:
        time_text = _insert_texts(time_text, at)
    return Records(
        line=np.insert(records.line, at, numbers),
        value=np.insert(records.value, at, np.nan),
        problem=np.insert(records.problem, at, np.full(k, UNPARSABLE, np.uint8)),
        end=records.end,
        time=None if records.time is None else np.insert(records.time, at, np.nan),
        time_text=time_text,
        key=None if records.key is None else np.insert(records.key, at, ""),
        detail=detail,
        block=records.block,
    )


def _insert_texts(texts: Sequence[str], at: NDArray[np.intp]) -> Sequence[str]:
    """Empty texts inserted before positions ``at`` (ascending)."""
    if isinstance(texts, TextColumn):
        return TextColumn(texts.data, np.insert(texts.start, at, 0), np.insert(texts.stop, at, 0))
    out = list(texts)
    for j, i in enumerate(at.tolist()):
        out.insert(i + j, "")
    return out


class Source(Protocol):
    """An iterable of :class:`Records` chunks that knows where it stands in its input."""

    def __iter__(self) -> Iterator[Records]: ...

    @property
    def position(self) -> dict[str, int]:
        """Where the next chunk starts: ``{"offset": bytes, "line": 1-based line, ...}``."""
        ...

    def close(self) -> None: ...


class LineCutter:
    """Turns arriving bytes into :class:`LineBlock` s that never cross a chunk boundary.

    ``feed`` returns the blocks completed by new bytes (all whole lines when ``eager``, else
    only full chunks, or blocks of ``BLOCK_BYTES``); ``flush`` returns whatever whole lines
    are pending, and ``finish`` also the last line if it lacks its terminator (end of file).
    A line longer than ``max_line_bytes`` is dropped as it arrives, an empty line standing in
    for it (see :class:`LineBlock`), so what is held never exceeds a block.

    Examples
    --------
    >>> cutter = LineCutter(chunk_lines=2)
    >>> [b.lines() for b in cutter.feed(b"a\\nb\\nc\\nd")]
    [[b'a', b'b']]
    >>> [b.lines() for b in cutter.finish()], cutter.offset, cutter.line
    ([[b'c', b'd']], 7, 5)
    """

    def __init__(
        self,
        *,
        offset: int = 0,
        line: int = 1,
        chunk_lines: int = 10_000,
        max_line_bytes: int = MAX_LINE_BYTES,
    ) -> None:
        self.offset = offset
        self.line = line
        self.chunk_lines = chunk_lines
        self.max_line_bytes = max_line_bytes
        self._buf = b""
        self._long: dict[int, tuple[int, int]] = {}  # line -> (bytes, bytes dropped)
        self._skipping: list[int] | None = None  # [line, bytes so far] of a long last line

    @property
    def pending(self) -> int:
        """Bytes received but not yet emitted (an incomplete last line, at least)."""
        dropped = sum(d for _, d in self._long.values())
        return len(self._buf) + dropped + (self._skipping[1] if self._skipping else 0)

    def feed(self, data: bytes, eager: bool = False) -> list[LineBlock]:
        if self._skipping is not None:
            cut = data.find(b"\n")
            if cut < 0:
                self._skipping[1] += len(data)
                return self._emit(eager, final=False) if eager else []
            line, size = self._skipping
            self._long[line] = (size + cut, size + cut)
            self._skipping = None
            data = b"\n" + data[cut + 1 :]
        buf = self._buf + data if self._buf else data
        self._buf, ends = self._drop_long_lines(buf)
        return self._emit(eager, final=False, ends=ends)

    def flush(self) -> list[LineBlock]:
        return self._emit(True, final=False)

    def finish(self) -> list[LineBlock]:
        if self._skipping is not None:  # the file ends inside a long line
            line, size = self._skipping
            self._long[line] = (size, size - 1)
            self._skipping = None
            self._buf += b"\n"
        return self._emit(True, final=True)

    def _drop_long_lines(self, buf: bytes) -> tuple[bytes, NDArray[np.intp] | None]:
        """``buf`` with each line over the limit emptied (a long last line is skipped), and
        the positions of its line ends when it is unchanged."""
        limit = self.max_line_bytes
        if len(buf) <= limit:
            return buf, None
        ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
        starts = np.concatenate(([0], ends + 1))
        stops = np.append(ends, len(buf))
        over = np.flatnonzero(stops - starts > limit)
        if not over.shape[0]:
            return buf, ends
        pieces = []
        pos = 0
        for i in over.tolist():
            start, stop = int(starts[i]), int(stops[i])
            pieces.append(buf[pos:start])
            if i < ends.shape[0]:
                self._long[self.line + i] = (stop - start, stop - start)
            else:
                self._skipping = [self.line + i, stop - start]
            pos = stop
        pieces.append(buf[pos:])
        return b"".join(pieces), None

    def _emit(
        self, eager: bool, final: bool, ends: NDArray[np.intp] | None = None
    ) -> list[LineBlock]:
        buf = self._buf
        if ends is None:
            ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
        if final and buf and buf[-1:] != b"\n":
            ends = np.append(ends, len(buf) - 1)
        blocks = []
        pos = done = 0
        while done < ends.shape[0]:
            room = self.chunk_lines - (self.line - 1) % self.chunk_lines
            take = min(int(ends.shape[0]) - done, room)
            fitting = int(np.searchsorted(ends[done : done + take], pos + BLOCK_BYTES))
            if fitting < take:  # the block is full in bytes first
                take = max(fitting, 1)
            elif take < room and not eager:
                break
            stop = int(ends[done + take - 1]) + 1
            long_lines = (
                tuple(
                    (n, self._long.pop(n))
                    for n in range(self.line, self.line + take)
                    if n in self._long
                )
                if self._long
                else ()
            )
            dropped = sum(d for _, (_, d) in long_lines)
            blocks.append(
                LineBlock(
                    buf[pos:stop],
                    self.line,
                    take,
                    self.offset,
                    tuple((n, size) for n, (size, _) in long_lines),
                    dropped,
                    self.max_line_bytes,
                )
            )
            self.offset += stop - pos + dropped
            self.line += take
            done += take
            pos = stop
        self._buf = buf[pos:]
        return blocks


def read_blocks(
    fh: BinaryIO,
    *,
    offset: int = 0,
    line: int = 1,
    chunk_lines: int = 10_000,
    eager: bool = False,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[LineBlock]:
    """Cut a binary stream into :class:`LineBlock` s of at most ``chunk_lines`` lines.

    ``offset`` and ``line`` say where ``fh`` currently stands (after a seek, for a resumed
    run). A regular file is cut only at chunk boundaries; with ``eager`` (pipes) whatever
    whole lines have arrived are emitted at once, so a live pipe is processed without delay.
    A final line without a terminator is emitted at end of file. Lines longer than
    ``max_line_bytes`` are dropped (see :class:`LineCutter`).

    Examples
    --------
    >>> import io
    >>> [b.n_lines for b in read_blocks(io.BytesIO(b"x\\n" * 5), line=2, chunk_lines=3)]
    [2, 3]
    """
    read = getattr(fh, "read1", fh.read)
    cutter = LineCutter(
        offset=offset, line=line, chunk_lines=chunk_lines, max_line_bytes=max_line_bytes
    )
    while True:
        data = read(READ_SIZE)
        if not data:
            yield from cutter.finish()
            return
        yield from cutter.feed(data, eager)
