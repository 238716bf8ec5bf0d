"""The structured remainder M of the Hermite model and the Silverstein-Bai bulk, outliers and overlaps with it
(HERMITE.md section 3, last bullet).

M. To first order in the link (exact for g = id), E[C] = nu_1 sum_i (lambda_i/sqrt 2)[2 u_i u_i^T + 4 N_i]
(`theory.hermite_signal`, (H1)), N_i the operator V -> A_i^2 V + V A_i^2 + A_i V A_i on symmetric matrices (the
Kronecker-sum part A_i^2 V + V A_i^2 is G V + V G, which the chaos estimator removes: there N_i = A_i V A_i).
Beyond first order the Kronecker-sum part is E[G] (+) E[G] with E[G] = E[y (x x^T - I)] ~ sum_i kappa_i A_i^2,
kappa_i fitted by `hermite_finite.kronecker_coef` (tanh, d = 40: 0.82-0.96 of the first-order 2 theta_i).
The radial W-law (`theory.hermite_law`) already holds the isotropic part and the radial spike
sqrt 2 nu_1 lambda_i rho u_i u_i^T (rho = E[(W/y) kappa s^2], kappa^2 E[s^4] for the paper estimator), so
    M = E[C]_first order - sum_i sqrt 2 nu_1 lambda_i rho u_i u_i^T - (tr/D) I,                          (M1)
and per direction M_ii = u_i^T M u_i, m_i = P_perp M u_i, M_perp = P_perp M P_perp (P_perp: off span(A)).

Bulk (Silverstein-Bai, deterministic M plus the weighted sample covariance with atoms W, c = D/n):
    m(zeta) = (1/D) tr (M_perp - omega)^-1,   omega = zeta + centre - E[W/(1 + W delta)] + t m,   delta = c m,   (M2)
t = c * extra_var (a free semicircle from the chaos estimator's minor atoms, 0 for the paper estimator).
On the real axis outside the bulk, zeta(omega) = omega + E[W/(1 + W c m_M(omega))] - t m_M(omega) - centre with
m_M the Stieltjes transform of spec(M_perp); the edges are the first zeros of zeta'(omega) coming from +-infinity.
Outliers: the Schur complement on u_i gives u_i^T (C - zeta)^-1 u_i = 1/f_i(omega) with
    f_i(omega) = M_ii + E[W a_i/(1 + W delta)] - m_i^T (M_perp - omega)^-1 m_i - omega,                    (M3)
an outlier where f_i = 0 outside the bulk and there
    cos^2 = zeta'(omega) / (1 + c m_M' E[W^2 a_i/(1 + W delta)^2] + m_i^T (M_perp - omega)^-2 m_i).          (M4)
At M = 0 (spec(M_perp) = {0}), omega = c/x and (M2)-(M4) are (R1), (S1), (S2) of `theory.resolvent`/`spikes`.
spec(M_perp) is used exactly (kind 'exact', D x D, up to D = EXACT_MAX_D) or as a semicircle of the same mean
and variance (kind 'semicircle'; m_i^T (M_perp - omega)^-1 m_i then a semicircle of the moments of m_i's
spectral measure, all moments from matrix-free products). kind='auto' is the semicircle at every D: measured at
d = 40, gamma = 0.4, tanh, 4 seeds (paper estimator), the semicircle predicts the mean q_h within 0.02 at
n = 4k..64k, while the exact spectrum, whose outermost eigenvalues extend the predicted bulk beyond the observed
edge (-0.41 vs -0.34 at n = 64000), under-predicts it by 0.11 at n = 64000 (HERMITE.md section 3 also found the
semicircle accurate at d = 40).

Pipeline layer: spikes (`theory.PIPELINE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

__all__ = ["Remainder", "remainder", "zero_remainder", "Bulk", "EXACT_MAX_D", "KINDS"]

EXACT_MAX_D = 1830  # d = 60
KINDS = ("auto", "exact", "semicircle", "semicircle+spurious", "none")


@dataclass(frozen=True)
class Remainder:
    """spec(M_perp) as atoms ``mu`` (exact) or a semicircle (``mean``, ``var``); per direction M_ii, and the
    spectral measure of m_i: weights ``b`` (d1, K) on mu, or a semicircle (``b_mass``, ``b_mean``, ``b_var``)."""

    kind: str
    Mii: np.ndarray
    mu: np.ndarray | None = None
    b: np.ndarray | None = None
    mean: float = 0.0
    var: float = 0.0
    b_mass: np.ndarray | None = None
    b_mean: np.ndarray | None = None
    b_var: np.ndarray | None = None
    spurious: np.ndarray | None = None  # eigenvalues of the exact M_perp outside the semicircle's support

    def st(self, om, deriv: bool = False):
        """m_M(omega) (or its derivative) for real or complex omega (...,)."""
        if self.mu is not None:
            r = 1.0 / (self.mu - np.asarray(om)[..., None])
            return (r**2 if deriv else r).mean(axis=-1)
        return _semicircle(om, self.mean, self.var, 1.0, deriv)

    def bst(self, om, i: int, deriv: bool = False):
        """m_i^T (M_perp - omega)^-1 m_i (or its derivative in omega)."""
        if self.b is not None:
            r = 1.0 / (self.mu - np.asarray(om)[..., None])
            return (r**2 if deriv else r) @ self.b[i]
        return _semicircle(om, self.b_mean[i], self.b_var[i], self.b_mass[i], deriv)

    def support(self) -> tuple[float, float]:
        if self.mu is not None:
            return float(self.mu.min()), float(self.mu.max())
        r = 2.0 * np.sqrt(self.var)
        return self.mean - r, self.mean + r


def _semicircle(om, a, var, mass, deriv):
    om = np.asarray(om)
    if var <= 1e-300:
        return mass / (a - om) ** 2 if deriv else mass / (a - om)
    sg = 2.0 * np.sqrt(var)
    w = om.astype(np.complex128) - a
    r = np.sqrt(w - sg) * np.sqrt(w + sg)  # principal roots: the branch with m ~ -1/omega at infinity
    out = mass * ((-1.0 + w / r) if deriv else (-w + r)) / (2.0 * var)
    return out.real if np.isrealobj(om) else out


def zero_remainder(d1: int) -> Remainder:
    """M = 0: spec(M_perp) = {0}; every formula here is then the Gaussian-equivalent one."""
    return Remainder(kind="none", Mii=np.zeros(d1), mu=np.zeros(1), b=np.zeros((d1, 1)))


@lru_cache(maxsize=4)
def _isometry(d: int) -> np.ndarray:
    """(D, d, d): the symmetric matrix V of each basis vector (MODEL.md section 1, ||V||_F = 1), multisets
    {i <= j} in lexicographic order: e_i e_i^T, and (e_i e_j^T + e_j e_i^T)/sqrt 2 for i < j."""
    i, j = np.triu_indices(d)
    out = np.zeros((i.size, d, d))
    k = np.arange(i.size)
    val = np.where(i == j, 1.0, 1.0 / np.sqrt(2.0))
    out[k, i, j] = val
    out[k, j, i] = val
    out.setflags(write=False)
    return out


def remainder(teacher_A, lam, d: int, nu1: float, rho: float, estimator: str = "paper", kind: str = "auto",
              kron=None) -> Remainder:
    """(M1) for directions ``teacher_A`` (d1, D), signed ``lam``, link coefficient ``nu1`` and radial
    lengthening ``rho``; ``kind`` 'auto' is 'semicircle' (module docstring), 'exact' is allowed up to EXACT_MAX_D.
    ``kron`` (d1,): the coefficients kappa_i of the Kronecker-sum part (paper estimator; default the first-order
    4 nu1 lambda_i / sqrt 2, `hermite_finite.kronecker_coef` measures them). kind 'semicircle+spurious' (an
    option): the semicircle, plus the eigenvalues of the exact M_perp outside the semicircle's support (up to
    EXACT_MAX_D): each such isolated eigenvalue mu of the deterministic part gives C an eigenvalue at zeta(mu)
    when mu lies beyond the bulk's omega-edge (`Bulk.spurious_outliers`), a direction outside span(A) that
    competes for Algorithm 1's slots. Measured at d = 40, tanh, paper estimator, 4 seeds: these eigenvalues
    match the simulated ones beyond the bulk within 0.006 at n = 32000, but lie 0.02 too far out at n = 64000
    in three seeds of four, so the option corrects the selection at 32000 and spoils it at 64000 (max error of
    the seed-mean cos^2 0.03 and 0.20 there, against 0.16 and 0.18 without); it is not the default."""
    if kind not in KINDS:
        raise ValueError(f"remainder={kind!r} is not allowed: must be one of {', '.join(map(repr, KINDS))}")
    U = np.linalg.qr(np.asarray(teacher_A, np.float64).T)[0].T  # orthonormal basis of span(A)
    d1, D = U.shape
    if kind == "none":
        return zero_remainder(d1)
    if kind == "auto":
        kind = "semicircle"
    spurious = kind == "semicircle+spurious"
    if kind == "exact" and D > EXACT_MAX_D:
        raise ValueError(f"remainder='exact' is not allowed at D={D}: the exact M is formed up to D={EXACT_MAX_D}")
    basis = _isometry(d)
    Am = np.einsum("kD,Dij->kij", np.asarray(teacher_A, np.float64), basis)
    Am /= np.linalg.norm(Am, axis=(1, 2), keepdims=True)
    coef = nu1 * np.asarray(lam, np.float64) / np.sqrt(2.0)
    kron = 4.0 * coef if kron is None else np.asarray(kron, np.float64)

    def op(V):  # (k, d, d) symmetric -> (M1) without its trace part, and the trace of that part
        out = np.zeros_like(V)
        for c, kr, A in zip(coef, kron, Am):
            out += 4.0 * c * (A @ V @ A)
            if estimator == "paper":
                A2 = A @ A
                out += kr * (A2 @ V + V @ A2)
            out += (2.0 - 2.0 * rho) * c * np.einsum("ij,kij->k", A, V)[:, None, None] * A
        return out

    tr = 0.0  # traces on Sym_d: A V A -> ((tr A)^2 + tr A^2)/2, A^2 V + V A^2 -> (d + 1) tr A^2
    for c, kr, A in zip(coef, kron, Am):
        tr += 4.0 * c * (np.trace(A) ** 2 + 1.0) / 2.0 + (kr * (d + 1) if estimator == "paper" else 0.0)
        tr += (2.0 - 2.0 * rho) * c
    iso = tr / D
    u = np.asarray(teacher_A, np.float64) / np.linalg.norm(teacher_A, axis=1, keepdims=True)
    MU = np.einsum("kij,Dij->kD", op(np.einsum("kD,Dij->kij", u, basis)), basis) - iso * u  # M u_i, (d1, D)
    Mii = np.einsum("kD,kD->k", MU, u)
    mvec = MU - (MU @ U.T) @ U  # m_i = P_perp M u_i
    def exact_perp():
        M = np.einsum("kij,Dij->kD", op(basis), basis) - iso * np.eye(D)
        Q = np.linalg.qr(np.concatenate([U.T, np.eye(D)], axis=1))[0][:, d1:D]  # basis of span(A)^perp
        mu, V = np.linalg.eigh(Q.T @ M @ Q)
        return mu, (mvec @ Q @ V) ** 2

    if kind == "exact":
        mu, b = exact_perp()
        return Remainder(kind="exact", Mii=Mii, mu=mu, b=b, mean=float(mu.mean()), var=float(mu.var()))
    # semicircle: Hutchinson moments of M_perp from 48 fixed probes; m_i's measure from m_i itself
    rng = np.random.default_rng(12345)
    G = rng.standard_normal((48, d, d))
    probes = np.einsum("kij,Dij->kD", (G + np.transpose(G, (0, 2, 1))) / 2.0, basis)

    def mperp(v):  # (k, D) -> P_perp M P_perp v
        v = v - (v @ U.T) @ U
        out = np.einsum("kij,Dij->kD", op(np.einsum("kD,Dij->kij", v, basis)), basis) - iso * v
        return out - (out @ U.T) @ U

    Mp = mperp(probes)
    D_perp = D - d1
    mean = float(np.mean(np.sum(probes * Mp, axis=1)) / D_perp)
    var = max(float(np.mean(np.sum(Mp * Mp, axis=1)) / D_perp) - mean**2, 0.0)
    mass = np.sum(mvec**2, axis=1)
    Mm = mperp(mvec)
    safe = np.where(mass > 0, mass, 1.0)
    b_mean = np.sum(mvec * Mm, axis=1) / safe
    b_var = np.maximum(np.sum(Mm * Mm, axis=1) / safe - b_mean**2, 0.0)
    spur = None
    if spurious:
        if D > EXACT_MAX_D:
            raise ValueError(f"remainder={kind!r} is not allowed at D={D}: the exact M is formed up to D={EXACT_MAX_D}")
        mu = exact_perp()[0]
        r = 2.0 * np.sqrt(var)
        spur = mu[(mu < mean - r) | (mu > mean + r)]
    return Remainder(kind=kind, Mii=Mii, mean=mean, var=var, b_mass=mass, b_mean=b_mean, b_var=b_var,
                     spurious=spur)


class Bulk:
    """(M2)-(M4) at one c for a LabelLaw ``law`` and a Remainder ``rem``."""

    def __init__(self, c: float, law, rem: Remainder):
        self.c, self.law, self.rem = c, law, rem
        self.t = c * law.extra_var

    def _ew(self, om, f, deriv=False):
        """E[W f(W) / (1 + W c m_M(omega))^(1 or 2)] over the atoms, f an array over atoms."""
        den = 1.0 + self.c * self.law.w * self.rem.st(om)[..., None]
        return (self.law.w * f / (den**2 if deriv else den)) @ self.law.p

    def zeta(self, om):
        return om + self._ew(om, 1.0) - self.t * self.rem.st(om) - self.law.centre

    def dzeta(self, om):
        dm = self.rem.st(om, deriv=True)
        return 1.0 - self.c * dm * self._ew(om, self.law.w, deriv=True) - self.t * dm

    def f(self, om, i: int):
        return self.rem.Mii[i] + self._ew(om, self.law.a[i]) - self.rem.bst(om, i) - om

    def df(self, om, i: int):
        dm = self.rem.st(om, deriv=True)
        return -self.c * dm * self._ew(om, self.law.w * self.law.a[i], deriv=True) - self.rem.bst(om, i, deriv=True) - 1.0

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

    def outlier(self, i: int, om_edges, n_grid: int = 400) -> tuple[float, float]:
        """(location, cos^2) of direction i's outlier, (nan, 0) inside the bulk; the larger |location| if both sides."""
        best = (np.nan, 0.0)
        scale = 1.0 + np.max(np.abs(self.law.w)) * (1.0 + self.c) + np.max(np.abs(self.rem.Mii)) * 4
        for side, oe in ((-1.0, om_edges[0]), (1.0, om_edges[1])):
            om = oe + side * np.geomspace(1e-10, 50.0 * scale, n_grid)
            fv = self.f(om, i) * side  # side * f > 0 between the edge and the outlier
            if fv[0] <= 0:
                continue
            j = int(np.argmax(fv <= 0))
            if fv[j] > 0:
                continue
            root = brentq(lambda u: float(self.f(u, i)), om[j - 1], om[j], xtol=1e-15, rtol=1e-12)
            z = float(self.zeta(root))
            c2 = float(np.clip(self.dzeta(root) / -self.df(root, i), 0.0, 1.0))
            if np.isnan(best[0]) or abs(z) > abs(best[0]):
                best = (z, c2)
        return best

    def outliers(self, om_edges=None):
        oe = self.edge_omegas() if om_edges is None else om_edges
        res = [self.outlier(i, oe) for i in range(self.law.a.shape[0])]
        return np.array([r[0] for r in res]), np.array([r[1] for r in res])

    def spurious_outliers(self, om_edges) -> np.ndarray:
        """Eigenvalues of C from the isolated eigenvalues mu of the exact M_perp (`Remainder.spurious`): at
        zeta(mu) for mu beyond the omega-edges (there zeta' > 0, so zeta(mu) is outside the bulk; the subordination
        argument of (M2) with M's eigenvector in place of u_i). Empty for kinds other than the semicircle, and above
        EXACT_MAX_D."""
        mu = self.rem.spurious
        if mu is None:
            return np.zeros(0)
        mu = mu[(mu < om_edges[0]) | (mu > om_edges[1])]
        return np.asarray(self.zeta(mu), np.float64) if mu.size else np.zeros(0)

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

    def overlap_density(self, om) -> np.ndarray:
        """(cells, d1): (1/pi) Im u_i^T (C - zeta)^-1 u_i = Im(1/f_i(omega))/pi at complex omega."""
        return np.stack([(1.0 / self.f(om, i)).imag / np.pi for i in range(self.law.a.shape[0])], axis=1)
