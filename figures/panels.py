"""What the figures share between rows and drawing: the theory overlay of seed-averaged rows (the mean of the
per-seed finite-size predictions, `figures.theory_curves`, cached under RESULTS/theory_cache), the error and
overlap panels against alpha, a spectrum panel, and the labels and titles that name a configuration.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import data as fd
from . import theory_curves as th
from .results import load_row_spectrum
from .rows import config_of, estimator_of, seeds_of

__all__ = ["ESTIMATOR_LABELS", "theory_for", "with_theory", "theory_label", "alpha_of", "data_label", "figure_title",
           "mse_qh_panels", "spectrum_panel"]


ESTIMATOR_LABELS = {"paper": "paper's C", "chaos": "chaos-projected C"}


def theory_for(sub, opts, cache):
    """Finite-size curves on a geometric grid over the rows' n range, or None: the mean of the per-seed
    predictions over the teacher seeds present in ``sub`` (each with that seed's signed lambda), for the rows'
    input model and estimator of C (issue 11 item 3: never one seed's prediction for seed-averaged data)."""
    if not (opts.theory and th.available()):
        return None
    cfg = config_of(sub)
    ns = th.theory_grid(sub["n"].min(), sub["n"].max(), opts.theory_points)
    return th.finite_size_curves(cfg, ns, n_mc=opts.n_mc, cache_dir=cache, seeds=seeds_of(sub), estimator=estimator_of(sub))


def with_theory(parts, opts, cache):
    return [(rows, theory_for(rows, opts, cache)) for rows in parts]


def theory_label(sub) -> str:
    im = sub["input_model"].iloc[0]
    if im == "gaussian_equivalent":
        return "finite-size theory (Gaussian-equivalent)"
    return f"finite-size theory (Hermite, {ESTIMATOR_LABELS.get(estimator_of(sub), estimator_of(sub))})"


def alpha_of(ns, d):
    return np.log(np.asarray(ns, float)) / math.log(d)


def data_label(sub) -> str:
    im = sub["input_model"].iloc[0]
    return f"{im} input" + (f", {ESTIMATOR_LABELS.get(estimator_of(sub), estimator_of(sub))}" if im == "hermite" else "")


def figure_title(sub, extra=""):
    r = sub.iloc[0]
    seeds = sub["seed"].nunique()
    est = f", {ESTIMATOR_LABELS[estimator_of(sub)]}" if r["input_model"] == "hermite" and "estimator" in sub else ""
    return (f"q={r['q']}, eps={r['eps']:g}, gamma={r['gamma']:g}, g={r['g']}, d={r['d']} (D={r['D']}, d1={r['d1']}), "
            f"{r['input_model']} input{est}; mean $\\pm$ sem over {seeds} seed{'s' if seeds > 1 else ''}{extra}")


def mse_qh_panels(groups: list[tuple[pd.DataFrame, dict | None]]):
    """NMSE and q_h against alpha, one curve per (rows, theory curves or None) of ``groups`` with its own
    prediction (dashed, same colour). NMSE = MSE / Var y (the Hermite input's labels have a larger variance than
    the Gaussian model's at small d)."""
    panels = []
    for col, ylabel, log, title in (("nmse", "test NMSE = MSE / Var(y)", True, "test error"),
                                    ("qh", r"$q_h$ (first-layer overlap)", False, "first-layer overlap")):
        c = []
        for rows, curves in groups:
            tx = None if curves is None else alpha_of(curves["ns"], int(rows["d"].iloc[0]))
            c.append({"tbl": fd.mean_band(rows, "alpha", col, log=log), "label": data_label(rows),
                      "marker": "s" if estimator_of(rows) == "chaos" else "o",
                      "theory_x": tx, "theory_y": None if curves is None else curves[col],
                      "theory_label": None if curves is None else theory_label(rows)})
        panels.append({"ylabel": ylabel, "logy": log, "curves": c, "title": title,
                       "legend_loc": "lower left" if log else "upper left"})
    return panels


def spectrum_panel(row, sub, opts, cache, density: bool = True):
    eigs = load_row_spectrum(row)
    if eigs is None:
        return None
    s = {"alpha": float(row["alpha"]), "n": int(row["n"]), "eigs": eigs, "input_model": row["input_model"],
         "outliers": fd.spectrum_outliers(row["top_eigs"], row["eig_tags"], row["eig_overlaps"])}
    if density and opts.theory and th.available():
        cfg = config_of(sub)
        lo, hi = np.percentile(eigs, [0.5, 99.5])
        x = np.linspace(lo - 0.2 * (hi - lo), hi + 0.2 * (hi - lo), 400)
        # the spectrum's own teacher (its signs, and for the Hermite remainder its directions) and estimator
        dens = th.bulk_density(cfg, int(row["n"]), x, n_mc=opts.n_mc, cache_dir=cache, seed=int(row["seed"]),
                               estimator=estimator_of(sub))
        s.update(theory_x=dens["x"], theory_rho=dens["rho"], edges=list(dens["edges"]))
    return s

