"""Keys (text) to small integer slots in bulk, for sinks that group records by key."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["KeyIndex", "key_hashes"]

_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def key_hashes(keys: NDArray[Any]) -> NDArray[np.uint64]:
    """A 64-bit FNV-1a hash of each key's characters, computed column by column.

    Two keys share a hash with probability about ``n**2 / 2**65`` (1e-10 for 100,000 keys);
    the dashboard would then show them as one key.

    Examples
    --------
    >>> h = key_hashes(np.array(["a", "b", "a"]))
    >>> bool(h[0] == h[2]), bool(h[0] == h[1])
    (True, False)
    >>> bool(key_hashes(np.array(["ab"]))[0] == key_hashes(np.array(["ab", "abcdef"]))[0])
    True
    """
    array = np.ascontiguousarray(keys if keys.dtype.kind == "U" else keys.astype(str))
    width = array.dtype.itemsize // 4
    codes = array.view(np.uint32).reshape(len(array), width)
    hashes = np.full(len(array), _FNV_OFFSET, dtype=np.uint64)
    for j in range(width):
        column = codes[:, j].astype(np.uint64)
        hashes = np.where(column != 0, (hashes ^ column) * _FNV_PRIME, hashes)
    return hashes


class KeyIndex:
    """Gives each distinct key a slot 0, 1, 2, ... in order of first appearance.

    Lookups are vectorised: keys are hashed in bulk (:func:`key_hashes`) and found in a
    sorted table by binary search, so a batch costs no Python loop per record. Keys past
    ``max_keys`` get slot -1.

    Examples
    --------
    >>> index = KeyIndex(max_keys=3)
    >>> index.slots(np.array(["b", "a", "b"])).tolist()
    [0, 1, 0]
    >>> index.slots(np.array(["c", "d", "a"])).tolist(), index.names
    ([2, -1, 1], ['b', 'a', 'c'])
    >>> index.slot_of("c"), index.slot_of("d")
    (2, None)
    """

    def __init__(self, max_keys: int = 1_000_000) -> None:
        self.max_keys = max_keys
        self.names: list[str] = []
        self._hashes = np.zeros(0, dtype=np.uint64)  # sorted
        self._slots = np.zeros(0, dtype=np.int64)  # slot of each sorted hash

    def __len__(self) -> int:
        return len(self.names)

    def _find(self, hashes: NDArray[np.uint64]) -> NDArray[np.int64]:
        if not len(self._hashes):
            return np.full(len(hashes), -1, dtype=np.int64)
        where = np.minimum(np.searchsorted(self._hashes, hashes), len(self._hashes) - 1)
        return np.where(self._hashes[where] == hashes, self._slots[where], -1)

    def slots(self, keys: NDArray[Any]) -> NDArray[np.int64]:
        """The slot of each key; new keys get the next slots while there is room."""
        hashes = key_hashes(keys)
        slots = self._find(hashes)
        missing = slots < 0
        if not missing.any():
            return slots
        new, first = np.unique(hashes[missing], return_index=True)
        by_arrival = np.argsort(first, kind="stable")
        room = max(0, self.max_keys - len(self.names))
        new, first = new[by_arrival][:room], first[by_arrival][:room]
        if len(new):
            base = len(self.names)
            self.names.extend(str(k) for k in keys[missing][first].tolist())
            table = np.concatenate([self._hashes, new])
            slot = np.concatenate([self._slots, np.arange(base, base + len(new))])
            order = np.argsort(table, kind="stable")
            self._hashes, self._slots = table[order], slot[order]
            slots[missing] = self._find(hashes[missing])
        return slots

    def slot_of(self, key: str) -> int | None:
        """The slot of one key, or None if it was never seen (or did not fit)."""
        slot = int(self._find(key_hashes(np.array([key])))[0])
        return None if slot < 0 else slot
