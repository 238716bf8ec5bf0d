"""Command-line options shared by the sub-commands (model, learner, sample size), and their checks."""

from __future__ import annotations

from hierarchical_model.learner import ENGINES, ESTIMATORS, LABEL_TRANSFORMS
from hierarchical_model.links import LINK_NAMES
from hierarchical_model.teacher import A_KINDS, CONVENTIONS, INPUT_MODELS

__all__ = ["add_model_options", "add_size_options", "add_learner_options", "config_from_args", "learner_kwargs_from_args", "resolve_n",
           "KRYLOV_TOL_HELP"]


KRYLOV_TOL_HELP = ("relative residual at which the matrix-free engine's block Krylov stops (default 1e-4, the learner's "
                   "tol; the dense engine ignores it). Measured at d = 48 and 80 (nested grids): 1e-2 takes about half "
                   "the passes with q_h within 2.4e-4 of the exact top-d1")


def add_model_options(p):
    g = p.add_argument_group("model (MODEL.md section 1)")
    g.add_argument("--d", type=int, default=40, help="input dimension (default 40)")
    g.add_argument("--q", type=int, default=2, help="Hermite degree, 2 or 3 (default 2)")
    g.add_argument("--eps", type=float, default=0.5, help="d1 = floor(d^eps) latent directions (default 0.5)")
    g.add_argument("--d1", type=int, default=None, help="explicit d1 (overrides --eps)")
    g.add_argument("--gamma", type=float, default=0.4, help="power-law exponent of lambda_i ~ i^-gamma (default 0.4)")
    g.add_argument("--g", default="tanh", help=f"link: {', '.join(LINK_NAMES)} (default tanh)")
    g.add_argument("--a-kind", default="orthonormal", help=f"first-layer rows: {', '.join(A_KINDS)}")
    g.add_argument("--sigma", type=float, default=0.0, help="label noise standard deviation (default 0)")
    g.add_argument("--input-model", default="hermite", help=f"{', '.join(INPUT_MODELS)} (default hermite)")
    g.add_argument("--conventions", default="model", help=f"{', '.join(CONVENTIONS)}: MODEL.md's (default), or the paper "
                   "code's (d1 = round(d^eps), h2 without 1/sqrt 2, their weights, standardised labels)")


def add_size_options(p, default: int = 8000):
    """--n or --alpha (n = round(d^alpha)), mutually exclusive; read back with `resolve_n`."""
    size = p.add_mutually_exclusive_group()
    size.add_argument("--n", type=int, help=f"number of training samples (default {default})")
    size.add_argument("--alpha", type=float, help="sample size as n = round(d^alpha)")


def add_learner_options(p):
    g = p.add_argument_group("learner (MODEL.md section 2)")
    g.add_argument("--engine", default="auto", help=f"layer-1 engine: {'|'.join(ENGINES)} (default auto)")
    g.add_argument("--label-transform", default="identity", help=f"T(y): {', '.join(LABEL_TRANSFORMS)}")
    g.add_argument("--estimator", default="paper", help=f"layer-1 matrix: {', '.join(ESTIMATORS)} (default paper; "
                   "chaos = C - (G (+) G), q = 2 Hermite input only, HERMITE.md section 2)")
    g.add_argument("--clip-quantile", type=float, default=0.99, help="quantile of |y| for clip/tanh (default 0.99)")
    g.add_argument("--fresh-split", action="store_true", help="fit layer 2 and the readout on fresh samples")
    g.add_argument("--memory-gb", type=float, default=None, help="memory budget of the dense engine (default: half the RAM)")
    g.add_argument("--krylov-tol", type=float, default=None, help=KRYLOV_TOL_HELP)


def config_from_args(args):
    from hierarchical_model import TeacherConfig

    return TeacherConfig(d=args.d, q=args.q, eps=args.eps, d1=args.d1, gamma=args.gamma, g=args.g,
                         a_kind=args.a_kind, sigma=args.sigma, input_model=args.input_model,
                         conventions=getattr(args, "conventions", "model"))


def learner_kwargs_from_args(args) -> dict:
    return {"engine": args.engine, "label_transform": args.label_transform, "estimator": args.estimator,
            "clip_quantile": args.clip_quantile,
            "fresh_split": args.fresh_split, "memory_gb": args.memory_gb,
            **({} if args.krylov_tol is None else {"tol": args.krylov_tol})}


def resolve_n(args, d: int, default: int) -> int:
    """n from --n, or round(d^alpha) from --alpha."""
    from hierarchical_model._validation import check_float, check_int
    from hierarchical_model.teacher import MAX_SAMPLES

    if getattr(args, "alpha", None) is not None:
        alpha = check_float("alpha", args.alpha, 0.0, 12.0, lo_open=True)
        n = d ** alpha
        if n > MAX_SAMPLES:
            raise ValueError(f"alpha={alpha:g} gives n=d^alpha={n:.3g} for d={d}: must give n <= {MAX_SAMPLES} "
                             "(the int32 chunk index of the sample stream)")
        return check_int("n", round(n), 1)
    return check_int("n", default if args.n is None else args.n, 1, MAX_SAMPLES)
