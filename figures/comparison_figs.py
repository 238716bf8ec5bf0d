"""Figures that put several methods, sizes or links on one axis: every method on the same samples (baselines),
several d (multid, P1, with a spectrum of C) and the links id, tanh, quad (links, P4). Each function takes
(runs, out, opts, cache) and returns the written paths (`figures.make`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import data as fd
from . import draw
from .panels import spectrum_panel
from .results import load_baselines
from .rows import MAIN, PAPER, NoData, figure_rows

__all__ = ["baselines", "multid", "links"]


LINKS = ("id", "tanh", "quad")  # the links of P4


def baselines(runs, out, opts, cache):
    recs = load_baselines(cache.parent)
    if recs.empty:
        raise NoData("the results hold no baselines*.parquet records (run `hmodel reproduce` or figures.recipes.run_baselines)")
    tbl = fd.baseline_table(recs)
    q = int(recs["q"].iloc[0])
    lo, hi = float(recs["n"].min()), float(recs["n"].max())
    marks = {int(d): [(float(d) ** k, f"$d^{{{k}}}$") for k in (q, 2 * q) if lo <= float(d) ** k <= hi]
             for d in tbl["d"].unique()}
    r = recs.iloc[0]
    kern = recs[recs["method"].str.startswith("kernel") & (recs["skipped"] == "")]
    solver = kern["solver"] if "solver" in kern else pd.Series("exact", index=kern.index)  # shards before Nystrom
    how = "kernel ridge solved exactly" + (f" up to n = {int(kern.loc[solver == 'exact', 'n'].max())}, Nystrom beyond"
                                           if (solver == "nystrom").any() and (solver == "exact").any() else "")
    title = (f"every method on the same n training samples (every fifth held out to choose its ridge), Hermite input: "
             f"q={q}, eps={r['eps']:g}, gamma={r['gamma']:g}, g={r['g']}, d1={r['d1']}, sigma={r.get('sigma', 0.0):g}; "
             f"mean $\\pm$ sem over {recs['seed'].nunique()} seed(s); {how}")
    return draw.draw_baselines(tbl, marks, Path(out) / "baselines", title)


def multid(runs, out, opts, cache):
    """P1: NMSE and q_h against alpha for several d on one axis (Hermite input, paper's C, gamma = 0.4, g = id),
    and the spectrum of C at the largest d with a saved spectrum, near alpha = 3.5 (the paper: d = 140)."""
    sub = figure_rows(runs, opts, **MAIN, **PAPER)
    per_d = sub.groupby("d")["n"].nunique()
    ds = sorted(int(d) for d in per_d.index if per_d[d] >= 3)  # not a side sweep at one alpha (the spectrum's)
    if not ds:
        raise NoData("the several-d figure needs rows at three sample sizes or more")
    panels = []
    for col, ylabel, log in (("nmse", "test NMSE = MSE / Var(y)", True), ("qh", r"$q_h$", False)):
        panels.append({"ylabel": ylabel, "logy": log, "legend_loc": "lower left" if log else "upper left",
                       "curves": [{"tbl": fd.mean_band(sub[sub["d"] == d], "alpha", col, log=log),
                                   "label": f"d = {d} (D = {int(sub.loc[sub['d'] == d, 'D'].iloc[0])})"} for d in ds]})
    spec = None
    for d in sorted(sub["d"].unique(), reverse=True):
        rows = sub[sub["d"] == d]
        row = fd.nearest_rows(rows, [3.5]).iloc[0]
        spec = spectrum_panel(row, rows, opts, cache, density=False)
        if spec is not None:
            spec.update(logy=True, title=fr"spectrum of C: d = {d}, $\alpha$ = {row['alpha']:.2f}, seed {int(row['seed'])}")
            panels.append({"spectrum": spec})
            break
    r = sub.iloc[0]
    seeds = sub.groupby("d")["seed"].nunique()
    span = f"{seeds.min()}" if seeds.min() == seeds.max() else f"{seeds.min()}-{seeds.max()}"
    title = (f"q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, g={r['g']}, hermite input, paper's C; mean $\\pm$ sem "
             f"over {span} seed(s)" + ("; spectrum: lines at the top-$d_1$ |eigenvalues|, labelled with "
                                                          "the teacher direction their eigenvector aligns with" if spec else ""))
    return draw.draw_curves_vs_alpha(panels, Path(out) / "multid", title)


def links(runs, out, opts, cache):
    """P4: NMSE and q_h against alpha for the links id, tanh and quad (z^2 + z - 1) on one axis, Hermite input,
    paper's C, gamma = 0.4, at the d where most of the links were run."""
    sub = figure_rows(runs, opts, gamma=0.4, g=list(LINKS), **PAPER)
    per_d = sub.groupby("d")["g"].nunique()
    d = max(per_d.index, key=lambda v: (per_d[v], (sub["d"] == v).sum()))
    sub = sub[sub["d"] == d]
    present = [g for g in LINKS if (sub["g"] == g).any()]
    panels = []
    for col, ylabel, log in (("nmse", "test NMSE = MSE / Var(y)", True), ("qh", r"$q_h$", False)):
        panels.append({"ylabel": ylabel, "logy": log, "legend_loc": "lower left" if log else "upper left",
                       "curves": [{"tbl": fd.mean_band(sub[sub["g"] == g], "alpha", col, log=log),
                                   "label": "g = " + {"quad": "quad ($z^2 + z - 1$)"}.get(g, g)} for g in present]})
    r = sub.iloc[0]
    title = (f"links: q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, d={d} (D={r['D']}, d1={r['d1']}), hermite input, "
             f"paper's C; mean $\\pm$ sem over {sub['seed'].nunique()} seed(s)")
    return draw.draw_curves_vs_alpha(panels, Path(out) / "links", title)

