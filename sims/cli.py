"""The `hmodel` console script: one sub-command per module, each exposing ``register(subparsers)``.

Every sub-command refuses bad input with one line on stderr naming the parameter, the value and the
allowed range, and exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import importlib
import sys

import hierarchical_model  # noqa: F401  first: it tunes the allocator before JAX starts its threads

# Sub-command modules, in the order `hmodel --help` lists them.
COMMANDS = ["sims.cmd_run", "sims.cmd_sweep", "sims.cmd_status", "sims.cmd_theory", "sims.cmd_figure", "sims.cmd_reproduce", "sims.cmd_check", "sims.cmd_bench"]


class UsageError(ValueError):
    """Bad command-line input: reported in one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message):
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="hmodel", description="Simulator of the solvable hierarchical model of neural scaling laws.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except ValueError as exc:  # UsageError and every boundary check of the library
        print(f"hmodel: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
