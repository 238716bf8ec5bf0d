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
    plan = p.add_argument_group("--plan: the predicted cost of a paper grid on a device (sims/bench_plan.py); measures "
                                "only the passes per checkpoint at small d and, unless given, this machine's peak")
    plan.add_argument("--plan", action="store_true", help="print the plan instead of running the suite")
    plan.add_argument("--d", default="400", help="input dimension of the planned grid (default 400, the paper's)")
    plan.add_argument("--eps", default="0.5", help="d1 = floor(d^eps) (default 0.5)")
    plan.add_argument("--alphas", default="1.5:3.4:0.1", help="n = round(d^alpha), START:STOP:STEP (default 1.5:3.4:0.1)")
    plan.add_argument("--seeds", default="10", help="teachers of the grid (default 10)")
    plan.add_argument("--peak-tflops", default=None,
                      help="float32 peak of the target device in TFLOP/s (default: measured on this machine's backend)")
    plan.add_argument("--efficiency", default=None,
                      help="fraction of the peak a pass reaches (default: measured here at the largest --measure-ds)")
    plan.add_argument("--measure-ds", default="16,24,32", help="dimensions where the passes are measured (default 16,24,32)")
    plan.add_argument("--rate-d", default="100", help="dimension where the flop rate of one pass is measured (default 100)")
    plan.add_argument("--krylov-tol", default="1e-4",
                      help="the matrix-free engine's relative residual for every measured solve (default 1e-4, the "
                           "learner's; hmodel run/sweep --krylov-tol)")
    plan.add_argument("--check-d", default=None,
                      help="also run one seed of the grid at this d here and compare it with its own prediction "
                           "(up to 400: the paper's d itself on a device)")
    plan.add_argument("--check-alphas", default=None,
                      help="alphas of that check, START:STOP:STEP (default: the grid's; a device runs d = 400 up to "
                           "alpha ~ 2.5 in minutes)")
    p.set_defaults(func=main)


def _plan(args) -> int:
    from hierarchical_model._validation import check_float, check_int

    from .bench import measure_peak, write_json
    from .bench_plan import PlanGrid, check_plan, format_plan, measure_pass_rate, measure_passes, plan
    from .grid_parse import parse_alphas, parse_list, sorted_unique

    d = check_int("d", _number(args.d, int, "d"), 2, 10_000)
    eps = check_float("eps", _number(args.eps, float, "eps"), 0.0, 1.0, lo_open=True)
    grid = PlanGrid(d=d, eps=eps, alphas=parse_alphas(args.alphas), seeds=check_int("seeds", _number(args.seeds, int, "seeds"), 1, 10_000))
    ds = sorted_unique("measure_ds", [check_int("measure_ds", v, 4, 64) for v in parse_list("measure_ds", args.measure_ds, int)])
    check_d = None if args.check_d is None else check_int("check_d", _number(args.check_d, int, "check_d"), 4, 400)
    check_alphas = grid.alphas if args.check_alphas is None else parse_alphas(args.check_alphas)
    rate_d = check_int("rate_d", _number(args.rate_d, int, "rate_d"), 4, 400)
    if args.peak_tflops is None:
        peak, source = measure_peak(2048)["gflops"] * 1e9, "measured here"
    else:
        peak, source = check_float("peak_tflops", _number(args.peak_tflops, float, "peak_tflops"), 0.0, 1e6, lo_open=True) * 1e12, "given"
    eff = None if args.efficiency is None else check_float("efficiency", _number(args.efficiency, float, "efficiency"),
                                                           0.0, 1.0, lo_open=True)
    say = lambda r: print(f"[plan] d={r['d']} n={r['n']}: {r['passes']} passes, {r['seconds']:.2f} s",  # noqa: E731
                          file=sys.stderr, flush=True)
    tol = check_float("krylov_tol", _number(args.krylov_tol, float, "krylov_tol"), 0.0, 1.0, lo_open=True)
    measured = measure_passes(ds, grid.alphas, eps, grid.gamma, grid.g, progress=say, tol=tol)
    rate = measure_pass_rate(rate_d, 20_000, eps) if eff is None else None
    result = plan(grid, measured, peak, eff, source, rate)
    result["rate"] = rate
    result["krylov_tol"] = tol
    result["measured"] = measured
    if check_d is not None:
        check = measure_passes([check_d], check_alphas, eps, grid.gamma, grid.g, progress=say, tol=tol)
        here = peak if source == "measured here" else measure_peak(2048)["gflops"] * 1e9
        # the check runs here, so it is predicted at this machine's rate: the same pass-rate measurement
        rate_here = rate or measure_pass_rate(rate_d, 20_000, eps)
        result["check_rows"] = check
        result["check"] = check_plan(measured, check, PlanGrid(check_d, eps, check_alphas, 1, grid.gamma, grid.g), here,
                                     rate_here)
    if args.out is not None:
        write_json(result, args.out)
    print(format_plan(result))
    return 0


def _number(value: str, kind, name: str):
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not allowed: must be a {'whole ' if kind is int else ''}number") from None


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
    if args.plan:
        return _plan(args)

    def log(section, partial):
        print(f"[bench] {section} {'progress' if section.endswith('_partial') else 'done'}", file=sys.stderr, flush=True)
        if args.out is not None:
            write_json(partial, args.out)

    result = run_bench(QUICK if args.quick else FULL, log)
    if args.out is not None:
        write_json(result, args.out)
    print(format_table(result))
    return 0
