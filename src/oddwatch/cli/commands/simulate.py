"""``oddwatch simulate``: write a simulated stream with ground-truth labels as CSV or JSONL.

Settings come from the defaults of :class:`~oddwatch.sources.SimulationConfig`, then a TOML
file (``--config``; keys are the config field names), then the flags.

Examples
--------
>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_arguments(parser)
>>> run(parser.parse_args(["--points", "2", "--format", "jsonl"]))
{"timestamp": "2026-01-01T00:00:00", "value": 50.11..., "label": 0, "kind": ""}
{"timestamp": "2026-01-01T00:01:00", "value": 51.25..., "label": 0, "kind": ""}
0
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable
from typing import Any

from oddwatch.errors import InvalidParameterError
from oddwatch.sources.simulate import (
    Simulation,
    SimulationConfig,
    simulate,
    write_csv,
    write_jsonl,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["EPILOG", "HELP", "NAME", "add_arguments", "run"]

NAME = "simulate"
HELP = "Write a simulated stream with labelled anomalies (CSV or JSONL)."
EPILOG = """\
examples:
  oddwatch simulate --points 1000 > stream.csv
  oddwatch simulate --points 100000 --seed 7 --out stream.jsonl   # format from extension
  oddwatch simulate --outlier-prob 0.02 --format jsonl | head
  oddwatch simulate --delay 0.5                  # one point every half second, live
  oddwatch simulate --config sim.toml --seed 3   # file settings, flags win

config file (TOML, keys are SimulationConfig fields):
  n_points = 20000
  seasonal_periods = [144, 1008]
  seasonal_amplitudes = [10.0, 4.0]
  anomaly_kinds = ["spike", "dip", "level_shift"]
"""

_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_Writer = Callable[..., None]
_WRITERS: dict[str, _Writer] = {"csv": write_csv, "jsonl": write_jsonl}
# (flag destination, SimulationConfig field) for the flags that override the config.
_OVERRIDES = (
    ("points", "n_points"),
    ("seed", "seed"),
    ("outlier_prob", "outlier_prob"),
    ("delay", "delay"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` flags to ``parser``; they all default to the config's values.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["--points", "10"]).points
    10
    """
    parser.add_argument(
        "--points", type=int, metavar="N", help="number of points (n_points; default 5000)"
    )
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (seed; default 0)")
    parser.add_argument(
        "--outlier-prob",
        type=float,
        metavar="P",
        help="probability per point that an anomaly starts (outlier_prob; default 0.005)",
    )
    parser.add_argument(
        "--delay",
        type=float,
        metavar="SECONDS",
        help="pace the output in real time, flushing each line (delay; default 0)",
    )
    parser.add_argument(
        "--format",
        choices=sorted(_WRITERS),
        help="output format (default: from the --out extension, else csv)",
    )
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")
    parser.add_argument(
        "--config", metavar="FILE.toml", help="TOML file of SimulationConfig settings"
    )


def _load_config(path: str) -> SimulationConfig:
    try:
        with open(path, "rb") as file:
            settings = tomllib.load(file)
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot read config file '{path}': {exc.strerror}. Check the --config path."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidParameterError(
            f"config file '{path}' is not valid TOML: {exc}. Fix the syntax and retry."
        ) from None
    try:
        return SimulationConfig.from_mapping(settings)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"in config file '{path}': {exc}") from None


def _silence_stdout() -> None:
    """Point stdout at devnull so the final flush after a closed pipe stays quiet."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _write_stdout(write: _Writer, sim: Simulation) -> int:
    try:
        write(sim, sys.stdout, delay=sim.config.delay)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader left (e.g. `| head`): not an error
        _silence_stdout()
    return 0


def run(args: argparse.Namespace) -> int:
    """Generate the stream and write it; return the exit code (0).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> run(parser.parse_args(["--points", "0"]))
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: `n_points` of SimulationConfig must be an int >= 1;
    got 0. Ask for at least one point.
    """
    config = _load_config(args.config) if args.config else SimulationConfig()
    overrides: dict[str, Any] = {
        field: getattr(args, dest) for dest, field in _OVERRIDES if getattr(args, dest) is not None
    }
    config = SimulationConfig.from_mapping({**dataclasses.asdict(config), **overrides})
    suffix = os.path.splitext(args.out or "")[1].lower()
    write = _WRITERS[args.format or _FORMATS.get(suffix, "csv")]
    sim = simulate(config)
    if args.out is None or args.out == "-":
        return _write_stdout(write, sim)
    try:
        with open(args.out, "w", encoding="utf-8", newline="") as file:
            write(sim, file, delay=config.delay)
    except OSError as exc:
        raise InvalidParameterError(
            f"cannot write to '{args.out}': {exc.strerror}. Check the --out path."
        ) from None
    return 0
