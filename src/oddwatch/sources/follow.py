"""Follow a growing file like ``tail -F``: new lines as they are written, across rotations.

At end of file the reader tells ``on_idle`` (everything so far has been yielded: a good
moment to flush output) and polls. A file is recognised by identity *and* content:

- the path names a different file (device, inode) than the one open: ``logrotate``'s
  rename-and-create. The rest of the old file is read to its end first, then the new file
  from its start. Other files that appeared and were rotated away between two polls (two
  rotations) cannot be read in order: they are named in a warning and counted
  (``n_missed_files``, ``n_missed_bytes``).
- same file, but smaller than the read position, or its first bytes (up to
  :data:`PREFIX_BYTES`) differ from those read: truncated in place (``copytruncate``),
  perhaps refilled past the old size before the poll. If a sibling file (``app.log.1``, ...)
  starts with the same bytes and is longer than what was read -- the copy ``copytruncate``
  made -- the lines written after the last poll are read from it first; otherwise they are
  lost, and the warning says so. Then the file is read again from its start.

After a restart, a first line equal to the original file's first line (a CSV header written
again) makes line numbers start over at 1; any other first line continues the numbering, so
a writer that keeps appending records without a header is read with the header already
known. A line is only emitted once its terminator has arrived, except when the reader stops
after ``idle_timeout`` seconds without new data.

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
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from oddwatch.errors import SourceError
from oddwatch.sources._base import MAX_LINE_BYTES, READ_SIZE, LineBlock, LineCutter

__all__ = ["PREFIX_BYTES", "FollowReader"]

PREFIX_BYTES = 4096
_MAX_FIRST_LINE = 1 << 16
_CLOCK_SLACK = 0.05  # file times come from a coarser clock than time.time()


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


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
    max_line_bytes
        Longest line held; a longer one is dropped as it arrives (see ``LineCutter``).
    poll_interval
        Seconds to wait at end of file before looking again.
    idle_timeout
        Stop after this many seconds without new data; ``None`` follows forever.
    on_rotate
        Called with a one-line message on each rotation, truncation or loss.
    on_idle
        Called (no arguments) each time the reader has yielded everything written so far and
        is about to wait: the caller's moment to flush what it wrote for those blocks.
    """

    def __init__(
        self,
        path: str,
        *,
        offset: int = 0,
        line: int = 1,
        identity: tuple[int, int] | None = None,
        chunk_lines: int = 10_000,
        max_line_bytes: int = MAX_LINE_BYTES,
        poll_interval: float = 0.2,
        idle_timeout: float | None = None,
        on_rotate: Callable[[str], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.chunk_lines = chunk_lines
        self.max_line_bytes = max_line_bytes
        self.poll_interval = poll_interval
        self.idle_timeout = idle_timeout
        self.on_rotate = on_rotate or (lambda message: None)
        self.on_idle = on_idle or (lambda: None)
        self.sleep, self.clock = sleep, clock
        self.n_rotations = self.n_truncations = 0
        self.n_missed_files = self.n_missed_bytes = 0
        self._fh = self._open()
        self.identity = _identity(os.fstat(self._fh.fileno()))
        if identity is not None and tuple(identity) != self.identity:
            self.on_rotate(
                f"{path} is not the file the checkpoint refers to (rotated?); "
                "reading it from its start"
            )
            offset, line = 0, 1
        self._fh.seek(offset)
        self._prefix = os.pread(self._fh.fileno(), min(offset, PREFIX_BYTES), 0)
        self._first_line = self._read_first_line() if offset else None
        self._line_shift = 0  # added to the cutter's numbering after a restart
        self._check_restart = False  # decide the numbering when the new first line arrives
        self._restart_line = 1
        self._cutter = LineCutter(
            offset=offset, line=line, chunk_lines=chunk_lines, max_line_bytes=max_line_bytes
        )
        self._seen_current = time.time()

    def _open(self) -> BinaryIO:
        try:
            return open(self.path, "rb")
        except OSError as exc:
            raise SourceError(f"cannot follow {self.path!r}: {exc.strerror or exc}.") from None

    def _read_first_line(self) -> bytes | None:
        head = os.pread(self._fh.fileno(), _MAX_FIRST_LINE, 0)
        end = head.find(b"\n")
        return head[:end].rstrip(b"\r") if end >= 0 else None

    @property
    def position(self) -> dict[str, int]:
        """Byte offset and line number after the last block emitted."""
        return {"offset": self._cutter.offset, "line": self._cutter.line + self._line_shift}

    def close(self) -> None:
        """Close the file being followed."""
        self._fh.close()

    # -- what the path names now ------------------------------------------------------------

    def _path_stat(self) -> os.stat_result | None:
        try:
            return os.stat(self.path)
        except OSError:  # between a rename and the creation of the new file
            return None

    def _read_position(self) -> int:
        return self._cutter.offset + self._cutter.pending

    def _rewritten(self, size: int) -> bool:
        """Whether the open file was truncated (perhaps refilled) since it was read."""
        if size < self._read_position():
            return True
        return os.pread(self._fh.fileno(), len(self._prefix), 0) != self._prefix

    def _siblings(self) -> Iterator[tuple[str, os.stat_result]]:
        """Regular files beside the followed one whose names extend its name."""
        folder, name = os.path.split(os.path.abspath(self.path))
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            if entry.name != name and entry.name.startswith(name):
                try:
                    info = entry.stat()
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    yield entry.path, info

    # -- restarts ---------------------------------------------------------------------------

    def _emit(self, blocks: Iterable[LineBlock]) -> Iterator[LineBlock]:
        """Blocks with the numbering shift applied (decided on a restart's first line)."""
        for block in blocks:
            if self._check_restart:
                self._check_restart = False
                first = block.lines()[0] if block.n_lines else None
                if self._first_line is not None and first != self._first_line:
                    self._line_shift = self._restart_line - 1  # continue the numbering
            if block.first_line == 1 and self._line_shift == 0 and self._first_line is None:
                self._first_line = block.lines()[0]
            if self._line_shift:
                block = LineBlock(
                    block.data, block.first_line + self._line_shift, block.n_lines, block.start
                )
            yield block

    def _restart(self) -> None:
        """Read the open file again from its start, as a new file."""
        self._restart_line = self._cutter.line + self._line_shift
        self._line_shift = 0
        self._check_restart = True
        self._fh.seek(0)
        self._prefix = b""
        self._cutter = LineCutter(chunk_lines=self.chunk_lines, max_line_bytes=self.max_line_bytes)
        self._seen_current = time.time()

    def _find_copy(self, position: int) -> tuple[str, int] | None:
        """A sibling holding the truncated content (same first bytes, longer than read)."""
        for sibling, info in self._siblings():
            if _identity(info) == self.identity or info.st_size <= position:
                continue
            with open(sibling, "rb") as fh:
                if fh.read(len(self._prefix)) == self._prefix:
                    return sibling, info.st_size
        return None

    def _recover_copy(self) -> Iterator[LineBlock]:
        """After a truncation: the lines the old content had past the read position, read
        from a sibling copy of it (``copytruncate``'s), if one exists."""
        position = self._read_position()
        copy = self._find_copy(position)
        if copy is None:
            self.on_rotate(
                f"{self.path} was truncated; reading it from its start (lines written to it "
                "after the last poll, if any, were lost with no copy to read them from)"
            )
        else:
            sibling, size = copy
            self.on_rotate(
                f"{self.path} was truncated; read the {size - position} bytes written after "
                f"the last poll from its copy {sibling}, then the file from its start"
            )
            with open(sibling, "rb") as fh:
                fh.seek(position)
                yield from self._feed_to(fh, size - position)
        yield from self._cutter.finish()

    def _feed_to(self, fh: BinaryIO, n_bytes: int | None = None) -> Iterator[LineBlock]:
        """Blocks from ``fh`` to its end (or ``n_bytes``), a bounded read at a time."""
        left = n_bytes
        while left is None or left > 0:
            data = fh.read(READ_SIZE if left is None else min(READ_SIZE, left))
            if not data:
                return
            if left is not None:
                left -= len(data)
            yield from self._cutter.feed(data)

    def _report_missed(self, new_identity: tuple[int, int]) -> None:
        """Files that were rotated in and out between two polls (never seen at the path)."""
        missed = [
            (path, info)
            for path, info in self._siblings()
            if _identity(info) not in (self.identity, new_identity)
            and info.st_mtime >= self._seen_current - _CLOCK_SLACK
        ]
        if missed:
            self.n_missed_files += len(missed)
            n_bytes = sum(info.st_size for _, info in missed)
            self.n_missed_bytes += n_bytes
            names = ", ".join(sorted(path for path, _ in missed))
            self.on_rotate(
                f"{self.path} was rotated more than once between two looks: "
                f"{len(missed)} file(s) ({names}; {n_bytes} bytes) were never read. Poll more "
                "often (--poll-interval) or rotate less often."
            )

    def _finish_rotated(self) -> Iterator[LineBlock]:
        """The rest of the rotated file, to its end."""
        yield from self._feed_to(self._fh)
        yield from self._cutter.finish()

    def _switch(self, new_identity: tuple[int, int]) -> None:
        """Open the file the path now names, at its start."""
        self._report_missed(new_identity)
        self._fh.close()
        self._fh = self._open()
        self.identity = _identity(os.fstat(self._fh.fileno()))
        self._restart()
        self.n_rotations += 1
        self.on_rotate(f"{self.path} was rotated; following the new file")

    # -- reading ----------------------------------------------------------------------------

    def _read(self) -> bytes:
        start = self._fh.tell()
        data = self._fh.read(READ_SIZE)
        if data and start < PREFIX_BYTES:
            self._prefix += data[: PREFIX_BYTES - start]
        return data

    def blocks(self) -> Iterator[LineBlock]:
        """Yield blocks until ``idle_timeout`` passes without data (or forever)."""
        last_data = self.clock()
        while True:
            if self._rewritten(os.fstat(self._fh.fileno()).st_size):
                self.n_truncations += 1
                yield from self._emit(self._recover_copy())
                self._restart()
                continue
            data = self._read()
            if data:
                last_data = self.clock()
                yield from self._emit(self._cutter.feed(data))
                continue
            yield from self._emit(self._cutter.flush())
            found = self._path_stat()
            if found is not None and _identity(found) != self.identity:
                yield from self._emit(self._finish_rotated())
                self._switch(_identity(found))
                last_data = self.clock()
                continue
            self._seen_current = time.time()
            if self.idle_timeout is not None and self.clock() - last_data >= self.idle_timeout:
                yield from self._emit(self._cutter.finish())
                return
            self.on_idle()
            self.sleep(self.poll_interval)
