"""Figures of the recovery thresholds and the scaling law: the collapse of cos^2 against n / n_i, the first and
last transitions at gamma = 1 for several d (P8), the tail energy and the m_n staircase (P6, P3) and the error
against n / d^q across gamma (Theorem 3.2). Each function takes (runs, out, opts, cache) and returns the written
paths (`figures.make`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from . import data as fd
from . import draw, draw_recovery
from . import theory_curves as th
from .panels import alpha_of, data_label, theory_for
from .rows import BASE_CONFIG, MAIN, PAPER, FigureOptions, NoData, by_estimator, config_of, figure_rows

__all__ = ["collapse", "gamma1", "tail", "scaling"]


def collapse(runs, out, opts, cache):
    """collapse.png: the Gaussian-equivalent input model (the theory's own); collapse_hermite.png: the Hermite
    input, one panel per estimator, each with the thresholds of its own theory."""
    paths = []
    for im in ("gaussian_equivalent", "hermite"):
        try:
            sub = figure_rows(runs, FigureOptions(input_model=im), **MAIN, estimator=None)
        except NoData:
            continue
        panels = []
        for _, rows in by_estimator(sub):
            try:
                panels.append(_collapse_panel(rows, opts, cache))
            except NoData:
                continue
        if not panels:
            continue
        r = sub.iloc[0]
        title = f"gamma={r['gamma']:g}, g={r['g']}, {im} input, d in {sorted(sub['d'].unique().tolist())}"
        paths += draw_recovery.draw_collapse(panels, Path(out) / ("collapse" if im == "gaussian_equivalent" else "collapse_hermite"),
                                    title)
    if not paths:
        raise NoData("no direction reaches its threshold in the results: nothing to collapse")
    return paths


def _collapse_panel(sub, opts, cache) -> dict:
    """cos^2 against n / n_i for every d of ``sub`` (one input model and estimator), n_i the finite-size
    threshold of that model and estimator (the empirical crossing of the seed-mean cos^2 = 1/2 without theory)."""
    long = fd.per_direction(sub)
    thresholds, theory, source = {}, [], "empirical crossings of cos$^2$ = 1/2"
    if opts.theory and th.available():
        source = "finite-size theory"
        for d, g in sub.groupby("d", sort=True):
            curves = theory_for(g, opts, cache)
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
            "title": f"{data_label(sub)}; $n_i$: {source}"}


def gamma1(runs, out, opts, cache):
    """P8: NMSE and q_h against alpha for several d at gamma = 1 (Hermite input, paper's C, g = id), with the first
    and last transitions: the paper's alpha = q and q + 2 gamma eps (grey), and per d the naive n_1 and n_{d1} with
    our constants (dotted, the colour of that d) and the first and last thresholds of the finite-size theory reached
    on the data's n range (dashed)."""
    sub = figure_rows(runs, opts, gamma=1.0, g="id", **PAPER)
    ds = sorted(sub["d"].unique())
    colors = [f"C{k % 10}" for k in range(len(ds))]
    r = sub.iloc[0]
    q, eps, gamma = int(r["q"]), float(r["eps"]), float(r["gamma"])
    vlines = [(q, r"paper: first transition $\alpha = q$", "0.3", "-"),
              (q + 2 * gamma * eps, r"paper: last $\alpha = q + 2\gamma\epsilon$", "0.3", "--")]
    for d, color in zip(ds, colors):
        rows = sub[sub["d"] == d]
        naive = th.naive_thresholds(config_of(rows)) if th.available() else []
        if len(naive):
            a = alpha_of([naive[0], naive[-1]], d)
            vlines += [(a[0], f"d = {d}: naive $n_1$, $n_{{d_1}}$", color, ":"), (a[1], None, color, ":")]
        curves = theory_for(rows, opts, cache)
        if curves is not None:  # the first and last crossings of the seed-mean predicted cos^2 = 1/2
            n_fs = th.finite_size_thresholds_from(curves)
            a = alpha_of(n_fs[np.isfinite(n_fs)], d)
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
    sub = figure_rows(runs, opts, gamma=1.0, g="id", **PAPER)
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
        thresholds["paper's $n_i$ (naive)"] = (th.naive_thresholds(config_of(sub)), ":", "C3")
        if opts.theory:
            curves_th = theory_for(sub, opts, cache)
            n_fs = th.finite_size_thresholds_from(curves_th)
            thresholds["finite-size theory $n_i$"] = (fd.counted_thresholds(curves_th["ns"], curves_th["cos2"], n_fs),
                                                      "--", "C2")
    for lab, (n_i, style, color) in thresholds.items():
        lines.append({"x": alpha_of(ns, d), "y": fd.tail_energy_th(ns, n_i, lam), "style": style, "color": color,
                      "label": r"$\sum_{j > m_n} \lambda_j^2$ ($Z_\gamma^2 R_{th}$), " + lab})
        x, m = fd.staircase_points(n_i, n_lo, n_hi)
        stairs[r"$m_n$, " + lab] = (alpha_of(x, d), m)
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
    return draw_recovery.draw_tail(mse_panel, {"tbl": fd.tail_table(sub, "nmse")}, overlap, Path(out) / "tail", title)


def scaling(runs, out, opts, cache):
    sub = _largest_d1_gammas(runs)
    tbl = fd.scaling_table(sub, y="nmse")
    theory = {}
    if opts.theory and th.available():
        for gamma, g in sub.groupby("gamma", sort=True):
            cfg = config_of(g)
            curves = theory_for(g, opts, cache)
            x = np.asarray(curves["ns"], float) / float(cfg.d) ** cfg.q
            power = th.power_law_mse(x, gamma) if gamma > 0.5 else None
            theory[gamma] = {"finite": (x, curves["nmse"]), "power": None if power is None else (x, power)}
    r = sub.iloc[0]
    title = (f"d={r['d']}, d1={r['d1']} (eps={r['eps']:g}), g={r['g']}, {r['input_model']} input; fit over the window of "
             "sequential recovery (|: 1 to d1 found);\ndashed: finite-size theory, dotted: Theorem 3.2, $(n/d^q)^{-1+1/(2\\gamma)}$")
    return draw.draw_scaling(tbl, theory, Path(out) / "scaling", title)


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

