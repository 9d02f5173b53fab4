"""Checkpoints of a pipeline run: Monitor state, input position, output positions, counts.

A checkpoint is an ordinary oddwatch state file (:func:`oddwatch.persist.save`: zip of
``meta.json`` and arrays, written to a temporary file, fsynced, renamed) holding the Monitor
(or KeyedMonitor), with the run's bookkeeping as plain JSON in ``extra["oddwatch.pipeline"]``:
the caller's settings (a resumed run must have the same), the source's position
(``Source.get_state``), the byte position of each resumable output, the validator's counts and
per-series history, and running totals. :func:`oddwatch.pipeline.run` makes the outputs durable
(fsync) before it writes the checkpoint that points into them, so after a crash at any moment
the last checkpoint is consistent with a prefix of every output.

Examples
--------
>>> import os, tempfile
>>> from oddwatch import Monitor
>>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
>>> Checkpoint(path, settings={"input": "x.csv"}).write(Monitor(), SavedRun.empty())
>>> Checkpoint(path, settings={"input": "y.csv"}).read()
Traceback (most recent call last):
...
oddwatch.errors.CheckpointError: ...: this checkpoint was written by a different command:
input was 'x.csv', now 'y.csv'. Re-run the same command, or delete the checkpoint to start over.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from oddwatch.errors import CheckpointError, InvalidParameterError
from oddwatch.keyed import KeyedMonitor
from oddwatch.monitor import Monitor
from oddwatch.persist import load_with_extra, save

__all__ = ["DEFAULT_EVERY", "KIND", "STATE_BYTES_PER_RECORD", "VERSION", "Checkpoint", "SavedRun"]

KIND = "oddwatch.pipeline"
VERSION = 1
DEFAULT_EVERY = 10_000  # records between checkpoints when ``every`` is not given
STATE_BYTES_PER_RECORD = 100  # ... and at least one record read per this many state bytes


@dataclass
class SavedRun:
    """The JSON part of a checkpoint besides the settings, and the Monitor it holds."""

    source: dict[str, Any]
    outputs: list[int | None]
    validator: dict[str, Any]
    totals: dict[str, Any]
    monitor: Monitor | KeyedMonitor | None = field(default=None, compare=False)

    @classmethod
    def empty(cls) -> SavedRun:
        """Nothing read, nothing written."""
        return cls(source={}, outputs=[], validator={}, totals={})


def _differences(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    return [
        f"{k} was {saved.get(k)!r}, now {now.get(k)!r}"
        for k in sorted(set(saved) | set(now))
        if saved.get(k) != now.get(k)
    ]


class Checkpoint:
    """Where and how often :func:`oddwatch.pipeline.run` saves its progress.

    Parameters
    ----------
    path
        The checkpoint file; when it exists, ``run`` resumes from it.
    every
        Records read between checkpoints (one is also written at the end of the run), exactly
        as given. Left as ``None``, the spacing adapts to the state: each checkpoint writes the
        whole state, so the next waits for :data:`DEFAULT_EVERY` records or, after one of
        ``size`` bytes, ``size // STATE_BYTES_PER_RECORD`` if that is more (a 2 GB state of
        10^6 keys is written every 20 million records, not every 10,000). See
        :attr:`interval`.
    settings
        JSON-able settings that shape the output (input path, columns, policy, detector...);
        a checkpoint written with other settings is refused, so a resumed run cannot mix two
        configurations.
    """

    def __init__(
        self, path: str, *, every: int | None = None, settings: Mapping[str, Any] | None = None
    ) -> None:
        if every is not None and (
            not isinstance(every, int) or isinstance(every, bool) or every < 1
        ):
            raise InvalidParameterError(
                f"`every` of Checkpoint must be an int >= 1 or None; got {every!r}. "
                "Give the number of records between checkpoints, or None to adapt it to "
                "the state's size."
            )
        self.path = path
        self.every = every
        self.size = 0  # bytes of the last checkpoint written
        self.settings: dict[str, Any] = json.loads(json.dumps(dict(settings or {}), default=str))

    @property
    def interval(self) -> int:
        """Records to read before the next checkpoint: ``every``, or adapted to the state.

        Examples
        --------
        >>> checkpoint = Checkpoint("run.ckpt")
        >>> checkpoint.size = 1_970_000_000  # 10^6 keys of the default detector
        >>> checkpoint.interval
        19700000
        >>> Checkpoint("run.ckpt", every=8).interval  # given: exactly that
        8
        """
        if self.every is not None:
            return self.every
        return max(DEFAULT_EVERY, self.size // STATE_BYTES_PER_RECORD)

    def write(self, monitor: Monitor | KeyedMonitor, run: SavedRun) -> None:
        """Write the checkpoint atomically (temporary file, fsync, rename)."""
        info = {
            "version": VERSION,
            "settings": self.settings,
            "source": run.source,
            "outputs": run.outputs,
            "validator": run.validator,
            "totals": run.totals,
        }
        try:
            save(monitor, self.path, extra={KIND: info})
            self.size = os.path.getsize(self.path)
        except OSError as exc:
            raise CheckpointError(
                f"cannot write the checkpoint {self.path!r}: {exc.strerror or exc}."
            ) from None

    def read(self) -> SavedRun | None:
        """The saved run, or None when there is no checkpoint file yet.

        A corrupt, foreign or incompatible file, or one written with other settings, raises
        :class:`~oddwatch.errors.CheckpointError`.
        """
        path = self.path
        if not os.path.exists(path):
            return None
        monitor, extra = load_with_extra(path)
        self.size = os.path.getsize(path)
        info = extra.get(KIND)
        if not isinstance(info, dict):
            old = "oddwatch.detect" in extra
            raise CheckpointError(
                f"{path}: "
                + (
                    "a checkpoint of an older oddwatch, which this one cannot resume; delete "
                    "it to start over."
                    if old
                    else "not a pipeline checkpoint (a model saved by `oddwatch fit` goes to "
                    "--model). Give another --checkpoint path."
                )
            )
        version = info.get("version")
        if version != VERSION:
            raise CheckpointError(
                f"{path}: checkpoint version {version!r} is not readable by this oddwatch, "
                f"which reads version {VERSION}. Delete it to start over."
            )
        if not isinstance(monitor, (Monitor, KeyedMonitor)):
            raise CheckpointError(f"{path}: holds a {type(monitor).__name__}, not a Monitor.")
        settings = info.get("settings")
        differences = _differences(settings if isinstance(settings, dict) else {}, self.settings)
        if differences:
            raise CheckpointError(
                f"{path}: this checkpoint was written by a different command: "
                f"{'; '.join(differences)}. Re-run the same command, or delete the checkpoint "
                "to start over."
            )
        try:
            run = SavedRun(
                source=dict(info["source"]),
                outputs=[None if p is None else int(p) for p in info["outputs"]],
                validator=dict(info["validator"]),
                totals=dict(info["totals"]),
                monitor=monitor,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{path}: the checkpoint's run state is malformed ({exc}). Delete it to start over."
            ) from None
        return run
