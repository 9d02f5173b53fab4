"""What the dashboard knows: per-key surprise by time bucket, tracked series, alerts, counters.

:class:`Board` is fed output batches by the detection thread and read by the web server's
threads. Feeding is cheap and never waits: :meth:`Board.submit` notes the flagged rows and queues
the batch; a worker thread wakes a few times a second and folds the queued batches into
bounded arrays. The worker's CPU time is capped at ``max_busy`` times the CPU time of the
thread that feeds it (detection; 2% by default), or 0.2% of one CPU if that is more (slow
streams): past that budget a batch is only scanned for its flags (alerts are never dropped)
and counted as sampled out. So the dashboard costs a bounded share of detection's CPU
however loaded the machine is.

Memory is bounded by ``max_keys * n_buckets`` floats for the heat map plus
``tracked * history`` points for the series that can be drilled into.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oddwatch._keyhash import KeyIndex, key_hashes
from oddwatch.sinks._base import OutputBatch

__all__ = ["SINGLE_SERIES", "Board", "key_hashes", "severity"]

SINGLE_SERIES = "(series)"
_SEVERITY_CAP = 100.0
_SEVERITY_BINS = (0.25, 0.5, 1.0)


def severity(score: NDArray[np.float64], threshold: NDArray[np.float64]) -> NDArray[np.float32]:
    """Score over threshold (1 = at the alarm level), 0 where either is missing.

    Examples
    --------
    >>> severity(np.array([0.4, 0.9, np.nan]), np.array([0.8, 0.8, 0.8])).tolist()
    [0.5, 1.125, 0.0]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(threshold > 0, score / threshold, np.nan)
    ratio = np.nan_to_num(ratio, nan=0.0, posinf=_SEVERITY_CAP, neginf=0.0)
    return np.clip(ratio, 0.0, _SEVERITY_CAP).astype(np.float32)


def _finite(x: float) -> float | None:
    return round(x, 6) if math.isfinite(x) else None


@dataclass
class _Pending:
    """A queued batch and its flagged rows (taken at submit time)."""

    batch: OutputBatch
    flagged: NDArray[np.int64]
    wall: float
    feeder_cpu: float  # CPU seconds of the thread that submitted it, at submit time


class Board:
    """Bounded, thread-safe summary of a monitored stream for the dashboard.

    Parameters
    ----------
    max_keys
        Keys kept in the overview; records of further keys are counted, not shown.
    tracked
        Keys whose recent points are kept for drill-down: the first keys seen, then the
        most recently flagged or requested ones.
    history
        Points kept per tracked key.
    n_buckets, bucket_seconds
        The overview's time axis: ``n_buckets`` columns of ``bucket_seconds`` of wall time.
    max_alerts
        Alerts kept (the newest).
    max_busy
        CPU time the worker may spend folding batches in, as a share of the feeding
        thread's CPU time (a token bucket holding at most ``burst`` seconds); past it,
        batches are only scanned for flags.
    slow_share
        The budget's floor, as a share of wall time: a slow stream, whose detection takes
        little CPU, is still folded in full.
    burst
        CPU seconds the worker may spend at once (at start, and after quiet spells).
    interval
        Seconds between the worker's wake-ups.
    band_sd
        Half-width of the expected band in units of the detector's scale.

    Examples
    --------
    >>> board = Board()
    >>> batch = OutputBatch(seq=np.arange(3), value=np.array([1.0, 1.0, 9.0]),
    ...                     score=np.array([0.1, 0.1, 0.95]), threshold=np.full(3, 0.9),
    ...                     is_anomaly=np.array([False, False, True]),
    ...                     reason=["", "", "9 is 8.0 sd above the expected 1"],
    ...                     key=np.array(["a", "b", "a"]))
    >>> board.submit(batch)
    >>> board.drain()
    >>> overview = board.overview(n_lanes=5)
    >>> [lane["key"] for lane in overview["lanes"]], overview["alerts"][0]["reason"]
    (['a', 'b'], '9 is 8.0 sd above the expected 1')
    >>> board.series("a")["value"]
    [1.0, 9.0]
    """

    def __init__(
        self,
        max_keys: int = 1_000_000,
        tracked: int = 2_000,
        history: int = 600,
        n_buckets: int = 60,
        bucket_seconds: float = 1.0,
        max_alerts: int = 500,
        max_busy: float = 0.02,
        slow_share: float = 0.002,
        burst: float = 0.005,
        interval: float = 0.4,
        band_sd: float = 3.0,
    ) -> None:
        self.max_keys = max_keys
        self.tracked = tracked
        self.history = history
        self.n_buckets = n_buckets
        self.bucket_seconds = bucket_seconds
        self.max_alerts = max_alerts
        self.max_busy = max_busy
        self.slow_share = slow_share
        self.burst = burst
        self.interval = interval
        self._tokens = burst
        self._refilled = time.monotonic()
        self._feeder_cpu: float | None = None
        self._seen_counters: object = None
        self._cache: tuple[int, int, dict[str, Any]] | None = None
        self.band_sd = band_sd
        self.changed = threading.Condition()
        self.version = 0
        self._lock = threading.RLock()  # the folded state: worker vs. readers, never submit()
        self._pending: deque[_Pending] = deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        # per key (slot)
        self._index = KeyIndex(max_keys)
        self._single_slot: int | None = None  # the slot of SINGLE_SERIES, once it has one
        self._names = self._index.names
        self._heat = np.zeros((n_buckets, 0), dtype=np.float32)  # a row per time bucket
        self._n_points = np.zeros(0, dtype=np.int64)
        self._n_flags = np.zeros(0, dtype=np.int64)
        self._last_value = np.zeros(0, dtype=np.float64)
        self._last_severity = np.zeros(0, dtype=np.float32)
        self._recent = np.zeros(0, dtype=np.float32)  # max of each key's heat, kept up to date
        self._track_of = np.zeros(0, dtype=np.int64)  # slot -> tracked row or -1
        # per tracked key (row)
        self._row_slot = np.full(tracked, -1, dtype=np.int64)
        self._row_interest = np.zeros(tracked, dtype=np.float64)
        self._row_count = np.zeros(tracked, dtype=np.int64)
        self._ring_seq = np.zeros((tracked, history), dtype=np.int64)
        self._ring = np.full((4, tracked, history), np.nan)  # value, expected, scale, score
        self._ring_threshold = np.full((tracked, history), np.nan)
        self._ring_flag = np.zeros((tracked, history), dtype=bool)
        self._ring_time: NDArray[np.object_] = np.full((tracked, history), None, dtype=object)
        self._ring_reason: NDArray[np.object_] = np.full((tracked, history), "", dtype=object)
        # time buckets
        self._bucket = self._bucket_of(time.time())
        self._bucket_end_time = np.full(n_buckets, "", dtype=object)
        self._overall = np.zeros(n_buckets, dtype=np.float32)  # max over keys, per column
        # alerts and counters
        self._alerts: deque[dict[str, Any]] = deque(maxlen=max_alerts)
        self._alert_id = 0
        self.counters: dict[str, float] = {}
        self.n_records = 0
        self.n_folded = 0
        self.n_sampled_out = 0
        self.n_batches = 0
        self.n_over_max_keys = 0
        self.started = time.time()
        self.fold_seconds = 0.0

    # -- feeding (detection thread) -------------------------------------------------------

    def submit(self, batch: OutputBatch) -> None:
        """Queue a batch; never blocks on the worker. Its flags become alerts right away."""
        if not len(batch):
            return
        flagged = np.flatnonzero(batch.is_anomaly)
        pending = _Pending(batch, flagged, time.time(), time.thread_time())
        self._pending.append(pending)  # atomic, no lock

    def observe(self, stats: Mapping[str, float]) -> None:
        """Record the pipeline's counters (flat names, e.g. ``records_read``)."""
        # one reference swap; non-finite values (e.g. "no gap yet") are left out of JSON
        self.counters = {k: float(v) for k, v in stats.items() if math.isfinite(v)}

    # -- the worker -------------------------------------------------------------------------

    def start(self) -> Board:
        """Start the worker thread that folds queued batches in."""
        if self._worker is None:
            self._stop.clear()
            self._worker = threading.Thread(target=self._run, name="oddwatch-board", daemon=True)
            self._worker.start()
        return self

    def stop(self) -> None:
        """Fold what is queued, then stop the worker."""
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self.drain()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            self.drain()

    def drain(self) -> None:
        """Fold every queued batch in (fully while the CPU budget lasts, else flags only)."""
        pending = []
        while self._pending:
            pending.append(self._pending.popleft())
        now = time.monotonic()
        feeder = 0.0  # CPU seconds the feeding thread spent since the last drain
        for item in pending:
            if self._feeder_cpu is not None and item.feeder_cpu >= self._feeder_cpu:
                feeder += item.feeder_cpu - self._feeder_cpu
            self._feeder_cpu = item.feeder_cpu
        self._refill(max(self.max_busy * feeder, self.slow_share * (now - self._refilled)))
        self._refilled = now
        for item in pending:
            full = self._tokens > 0.0
            tick = time.thread_time()
            with self._lock:
                self._fold(item, full)
            spent = time.thread_time() - tick
            self.fold_seconds += spent
            self._tokens -= spent if full else 0.0
        with self._lock:
            bucket = self._bucket
            self._advance(time.time())
            moved = self._bucket != bucket  # the heat map's window moved on: the page too
        if pending or moved or self.counters is not self._seen_counters:
            self._seen_counters = self.counters
            with self.changed:
                self.version += 1
                self.changed.notify_all()

    def _refill(self, seconds: float) -> None:
        self._tokens = min(self.burst, self._tokens + seconds)

    def _bucket_of(self, wall: float) -> int:
        return int(wall // self.bucket_seconds)

    def _advance(self, wall: float) -> int:
        """Move the heat map's current column to ``wall`` time, clearing skipped columns."""
        bucket = self._bucket_of(wall)
        if bucket > self._bucket:
            steps = min(bucket - self._bucket, self.n_buckets)
            for b in range(bucket - steps + 1, bucket + 1):
                self._clear(b % self.n_buckets)
            self._bucket = bucket
        return bucket % self.n_buckets

    def _clear(self, col: int) -> None:
        """Empty a heat map column; keys whose highest surprise was in it get theirs anew."""
        heat, recent = self._heat, self._recent
        lost = np.flatnonzero((heat[col] >= recent) & (recent > 0))
        heat[col] = 0.0
        recent[lost] = heat[:, lost].max(axis=0) if len(lost) else 0.0
        self._bucket_end_time[col] = ""
        self._overall[col] = 0.0

    def _slots(self, keys: NDArray[Any]) -> NDArray[np.int64]:
        """Slot of each key (new keys get one; -1 past ``max_keys``)."""
        slots = self._index.slots(keys)
        self._grow(len(self._index))
        return slots

    def _slot_of(self, key: str) -> int | None:
        return self._index.slot_of(key)

    def _grow(self, n: int) -> None:
        have = self._n_points.shape[0]
        if n <= have:
            return
        size = max(n, 2 * have, 64)
        heat = np.zeros((self.n_buckets, size), dtype=np.float32)
        heat[:, :have] = self._heat
        self._heat = heat

        def extend(a: NDArray[Any], fill: Any) -> NDArray[Any]:
            out = np.full((size, *a.shape[1:]), fill, dtype=a.dtype)
            out[:have] = a
            return out

        self._n_points = extend(self._n_points, 0)
        self._n_flags = extend(self._n_flags, 0)
        self._last_value = extend(self._last_value, np.nan)
        self._last_severity = extend(self._last_severity, 0.0)
        self._recent = extend(self._recent, 0.0)
        self._track_of = extend(self._track_of, -1)

    def _fold(self, item: _Pending, full: bool) -> None:
        batch = item.batch
        n = len(batch)
        self.n_records += n
        self.n_batches += 1
        col = self._advance(item.wall)
        if batch.timestamp is not None:
            self._bucket_end_time[col] = batch.timestamp[-1]
        keys = batch.key
        rows = np.arange(n) if full else item.flagged
        if not full:
            self.n_sampled_out += n - len(rows)
        if not len(rows):
            return
        self.n_folded += len(rows)
        if keys is None:
            self._fold_one_series(item, rows, col)
            return
        slots = self._slots(keys if full else keys[rows])
        score, threshold, value, flag = (
            (batch.score, batch.threshold, batch.value, batch.is_anomaly)
            if full
            else (
                batch.score[rows],
                batch.threshold[rows],
                batch.value[rows],
                batch.is_anomaly[rows],
            )
        )
        known = slots >= 0
        if not known.all():
            self.n_over_max_keys += int(np.count_nonzero(~known))
            rows, slots = rows[known], slots[known]
            score, threshold, value, flag = (
                score[known],
                threshold[known],
                value[known],
                flag[known],
            )
        sev = severity(score, threshold)
        np.maximum.at(self._heat[col], slots, sev)
        np.maximum.at(self._recent, slots, sev)
        if len(sev):
            self._overall[col] = max(self._overall[col], float(sev.max()))
        counts = np.bincount(slots)
        self._n_points[: len(counts)] += counts
        if flag.any():
            np.add.at(self._n_flags, slots[flag], 1)
        self._last_value[slots] = value  # the last write per slot wins
        self._last_severity[slots] = sev
        self._alert(batch, item.flagged, keys)
        self._track(batch, rows, slots, flag, item.wall)

    def _fold_one_series(self, item: _Pending, rows: NDArray[np.int64], col: int) -> None:
        """Rows of one series (no key column): reductions, and only what the ring can hold."""
        batch = item.batch
        if self._single_slot is None:
            self._single_slot = int(self._slots(np.array([SINGLE_SERIES]))[0])
        slot = self._single_slot
        if slot < 0:
            self.n_over_max_keys += len(rows)
            return
        sev = severity(batch.score[rows], batch.threshold[rows])
        top = float(sev.max())
        self._heat[col, slot] = max(float(self._heat[col, slot]), top)
        self._recent[slot] = max(float(self._recent[slot]), top)
        self._overall[col] = max(float(self._overall[col]), top)
        self._n_points[slot] += len(rows)
        self._n_flags[slot] += int(np.count_nonzero(batch.is_anomaly[rows]))
        self._last_value[slot] = batch.value[rows[-1]]
        self._last_severity[slot] = sev[-1]
        self._alert(batch, item.flagged, None)
        tail = rows[-self.history :]
        self._track(batch, tail, np.full(len(tail), slot), batch.is_anomaly[tail], item.wall)

    def _alert(
        self, batch: OutputBatch, flagged: NDArray[np.int64], keys: NDArray[Any] | None
    ) -> None:
        if not len(flagged):
            return
        sev = severity(batch.score[flagged], batch.threshold[flagged])
        if len(flagged) > self.max_alerts:  # a flood: keep the strongest
            keep = np.sort(np.argsort(-sev, kind="stable")[: self.max_alerts])
            flagged, sev = flagged[keep], sev[keep]
        stamps = batch.timestamp
        for i, s in zip(flagged.tolist(), sev.tolist(), strict=True):
            self._alert_id += 1
            self._alerts.append(
                {
                    "id": self._alert_id,
                    "seq": int(batch.seq[i]),
                    "key": SINGLE_SERIES if keys is None else str(keys[i]),
                    "timestamp": None if stamps is None else stamps[i],
                    "value": _finite(float(batch.value[i])),
                    "score": _finite(float(batch.score[i])),
                    "threshold": _finite(float(batch.threshold[i])),
                    "severity": round(s, 3),
                    "reason": batch.reason[i],
                }
            )

    def _track_rows(self, slots: NDArray[np.int64], flag: NDArray[np.bool_], wall: float) -> None:
        """Give tracked rows to new keys: free rows first, then flagged keys evict idle ones."""
        untracked = self._track_of[slots] < 0
        if not untracked.any():
            return
        free = np.flatnonzero(self._row_slot < 0)
        if len(free):
            candidates = np.unique(slots[untracked])[: len(free)]  # the earliest keys
            for row, slot in zip(free.tolist(), candidates.tolist(), strict=False):
                self._assign(row, slot, wall)
            untracked = self._track_of[slots] < 0
        for slot in np.unique(slots[untracked & flag]).tolist():
            if self._track_of[slot] < 0:
                self._assign(int(np.argmin(self._row_interest)), slot, wall)

    def _assign(self, row: int, slot: int, wall: float) -> None:
        old = int(self._row_slot[row])
        if old >= 0:
            self._track_of[old] = -1
        self._row_slot[row] = slot
        self._track_of[slot] = row
        self._row_interest[row] = wall
        self._row_count[row] = 0

    def request(self, key: str) -> bool:
        """Start tracking ``key`` (a page asked for it); False if the key is unknown."""
        with self._lock:
            slot = self._slot_of(key)
            if slot is None:
                return False
            row = int(self._track_of[slot])
            if row < 0:
                free = np.flatnonzero(self._row_slot < 0)
                row = int(free[0]) if free.size else int(np.argmin(self._row_interest))
                self._assign(row, slot, time.time())
            self._row_interest[row] = time.time()
            return True

    def _track(
        self,
        batch: OutputBatch,
        rows: NDArray[np.int64],
        slots: NDArray[np.int64],
        flag: NDArray[np.bool_],
        wall: float,
    ) -> None:
        self._track_rows(slots, flag, wall)
        track = self._track_of[slots]
        keep = track >= 0
        if not keep.any():
            return
        rows, track, flag = rows[keep], track[keep], flag[keep]
        self._row_interest[np.unique(track[flag])] = wall
        order = np.argsort(track, kind="stable")
        rows, track = rows[order], track[order]
        starts = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
        counts = np.diff(np.r_[starts, len(track)])
        rank = np.arange(len(track)) - np.repeat(starts, counts)
        total = np.repeat(counts, counts)
        last = rank >= total - self.history  # only what the ring can hold
        pos = (self._row_count[track] + rank) % self.history
        np.add.at(self._row_count, track, 1)
        rows, track, pos = rows[last], track[last], pos[last]
        self._ring_seq[track, pos] = batch.seq[rows]
        columns = (batch.value, batch.expected, batch.scale, batch.score)
        for r, column in enumerate(columns):
            self._ring[r, track, pos] = np.nan if column is None else column[rows]
        self._ring_threshold[track, pos] = batch.threshold[rows]
        self._ring_flag[track, pos] = batch.is_anomaly[rows]
        picked = rows.tolist()
        if batch.timestamp is not None:
            stamps = batch.timestamp
            self._ring_time[track, pos] = np.array([stamps[i] for i in picked], dtype=object)
        reasons = batch.reason
        self._ring_reason[track, pos] = np.array([reasons[i] for i in picked], dtype=object)

    # -- reading (server threads) -------------------------------------------------------------

    def overview(self, n_lanes: int = 40) -> dict[str, Any]:
        """Top keys by recent surprise with their heat rows, alerts, counters (JSON-ready)."""
        with self._lock:
            if self._cache is not None and self._cache[:2] == (self.version, n_lanes):
                return self._cache[2]
            payload = self._overview(n_lanes)
            self._cache = (self.version, n_lanes, payload)
            return payload

    def _overview(self, n_lanes: int) -> dict[str, Any]:
        counters = dict(self.counters)
        alerts = list(self._alerts)[-100:][::-1]
        n_keys = len(self._names)
        col = self._bucket % self.n_buckets
        order_cols = (np.arange(self.n_buckets) + col + 1) % self.n_buckets  # oldest first
        heat = self._heat[:, :n_keys]
        recent = self._recent[:n_keys]
        top = self._top(recent, min(n_lanes, n_keys))
        cells = np.round(heat[:, top][order_cols], 2).T.tolist()
        lanes = [
            {
                "key": self._names[s],
                "severity": round(float(recent[s]), 3),
                "last_severity": round(float(self._last_severity[s]), 3),
                "points": int(self._n_points[s]),
                "flags": int(self._n_flags[s]),
                "last": _finite(float(self._last_value[s])),
                "cells": row,
            }
            for s, row in zip(top.tolist(), cells, strict=True)
        ]
        overall = self._overall[order_cols]
        at_least = [n_keys] + [int(np.count_nonzero(recent >= b)) for b in _SEVERITY_BINS] + [0]
        bins = [at_least[i] - at_least[i + 1] for i in range(len(_SEVERITY_BINS) + 1)]
        return {
            "version": self.version,
            "now": time.time(),
            "bucket_seconds": self.bucket_seconds,
            "bucket_end_time": [self._bucket_end_time[c] for c in order_cols.tolist()],
            "n_keys": n_keys,
            "keys_by_severity": {
                "below 0.25": int(bins[0]),
                "0.25 to 0.5": int(bins[1]),
                "0.5 to 1": int(bins[2]),
                "flagged (1 and up)": int(bins[3]),
            },
            "lanes": lanes,
            "overall": np.round(overall, 2).tolist(),
            "alerts": alerts,
            "n_alerts": self._alert_id,
            "counters": counters,
            "board": {
                "records": self.n_records,
                "folded": self.n_folded,
                "sampled_out": self.n_sampled_out,
                "over_max_keys": self.n_over_max_keys,
                "tracked": int(np.count_nonzero(self._row_slot >= 0)),
                "fold_seconds": round(self.fold_seconds, 3),
                "uptime": round(time.time() - self.started, 1),
            },
        }

    def _top(self, recent: NDArray[np.float32], k: int) -> NDArray[np.int64]:
        """The ``k`` keys with the highest recent surprise (ties: more flags first).

        Only keys at or above the ``k``-th largest of the block maxima of ``recent`` can be
        among them (``k`` blocks each hold a key at least that high), so the ranking looks
        at a few candidates instead of sorting every key.
        """
        if not k:
            return np.zeros(0, dtype=np.int64)
        block = 256
        whole = len(recent) // block * block
        maxima = recent[:whole].reshape(-1, block).max(axis=1)
        if whole < len(recent):
            maxima = np.append(maxima, recent[whole:].max())
        cut = np.partition(maxima, len(maxima) - k)[len(maxima) - k] if len(maxima) > k else 0
        candidates = np.flatnonzero(recent >= cut)
        score = recent[candidates].astype(np.float64) * 1e6
        score += np.minimum(self._n_flags[candidates], 999_999)
        order = np.argsort(-score, kind="stable")[:k]
        return candidates[order]

    def keys(self, contains: str = "", limit: int = 20) -> list[str]:
        """Up to ``limit`` known keys containing ``contains``."""
        with self._lock:
            names = self._names[:]
        found = [k for k in names if contains in k] if contains else names
        return found[:limit]

    def series(self, key: str) -> dict[str, Any]:
        """The tracked points of ``key`` oldest first, with its expected band and flags."""
        with self._lock:
            slot = self._slot_of(key)
            row = -1 if slot is None else int(self._track_of[slot])
            if row < 0:
                return {"key": key, "known": slot is not None, "tracked": False}
            count = int(self._row_count[row])
            have = min(count, self.history)
            idx = (np.arange(count - have, count) % self.history) if have else np.zeros(0, int)
            value, expected, scale, score = (self._ring[r, row, idx] for r in range(4))
            seq = self._ring_seq[row, idx]
            stamps = self._ring_time[row, idx].tolist()
            flag = self._ring_flag[row, idx]
            reasons = self._ring_reason[row, idx].tolist()
            threshold = self._ring_threshold[row, idx]
        warm = np.isfinite(score)  # no band while the detector warms up
        expected = np.where(warm, expected, np.nan)
        half = np.where(warm, self.band_sd * scale, np.nan)
        flags = [
            {
                "seq": int(seq[i]),
                "timestamp": stamps[i],
                "value": _finite(float(value[i])),
                "reason": reasons[i],
            }
            for i in np.flatnonzero(flag).tolist()
        ]

        def listed(a: NDArray[Any]) -> list[float | None]:
            return [None if not math.isfinite(v) else v for v in np.round(a, 6).tolist()]

        return {
            "key": key,
            "known": True,
            "tracked": True,
            "band_sd": self.band_sd,
            "seq": seq.tolist(),
            "timestamp": stamps if any(s is not None for s in stamps) else None,
            "value": listed(value),
            "expected": listed(expected),
            "low": listed(expected - half),
            "high": listed(expected + half),
            "score": listed(score),
            "threshold": listed(threshold),
            "flag": flag.tolist(),
            "flags": flags,
            "n_points": int(self._n_points[slot]) if slot is not None else 0,
        }
