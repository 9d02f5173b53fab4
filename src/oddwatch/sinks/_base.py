"""Where results go: a batch of output records, the Sink protocol, and file plumbing.

A sink has one method, ``write(batch)``, plus ``close()``, and is a context manager. File
sinks count the bytes they have written (``position``) and can make them durable
(``sync``: flush and fsync), which is what a checkpoint records; reopened with
``resume_at`` they truncate the file there, so a resumed run appends exactly after the last
checkpoint.

Examples
--------
>>> import numpy as np
>>> batch = OutputBatch(seq=np.array([7]), value=np.array([3.5]), score=np.array([np.nan]),
...                     threshold=np.array([0.9999]), is_anomaly=np.array([False]),
...                     reason=[""], timestamp=["2026-01-01T00:00:00"])
>>> next(batch.rows())
{'seq': 7, 'key': None, 'timestamp': '2026-01-01T00:00:00', 'value': 3.5, 'score': None,
 'is_anomaly': False, 'threshold': 0.9999, 'reason': ''}
"""

from __future__ import annotations

import math
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, BinaryIO, Protocol

import numpy as np
from numpy.typing import NDArray

from oddwatch._typing import BoolArray, FloatArray
from oddwatch.errors import CheckpointError, OddwatchError, SourceError

__all__ = ["FIELDS", "FileSink", "OutputBatch", "Sink", "assemble"]

FIELDS = ("seq", "key", "timestamp", "value", "score", "is_anomaly", "threshold", "reason")


def assemble(parts: Sequence[str | list[str]], n: int) -> str:
    """``n`` rows of text from constant strings and per-row columns, in one ``str.join``.

    A column whose ``n`` entries are all equal counts as constant text. The rows are built by
    interleaving the columns with the constant text between them, which is several times
    faster than formatting row by row.

    Examples
    --------
    >>> assemble(["<", ["1", "2"], "|", ["x", "x"], ">\\n"], 2)
    '<1|x>\\n<2|x>\\n'
    """
    constants = [""]
    columns: list[list[str]] = []
    for part in parts:
        if isinstance(part, str):
            constants[-1] += part
        elif n and part.count(part[0]) == n:
            constants[-1] += part[0]
        else:
            columns.append(part)
            constants.append("")
    if not columns:
        return constants[0] * n
    k = 2 * len(columns) + 1
    pieces: list[str] = [""] * (n * k)
    for j, column in enumerate(columns):
        pieces[2 * j :: k] = [constants[j]] * n
        pieces[2 * j + 1 :: k] = column
    pieces[k - 1 :: k] = [constants[-1]] * n
    return "".join(pieces)


def _number(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class OutputBatch:
    """Output records as columns: one entry per record (see :data:`FIELDS`).

    ``key`` and ``timestamp`` are ``None`` when the input has no such column; ``nan`` floats
    are written as ``null`` (JSON) or an empty field (CSV). ``expected`` and ``scale`` (the
    detector's forecast and residual scale, ``nan`` where it has none; together an expected
    band) are for live views and reports; file sinks do not write them.
    """

    seq: NDArray[np.int64]
    value: FloatArray
    score: FloatArray
    threshold: FloatArray
    is_anomaly: BoolArray
    reason: list[str]
    key: NDArray[np.str_] | None = None
    timestamp: Sequence[str] | None = None
    expected: FloatArray | None = None
    scale: FloatArray | None = None

    def __len__(self) -> int:
        return int(self.seq.shape[0])

    def select(self, mask: BoolArray) -> OutputBatch:
        """The records where ``mask`` is True."""
        where = np.flatnonzero(mask)
        return OutputBatch(
            self.seq[where],
            self.value[where],
            self.score[where],
            self.threshold[where],
            self.is_anomaly[where],
            [self.reason[i] for i in where.tolist()],
            None if self.key is None else self.key[where],
            None if self.timestamp is None else [self.timestamp[i] for i in where.tolist()],
            None if self.expected is None else self.expected[where],
            None if self.scale is None else self.scale[where],
        )

    def rows(self) -> Iterator[dict[str, Any]]:
        """One plain dict per record, ``None`` for missing values."""
        for i in range(len(self)):
            yield {
                "seq": int(self.seq[i]),
                "key": None if self.key is None else str(self.key[i]),
                "timestamp": None if self.timestamp is None else self.timestamp[i],
                "value": _number(float(self.value[i])),
                "score": _number(float(self.score[i])),
                "is_anomaly": bool(self.is_anomaly[i]),
                "threshold": _number(float(self.threshold[i])),
                "reason": self.reason[i],
            }


class Sink(Protocol):
    """Receives output batches in order; ``close`` flushes and releases it.

    :func:`oddwatch.pipeline.run` also calls, when a sink has them: ``observe(stats)`` after
    every batch with the run's counters; ``flush()`` after every batch when asked to; and
    ``sync()``/``position``/``resume(position)`` to checkpoint and resume file output.
    """

    def write(self, batch: OutputBatch) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Sink: ...

    def __exit__(self, *exc: object) -> None: ...


class FileSink:
    """Bytes to a file or stdout, with a byte position and truncate-on-resume.

    Subclasses implement ``_encode(batch) -> bytes`` and may write a ``_header()`` at the
    start of the file. A file is opened at construction (so a bad path fails at once) but
    only emptied when the first batch is written (or at ``close``): a run that resumes from
    a checkpoint calls :meth:`resume` first, which keeps the bytes written before it.

    Parameters
    ----------
    target
        A path, ``"-"`` for standard output, or an open binary stream.
    resume_at
        Reopen an existing file and cut it to this many bytes (same as calling
        :meth:`resume`).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from oddwatch.sinks import CsvSink
    >>> path = os.path.join(tempfile.mkdtemp(), "out.csv")
    >>> with CsvSink(path) as sink:
    ...     pass
    >>> os.path.getsize(path)
    58
    >>> with CsvSink(path, resume_at=58) as sink:  # header kept, not written again
    ...     sink.position
    58
    """

    def __init__(self, target: str | BinaryIO = "-", *, resume_at: int | None = None) -> None:
        self.target = target
        self._owned = isinstance(target, str) and target != "-"
        if isinstance(target, str):
            self._fh: BinaryIO = self._open(target) if self._owned else sys.stdout.buffer
        else:
            self._fh = target
        self.position = 0
        self._started = False
        if resume_at is not None:
            self.resume(resume_at)

    @property
    def resumable(self) -> bool:
        """Whether :meth:`resume` can cut the output back (a file this sink opened)."""
        return self._owned

    @staticmethod
    def _open(path: str) -> BinaryIO:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise SourceError(f"cannot write {path!r}: {exc.strerror or exc}.") from None
        return os.fdopen(fd, "r+b")

    def resume(self, position: int) -> None:
        """Continue a file after its first ``position`` bytes (cut off the rest).

        Must come before the first write. Standard output and streams cannot be cut: for
        them this is a no-op (the output is repeated from the checkpoint on).
        """
        if self._started:
            raise OddwatchError("FileSink.resume must be called before the first write.")
        if not self._owned:
            return
        fh = self._fh
        size = os.fstat(fh.fileno()).st_size
        if size < position:
            fh.close()
            raise CheckpointError(
                f"{self.target} has {size} bytes but the checkpoint says {position} were "
                "written: it was changed since. Delete the checkpoint to start over."
            )
        if stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            fh.truncate(position)
        fh.seek(position)
        self.position = position
        self._started = True

    def _start(self) -> None:
        """Empty the file (if this sink opened it) and write the header, once."""
        if self._started:
            return
        self._started = True
        if self._owned and stat.S_ISREG(os.fstat(self._fh.fileno()).st_mode):
            with self._errors():
                self._fh.truncate(0)
        self._put(self._header())

    def _header(self) -> bytes:
        return b""

    def _encode(self, batch: OutputBatch) -> bytes:
        raise NotImplementedError

    def _put(self, data: bytes) -> None:
        if data:
            with self._errors():
                self._fh.write(data)
            self.position += len(data)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn a failed write (disk full, ...) into a one-line error; a closed pipe stays."""
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as exc:
            name = self.target if isinstance(self.target, str) else "the output"
            raise OddwatchError(f"cannot write to {name}: {exc.strerror or exc}.") from None

    def write(self, batch: OutputBatch) -> None:
        """Append the records of ``batch``."""
        self._start()
        if len(batch):
            self._put(self._encode(batch))

    def flush(self) -> None:
        """Hand buffered bytes to the operating system."""
        with self._errors():
            self._fh.flush()

    def sync(self) -> None:
        """Flush and fsync (a no-op fsync for pipes and terminals)."""
        self._start()
        with self._errors():
            self._fh.flush()
            if self._owned:
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Write the header if nothing was written yet, flush, and close the file if this
        sink opened it."""
        self._close(start=True)

    def _close(self, start: bool) -> None:
        try:
            if start:
                self._start()
            with self._errors():
                self._fh.flush()
        finally:
            if self._owned:
                self._fh.close()

    def __enter__(self) -> FileSink:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close; after an error, a file not written to yet is left as it was."""
        self._close(start=exc is None)
