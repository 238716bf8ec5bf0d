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
        kw["n_mc"] = check_int("theory_mc", args.theory_mc, 1000, 10_000_000)
    if args.theory_points is not None:
        kw["theory_points"] = check_int("theory_points", args.theory_points, 2, 200)
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


# Columns of the results table (sims/store.py) that the figures read: a table without them is not a sweep's.
FIGURE_COLUMNS = ("config_hash", "seed", "n", "d", "q", "D", "d1", "gamma", "eps", "g", "input_model", "a_kind", "sigma",
                  "label_transform", "qh", "cos2", "lam", "mse", "nmse", "top_eigs", "eig_tags", "eig_overlaps")


def check_results_tables(results) -> int:
    """Refuse (one line naming the file) a runs.parquet below ``results`` that is unreadable or lacks a
    column the figures read; returns the number of tables with rows, parts of sweeps in progress included."""
    from pathlib import Path

    import pyarrow.parquet as pq

    root = Path(results)
    if not root.is_dir():
        raise ValueError(f"results={str(results)!r} is not a folder")
    tables = 0
    for f in sorted(root.rglob("runs.parquet")):
        try:
            meta = pq.read_metadata(f)
            names = set(meta.schema.to_arrow_schema().names)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input, named in one line
            raise ValueError(f"results table {str(f)!r} is not a readable parquet file ({type(exc).__name__})") from None
        missing = [c for c in FIGURE_COLUMNS if c not in names]
        if missing:
            raise ValueError(f"results table {str(f)!r} lacks the column {missing[0]!r} (and {len(missing) - 1} more): "
                             "must be the runs.parquet of `hmodel sweep`")
        tables += meta.num_rows > 0
    return tables + any(root.rglob("parts/*.json"))


def main(args) -> int:
    from figures.make import figure_names
    from figures.results import load_baselines
    from hierarchical_model._validation import check_choice

    from .guards import check_out_dir

    names = figure_names() if args.name == "all" else [check_choice("figure", args.name, figure_names() + ("all",))]
    if not check_results_tables(args.results) and load_baselines(args.results).empty:
        raise ValueError(f"results={args.results!r} holds no results (no runs.parquet, parts or baselines*.parquet below "
                         "it): run `hmodel sweep` or `hmodel reproduce` first")
    check_out_dir("out", args.out)
    opts = figure_options(args)
    if args.name != "all":  # one figure: no data for it is bad input, refused before anything is drawn
        from figures.make import NoData, make_figure

        try:
            paths = make_figure(names[0], args.results, args.out, opts)
        except NoData as exc:
            raise ValueError(f"figure {names[0]}: results={args.results!r}: {exc}") from None
        print(f"{names[0]}: {', '.join(str(p) for p in paths)}")
        return 0
    done = draw_figures(names, args.results, args.out, opts)
    if not any(paths for _, paths, _, _ in done):
        raise ValueError(f"figure all: results={args.results!r} holds rows for none of the figures "
                         f"({', '.join(names)}): nothing drawn")
    return 0
