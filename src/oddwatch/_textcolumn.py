"""A column of short texts kept as byte ranges of one buffer, decoded only when read.

Parsers cut timestamps out of a block of input without making a Python string per record;
writers copy the bytes straight into their output. Reading an item decodes it as UTF-8
(invalid bytes become U+FFFD), as a list of strings would hold it.

Examples
--------
>>> import numpy as np
>>> column = TextColumn(b"t0,1\\nt1,2\\n", np.array([0, 5]), np.array([2, 7]))
>>> len(column), column[1], list(column[:1]), column.take(np.array([1, 1])).tolist()
(2, 't1', ['t0'], ['t1', 't1'])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np
from numpy.typing import NDArray

__all__ = ["TextColumn", "texts_of"]


class TextColumn(Sequence[str]):
    """Item ``i`` is ``data[start[i]:stop[i]]`` decoded as UTF-8."""

    def __init__(self, data: bytes, start: NDArray[np.int64], stop: NDArray[np.int64]) -> None:
        self.data = data
        self.start = start
        self.stop = stop

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> TextColumn: ...

    def __getitem__(self, i: int | slice) -> str | TextColumn:
        if isinstance(i, slice):
            return TextColumn(self.data, self.start[i], self.stop[i])
        return self.data[int(self.start[i]) : int(self.stop[i])].decode("utf-8", "replace")

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, TextColumn)):
            return self.tolist() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def take(self, where: NDArray[np.intp]) -> TextColumn:
        """The items at positions ``where``."""
        return TextColumn(self.data, self.start[where], self.stop[where])

    def tolist(self) -> list[str]:
        """All items as strings."""
        data = self.data
        texts = [data[a:b] for a, b in zip(self.start.tolist(), self.stop.tolist(), strict=True)]
        joined = b"\x00".join(texts).decode("utf-8", "replace").split("\x00")
        if len(joined) == len(texts):
            return joined
        return [t.decode("utf-8", "replace") for t in texts]


def texts_of(column: Sequence[str]) -> list[str]:
    """A sequence of strings as a list (a TextColumn decoded in one go)."""
    return column.tolist() if isinstance(column, TextColumn) else list(column)
