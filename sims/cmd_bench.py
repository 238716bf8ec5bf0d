"""`hmodel bench`: the performance suite of sims/bench.py, one table (and optionally a JSON file)."""

from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser("bench", help="benchmark the engines against the machine's peak, the field's algorithm and numpy/scipy",
                       description="Measure, on this machine, the GEMM peak, the dense accumulation rate, the nested "
                                   "d=60 sweep, the field's subspace iteration, numpy/scipy baselines and the "
                                   "matrix-free engine at d=200; print one table.")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test of the suite, seconds)")
    p.add_argument("--out", default=None, help="also write every measurement to this JSON file (updated after each section)")
    p.add_argument("--table", default=None, metavar="FILE.json",
                   help="measure nothing: print the table of a JSON file written by --out (a partial run's too)")
    p.set_defaults(func=main)


def main(args) -> int:
    from .bench import FULL, QUICK, format_table, load_json, run_bench, write_json

    if args.table is not None:
        try:
            result = load_json(args.table)
        except (OSError, ValueError) as exc:
            raise ValueError(f"--table={args.table!r} is not allowed: cannot read a bench JSON file ({exc})") from None
        if "sweep" not in result:
            raise ValueError(f"--table={args.table!r} is not allowed: the run has not reached the sweep (c) yet")
        print(format_table(result))
        return 0
    if args.out is not None and not args.out.endswith(".json"):
        raise ValueError(f"--out={args.out!r} is not allowed: must be a path ending in .json")

    def log(section, partial):
        print(f"[bench] {section} {'progress' if section.endswith('_partial') else 'done'}", file=sys.stderr, flush=True)
        if args.out is not None:
            write_json(partial, args.out)

    result = run_bench(QUICK if args.quick else FULL, log)
    if args.out is not None:
        write_json(result, args.out)
    print(format_table(result))
    return 0
