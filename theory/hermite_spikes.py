"""Outliers of the Hermite model's C and the overlaps of their eigenvectors, with the remainder M (HERMITE.md
section 3, last bullet), on the bulk (M2) of `theory.hermite_bulk` (omega, zeta(omega), m_M).

Outliers: the Schur complement on u_i gives u_i^T (C - zeta)^-1 u_i = 1/f_i(omega) with
    f_i(omega) = M_ii + E[W a_i/(1 + W delta)] - m_i^T (M_perp - omega)^-1 m_i - omega,                    (M3)
an outlier where f_i = 0 outside the bulk and there
    cos^2 = zeta'(omega) / (1 + c m_M' E[W^2 a_i/(1 + W delta)^2] + m_i^T (M_perp - omega)^-2 m_i).          (M4)
At M = 0 (spec(M_perp) = {0}), omega = c/x and (M3)-(M4) are (S1), (S2) of `theory.spikes`.

Pipeline layer: spikes (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

__all__ = ["spike_function", "spike_function_deriv", "outlier", "outliers", "spurious_outliers", "resolvent_diag",
           "overlap_density"]


def spike_function(bulk, om, i: int):
    """(M3): f_i(omega), whose zero outside the bulk is direction i's outlier."""
    return bulk.rem.Mii[i] + bulk.expect_w(om, bulk.law.a[i]) - bulk.rem.bst(om, i) - om


def spike_function_deriv(bulk, om, i: int):
    """f_i'(omega), for (M4)."""
    dm = bulk.rem.st(om, deriv=True)
    return -bulk.c * dm * bulk.expect_w(om, bulk.law.w * bulk.law.a[i], deriv=True) - bulk.rem.bst(om, i, deriv=True) - 1.0


def outlier(bulk, i: int, om_edges, n_grid: int = 400) -> tuple[float, float]:
    """(location, cos^2) of direction i's outlier, (nan, 0) inside the bulk; the larger |location| if both sides."""
    best = (np.nan, 0.0)
    scale = 1.0 + np.max(np.abs(bulk.law.w)) * (1.0 + bulk.c) + np.max(np.abs(bulk.rem.Mii)) * 4
    for side, oe in ((-1.0, om_edges[0]), (1.0, om_edges[1])):
        om = oe + side * np.geomspace(1e-10, 50.0 * scale, n_grid)
        fv = spike_function(bulk, om, i) * side  # side * f > 0 between the edge and the outlier
        if fv[0] <= 0:
            continue
        j = int(np.argmax(fv <= 0))
        if fv[j] > 0:
            continue
        root = brentq(lambda u: float(spike_function(bulk, u, i)), om[j - 1], om[j], xtol=1e-15, rtol=1e-12)
        z = float(bulk.zeta(root))
        c2 = float(np.clip(bulk.dzeta(root) / -spike_function_deriv(bulk, root, i), 0.0, 1.0))
        if np.isnan(best[0]) or abs(z) > abs(best[0]):
            best = (z, c2)
    return best


def outliers(bulk, om_edges=None):
    """`outlier` for every direction: (locations (d1,), NaN where absent; cos^2 (d1,))."""
    oe = bulk.edge_omegas() if om_edges is None else om_edges
    res = [outlier(bulk, i, oe) for i in range(bulk.law.a.shape[0])]
    return np.array([r[0] for r in res]), np.array([r[1] for r in res])


def spurious_outliers(bulk, om_edges) -> np.ndarray:
    """Eigenvalues of C from the isolated eigenvalues mu of the exact M_perp (`Remainder.spurious`): at
    zeta(mu) for mu beyond the omega-edges (there zeta' > 0, so zeta(mu) is outside the bulk; the subordination
    argument of (M2) with M's eigenvector in place of u_i). Empty for kinds other than the semicircle, and above
    EXACT_MAX_D."""
    mu = bulk.rem.spurious
    if mu is None:
        return np.zeros(0)
    mu = mu[(mu < om_edges[0]) | (mu > om_edges[1])]
    return np.asarray(bulk.zeta(mu), np.float64) if mu.size else np.zeros(0)


def resolvent_diag(bulk, om) -> np.ndarray:
    """(points, d1): u_i^T (C - zeta)^-1 u_i = 1/f_i(omega) at complex omega (M3)."""
    return np.stack([1.0 / spike_function(bulk, om, i) for i in range(bulk.law.a.shape[0])], axis=1)


def overlap_density(bulk, om) -> np.ndarray:
    """(cells, d1): (1/pi) Im u_i^T (C - zeta)^-1 u_i = Im(1/f_i(omega))/pi at complex omega."""
    return resolvent_diag(bulk, om).imag / np.pi
