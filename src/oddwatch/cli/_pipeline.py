"""What ``fit`` and ``detect`` share: input flags, TOML settings, and the per-chunk pipeline.

A chunk of parsed records goes through the validation policy, its valid points through the
detection engine (a :class:`~oddwatch.Monitor`, or a :class:`~oddwatch.keyed.KeyedMonitor`
when the input has a key column), and comes out as one
:class:`~oddwatch.sinks.OutputBatch` holding the valid records and the flagged invalid ones.

Examples
--------
>>> import numpy as np
>>> from oddwatch.sources._base import Records
>>> from oddwatch.sources.records import Validator
>>> pipeline = Pipeline(Validator("flag"), engine=None, detector=None, threshold=None)
>>> records = Records(line=np.arange(1, 4), value=np.array([1.0, np.nan, 2.0]), end=0,
...                   problem=np.array([0, 3, 0], dtype=np.uint8), detail={1: "value 'x'"})
>>> batch, error = pipeline.process(records)
>>> batch.is_anomaly.tolist(), batch.reason[1], error
([False, True, False], "invalid record (not_numeric): value 'x'", None)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from oddwatch.cli._components import build, names, parse_param
from oddwatch.errors import CheckpointError, InvalidParameterError, SourceError
from oddwatch.keyed import KeyedMonitor
from oddwatch.monitor import Monitor, MonitorResult
from oddwatch.sinks._base import OutputBatch
from oddwatch.sources._base import Records
from oddwatch.sources.records import Validator

__all__ = [
    "INPUT_OPTIONS",
    "Choice",
    "Pipeline",
    "add_input_arguments",
    "load_model",
    "read_settings",
    "warn",
]

# setting name -> (TOML types, default); each is also a flag (--time-col for time_col, ...)
INPUT_OPTIONS: dict[str, tuple[tuple[type, ...], Any]] = {
    "format": ((str,), None),
    "time_col": ((str, int), None),
    "value_col": ((str, int), None),
    "key_col": ((str, int), None),
    "header": ((bool,), None),
    "on_invalid": ((str,), "flag"),
    "max_gap": ((int, float), None),
    "max_keys": ((int,), 10_000),
    "batch": ((int,), 10_000),
    "quiet": ((bool,), False),
    "json": ((bool,), False),
}


def add_input_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for reading and validating input and choosing the detector (fit and detect)."""
    add = parser.add_argument
    add(
        "--format",
        choices=["csv", "jsonl"],
        help="input format (default: from the file extension, else from the data)",
    )
    add(
        "--time-col",
        metavar="COL",
        help="timestamp field: name, or 0-based position (CSV); "
        "default: a field called timestamp/time/ts/datetime/date, if any",
    )
    add(
        "--value-col",
        metavar="COL",
        help="value field (default: a field called value/val/y, else the one field left)",
    )
    add(
        "--key-col",
        metavar="COL",
        help="series key field: one detector state per key "
        "(default: a field called key/series, if any)",
    )
    add(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether CSV line 1 names the fields (default: guessed)",
    )
    add(
        "--on-invalid",
        choices=["raise", "skip", "flag"],
        help="bad records (unparsable, "
        "non-numeric, NaN/inf, missing fields, bad/out-of-order/duplicate timestamps): stop "
        "with exit code 3, drop them, or report them as anomalies (default flag)",
    )
    add(
        "--max-gap",
        type=float,
        metavar="SECONDS",
        help="report gaps longer than this (default: 1.5 x the median of the first 64 steps)",
    )
    add(
        "--max-keys",
        type=int,
        metavar="N",
        help="most series kept at once; the least recently seen is evicted beyond (default 10000)",
    )
    add(
        "--detector",
        metavar="NAME",
        help=f"one of {', '.join(names('detector'))} "
        "(default DualSurpriseDetector; with --key-col, SeasonalDetector)",
    )
    add(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a detector parameter (repeatable), e.g. --param season_length=24",
    )
    add(
        "--threshold",
        metavar="NAME",
        help=f"one of {', '.join(names('threshold'))} (default FixedThreshold)",
    )
    add(
        "--threshold-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a threshold parameter (repeatable), e.g. --threshold-param value=0.999",
    )
    add(
        "--config",
        metavar="FILE.toml",
        help="settings file: flag names as keys, plus "
        "[detector] and [threshold] tables with `name` and parameters; flags win",
    )
    add("--batch", type=int, metavar="N", help="records per batch (default 10000)")
    add("--quiet", action="store_true", default=None, help="no warnings on stderr")
    add(
        "--json",
        action="store_true",
        default=None,
        help="print the summary as one JSON line (on stderr)",
    )


@dataclass(frozen=True)
class Choice:
    """A detector or threshold choice: name (None = default) and parameters."""

    name: str | None
    params: dict[str, Any]

    def build(self, family: str) -> Any:
        return build(family, self.name, self.params)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": self.params}


def _table(file: dict[str, Any], family: str, where: str) -> Choice:
    table = file.pop(family, {})
    if not isinstance(table, dict):
        raise InvalidParameterError(f"{where}: [{family}] must be a table.")
    params = dict(table)
    name = params.pop("name", None)
    if name is not None and not isinstance(name, str):
        raise InvalidParameterError(f"{where}: [{family}] name must be text; got {name!r}.")
    return Choice(name, params)


def read_settings(
    args: argparse.Namespace, options: Mapping[str, tuple[tuple[type, ...], Any]]
) -> tuple[dict[str, Any], Choice, Choice]:
    """Merge defaults, the ``--config`` TOML file and the flags (flags win).

    Returns the settings by name and the detector and threshold choices.
    """
    from oddwatch.cli._toml import read_toml

    where = str(args.config)
    file = read_toml(args.config) if args.config else {}
    detector = _table(file, "detector", where)
    threshold = _table(file, "threshold", where)
    unknown = sorted(set(file) - set(options))
    if unknown:
        raise InvalidParameterError(
            f"{where}: unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(options))} and [detector], [threshold] tables."
        )
    settings = {name: default for name, (_, default) in options.items()}
    for name, value in file.items():
        kinds = options[name][0]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            wanted = " or ".join(k.__name__ for k in kinds)
            raise InvalidParameterError(f"{where}: `{name}` must be {wanted}; got {value!r}.")
        settings[name] = value
    for name in options:
        flag = getattr(args, name, None)
        if flag is not None:
            settings[name] = flag
    for name in ("time_col", "value_col", "key_col"):
        if settings[name] is not None:
            settings[name] = str(settings[name])
    for name in ("max_keys", "batch"):
        if settings[name] < 1:
            raise InvalidParameterError(
                f"--{name.replace('_', '-')} must be >= 1; got {settings[name]}."
            )
    if settings["on_invalid"] not in ("raise", "skip", "flag"):
        raise InvalidParameterError(
            f"{where}: `on_invalid` must be raise, skip or flag; got {settings['on_invalid']!r}."
        )
    detector = Choice(
        args.detector or detector.name, {**detector.params, **dict(map(parse_param, args.param))}
    )
    threshold = Choice(
        args.threshold or threshold.name,
        {**threshold.params, **dict(map(parse_param, args.threshold_param))},
    )
    return settings, detector, threshold


def load_model(path: str) -> Monitor | KeyedMonitor:
    """A Monitor or KeyedMonitor saved by ``oddwatch fit`` (or ``Monitor.save``)."""
    from oddwatch.persist import load

    model = load(path)
    if not isinstance(model, (Monitor, KeyedMonitor)):
        raise CheckpointError(
            f"{path} holds a {type(model).__name__}; --model needs a model saved by "
            "`oddwatch fit` (a Monitor or a KeyedMonitor)."
        )
    return model


class Pipeline:
    """Validation, then detection, for one chunk of records at a time.

    ``engine`` is a model to continue from, or None to build one at the first valid point
    from ``detector`` and ``threshold`` (a KeyedMonitor when the records carry keys).
    ``n_anomalies`` counts the valid points the engine flagged (not the flagged bad records).
    """

    def __init__(
        self,
        validator: Validator,
        engine: Monitor | KeyedMonitor | None,
        detector: Any,
        threshold: Any,
        max_keys: int = 10_000,
    ) -> None:
        self.validator = validator
        self.engine = engine
        self.detector = detector
        self.threshold = threshold
        self.max_keys = max_keys
        self.n_anomalies = 0

    def ensure_engine(self, keyed: bool) -> Monitor | KeyedMonitor:
        """The engine, built now if it does not exist yet."""
        if self.engine is None:
            if keyed:
                self.engine = KeyedMonitor(self.detector, self.threshold, max_keys=self.max_keys)
            else:
                self.engine = Monitor(self.detector, self.threshold)
        elif keyed != isinstance(self.engine, KeyedMonitor):
            raise SourceError(
                "the model was trained on "
                + ("one series per key" if not keyed else "a single series")
                + " but this input has "
                + ("a key column" if keyed else "no key column")
                + ". Use the same --key-col as when fitting."
            )
        return self.engine

    def process(self, records: Records) -> tuple[OutputBatch, str | None]:
        """Output records for a chunk (valid and flagged ones) and the error under "raise"."""
        checked = self.validator.check(records)
        n = checked.accepted.shape[0]
        value = records.value[:n]
        score = np.full(n, np.nan)
        threshold = np.full(n, np.nan)
        is_anomaly = checked.flagged.copy()
        reason = [""] * n
        keep = np.flatnonzero(checked.accepted)
        key = None if records.key is None else records.key[:n]
        if keep.shape[0]:
            engine = self.ensure_engine(key is not None)
            result: MonitorResult
            if isinstance(engine, KeyedMonitor):
                assert key is not None
                result = engine.update_many(key[keep], value[keep])
            else:
                result = engine.update_many(value[keep])
            score[keep], threshold[keep] = result.score, result.threshold
            is_anomaly[keep] = result.is_anomaly
            self.n_anomalies += result.n_anomalies
            for j in np.flatnonzero(result.is_anomaly):
                reason[keep[j]] = result.reason(int(j))
        for i in np.flatnonzero(checked.flagged):
            reason[i] = checked.reason(int(i))
        timestamp = None if records.time_text is None else records.time_text[:n]
        batch = OutputBatch(
            checked.seq, value, score, threshold, is_anomaly, reason, key, timestamp
        )
        shown = checked.accepted | checked.flagged
        if not shown.all():
            batch = batch.select(shown)
        return batch, checked.error


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    print(f"warning: {message}", file=sys.stderr)
