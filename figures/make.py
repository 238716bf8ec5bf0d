"""Each figure: select its rows from the results, compute its data (`figures.data`), its theory overlays
(`figures.theory_curves`, cached under RESULTS/theory_cache) and draw it (`figures.draw`).

`make_figure(name, results, out)` writes OUT/NAME.png and OUT/NAME.pdf (and, for some, companions such as
OUT/NAME_hermite.png) and returns their paths. The configurations each figure looks for are those of
`figures.recipes` (q = 2, eps = 0.5, orthonormal A, no label noise, identity label transform, MODEL.md's
conventions); among the matching rows a one-size figure uses the d with the most rows (`figures.data.main_d`).
Rows of the two estimators of C (column ``estimator``: 'paper', 'chaos'; tables without it are the paper's) are
never averaged together: a figure either shows each with its own curves or keeps the paper's.
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

BASE_CONFIG = {"q": 2, "eps": 0.5, "a_kind": "orthonormal", "sigma": 0.0, "label_transform": "identity",
               "conventions": "model"}
MAIN = {"gamma": 0.4, "g": "id"}
PAPER = {"estimator": "paper"}
ESTIMATOR_LABELS = {"paper": "paper's C", "chaos": "chaos-projected C"}
LINKS = ("id", "tanh", "quad")


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
    """The rows of the figure's configuration (BASE_CONFIG, ``opts.input_model`` and ``cond``; a value None
    means any; conditions on columns the table lacks are dropped: a table without ``estimator`` is the paper's)."""
    want = {**BASE_CONFIG, "input_model": opts.input_model, **cond}
    want = {k: v for k, v in want.items() if k in runs.columns and v is not None}
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


def _by_estimator(sub: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The rows per estimator of C, the paper's first (a table without the column holds the paper's only)."""
    if "estimator" not in sub.columns:
        return [("paper", sub)]
    order = sorted(sub["estimator"].unique(), key=lambda e: (e != "paper", e))
    return [(e, sub[sub["estimator"] == e].copy()) for e in order]


def _estimator(sub: pd.DataFrame) -> str:
    return str(sub["estimator"].iloc[0]) if "estimator" in sub.columns else "paper"


def _most_gammas(sub):
    """Rows at the d with the most gammas (then the most rows)."""
    per_d = sub.groupby("d")["gamma"].nunique()
    return sub[sub["d"] == max(per_d.index, key=lambda d: (per_d[d], (sub["d"] == d).sum()))].copy()


def _config(sub: pd.DataFrame):
    from hierarchical_model import TeacherConfig

    return TeacherConfig.from_row(sub.iloc[0])


def _theory_for(sub, opts, cache):
    """Finite-size curves on a geometric grid over the rows' n range, or None: the mean of the per-seed
    predictions over the teacher seeds present in ``sub`` (each with that seed's signed lambda), for the rows'
    input model and estimator of C (issue 11 item 3: never one seed's prediction for seed-averaged data)."""
    if not (opts.theory and th.available()):
        return None
    cfg = _config(sub)
    ns = th.theory_grid(sub["n"].min(), sub["n"].max(), opts.theory_points)
    return th.finite_size_curves(cfg, ns, n_mc=opts.n_mc, cache_dir=cache, seeds=_seeds(sub), estimator=_estimator(sub))


def _seeds(sub) -> list[int]:
    return sorted(int(s) for s in sub["seed"].unique())


def _theory_label(sub) -> str:
    im = sub["input_model"].iloc[0]
    if im == "gaussian_equivalent":
        return "finite-size theory (Gaussian-equivalent)"
    return f"finite-size theory (Hermite, {ESTIMATOR_LABELS.get(_estimator(sub), _estimator(sub))})"


def _alpha(ns, d):
    return np.log(np.asarray(ns, float)) / math.log(d)


def _data_label(sub) -> str:
    im = sub["input_model"].iloc[0]
    return f"{im} input" + (f", {ESTIMATOR_LABELS.get(_estimator(sub), _estimator(sub))}" if im == "hermite" else "")


def _mse_qh_panels(groups: list[tuple[pd.DataFrame, dict | None]]):
    """NMSE and q_h against alpha, one curve per (rows, theory curves or None) of ``groups`` with its own
    prediction (dashed, same colour). NMSE = MSE / Var y (the Hermite input's labels have a larger variance than
    the Gaussian model's at small d)."""
    panels = []
    for col, ylabel, log, title in (("nmse", "test NMSE = MSE / Var(y)", True, "test error"),
                                    ("qh", r"$q_h$ (first-layer overlap)", False, "first-layer overlap")):
        c = []
        for rows, curves in groups:
            tx = None if curves is None else _alpha(curves["ns"], int(rows["d"].iloc[0]))
            c.append({"tbl": fd.mean_band(rows, "alpha", col, log=log), "label": _data_label(rows),
                      "marker": "s" if _estimator(rows) == "chaos" else "o",
                      "theory_x": tx, "theory_y": None if curves is None else curves[col],
                      "theory_label": None if curves is None else _theory_label(rows)})
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


def _spectrum_panel(row, sub, opts, cache, density: bool = True):
    eigs = load_row_spectrum(row)
    if eigs is None:
        return None
    s = {"alpha": float(row["alpha"]), "n": int(row["n"]), "eigs": eigs, "input_model": row["input_model"],
         "outliers": fd.spectrum_outliers(row["top_eigs"], row["eig_tags"], row["eig_overlaps"])}
    if density and opts.theory and th.available():
        cfg = _config(sub)
        lo, hi = np.percentile(eigs, [0.5, 99.5])
        x = np.linspace(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), 400)
        # the spectrum's own teacher (its signs, and for the Hermite remainder its directions) and estimator
        dens = th.bulk_density(cfg, int(row["n"]), x, n_mc=opts.n_mc, cache_dir=cache, seed=int(row["seed"]),
                               estimator=_estimator(sub))
        s.update(theory_x=dens["x"], theory_rho=dens["rho"], edges=list(dens["edges"]))
    return s


def _title(sub, extra=""):
    r = sub.iloc[0]
    seeds = sub["seed"].nunique()
    est = f", {ESTIMATOR_LABELS[_estimator(sub)]}" if r["input_model"] == "hermite" and "estimator" in sub else ""
    return (f"q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, g={r['g']}, d={r['d']} (D={r['D']}, d1={r['d1']}), "
            f"{r['input_model']} input{est}; mean $\\pm$ sem over {seeds} seed{'s' if seeds > 1 else ''}{extra}")


def _with_theory(parts, opts, cache):
    return [(rows, _theory_for(rows, opts, cache)) for rows in parts]


# ---- the figures --------------------------------------------------------------------------------------
def fig2(runs, out, opts, cache):
    sub = _one_size(runs, opts, **MAIN, estimator=None)
    ge = _ge_rows(runs, sub)
    parts = [rows for _, rows in _by_estimator(sub)] + ([ge] if ge is not None else [])
    paths = draw.draw_curves_vs_alpha(_mse_qh_panels(_with_theory(parts, opts, cache)), Path(out) / "fig2",
                                      _title(parts[0]).replace(", paper's C", ""))
    paper = parts[0]
    alphas = fd.spectrum_alphas(fd.mean_band(paper, "alpha", "qh"))
    spectra = []
    for part in (paper, ge):
        if part is None:
            continue
        for _, row in fd.nearest_rows(part, alphas).iterrows():
            s = _spectrum_panel(row, part, opts, cache)
            if s is not None:
                spectra.append(s)
    if spectra:
        r = sub.iloc[0]
        paths += draw.draw_spectra(spectra, Path(out) / "fig2_spectra",
                                   f"spectrum of C (paper's estimator): q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, "
                                   f"g={r['g']}, d={r['d']} (D={r['D']}, d1={r['d1']}), seed {int(sub['seed'].min())}; "
                                   "dashed: predicted bulk density of the input model's theory, dotted: its edges")
    return paths


def fig5(runs, out, opts, cache):
    sub = _one_size(runs, opts, gamma=0.4, g="tanh", estimator=None)
    ge = _ge_rows(runs, sub)
    parts = [rows for _, rows in _by_estimator(sub)] + ([ge] if ge is not None else [])
    return draw.draw_curves_vs_alpha(_mse_qh_panels(_with_theory(parts, opts, cache)), Path(out) / "fig5",
                                     _title(parts[0]).replace(", paper's C", ""))


def fig3(runs, out, opts, cache):
    sub = _most_gammas(_by_input_model(runs, lambda t: _most_gammas(t)["gamma"].nunique(), g="id", **PAPER)[0][1])
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
    """One figure per (input model, estimator): fig4.png for the input model with the most rows of the paper's C at
    its main d (ties: the Gaussian-equivalent model),
    fig4_<input model>.png for the other, fig4_hermite_chaos.png for the Hermite input with the chaos-projected C."""
    models = _by_input_model(runs, lambda t: len(_by_estimator(t[t["d"] == fd.main_d(t)])[0][1]), **MAIN, estimator=None)
    paths = []
    for k, (im, sub) in enumerate(models):
        sub = sub[sub["d"] == fd.main_d(sub)].copy()
        for est, rows in _by_estimator(sub):
            name = ("fig4" if k == 0 else f"fig4_{im}") + ("" if est == "paper" else f"_{est}")
            paths += _fig4_one(rows, Path(out) / name, opts, cache)
    return paths


def _fig4_one(sub, base, opts, cache):
    d = int(sub["d"].iloc[0])
    keep = fd.direction_subset(int(sub["d1"].iloc[0]))
    long = fd.per_direction(sub)
    long = long[long["i"].isin(keep)]
    cos2_tbl = fd.mean_band(long, "alpha", "cos2", by=["i"])
    after = fd.after_transition(long)
    after_tbl = fd.mean_band(after, "n", "one_minus_cos", by=["i"], log=True) if len(after) else after
    stair_tbl = fd.mean_band(sub, "n", "recovered")
    pa = fd.principal_long(sub)
    pa = pa[pa["k"].isin(keep)]
    principal_tbl = fd.mean_band(pa, "alpha", "cos2", by=["k"]) if len(pa) else None
    thresholds, stairs = {}, {}
    if opts.theory and th.available():
        thresholds, stairs = _fig4_theory(_theory_for(sub, opts, cache), th.naive_thresholds(_config(sub)), d,
                                          float(sub["n"].min()), float(sub["n"].max()))
    note = "" if principal_tbl is not None else " (principal angles: not in these results)"
    return draw.draw_directions(cos2_tbl, thresholds, after_tbl, stair_tbl, stairs, base, _title(sub, note),
                                principal_tbl=principal_tbl)


def _fig4_theory(curves: dict, naive, d: int, n_lo: float, n_hi: float) -> tuple[dict, dict]:
    """fig4's predicted thresholds (left panel: alpha_i per direction) and staircases (right panel), each
    staircase #{i: n_i <= n} built from the very thresholds drawn on the left, so that it steps exactly there.
    The finite-size n_i are the crossings of the predicted cos^2 with 1/2 (`finite_size_thresholds_from`); a
    direction recovered before the grid is not drawn but counts from its start (`figures.data.counted_thresholds`)."""
    n_fs = th.finite_size_thresholds_from(curves)
    thresholds = {"finite-size theory": (_alpha(n_fs, d), "--"), "paper's $n_i$ (naive)": (_alpha(naive, d), ":")}
    counted = fd.counted_thresholds(curves["ns"], curves["cos2"], n_fs)
    stairs = {"finite-size theory": fd.staircase_points(counted, n_lo, n_hi),
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


def _collapse_panel(sub, opts, cache) -> dict:
    """cos^2 against n / n_i for every d of ``sub`` (one input model and estimator), n_i the finite-size
    threshold of that model and estimator (the empirical crossing of the seed-mean cos^2 = 1/2 without theory)."""
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
    return {"tbl": fd.mean_band(tbl, "x", "cos2", by=["d", "i"]), "theory": theory,
            "title": f"{_data_label(sub)}; $n_i$: {source}"}


def collapse(runs, out, opts, cache):
    """collapse.png: the Gaussian-equivalent input model (the theory's own); collapse_hermite.png: the Hermite
    input, one panel per estimator, each with the thresholds of its own theory."""
    paths = []
    for im in ("gaussian_equivalent", "hermite"):
        try:
            sub = _rows(runs, FigureOptions(input_model=im), **MAIN, estimator=None)
        except NoData:
            continue
        panels = []
        for _, rows in _by_estimator(sub):
            try:
                panels.append(_collapse_panel(rows, opts, cache))
            except NoData:
                continue
        if not panels:
            continue
        r = sub.iloc[0]
        title = f"gamma={r['gamma']:g}, g={r['g']}, {im} input, d in {sorted(sub['d'].unique().tolist())}"
        paths += draw.draw_collapse(panels, Path(out) / ("collapse" if im == "gaussian_equivalent" else "collapse_hermite"),
                                    title)
    if not paths:
        raise NoData("no direction reaches its threshold in the results: nothing to collapse")
    return paths


def multid(runs, out, opts, cache):
    """P1: NMSE and q_h against alpha for several d on one axis (Hermite input, paper's C, gamma = 0.4, g = id),
    and the spectrum of C at the largest d with a saved spectrum, near alpha = 3.5 (the paper: d = 140)."""
    sub = _rows(runs, opts, **MAIN, **PAPER)
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
        spec = _spectrum_panel(row, rows, opts, cache, density=False)
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
    sub = _rows(runs, opts, gamma=0.4, g=list(LINKS), **PAPER)
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


def gamma1(runs, out, opts, cache):
    """P8: NMSE and q_h against alpha for several d at gamma = 1 (Hermite input, paper's C, g = id), with the first
    and last transitions: the paper's alpha = q and q + 2 gamma eps (grey), and per d the naive n_1 and n_{d1} with
    our constants (dotted, the colour of that d) and the first and last thresholds of the finite-size theory reached
    on the data's n range (dashed)."""
    sub = _rows(runs, opts, gamma=1.0, g="id", **PAPER)
    ds = sorted(sub["d"].unique())
    colors = [f"C{k % 10}" for k in range(len(ds))]
    r = sub.iloc[0]
    q, eps, gamma = int(r["q"]), float(r["eps"]), float(r["gamma"])
    vlines = [(q, r"paper: first transition $\alpha = q$", "0.3", "-"),
              (q + 2 * gamma * eps, r"paper: last $\alpha = q + 2\gamma\epsilon$", "0.3", "--")]
    for d, color in zip(ds, colors):
        rows = sub[sub["d"] == d]
        naive = th.naive_thresholds(_config(rows)) if th.available() else []
        if len(naive):
            a = _alpha([naive[0], naive[-1]], d)
            vlines += [(a[0], f"d = {d}: naive $n_1$, $n_{{d_1}}$", color, ":"), (a[1], None, color, ":")]
        curves = _theory_for(rows, opts, cache)
        if curves is not None:  # the first and last crossings of the seed-mean predicted cos^2 = 1/2
            n_fs = th.finite_size_thresholds_from(curves)
            a = _alpha(n_fs[np.isfinite(n_fs)], d)
            if a.size:
                vlines += [(a.min(), f"d = {d}: finite-size first, last $n_i$ (in range)", color, "--"),
                           (a.max(), None, color, "--")]
    panels = []
    for col, ylabel, log in (("nmse", "test NMSE = MSE / Var(y)", True), ("qh", r"$q_h$", False)):
        panels.append({"ylabel": ylabel, "logy": log, "legend_loc": "lower left" if log else "upper left",
                       "vlines": vlines,
                       "curves": [{"tbl": fd.mean_band(sub[sub["d"] == d], "alpha", col, log=log), "color": c,
                                   "label": f"d = {d} (d1 = {int(sub.loc[sub['d'] == d, 'd1'].iloc[0])})"}
                                  for d, c in zip(ds, colors)]})
    title = (f"gamma={gamma:g}: q={q}, eps={eps:g}, g={r['g']}, hermite input, paper's C; mean $\\pm$ sem over "
             f"{sub['seed'].nunique()} seed(s)")
    return draw.draw_curves_vs_alpha(panels, Path(out) / "gamma1", title)


def tail(runs, out, opts, cache):
    """P6 (and P3's q_h against the m_n staircase): gamma = 1, g = id, Hermite input, paper's C, the largest d run.
    MSE against alpha with the slope -1 + 1/(2 gamma) of Theorem 3.2, the measured tail energy sum_j lambda_j^2
    (1 - q_j) (matched overlaps) and the predicted sum_{j > m_n} lambda_j^2 (m_n from the paper's n_i and from the
    finite-size theory's); the MSE against the measured tail; q_h with the m_n staircases."""
    sub = _rows(runs, opts, gamma=1.0, g="id", **PAPER)
    sub = sub[sub["d"] == sub["d"].max()].copy()
    r = sub.iloc[0]
    d, q, gamma, d1 = int(r["d"]), int(r["q"]), float(r["gamma"]), int(r["d1"])
    lam = np.asarray(r["lam"], float)
    n_lo, n_hi = float(sub["n"].min()), float(sub["n"].max())
    ns = np.geomspace(n_lo, n_hi, 400)
    # NMSE against the unrecovered share of sum_j lambda_j^2 = 1: at small d the Hermite input's labels have a
    # variance above 1 (h1 is not Gaussian), which scales the unrecovered part of the error alike
    mse_tbl = fd.mean_band(sub, "alpha", "nmse", log=True)
    curves = [{"tbl": mse_tbl, "label": "test NMSE = MSE / Var(y)", "color": "C0"},
              {"tbl": fd.mean_band(fd.tail_sums(sub), "alpha", "tail_num", log=True), "color": "C1", "marker": "s",
               "label": r"measured tail $\sum_j \lambda_j^2 (1 - q_j)$ ($Z_\gamma^2 R_{num}$)"}]
    lines, stairs = [], {}
    thresholds = {}
    if th.available():
        thresholds["paper's $n_i$ (naive)"] = (th.naive_thresholds(_config(sub)), ":", "C3")
        if opts.theory:
            curves_th = _theory_for(sub, opts, cache)
            n_fs = th.finite_size_thresholds_from(curves_th)
            thresholds["finite-size theory $n_i$"] = (fd.counted_thresholds(curves_th["ns"], curves_th["cos2"], n_fs),
                                                      "--", "C2")
    for lab, (n_i, style, color) in thresholds.items():
        lines.append({"x": _alpha(ns, d), "y": fd.tail_energy_th(ns, n_i, lam), "style": style, "color": color,
                      "label": r"$\sum_{j > m_n} \lambda_j^2$ ($Z_\gamma^2 R_{th}$), " + lab})
        x, m = fd.staircase_points(n_i, n_lo, n_hi)
        stairs[r"$m_n$, " + lab] = (_alpha(x, d), m)
    slope = fd.predicted_exponent(gamma)
    if np.isfinite(slope):
        a = mse_tbl["alpha"].to_numpy(float)
        a0 = a[len(a) // 2]
        y0 = 1.3 * float(np.interp(a0, a, mse_tbl["mean"]))
        xs = np.array([a0, a.max()])
        lines.append({"x": xs, "y": y0 * float(d) ** (slope * (xs - a0)), "style": "-", "color": "k",
                      "label": f"slope $-1 + 1/(2\\gamma)$ = {slope:+.2f} in $n$"})
    mse_panel = {"ylabel": "test NMSE = MSE / Var(y)", "curves": curves, "lines": lines,
                 "title": "error and the unrecovered energy"}
    overlap = {"qh": fd.mean_band(sub, "alpha", "qh"), "rec": fd.mean_band(sub, "alpha", "recovered"), "stairs": stairs,
               "d1": d1}
    title = (f"gamma={gamma:g}, q={q}, eps={r['eps']:g}, g={r['g']}, d={d} (D={r['D']}, d1={d1}), hermite input, paper's C; "
             f"mean $\\pm$ sem over {sub['seed'].nunique()} seed(s); $q_j$: squared overlap of $u_j$ with its "
             "best-matching eigenvector")
    return draw.draw_tail(mse_panel, {"tbl": fd.tail_table(sub, "nmse")}, overlap, Path(out) / "tail", title)


def _largest_d1_gammas(runs) -> pd.DataFrame:
    """The rows of g = id of the (input model, d, eps) group with the most latent directions among those run
    at two gammas or more (ties: more gammas, then more rows)."""
    base = {**{k: v for k, v in BASE_CONFIG.items() if k != "eps"}, **PAPER}
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
           "scaling": scaling, "multid": multid, "links": links, "gamma1": gamma1, "tail": tail}


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
