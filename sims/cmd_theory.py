"""`hmodel theory`: the finite-size prediction at one n (thresholds, overlaps, outliers, bulk, MSE); no simulation."""

from __future__ import annotations

import math

from .guards import add_cost_options, guard_theory, json_text
from .options import add_model_options, add_size_options, config_from_args, resolve_n


def register(sub):
    p = sub.add_parser("theory", help="predict Algorithm 1's outputs at one n from the finite-size theory",
                       description="Resolvent / spectral-method prediction (package theory) for the teacher of --seed's "
                                   "signed lambdas: bulk edges, outliers, cos^2 per direction, q_h, thresholds, MSE.")
    add_model_options(p)
    add_size_options(p)
    p.add_argument("--seed", type=int, default=0, help="teacher whose signed lambda_i are used (default 0)")
    p.add_argument("--n-mc", type=int, default=200_000, help="Monte Carlo samples of the label law (default 200000)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    add_cost_options(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from hierarchical_model import Teacher
    from hierarchical_model._validation import check_int
    from theory import asymptotics, finite_size_thresholds, predict

    cfg = config_from_args(args)
    n = resolve_n(args, cfg.d, default=8000)
    check_int("n", n, cfg.latent)
    n_mc = check_int("n_mc", args.n_mc, 1000)
    guard_theory(args, cfg, n, n_mc)
    lam = Teacher(cfg, args.seed).lam
    pred = predict(cfg, [n], lam=lam, n_mc=n_mc)
    naive = asymptotics.naive_thresholds(cfg)
    finite = finite_size_thresholds(cfg, lam, n_mc=n_mc, per_decade=6, refine=4)  # about 2.5% precision
    out = {
        "config": cfg.to_dict(), "n": n, "seed": args.seed, "lam": [float(v) for v in lam],
        "thresholds": {"asymptotic": [float(v) for v in naive], "finite_size": [_num(v) for v in finite]},
        "m_n": {"asymptotic": int(asymptotics.recovered_count(n, naive)),
                "finite_size": int(sum(1 for v in finite if math.isfinite(v) and v <= n))},
        "cos2_pred": [float(v) for v in pred.cos2[0]], "qh_pred": float(pred.qh[0]),
        "recovered_pred": int(pred.recovered[0]), "mse_pred": float(pred.mse_pred[0]),
        "bulk_edges": [float(v) for v in pred.bulk_edges[0]], "outliers_pred": [_num(v) for v in pred.outliers[0]],
        "selected": [bool(v) for v in pred.selected[0]], "n_mc": n_mc,
        "theory_model": "gaussian_equivalent",
    }
    print(json_text(out) if args.json else report(out))
    return 0


def _num(v):
    return None if not math.isfinite(v) else float(v)


def report(o: dict) -> str:
    c = o["config"]
    lines = [f"finite-size theory  d={c['d']} q={c['q']} d1={c['d1']} gamma={c['gamma']} g={c['g']} sigma={c['sigma']} "
             f"(lambda signs of teacher seed {o['seed']}; Gaussian-equivalent model)",
             f"n={o['n']}: bulk of C [{o['bulk_edges'][0]:+.3f}, {o['bulk_edges'][1]:+.3f}]  q_h={o['qh_pred']:.3f}  "
             f"recovered {o['recovered_pred']}/{c['d1']}  mse={o['mse_pred']:.4f}",
             *([f"note: the theory is the Gaussian-equivalent model's; for --input-model hermite the spikes of C are "
                f"larger at small d (see theory.finite_size)"] if c["input_model"] == "hermite" else []),
             f"m_n: asymptotic {o['m_n']['asymptotic']}, finite-size {o['m_n']['finite_size']}",
             "  i  lambda_i   outlier   selected  cos2_i   n_i (asymptotic)  n_i (finite size)"]
    th = o["thresholds"]
    for i, lam in enumerate(o["lam"]):
        z, nf = o["outliers_pred"][i], th["finite_size"][i]
        lines.append(f"{i + 1:3d}  {lam:+.3f}   {'  none ' if z is None else f'{z:+.3f}'}   {str(o['selected'][i]):>8}  "
                     f"{o['cos2_pred'][i]:.3f}   {th['asymptotic'][i]:14.0f}   {'-' if nf is None else f'{nf:.0f}':>15}")
    return "\n".join(lines)
