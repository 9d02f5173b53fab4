"""``oddwatch evaluate nab``: run a detector over the Numenta Anomaly Benchmark and score it.

Every file gets a fresh component built from one parameter set; its scores are scored as NAB
does (one optimised threshold per profile, comparable with the published scoreboard), its own
flags are scored as they are (what a deployed user gets; a detector runs inside
``Monitor(detector)``), and anomaly windows caught are counted. Prints a table, or with
``--json`` one JSON object on the last line.

Examples
--------
>>> parser = argparse.ArgumentParser()
>>> add_arguments(parser)
>>> args = parser.parse_args(["nab", "--detector", "RollingZScore", "--param", "window_size=50"])
>>> args.benchmark, args.detector, args.param
('nab', 'RollingZScore', ['window_size=50'])
>>> build_factory("RollingZScore", parse_params(args.param))().detector_
RollingZScore(window_size=50)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from oddwatch.cli._nab_report import Progress, neighbours, number, print_table
from oddwatch.cli._ucr_report import print_ucr_table, ucr_summary
from oddwatch.errors import InvalidParameterError

if TYPE_CHECKING:
    from oddwatch.detectors import Detector

__all__ = [
    "EPILOG",
    "HELP",
    "NAME",
    "add_arguments",
    "build_factory",
    "detector_names",
    "parse_params",
    "run",
]

NAME = "evaluate"
HELP = "Score a detector on a benchmark: NAB or the UCR anomaly archive."
EPILOG = """\
examples:
  oddwatch evaluate nab                          # the default Monitor on all 58 NAB files
  oddwatch evaluate nab --json | tail -n 1       # the scores as one JSON object
  oddwatch evaluate nab --detector RollingZScore --param window_size=100
  oddwatch evaluate nab --param smoothing=8 --param half_life=200 \\
      --param threshold.value=0.999              # tune the Monitor's detector and threshold
  oddwatch evaluate nab --detector IsolationForest --out results/   # NAB's results layout
  oddwatch evaluate nab --nab-range              # with each file's min/max, as NAB gives
  oddwatch evaluate nab --data ~/NAB --windows combined_windows_tiny.json --verbose
  oddwatch evaluate ucr                          # the default Monitor on the UCR dev split
  oddwatch evaluate ucr --detector IsolationForest --json | tail -n 1
  oddwatch evaluate ucr --series 1 4 109 --verbose   # a few series, one line each
"""
NAB_HELP = "Run one detector (or the default Monitor) over NAB v1.1 and score it."
NAB_EPILOG = (
    EPILOG
    + """
--param KEY=VALUE goes to the detector's constructor; VALUE is read as JSON when it can be
(3, 0.5, true, null, [1, 2]) and as text otherwise. With the Monitor, plain keys go to its
detector and threshold.KEY to its threshold. Scores outside [0, 1] (e.g. RollingZScore's
z-scores) are mapped by s / (1 + s), which does not change NAB's optimised scores.
"""
)
UCR_HELP = "Run one detector (or the default Monitor) over the UCR anomaly archive and score it."
UCR_EPILOG = (
    EPILOG
    + """
Each series gets a fresh component that learns causally from its first point. Top-1: the
highest score after the training prefix must fall within 100 points of the labelled anomaly
(the archive's rule). Own flags: a flag inside that range is a hit; other flag runs are false,
counted per 100,000 points in the prefix and after it. AUC-PR and VUS-PR rank the scores over
the whole series (NaN lowest; VUS-PR buffers up to 100 points), averaged over series.
"""
)
MONITOR = "Monitor"


def detector_names() -> list[str]:
    """Names ``--detector`` accepts: every registered detector, plus ``"Monitor"``.

    Examples
    --------
    >>> {"Monitor", "RollingZScore", "SeasonalDetector"} <= set(detector_names())
    True
    """
    from oddwatch.detectors import Detector
    from oddwatch.persist import registered_kinds

    kinds = registered_kinds()
    return sorted([name for name, cls in kinds.items() if issubclass(cls, Detector)] + [MONITOR])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the benchmarks of ``evaluate`` (one sub-command each) to `parser`.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> parser.parse_args(["nab", "--json"]).json
    True
    """
    benchmarks = parser.add_subparsers(
        dest="benchmark", metavar="BENCHMARK", required=True, parser_class=type(parser)
    )
    nab = benchmarks.add_parser(
        "nab",
        help=NAB_HELP,
        description=NAB_HELP,
        epilog=NAB_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    nab.add_argument(
        "--data",
        metavar="DIR",
        help="NAB checkout with data/ and labels/ (default: $ODDWATCH_NAB_DIR, else "
        "../shared/data/nab)",
    )
    nab.add_argument(
        "--windows",
        metavar="FILE",
        default="combined_windows.json",
        help="windows file under DIR/labels/; its keys are the files run "
        "(default combined_windows.json; combined_windows_tiny.json has 2 files)",
    )
    _add_component_arguments(nab)
    nab.add_argument(
        "--nab-range",
        action="store_true",
        help="give the detector each file's min and max (value_range), as NAB does for every "
        "detector: not causal, reported apart (the default run is causal)",
    )
    nab.add_argument(
        "--out", metavar="DIR", help="write per-file scores in NAB's results layout under DIR"
    )
    _add_output_arguments(nab, "file")
    ucr = benchmarks.add_parser(
        "ucr",
        help=UCR_HELP,
        description=UCR_HELP,
        epilog=UCR_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ucr.add_argument(
        "--data",
        metavar="DIR",
        help="folder with index.csv and npz/ (default: $ODDWATCH_UCR_DIR, else "
        "../shared/data/ucr-dev)",
    )
    ucr.add_argument(
        "--series",
        metavar="N",
        type=int,
        nargs="+",
        help="run only these series numbers (default: every series in index.csv)",
    )
    _add_component_arguments(ucr)
    _add_output_arguments(ucr, "series")


def _add_component_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--detector",
        metavar="NAME",
        default=MONITOR,
        help=f"what to run: {', '.join(detector_names())} (default {MONITOR})",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="constructor parameter of the detector; repeat for several",
    )


def _add_output_arguments(parser: argparse.ArgumentParser, unit: str) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object (last line of stdout)"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help=f"one line per {unit} on stderr"
    )


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings as a dict; values read as JSON where possible, else as text.

    Examples
    --------
    >>> parse_params(["window_size=50", "seed=null", "mode=fast", "rate=0.5", "on=true"])
    {'window_size': 50, 'seed': None, 'mode': 'fast', 'rate': 0.5, 'on': True}
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidParameterError(
                f"--param must be KEY=VALUE, e.g. --param window_size=50; got {item!r}."
            )
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        params[key] = tuple(value) if isinstance(value, list) else value
    return params


def _check_keys(cls: type[Any], params: Mapping[str, Any], owner: str, prefix: str = "") -> None:
    valid = cls._param_names()
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise InvalidParameterError(
            f"unknown parameter {prefix + unknown[0]!r} for {owner}; valid: "
            f"{', '.join(prefix + name for name in valid)}."
        )


def build_factory(name: str, params: Mapping[str, Any]) -> Callable[[], Any]:
    """A function building a fresh `name` component with `params`, checked once now.

    `name` is matched case-insensitively against :func:`detector_names`; with ``"Monitor"``,
    plain keys go to its default detector and ``threshold.KEY`` to its default threshold. A
    detector name builds ``Monitor(detector)``: scores are the detector's, and its flags come
    from the detector's :meth:`~oddwatch.detectors.Detector.default_threshold`, so every
    detector's own flags are scored too.

    Raises
    ------
    InvalidParameterError
        Unknown name or parameter, or a value the component rejects.

    Examples
    --------
    >>> build_factory("monitor", {"threshold.value": 0.99})().threshold_
    FixedThreshold(value=0.99)
    >>> build_factory("Nope", {})
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: unknown detector 'Nope'; choose one of: ...
    """
    from oddwatch import Monitor
    from oddwatch.persist import registered_kinds

    names = {n.lower(): n for n in detector_names()}
    if name.lower() not in names:
        raise InvalidParameterError(
            f"unknown detector {name!r}; choose one of: {', '.join(names.values())}."
        )
    canonical = names[name.lower()]
    factory: Callable[[], Any]
    if canonical == MONITOR:
        default = Monitor()
        detector_cls, threshold_cls = type(default.detector_), type(default.threshold_)
        prefix = "threshold."
        detector_params = {k: v for k, v in params.items() if not k.startswith(prefix)}
        threshold_params = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
        _check_keys(detector_cls, detector_params, f"the Monitor's {detector_cls.__name__}")
        _check_keys(
            threshold_cls, threshold_params, f"the Monitor's {threshold_cls.__name__}", prefix
        )

        def factory() -> Any:
            return Monitor(
                detector=detector_cls(**detector_params),
                threshold=threshold_cls(**threshold_params),
            )
    else:
        cls = registered_kinds()[canonical]
        _check_keys(cls, params, canonical)

        def factory() -> Any:
            return Monitor(cast("Detector", cls(**params)))

    try:
        factory()
    except TypeError as exc:  # a value of the wrong kind that validation let through
        raise InvalidParameterError(
            f"cannot build {canonical} from {dict(params)}: {exc}."
        ) from None
    return factory


CAUSAL = "causal (each point scored from the points before it only)"
KNOWN_RANGE = "known: each file's min and max given up front (--nab-range, NOT causal)"


def _ranged_factory(name: str, params: Mapping[str, Any]) -> Callable[..., Any]:
    """``factory(value_range=(lo, hi))`` for ``--nab-range``: the detector's value_range."""
    try:
        build_factory(name, {**params, "value_range": [0.0, 1.0]})
    except InvalidParameterError:
        raise InvalidParameterError(
            f"--nab-range gives each file's range to the detector's `value_range`, which "
            f"{name} does not take. Use the default Monitor or DualSurpriseDetector."
        ) from None

    def factory(value_range: tuple[float, float]) -> Any:
        lo, hi = value_range
        if not lo < hi:  # a constant file: any wider range holds it
            lo, hi = lo - 1.0, hi + 1.0
        return build_factory(name, {**params, "value_range": [lo, hi]})()

    return factory


def _run_nab(args: argparse.Namespace) -> int:
    from oddwatch.evaluate import default_nab_dir, load_corpus, run_nab, write_results

    started = time.perf_counter()
    params = parse_params(args.param)
    factory = build_factory(args.detector, params)
    detector = next(n for n in detector_names() if n.lower() == args.detector.lower())
    data = Path(args.data) if args.data else default_nab_dir()
    if data is None:
        raise InvalidParameterError(
            "no NAB corpus found; pass --data DIR pointing at a NAB checkout (data/ and "
            "labels/) or set ODDWATCH_NAB_DIR."
        )
    corpus = load_corpus(data, args.windows)
    if not corpus.files:
        raise InvalidParameterError(f"{data}/labels/{args.windows} lists no files; nothing to run.")
    loaded = time.perf_counter()
    if args.nab_range:
        factory = _ranged_factory(args.detector, params)
    progress = Progress(sys.stderr, args.verbose)
    try:
        result = run_nab(corpus, factory, progress=progress, known_range=args.nab_range)
    finally:
        progress.close()
    ran = time.perf_counter()
    optimised, own = result.optimised, result.own_flags
    assert own is not None  # the factory always builds a Monitor
    events = result.event_metrics
    scored = time.perf_counter()
    if args.out:
        try:
            write_results(args.out, detector, corpus, result.scores)
        except OSError as exc:
            raise InvalidParameterError(
                f"cannot write results under {args.out!r}: {exc}. Check the --out path."
            ) from None
    n_rows = sum(f.n_rows for f in corpus.files.values())
    summary: dict[str, Any] = {
        "detector": detector,
        "params": params,
        "data": str(data),
        "files": len(corpus.files),
        "rows": n_rows,
        "windows": corpus.n_windows,
        **{name: number(r.score) for name, r in optimised.profiles.items()},
        "thresholds": {name: r.threshold for name, r in optimised.profiles.items()},
        "scoreboard": {name: neighbours(r.score, name) for name, r in optimised.profiles.items()},
        "flags": {k: number(v) for k, v in own.scores.items()},
        "events": {k: number(v) for k, v in events.as_dict().items()},
        **{name: number(v) for name, v in result.ranking.items()},
        "squashed": result.squashed,
        "range": KNOWN_RANGE if args.nab_range else CAUSAL,
        "out": None if not args.out else str(Path(args.out) / detector),
        "load_seconds": round(loaded - started, 3),
        "run_seconds": round(result.total_seconds, 3),
        "score_seconds": round(scored - ran, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print_table(summary, sys.stdout)
    return 0


def _run_ucr(args: argparse.Namespace) -> int:
    from oddwatch.evaluate.ucr import default_ucr_dir, load_ucr, run_ucr

    started = time.perf_counter()
    params = parse_params(args.param)
    factory = build_factory(args.detector, params)
    detector = next(n for n in detector_names() if n.lower() == args.detector.lower())
    data = Path(args.data) if args.data else default_ucr_dir()
    if data is None:
        raise InvalidParameterError(
            "no UCR data found; pass --data DIR holding index.csv and npz/ (the UCR dev split) "
            "or set ODDWATCH_UCR_DIR."
        )
    series = load_ucr(data, args.series)
    loaded = time.perf_counter()
    progress = Progress(sys.stderr, args.verbose)
    try:
        result = run_ucr(series, factory, progress=progress)
    finally:
        progress.close()
    ran = time.perf_counter()
    summary = ucr_summary(result, detector, params, str(data))
    summary.update(
        load_seconds=round(loaded - started, 3),
        run_seconds=round(result.total_seconds, 3),
        score_seconds=round(time.perf_counter() - ran, 3),
        seconds=round(time.perf_counter() - started, 3),
    )
    if args.json:
        print(json.dumps(summary))
    else:
        print_ucr_table(summary, sys.stdout)
    return 0


_BENCHMARKS: dict[str, Callable[[argparse.Namespace], int]] = {"nab": _run_nab, "ucr": _run_ucr}


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark; returns the exit code (0).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser)
    >>> run(parser.parse_args(["nab", "--param", "window_size"]))
    Traceback (most recent call last):
    ...
    oddwatch.errors.InvalidParameterError: --param must be KEY=VALUE, e.g. --param
    window_size=50; got 'window_size'.
    """
    return _BENCHMARKS[args.benchmark](args)
