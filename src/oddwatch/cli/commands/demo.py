"""``oddwatch demo``: the built-in simulated stream through the default Monitor, live.

Prints each flagged point as it happens and a summary at the end (precision, recall and F1 of
anomaly events against the injected labels, throughput). With a display it opens a live
matplotlib window that stays open on the final figure until closed (``--no-hold`` exits at
once); ``--no-plot`` (or no display) runs headless, ``--plot FILE`` saves the final figure
and ``--dashboard`` serves the live web dashboard instead of the window. Ctrl-C, or closing
the window, ends the run with the summary (exit code 130 after Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np

from oddwatch.config import COMPILING, notice_if_slow
from oddwatch.errors import InvalidParameterError
from oddwatch.pipeline import run as run_pipeline
from oddwatch.sinks import OutputBatch
from oddwatch.sources import Simulation, SimulationConfig, SimulationSource, Validator, simulate

__all__ = ["EPILOG", "HELP", "NAME", "add_arguments", "run"]

NAME = "demo"
HELP = "Watch a simulated stream with the default detector (the main job)."
EPILOG = """\
examples:
  oddwatch demo                                   # live window if there is a display
  oddwatch demo --no-plot                         # headless, flagged points as text
  oddwatch demo --points 5000 --seed 7 --no-plot --json
  oddwatch demo --delay 0.02 --outlier-prob 0.01  # slower, more anomalies
  oddwatch demo --plot demo.png --no-plot         # save the final figure
  oddwatch demo --points 0                        # run until Ctrl-C (or close the window)
  oddwatch demo --points 3000 --no-hold           # close the window when the stream ends
  oddwatch demo --dashboard --delay 0.01 --points 0   # web page at http://127.0.0.1:8050/
  oddwatch demo --config demo.toml

exit codes: 0 done (or window closed), 2 usage/configuration error, 130 Ctrl-C.

config file (TOML): the flags' names as keys, plus an optional [simulation] table
with any oddwatch.sources.SimulationConfig field:
  points = 20000
  seed = 3
  delay = 0.0              # DELAY: seconds between points
  outlier_prob = 0.005     # OUTLIERS_GENERATION_PROBABILITY
  no_plot = false          # VISUALIZATION = not no_plot
  [simulation]
  seasonal_periods = [144, 1008]
  seasonal_amplitudes = [10.0, 4.0]
"""

_FLAG_KEYS = {
    "points": int,
    "seed": int,
    "delay": float,
    "outlier_prob": float,
    "no_plot": bool,
    "plot": str,
    "json": bool,
    "quiet": bool,
    "tolerance": int,
    "no_hold": bool,
    "dashboard": bool,
    "host": str,
    "port": int,
}
_DEFAULTS: dict[str, Any] = {
    "points": 5000,
    "seed": 0,
    "delay": 0.0,
    "outlier_prob": 0.005,
    "no_plot": False,
    "plot": None,
    "json": False,
    "quiet": False,
    "tolerance": 10,
    "no_hold": False,
    "dashboard": False,
    "host": "127.0.0.1",
    "port": 8050,
}
_FOREVER_BLOCK = 100_000
_SERIES = ("values", "flags", "scores", "thresholds", "expected", "scale", "labels", "kinds")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``demo`` flags (all default to None so a config file can fill them)."""
    parser.add_argument(
        "--points",
        type=int,
        metavar="N",
        help="points to simulate; 0 runs until Ctrl-C (default 5000)",
    )
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (default 0)")
    parser.add_argument(
        "--delay",
        type=float,
        metavar="SECONDS",
        help="pause between points, the spec's DELAY (default 0)",
    )
    parser.add_argument(
        "--outlier-prob",
        type=float,
        metavar="P",
        help="chance per point that an anomaly starts (default 0.005)",
    )
    parser.add_argument(
        "--no-plot",
        action="store_true",
        default=None,
        help="no live window (automatic when there is no display)",
    )
    parser.add_argument("--plot", metavar="FILE", help="save the final figure (e.g. out.png)")
    parser.add_argument("--config", metavar="FILE", help="TOML file with the same keys")
    parser.add_argument(
        "--json",
        action="store_true",
        default=None,
        help="print the summary as one JSON object on the last line",
    )
    parser.add_argument(
        "--quiet", action="store_true", default=None, help="do not print each flagged point"
    )
    parser.add_argument(
        "--tolerance",
        type=int,
        metavar="K",
        help="points after an event in which a flag still counts (default 10)",
    )
    parser.add_argument(
        "--no-hold",
        action="store_true",
        default=None,
        help="exit when the stream ends instead of keeping the window (or dashboard) open",
    )
    parser.add_argument(
        "--dashboard",
        action="store_true",
        default=None,
        help="serve the live web dashboard (instead of the window)",
    )
    parser.add_argument(
        "--host", metavar="ADDR", help="dashboard interface (default 127.0.0.1: this machine)"
    )
    parser.add_argument(
        "--port", type=int, metavar="PORT", help="dashboard port (default 8050; 0 = any free)"
    )


def _settings(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, Any]]:
    """Merge defaults, the TOML file and the flags; return (settings, simulation table)."""
    from oddwatch.cli._toml import read_toml

    file: dict[str, Any] = read_toml(args.config) if args.config else {}
    simulation = file.pop("simulation", {})
    if not isinstance(simulation, dict):
        raise InvalidParameterError(f"{args.config}: [simulation] must be a table.")
    unknown = sorted(set(file) - set(_FLAG_KEYS))
    if unknown:
        raise InvalidParameterError(
            f"{args.config}: unknown key(s) {', '.join(unknown)}; allowed: "
            f"{', '.join(sorted(_FLAG_KEYS))} and a [simulation] table."
        )
    merged = dict(_DEFAULTS)
    for key, kind in _FLAG_KEYS.items():
        if key in file:
            value = file[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise InvalidParameterError(
                    f"{args.config}: `{key}` must be a {kind.__name__}; got {value!r}."
                )
            merged[key] = value
        flag = getattr(args, key)
        if flag is not None:
            merged[key] = flag
    if merged["points"] < 0:
        raise InvalidParameterError(f"--points must be >= 0 (0 = forever); got {merged['points']}.")
    if merged["delay"] < 0 or not math.isfinite(merged["delay"]):
        raise InvalidParameterError(f"--delay must be a number >= 0; got {merged['delay']}.")
    if merged["tolerance"] < 0:
        raise InvalidParameterError(f"--tolerance must be >= 0; got {merged['tolerance']}.")
    return merged, simulation


def _segments(settings: dict[str, Any], simulation: dict[str, Any]) -> Iterator[Simulation]:
    """Simulated segments: one of ``points`` points, or endless segments for ``points=0``.

    Each endless segment starts one step after the previous one ends, so time keeps moving
    forward (a segment restarting the clock would make every point out of order).
    """
    forever = settings["points"] == 0
    k = 0
    start = simulation.get("start")
    while True:
        config = SimulationConfig.from_mapping(
            {
                **simulation,
                **({} if start is None else {"start": start}),
                "n_points": _FOREVER_BLOCK if forever else settings["points"],
                "seed": settings["seed"] + k,
                "outlier_prob": settings["outlier_prob"],
                "delay": settings["delay"],
            }
        )
        segment = simulate(config)
        yield segment
        if not forever:
            return
        next_start = segment.timestamps[-1] + np.timedelta64(config.step_seconds, "s")
        start = str(next_start)
        k += 1


class _Recorder:
    """A sink keeping what the demo has seen (for the summary and the final figure), with
    the ground truth of each chunk from the simulation source."""

    def __init__(self, source: SimulationSource, started: float) -> None:
        self.source = source
        self.started = started
        self.parts: dict[str, list[np.ndarray]] = {name: [] for name in _SERIES}
        self.n_points = 0
        self.first_point_seconds = math.nan

    def write(self, batch: OutputBatch) -> None:
        if math.isnan(self.first_point_seconds):
            self.first_point_seconds = time.perf_counter() - self.started
        assert batch.expected is not None and batch.scale is not None
        for name, part in (
            ("values", batch.value),
            ("flags", batch.is_anomaly),
            ("scores", batch.score),
            ("thresholds", batch.threshold),
            ("expected", batch.expected),
            ("scale", batch.scale),
            ("labels", self.source.labels),
            ("kinds", self.source.kinds),
        ):
            self.parts[name].append(part)
        self.n_points += len(batch)

    def joined(self, name: str) -> np.ndarray:
        parts = self.parts[name]
        return np.concatenate(parts) if parts else np.zeros(0)

    def close(self) -> None:
        pass


class _FlagPrinter:
    """A sink printing one line per flagged point, with the injected truth."""

    def __init__(self, source: SimulationSource, out: TextIO) -> None:
        self.source, self.out = source, out

    def write(self, batch: OutputBatch) -> None:
        timestamps = batch.timestamp or [""] * len(batch)
        for i in np.flatnonzero(batch.is_anomaly).tolist():
            kind = str(self.source.kinds[i])
            truth = f"true: {kind}" if kind else "no injected anomaly"
            print(
                f"#{int(batch.seq[i]):<7d} {timestamps[i][:19]}  value {batch.value[i]:10.4g}  "
                f"{batch.reason[i]}  ({truth})",
                file=self.out,
            )

    def close(self) -> None:
        pass


class _LiveView:
    """Feeds each batch to the live window (:class:`~oddwatch.viz.LivePlot`)."""

    def __init__(self, live: Any, source: SimulationSource) -> None:
        self.live, self.source = live, source

    def write(self, batch: OutputBatch) -> None:
        when: Any = batch.seq.astype(float)
        if batch.timestamp is not None:
            when = np.array(batch.timestamp, dtype="datetime64[s]")
        self.live.append(
            when,
            batch.value,
            batch.score,
            batch.threshold,
            batch.is_anomaly,
            self.source.labels,
            batch.expected,
            batch.scale,
            list(batch.reason),
        )

    def close(self) -> None:
        pass


def _until_stopped(source: SimulationSource, live: Any) -> Iterator[Any]:
    """The source's chunks until the window is closed (or Ctrl-C is noted by it)."""
    for chunk in source:
        if live.stopped:
            return
        yield chunk


def run(args: argparse.Namespace) -> int:
    """Run the demo; returns the exit code."""
    started = time.perf_counter()
    settings, simulation = _settings(args)
    from oddwatch import Monitor
    from oddwatch.evaluate.metrics import event_metrics

    live = None
    if settings["dashboard"]:
        settings["no_plot"] = True  # the page replaces the window
    if not settings["no_plot"]:
        from oddwatch.viz import LivePlot, display_available

        if display_available():
            live = LivePlot(title="oddwatch demo: simulated stream")
        elif not settings["quiet"]:
            print(
                "no display found: running headless (use --plot FILE to save a figure)",
                file=sys.stderr,
            )
    session = None
    if settings["dashboard"]:
        from oddwatch.dashboard import DashboardSession

        session = DashboardSession(settings["host"], settings["port"]).start()
    monitor = Monitor()
    with notice_if_slow(COMPILING) if not settings["quiet"] else contextlib.nullcontext():
        monitor.clone().update_many(np.zeros(1))  # load the compiled kernels before timing
    source = SimulationSource(
        _segments(settings, simulation), chunk_size=64 if live is not None else 4096
    )
    record = _Recorder(source, started)
    sinks: list[Any] = [record]
    if not settings["quiet"]:  # with --json, stdout carries only the JSON summary
        sinks.append(_FlagPrinter(source, sys.stderr if settings["json"] else sys.stdout))
    chunks: Any = source
    if live is not None:
        sinks.append(_LiveView(live, source))
        chunks = _until_stopped(source, live)
    if session is not None:
        sinks.append(session.sink)
    try:
        stats = run_pipeline(
            chunks, monitor, sinks, validator=Validator("flag"), handle_signals=True
        )
    except BaseException:
        if session is not None:
            session.close()
        raise
    interrupted = stats.interrupted
    if interrupted:
        print("interrupted: summary of the points seen so far", file=sys.stderr)
    labels = record.joined("labels").astype(bool)
    flags = record.joined("flags").astype(bool)
    metrics = event_metrics(labels, flags, tolerance=settings["tolerance"])
    summary = {
        "points": record.n_points,
        "flagged": int(flags.sum()),
        "events": metrics.n_events,
        "detected_events": metrics.n_detected_events,
        "precision": round(metrics.precision, 4),
        "recall": round(metrics.recall, 4),
        "f1": round(metrics.f1, 4),
        "mean_delay": None if math.isnan(metrics.mean_delay) else round(metrics.mean_delay, 2),
        "points_per_second": round(record.n_points / max(stats.monitor_s, 1e-9)),
        "first_point_seconds": round(record.first_point_seconds, 3),
        "seconds": round(time.perf_counter() - started, 3),
    }
    if settings["plot"]:
        _save_figure(record, settings["plot"])
    _print_summary(summary, settings, sys.stdout)
    sys.stdout.flush()
    hold = not settings["no_hold"] and not interrupted
    if live is not None:
        if hold and not live.stopped:
            with live.catch_interrupts():
                live.hold()
            interrupted = live.interrupted
        live.close()
    if session is not None:
        if hold:
            interrupted = session.hold("stream ended")
        session.close()
    return 130 if interrupted else 0


def _save_figure(record: _Recorder, path: str) -> None:
    from oddwatch.viz import StreamFigure

    figure = StreamFigure(title=f"oddwatch demo: {record.n_points} simulated points", pyplot=False)
    figure.set_data(
        np.arange(record.n_points, dtype=float),
        record.joined("values"),
        record.joined("scores"),
        record.joined("thresholds"),
        record.joined("flags").astype(bool),
        record.joined("labels").astype(bool),
        record.joined("expected"),
        record.joined("scale"),
    )
    try:
        figure.save(path)
    except (OSError, ValueError) as exc:
        raise InvalidParameterError(f"cannot write the figure to {path!r}: {exc}") from None
    finally:
        figure.close()


def _print_summary(summary: dict[str, Any], settings: dict[str, Any], out: Any) -> None:
    if settings["json"]:
        print(json.dumps(summary), file=out)
        return
    print(
        f"\n{summary['points']} points, {summary['flagged']} flagged; "
        f"{summary['detected_events']} of {summary['events']} injected anomalies caught\n"
        f"precision {summary['precision']:.3f}  recall {summary['recall']:.3f}  "
        f"F1 {summary['f1']:.3f}  (events, tolerance {settings['tolerance']} points)\n"
        f"{summary['points_per_second']:,} points/s in the detector; "
        f"first point after {summary['first_point_seconds']:.2f} s",
        file=out,
    )
