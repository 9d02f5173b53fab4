"""``oddwatch dashboard``: the live web dashboard of a results file that detect is writing.

Runs in a process of its own, so it cannot slow detection down: ``oddwatch detect ... --out
flags.jsonl`` writes, this follows the file as it grows (like ``tail -f``) and serves the
page until Ctrl-C. For the dashboard inside the detect process, use ``detect --dashboard``.
"""

from __future__ import annotations

import argparse
import os

from oddwatch.errors import InvalidParameterError

__all__ = ["EPILOG", "HELP", "NAME", "add_arguments", "run"]

NAME = "dashboard"
HELP = "Serve the live web dashboard of a JSON Lines results file as it grows."
EPILOG = """\
examples:
  oddwatch detect app.csv --follow --key-col host --out flags.jsonl &
  oddwatch dashboard flags.jsonl                  # open http://127.0.0.1:8050/
  oddwatch dashboard flags.jsonl --port 9000 --from-end
  oddwatch dashboard flags.jsonl --host 0.0.0.0   # reachable from other machines

The page shows every key by recent surprise, each key's series with its flags and their
reasons, and the alerts. JSON Lines results carry no forecast, so there is no expected band
here (detect --dashboard shows it). Ctrl-C stops the server (exit code 130).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``dashboard`` flags."""
    parser.add_argument("results", metavar="FILE.jsonl", help="JSON Lines written by detect")
    parser.add_argument(
        "--host", default="127.0.0.1", metavar="ADDR", help="interface (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8050, metavar="PORT", help="port (default 8050; 0 = any)"
    )
    parser.add_argument(
        "--from-end",
        action="store_true",
        help="show only records appended from now on (default: read the file from the start)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; returns the exit code."""
    if not os.path.isfile(args.results):
        raise InvalidParameterError(
            f"{args.results!r} is not a file. Give the JSON Lines file that "
            "`oddwatch detect --out FILE.jsonl` writes (it may still be growing)."
        )
    from oddwatch.dashboard import DashboardSession

    with DashboardSession(args.host, args.port) as session:
        session.follow(args.results, from_start=not args.from_end)
        session.hold(f"following {args.results}")
    return 130
