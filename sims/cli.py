"""The `hmodel` console script: one sub-command per module, each exposing ``register(subparsers)``.

Every sub-command refuses bad input with one line on stderr naming the parameter, the value and the
allowed range, and exit status 2, before anything is written (sims/guards.py: cost estimates, output
folders, input files). Exit statuses: 0 done, 1 unfinished or an error of the system (disk full,
permissions changed mid-run), 2 bad input, 3 an internal error (a bug: its traceback is kept), 130
interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from sims.allocator import tune_allocator

tune_allocator()  # the entry point opts in, before JAX is imported and starts its threads (sims/allocator.py)

import hierarchical_model  # noqa: E402, F401

# Sub-command modules, in the order `hmodel --help` lists them.
COMMANDS = ["sims.cmd_run", "sims.cmd_sweep", "sims.cmd_status", "sims.cmd_theory", "sims.cmd_figure", "sims.cmd_reproduce", "sims.cmd_check", "sims.cmd_bench"]


class UsageError(ValueError):
    """Bad command-line input: reported in one line, exit status 2."""


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit status 2."""

    def error(self, message):
        raise UsageError(message)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every sub-command, or of ``command`` alone when it names one: registering `figure` imports
    matplotlib and the figure code (~1.5 s of a 2-core machine's start-up), which `hmodel run` does not need."""
    parser = OneLineParser(prog="hmodel", description="Simulator of the solvable hierarchical model of neural scaling laws.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    names = [m for m in COMMANDS if m == f"sims.cmd_{command}"] or COMMANDS
    for name in names:
        importlib.import_module(name).register(sub)
    return parser


BUG_REPORT = ("hmodel: internal error: this is a bug, not a problem with your input; please report it to the "
              "maintainers (the project's issue tracker) with the command line and the traceback above")


def enable_compilation_cache() -> str | None:
    """JAX's persistent compilation cache for `hmodel`: compiled kernels are kept on disk, so a command's start-up
    (about 3-5 s of XLA compiles at d = 40-60 on 2 cores) is paid once per machine and JAX version, not per run.
    Folder: $HMODEL_JAX_CACHE (empty: off), else $XDG_CACHE_HOME/hmodel/jax or ~/.cache/hmodel/jax. Exported through
    the environment too, so that worker processes share it. Returns the folder, or None when off or unwritable."""
    import os
    from pathlib import Path

    path = os.environ.get("HMODEL_JAX_CACHE")
    if path is None:
        path = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hmodel" / "jax")
    if not path:
        return None
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    import jax

    os.environ["HMODEL_JAX_CACHE"] = os.environ["JAX_COMPILATION_CACHE_DIR"] = path
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.05")
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.05)
    return path


def main(argv=None) -> int:
    try:
        enable_compilation_cache()
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(argv[0] if argv else None).parse_args(argv)
        return int(args.func(args) or 0)
    except ValueError as exc:  # UsageError and every boundary check of the library
        print(f"hmodel: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hmodel: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the system refused mid-run (disk full, a folder removed): not a bug, not bad input
        where = f": {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"hmodel: error: {exc.strerror or _one_line(exc)}{where}", file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - anything else is ours: keep the traceback, say so
        traceback.print_exc()
        print(BUG_REPORT, file=sys.stderr)
        return 3


def _one_line(exc) -> str:
    return " ".join(str(exc).split("\n")).strip() or type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
