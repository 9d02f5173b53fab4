"""``KeyedMonitor``: one stream of ``(key, value)`` records, one detector state per key.

Per-key state is a row of preallocated arrays (struct of arrays): every state array of the
template detector, threshold and alarm policy gets a leading slot dimension of ``max_keys``
rows, in the same named tuples. A batch is mapped to slots by a hash table that is itself a
few arrays (:mod:`oddwatch._keytable`; the steady state, all keys known, takes a fast path),
then scored by one generic compiled loop (:func:`oddwatch._dispatch.keyed_monitor_block`)
that runs each component's own kernels on each point's slot rows, so every detector and
threshold runs keyed and each key's outputs are bit for bit those of a standalone
:class:`~oddwatch.Monitor` fed that key's points.
"""

from __future__ import annotations

import importlib
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from oddwatch._base import Component, KernelComponent, check_state, entry_point, flatten_state
from oddwatch._dispatch import keyed_monitor_block, keyed_point
from oddwatch._keytable import (
    N_EVICTED,
    N_FLAGGED,
    N_KEYS,
    N_SEEN,
    N_SKIPPED,
    assign,
    assign_one,
    by_hash,
    hash_keys,
    rebuild,
    sweep_order,
    verify_and_touch,
)
from oddwatch._typing import FloatArray, State
from oddwatch._validation import IntParam, OptionParam, ParamSpec, check_params
from oddwatch.detectors import Detector, DualSurpriseDetector
from oddwatch.errors import CheckpointError, InvalidInputError, InvalidParameterError
from oddwatch.monitor import (
    ON_INVALID,
    MonitorResult,
    Verdict,
    _coerce,
    _spread,
    _spread_flags,
    detector_warmup,
    resolve_alarm,
    threshold_in_force,
)
from oddwatch.thresholds import Threshold

__all__ = ["KeyedMonitor", "KeyedResult"]

_SWEEP_BYTES = 16 << 20  # state size above which a batch is visited in slot order
_UCS4 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"  # numpy's str dtype
# numpy's str dtype drops trailing NULs ('' and '\x00' are one value), so a key ending in
# NUL or in this noncharacter is stored with one more of it appended (see _encode_key)
_MARK = "\U0010ffff"
_ENDS = ("\x00", _MARK)


@dataclass(frozen=True)
class KeyedResult(MonitorResult):
    """A :class:`~oddwatch.MonitorResult` whose points each carry their series ``key``.

    Examples
    --------
    >>> result = KeyedMonitor().update_many(["a", "b"], [1.0, 2.0])
    >>> result.key.tolist(), result.score.tolist()
    (['a', 'b'], [nan, nan])
    """

    key: NDArray[Any]
    previous: FloatArray  # each point's key's previous value (nan for a key's first point)

    def _previous(self, i: int) -> float:
        return float(self.previous[i])


def _encode_key(key: Any) -> str:
    """The stored form of one key: text as is, bytes decoded, one-to-one.

    Bytes are decoded as UTF-8 with invalid bytes kept as lone surrogates
    (``surrogateescape``, as ``os.fsdecode``), so ``b"h\\xff"`` and ``b"h\\xfe"`` stay two
    keys. A key ending in NUL or in U+10FFFF gets one U+10FFFF appended, so it survives
    numpy's str dtype (which drops trailing NULs) and no two keys share a stored form.

    >>> [_decode_key(_encode_key(k)) for k in ["", "\\x00", "a"]]
    ['', '\\x00', 'a']
    >>> _encode_key(b"h\\xff") != _encode_key(b"h\\xfe")
    True
    """
    if isinstance(key, bytes):
        text = key.decode("utf-8", errors="surrogateescape")
    elif isinstance(key, str):
        text = key
    else:
        text = str(key)
    return text + _MARK if text.endswith(_ENDS) else text


def _decode_key(stored: str) -> str:
    """The key of a stored form (:func:`_encode_key` undone)."""
    return stored[:-1] if stored.endswith(_MARK) else stored


def _decode_keys(stored: NDArray[np.str_]) -> NDArray[Any]:
    """Stored keys as the caller gave them: the same array, or str objects when one ends in NUL."""
    codes = stored.view(np.uint32)
    if not (codes == ord(_MARK)).any():
        return stored
    return np.array([_decode_key(k) for k in stored.tolist()], dtype=object)


def _as_values(values: Any) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    try:
        return _coerce(values)
    except InvalidInputError as exc:
        raise InvalidInputError(str(exc).replace("Monitor.", "KeyedMonitor.", 1)) from None


def _as_keys(keys: Any, n: int) -> NDArray[np.str_]:
    """Keys in their stored form (:func:`_encode_key`) as a contiguous numpy str array.

    A numpy str array is used as it is (the common, fast case); any other sequence is
    converted key by key, before numpy's str dtype could drop a trailing NUL.
    """
    if isinstance(keys, (str, bytes)):
        raise InvalidInputError(
            f"KeyedMonitor.update_many expects a sequence of keys; got one {type(keys).__name__}"
            f" {keys!r:.40}. Use update(key, value) for a single point."
        )
    given = keys if not isinstance(keys, np.ndarray) else None
    try:
        arr = keys if given is None else np.asarray(given)
    except (ValueError, UnicodeError):
        arr = np.asarray(keys, dtype=object)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InvalidInputError(
            f"KeyedMonitor.update_many expects one key per value: {n} values but keys of shape "
            f"{arr.shape}. Pass two 1-D sequences of equal length."
        )
    if arr.dtype.kind in "OS" or (arr.dtype.kind == "U" and given is not None):
        items = arr.tolist() if given is None or arr.dtype.kind == "S" else list(given)
        arr = np.array([_encode_key(k) for k in items], dtype=str)
    elif arr.dtype.kind == "U":
        arr = np.ascontiguousarray(arr)
        if (arr.view(np.uint32) == ord(_MARK)).any():
            arr = np.array([_encode_key(k) for k in arr.tolist()], dtype=str)
    else:
        arr = arr.astype(str)
    if arr.dtype.itemsize == 0 or not arr.size:
        arr = np.zeros(0, dtype="U1") if not arr.size else arr.astype("U1")
    return np.ascontiguousarray(arr)


class KeyedMonitor(Component):
    """Many series in one stream: a :class:`~oddwatch.Monitor` per key, in shared arrays.

    ``update_many(keys, values)`` scores a batch of points spread over any number of keys
    (converted to ``str``) in one compiled pass. A key's state is created at its first valid
    point from the ``detector``, ``threshold`` and ``alarm`` templates (their parameters,
    never their learned state), and each key's scores, thresholds and flags are bit for bit
    those of a standalone ``Monitor(detector, threshold, alarm=alarm)`` fed only that key's
    points; every detector and threshold runs keyed, plug-ins included. At most
    ``max_keys`` keys are kept: a new key beyond that replaces the least recently seen one
    (counted in ``n_evicted_``), which restarts from scratch if it comes back. Invalid values
    follow ``on_invalid`` as in :class:`~oddwatch.Monitor`; they never create, learn or
    refresh a key.

    Memory is allocated for ``max_keys`` up front (pages are touched as keys arrive). With
    the default detector (the Monitor's, :class:`~oddwatch.detectors.DualSurpriseDetector`,
    which searches seasons up to 1,024 points) a key takes about 41 kB of state (``3 *
    1024`` floats of season buffer, the shape evidence's ring of about 800 block means and
    its lags, two histograms of 352 floats), about 70 bytes of hash index and recency, and 4
    bytes per character of the longest key: ~4.1 GB for 100,000 keys (``nbytes_``, below).
    For many keys with short seasons, ``DualSurpriseDetector(max_season_length=64)`` takes
    about 10 kB per key, and ``shape_seasons=0`` saves the ring. A ``max_keys`` whose state
    would not fit in this machine's memory is refused with an
    :class:`~oddwatch.errors.InvalidParameterError` naming the size. Keys
    given as a numpy str array skip a conversion;
    ``benchmarks/bench_keyed.py`` measures throughput.

    Parameters
    ----------
    detector
        Template detector, any :class:`~oddwatch.detectors.Detector`; default
        ``DualSurpriseDetector()``, as in ``Monitor``.
    threshold
        Template threshold; default :func:`~oddwatch.monitor.default_threshold` of the
        detector, as in ``Monitor``.
    max_keys
        Most keys tracked at once.
    on_invalid
        ``"raise"``, ``"skip"`` or ``"flag"``, as in ``Monitor``.
    alarm
        Template alarm policy, as in ``Monitor`` (``"default"``, None or a policy).
    sensitivity
        The false-alarm rate per key, as in ``Monitor`` (builds the threshold; not with
        ``threshold``).

    Examples
    --------
    >>> import numpy as np
    >>> keys = np.tile(["web-1", "web-2", "db-1"], 200)
    >>> values = np.random.default_rng(1).normal(50.0, 2.0, 600)
    >>> values[-1] = 90.0  # db-1's last point
    >>> mon = KeyedMonitor()
    >>> result = mon.update_many(keys, values)
    >>> mon.n_keys_, result.key[result.is_anomaly].tolist(), result.reason(599)
    (3, ['db-1'], '90 is 20.3 sd above the expected 49.14')
    >>> small = KeyedMonitor(max_keys=2)
    >>> _ = small.update_many(["a", "b", "c"], [1.0, 2.0, 3.0])
    >>> small.keys_, small.n_evicted_
    (['b', 'c'], 1)
    >>> KeyedMonitor(max_keys=100_000).nbytes_ // 100_000  # bytes per key, 1-character keys
    40...
    """

    _param_specs: dict[str, ParamSpec] = {
        "max_keys": IntParam(low=1, hint="Allow at least one key."),
        "on_invalid": OptionParam(ON_INVALID),
    }
    _waivers = {
        name: "KeyedMonitor takes (key, value) records; tests/test_keyed.py runs it through a "
        "one-key adapter and checks checkpoints with several keys"
        for name in (
            "bad_input_raises",
            "bounded_state",
            "causal",
            "checkpoint_continues",
            "chunks_equal_one_by_one",
            "clone_is_fresh",
            "deterministic",
            "empty_input",
            "input_not_mutated",
            "keyed_equals_standalone",
            "score_is_pure",
        )
    }

    def __init__(
        self,
        detector: Detector | None = None,
        threshold: Threshold | None = None,
        max_keys: int = 10_000,
        on_invalid: str = "raise",
        alarm: Any = "default",
        sensitivity: float | None = None,
    ) -> None:
        self.detector = detector
        self.threshold = threshold
        self.max_keys = max_keys
        self.on_invalid = on_invalid
        self.sensitivity = sensitivity
        check_params(
            "KeyedMonitor", self._param_specs, {"max_keys": max_keys, "on_invalid": on_invalid}
        )
        self.alarm = alarm
        det = DualSurpriseDetector() if detector is None else detector
        if not isinstance(det, Detector):
            raise InvalidParameterError(
                f"`detector` of KeyedMonitor must be an oddwatch Detector; got {det!r}."
            )
        if threshold is not None and not isinstance(threshold, Threshold):
            raise InvalidParameterError(
                f"`threshold` of KeyedMonitor must be an oddwatch Threshold; got {threshold!r}."
            )
        thr = threshold_in_force(det, threshold, sensitivity, "KeyedMonitor")
        policy = resolve_alarm(alarm, det, "KeyedMonitor")
        # fresh copies: the templates give parameters (and initial state), never learned state
        alarm_template = policy.clone()
        alarm_template.bind(det.score_scale)
        self._templates: dict[str, KernelComponent] = {
            "detector": det.clone(),
            "threshold": thr.clone(),
            "alarm": alarm_template,
        }
        self._row_bytes = sum(t.nbytes_ for t in self._templates.values())
        self._warmup = detector_warmup(det)  # words the reason of unscored points
        self._allocate(1)

    def _allocate(self, width: int) -> None:
        """Arrays for ``max_keys`` keys, or a clear refusal when they cannot fit in memory."""
        rows = int(self.max_keys)
        needed = self._needed_bytes(rows, width)
        memory = _physical_memory()
        if memory and needed > memory:
            raise InvalidParameterError(
                self._too_big(rows, needed) + f", more than this machine's memory "
                f"({_size(memory)}). Lower max_keys, or use a smaller detector "
                "(DualSurpriseDetector(max_season_length=64) takes about 10 kB per key)."
            )
        try:
            self._allocate_arrays(rows, width)
        except MemoryError:
            raise InvalidParameterError(
                self._too_big(rows, needed) + ", which could not be allocated. Lower max_keys."
            ) from None

    def _needed_bytes(self, rows: int, width: int) -> int:
        """Bytes :meth:`_allocate` asks for: state rows, key table, hash index, recency."""
        buckets = 1 << max(3, (2 * rows - 1).bit_length())
        return rows * (self._row_bytes + 4 * width + 16 + 8 + 8) + 16 * buckets

    def _too_big(self, rows: int, needed: int) -> str:
        return (
            f"`max_keys` of KeyedMonitor is {rows:,}: state for that many keys takes "
            f"{_size(needed)} ({self._row_bytes:,} bytes of detector, threshold and alarm "
            "state per key)"
        )

    def _allocate_arrays(self, rows: int, width: int) -> None:
        # Rows are written when a key takes the slot, and rows past n_keys_ are never read:
        # np.empty leaves them unset, and numpy backs large ones with huge pages, which the
        # first batch touches ~10x faster than the zero-filled small pages of np.zeros.
        self._rows = {
            name: _stack(template._state, rows) for name, template in self._templates.items()
        }
        self._table = np.empty((rows, width), dtype=np.uint32)
        self._index = np.zeros((1 << max(3, (2 * rows - 1).bit_length()), 2), dtype=np.uint64)
        self._queue = np.empty((2, rows), dtype=np.int64)
        self._cursor = np.zeros(2, dtype=np.int64)
        self._last_seen = np.empty(rows, dtype=np.int64)
        self._previous = np.empty(rows)  # each key's latest value, for the stuck-value reason
        self._counters = np.zeros(5, dtype=np.int64)
        self._slot = np.zeros(1, dtype=np.int64)
        self._fresh = np.zeros(1, dtype=np.bool_)
        self._out = np.empty(6)
        self._point: Any = None  # compiled one-point path, rebuilt after a reallocation

    def _arrays(self) -> dict[str, np.ndarray]:
        """Every per-key state array, by path (``detector.calibrated.window``)."""
        return {
            f"{name}.{path}": array
            for name, rows in self._rows.items()
            for path, array in flatten_state(rows)
        }

    @property
    def n_seen_(self) -> int:
        """Points received, valid or not."""
        return int(self._counters[N_SEEN])

    @property
    def n_skipped_(self) -> int:
        return int(self._counters[N_SKIPPED])

    @property
    def n_invalid_flagged_(self) -> int:
        return int(self._counters[N_FLAGGED])

    @property
    def n_evicted_(self) -> int:
        """Keys dropped to make room for a new one."""
        return int(self._counters[N_EVICTED])

    @property
    def n_keys_(self) -> int:
        """Keys currently tracked."""
        return int(self._counters[N_KEYS])

    @property
    def keys_(self) -> list[str]:
        """The keys tracked, least recently seen first."""
        n = self.n_keys_
        order = np.argsort(self._last_seen[:n], kind="stable")
        return [_decode_key(k) for k in self._key_strings()[order].tolist()]

    @property
    def nbytes_(self) -> int:
        """Bytes allocated for state, key table and bookkeeping (for all ``max_keys``)."""
        arrays = [*self._arrays().values(), self._table, self._index, self._queue, self._last_seen]
        return sum(a.nbytes for a in arrays)

    def _key_strings(self) -> NDArray[np.str_]:
        table = self._table[: self.n_keys_]
        return table.view(np.dtype(f"U{table.shape[1]}")).reshape(table.shape[0]).copy()

    def update(self, key: Any, value: Any) -> Verdict:
        """Score ``value`` against ``key``'s past, flag it or not, then learn it.

        A ``str`` key with a finite ``float`` value goes straight to compiled code (key
        lookup, then the key's step); anything else takes the checked path of
        :meth:`update_many`.
        """
        if type(key) is not str or type(value) is not float or not math.isfinite(value):
            return self.update_many([key], [value]).verdict(0)
        codes = np.frombuffer(key.encode(_UCS4), dtype=np.uint32)
        if not 0 < codes.shape[0] <= self._table.shape[1] or codes[-1] in (0, ord(_MARK)):
            return self.update_many([key], [value]).verdict(0)  # new width, or a key to encode
        if self._point is None:
            self._point = self._compile_point(value)
        assign_one(
            codes.reshape(1, -1),
            self._table,
            self._index,
            self._queue,
            self._cursor,
            self._counters,
            self._last_seen,
            self._slot,
            self._fresh,
        )
        out = self._out
        self._point(*self._point_args, self._slot[0], self._fresh[0], value, out)
        score = out[0].item()
        return Verdict(
            value,
            score,
            out[1].item(),
            out[2].item() != 0.0,
            expected=out[3].item(),
            scale=out[4].item(),
            previous=out[5].item(),
            warmup=self._warmup if math.isnan(score) else None,
        )

    def _kernel_args(self) -> tuple[Any, ...]:
        """The keyed stages (rows, initial state, parameters of each part) and last values."""
        t, r = self._templates, self._rows
        keyed = tuple(
            (r[name], t[name]._state, t[name]._kernel_params_)
            for name in ("detector", "threshold", "alarm")
        )
        return keyed, self._previous

    def _compile_point(self, value: float) -> Any:
        self._point_args = self._kernel_args()
        return entry_point(
            keyed_point, *self._point_args, int(self._slot[0]), True, value, self._out
        )

    def update_many(self, keys: Any, values: Any) -> KeyedResult:
        """:meth:`update` over the pairs ``zip(keys, values)`` in order, as arrays."""
        xs, invalid = _as_values(values)
        names = _as_keys(keys, xs.shape[0])
        n_invalid = int(invalid.sum())
        if n_invalid and self.on_invalid == "raise":
            i = int(np.argmax(invalid))
            raw = values[i] if isinstance(values, (list, tuple, np.ndarray)) else xs[i]
            key = _decode_key(str(names[i]))
            raise InvalidInputError(
                f"KeyedMonitor got {raw!r} for key {key!r} at index {i}; values must "
                "be finite numbers. Use KeyedMonitor(on_invalid='skip' or 'flag') to tolerate "
                "them."
            )
        valid = ~invalid
        kv, xv = (names[valid], xs[valid]) if n_invalid else (names, xs)
        m = kv.shape[0]
        score, expected, scale, threshold, previous = (np.empty(m) for _ in range(5))
        is_anomaly = np.zeros(m, dtype=np.bool_)
        if m:
            slots, fresh, order = self._slots(kv)
            keyed_monitor_block(
                *self._kernel_args(),
                order,
                slots,
                fresh,
                xv,
                score,
                threshold,
                is_anomaly,
                expected,
                scale,
                previous,
            )
        if n_invalid:
            score, expected, scale, threshold, previous = (
                _spread(a, valid) for a in (score, expected, scale, threshold, previous)
            )
            is_anomaly = _spread_flags(is_anomaly, valid)
        if self.on_invalid == "flag":
            is_anomaly |= invalid
            self._counters[N_FLAGGED] += n_invalid
        else:
            self._counters[N_SKIPPED] += n_invalid
        self._counters[N_SEEN] += xs.shape[0]
        shown = _decode_keys(names)
        return KeyedResult(
            xs,
            score,
            threshold,
            is_anomaly,
            invalid,
            expected,
            scale,
            shown,
            previous,
            warmup=self._warmup,
        )

    def _slots(
        self, keys: NDArray[np.str_]
    ) -> tuple[NDArray[np.int64], NDArray[np.bool_], NDArray[np.int64]]:
        """Slot per point, whether it starts a key, and the order to visit the points in.

        When every key is known (the steady state) slots are found by hash alone and the
        keys are then compared with the table in slot order, a sweep through memory; else
        each point is looked up, created or evicted for in input order.
        """
        width = keys.dtype.itemsize // 4
        if width > self._table.shape[1]:
            wider = np.zeros((self._table.shape[0], width), dtype=np.uint32)
            n = self.n_keys_
            wider[:n, : self._table.shape[1]] = self._table[:n]
            self._table = wider
        codes = keys.view(np.uint32).reshape(keys.shape[0], width)
        hashes = hash_keys(codes)
        slots = np.empty(keys.shape[0], dtype=np.int64)
        clock = self._counters[N_SEEN] - self._counters[N_SKIPPED] - self._counters[N_FLAGGED]
        if by_hash(hashes, self._index, slots):
            order = self._order(slots)
            if verify_and_touch(codes, self._table, order, slots, self._last_seen, clock):
                return slots, np.zeros(keys.shape[0], dtype=np.bool_), order
        fresh = np.empty(keys.shape[0], dtype=np.bool_)
        assign(
            codes,
            hashes,
            self._table,
            self._index,
            self._queue,
            self._cursor,
            self._counters,
            self._last_seen,
            clock,
            slots,
            fresh,
        )
        return slots, fresh, self._order(slots)

    def _order(self, slots: NDArray[np.int64]) -> NDArray[np.int64]:
        """Points in input order, or grouped by slot when the keys' state outgrows the caches.

        Keys are independent, so any order that keeps each key's points in sequence gives the
        same results; visiting slots in memory order turns random access into a sweep (about
        twice as fast for 100,000 keys) but loses overlap between keys when all fits in cache.
        """
        n_keys = self.n_keys_
        if n_keys * self._row_bytes >= _SWEEP_BYTES and 4 * slots.shape[0] >= n_keys:
            order: NDArray[np.int64] = sweep_order(slots, n_keys)
            return order
        return np.arange(slots.shape[0])

    def update_frame(self, frame: Any, key_col: str, value_col: str) -> Any:
        """:meth:`update_many` over two columns of a pandas DataFrame, as a DataFrame.

        Returns ``score``, ``threshold``, ``is_anomaly`` and ``reason`` columns on the
        frame's index. Needs pandas (``pip install 'oddwatch[pandas]'``).

        Examples
        --------
        >>> import pandas as pd
        >>> frame = pd.DataFrame({"host": ["a", "b"], "cpu": [0.5, 0.7]})
        >>> KeyedMonitor().update_frame(frame, "host", "cpu").columns.tolist()
        ['score', 'threshold', 'is_anomaly', 'reason']
        """
        try:
            pd = importlib.import_module("pandas")
        except ImportError:
            raise ImportError(
                "KeyedMonitor.update_frame needs pandas, which is not installed. "
                "Install it with: pip install 'oddwatch[pandas]'"
            ) from None
        missing = [c for c in (key_col, value_col) if c not in frame.columns]
        if missing:
            raise InvalidInputError(
                f"KeyedMonitor.update_frame: no column {missing[0]!r} in the frame; its "
                f"columns are {list(frame.columns)}."
            )
        result = self.update_many(frame[key_col].to_numpy(), frame[value_col].to_numpy())
        reason = np.full(len(result), "", dtype=object)
        for i in np.flatnonzero(result.is_anomaly | result.warming_up):
            reason[i] = result.reason(int(i))
        columns = {
            "score": result.score,
            "threshold": result.threshold,
            "is_anomaly": result.is_anomaly,
            "reason": reason,
        }
        return pd.DataFrame(columns, index=frame.index)

    def __repr__(self) -> str:
        """The templates in force (defaults resolved), not the ``None`` placeholders."""
        t = self._templates
        return (
            f"KeyedMonitor(detector={t['detector']!r}, threshold={t['threshold']!r}, "
            f"max_keys={self.max_keys!r}, on_invalid={self.on_invalid!r}, "
            f"alarm={t['alarm']!r})"
        )

    def get_state(self) -> State:
        n = self.n_keys_
        state = {name: array[:n].copy() for name, array in self._arrays().items()}
        state["keys"] = self._key_strings()
        state["last_seen"] = self._last_seen[:n].copy()
        state["previous"] = self._previous[:n].copy()
        state["counters"] = self._counters.copy()
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        keys = state.get("keys")
        if not isinstance(keys, np.ndarray) or keys.ndim != 1 or keys.dtype.kind != "U":
            raise CheckpointError("state field `keys` of KeyedMonitor must be a 1-D str array.")
        n = keys.shape[0]
        expected = {
            f"{name}.{path}": np.empty((n, *v.shape), v.dtype)
            for name, template in self._templates.items()
            for path, v in flatten_state(template._state)
        }
        expected.update(
            keys=keys,
            last_seen=np.empty(n, np.int64),
            previous=np.empty(n),
            counters=np.empty(5, np.int64),
        )
        check_state("KeyedMonitor", expected, state)
        if n > self.max_keys or state["counters"][N_KEYS] != n:
            raise CheckpointError(
                f"state of KeyedMonitor holds {n} keys but counts "
                f"{state['counters'][N_KEYS]} with max_keys={self.max_keys}."
            )
        if len(set(keys.tolist())) != n:
            raise CheckpointError("state field `keys` of KeyedMonitor lists a key twice.")
        width = max(1, keys.dtype.itemsize // 4)
        self._allocate(width)
        codes = np.ascontiguousarray(keys, dtype=f"U{width}").view(np.uint32)
        self._table[:n] = codes.reshape(n, width)
        rebuild(self._table, n, self._index)
        for name, array in self._arrays().items():
            array[:n] = state[name]
        self._last_seen[:n] = state["last_seen"]
        self._previous[:n] = state["previous"]
        self._counters[...] = state["counters"]

    @staticmethod
    def _test_params() -> dict[str, Any]:
        return {
            "detector": DualSurpriseDetector(**DualSurpriseDetector._test_params()),
            "max_keys": 4,
        }


def _physical_memory() -> int:
    """Bytes of RAM on this machine (0 when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def _size(n: int) -> str:
    """``n`` bytes in words: 2.5 TB, 240 MB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:,} bytes"


def _stack(state: Any, rows: int) -> Any:
    """``state`` with every array given a leading dimension of ``rows`` (left unset)."""
    fields = [
        _stack(v, rows) if isinstance(v, tuple) else np.empty((rows, *v.shape), v.dtype)
        for v in state
    ]
    return type(state)(*fields)
