"""The key -> slot hash table of :class:`~oddwatch.KeyedMonitor`, as arrays and numba kernels.

``table[slot]``: the key's code points, zero padded. ``index``: linear-probing hash table of
``(slot + 1, hash)`` pairs (0 = empty bucket), at most half full. ``queue``: slots sorted by
last-seen time at the last sort, with that time; an entry whose slot was seen since is stale,
so the first fresh entry is the least recently seen slot, and an empty queue is re-sorted.
``last_seen[slot]``: the clock (valid points learned) when the slot's key was last seen.
"""

from __future__ import annotations

import numba
import numpy as np

from oddwatch.config import NUMBA_OPTIONS

__all__ = [
    "assign",
    "assign_one",
    "by_hash",
    "hash_keys",
    "rebuild",
    "sweep_order",
    "verify_and_touch",
]

# indices into KeyedMonitor's counters: points seen, skipped and flagged as invalid (kept by
# the monitor), keys evicted and keys in the table (kept by :func:`assign`)
N_SEEN, N_SKIPPED, N_FLAGGED, N_EVICTED, N_KEYS = range(5)
_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@numba.jit(**NUMBA_OPTIONS)
def _hash_key(codes: np.ndarray, i: int) -> np.uint64:
    """FNV-1a over the code points of row ``i``, trailing zero padding excluded."""
    n = codes.shape[1]
    while n > 0 and codes[i, n - 1] == 0:
        n -= 1
    h = _FNV_OFFSET
    for j in range(n):
        h = (h ^ np.uint64(codes[i, j])) * _FNV_PRIME
    return h ^ (h >> np.uint64(29))


@numba.jit(**NUMBA_OPTIONS)
def _same_key(table: np.ndarray, s: int, codes: np.ndarray, i: int) -> bool:
    width = codes.shape[1]
    for j in range(table.shape[1]):
        if table[s, j] != (codes[i, j] if j < width else 0):
            return False
    return True


@numba.jit(**NUMBA_OPTIONS)
def _find(
    index: np.ndarray, table: np.ndarray, codes: np.ndarray, i: int, h: np.uint64
) -> np.int64:
    """The bucket holding row ``i``'s key, or the empty bucket where it belongs."""
    mask = index.shape[0] - 1
    b = np.int64(h & np.uint64(mask))
    while index[b, 0] != 0:
        if index[b, 1] == h and _same_key(table, np.int64(index[b, 0]) - 1, codes, i):
            break
        b = (b + 1) & mask
    return b


@numba.jit(**NUMBA_OPTIONS)
def _unindex(index: np.ndarray, table: np.ndarray, slot: int) -> None:
    """Remove ``slot`` from the index by backward shifting (no tombstones)."""
    mask = index.shape[0] - 1
    hole = np.int64(_hash_key(table, slot) & np.uint64(mask))
    while index[hole, 0] != np.uint64(slot + 1):
        hole = (hole + 1) & mask
    j = hole
    while True:
        j = (j + 1) & mask
        if index[j, 0] == 0:
            break
        home = np.int64(index[j, 1] & np.uint64(mask))
        if ((j - home) & mask) >= ((j - hole) & mask):
            index[hole] = index[j]
            hole = j
    index[hole] = 0


@numba.jit(**NUMBA_OPTIONS)
def _least_recent(last_seen: np.ndarray, queue: np.ndarray, cursor: np.ndarray) -> int:
    """The slot seen least recently (every slot is in use)."""
    while True:
        while cursor[0] < cursor[1]:
            j = cursor[0]
            cursor[0] += 1
            if last_seen[queue[0, j]] == queue[1, j]:
                return int(queue[0, j])
        queue[0] = np.argsort(last_seen)
        queue[1] = last_seen[queue[0]]
        cursor[0] = 0
        cursor[1] = last_seen.shape[0]


@numba.jit(**NUMBA_OPTIONS)
def assign(
    codes: np.ndarray,
    hashes: np.ndarray,
    table: np.ndarray,
    index: np.ndarray,
    queue: np.ndarray,
    cursor: np.ndarray,
    counters: np.ndarray,
    last_seen: np.ndarray,
    clock: int,
    slots: np.ndarray,
    fresh: np.ndarray,
) -> None:
    """Map each key to its slot in order; a new key takes a free or the least recent slot."""
    width = codes.shape[1]
    for i in range(codes.shape[0]):
        b = _find(index, table, codes, i, hashes[i])
        fresh[i] = index[b, 0] == 0
        if fresh[i]:
            if counters[N_KEYS] < table.shape[0]:
                s = counters[N_KEYS]
                counters[N_KEYS] += 1
            else:
                s = _least_recent(last_seen, queue, cursor)
                _unindex(index, table, s)
                counters[N_EVICTED] += 1
                b = _find(index, table, codes, i, hashes[i])
            table[s, :width] = codes[i]
            table[s, width:] = 0
            index[b, 0] = s + 1
            index[b, 1] = hashes[i]
        else:
            s = np.int64(index[b, 0]) - 1
        last_seen[s] = clock + i
        slots[i] = s


@numba.jit(**NUMBA_OPTIONS)
def hash_keys(codes: np.ndarray) -> np.ndarray:
    hashes = np.empty(codes.shape[0], dtype=np.uint64)
    for i in range(codes.shape[0]):
        hashes[i] = _hash_key(codes, i)
    return hashes


@numba.jit(**NUMBA_OPTIONS)
def by_hash(hashes: np.ndarray, index: np.ndarray, slots: np.ndarray) -> bool:
    """Fast path, step 1: the slot of the first entry with each hash; False if one is absent."""
    mask = index.shape[0] - 1
    for i in range(hashes.shape[0]):
        b = np.int64(hashes[i] & np.uint64(mask))
        while index[b, 1] != hashes[i]:
            if index[b, 0] == 0:
                return False
            b = (b + 1) & mask
        if index[b, 0] == 0:
            return False
        slots[i] = np.int64(index[b, 0]) - 1
    return True


@numba.jit(**NUMBA_OPTIONS)
def verify_and_touch(
    codes: np.ndarray,
    table: np.ndarray,
    order: np.ndarray,
    slots: np.ndarray,
    last_seen: np.ndarray,
    clock: int,
) -> bool:
    """Fast path, step 2: check every key against its slot's, in ``order``; then touch them."""
    for i in order:
        if not _same_key(table, slots[i], codes, i):
            return False
    for i in order:
        last_seen[slots[i]] = clock + i
    return True


@numba.jit(**NUMBA_OPTIONS)
def rebuild(table: np.ndarray, n: int, index: np.ndarray) -> None:
    """Index the keys of slots ``[0, n)``."""
    for s in range(n):
        h = _hash_key(table, s)
        b = _find(index, table, table, s, h)
        index[b, 0] = s + 1
        index[b, 1] = h


@numba.jit(**NUMBA_OPTIONS)
def sweep_order(slots: np.ndarray, n_slots: int) -> np.ndarray:
    """Point indices sorted by slot, each slot's points in their order (a counting sort)."""
    start = np.zeros(n_slots + 1, dtype=np.int64)
    for s in slots:
        start[s + 1] += 1
    for s in range(n_slots):
        start[s + 1] += start[s]
    order = np.empty(slots.shape[0], dtype=np.int64)
    for i in range(slots.shape[0]):
        order[start[slots[i]]] = i
        start[slots[i]] += 1
    return order


@numba.jit(**NUMBA_OPTIONS)
def assign_one(
    codes: np.ndarray,
    table: np.ndarray,
    index: np.ndarray,
    queue: np.ndarray,
    cursor: np.ndarray,
    counters: np.ndarray,
    last_seen: np.ndarray,
    slot: np.ndarray,
    fresh: np.ndarray,
) -> None:
    """:func:`assign` for one key (``codes`` of shape ``(1, width)``), counting the point seen.

    The clock is the number of valid points learned before this one.
    """
    clock = counters[N_SEEN] - counters[N_SKIPPED] - counters[N_FLAGGED]
    assign(
        codes,
        hash_keys(codes),
        table,
        index,
        queue,
        cursor,
        counters,
        last_seen,
        clock,
        slot,
        fresh,
    )
    counters[N_SEEN] += 1
