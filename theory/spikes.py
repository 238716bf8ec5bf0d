"""Outliers of C and the overlaps of their eigenvectors: the spectral-method formulas with label-spike correlation.

Setting (Gaussian-equivalent model, T = identity): C = (1/n) sum_mu w_mu (g_mu g_mu^T - I_D), c = D/n, and the
label w depends on g only through h1 = A g (orthonormal rows u_i). Write a_i(w) = E[h1_i^2 - 1 | w] (the
`LabelLaw` atoms carry it) and, with x real (x = -c m, see `theory.resolvent`),
    z(x)   = c/x + E[w/(1 - x w)] - E[w]                       (the inverse Stieltjes map, outlier location)
    K_i(x) = E[w (h1_i^2 - 1)/(1 - x w)] = E[w a_i(w)/(1 - x w)].
Direction i gives an outlier of C at z(x_i*) where x_i* is the root closest to 0 of
    x K_i(x) = c,                                                                        (S1)
provided x_i* lies between 0 and the bulk's edge point on its side (z'(x_i*) < 0); its eigenvector has
    cos^2 theta_i = (c/x^2 - E[w^2/(1 - x w)^2]) / (c/x^2 + E[w^2 (h1_i^2 - 1)/(1 - x w)^2])   at x = x_i*,   (S2)
and cos^2 = 0 when there is no root (the transition is continuous: at the edge the numerator, -z'(x), is 0).

These are Lu & Li (2017, Thm 1) and Mondelli & Montanari (2018, Lemma 2) in the variable x = 1/lambda: their
psi_delta(lambda) = lambda (1/delta + E[w/(lambda - w)]) is z(1/lambda) + E[w] with delta = n/D = 1/c, their
phi(lambda) = lambda E[w h^2/(lambda - w)]; psi = phi is (S1) and psi'/(psi' - phi') is (S2). Their
a ~ N(0, I) normalisation of (1/n) sum T(y) a a^T is ours; C's "- w_bar I" is the shift by -E[w]; outliers below
the bulk (lambda_i < 0 spikes) are the same statement for w -> -w, which is the x < 0 branch here.

Several directions: the d1 x d1 matrix E[w (h1 h1^T - I)/(1 - x w)] of the multi-index version is diagonal
in our model (h1_i -> -h1_i leaves h2 unchanged), so the conditions decouple into (S1)-(S2) per direction with
the FULL joint law of (w, h1_i): the other directions enter as label noise through the law of w. This
single-spike reduction neglects only the interaction of outliers that (nearly) coincide.
For small c: x* ~ c/theta_i, z ~ theta_i = E[w (h1_i^2 - 1)] ~ sqrt(2) nu_1 lambda_i (the additive spike) and
cos^2 ~ 1 - c E[w^2 h1_i^2]/theta_i^2 (Theorem 3.1's 1 - O(D/(n theta^2))).

Pipeline layer: spikes (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .label_laws import LabelLaw
from .resolvent import dz_dx, edge_points, z_of_x

__all__ = ["spike_strength", "spike_function", "overlap", "outlier", "outliers", "resolvent_diag", "overlap_density"]


def spike_strength(law: LabelLaw) -> np.ndarray:
    """theta_i = E[w (h1_i^2 - 1)] per direction: the additive spike of E[C] (= sqrt(2) nu_1 lambda_i to first order)."""
    return law.a @ (law.w * law.p)


def spike_function(x, c: float, law: LabelLaw, i: int) -> np.ndarray:
    """x K_i(x) - c, whose root closest to 0 is the outlier point (S1)."""
    x = np.asarray(x, np.float64)
    return x * ((law.w * law.a[i] / (1.0 - x[..., None] * law.w)) @ law.p) - c


def overlap(x, c: float, law: LabelLaw, i: int) -> np.ndarray:
    """(S2): squared cosine between the outlier eigenvector at x and u_i, clipped to [0, 1]."""
    x = np.asarray(x, np.float64)
    r2 = 1.0 / (1.0 - x[..., None] * law.w) ** 2
    num = c / x**2 - (law.w**2 * r2) @ law.p
    den = c / x**2 + (law.w**2 * law.a[i] * r2) @ law.p
    return np.clip(num / den, 0.0, 1.0)


def outlier(c: float, law: LabelLaw, i: int, edge_x=None, n_grid: int = 400) -> tuple[float, float]:
    """(location in C's spectrum, cos^2) of direction i's outlier, or (nan, 0.0) when it is inside the bulk.

    Searches both sides (x > 0: above the bulk, x < 0: below) for the first sign change of (S1) between 0 and
    the side's edge point, on a grid geometric in |x|, refined by brentq; if both sides have one, the larger
    |location| wins (it is the one the learner would see first)."""
    xl, xr = edge_points(c, law) if edge_x is None else edge_x
    best = (np.nan, 0.0)
    for xe in (xl, xr):
        xs = xe * np.geomspace(1e-8, 1.0, n_grid)
        f = spike_function(xs, c, law, i)
        hit = np.flatnonzero(f >= 0)
        if hit.size == 0:
            continue
        j = hit[0]
        x0 = xs[j] if j == 0 else brentq(lambda u: float(spike_function(u, c, law, i)), xs[j - 1], xs[j], xtol=1e-15, rtol=1e-12)
        if dz_dx(x0, c, law) >= 0:  # at (or numerically beyond) the edge: no outlier
            continue
        z = float(z_of_x(x0, c, law))
        if np.isnan(best[0]) or abs(z) > abs(best[0]):
            best = (z, float(overlap(x0, c, law, i)))
    return best


def outliers(c: float, law: LabelLaw) -> tuple[np.ndarray, np.ndarray]:
    """`outlier` for every direction: (locations (d1,), NaN where absent; cos^2 (d1,))."""
    ex = edge_points(c, law)
    res = [outlier(c, law, i, ex) for i in range(law.a.shape[0])]
    return np.array([r[0] for r in res]), np.array([r[1] for r in res])


def resolvent_diag(m, c: float, law: LabelLaw) -> np.ndarray:
    """(points, d1): u_i^T (S - z)^-1 u_i = -x/(c - x K_i(x)), x = -c m, at points where m_C = ``m`` (complex, just
    above the real axis): the Schur complement behind (S1)."""
    x = -c * np.asarray(m)
    r = 1.0 / (1.0 - x[:, None] * law.w)
    K = (r * law.w) @ (law.a * law.p).T  # (points, d1)
    return -x[:, None] / (c - x[:, None] * K)


def overlap_density(m, c: float, law: LabelLaw) -> np.ndarray:
    """(cells, d1): the overlap density of the bulk eigenvectors with each u_i at points where m_C = ``m`` (complex,
    just above the real axis), (1/pi) Im u_i^T (S - z)^-1 u_i (`resolvent_diag`; its residue at an outlier is (S2),
    its a_i = 0 value the uniform 1/D per eigenvector)."""
    return resolvent_diag(m, c, law).imag / np.pi
