"""What every file source shares: blocks of whole lines, parsed records, the Source protocol.

A source reads bytes, cuts them into :class:`LineBlock` s of whole lines (each knows its first
line number and its byte range in the file, so a reader can resume exactly after it), and a
parser turns each block into :class:`Records`: one array entry per record, with a problem code
where the record is unusable (see :mod:`oddwatch.sources.records`). Blocks never straddle a
multiple of ``chunk_lines`` (counted from the start of the file), so a run resumed at a block
boundary cuts the rest of the file exactly as an uninterrupted run does.

Examples
--------
>>> import io
>>> blocks = list(read_blocks(io.BytesIO(b"a\\nb\\nc"), chunk_lines=2))
>>> [(b.first_line, b.lines(), b.start, b.end) for b in blocks]
[(1, [b'a', b'b'], 0, 4), (3, [b'c'], 4, 5)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import numpy as np
from numpy.typing import NDArray

from oddwatch._typing import FloatArray

__all__ = ["LineBlock", "LineCutter", "Records", "Source", "read_blocks"]

READ_SIZE = 1 << 20


@dataclass(frozen=True)
class LineBlock:
    """Whole lines read from one file: ``data`` holds them with their ``\\n`` terminators.

    Only the last line of a file may lack its terminator. ``start``/``end`` are byte offsets
    in the file and ``first_line`` is the 1-based number of the first line.
    """

    data: bytes
    first_line: int
    n_lines: int
    start: int

    @property
    def end(self) -> int:
        """Byte offset just after the block: where to resume reading."""
        return self.start + len(self.data)

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
    only full chunks); ``flush`` returns whatever whole lines are pending, and ``finish``
    also the last line if it lacks its terminator (end of file).

    Examples
    --------
    >>> cutter = LineCutter(chunk_lines=2)
    >>> [b.lines() for b in cutter.feed(b"a\\nb\\nc\\nd")]
    [[b'a', b'b']]
    >>> [b.lines() for b in cutter.finish()], cutter.offset, cutter.line
    ([[b'c', b'd']], 7, 5)
    """

    def __init__(self, *, offset: int = 0, line: int = 1, chunk_lines: int = 10_000) -> None:
        self.offset = offset
        self.line = line
        self.chunk_lines = chunk_lines
        self._buf = b""

    @property
    def pending(self) -> int:
        """Bytes received but not yet emitted (an incomplete last line, at least)."""
        return len(self._buf)

    def feed(self, data: bytes, eager: bool = False) -> list[LineBlock]:
        self._buf = self._buf + data if self._buf else data
        return self._emit(eager, final=False)

    def flush(self) -> list[LineBlock]:
        return self._emit(True, final=False)

    def finish(self) -> list[LineBlock]:
        return self._emit(True, final=True)

    def _emit(self, eager: bool, final: bool) -> list[LineBlock]:
        buf = self._buf
        ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
        if final and buf and buf[-1:] != b"\n":
            ends = np.append(ends, len(buf) - 1)
        blocks = []
        pos = done = 0
        while done < ends.shape[0]:
            room = self.chunk_lines - (self.line - 1) % self.chunk_lines
            take = min(int(ends.shape[0]) - done, room)
            if take < room and not eager:
                break
            stop = int(ends[done + take - 1]) + 1
            blocks.append(LineBlock(buf[pos:stop], self.line, take, self.offset))
            self.offset += stop - pos
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
) -> Iterator[LineBlock]:
    """Cut a binary stream into :class:`LineBlock` s of at most ``chunk_lines`` lines.

    ``offset`` and ``line`` say where ``fh`` currently stands (after a seek, for a resumed
    run). A regular file is cut only at chunk boundaries; with ``eager`` (pipes) whatever
    whole lines have arrived are emitted at once, so a live pipe is processed without delay.
    A final line without a terminator is emitted at end of file.

    Examples
    --------
    >>> import io
    >>> [b.n_lines for b in read_blocks(io.BytesIO(b"x\\n" * 5), line=2, chunk_lines=3)]
    [2, 3]
    """
    read = getattr(fh, "read1", fh.read)
    cutter = LineCutter(offset=offset, line=line, chunk_lines=chunk_lines)
    while True:
        data = read(READ_SIZE)
        if not data:
            yield from cutter.finish()
            return
        yield from cutter.feed(data, eager)
