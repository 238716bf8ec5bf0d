"""Finite-size predictions for the Hermite input model, both estimators (HERMITE.md section 3).

Per n (c = D/n), the steps of `theory.finite_size` with the Hermite pieces:
1. label law: the radial W-law of `theory.hermite_law` ((W1)-(W4): atoms W, spike moments a_i, the estimator's
   centre and extra variance), truncated to the range n samples cover (`LabelLaw.truncated`);
2. bulk, outliers and overlaps of M + (weighted sample covariance) by (M2)-(M4) of `theory.remainder`, with M
   exact or its semicircle surrogate (chosen by D, recorded in Prediction.meta["model"]);
3. the d1-largest-|eigenvalue| selection of `theory.selection.select` ('soft' by default), the bulk cells and the overlap density
   of the bulk eigenvectors taken from (M2)/(M3), plus the single-sample outliers of `theory.tails` competing for
   the slots;
4. the MSE from the overlaps (`finite_size.mse_from_overlaps`, whose readout model is the Gaussian-equivalent one).
The first-order-in-link M uses nu_1 lambda_i (exact for g = id).
"""

from __future__ import annotations

import numpy as np

from .selection import edge_scale, outlier_sd, select
from .hermite_law import chaos_atoms, hermite_label_law, kappa, spike_lengthening
from .remainder import Bulk, remainder
from .tails import tail_count, tail_locations

__all__ = ["radial_rho", "hermite_setup", "bulk_cells", "predict_n_hermite", "model_name"]


def radial_rho(d: int, estimator: str, n_mc: int = 200_000, seed: int = 0) -> float:
    """rho = E[(W/y) kappa s^2]: the radial lengthening of a spike to first order in the link
    (paper: kappa^2 E[s^4] exactly; chaos: Monte Carlo of f r1 kappa s^2, `hermite_law.chaos_atoms`)."""
    if estimator == "paper":
        return spike_lengthening(d)
    s = np.random.default_rng(seed).chisquare(d, n_mc) / d
    return float(np.mean(chaos_atoms(s, d)[0] * kappa(d) * s * s))


def model_name(kind: str) -> str:
    return {"exact": "hermite radial W-law + exact M", "semicircle": "hermite radial W-law + semicircle M",
            "none": "hermite radial W-law (M = 0)"}[kind]


def hermite_setup(config, lam, A, estimator: str, n_mc: int, mc_seed: int, kind: str = "auto"):
    """(law, remainder) for a q = 2 Hermite configuration, signed ``lam`` and directions ``A`` (d1, D)."""
    law = hermite_label_law(config, lam, estimator, n_mc=n_mc, seed=mc_seed)
    rem = remainder(A, first_order_coef(config, lam, seed=mc_seed), config.d, 1.0,
                    radial_rho(config.d, estimator, seed=mc_seed), estimator, kind)
    return law, rem


def first_order_coef(config, lam, n_mc: int = 200_000, seed: int = 0) -> np.ndarray:
    """The effective nu_1 lambda_i of (H1) for a nonlinear link: theta_i / sqrt 2 with theta_i = E[y (h_i^2 - 1)],
    h ~ N(0, I_d1) (Stein: sqrt 2 nu_1 lambda_i + O(lambda^2); exact for g = id). Measured at d = 40, tanh: the
    Kronecker-sum part of E[C] (E[G], Monte Carlo in x) is 0.77 of nu_1 times (H1); theta_i/(sqrt 2 nu_1 lambda_i)
    is 0.77-0.91 there."""
    from hierarchical_model import make_link

    lam = np.asarray(lam, np.float64)
    z = np.random.default_rng(seed + 7).standard_normal((n_mc, lam.size))
    y = np.asarray(make_link(config.g)(((z * z - 1.0) @ lam) / np.sqrt(2.0)), np.float64)
    return (y @ (z * z - 1.0)) / n_mc / np.sqrt(2.0)


def bulk_cells(bulk: Bulk, edges, span: float = 0.3, n_grid: int = 60) -> dict:
    """`finite_size.edge_cells` for the bulk (M2): midpoints, widths, masses and omega at the midpoints."""
    left, right = edges
    u = 1 - np.cos(np.linspace(0, np.pi / 2, n_grid + 1))
    width = span * (right - left)
    grids = [right - width * u, left + width * u]
    mids = np.concatenate([0.5 * (g[1:] + g[:-1]) for g in grids])
    dl = np.concatenate([np.abs(np.diff(g)) for g in grids])
    m, om = bulk.solve(mids + 1e-8j)
    return {"mid": mids, "dl": dl, "mass": m.imag / np.pi * dl, "m": m, "om": om}


def predict_n_hermite(n: int, D: int, law, rem, n_cells: int = 60, tails: bool = True, selection: str = "soft") -> dict:
    """One n: bulk edges, outliers, selection ('soft' or 'hard', `theory.selection`) and cos^2 of the Hermite
    model (module docstring, steps 1-3)."""
    c = D / n
    lw = law.truncated(n)
    bulk = Bulk(c, lw, rem)
    om_edges = bulk.edge_omegas()
    edges = bulk.edges(om_edges)
    z, c2 = bulk.outliers(om_edges)
    cells = bulk_cells(bulk, edges, n_grid=n_cells)
    extra, loc = None, None
    if tails and law.tail is not None:
        loc = tail_locations(bulk, om_edges)
        extra = lambda t: tail_count(t, n, bulk, om_edges, loc)  # noqa: E731
    soft = {} if selection == "hard" else {
        "sd": outlier_sd(lw, c2, n), "tw": edge_scale(cells, D, n_cells),
        "tails": None if loc is None else (loc, n / law.n_mc)}
    sel, cos2 = select(z, c2, D, cells, lambda: bulk.overlap_density(cells["om"]), z.size, extra, rule=selection,
                       **soft)
    out = {"z": z, "cos2": cos2, "selected": sel, "edges": edges}
    if extra is not None:
        out["tail_outliers"] = float(extra(np.array([0.0]))[0])
    return out
