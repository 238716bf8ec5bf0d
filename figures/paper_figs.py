"""The paper's figures 2-5: test error and first-layer overlap against alpha (fig2 with spectra of C, fig5 for
g = tanh), across gamma (fig3), and per teacher direction with the predicted thresholds and staircases (fig4).
Each function takes (runs, out, opts, cache) and returns the written paths (`figures.make`).
"""

from __future__ import annotations

from pathlib import Path

from . import data as fd
from . import draw, draw_recovery
from . import theory_curves as th
from .panels import alpha_of, figure_title, mse_qh_panels, spectrum_panel, theory_for, with_theory
from .rows import MAIN, PAPER, by_estimator, by_input_model, config_of, ge_rows, most_gammas, one_size

__all__ = ["fig2", "fig3", "fig4", "fig5"]


def fig2(runs, out, opts, cache):
    sub = one_size(runs, opts, **MAIN, estimator=None)
    ge = ge_rows(runs, sub)
    parts = [rows for _, rows in by_estimator(sub)] + ([ge] if ge is not None else [])
    paths = draw.draw_curves_vs_alpha(mse_qh_panels(with_theory(parts, opts, cache)), Path(out) / "fig2",
                                      figure_title(parts[0]).replace(", paper's C", ""))
    paper = parts[0]
    alphas = fd.spectrum_alphas(fd.mean_band(paper, "alpha", "qh"))
    spectra = []
    for part in (paper, ge):
        if part is None:
            continue
        for _, row in fd.nearest_rows(part, alphas).iterrows():
            s = spectrum_panel(row, part, opts, cache)
            if s is not None:
                spectra.append(s)
    if spectra:
        r = sub.iloc[0]
        paths += draw.draw_spectra(spectra, Path(out) / "fig2_spectra",
                                   f"spectrum of C (paper's estimator): q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, "
                                   f"g={r['g']}, d={r['d']} (D={r['D']}, d1={r['d1']}), seed {int(sub['seed'].min())}; "
                                   "dashed: predicted bulk density of the input model's theory, dotted: its edges")
    return paths


def fig3(runs, out, opts, cache):
    sub = most_gammas(by_input_model(runs, lambda t: most_gammas(t)["gamma"].nunique(), g="id", **PAPER)[0][1])
    mse_curves, qh_curves = [], []
    for gamma, g in sub.groupby("gamma", sort=True):
        curves = theory_for(g, opts, cache)
        d = int(g["d"].iloc[0])
        tx = None if curves is None else alpha_of(curves["ns"], d)
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
    models = by_input_model(runs, lambda t: len(by_estimator(t[t["d"] == fd.main_d(t)])[0][1]), **MAIN, estimator=None)
    paths = []
    for k, (im, sub) in enumerate(models):
        sub = sub[sub["d"] == fd.main_d(sub)].copy()
        for est, rows in by_estimator(sub):
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
        thresholds, stairs = _fig4_theory(theory_for(sub, opts, cache), th.naive_thresholds(config_of(sub)), d,
                                          float(sub["n"].min()), float(sub["n"].max()))
    note = "" if principal_tbl is not None else " (principal angles: not in these results)"
    return draw_recovery.draw_directions(cos2_tbl, thresholds, after_tbl, stair_tbl, stairs, base, figure_title(sub, note),
                                principal_tbl=principal_tbl)


def _fig4_theory(curves: dict, naive, d: int, n_lo: float, n_hi: float) -> tuple[dict, dict]:
    """fig4's predicted thresholds (left panel: alpha_i per direction) and staircases (right panel), each
    staircase #{i: n_i <= n} built from the very thresholds drawn on the left, so that it steps exactly there.
    The finite-size n_i are the crossings of the predicted cos^2 with 1/2 (`finite_size_thresholds_from`); a
    direction recovered before the grid is not drawn but counts from its start (`figures.data.counted_thresholds`)."""
    n_fs = th.finite_size_thresholds_from(curves)
    thresholds = {"finite-size theory": (alpha_of(n_fs, d), "--"), "paper's $n_i$ (naive)": (alpha_of(naive, d), ":")}
    counted = fd.counted_thresholds(curves["ns"], curves["cos2"], n_fs)
    stairs = {"finite-size theory": fd.staircase_points(counted, n_lo, n_hi),
              r"paper's $m_n$ = #{i: $n_i \leq n$}": fd.staircase_points(naive, n_lo, n_hi)}
    return thresholds, stairs


def fig5(runs, out, opts, cache):
    sub = one_size(runs, opts, gamma=0.4, g="tanh", estimator=None)
    ge = ge_rows(runs, sub)
    parts = [rows for _, rows in by_estimator(sub)] + ([ge] if ge is not None else [])
    return draw.draw_curves_vs_alpha(mse_qh_panels(with_theory(parts, opts, cache)), Path(out) / "fig5",
                                     figure_title(parts[0]).replace(", paper's C", ""))

