"""`hmodel theory`: the finite-size prediction at one n (thresholds, overlaps, outliers, bulk, MSE); no simulation."""

from __future__ import annotations

import math

from .guards import add_cost_options, guard_theory, json_text
from .options import add_model_options, add_size_options, config_from_args, resolve_n


def register(sub):
    p = sub.add_parser("theory", help="predict Algorithm 1's outputs at one n from the finite-size theory",
                       description="Resolvent / spectral-method prediction (package theory) for the teacher of --seed "
                                   "(or the signed weights of --lam), for the law of --input-model and --estimator: "
                                   "bulk edges, outliers, cos^2 per direction, q_h, thresholds, MSE.")
    add_model_options(p)
    add_size_options(p)
    if not any("--estimator" in a.option_strings for a in p._actions):  # shared option once the learner has it
        p.add_argument("--estimator", default="paper", help="first-layer estimator: paper, chaos (default paper)")
    p.add_argument("--seed", type=int, default=0, help="teacher whose signed lambda_i and directions are used (default 0)")
    p.add_argument("--lam", default=None, help="explicit signed lambda_1,...,lambda_d1 in teacher order (a teacher "
                                               "drawn elsewhere; overrides --seed's signs)")
    p.add_argument("--n-mc", type=int, default=200_000, help="Monte Carlo samples of the label law (default 200000)")
    p.add_argument("--law-draws", type=int, default=1, help="average the prediction over this many Monte Carlo draws of "
                                                            "the label law (default 1; theory.predict's law_draws)")
    p.add_argument("--selection", default="auto",
                   help="Algorithm 1's selection of the d1 largest |eigenvalues|: auto (default: extremes+anisotropic "
                        "for the Hermite model where M is exact, else soft; theory.finite_size.selection_rule), soft, "
                        "hard, measure "
                        "(Hermite model: read off spectral measures, an option; theory.spectral_measure) or extremes "
                        "(Hermite model: the separated extreme samples as explicit spikes; theory.extreme_samples) or "
                        "extremes+anisotropic (the same on the anisotropic bulk, exact M; theory.anisotropic_bulk)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    add_cost_options(p)
    p.set_defaults(func=main)


def parse_lam(text: str, d1: int) -> list[float]:
    """--lam 'l1,l2,...': exactly d1 finite numbers, else a one-line ValueError."""
    try:
        lam = [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(f"lam={text!r} is not allowed: must be {d1} comma-separated numbers") from None
    if len(lam) != d1 or not all(math.isfinite(v) for v in lam):
        raise ValueError(f"lam={text!r} has {len(lam)} entries: must be {d1} finite comma-separated numbers (d1={d1})")
    return lam


def main(args) -> int:
    from hierarchical_model._validation import check_int
    from theory import asymptotics, finite_size_thresholds, predict
    from theory.finite_size import selection_rule

    cfg = config_from_args(args)
    n = resolve_n(args, cfg.d, default=8000)
    check_int("n", n, cfg.latent)
    n_mc = check_int("n_mc", args.n_mc, 1000)
    law_draws = check_int("law_draws", args.law_draws, 1, 64)
    guard_theory(args, cfg, n, n_mc * law_draws)
    seed = check_int("seed", args.seed, 0, 2**31 - 1)
    lam = None if args.lam is None else parse_lam(args.lam, cfg.latent)
    teacher_seed = None if lam is not None else seed
    selection = selection_rule(cfg, args.selection)
    pred = predict(cfg, [n], lam=lam, seed=teacher_seed, n_mc=n_mc, mc_seed=seed, estimator=args.estimator,
                   law_draws=law_draws, selection=selection)
    naive = asymptotics.naive_thresholds(cfg)
    finite = finite_size_thresholds(cfg, pred.lam, seed=teacher_seed, mc_seed=seed, n_mc=n_mc, per_decade=6, refine=4,
                                    estimator=args.estimator)  # about 2.5% precision
    out = {
        "config": cfg.to_dict(), "n": n, "seed": teacher_seed, "estimator": args.estimator, "selection": selection,
        "lam": [float(v) for v in pred.lam], "lam_source": "--lam" if lam is not None else f"teacher seed {seed}",
        "thresholds": {"asymptotic": [float(v) for v in naive], "finite_size": [_num(v) for v in finite]},
        "m_n": {"asymptotic": int(asymptotics.recovered_count(n, naive)),
                "finite_size": int(sum(1 for v in finite if math.isfinite(v) and v <= n))},
        "cos2_pred": [float(v) for v in pred.cos2[0]], "qh_pred": float(pred.qh[0]),
        "recovered_pred": int(pred.recovered[0]), "mse_pred": float(pred.mse_pred[0]),
        "bulk_edges": [float(v) for v in pred.bulk_edges[0]], "outliers_pred": [_num(v) for v in pred.outliers[0]],
        "selected": [bool(v) for v in pred.selected[0]], "n_mc": n_mc, "law_draws": law_draws,
        "theory_model": pred.meta["model"], "tail_outliers": pred.meta.get("tail_outliers", [0.0])[0],
    }
    print(json_text(out) if args.json else report(out))
    return 0


def _num(v):
    return None if not math.isfinite(v) else float(v)


def report(o: dict) -> str:
    c = o["config"]
    lines = [f"finite-size theory  d={c['d']} q={c['q']} d1={c['d1']} gamma={c['gamma']} g={c['g']} sigma={c['sigma']} "
             f"input={c['input_model']} estimator={o['estimator']} selection={o['selection']} (lambda of {o['lam_source']}; {o['theory_model']})",
             f"n={o['n']}: bulk of C [{o['bulk_edges'][0]:+.3f}, {o['bulk_edges'][1]:+.3f}]  q_h={o['qh_pred']:.3f}  "
             f"recovered {o['recovered_pred']}/{c['d1']}  mse={o['mse_pred']:.4f}  "
             f"single-sample outliers beyond the bulk {o['tail_outliers']:.2f}",
             f"m_n: asymptotic {o['m_n']['asymptotic']}, finite-size {o['m_n']['finite_size']}",
             "  i  lambda_i   outlier   selected  cos2_i   n_i (asymptotic)  n_i (finite size)"]
    th = o["thresholds"]
    for i, lam in enumerate(o["lam"]):
        z, nf = o["outliers_pred"][i], th["finite_size"][i]
        lines.append(f"{i + 1:3d}  {lam:+.3f}   {'  none ' if z is None else f'{z:+.3f}'}   {str(o['selected'][i]):>8}  "
                     f"{o['cos2_pred'][i]:.3f}   {th['asymptotic'][i]:14.0f}   {'-' if nf is None else f'{nf:.0f}':>15}")
    return "\n".join(lines)
