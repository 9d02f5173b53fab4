"""Checkpoints of ``oddwatch detect``: engine state, input position, output position.

A checkpoint is an ordinary oddwatch state file (:func:`oddwatch.persist.save`: zip of
``meta.json`` and arrays, written to a temporary file, fsynced, renamed) holding the
detection engine, with the run's bookkeeping as plain JSON in ``extra["oddwatch.detect"]``:
the settings that shape the output, the input byte offset and line, a SHA-256 of the input
before that offset, the parser's layout, the output byte position, the validator's counts
and per-series history, and running totals. The output file is made durable (fsync) before
the checkpoint that points into it is written, so after a crash at any moment the last
checkpoint is consistent with a prefix of the output.

Examples
--------
>>> import os, tempfile
>>> from oddwatch import Monitor
>>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
>>> state = RunState(input={"offset": 0, "line": 1, "identity": None, "head": ""},
...                  parser=None, output_position=0, validator={}, totals={})
>>> write_checkpoint(path, Monitor(), {"input": "x.csv"}, state)
>>> read_checkpoint(path, {"input": "y.csv"})
Traceback (most recent call last):
...
oddwatch.errors.CheckpointError: ...: this checkpoint was written by a different command:
input was 'x.csv', now 'y.csv'. Re-run the same command, or delete the checkpoint to start over.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from oddwatch.errors import CheckpointError
from oddwatch.keyed import KeyedMonitor
from oddwatch.monitor import Monitor
from oddwatch.persist import load_with_extra, save

__all__ = [
    "KIND",
    "VERSION",
    "RunState",
    "head_digest",
    "read_checkpoint",
    "verify_input",
    "write_checkpoint",
]

KIND = "oddwatch.detect"
VERSION = 1
_HEAD_BYTES = 1 << 16


@dataclass
class RunState:
    """The JSON part of a checkpoint, besides the settings."""

    input: dict[str, Any]
    parser: dict[str, Any] | None
    output_position: int | None
    validator: dict[str, Any]
    totals: dict[str, Any]


def head_digest(path: str, offset: int) -> str:
    """SHA-256 of the first ``min(offset, 64 KiB)`` bytes of ``path`` (hex).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "in.csv")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(b"abc")
    >>> head_digest(path, 3) == hashlib.sha256(b"abc").hexdigest()
    True
    """
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(min(offset, _HEAD_BYTES))).hexdigest()


def write_checkpoint(
    path: str, engine: Monitor | KeyedMonitor, settings: Mapping[str, Any], state: RunState
) -> None:
    """Write a checkpoint atomically (temporary file, fsync, rename)."""
    extra = {KIND: {"version": VERSION, "settings": dict(settings), **asdict(state)}}
    try:
        save(engine, path, extra=extra)
    except OSError as exc:
        raise CheckpointError(
            f"cannot write the checkpoint {path!r}: {exc.strerror or exc}."
        ) from None


def _differences(saved: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    return [
        f"{k} was {saved.get(k)!r}, now {now.get(k)!r}"
        for k in sorted(set(saved) | set(now))
        if saved.get(k) != now.get(k)
    ]


def read_checkpoint(
    path: str, settings: Mapping[str, Any]
) -> tuple[Monitor | KeyedMonitor, RunState] | None:
    """The engine and run state saved at ``path``, or None when there is no such file.

    A corrupt, foreign or incompatible file, or one written with other settings, raises
    :class:`~oddwatch.errors.CheckpointError`.
    """
    if not os.path.exists(path):
        return None
    engine, extra = load_with_extra(path)
    info = extra.get(KIND)
    if not isinstance(info, dict):
        raise CheckpointError(
            f"{path}: not a checkpoint of `oddwatch detect` (a model saved by `oddwatch fit` "
            "goes to --model). Give another --checkpoint path."
        )
    version = info.get("version")
    if version != VERSION:
        raise CheckpointError(
            f"{path}: detect checkpoint version {version!r} is not readable by this oddwatch, "
            f"which reads version {VERSION}. Delete it to start over."
        )
    if not isinstance(engine, (Monitor, KeyedMonitor)):
        raise CheckpointError(f"{path}: holds a {type(engine).__name__}, not a detection engine.")
    differences = _differences(info.get("settings") or {}, settings)
    if differences:
        raise CheckpointError(
            f"{path}: this checkpoint was written by a different command: "
            f"{'; '.join(differences)}. Re-run the same command, or delete the checkpoint to "
            "start over."
        )
    try:
        state = RunState(
            input=dict(info["input"]),
            parser=info["parser"],
            output_position=info["output_position"],
            validator=dict(info["validator"]),
            totals=dict(info["totals"]),
        )
        int(state.input["offset"]), int(state.input["line"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's run state is malformed ({exc}).") from None
    return engine, state


def verify_input(path: str, state: RunState) -> None:
    """Refuse to resume on an input that is shorter or different before the offset."""
    offset = int(state.input["offset"])
    try:
        size = os.path.getsize(path)
    except OSError as exc:
        raise CheckpointError(f"cannot check the input {path!r}: {exc.strerror or exc}.") from None
    if size < offset or head_digest(path, offset) != state.input.get("head"):
        raise CheckpointError(
            f"the input {path!r} is not the one the checkpoint was taken on (it is shorter or "
            "its start differs). Delete the checkpoint to start over."
        )
