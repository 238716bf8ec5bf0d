"""`hmodel reproduce --scale quick|cpu|paper [--out DIR]`: run every sweep the figures need (through the sweep
engine, resumable) and the baselines, then draw every figure; prints each step's wall time and writes
OUT/timings.json."""

from __future__ import annotations

import json
import time


def register(sub):
    from .cmd_figure import add_figure_options
    from .guards import add_cost_options

    p = sub.add_parser("reproduce", help="run the sweeps of every figure and draw them all",
                       description="Sweeps go to OUT/results/NAME (resumable: rerun to finish), figures to OUT/figures.")
    p.add_argument("--scale", default="quick", help="quick (10 min, 2 cores), cpu (2 h), paper (d = 400, GPU)")
    p.add_argument("--out", default=None, help="output folder (default results/reproduce-SCALE)")
    p.add_argument("--backend", default=None, help="sweep backend: local or dask (default: this process)")
    p.add_argument("--memory-gb", type=float, default=None, help="memory budget of the dense engine")
    add_figure_options(p)
    add_cost_options(p)
    p.set_defaults(func=main)


def main(args) -> int:
    from figures import recipes
    from hierarchical_model._validation import check_choice
    from sims.sweep import plan_sweep, run_sweep

    from .cmd_figure import draw_figures, figure_options
    from .cost import estimate_sweep
    from .guards import enforce_cost
    from .store import ResultsStore

    from .guards import check_out_dir

    scale = check_choice("scale", args.scale, recipes.SCALES)
    out = check_out_dir("out", args.out or f"results/reproduce-{scale}")
    grids = with_spectra(recipes.sweeps(scale), recipes.FIGURE_SWEEPS)
    est = None
    for name, grid in grids.items():  # validate every grid, and estimate its cost, before anything is written
        grid, configs = plan_sweep(grid, args.memory_gb)
        folder = ResultsStore(out / "results" / name)
        e = estimate_sweep(configs, grid.seeds, folder.done_keys() if folder.path.is_dir() else set())
        est = e if est is None else est + e
    enforce_cost(est, args, "reproduce")
    opts = figure_options(args, recipes.theory_settings(scale))
    timings = {}
    t_all = time.perf_counter()
    for name, grid in grids.items():
        t0 = time.perf_counter()
        summary = run_sweep(grid, out / "results" / name, args.backend, memory_gb=args.memory_gb, progress=False)
        timings[f"sweep {name}"] = time.perf_counter() - t0
        print(f"sweep {name}: {summary.rows_computed} rows computed, {summary.rows_before} already there "
              f"({timings[f'sweep {name}']:.1f}s)", flush=True)
    t0 = time.perf_counter()
    recipes.run_baselines_recipe(recipes.baseline_recipe(scale), out / "results" / "baselines")
    timings["baselines"] = time.perf_counter() - t0
    print(f"baselines: {timings['baselines']:.1f}s", flush=True)
    from figures.make import figure_names

    for name, paths, dt, err in draw_figures(figure_names(), out / "results", out / "figures", opts):
        timings[f"figure {name}"] = dt
    timings["total"] = time.perf_counter() - t_all
    (out / "timings.json").write_text(json.dumps({k: round(v, 1) for k, v in timings.items()}, indent=1))
    print(f"total {timings['total']:.1f}s; figures in {out / 'figures'}")
    return 0


SPECTRUM_FIGURES = ("fig2", "multid")  # the figures that draw whole spectra of C (figures/make.py)


def with_spectra(grids: dict, figure_sweeps: dict) -> dict:
    """Each sweep's grid with its ``spectra`` key set where the recipe leaves it out: 'all' for the sweeps of
    the figures that draw spectra (fig2 picks its three alphas from the measured q_h curve,
    figures/data.spectrum_alphas, so they are known only after the sweep), 'none' for the others."""
    wanted = {name for fig in SPECTRUM_FIGURES for name in figure_sweeps.get(fig, ())}
    return {name: grid if "spectra" in grid else {**grid, "spectra": "all" if name in wanted else "none"}
            for name, grid in grids.items()}
