"""`hmodel sweep`: every (configuration, seed, n) of a grid into a resumable results folder."""

from __future__ import annotations

from .grid import GRID_KEYS
from .options import KRYLOV_TOL_HELP
from .guards import add_cost_options, enforce_cost

_AXIS_HELP = {
    "d": "input dimensions, e.g. 20,40 (default 40)",
    "q": "Hermite degrees (default 2)",
    "eps": "d1 = floor(d^eps) (default 0.5)",
    "d1": "explicit d1 values (override --eps)",
    "gamma": "exponents of lambda_i ~ i^-gamma (default 0.4)",
    "g": "links: id, tanh, relu, quad (default tanh)",
    "a_kind": "first-layer rows: orthonormal, gaussian",
    "sigma": "label noise standard deviations (default 0)",
    "input_model": "hermite, gaussian_equivalent (default hermite)",
    "label_transform": "T(y): identity, clip, tanh (default identity)",
    "engine": "auto, dense, matrix_free (default auto)",
    "estimator": "layer-1 matrix: paper, chaos (default paper; chaos: q = 2 Hermite input only)",
    "conventions": "model (MODEL.md, default), authors (the paper code's; see TeacherConfig)",
}


def register(sub):
    p = sub.add_parser(
        "sweep", help="run a grid of configurations, seeds and sample sizes into a results folder",
        description="Every (configuration, seed, n) of a grid, one row each in OUT/runs.parquet. Killed and "
                    "started again with the same command, it computes only what is missing. Axes take "
                    "comma-separated lists; every key can also come from --config FILE.toml (the command line wins).")
    p.add_argument("--out", required=True, help="results folder, e.g. results/NAME")
    p.add_argument("--config", help="TOML file with the grid (keys: " + ", ".join(GRID_KEYS) + ")")
    g = p.add_argument_group("grid (comma-separated lists)")
    for key, text in _AXIS_HELP.items():
        g.add_argument("--" + key.replace("_", "-"), dest=key, help=text)
    g.add_argument("--seeds", help="seeds, e.g. 0-4 or 0,3,7 (default 0)")
    sizes = g.add_mutually_exclusive_group()
    sizes.add_argument("--alphas", help="n = round(d^alpha): START:STOP:STEP (STOP included) or a list")
    sizes.add_argument("--ns", help="explicit sample sizes, e.g. 1000,2000,4000")
    g.add_argument("--spectra", help="where the whole spectrum of C is computed and stored in OUT/spectra: none (default), "
                                     "all, or alphas, e.g. 2.0,2.5,3.0 (top eigenvalues are always stored)")
    g.add_argument("--n-test", type=int, help="fresh test samples per point (default 10000)")
    g.add_argument("--clip-quantile", type=float, help="quantile of |y| for clip/tanh (default 0.99)")
    g.add_argument("--krylov-tol", type=float, help=KRYLOV_TOL_HELP)
    g.add_argument("--fresh-split", action="store_const", const=True, help="fit layer 2 and the readout on fresh samples")
    g.add_argument("--independent", action="store_const", const=True,
                   help="fresh pass over the data for every n (default: nested prefixes, one pass per seed)")
    b = p.add_argument_group("execution")
    how = b.add_mutually_exclusive_group()
    how.add_argument("--workers", type=int, help="local worker processes (default: 1, in this process)")
    how.add_argument("--dask-local", type=int, metavar="N", help="start a Dask LocalCluster of N workers")
    how.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="join a running Dask cluster")
    b.add_argument("--memory-gb", type=float, help="memory budget of the dense engine's D x D arrays (default: half the RAM)")
    b.add_argument("--quiet", action="store_true", help="no progress bar and no per-task lines")
    add_cost_options(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from .backends import make_backend
    from .grid import grid_from_sources
    from .sweep import run_sweep

    grid = grid_from_sources(args.config, **{k: getattr(args, k, None) for k in GRID_KEYS})
    backend = make_backend(workers=args.workers, dask_local=args.dask_local, scheduler=args.scheduler)
    s = run_sweep(grid, args.out, backend, memory_gb=args.memory_gb, progress=not args.quiet,
                  cost=lambda est: enforce_cost(est, args, f"sweep ({est.rows} rows to compute)"))
    print(f"{s.out}: {s.rows_before + s.rows_computed}/{s.rows_total} rows ({s.rows_computed} computed now, "
          f"{s.rows_before} already there) in {s.seconds:.1f} s -> {s.out}/runs.parquet")
    return 0 if s.rows_before + s.rows_computed == s.rows_total else 1
