"""`hmodel run`: one teacher, one sample size, one seed; a readable report or one JSON object."""

from __future__ import annotations

import math

from .guards import add_cost_options, guard_run, json_text
from .options import add_learner_options, add_model_options, add_size_options, config_from_args, learner_kwargs_from_args, resolve_n


def register(sub):
    p = sub.add_parser("run", help="fit the layer-wise spectral learner once and report its metrics",
                       description="Draw the teacher of --seed, fit on n training samples, evaluate on --n-test fresh ones.")
    add_model_options(p)
    add_size_options(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the teacher and the data (default 0)")
    p.add_argument("--n-test", type=int, default=10000, help="fresh test samples (default 10000)")
    add_learner_options(p)
    p.add_argument("--spectrum", action="store_true", help="with --json: include the whole spectrum of C (dense engine, D <= 5000)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout (null for non-finite)")
    add_cost_options(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from hierarchical_model import run

    cfg = config_from_args(args)
    n = resolve_n(args, cfg.d, default=8000)
    guard_run(args, cfg, n)
    res = run(cfg, n, args.seed, n_test=args.n_test, spectrum_ns=None if args.spectrum else (),
              **learner_kwargs_from_args(args))
    if args.json:
        print(json_text(res.to_dict(spectrum=args.spectrum)))
    else:
        print(report(res))
    return 0


def report(res) -> str:
    lines = [
        f"hierarchical model  d={res.d} q={res.q} D={res.D} d1={res.d1} gamma={res.gamma} g={res.g} "
        f"input={res.input_model} seed={res.seed}"
        + (f" estimator={res.estimator}" if res.estimator != "paper" else "")
        + (f" conventions={res.conventions}" if res.conventions != "model" else ""),
        f"n={res.n} (alpha={math.log(res.n) / math.log(res.d):.2f})  engine={res.engine}  passes={res.passes}  "
        f"time={res.seconds:.2f}s",
        f"first layer: q_h={res.qh:.3f}  recovered {res.recovered}/{res.d1}",
        "  i  lambda_i   cos2_i",
    ]
    for i, (lam, c) in enumerate(zip(res.lam, res.cos2), 1):
        lines.append(f"{i:3d}  {lam:+.3f}   {c:.3f}  {'#' * int(round(20 * c))}")
    lines.append("top eigenvalues of C (aligned teacher direction, cos2): " + ", ".join(
        f"{e:+.3f} ({t}, {o:.2f})" for e, t, o in zip(res.top_eigs, res.eig_tags, res.eig_overlaps)))
    lines.append(f"test: mse={res.mse:.4f}  nmse={res.nmse:.4f}  (var y={res.var_y:.4f}, n_test={res.n_test})")
    return "\n".join(lines)
