"""`hmodel bench`: the performance suite of sims/bench.py, one table (and optionally a JSON file)."""

from __future__ import annotations

import sys


def register(sub):
    p = sub.add_parser("bench", help="benchmark the engines against the machine's peak, the field's algorithm and numpy/scipy",
                       description="Measure, on this machine, the GEMM peak, the dense accumulation rate, the nested "
                                   "d=60 sweep, the field's subspace iteration, numpy/scipy baselines and the "
                                   "matrix-free engine at d=200; print one table.")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test of the suite, seconds)")
    p.add_argument("--out", default=None, help="also write every measurement to this JSON file")
    p.set_defaults(func=main)


def main(args) -> int:
    from .bench import FULL, QUICK, format_table, run_bench, write_json

    if args.out is not None and not args.out.endswith(".json"):
        raise ValueError(f"--out={args.out!r} is not allowed: must be a path ending in .json")

    def log(section, partial):
        print(f"[bench] {section} done", file=sys.stderr, flush=True)
        if args.out is not None:
            write_json(partial, args.out)

    result = run_bench(QUICK if args.quick else FULL, log)
    if args.out is not None:
        write_json(result, args.out)
    print(format_table(result))
    return 0
