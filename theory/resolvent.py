"""The bulk of C: a label-weighted Marchenko-Pastur law (MODEL.md section 4, "the resolvent route").

Noise model. In the Gaussian-equivalent input model the noise part of
    C = (1/n) sum_mu w_mu (g_mu g_mu^T - I_D),   w_mu = T(y_mu),  g_mu ~ N(0, I_D),
is S - w_bar I with S = (1/n) sum_mu w_mu g_mu g_mu^T and w_bar = (1/n) sum_mu w_mu -> E[w]. As D, n -> infinity
with c = D/n fixed, the spectral law of S has the Stieltjes transform m(z) = int rho(x) dx / (x - z), the
unique solution with Im m > 0 for Im z > 0 of Silverstein's equation
    m(z) = 1 / ( -z + E_w[ w / (1 + c w m(z)) ] ).                                        (R1)
(All labels w = 1 gives Marchenko-Pastur with ratio c, edges (1 +- sqrt c)^2; w = +-1 with small c gives the
semicircle of radius 2 sqrt(c); both are tests.) The law of C is that of S shifted by -E[w]: m_C(z) = m_S(z + E[w]) (by -E[y] in the Hermite model, where the
atoms are w = kappa s^2 y: `LabelLaw.shift`, `theory.hermite_law`).
The density is rho(x) = Im m(x + i0) / pi.

Edges. With x = -c m real, (R1) inverts to the explicit map
    z(x) = c / x + E_w[ w / (1 - x w) ],                                                 (R2)
and a real z lies outside the support iff it is z(x) at a point where z'(x) < 0 (Silverstein & Choi 1995).
The right edge of S is z at the first zero of z'(x) = -c/x^2 + E[w^2/(1 - x w)^2] met going from x = 0+ towards
1/max(w); the left edge the first one going from 0- towards 1/min(w). In the spectral-method papers' variable
lambda = 1/x, z(1/lambda) = psi_delta(lambda) = lambda (1/delta + E[w/(lambda - w)]) with delta = n/D = 1/c
(Lu & Li 2017; Mondelli & Montanari 2018), and the edges are the extrema of psi.

The law of w is a `theory.label_laws.LabelLaw`: a weighted set of atoms (quadrature nodes, or Monte Carlo
samples compressed by `label_law`). Everything is vectorised numpy over z and over the atoms.

Pipeline layer: bulk (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

from hierarchical_model._validation import check_float

from .label_laws import LabelLaw, atom_law

__all__ = ["stieltjes", "density", "z_of_x", "dz_dx", "edge_points", "bulk_edges", "bulk_mass_beyond", "edge_grid", "edge_cells"]


# ---- Silverstein's equation ------------------------------------------------------------------------
def _law(law_or_w):
    return law_or_w if isinstance(law_or_w, LabelLaw) else atom_law(law_or_w)


def stieltjes(z, c: float, law, eta_start: float | None = None) -> np.ndarray:
    """Stieltjes transform m_C(z) = (1/D) tr (C - z)^-1 of the limiting noise law of C, for complex z (Im z > 0).

    Solves (R1) at z + E[w] by continuation in Im z: damped fixed-point iterations at Im z = eta_start (a
    contraction there), then Newton steps on F(m) = 1/m + z - E[w/(1 + c w m)] while Im z decreases
    geometrically (factor 8 per step) to its target; a Newton step leaving the upper half-plane is replaced by a fixed-point step."""
    law = _law(law)
    c = check_float("c", c, 0.0, lo_open=True)
    z = np.atleast_1d(np.asarray(z, np.complex128)) + law.centre
    w, p = law.w, law.p
    scale = 1.0 + np.max(np.abs(w)) * (1.0 + c)
    eta0 = scale if eta_start is None else eta_start
    eta_t = np.maximum(z.imag, 1e-14)
    etas = [np.maximum(eta_t, eta0 * 0.125**k) for k in range(30)]
    zz = z.real + 1j * etas[0]
    m = -1.0 / zz
    for _ in range(60):
        m_new = 0.5 * m + 0.5 / (-zz + _ew(w, p, c, m))
        done = np.max(np.abs(m_new - m)) < 1e-6  # a start for Newton, which refines it
        m = m_new
        if done:
            break
    for eta in etas[1:]:
        zz = z.real + 1j * eta
        for _ in range(5):
            t = 1.0 + c * w * m[..., None]
            F = 1.0 / m + zz - (w / t) @ p
            dF = -1.0 / m**2 + (c * w * w / t**2) @ p
            m_new = m - F / dF
            bad = ~np.isfinite(m_new) | (m_new.imag <= 0)
            if bad.any():
                m_new[bad] = 1.0 / (-zz[bad] + _ew(w, p, c, m[bad]))
            step = np.max(np.abs(m_new - m))
            m = m_new
            if step < 1e-12:
                break
        if np.all(eta == eta_t):
            break
    return m


def _ew(w, p, c, m):
    return (w / (1.0 + c * w * np.asarray(m)[..., None])) @ p


def density(x, c: float, law, eta: float = 1e-7) -> np.ndarray:
    """Limiting eigenvalue density of C at real points x: rho(x) = Im m_C(x + i eta) / pi."""
    x = np.asarray(x, np.float64)
    return stieltjes(x + 1j * eta, c, law).imag / np.pi


# ---- edges from the inverse map ----------------------------------------------------------------------
def z_of_x(x, c: float, law) -> np.ndarray:
    """(R2) for C: z_C(x) = c/x + E[w/(1 - x w)] - E[w], the inverse of x = -c m_C on the real axis
    (- ``law.shift`` in place of - E[w] where the law has one)."""
    law = _law(law)
    x = np.asarray(x, np.float64)
    return c / x + (law.w / (1.0 - x[..., None] * law.w)) @ law.p - law.centre


def dz_dx(x, c: float, law) -> np.ndarray:
    """z'(x) = -c/x^2 + E[w^2/(1 - x w)^2]; z'(x) < 0 exactly outside the bulk."""
    law = _law(law)
    x = np.asarray(x, np.float64)
    return -c / x**2 + (law.w**2 / (1.0 - x[..., None] * law.w) ** 2) @ law.p


def edge_points(c: float, law, n_grid: int = 600) -> tuple[float, float]:
    """(x_left, x_right): the first zeros of z'(x) met going from 0- and from 0+ (see module docstring).

    Located on a grid geometric in the distance to x = 0 and to the pole 1/max(w) (1/min(w)), then refined by
    brentq. Where z' stays negative up to the pole (no critical point resolved), the pole itself is returned."""
    from scipy.optimize import brentq

    law = _law(law)
    out = []
    for side in (-1.0, 1.0):
        wext = law.w.max() if side > 0 else law.w.min()
        pole = 1.0 / wext if side * wext > 0 else side * 1e6
        # geometric approach to both 0 and the pole: fraction t in (0, 1) of the way from 0 to the pole
        t = np.concatenate([np.geomspace(1e-9, 0.5, n_grid // 2), 1.0 - np.geomspace(0.5, 1e-12, n_grid // 2)[1:]])
        xs = t * pole
        dz = dz_dx(xs, c, law)
        pos = np.flatnonzero(dz >= 0)
        if pos.size == 0:
            out.append(float(xs[-1]))
            continue
        j = pos[0]
        out.append(float(brentq(lambda u: float(dz_dx(u, c, law)), xs[j - 1], xs[j], xtol=1e-15, rtol=1e-13)) if j > 0 else float(xs[0]))
    return out[0], out[1]


def bulk_edges(c: float, law) -> tuple[float, float]:
    """[left, right] edges of the noise bulk of C: z_C at the two edge points of `edge_points`."""
    xl, xr = edge_points(c, law)
    return float(z_of_x(xl, c, law)), float(z_of_x(xr, c, law))


def bulk_mass_beyond(t, c: float, law, edges=None, n_grid: int = 160) -> np.ndarray:
    """mu_bulk(|x| > t): the limiting fraction of noise eigenvalues of C with magnitude above t (t >= 0, array).

    Integrates `density` over [t, right] and [left, -t] (the parts that exist) on a midpoint grid clustered
    towards both ends (the square-root edge makes the mass ~ (distance)^{3/2}); D times it is the expected
    number of bulk eigenvalues beyond t. Zero, with no density evaluation, when t is beyond both edges."""
    left, right = bulk_edges(c, law) if edges is None else edges
    t = np.atleast_1d(np.asarray(t, np.float64))
    out = np.zeros(t.shape)
    u = (1 - np.cos(np.linspace(0, np.pi, n_grid + 1))) / 2
    for a, b, need in ((t, np.full(t.shape, right), t < right), (np.full(t.shape, left), -t, -t > left)):
        if not need.any():
            continue
        xs = a[need, None] + (b[need] - a[need])[:, None] * u
        mid = 0.5 * (xs[:, 1:] + xs[:, :-1])
        out[need] += np.sum(density(mid, c, law) * np.diff(xs, axis=1), axis=1)
    return out


def edge_grid(edges, span: float = 0.3, n_grid: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """(midpoints, widths) of ``n_grid`` cells per side over ``span`` of the bulk's width next to each edge,
    clustered towards the edge (cosine grid; the density vanishes like a square root there); the right side's
    cells first, each side from its edge inward."""
    left, right = edges
    u = 1 - np.cos(np.linspace(0, np.pi / 2, n_grid + 1))  # 0 at the edge
    width = span * (right - left)
    grids = [right - width * u, left + width * u]
    return (np.concatenate([0.5 * (g[1:] + g[:-1]) for g in grids]),
            np.concatenate([np.abs(np.diff(g)) for g in grids]))


def edge_cells(c: float, law, edges, span: float = 0.3, n_grid: int = 60) -> dict:
    """The outer parts of the bulk of C, cut into cells: midpoints, probability masses and m_C at the midpoints
    (``m``) and at each cell's lower and upper ends (``m_lo``, ``m_hi``, for the spectral shift of `theory.selection`).

    Each side gets ``n_grid`` cells over ``span`` of the bulk's width next to its edge, clustered towards the
    edge (cosine grid; the density vanishes like a square root there). Algorithm 1 keeps only d1 eigenvalues,
    a fraction d1/D of the bulk, which lies in these cells whenever D * span-mass >> d1."""
    mids, dl = edge_grid(edges, span, n_grid)
    m = stieltjes(np.concatenate([mids, mids - dl / 2, mids + dl / 2]) + 1e-8j, c, law)
    m, m_lo, m_hi = np.split(m, 3)
    return {"mid": mids, "dl": dl, "mass": m.imag / np.pi * dl, "m": m, "m_lo": m_lo, "m_hi": m_hi}
