"""Inverse problem (issue 3, item 4): estimate gamma and the |lambda_i| from the outlier eigenvalues of one C.

1. Outliers: the observed eigenvalues beyond the predicted bulk edges [left, right] of `theory.resolvent`.
2. Inversion of the outlier map. An outlier at e lies at e = z(x) with x between 0 and the edge point of its
   side, where z is monotone, so x is unique (brentq). (S1) of `theory.spikes` then says x K_i(x) = c with
   K_i(x) = E[w (h1_i^2 - 1)/(1 - x w)]. The law of (w, h1_i) depends on the unknown lambda; K_i is linear in
   lambda_i to first order (Stein: E[f(w)(h1_i^2 - 1)] = sqrt(2) lambda_i E[(f o g)'(h2)] + O(lambda_i^2)), so
   with the law built from a current guess lambda^(k) = lambda(gamma^(k)) (signs of the outliers, magnitudes
   Z_gamma i^-gamma) the update is
       |lambda_i|^(k+1) = |lambda_i^(k)| * c / (x_i K_i^(k)(x_i)),
   iterated with the gamma fit below until gamma moves by < 1e-3 (a handful of rounds). This removes the
   finite-n bias of reading |lambda_i| off the eigenvalue as e / (sqrt 2 nu_1) (the outliers are pushed out
   by the bulk: e > theta_i, more so near the edge).
3. Power-law fit: the m outliers, sorted by |lambda_hat| (stronger directions first, as Theorem 3.1 orders
   them), are assigned indices i = 1..m, and gamma minimises sum_i (log |lambda_hat_i| - log Z_gamma + gamma log i)^2
   with Z_gamma = (sum_{j <= d1} j^(-2 gamma))^(-1/2) (the normalisation ties the level to gamma, so one
   parameter and m >= 2 points suffice). Bias: step 2 removes the outlier-location bias; what remains is the
   order-statistics bias of sorting noisy |lambda_hat| whose neighbours differ by about their noise (it
   steepens the fit: +0.01 to +0.02 in gamma at d1 = 8, gamma = 0.6, n = 40000-100000, D = 465; none
   measurable at d1 = 6, gamma = 0.8).
4. Uncertainty: gamma_se = sqrt(se_fit^2 + se_eig^2): se_fit from the fit's residuals (Gauss-Newton, m - 1
   degrees of freedom; 0 when m = 2), se_eig the propagation (finite differences) of each outlier's sampling
   noise sd(e_i) ~ sqrt(2 E[w^2] / n) (the variance of the Rayleigh quotient (1/n) sum_mu w_mu (<u_i, g_mu>^2 - 1)).
Directions not seen as outliers get alternating signs in the label law (their signs are not observable).
The label law is that of config.input_model: on Hermite data (q = 2) the radial W-law of `theory.hermite_law`
(atoms W = kappa s^2 y, centre E[y], or the chaos estimator's), whose spikes are longer by kappa^2 E[s^4] =
(d+4)(d+6)/(d(d+2)) (1.42 at d = 20): read with the Gaussian-equivalent law, |lambda_hat| would be biased up by
about that factor. The remainder M of `theory.remainder` (teacher-dependent, a few % of a spike) is not used.

Pipeline layer: consumer (`theory.PIPELINE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from hierarchical_model import make_link, spike_weights
from hierarchical_model._validation import check_finite_array, check_int

from .asymptotics import z_gamma
from .hermite_law import check_estimator, hermite_label_law
from .label_laws import label_law
from .resolvent import edge_points, z_of_x

__all__ = ["SpectrumEstimate", "estimate_spectrum", "estimate_from_result", "fit_gamma", "invert_outlier"]


@dataclass
class SpectrumEstimate:
    """gamma +- gamma_se; lam_abs[k] the estimated |lambda| of index k + 1; outliers the eigenvalues used."""

    gamma: float
    gamma_se: float
    lam_abs: np.ndarray
    outliers: np.ndarray
    bulk_edges: tuple
    iterations: int

    def to_dict(self) -> dict:
        return {"gamma": self.gamma, "gamma_se": self.gamma_se, "lam_abs": self.lam_abs.tolist(),
                "outliers": self.outliers.tolist(), "bulk_edges": list(self.bulk_edges), "iterations": self.iterations}


def _log_profile(gamma: float, idx: np.ndarray, d1: int) -> np.ndarray:
    """log(Z_gamma i^-gamma) at indices idx (1-based)."""
    return math.log(z_gamma(d1, gamma)) - gamma * np.log(idx)


def fit_gamma(lam_abs, d1: int) -> tuple[float, float]:
    """Least-squares fit of log|lambda_i| = log Z_gamma - gamma log i (i = 1..m, sorted decreasing): (gamma, se_fit)."""
    y = np.log(np.sort(np.asarray(lam_abs, np.float64))[::-1])
    idx = np.arange(1, y.size + 1, dtype=np.float64)

    def rss(g):
        return float(np.sum((y - _log_profile(g, idx, d1)) ** 2))

    g = minimize_scalar(rss, bounds=(0.0, 5.0), method="bounded", options={"xatol": 1e-8}).x
    if y.size <= 2:
        return float(g), 0.0
    h = 1e-5
    J = (_log_profile(g + h, idx, d1) - _log_profile(g - h, idx, d1)) / (2 * h)
    s2 = rss(g) / (y.size - 1)
    return float(g), float(math.sqrt(s2 / np.sum(J**2)))


def invert_outlier(e: float, c: float, law, edge_x) -> float:
    """x in (0, x_right) or (x_left, 0) with z(x) = e (z is monotone there); NaN if e is inside the bulk."""
    xe = edge_x[1] if e > 0 else edge_x[0]
    ze = float(z_of_x(xe, c, law))
    if (e > 0 and e <= ze) or (e < 0 and e >= ze):
        return math.nan
    f = lambda u: float(z_of_x(u, c, law)) - e  # noqa: E731
    lo = xe * 1e-12
    while np.sign(f(lo)) == np.sign(f(xe)):
        lo *= 1e-3
        if abs(lo) < 1e-300:
            return math.nan
    return brentq(f, lo, xe, xtol=1e-16, rtol=1e-13)


def _law_for(config, lam, n_mc, seed, estimator):
    """The label law of the input model: `label_law` (Gaussian-equivalent) or `hermite_label_law`."""
    if config.input_model == "hermite":
        return hermite_label_law(config, lam, estimator, n_mc=n_mc, seed=seed)
    check_estimator(config, estimator)
    return label_law(config, lam, n_mc=n_mc, seed=seed)


def _lam_hat(eigs, config, n, gamma, n_mc, seed, law=None, estimator="paper"):
    """One round of step 2 at the current gamma: (|lambda_hat| per outlier, outliers, edges), outliers ordered by |e|."""
    d1, D = config.latent, config.D
    c = D / n
    order = np.argsort(-np.abs(eigs))
    eigs = eigs[order]
    mag = spike_weights(d1, gamma)

    nu_sign = np.sign(make_link(config.g).nu1)
    signs = np.where(np.arange(d1) % 2 == 0, 1.0, -1.0)
    m = min(eigs.size, d1)
    signs[:m] = np.sign(eigs[:m]) * nu_sign
    if law is None:
        law = _law_for(config, mag * signs, n_mc, seed, estimator).truncated(n)
    ex = edge_points(c, law)
    edges = (float(z_of_x(ex[0], c, law)), float(z_of_x(ex[1], c, law)))
    out = []
    for k in range(m):
        x = invert_outlier(float(eigs[k]), c, law, ex)
        if math.isnan(x):
            continue
        K = float((law.w * law.a[k] / (1.0 - x * law.w)) @ law.p)
        out.append((abs(mag[k] * c / (x * K)) if K * x > 0 else math.nan, eigs[k]))
    lam_abs = np.array([o[0] for o in out])
    ok = np.isfinite(lam_abs)
    return lam_abs[ok], np.array([o[1] for o in out])[ok], edges, law


def estimate_spectrum(eigenvalues, config, n: int, n_mc: int = 100_000, seed: int = 0, max_iter: int = 8,
                      estimator: str = "paper") -> SpectrumEstimate:
    """gamma and |lambda_i| from the top eigenvalues of C at sample size n (module docstring, steps 1-4).

    ``config`` supplies d, q, d1, the link, sigma and the input model (whose label law is used, with
    ``estimator`` for the Hermite model); its gamma is NOT used (the iteration starts at 0.5).
    Needs at least two outliers beyond the predicted bulk; refuses otherwise."""
    eigs = check_finite_array("eigenvalues", eigenvalues, 1, "(k,)")
    n = check_int("n", n, 1)
    gamma, it = 0.5, 0
    for it in range(1, max_iter + 1):
        lam_abs, outl, edges, law = _lam_hat(eigs, config, n, gamma, n_mc, seed, estimator=estimator)
        if lam_abs.size < 2:
            raise ValueError(f"eigenvalues={np.round(eigs, 4).tolist()} hold {lam_abs.size} outlier(s) beyond the predicted "
                             f"bulk {np.round(edges, 4).tolist()} at n={n}: need at least 2 to fit gamma")
        new, se_fit = fit_gamma(lam_abs, config.latent)
        done = abs(new - gamma) < 1e-3
        gamma = new
        if done:
            break
    # propagate each outlier's sampling noise through the inversion and the fit (law held fixed)
    sd_e = math.sqrt(2.0 * float((law.w**2) @ law.p) / n)
    grads = []
    for k in range(outl.size):
        bumped = eigs.copy()
        j = int(np.flatnonzero(eigs == outl[k])[0])
        bumped[j] = eigs[j] + sd_e
        la, _, _, _ = _lam_hat(bumped, config, n, gamma, n_mc, seed, law, estimator)
        grads.append(fit_gamma(la, config.latent)[0] - gamma if la.size >= 2 else 0.0)
    se_eig = float(np.sqrt(np.sum(np.square(grads))))
    order = np.argsort(-lam_abs)
    return SpectrumEstimate(gamma=float(gamma), gamma_se=float(math.hypot(se_fit, se_eig)), lam_abs=lam_abs[order],
                            outliers=outl[order], bulk_edges=edges, iterations=it)


def estimate_from_result(res, n_mc: int = 100_000, seed: int = 0) -> SpectrumEstimate:
    """`estimate_spectrum` on a RunResult's top_eigs (its configuration and estimator)."""
    from hierarchical_model import TeacherConfig

    cfg = TeacherConfig.from_row(res)
    return estimate_spectrum(np.asarray(res.top_eigs), cfg, res.n, n_mc=n_mc, seed=seed,
                             estimator=getattr(res, "estimator", "paper"))
