"""`hmodel check RESULTS`: empirical thresholds and the paper's theorems checked on a sweep's results table."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from .guards import add_cost_options, check_input_file, guard_check, json_text


def register(sub):
    p = sub.add_parser("check", help="check the paper's theorems and thresholds on a results folder",
                       description="Read RESULTS/runs.parquet and, per configuration (config_hash), print the "
                                   "empirical recovery thresholds beside the predicted ones and the verdicts on "
                                   "Theorem 3.1, Corollary 3.1 and Theorem 3.2 (MODEL.md section 4).")
    p.add_argument("results", help="results folder holding runs.parquet (e.g. results/NAME)")
    p.add_argument("--delta", type=float, default=0.25, help="non-recovery checked at n <= n_k d^-delta (default 0.25)")
    p.add_argument("--ci", type=float, default=0.9, help="bootstrap confidence level (default 0.9)")
    p.add_argument("--rtol", type=float, default=0.2, help="relative tolerance on fitted exponents (default 0.2)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates over seeds (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap RNG (default 0)")
    p.add_argument("--no-finite-size", action="store_true", help="skip the finite-size threshold predictions (slow)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    add_cost_options(p)
    p.set_defaults(func=main)


def load_results(path):
    """RESULTS/runs.parquet as a DataFrame; ValueError (one line) if the folder or the file is missing."""
    import pandas as pd

    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(f"results={str(path)!r} is not a folder: must be a results folder holding runs.parquet")
    table = folder / "runs.parquet"
    if not table.is_file():
        raise ValueError(f"results={str(path)!r} has no runs.parquet: run `hmodel status` on a sweep folder first")
    check_input_file("results", table, max_bytes=2**40)
    try:
        return pd.read_parquet(table)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input, reported in one line
        raise ValueError(f"results={str(path)!r}: runs.parquet is unreadable ({type(exc).__name__})") from None


def main(args) -> int:
    from theory.checks import check_results
    from theory.thresholds import REQUIRED_COLUMNS, check_columns

    df = load_results(args.results)
    check_columns(df, REQUIRED_COLUMNS)
    shapes = guard_check(args, df)
    out = check_results(df, delta=args.delta, ci=args.ci, rtol=args.rtol, n_boot=args.n_boot, seed=args.seed,
                        finite_size=not args.no_finite_size, progress=None if args.no_finite_size else say(shapes))
    if args.json:
        print(json_text(to_json(args.results, out)))
    else:
        print(report(args.results, out))
    return 0


def say(shapes: dict):
    """A progress line on stderr before each configuration's finite-size theory, with its predicted time (stdout
    stays the report or the one JSON object)."""
    from .cost import finite_size_seconds, format_seconds

    def progress(key, i, total):
        c = shapes[key]
        print(f"[check] configuration {i}/{total} {key}: finite-size thresholds of {c.seeds} teacher seed"
              f"{'s' * (c.seeds != 1)} (d1={c.d1}, D={c.D}, {c.input_model}), about "
              f"{format_seconds(finite_size_seconds(c))}", file=sys.stderr, flush=True)

    return progress


def _clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def to_json(path, out: dict) -> dict:
    """One JSON-ready object: per configuration its config, threshold rows and verdicts."""
    return {"results": str(path), "configs": {
        key: {"config": item["config"],
              "thresholds": [{k: _clean(v) for k, v in row.items()} for row in item["thresholds"].to_dict("records")],
              "verdicts": [v.to_dict() for v in item["verdicts"]]}
        for key, item in out.items()}}


def report(path, out: dict) -> str:
    lines = [f"{path}: {len(out)} configuration{'s' * (len(out) != 1)}"]
    for key, item in out.items():
        c = item["config"]
        lines.append(f"\n[{key}] d={c['d']} q={c['q']} d1={c['d1']} gamma={c['gamma']} g={c['g']} "
                     f"input={c['input_model']} sigma={c['sigma']}")
        lines.append("  i  lambda_i      n_emp  [90% CI]               n_naive  emp/naive    n_finite  emp/finite")
        for r in item["thresholds"].to_dict("records"):
            lines.append(f"{r['direction']:3d}  {r['lam']:+.3f}  {r['n_emp']:9.0f}  [{r['n_emp_lo']:8.0f}, {r['n_emp_hi']:8.0f}]"
                         f"  {r['n_naive']:9.0f}  {r['ratio_naive']:9.2f}  {r['n_finite']:10.0f}  {r['ratio_finite']:10.2f}"
                         f"  {r['censored']}")
        note = item["thresholds"]["note"].iloc[0]
        if note:
            lines.append(f"  note: {note}")
        lines += [f"  {v.summary}" for v in item["verdicts"]]
    return "\n".join(lines)
