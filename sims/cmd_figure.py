"""`hmodel figure NAME --results DIR --out DIR`: draw one figure (PNG and PDF) from a results folder."""

from __future__ import annotations

import time


def register(sub):
    from figures.make import figure_names

    p = sub.add_parser("figure", help="draw one figure (PNG + PDF) from a results folder",
                       description="Draw a figure of figures/README.md from DIR (one sweep folder or a folder of them, "
                                   "e.g. the results of `hmodel reproduce`).")
    p.add_argument("name", help=f"figure: {', '.join(figure_names())}, or 'all'")
    add_figure_options(p)
    p.add_argument("--results", required=True, help="results folder (runs.parquet, or sweep folders below it)")
    p.add_argument("--out", default="figures/out", help="output folder (default figures/out)")
    p.set_defaults(func=main)


def add_figure_options(p):
    p.add_argument("--no-theory", action="store_true", help="draw the data only, without the theory overlays")
    p.add_argument("--theory-mc", type=int, default=None,
                   help="Monte Carlo size of the theory's label law (default 100000; quick scale 40000)")
    p.add_argument("--theory-points", type=int, default=None,
                   help="sample sizes per theory curve (default 12; quick scale 10): the theory cache is per setting")


def figure_options(args, scale_defaults: dict | None = None):
    from figures.make import FigureOptions
    from hierarchical_model._validation import check_int

    kw = dict(scale_defaults or {})
    kw["theory"] = not args.no_theory
    if args.theory_mc is not None:
        kw["n_mc"] = check_int("theory-mc", args.theory_mc, 1000)
    if args.theory_points is not None:
        kw["theory_points"] = check_int("theory-points", args.theory_points, 2, 200)
    return FigureOptions(**kw)


def draw_figures(names, results, out, opts, log=print) -> list[tuple]:
    """Draw each figure; returns [(name, paths, seconds, error)]: a figure without data is reported, not fatal."""
    from figures.make import NoData, make_figure
    from figures.results import load_runs

    runs = load_runs(results)
    done = []
    for name in names:
        t0 = time.perf_counter()
        try:
            paths, err = make_figure(name, results, out, opts, runs=runs), ""
        except NoData as exc:
            paths, err = [], str(exc)
        dt = time.perf_counter() - t0
        done.append((name, paths, dt, err))
        log(f"{name}: {', '.join(str(p) for p in paths) if paths else 'skipped: ' + err} ({dt:.1f}s)")
    return done


def main(args) -> int:
    from pathlib import Path

    from figures.make import figure_names
    from hierarchical_model._validation import check_choice

    names = figure_names() if args.name == "all" else [check_choice("figure", args.name, figure_names() + ("all",))]
    if not Path(args.results).is_dir():
        raise ValueError(f"results={args.results!r} is not a folder")
    opts = figure_options(args)
    done = draw_figures(names, args.results, args.out, opts)
    return 0 if all(paths for _, paths, _, _ in done) or args.name == "all" else 1
