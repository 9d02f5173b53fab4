"""Follow a growing file like ``tail -F``: new lines as they are written, across rotations.

At end of file the reader polls. When the path names a different file than the one open
(``logrotate``'s rename-and-create: compared by device and inode), the rest of the old file
is read to its end first, then the new file from its start (line numbers restart at 1). A
file that shrinks below the read position was truncated in place (``copytruncate``) and is
read again from its start. A line is only emitted once its terminator has arrived, except
when the reader stops after ``idle_timeout`` seconds without new data.

Examples
--------
>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "app.log")
>>> with open(path, "wb") as fh:
...     _ = fh.write(b"1\\n2\\n3")
>>> reader = FollowReader(path, idle_timeout=0.0, poll_interval=0.0)
>>> [block.lines() for block in reader.blocks()]
[[b'1', b'2'], [b'3']]
>>> reader.close()
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from oddwatch.errors import SourceError
from oddwatch.sources._base import READ_SIZE, LineBlock, LineCutter

__all__ = ["FollowReader"]


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


class FollowReader:
    """Blocks of whole lines from a file that keeps growing and may be rotated.

    Parameters
    ----------
    path
        The file to follow; it must exist when reading starts.
    offset, line
        Where to start in it (a resumed run), with the line number there.
    identity
        ``(device, inode)`` the offset refers to; if the path now names another file, that
        file is read from its start instead (``on_rotate`` is told).
    chunk_lines
        Most lines per block.
    poll_interval
        Seconds to wait at end of file before looking again.
    idle_timeout
        Stop after this many seconds without new data; ``None`` follows forever.
    on_rotate
        Called with a one-line message on each rotation or truncation.
    """

    def __init__(
        self,
        path: str,
        *,
        offset: int = 0,
        line: int = 1,
        identity: tuple[int, int] | None = None,
        chunk_lines: int = 10_000,
        poll_interval: float = 0.2,
        idle_timeout: float | None = None,
        on_rotate: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.chunk_lines = chunk_lines
        self.poll_interval = poll_interval
        self.idle_timeout = idle_timeout
        self.on_rotate = on_rotate or (lambda message: None)
        self.sleep, self.clock = sleep, clock
        self.n_rotations = 0
        self._fh = self._open()
        self.identity = _identity(os.fstat(self._fh.fileno()))
        if identity is not None and tuple(identity) != self.identity:
            self.on_rotate(
                f"{path} is not the file the checkpoint refers to (rotated?); "
                "reading it from its start"
            )
            offset, line = 0, 1
        self._fh.seek(offset)
        self._cutter = LineCutter(offset=offset, line=line, chunk_lines=chunk_lines)

    def _open(self) -> BinaryIO:
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise SourceError(f"cannot follow {self.path!r}: {exc.strerror or exc}.") from None

    @property
    def position(self) -> dict[str, int]:
        """Byte offset and line number after the last block emitted."""
        return {"offset": self._cutter.offset, "line": self._cutter.line}

    def close(self) -> None:
        """Close the file being followed."""
        self._fh.close()

    def _path_identity(self) -> tuple[tuple[int, int], int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:  # between a rename and the creation of the new file
            return None
        return _identity(stat), stat.st_size

    def _switch(self) -> list[LineBlock]:
        """Finish the rotated file; open the new one at its start."""
        blocks = self._cutter.feed(self._fh.read()) + self._cutter.finish()
        self._fh.close()
        self._fh = self._open()
        self.identity = _identity(os.fstat(self._fh.fileno()))
        self._cutter = LineCutter(chunk_lines=self.chunk_lines)
        self.n_rotations += 1
        self.on_rotate(f"{self.path} was rotated; following the new file")
        return blocks

    def blocks(self) -> Iterator[LineBlock]:
        """Yield blocks until ``idle_timeout`` passes without data (or forever)."""
        last_data = self.clock()
        while True:
            data = self._fh.read(READ_SIZE)
            if data:
                last_data = self.clock()
                yield from self._cutter.feed(data)
                continue
            yield from self._cutter.flush()
            found = self._path_identity()
            if found is not None and found[0] != self.identity:
                yield from self._switch()
                last_data = self.clock()
                continue
            if found is not None and found[1] < self._cutter.offset + self._cutter.pending:
                self.on_rotate(f"{self.path} was truncated; reading it from its start")
                self._fh.seek(0)
                self._cutter = LineCutter(chunk_lines=self.chunk_lines)
                continue
            if self.idle_timeout is not None and self.clock() - last_data >= self.idle_timeout:
                yield from self._cutter.finish()
                return
            self.sleep(self.poll_interval)
