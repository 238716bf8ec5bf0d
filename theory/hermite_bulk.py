"""The Silverstein-Bai bulk of the Hermite model's C: the W-law of `theory.hermite_law` plus the remainder M of
`theory.remainder` (HERMITE.md section 3, last bullet).

Bulk (Silverstein-Bai, deterministic M plus the weighted sample covariance with atoms W, c = D/n):
    m(zeta) = (1/D) tr (M_perp - omega)^-1,   omega = zeta + centre - E[W/(1 + W delta)] + t m,   delta = c m,   (M2)
t = c * extra_var (a free semicircle from the chaos estimator's minor atoms, 0 for the paper estimator).
On the real axis outside the bulk, zeta(omega) = omega + E[W/(1 + W c m_M(omega))] - t m_M(omega) - centre with
m_M the Stieltjes transform of spec(M_perp); the edges are the first zeros of zeta'(omega) coming from +-infinity.
At M = 0 (spec(M_perp) = {0}), omega = c/x and (M2) is (R1) of `theory.resolvent`.

The bulk of n samples (`bulk_at`). A sample of weight W is a pole of (M2) at 1 + W c m_M(omega) = 0; the
law of n samples (`LabelLaw.at_n`) has its most extreme samples as single atoms of mass 1/n. Atom k separates
from the bulk when its pole lies beyond the edge of the law without it (leave-one-out):
    1 + W_k c m_M(omega_e[law without W_k and everything beyond it]) <= 0,                                   (M5)
tested from the most extreme sample inwards; the separated samples leave the bulk and become single-sample
outliers (`theory.tails`), and the edge is the genuine zero of zeta' of the rest. Why: a single atom of mass 1/n
always produces a zero of zeta' next to its own pole, so a law that keeps it puts the "edge" at that one
sample's eigenvalue (for g = id at d = 40, n = 16000: -1.98 where the simulated bulk ends near -1.45).

Pipeline layer: bulk (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from .remainder import Remainder
from .resolvent import edge_grid

__all__ = ["Bulk", "bulk_at", "bulk_cells"]


class Bulk:
    """(M2) at one c for a LabelLaw ``law`` and a Remainder ``rem`` (the outliers (M3)-(M4): `theory.hermite_spikes`)."""

    def __init__(self, c: float, law, rem: Remainder):
        self.c, self.law, self.rem = c, law, rem
        self.t = c * law.extra_var

    def expect_w(self, om, f, deriv=False):
        """E[W f(W) / (1 + W c m_M(omega))^(1 or 2)] over the atoms, f an array over atoms (or a scalar)."""
        den = 1.0 + self.c * self.law.w * self.rem.st(om)[..., None]
        return (self.law.w * f / (den**2 if deriv else den)) @ self.law.p

    def zeta(self, om):
        return om + self.expect_w(om, 1.0) - self.t * self.rem.st(om) - self.law.centre

    def dzeta(self, om):
        dm = self.rem.st(om, deriv=True)
        return 1.0 - self.c * dm * self.expect_w(om, self.law.w, deriv=True) - self.t * dm

    def _valid(self, om):
        return np.all(1.0 + self.c * self.law.w * self.rem.st(om)[..., None] > 0, axis=-1)

    def edge_omegas(self, n_grid: int = 500) -> tuple[float, float]:
        """omega at the left and right edges: first zero of zeta' (or of validity) coming from -+infinity."""
        lo, hi = self.rem.support()
        scale = 1.0 + np.max(np.abs(self.law.w)) * (1.0 + self.c) + (hi - lo)
        out = []
        for side, end in ((-1.0, lo), (1.0, hi)):
            dist = np.geomspace(50.0 * scale, 1e-12 * scale, n_grid)
            om = end + side * dist
            good = self._valid(om) & (self.dzeta(om) > 0)
            j = int(np.argmin(good)) if not good.all() else n_grid - 1
            if j == 0:
                out.append(float(om[0]))
                continue
            a, b = om[j - 1], om[j]
            if self._valid(b) and self.dzeta(b) <= 0:
                out.append(float(brentq(lambda u: float(self.dzeta(u)), a, b, xtol=1e-15, rtol=1e-13)))
            else:  # bisect to the validity boundary, then the zero of zeta' before it
                for _ in range(80):
                    mid = 0.5 * (a + b)
                    a, b = (mid, b) if (self._valid(mid) and self.dzeta(mid) > 0) else (a, mid)
                out.append(float(a))
        return out[0], out[1]

    def edges(self, om_edges=None) -> tuple[float, float]:
        ol, orr = self.edge_omegas() if om_edges is None else om_edges
        return float(self.zeta(ol)), float(self.zeta(orr))

    def solve(self, z) -> tuple[np.ndarray, np.ndarray]:
        """(m, omega) at complex z (Im z > 0): Newton on (M2) with continuation in Im z (as `resolvent.stieltjes`)."""
        z = np.atleast_1d(np.asarray(z, np.complex128)) + self.law.centre
        scale = 1.0 + np.max(np.abs(self.law.w)) * (1.0 + self.c) + np.sqrt(self.rem.var) * 4
        eta_t = np.maximum(z.imag, 1e-14)
        om = z.real + 1j * np.maximum(eta_t, scale) - self.law.mean
        for k in range(40):
            zz = z.real + 1j * np.maximum(eta_t, scale * 0.125**k)
            for _ in range(8):
                H = self.zeta(om) + self.law.centre - zz
                new = om - H / self.dzeta(om)
                bad = ~np.isfinite(new) | (new.imag <= 0)
                if bad.any():  # fixed-point step instead
                    new[bad] = (zz - (self.zeta(om) + self.law.centre - om))[bad]
                    new[bad] = np.where(new[bad].imag > 0, new[bad], new[bad].real + 1j * 1e-14)
                step = np.max(np.abs(new - om))
                om = new
                if step < 1e-13:
                    break
            if np.all(scale * 0.125**k <= eta_t):
                break
        return self.rem.st(om), om


    def solve_lines(self, t, ys) -> np.ndarray:
        """omega (len(ys), len(t)) at zeta = t + i y on the vertical lines over the real points ``t``, for ``ys``
        decreasing: Newton on (M2) continued down each line from its top (the previous y's root starts the next),
        so that a line of many points costs a few Newton steps per point."""
        t = np.asarray(t, np.float64)
        out = np.empty((len(ys), t.size), np.complex128)
        om = t + 1j * ys[0] + self.law.centre - self.law.mean
        for k, y in enumerate(ys):
            zz = t + 1j * y
            for _ in range(30):
                H = self.zeta(om) - zz
                new = om - H / self.dzeta(om)
                bad = ~np.isfinite(new) | (new.imag <= 0)
                if bad.any():  # fixed-point step instead
                    new[bad] = (zz - (self.zeta(om) - om))[bad]
                    new[bad] = np.where(new[bad].imag > 0, new[bad], new[bad].real + 1j * 1e-300)
                step = np.max(np.abs(new - om) / (1.0 + np.abs(om)))
                om = new
                if step < 1e-12:
                    break
            out[k] = om
        return out


def bulk_at(n: int, D: int, law, rem: Remainder) -> Bulk:
    """The Bulk (M2) of n samples (c = D/n): `LabelLaw.at_n`'s law without the samples that separate by (M5),
    scanned on each side from the most extreme atom inwards while the atoms hold single samples (mass <= 1.5/n)."""
    c = D / n
    law = law.at_n(n)
    keep = np.ones(law.w.size, bool)
    for k_side, side in enumerate((-1.0, 1.0)):
        cand = np.flatnonzero(side * law.w > 0)
        for j in cand[np.argsort(-side * law.w[cand])]:
            if law.p[j] * n > 1.5:
                break
            keep[j] = False
            om_e = Bulk(c, law.subset(keep), rem).edge_omegas()[k_side]
            if 1.0 + law.w[j] * c * float(rem.st(om_e)) > 0:  # its pole lies inside the rest's edge: a bulk sample
                keep[j] = True
                break
    return Bulk(c, law if keep.all() else law.subset(keep), rem)


def bulk_cells(bulk: Bulk, edges, span: float = 0.3, n_grid: int = 60) -> dict:
    """`resolvent.edge_cells` for the bulk (M2), on the same `resolvent.edge_grid`: midpoints, widths, masses, omega
    at the midpoints (``om``) and at each cell's lower and upper ends (``om_lo``, ``om_hi``)."""
    mids, dl = edge_grid(edges, span, n_grid)
    m, om = bulk.solve(np.concatenate([mids, mids - dl / 2, mids + dl / 2]) + 1e-8j)
    (m, _, _), (om, om_lo, om_hi) = np.split(m, 3), np.split(om, 3)
    return {"mid": mids, "dl": dl, "mass": m.imag / np.pi * dl, "m": m, "om": om, "om_lo": om_lo, "om_hi": om_hi}
