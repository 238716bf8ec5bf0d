"""The structured remainder M of the Hermite model (HERMITE.md section 3, last bullet): the deterministic part of C
that the radial W-law lacks, and the coefficients it is built from. The bulk with it is `theory.hermite_bulk`, the
outliers `theory.hermite_spikes`.

M. To first order in the link (exact for g = id), E[C] = nu_1 sum_i (lambda_i/sqrt 2)[2 u_i u_i^T + 4 N_i]
(`theory.hermite_signal`, (H1)), N_i the operator V -> A_i^2 V + V A_i^2 + A_i V A_i on symmetric matrices (the
Kronecker-sum part A_i^2 V + V A_i^2 is G V + V G, which the chaos estimator removes: there N_i = A_i V A_i).
Beyond first order, by chaos (F = (x x^T - I)/sqrt 2 as a matrix; HERMITE.md section 2):
    E[C] = E[y] I + E[G] (+) E[G] + E_4,    E[G] = E[T(y) (x x^T - I)],    E_4 = E[C_chaos] - E[y] I,
with E_4 the operator of the 4-tensor E[T(y) :x^(x)4:] = E[d^4 y / dx^4] (Gaussian integration by parts). For
y = f(q_1, ..., q_d1), q_i = x^T A_i x, its terms are Sym(X (x) Y): V -> <Y, V> X + <X, V> Y + 2 (X V Y + Y V X),
with (X, Y) = (A_i, A_i) at first order (the spike and A V A) and (A_i^2, A_i^2), (A_i, A_i^3) at the next
(E[f_iiii]; f is even in each h_i, so E[f_i] and E[f_iii] are about 0). So, with the radial W-law
(`theory.hermite_law`) holding the isotropic part and the radial spike E[W a_i] u_i u_i^T,
    M = E[G] (+) E[G] [paper estimator only] + sum_i (s_i - E[W a_i]) u_i u_i^T + v_i A_i V A_i
        + p_i Sym(A_i^2 (x) A_i^2) + r_i Sym(A_i (x) A_i^3) - (tr/D) I,                                  (M1')
and per direction M_ii = u_i^T M u_i, m_i = P_perp M u_i, M_perp = P_perp M P_perp (P_perp: off span(A)).

The coefficients (`operator_coef`, Monte Carlo of the Hermite input, both estimators): E[G] directly (d x d);
s, v, p, r by least squares of E[C] - E[G] (+) E[G] on the operators (with the identity). Since u_i u_i^T is one
of them, u_i^T M u_i + E[W a_i] reproduces u_i^T E[C] u_i = E[T(y)(h_i^2 - 1)] (+ the centring). First order
(`OperatorCoef.first_order`, exact for g = id): s = 2 c, v = 4 c, p = r = 0, E[G] = sum_i 4 c_i A_i^2, and
E[W a_i] = 2 rho c_i. Measured at d = 40, tanh, teacher 3 (issue 11, stop 26), against the Hermite input's E[C]
(10^6 samples, standard error 0.0015):
- M_perp's 3 outermost eigenvalues per side (relative to their mean), against the Rayleigh quotients of E[C]
  along their eigenvectors: within 0.006 (chaos estimator: 0.004). First-order coefficients: 0.03-0.07 too wide
  (chaos 0.01-0.04); the projection on spike, A V A, the Kronecker sum and I alone (stops 14-25): 0.01-0.03 too
  wide, since it put E_4's part along the pairs into A V A and the Kronecker sum.
- The spike strengths u_i^T E[C] u_i - centre: within 0.009 of the Monte Carlo E[T(y)(h_i^2 - 1)] (paper and chaos);
  0.006-0.017 too small with the four operators and E[W a_i] taken as 2 rho c_i.
- At the population scale (n = 1024000, paper estimator, against stop 14's simulations), the bulk's edge on the side
  of M's isolated eigenvalues: teacher 3 right edge 0.201 predicted, 0.198 simulated (four operators: 0.222);
  teacher 0 left edge -0.281, simulated -0.274 (four operators: -0.296).
What (M1') leaves out: cross-direction terms (A_i, A_j), (A_i^2, A_j^2), ... (their coefficients were at most
0.018 in stop 14's test) and higher powers; at d = 20 the outermost eigenvalues are still within 0.017.

spec(M_perp) is used exactly (kind 'exact', D x D, up to D = EXACT_MAX_D) or as a semicircle of the same mean
and variance (kind 'semicircle'; m_i^T (M_perp - omega)^-1 m_i then a semicircle of the moments of m_i's
spectral measure, all moments from matrix-free products). kind='auto' is 'exact' for the paper estimator up to
EXACT_MAX_D and the semicircle otherwise: the Kronecker-sum part E[G] (+) E[G] has isolated outer eigenvalues
(2 g_max, g_max + g_2, ... from the extreme eigenvalues g of E[G]) which give C eigenvalues outside span(A)
beyond the semicircle's edge; they take Algorithm 1's slots from the minority-sign outliers on the other side
(HERMITE.md section 1). Measured with the four-operator M (stop 14) at d = 40, gamma = 0.4, tanh, 4 seeds,
n = 4000..64000 (largest error of a seed-mean per-direction cos^2, against 9 runs per teacher): semicircle 0.167,
exact 0.051, 'semicircle+spurious' 0.064 (with first-order coefficients the exact spectrum overshot, 0.20 at
n = 64000). The chaos estimator removes the Kronecker-sum part; there 'exact' and the semicircle agreed (0.044 both,
tanh).

Pipeline layer: bulk (`theory.PIPELINE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .hermite_law import chaos_atoms, hermite_label_law, kappa, spike_lengthening

__all__ = ["Remainder", "remainder", "zero_remainder", "symmetric_basis", "EXACT_MAX_D", "KINDS", "radial_rho", "first_order_coef",
           "operator_gram", "operator_coef", "OperatorCoef", "OPERATORS", "hermite_setup"]

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
    vectors: np.ndarray | None = None  # (D, D - d1) the exact M_perp's eigenvectors (columns, order of mu), feature basis
    EG: np.ndarray | None = None  # (d, d) E[G] of M's Kronecker-sum part (paper estimator, exact kind): theory.kronecker_spread

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
    # (r - w)/(2 var) = -2/(w + r) and its derivative 2/(r (w + r)), written so that no digits cancel at large |omega|
    out = mass * ((2.0 / (r * (w + r))) if deriv else (-2.0 / (w + r)))
    return out.real if np.isrealobj(om) else out


def zero_remainder(d1: int) -> Remainder:
    """M = 0: spec(M_perp) = {0}; every formula here is then the Gaussian-equivalent one."""
    return Remainder(kind="none", Mii=np.zeros(d1), mu=np.zeros(1), b=np.zeros((d1, 1)))


@lru_cache(maxsize=4)
def symmetric_basis(d: int) -> np.ndarray:
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
              coef: "OperatorCoef | None" = None, radial=None) -> Remainder:
    """(M1') for directions ``teacher_A`` (d1, D), signed ``lam``, link coefficient ``nu1`` and radial
    lengthening ``rho``; ``kind`` 'auto' is 'exact' for the paper estimator up to EXACT_MAX_D, else 'semicircle'
    (module docstring). ``coef``: M's operator coefficients (`operator_coef`, projected from E[C]); default
    `OperatorCoef.first_order` with c_i = nu1 lambda_i / sqrt 2 ((H1), exact for g = id). ``radial`` (d1,): the
    spike that the radial law holds, E[W a_i] of its atoms, which M leaves out (default its first-order value
    2 rho c_i, exact for g = id); M's spike coefficient is coef.spike - radial. kind 'semicircle+spurious' (an
    option): the semicircle, plus the eigenvalues of the exact M_perp outside the semicircle's support (up to
    EXACT_MAX_D): each such isolated eigenvalue mu of the deterministic part gives C an eigenvalue at zeta(mu)
    when mu lies beyond the bulk's omega-edge (`hermite_spikes.spurious_outliers`), a direction outside span(A) that
    competes for Algorithm 1's slots."""
    if kind not in KINDS:
        raise ValueError(f"remainder={kind!r} is not allowed: must be one of {', '.join(map(repr, KINDS))}")
    U = np.linalg.qr(np.asarray(teacher_A, np.float64).T)[0].T  # orthonormal basis of span(A)
    d1, D = U.shape
    if kind == "none":
        return zero_remainder(d1)
    if kind == "auto":
        kind = "exact" if estimator == "paper" and D <= EXACT_MAX_D else "semicircle"
    spurious = kind == "semicircle+spurious"
    if kind == "exact" and D > EXACT_MAX_D:
        raise ValueError(f"remainder='exact' is not allowed at D={D}: the exact M is formed up to D={EXACT_MAX_D}")
    basis = symmetric_basis(d)
    Am = np.einsum("kD,Dij->kij", np.asarray(teacher_A, np.float64), basis)
    Am /= np.linalg.norm(Am, axis=(1, 2), keepdims=True)
    c = nu1 * np.asarray(lam, np.float64) / np.sqrt(2.0)
    coef = OperatorCoef.first_order(Am, c) if coef is None else coef
    radial = 2.0 * rho * c if radial is None else np.asarray(radial, np.float64)
    pw = _powers(Am)
    terms = []  # (M1') as one list of terms
    for i in range(d1):
        terms += [(k, B, C, w * float(getattr(coef, name)[i])) for name in ("ava", "pair22", "pair13")
                  for k, B, C, w in _terms(name, pw[i])]
        terms += [(k, B, C, w * (coef.spike[i] - radial[i])) for k, B, C, w in _terms("spike", pw[i])]
    if estimator == "paper":
        eye = np.eye(d)
        terms += [("bvc", coef.EG, eye, 1.0), ("bvc", eye, coef.EG, 1.0)]

    terms = [t for t in terms if t[3] != 0.0]

    def op(V):  # (k, d, d) symmetric -> (M1') without its trace part
        return _apply(terms, V)

    tr = _trace(terms)
    iso = tr / D
    u = np.asarray(teacher_A, np.float64) / np.linalg.norm(teacher_A, axis=1, keepdims=True)
    MU = np.einsum("kij,Dij->kD", op(np.einsum("kD,Dij->kij", u, basis)), basis) - iso * u  # M u_i, (d1, D)
    Mii = np.einsum("kD,kD->k", MU, u)
    mvec = MU - (MU @ U.T) @ U  # m_i = P_perp M u_i
    def exact_perp():
        M = np.einsum("kij,Dij->kD", op(basis), basis) - iso * np.eye(D)
        Q = np.linalg.qr(np.concatenate([U.T, np.eye(D)], axis=1))[0][:, d1:D]  # basis of span(A)^perp
        mu, V = np.linalg.eigh(Q.T @ M @ Q)
        return mu, Q @ V

    if kind == "exact":
        mu, vec = exact_perp()
        return Remainder(kind="exact", Mii=Mii, mu=mu, b=(mvec @ vec) ** 2, mean=float(mu.mean()), var=float(mu.var()),
                         vectors=vec, EG=coef.EG if estimator == "paper" else None)
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


def radial_rho(d: int, estimator: str, n_mc: int = 200_000, seed: int = 0) -> float:
    """rho = E[(W/y) kappa s^2]: the radial lengthening of a spike to first order in the link
    (paper: kappa^2 E[s^4] exactly; chaos: Monte Carlo of f r1 kappa s^2, `hermite_law.chaos_atoms`)."""
    if estimator == "paper":
        return spike_lengthening(d)
    s = np.random.default_rng(seed).chisquare(d, n_mc) / d
    return float(np.mean(chaos_atoms(s, d)[0] * kappa(d) * s * s))


def hermite_setup(config, lam, A, estimator: str, n_mc: int, mc_seed: int, kind: str = "auto"):
    """(law, remainder) for a q = 2 Hermite configuration, signed ``lam`` and directions ``A`` (d1, D); for the
    paper estimator the A V A and Kronecker-sum coefficients of (M1) are `operator_coef`'s projections of E[C].
    Monte Carlo sizes, all from ``mc_seed``: the law and `operator_coef` take n_mc samples, `first_order_coef` and
    `radial_rho` max(n_mc, 200000). (Until issue 11's stop 20 M's coefficients were capped at 200000 samples, a noise
    floor that a larger n_mc could not lower: at d = 40 it moved an outlier by +-0.004, enough to move P(selected)
    of a direction at the edge of the bulk by 0.3; `finite_size.predict`.)"""
    law = hermite_label_law(config, lam, estimator, n_mc=n_mc, seed=mc_seed)
    coef = operator_coef(config, lam, A, n_mc, mc_seed) if kind != "none" else None
    n_coef = max(n_mc, 200_000)
    # The radial spike is the law's own E[W a_i] (its atoms keep the conditional means): the spike strength
    # M_ii + E[W a_i] then is u_i^T E[C] u_i of `operator_coef`, free of the law's Monte Carlo noise for bounded
    # labels. (A control-variate estimate of E[W a_i], exact for g = id, left that noise in: at d = 40, tanh, it
    # moved P(selected) of a minority-sign direction at the edge from 0.18 to 0.30, stop 26.)
    rem = remainder(A, first_order_coef(config, lam, n_coef, seed=mc_seed), config.d, 1.0,
                    radial_rho(config.d, estimator, n_coef, seed=mc_seed), estimator, kind, coef,
                    radial=np.sum(law.p * law.w * law.a, axis=1))
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


# The operators of (M1'), per direction, as terms over the powers A_i^p (A^0 = I): ("bvc", a, b, w) is
# V -> w A^a V A^b, ("rank", a, b, w) is V -> w <A^a, V> A^b. Each operator as a whole maps Sym_d into itself and is
# self-adjoint there. pair22 and pair13 are the operators of the 4-tensors Sym(A^2 (x) A^2) and Sym(A (x) A^3):
# Sym(X (x) Y) acts on V as <Y, V> X + <X, V> Y + 2 (X V Y + Y V X).
OPERATORS = {
    "spike": (("rank", 1, 1, 1.0),),
    "ava": (("bvc", 1, 1, 1.0),),
    "pair22": (("rank", 2, 2, 2.0), ("bvc", 2, 2, 4.0)),
    "pair13": (("rank", 1, 3, 1.0), ("rank", 3, 1, 1.0), ("bvc", 1, 3, 2.0), ("bvc", 3, 1, 2.0)),
}
FITTED = tuple(OPERATORS)  # the order of the least-squares basis per direction; then the identity


@dataclass(frozen=True)
class OperatorCoef:
    """The coefficients of M's operators (module docstring, (M1')): per direction (d1,) those of ``OPERATORS``,
    and ``EG`` (d, d), E[G] = E[T(y) (x x^T - I)], whose Kronecker sum V -> E[G] V + V E[G] is E[C]'s degree-2
    chaos part (the paper estimator's; the chaos estimator removes it)."""

    spike: np.ndarray
    ava: np.ndarray
    pair22: np.ndarray
    pair13: np.ndarray
    EG: np.ndarray

    @classmethod
    def first_order(cls, Am, c) -> "OperatorCoef":
        """(H1): spike 2 c_i, A V A 4 c_i, no pairs, E[G] = sum_i 4 c_i A_i^2 (c_i = nu_1 lambda_i / sqrt 2;
        exact for g = id)."""
        c = np.asarray(c, np.float64)
        return cls(2.0 * c, 4.0 * c, np.zeros_like(c), np.zeros_like(c), np.einsum("k,kij,kjl->il", 4.0 * c, Am, Am))


def _powers(Am, top: int = 4) -> np.ndarray:
    """(d1, top + 1, d, d): A_i^p for p = 0..top."""
    d1, d = Am.shape[:2]
    out = np.empty((d1, top + 1, d, d))
    out[:, 0] = np.eye(d)
    for p in range(1, top + 1):
        out[:, p] = np.einsum("kij,kjl->kil", out[:, p - 1], Am)
    return out


def _terms(name: str, pw) -> list:
    """The terms of operator ``name`` with matrices: ``pw`` (top + 1, d, d) the powers of one A_i."""
    return [(kind, pw[a], pw[b], w) for kind, a, b, w in OPERATORS[name]]


def _apply(terms, V):
    """(k, d, d) symmetric -> (k, d, d): the operator of ``terms`` applied to each V."""
    out = np.zeros_like(V)
    for kind, B, C, w in terms:
        out += w * (B @ V @ C if kind == "bvc" else np.einsum("ij,kij->k", B, V)[:, None, None] * C)
    return out


def _trace(terms) -> float:
    """Trace on Sym_d: V -> B V C gives (tr B tr C + tr(B C^T))/2 (over all d x d matrices V -> B V C has trace
    tr B tr C and V -> B V^T C has tr(B C^T); P_sym = (1 + T)/2); V -> <P, V> Q gives <P, Q>."""
    return float(sum(w * ((np.trace(B) * np.trace(C) + np.sum(B * C)) / 2.0 if kind == "bvc" else np.sum(B * C))
                     for kind, B, C, w in terms))


def _trace_product(ta, tb) -> float:
    """tr(N_a N_b) on Sym_d: the term (B1, C1) after (B2, C2) is V -> B1 B2 V C2 C1; a rank term <P, V> Q of
    either side gives <P, N_other(Q)> (N_other self-adjoint)."""
    total = 0.0
    for k1, B1, C1, w1 in ta:
        for k2, B2, C2, w2 in tb:
            if k1 == "bvc" and k2 == "bvc":
                total += w1 * w2 * _trace([("bvc", B1 @ B2, C2 @ C1, 1.0)])
            elif k1 == "rank":
                total += w1 * np.sum(B1 * _apply([(k2, B2, C2, w2)], C1[None])[0])
            else:
                total += w2 * np.sum(B2 * _apply([(k1, B1, C1, w1)], C2[None])[0])
    return total


def _basis_terms(Am) -> list:
    """The least-squares basis of `operator_coef`: per direction the operators ``FITTED``, then the identity."""
    pw = _powers(Am)
    eye = np.eye(Am.shape[1])
    return [_terms(name, p) for p in pw for name in FITTED] + [[("bvc", eye, eye, 1.0)]]


def operator_gram(Am) -> np.ndarray:
    """Gram matrix tr(N_a N_b) on Sym_d of `operator_coef`'s basis (unit-Frobenius A_i): per direction the
    operators of ``FITTED`` (spike, A V A, the pairs Sym(A^2 (x) A^2), Sym(A (x) A^3)), then the identity."""
    terms = _basis_terms(Am)
    k = len(terms)
    G = np.zeros((k, k))
    for a in range(k):
        for b in range(a, k):
            G[a, b] = G[b, a] = _trace_product(terms[a], terms[b])
    return G


def _statistics(X, pw, trp):
    """Per sample, F^T N F - tr N for each operator of the basis (b, 4 d1 + 1), from the quadratic forms
    q_p = x^T A_i^p x (q_0 = |x|^2): F = (x x^T - I)/sqrt 2 as a matrix, so V -> B V C gives tr(X B X C)/2 =
    (q_a q_b - 2 q_(a+b) + tr A^(a+b))/2 (A^a = B, A^b = C) and V -> <P, V> Q gives (q_a - tr A^a)(q_b - tr A^b)/2."""
    b, d = X.shape
    d1, top = pw.shape[0], pw.shape[1] - 1
    q = np.empty((b, d1, top + 1))
    q[:, :, 0] = np.sum(X * X, axis=1)[:, None]
    for p in range(1, top + 1):
        q[:, :, p] = np.einsum("bkj,bj->bk", (X @ pw[:, p].transpose(1, 0, 2).reshape(d, -1)).reshape(b, d1, d), X)
    out = []
    for i in range(d1):
        for name in FITTED:
            stat = 0.0
            for kind, a, c, w in OPERATORS[name]:
                if kind == "bvc":
                    stat = stat + w * (q[:, i, a] * q[:, i, c] - 2.0 * q[:, i, a + c] + trp[i, a + c]) / 2.0
                else:
                    stat = stat + w * (q[:, i, a] - trp[i, a]) * (q[:, i, c] - trp[i, c]) / 2.0
            out.append(stat)
    r = q[:, 0, 0]
    out.append((r * r - 2.0 * r + d) / 2.0)
    return np.stack(out, axis=1)


def operator_coef(config, lam, A, n_mc: int = 200_000, seed: int = 0) -> OperatorCoef:
    """M's coefficients (M1') from ``n_mc`` Hermite samples (default_rng(seed + 13)), both estimators:
    - E[G] = E[T(y) (x x^T - I)] (d x d), the degree-2 chaos part of E[C] (its Kronecker sum), directly;
    - the rest, E[C] - E[G] (+) E[G] (the degree-0 and 4 chaos, which is E[C_chaos]), projected by least squares on
      the operators of `operator_gram`: tr(E[C] N) = E[T(y) F^T N F] are means of scalars of each sample
      (`_statistics`), and tr((E[G] (+) E[G]) N) is exact given E[G].
    y's best linear part s h2 is a control variate with exact coefficients ((H1): spike 2 c_i, A V A 4 c_i, pairs 0,
    E[G] = sum_i 4 c_i A_i^2, c_i = s lambda_i / sqrt 2), so for g = id this is (H1) itself.
    Why the pairs: for y = f(q_1, ..., q_d1), q_i = x^T A_i x, E[C]'s 4-chaos tensor is E[d^4 y / dx^4] (Gaussian
    integration by parts), whose terms beyond first order are Sym(A_i^2 (x) A_i^2) (from E[f_iiii]) and
    Sym(A_i (x) A_i^3) (E[f_iiii] through E[f_iii x x^T]) at the next order (f is even in each h_i, so f_i and
    f_iii average to about 0). The four operators of issue 11's stop 14 (spike, A V A, Kronecker sum, I) lacked
    them and put E[C]'s part along them into A V A and the Kronecker sum: M_perp was 0.01-0.03 too wide along its
    outermost eigenvectors (module docstring)."""
    from hierarchical_model import make_link

    d = config.d
    lam = np.asarray(lam, np.float64)
    Am = np.einsum("kD,Dij->kij", np.asarray(A, np.float64), symmetric_basis(d))
    Am /= np.linalg.norm(Am, axis=(1, 2), keepdims=True)
    pw = _powers(Am)
    trp = np.trace(pw, axis1=2, axis2=3)  # (d1, 5)
    trN = np.array([_trace(t) for t in _basis_terms(Am)])
    rng = np.random.default_rng(seed + 13)
    link = make_link(config.g)
    P, PL, G, GL, yl, ll, done = np.zeros(trN.size), np.zeros(trN.size), np.zeros((d, d)), np.zeros((d, d)), 0.0, 0.0, 0
    while done < n_mc:
        b = min(20_000, n_mc - done)
        X = rng.standard_normal((b, d))
        S = _statistics(X, pw, trp) - trN
        h = (np.einsum("bj,kjl,bl->bk", X, Am, X) - trp[:, 1]) / np.sqrt(2.0)
        h2 = ((h * h - 1.0) @ lam) / np.sqrt(2.0)
        y = np.asarray(link(h2), np.float64)
        if config.sigma > 0:
            y = y + config.sigma * rng.standard_normal(b)
        P += y @ S
        PL += h2 @ S
        G += (X * y[:, None]).T @ X - y.sum() * np.eye(d)
        GL += (X * h2[:, None]).T @ X - h2.sum() * np.eye(d)
        yl += float(y @ h2)
        ll += float(h2 @ h2)
        done += b
    s = yl / ll
    lin = OperatorCoef.first_order(Am, s * lam / np.sqrt(2.0))
    EG_res = (G - s * GL) / n_mc
    eye = np.eye(d)
    kron = [("bvc", EG_res, eye, 1.0), ("bvc", eye, EG_res, 1.0)]
    rhs = (P - s * PL) / n_mc - np.array([_trace_product(kron, t) for t in _basis_terms(Am)])
    beta = np.linalg.solve(operator_gram(Am), rhs)[:-1].reshape(-1, len(FITTED))
    return OperatorCoef(lin.spike + beta[:, 0], lin.ava + beta[:, 1], lin.pair22 + beta[:, 2], lin.pair13 + beta[:, 3],
                        lin.EG + EG_res)
