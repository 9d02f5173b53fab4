"""Entry point of the ``oddwatch`` command: parse, dispatch, map errors to exit codes.

Exit codes: 0 ok, 1 unexpected failure, 2 usage or configuration error, 3 bad input under
``--on-invalid raise``, 130 interrupted. Expected errors print ``error: <message>`` on stderr
without a traceback unless ``--debug`` is given.

Examples
--------
>>> main(["--version"])  # doctest: +ELLIPSIS
oddwatch ...
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from oddwatch import __version__
from oddwatch.errors import InvalidInputError, OddwatchError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INTERRUPTED = 130


def _command_modules() -> list[ModuleType]:
    from oddwatch.cli.commands import (
        dashboard,
        demo,
        detect,
        evaluate,
        fit,
        simulate,
        spark_detect,
    )

    return [demo, simulate, detect, fit, evaluate, dashboard, spark_detect]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors exit with code 2 and a one-line message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"error: {message}\n(see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one subparser per command."""
    parser = _Parser(
        prog="oddwatch",
        description="Watch continuous data streams and flag anomalies in real time.",
        epilog=(
            "examples:\n"
            "  oddwatch demo                          # simulated stream, live plot\n"
            "  oddwatch demo --no-plot --json         # headless, summary as JSON\n"
            "  oddwatch simulate --points 1000 > s.csv\n"
            "  oddwatch detect s.csv --only-anomalies\n"
            "  oddwatch detect s.csv --dashboard      # live web page on 127.0.0.1:8050\n"
            "  oddwatch evaluate nab --json\n"
            "  oddwatch spark-detect points/ --checkpoint ck/ --out flags/ --key-col host\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"oddwatch {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _command_modules():
        sub = subparsers.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.HELP,
            epilog=module.EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args._run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except InvalidInputError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OddwatchError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        sys.stderr.close()  # downstream closed the pipe (e.g. `| head`): not an error
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
