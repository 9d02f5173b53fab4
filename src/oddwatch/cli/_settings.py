"""What ``fit`` and ``detect`` share: input flags, TOML settings as a typed object, and the
library objects they describe (source, validator, Monitor).

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_input_arguments(parser)
>>> settings = read_settings(parser.parse_args(["--on-invalid", "skip"]), INPUT_OPTIONS)
>>> settings.on_invalid, settings.batch, settings.detector
('skip', 10000, Choice(name=None, params={}))
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oddwatch import KeyedMonitor, Monitor
from oddwatch.cli._components import build, names, parse_param
from oddwatch.errors import CheckpointError, InvalidParameterError
from oddwatch.persist import load
from oddwatch.sources import MAX_LINE_BYTES, FileSource, RateLimiter, Validator

__all__ = [
    "INPUT_OPTIONS",
    "Choice",
    "Settings",
    "add_input_arguments",
    "count",
    "load_model",
    "make_monitor",
    "make_source",
    "make_validator",
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
    "sensitivity": ((int, float), None),
    "batch": ((int,), 10_000),
    "max_line_bytes": ((int,), MAX_LINE_BYTES),
    "quiet": ((bool,), False),
    "json": ((bool,), False),
}


def count(text: str) -> int:
    """A whole number from a flag, also written ``1e6`` or ``10_000``.

    Examples
    --------
    >>> count("1e6"), count("10_000"), count("42")
    (1000000, 10000, 42)
    >>> count("2.5")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a whole number such as 5000 or 1e6; got '2.5'
    """
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not number.is_integer() or abs(number) > 1e18:
        raise argparse.ArgumentTypeError(
            f"expected a whole number such as 5000 or 1e6; got {text!r}"
        )
    return int(number)


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
        type=count,
        metavar="N",
        help="most series kept at once; the least recently seen is evicted beyond (default 10000)",
    )
    add(
        "--detector",
        metavar="NAME",
        help=f"one of {', '.join(names('detector'))} "
        "(default: the Monitor's, DualSurpriseDetector, also per key)",
    )
    add(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a detector parameter (repeatable; without --detector, of the default one), "
        "e.g. --param season_length=24",
    )
    add(
        "--sensitivity",
        type=float,
        metavar="RATE",
        help="false-alarm rate: the share of normal points that may be flagged, the same on "
        "every series, e.g. 1e-4 (builds the threshold; not with --threshold)",
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
    add("--batch", type=count, metavar="N", help="records per batch (default 10000)")
    add(
        "--max-line-bytes",
        type=count,
        metavar="N",
        help="longest input line read (default 65536); a longer one is an invalid record "
        "(unparsable), handled by --on-invalid, its bytes never held in memory",
    )
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


@dataclass(frozen=True)
class Settings:
    """The merged settings of a command: ``values`` by option name (see the OPTIONS tables),
    the input path, and the detector and threshold choices."""

    values: Mapping[str, Any]
    input: str
    detector: Choice
    threshold: Choice

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None


def read_settings(
    args: argparse.Namespace, options: Mapping[str, tuple[tuple[type, ...], Any]]
) -> Settings:
    """Merge defaults, the ``--config`` TOML file and the flags (flags win)."""
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
    for name in ("max_keys", "batch", "max_line_bytes"):
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
    return Settings(settings, getattr(args, "input", "-"), detector, threshold)


def load_model(path: str) -> Monitor | KeyedMonitor:
    """A Monitor or KeyedMonitor saved by ``oddwatch fit`` (or ``Monitor.save``)."""
    model = load(path)
    if not isinstance(model, (Monitor, KeyedMonitor)):
        raise CheckpointError(
            f"{path} holds a {type(model).__name__}; --model needs a model saved by "
            "`oddwatch fit` (a Monitor or a KeyedMonitor)."
        )
    return model


def make_validator(settings: Settings) -> Validator:
    """The invalid-record policy, warnings on stderr unless ``quiet``."""
    quiet = settings.quiet
    return Validator(
        settings.on_invalid,
        max_gap=settings.max_gap,
        max_keys=settings.max_keys,
        limiter=RateLimiter(lambda message: None if quiet else warn(message)),
        hint="Use --on-invalid skip or flag to go on past bad records.",
    )


def make_source(settings: Settings, chunk_lines: int, **follow: Any) -> FileSource:
    """The input file (or stdin) with the column and format settings."""
    return FileSource(
        settings.input,
        settings.format,
        time_col=settings.time_col,
        value_col=settings.value_col,
        key_col=settings.key_col,
        header=settings.header,
        chunk_lines=chunk_lines,
        max_line_bytes=settings.max_line_bytes,
        **follow,
    )


def make_monitor(settings: Settings) -> Any:
    """A function of ``keyed`` building the Monitor (or KeyedMonitor) the settings describe.

    ``--param`` without ``--detector`` applies to the default detector. Bad names and
    parameters fail here, before any input is read.
    """
    detector, threshold = settings.detector, settings.threshold
    threshold.build("threshold")  # fail early on a bad threshold
    if detector.name is not None:
        detector.build("detector")

    def build_monitor(keyed: bool) -> Monitor | KeyedMonitor:
        name = detector.name
        if name is None and detector.params:  # the default detector, with these parameters
            name = type(Monitor().detector_).__name__
        det = Choice(name, detector.params).build("detector")
        thr = threshold.build("threshold")
        sensitivity = settings.sensitivity
        if keyed:
            return KeyedMonitor(det, thr, max_keys=settings.max_keys, sensitivity=sensitivity)
        return Monitor(det, thr, sensitivity=sensitivity)

    if (detector.name is None and detector.params) or settings.sensitivity is not None:
        build_monitor(False)  # fail early on a bad parameter or sensitivity
    return build_monitor


def warn(message: str) -> None:
    """Print a warning line on stderr."""
    print(f"warning: {message}", file=sys.stderr)
