"""What ``oddwatch evaluate nab`` shows: a progress line while it runs, then the summary.

Examples
--------
>>> number(float("nan")), number(61.5)
(None, 61.5)
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, TextIO

__all__ = ["Progress", "neighbours", "number", "print_table"]

_BAR_WIDTH = 20


class Progress:
    """``[#####.....] 23/58 key`` on a terminal, one line per file when verbose, else nothing."""

    def __init__(self, stream: TextIO, verbose: bool) -> None:
        self.stream = stream
        self.verbose = verbose
        self.bar = not verbose and stream.isatty()
        self.width = 0

    def __call__(self, done: int, total: int, key: str) -> None:
        if self.verbose:
            print(f"{done}/{total} {key}", file=self.stream, flush=True)
        elif self.bar:
            filled = round(_BAR_WIDTH * done / max(total, 1))
            line = f"[{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] {done}/{total} {key}"
            self.stream.write("\r" + line.ljust(self.width))
            self.stream.flush()
            self.width = max(self.width, len(line))

    def close(self) -> None:
        if self.bar and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def number(x: float) -> float | None:
    """`x` for JSON: nan (a profile without windows) becomes null."""
    return None if math.isnan(x) else x


def neighbours(score: float, profile: str) -> dict[str, Any]:
    """Rank on the published scoreboard and the entries just above and below."""
    from oddwatch.evaluate import SCOREBOARD, rank_on_scoreboard

    if math.isnan(score):
        return {"rank": None, "of": None, "above": None, "below": None}
    published = sorted(
        ((p, name) for name, entry in SCOREBOARD.items() if (p := entry[profile]) is not None),
        reverse=True,
    )
    rank = rank_on_scoreboard(score, profile)
    above = published[rank - 2] if rank >= 2 else None
    below = published[rank - 1] if rank - 1 < len(published) else None
    return {
        "rank": rank,
        "of": len(published) + 1,
        "above": None if above is None else {"name": above[1], "score": above[0]},
        "below": None if below is None else {"name": below[1], "score": below[0]},
    }


def print_table(s: dict[str, Any], out: TextIO) -> None:
    def fmt(x: float | None, spec: str = "8.2f") -> str:
        return "n/a".rjust(int(spec.split(".")[0])) if x is None else format(x, spec)

    print(
        f"NAB v1.1: {s['files']} files, {s['rows']:,} rows, {s['windows']} windows ({s['data']})\n"
        f"detector: {s['detector']} {json.dumps(s['params']) if s['params'] else '(defaults)'}"
        f"{'; scores mapped by s/(1+s)' if s['squashed'] else ''}\n"
        f"range: {s['range']}\n",
        file=out,
    )
    own = s["flags"]
    print(
        f"{'profile':<20} {'optimised':>9} {'threshold':>9} {'rank':>7} {'own flags':>9}", file=out
    )
    for name, threshold in s["thresholds"].items():
        board = s["scoreboard"][name]
        rank = "n/a" if board["rank"] is None else f"{board['rank']}/{board['of']}"
        flags = fmt(own[name], "9.2f")
        print(f"{name:<20} {fmt(s[name], '9.2f')} {threshold:9.4f} {rank:>7} {flags}", file=out)
    print("\non the published scoreboard (optimised score):", file=out)
    for name, board in s["scoreboard"].items():
        if board["rank"] is None:
            continue
        above, below = board["above"], board["below"]
        around = [] if above is None else [f"below {above['name']} ({above['score']:.2f})"]
        if below is not None:
            side = "tied with" if below["score"] == s[name] else "above"
            around.append(f"{side} {below['name']} ({below['score']:.2f})")
        print(
            f"  {name:<20} rank {board['rank']:>2} of {board['of']}: {', '.join(around)}", file=out
        )
    print(
        f"\nranking (mean over files with windows): AUC-PR {fmt(s['auc_pr'], '5.3f')}, "
        f"VUS-PR {fmt(s['vus_pr'], '5.3f')}",
        file=out,
    )
    e = s["events"]
    delay = "n/a" if e["mean_delay"] is None else f"{e['mean_delay']:.1f} rows"
    print(
        f"\nwindows caught (own flags, scored rows): {e['n_detected_events']}/{e['n_events']}; "
        f"{e['n_flags']:,} flags, precision {e['precision']:.3f}, recall {e['recall']:.3f}, "
        f"F1 {e['f1']:.3f}, mean delay {delay}",
        file=out,
    )
    rate = s["rows"] / max(s["run_seconds"], 1e-9)
    print(
        f"time: {s['seconds']:.2f} s (load {s['load_seconds']:.2f} s, detector "
        f"{s['run_seconds']:.2f} s = {rate:,.0f} rows/s, scoring {s['score_seconds']:.2f} s)",
        file=out,
    )
    if s["out"]:
        print(f"results: {s['out']}{os.sep}<category>{os.sep}{s['detector']}_<file>.csv", file=out)
