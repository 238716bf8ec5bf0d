"""Each figure: select its rows from the results, compute its data (`figures.data`), its theory overlays
(`figures.theory_curves`, cached under RESULTS/theory_cache) and draw it (`figures.draw`).

`make_figure(name, results, out)` writes OUT/NAME.png and OUT/NAME.pdf and returns their paths. The
configurations each figure looks for are those of `figures.recipes` (q = 2, eps = 0.5, orthonormal A, no
label noise, identity label transform); among the matching rows a one-size figure uses the d with the most
rows (`figures.data.main_d`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import data as fd
from . import draw
from . import theory_curves as th
from .results import load_baselines, load_row_spectrum, load_runs

__all__ = ["FIGURES", "FigureOptions", "make_figure", "figure_names", "BASE_CONFIG"]

BASE_CONFIG = {"q": 2, "eps": 0.5, "a_kind": "orthonormal", "sigma": 0.0, "label_transform": "identity"}
MAIN = {"gamma": 0.4, "g": "id"}


@dataclass(frozen=True)
class FigureOptions:
    """theory: draw the theory overlays; n_mc: Monte Carlo size of the label law; theory_points: n-grid size."""

    theory: bool = True
    n_mc: int = th.DEFAULT_N_MC
    theory_points: int = 12
    input_model: str = "hermite"


class NoData(ValueError):
    """The results hold no rows for a figure."""


def _rows(runs: pd.DataFrame, opts: FigureOptions, **cond) -> pd.DataFrame:
    want = {**BASE_CONFIG, "input_model": opts.input_model, **cond}
    want = {k: v for k, v in want.items() if k in runs.columns}
    sub = fd.select(runs, **want) if len(runs) else runs
    if sub.empty:
        raise NoData("the results hold no rows for this figure's configuration "
                     + ", ".join(f"{k}={v}" for k, v in want.items()))
    return fd.with_alpha(sub)


def _one_size(runs, opts, **cond):
    sub = _rows(runs, opts, **cond)
    return sub[sub["d"] == fd.main_d(sub)].copy()


def _by_input_model(runs, score, **cond) -> list[tuple[str, pd.DataFrame]]:
    """The figure's rows per input model, best first by ``score(rows)`` (ties: the Gaussian-equivalent
    model, which the theory overlays are derived for)."""
    out = []
    for im in ("gaussian_equivalent", "hermite"):
        try:
            out.append((im, _rows(runs, FigureOptions(input_model=im), **cond)))
        except NoData:
            continue
    if not out:
        raise NoData("the results hold no rows for this figure's configuration "
                     + ", ".join(f"{k}={v}" for k, v in {**BASE_CONFIG, **cond}.items()))
    return sorted(out, key=lambda kv: -score(kv[1]))


def _most_gammas(sub):
    """Rows at the d with the most gammas (then the most rows)."""
    per_d = sub.groupby("d")["gamma"].nunique()
    return sub[sub["d"] == max(per_d.index, key=lambda d: (per_d[d], (sub["d"] == d).sum()))].copy()


def _config(sub: pd.DataFrame):
    from hierarchical_model import TeacherConfig

    r = sub.iloc[0]
    return TeacherConfig(d=int(r["d"]), q=int(r["q"]), eps=float(r["eps"]), gamma=float(r["gamma"]), g=str(r["g"]),
                         d1=int(r["d1"]), a_kind=str(r.get("a_kind", "orthonormal")), sigma=float(r.get("sigma", 0.0)),
                         input_model="gaussian_equivalent" if r["input_model"] == "gaussian_equivalent" else "hermite")


def _theory_for(sub, opts, cache):
    """Finite-size curves on a geometric grid over the rows' n range (the seed-0 teacher's signs), or None."""
    if not (opts.theory and th.available()):
        return None
    cfg = _config(sub)
    ns = th.theory_grid(sub["n"].min(), sub["n"].max(), opts.theory_points)
    return th.finite_size_curves(cfg, ns, n_mc=opts.n_mc, cache_dir=cache)


def _alpha(ns, d):
    return np.log(np.asarray(ns, float)) / math.log(d)


def _mse_qh_panels(sub, curves, ge=None):
    """NMSE and q_h against alpha: the Hermite-input data with the theory, plus the Gaussian-equivalent
    input model's data (``ge``) when given, the model the finite-size theory is derived for. NMSE = MSE / Var y
    (the Hermite input's labels have a larger variance than the Gaussian model's at small d)."""
    d = int(sub["d"].iloc[0])
    tx = None if curves is None else _alpha(curves["ns"], d)
    panels = []
    for col, ylabel, log, title in (("nmse", "test NMSE = MSE / Var(y)", True, "test error"),
                                    ("qh", r"$q_h$ (first-layer overlap)", False, "first-layer overlap")):
        c = [{"tbl": fd.mean_band(sub, "alpha", col, log=log), "label": f"{sub['input_model'].iloc[0]} input",
              "theory_x": tx, "theory_y": None if curves is None else curves[col],
              "theory_label": "finite-size theory (Gaussian-equivalent)"}]
        if ge is not None and len(ge):
            c.append({"tbl": fd.mean_band(ge, "alpha", col, log=log), "label": "gaussian_equivalent input"})
        panels.append({"ylabel": ylabel, "logy": log, "curves": c, "title": title,
                       "legend_loc": "lower left" if log else "upper left"})
    return panels


def _ge_rows(runs, sub):
    """Rows of the Gaussian-equivalent input model with the configuration and d of ``sub`` (may be empty)."""
    if sub["input_model"].iloc[0] == "gaussian_equivalent" or "input_model" not in runs.columns:
        return None
    r = sub.iloc[0]
    try:
        ge = _rows(runs, FigureOptions(input_model="gaussian_equivalent"), gamma=float(r["gamma"]), g=r["g"], d=int(r["d"]))
    except NoData:
        return None
    return ge


def _spectrum_panel(row, sub, opts, cache):
    eigs = load_row_spectrum(row)
    if eigs is None:
        return None
    s = {"alpha": float(row["alpha"]), "n": int(row["n"]), "eigs": eigs, "input_model": row["input_model"],
         "outliers": fd.spectrum_outliers(row["top_eigs"], row["eig_tags"], row["eig_overlaps"])}
    if opts.theory and th.available():
        from hierarchical_model import Teacher

        cfg = _config(sub)
        lo, hi = np.percentile(eigs, [0.5, 99.5])
        x = np.linspace(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), 400)
        dens = th.bulk_density(cfg, int(row["n"]), x, lam=Teacher(cfg, int(row["seed"])).lam, n_mc=opts.n_mc,
                               cache_dir=cache)
        s.update(theory_x=dens["x"], theory_rho=dens["rho"], edges=list(dens["edges"]))
    return s


def _title(sub, extra=""):
    r = sub.iloc[0]
    seeds = sub["seed"].nunique()
    return (f"q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, g={r['g']}, d={r['d']} (D={r['D']}, d1={r['d1']}), "
            f"{r['input_model']} input; mean $\\pm$ sem over {seeds} seed{'s' if seeds > 1 else ''}{extra}")


# ---- the figures --------------------------------------------------------------------------------------
def fig2(runs, out, opts, cache):
    sub = _one_size(runs, opts, **MAIN)
    ge = _ge_rows(runs, sub)
    curves = _theory_for(sub, opts, cache)
    paths = draw.draw_curves_vs_alpha(_mse_qh_panels(sub, curves, ge), Path(out) / "fig2", _title(sub))
    alphas = fd.spectrum_alphas(fd.mean_band(sub, "alpha", "qh"))
    spectra = []
    for part in (sub, ge):
        if part is None:
            continue
        for _, row in fd.nearest_rows(part, alphas).iterrows():
            s = _spectrum_panel(row, part, opts, cache)
            if s is not None:
                spectra.append(s)
    if spectra:
        r = sub.iloc[0]
        paths += draw.draw_spectra(spectra, Path(out) / "fig2_spectra",
                                   f"spectrum of C: q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, g={r['g']}, "
                                   f"d={r['d']} (D={r['D']}, d1={r['d1']}), seed {int(sub['seed'].min())}; dashed: "
                                   "predicted bulk density (Gaussian-equivalent theory), dotted: its edges")
    return paths


def fig5(runs, out, opts, cache):
    sub = _one_size(runs, opts, gamma=0.4, g="tanh")
    curves = _theory_for(sub, opts, cache)
    return draw.draw_curves_vs_alpha(_mse_qh_panels(sub, curves, _ge_rows(runs, sub)), Path(out) / "fig5", _title(sub))


def fig3(runs, out, opts, cache):
    sub = _most_gammas(_by_input_model(runs, lambda t: _most_gammas(t)["gamma"].nunique(), g="id")[0][1])
    mse_curves, qh_curves = [], []
    for gamma, g in sub.groupby("gamma", sort=True):
        curves = _theory_for(g, opts, cache)
        d = int(g["d"].iloc[0])
        tx = None if curves is None else _alpha(curves["ns"], d)
        lab = fr"$\gamma$={gamma:g}"
        mse_curves.append({"tbl": fd.mean_band(g, "alpha", "nmse", log=True), "label": lab, "theory_x": tx,
                           "theory_y": None if curves is None else curves["nmse"]})
        qh_curves.append({"tbl": fd.mean_band(g, "alpha", "qh"), "label": lab, "theory_x": tx,
                          "theory_y": None if curves is None else curves["qh"]})
    r = sub.iloc[0]
    title = (f"q={r['q']}, eps={r['eps']:g}, g={r['g']}, d={r['d']} (D={r['D']}, d1={r['d1']}), {r['input_model']} input; "
             f"markers: mean $\\pm$ sem over seeds, dashed: finite-size theory")
    return draw.draw_curves_vs_alpha(
        [{"ylabel": "test NMSE = MSE / Var(y)", "logy": True, "curves": mse_curves, "title": "test error", "legend_loc": "lower left"},
         {"ylabel": r"$q_h$", "curves": qh_curves, "title": "first-layer overlap", "legend_loc": "upper left"}],
        Path(out) / "fig3", title)


def fig4(runs, out, opts, cache):
    models = _by_input_model(runs, lambda t: len(t[t["d"] == fd.main_d(t)]), **MAIN)
    paths = []
    for k, (im, sub) in enumerate(models):
        sub = sub[sub["d"] == fd.main_d(sub)].copy()
        paths += _fig4_one(sub, Path(out) / ("fig4" if k == 0 else f"fig4_{im}"), opts, cache)
    return paths


def _fig4_one(sub, base, opts, cache):
    d = int(sub["d"].iloc[0])
    long = fd.per_direction(sub)
    cos2_tbl = fd.mean_band(long, "alpha", "cos2", by=["i"])
    after = fd.after_transition(long)
    after_tbl = fd.mean_band(after, "n", "one_minus_cos", by=["i"], log=True) if len(after) else after
    stair_tbl = fd.mean_band(sub, "n", "recovered")
    thresholds, stairs = {}, {}
    if opts.theory and th.available():
        thresholds, stairs = _fig4_theory(_theory_for(sub, opts, cache), th.naive_thresholds(_config(sub)), d,
                                          float(sub["n"].min()), float(sub["n"].max()))
    return draw.draw_directions(cos2_tbl, thresholds, after_tbl, stair_tbl, stairs, base, _title(sub))


def _fig4_theory(curves: dict, naive, d: int, n_lo: float, n_hi: float) -> tuple[dict, dict]:
    """fig4's predicted thresholds (left panel: alpha_i per direction) and staircases (right panel), each
    staircase #{i: n_i <= n} built from the very thresholds drawn on the left, so that it steps exactly there.
    The finite-size n_i are the crossings of the predicted cos^2 with 1/2 (`finite_size_thresholds_from`)."""
    n_fs = th.finite_size_thresholds_from(curves)
    thresholds = {"finite-size theory": (_alpha(n_fs, d), "--"), "paper's $n_i$ (naive)": (_alpha(naive, d), ":")}
    stairs = {"finite-size theory": fd.staircase_points(n_fs, n_lo, n_hi),
              r"paper's $m_n$ = #{i: $n_i \leq n$}": fd.staircase_points(naive, n_lo, n_hi)}
    return thresholds, stairs


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


def collapse(runs, out, opts, cache):
    sub = _by_input_model(runs, lambda t: t["d"].nunique(), **MAIN)[0][1]
    long = fd.per_direction(sub)
    thresholds, theory, source = {}, [], "empirical crossings of cos$^2$ = 1/2"
    if opts.theory and th.available():
        source = "finite-size theory"
        for d, g in sub.groupby("d", sort=True):
            curves = _theory_for(g, opts, cache)
            n_i = th.finite_size_thresholds_from(curves)
            for i, ni in enumerate(n_i, 1):
                thresholds[(int(d), i)] = ni
                if np.isfinite(ni):
                    theory.append({"x": curves["ns"] / ni, "y": curves["cos2"][:, i - 1],
                                   "label": "finite-size prediction (each d, i)"})
    else:
        cr = fd.crossings(long)
        thresholds = {(int(r.d), int(r.i)): r.n_cross for r in cr.itertuples()}
    tbl = fd.collapse_table(long, thresholds)
    if tbl.empty:
        raise NoData("no direction reaches its threshold in the results: nothing to collapse")
    tbl_m = fd.mean_band(tbl, "x", "cos2", by=["d", "i"])
    r = sub.iloc[0]
    title = (f"gamma={r['gamma']:g}, g={r['g']}, {r['input_model']} input, d in {sorted(sub['d'].unique().tolist())}; "
             f"$n_i$: {source}")
    return draw.draw_collapse(tbl_m, theory, Path(out) / "collapse", title)


def _largest_d1_gammas(runs) -> pd.DataFrame:
    """The rows of g = id of the (input model, d, eps) group with the most latent directions among those run
    at two gammas or more (ties: more gammas, then more rows)."""
    base = {k: v for k, v in BASE_CONFIG.items() if k != "eps"}
    sub = fd.select(runs, **{k: v for k, v in {**base, "g": "id"}.items() if k in runs.columns}) if len(runs) else runs
    if sub.empty:
        raise NoData("the results hold no rows with g=id for the scaling figure")
    groups = [g for _, g in sub.groupby(["input_model", "d", "eps"]) if g["gamma"].nunique() >= 2]
    if not groups:
        raise NoData("the scaling figure needs one configuration run at two gammas or more")
    return fd.with_alpha(max(groups, key=lambda g: (int(g["d1"].iloc[0]), g["gamma"].nunique(), len(g))))


def scaling(runs, out, opts, cache):
    sub = _largest_d1_gammas(runs)
    tbl = fd.scaling_table(sub, y="nmse")
    theory = {}
    if opts.theory and th.available():
        for gamma, g in sub.groupby("gamma", sort=True):
            cfg = _config(g)
            curves = _theory_for(g, opts, cache)
            x = np.asarray(curves["ns"], float) / float(cfg.d) ** cfg.q
            power = th.power_law_mse(x, gamma) if gamma > 0.5 else None
            theory[gamma] = {"finite": (x, curves["nmse"]), "power": None if power is None else (x, power)}
    r = sub.iloc[0]
    title = (f"d={r['d']}, d1={r['d1']} (eps={r['eps']:g}), g={r['g']}, {r['input_model']} input; fit over the window of "
             "sequential recovery (|: 1 to d1 found);\ndashed: finite-size theory, dotted: Theorem 3.2, $(n/d^q)^{-1+1/(2\\gamma)}$")
    return draw.draw_scaling(tbl, theory, Path(out) / "scaling", title)


FIGURES = {"fig2": fig2, "fig3": fig3, "fig4": fig4, "fig5": fig5, "baselines": baselines, "collapse": collapse,
           "scaling": scaling}


def figure_names() -> tuple:
    return tuple(FIGURES)


def make_figure(name: str, results, out, opts: FigureOptions = FigureOptions(), runs: pd.DataFrame | None = None):
    """Draw figure ``name`` from the results folder ``results`` into ``out``; returns the written paths.
    ``runs`` (optional): the already loaded table of ``results``."""
    from hierarchical_model._validation import check_choice

    check_choice("figure", name, FIGURES)
    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"results={str(results)!r} is not a folder")
    runs = load_runs(results) if runs is None else runs
    # the theory cache sits beside the results it was computed for; baselines are read from its parent
    return FIGURES[name](runs, Path(out), opts, results / "theory_cache")
