"""Finite-size predictions for the Hermite input model, both estimators (HERMITE.md section 3).

Per n (c = D/n), the steps of `theory.finite_size` with the Hermite pieces:
1. label law: the radial W-law of `theory.hermite_law` ((W1)-(W4): atoms W, spike moments a_i, the estimator's
   centre and extra variance), truncated to the range n samples cover (`LabelLaw.truncated`);
2. bulk, outliers and overlaps of M + (weighted sample covariance) by (M2)-(M4) of `theory.remainder`, with M
   exact or its semicircle surrogate (chosen by D, recorded in Prediction.meta["model"]), its Kronecker-sum part
   (paper estimator) with the coefficients `kronecker_coef` measured from E[G];
3. the d1-largest-|eigenvalue| selection of `theory.selection.select` ('soft' by default), M's spurious
   directions (isolated eigenvalues of the exact M_perp beyond the bulk, `Bulk.spurious_outliers`) competing
   for the slots as further outliers without overlap, the bulk cells and the overlap density
   of the bulk eigenvectors taken from (M2)/(M3), plus the single-sample outliers of `theory.tails` competing for
   the slots;
4. the MSE from the overlaps (`finite_size.mse_from_overlaps`, whose readout model is the Gaussian-equivalent one).
The first-order-in-link M uses nu_1 lambda_i (exact for g = id).

Pipeline layer: outcome (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

from .selection import direction_sd, edge_scale, outlier_sd, select
from .hermite_law import chaos_atoms, hermite_label_law, kappa, spike_lengthening
from .remainder import Bulk, _isometry, remainder
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
            "semicircle+spurious": "hermite radial W-law + semicircle M + its spurious eigenvalues",
            "none": "hermite radial W-law (M = 0)"}[kind]


def hermite_setup(config, lam, A, estimator: str, n_mc: int, mc_seed: int, kind: str = "auto"):
    """(law, remainder) for a q = 2 Hermite configuration, signed ``lam`` and directions ``A`` (d1, D)."""
    law = hermite_label_law(config, lam, estimator, n_mc=n_mc, seed=mc_seed)
    kron = kronecker_coef(config, lam, A, n_mc, mc_seed) if estimator == "paper" and kind != "none" else None
    rem = remainder(A, first_order_coef(config, lam, seed=mc_seed), config.d, 1.0,
                    radial_rho(config.d, estimator, seed=mc_seed), estimator, kind, kron)
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


def kronecker_coef(config, lam, A, n_mc: int = 200_000, seed: int = 0) -> np.ndarray:
    """kappa_i of the Kronecker-sum part of E[C] (paper estimator, HERMITE.md section 2): E[G] = E[y (x x^T - I)]
    ~ sum_i kappa_i A_i^2 + beta I, fitted by least squares on the matrices A_i^2 and I from the Monte Carlo
    projections E[y (|A_i x|^2 - tr A_i^2)] and E[y (|x|^2 - d)] (x ~ N(0, I_d), h_i = (x^T A_i x - tr A_i)/sqrt 2,
    y = g(h2) + sigma xi, ``n_mc`` samples from default_rng(seed + 11)), with y's best linear part s h2 as a
    control variate (its kappa_i = 2 sqrt(2) s lambda_i is exact, E[G] = 2 sqrt(2) sum_i lambda_i A_i^2 for g = id). To first order in the link kappa_i =
    2 theta_i (`first_order_coef`, (H1)), exact for g = id; for tanh at d = 40 the fit is 0.82-0.96 of that,
    which moves the Kronecker-sum operator's extreme eigenvalues (the spurious directions) by ~15%."""
    from hierarchical_model import make_link

    d = config.d
    lam = np.asarray(lam, np.float64)
    Am = np.einsum("kD,Dij->kij", np.asarray(A, np.float64), _isometry(d))
    Am /= np.linalg.norm(Am, axis=(1, 2), keepdims=True)
    A2 = np.einsum("kij,kjl->kil", Am, Am)
    mats = np.concatenate([A2, np.eye(d)[None]])  # (d1 + 1, d, d)
    rng = np.random.default_rng(seed + 11)
    link = make_link(config.g)
    proj, proj_lin, yl, ll = np.zeros(mats.shape[0]), np.zeros(mats.shape[0]), 0.0, 0.0
    tr, tr_m = np.trace(Am, axis1=1, axis2=2), np.trace(mats, axis1=1, axis2=2)
    done, B = 0, 20_000
    while done < n_mc:
        b = min(B, n_mc - done)
        X = rng.standard_normal((b, d))
        AX = np.einsum("kij,bj->bki", Am, X)  # (b, d1, d)
        h = (np.einsum("bki,bi->bk", AX, X) - tr) / np.sqrt(2.0)
        h2 = ((h * h - 1.0) @ lam) / np.sqrt(2.0)
        y = np.asarray(link(h2), np.float64)
        if config.sigma > 0:
            y = y + config.sigma * rng.standard_normal(b)
        q = np.concatenate([np.sum(AX * AX, axis=2), np.sum(X * X, axis=1)[:, None]], axis=1) - tr_m
        proj += y @ q
        proj_lin += h2 @ q
        yl += float(y @ h2)
        ll += float(h2 @ h2)
        done += b
    slope = yl / ll  # control variate: y = slope h2 has kappa = 2 sqrt(2) slope lambda exactly (g = id, (H1))
    gram = np.einsum("kij,lij->kl", mats, mats)
    return np.linalg.solve(gram, (proj - slope * proj_lin) / n_mc)[:-1] + 2.0 * np.sqrt(2.0) * slope * lam


def bulk_cells(bulk: Bulk, edges, span: float = 0.3, n_grid: int = 60) -> dict:
    """`resolvent.edge_cells` for the bulk (M2): midpoints, widths, masses and omega at the midpoints."""
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
    # M's spurious directions (outside span(A), no overlap) compete for the slots like further outliers
    spur = bulk.spurious_outliers(om_edges)
    d1, k = z.size, spur.size
    zz, cc = np.concatenate([z, spur]), np.concatenate([c2, np.zeros(k)])
    soft = {} if selection == "hard" else {
        "sd": np.concatenate([outlier_sd(lw, c2, n), np.full(k, direction_sd(lw, n))]), "tw": edge_scale(cells, D, n_cells),
        "tails": None if loc is None else (loc, n / law.n_mc)}

    def dens():
        dn = bulk.overlap_density(cells["om"])
        return np.concatenate([dn, np.zeros((dn.shape[0], k))], axis=1)

    sel, cos2 = select(zz, cc, D, cells, dens, d1, extra, rule=selection, **soft)
    out = {"z": z, "cos2": cos2[:d1], "selected": sel[:d1], "edges": edges, "spurious": spur}
    if extra is not None:
        out["tail_outliers"] = float(extra(np.array([0.0]))[0])
    return out
