"""The source -> validation -> Monitor -> sinks loop, with counters and checkpoints."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oddwatch.errors import CheckpointError, InvalidInputError, SourceError
from oddwatch.keyed import KeyedMonitor
from oddwatch.monitor import Monitor
from oddwatch.pipeline._signals import DeferredSignals
from oddwatch.pipeline.batch import chunk_batch
from oddwatch.pipeline.checkpoint import Checkpoint, SavedRun
from oddwatch.sinks import OutputBatch
from oddwatch.sources import Records
from oddwatch.sources.records import Validator

__all__ = ["MonitorFactory", "RunStats", "run"]

MonitorFactory = Callable[[bool], "Monitor | KeyedMonitor"]


@dataclass
class RunStats:
    """What a run did. Counts of records cover the resumed part of a run too.

    ``records_read == valid + skipped + flagged_invalid``; ``invalid == skipped +
    flagged_invalid`` (under ``on_invalid="raise"``, the record that stopped the run is not
    counted); ``anomalies`` counts valid points the Monitor flagged, ``flagged_invalid`` the
    invalid records reported as anomalies; ``unscored`` the valid points the detector could
    not score yet (its warm-up); ``written`` the records handed to the sinks;
    ``monitor_s`` the seconds spent in the Monitor.
    """

    records_read: int = 0
    valid: int = 0
    skipped: int = 0
    flagged_invalid: int = 0
    invalid_by_kind: dict[str, int] = field(default_factory=dict)
    anomalies: int = 0
    unscored: int = 0
    written: int = 0
    gaps: int = 0
    largest_gap_s: float = math.nan
    keys: int = 0
    evicted: int = 0
    records_this_run: int = 0
    elapsed_s: float = 0.0
    monitor_s: float = 0.0
    warnings_suppressed: int = 0
    resumed_at_line: int | None = None
    interrupted: bool = False

    @property
    def invalid(self) -> int:
        return self.skipped + self.flagged_invalid

    def as_dict(self) -> dict[str, float]:
        """The counters as one flat mapping (what ``observe`` receives).

        Examples
        --------
        >>> stats = RunStats(records_read=3, valid=2, skipped=1, invalid_by_kind={"bad": 1})
        >>> {k: v for k, v in stats.as_dict().items() if k.startswith(("invalid", "rec"))}
        {'records_read': 3, 'invalid': 1, 'invalid.bad': 1, 'records_this_run': 0}
        """
        out: dict[str, float] = {
            "records_read": self.records_read,
            "valid": self.valid,
            "invalid": self.invalid,
            **{f"invalid.{kind}": n for kind, n in self.invalid_by_kind.items()},
            "skipped": self.skipped,
            "flagged_invalid": self.flagged_invalid,
            "anomalies": self.anomalies,
            "unscored": self.unscored,
            "written": self.written,
            "gaps": self.gaps,
            "largest_gap_s": self.largest_gap_s,
            "keys": self.keys,
            "evicted": self.evicted,
            "records_this_run": self.records_this_run,
            "elapsed_s": self.elapsed_s,
            "monitor_s": self.monitor_s,
            "warnings_suppressed": self.warnings_suppressed,
            "interrupted": float(self.interrupted),
        }
        if self.resumed_at_line is not None:
            out["resumed_at_line"] = self.resumed_at_line
        return out


class _Engine:
    """The Monitor of a run, built at the first valid point when given as a factory."""

    def __init__(self, monitor: Monitor | KeyedMonitor | MonitorFactory) -> None:
        self.monitor = monitor if isinstance(monitor, (Monitor, KeyedMonitor)) else None
        self.factory = None if self.monitor is not None else monitor

    def get(self, keyed: bool) -> Monitor | KeyedMonitor:
        if self.monitor is None:
            assert self.factory is not None
            self.monitor = self.factory(keyed)  # type: ignore[operator]
        elif keyed != isinstance(self.monitor, KeyedMonitor):
            raise SourceError(
                "the model was trained on "
                + ("one series per key" if not keyed else "a single series")
                + " but this input has "
                + ("a key column" if keyed else "no key column")
                + ". Use the same key column (--key-col) as when fitting."
            )
        return self.monitor

    def update(self, records: Records, accepted: np.ndarray) -> Any:
        keep = np.flatnonzero(accepted)
        if not keep.shape[0]:
            return None
        monitor = self.get(records.key is not None)
        values = records.value[keep]
        if isinstance(monitor, KeyedMonitor):
            assert records.key is not None
            return monitor.update_many(records.key[keep], values)
        return monitor.update_many(values)


class _Run:
    """State of one call to :func:`run`."""

    def __init__(
        self,
        source: Iterable[Records],
        engine: _Engine,
        sinks: Sequence[Any],
        validator: Validator,
        checkpoint: Checkpoint | None,
        only_anomalies: bool,
        flush: bool,
    ) -> None:
        self.source, self.engine, self.sinks = source, engine, list(sinks)
        self.validator, self.checkpoint = validator, checkpoint
        self.only_anomalies, self.flush = only_anomalies, flush
        self.stats = RunStats()
        self.started = time.perf_counter()
        self.read_at_start = 0
        self.keyed = False
        self.observers = [s for s in self.sinks if callable(getattr(s, "observe", None))]

    def resume(self) -> None:
        """Adopt the checkpoint's Monitor, counts, input and output positions, if any."""
        assert self.checkpoint is not None
        saved = self.checkpoint.read()
        if saved is None:
            return
        path = self.checkpoint.path
        if len(saved.outputs) != len(self.sinks):
            raise CheckpointError(
                f"{path}: the checkpoint was written with {len(saved.outputs)} outputs, this "
                f"run has {len(self.sinks)}. Delete the checkpoint to start over."
            )
        set_state = getattr(self.source, "set_state", None)
        if set_state is None:
            raise CheckpointError(f"{type(self.source).__name__} cannot resume from a checkpoint.")
        try:
            self.validator.set_state(saved.validator)
            self.stats.anomalies = int(saved.totals["anomalies"])
            self.stats.written = int(saved.totals["written"])
            self.stats.unscored = int(saved.totals.get("unscored", 0))
            line = int(saved.source["line"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{path}: the run state is malformed ({exc}).") from None
        set_state(saved.source)
        for sink, position in zip(self.sinks, saved.outputs, strict=True):
            if position is not None:
                sink.resume(position)
        assert saved.monitor is not None
        self.engine.monitor = saved.monitor
        self.keyed = isinstance(saved.monitor, KeyedMonitor)
        self.read_at_start = self.validator.n_read
        self.stats.resumed_at_line = line

    def save(self) -> None:
        """Make the outputs durable, then write the checkpoint that points into them."""
        assert self.checkpoint is not None
        for sink in self.sinks:
            if callable(getattr(sink, "sync", None)):
                sink.sync()
        outputs = [sink.position if getattr(sink, "resumable", False) else None for sink in self]
        get_state = getattr(self.source, "get_state", None)
        if get_state is None:
            raise CheckpointError(f"{type(self.source).__name__} cannot be checkpointed.")
        saved = SavedRun(
            source=get_state(),
            outputs=outputs,
            validator=self.validator.get_state(),
            totals={
                "anomalies": self.stats.anomalies,
                "written": self.stats.written,
                "unscored": self.stats.unscored,
            },
        )
        self.checkpoint.write(self.engine.get(self.keyed), saved)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.sinks)

    def process(self, records: Records) -> str | None:
        """Validate, detect and write one chunk; return the error under ``"raise"``."""
        checked = self.validator.check(records)
        self.keyed = records.key is not None
        tick = time.perf_counter()
        result = self.engine.update(records, checked.accepted)
        self.stats.monitor_s += time.perf_counter() - tick
        if result is not None:
            self.stats.anomalies += int(np.count_nonzero(result.is_anomaly))
            self.stats.unscored += int(np.count_nonzero(np.isnan(result.score)))
        batch = chunk_batch(records, checked, result)
        self.write(batch.select(batch.is_anomaly) if self.only_anomalies else batch)
        return checked.error

    def write(self, batch: OutputBatch) -> None:
        for sink in self.sinks:
            sink.write(batch)
            if self.flush and callable(getattr(sink, "flush", None)):
                sink.flush()
        self.stats.written += len(batch)
        self.observe()

    def observe(self) -> None:
        stats, validator = self.stats, self.validator
        stats.records_read, stats.valid = validator.n_read, validator.n_valid
        stats.skipped, stats.flagged_invalid = validator.n_skipped, validator.n_flagged
        stats.invalid_by_kind = validator.problems()
        stats.gaps = validator.n_gaps
        stats.largest_gap_s = validator.largest_gap if validator.n_gaps else math.nan
        monitor = self.engine.monitor
        if isinstance(monitor, KeyedMonitor):
            stats.keys, stats.evicted = monitor.n_keys_, monitor.n_evicted_
        stats.records_this_run = validator.n_read - self.read_at_start
        stats.elapsed_s = time.perf_counter() - self.started
        stats.warnings_suppressed = validator.limiter.n_suppressed if validator.limiter else 0
        if self.observers:
            counters = stats.as_dict()
            for sink in self.observers:
                sink.observe(counters)

    def loop(self, signals: DeferredSignals | None) -> None:
        checkpoint = self.checkpoint
        last_saved = self.validator.n_read
        chunks = iter(self.source)
        while True:
            if signals is not None:
                signals.busy = False
            try:
                records = next(chunks)
            except StopIteration:
                break
            except KeyboardInterrupt:
                self.stats.interrupted = True
                break
            if signals is not None:
                signals.busy = True
            error = self.process(records)
            if error is not None:
                raise InvalidInputError(error)
            if checkpoint is not None and self.validator.n_read - last_saved >= checkpoint.interval:
                self.save()
                last_saved = self.validator.n_read
            if signals is not None and signals.pending is not None:
                self.stats.interrupted = True
                break
        if signals is not None:
            signals.busy = True  # a signal now waits for the final checkpoint
        if checkpoint is not None:
            self.save()
        self.observe()


def run(
    source: Iterable[Records],
    monitor: Monitor | KeyedMonitor | MonitorFactory,
    sinks: Sequence[Any] = (),
    *,
    validator: Validator | None = None,
    checkpoint: Checkpoint | None = None,
    only_anomalies: bool = False,
    flush: bool = False,
    handle_signals: bool = False,
) -> RunStats:
    """Read ``source`` to its end: validate each chunk, detect, write to every sink.

    Each chunk of :class:`~oddwatch.sources.Records` goes through ``validator`` (its
    ``on_invalid`` policy and counts), its valid points through ``monitor``, and the output
    records (:func:`~oddwatch.pipeline.chunk_batch`) to each sink's ``write``. After every
    chunk, a sink with an ``observe`` method receives :meth:`RunStats.as_dict`. Sinks are not
    closed (use them as context managers).

    Parameters
    ----------
    source
        An iterable of Records chunks: :class:`~oddwatch.sources.FileSource`,
        :class:`~oddwatch.sources.SimulationSource`, or your own. To checkpoint, it needs
        ``get_state()`` and ``set_state(state)`` (JSON).
    monitor
        A :class:`~oddwatch.Monitor` or :class:`~oddwatch.KeyedMonitor`, or a function of
        ``keyed`` (whether the records carry keys) returning one, called at the first valid
        point.
    sinks
        Where output records go (:mod:`oddwatch.sinks`).
    validator
        The invalid-record policy and counts (default ``Validator("flag")``). Under
        ``"raise"`` the records before the bad one are written, then
        :class:`~oddwatch.errors.InvalidInputError` is raised.
    checkpoint
        Save progress every ``checkpoint.interval`` records (``every``, more for a large
        state) and at the end; if the checkpoint
        file exists, resume from it first (Monitor, counts, input position, and each
        resumable sink cut back to its checkpointed position).
    only_anomalies
        Write only the flagged records (anomalies and flagged invalid records).
    flush
        Flush every sink after every chunk (for live output).
    handle_signals
        Stop cleanly on SIGINT and SIGTERM: the current chunk is finished, a final checkpoint
        written, and the stats come back with ``interrupted`` set (main thread only).

    Examples
    --------
    >>> from oddwatch import Monitor
    >>> from oddwatch.sinks import MemorySink
    >>> from oddwatch.sources import SimulationSource, simulate
    >>> sink = MemorySink()
    >>> stats = run(SimulationSource(simulate(n_points=3000, seed=1)), Monitor(), [sink])
    >>> stats.records_read, stats.valid, stats.flagged_invalid, len(sink.records)
    (3000, 2996, 4, 3000)
    >>> sink.stats["anomalies"] == stats.anomalies > 0
    True
    """
    state = _Run(
        source,
        _Engine(monitor),
        sinks,
        validator if validator is not None else Validator("flag"),
        checkpoint,
        only_anomalies,
        flush,
    )
    if checkpoint is not None:
        state.resume()
    signals = DeferredSignals() if handle_signals else contextlib.nullcontext(None)
    with signals as active:
        state.loop(active)
    return state.stats
