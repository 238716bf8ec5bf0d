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

The law of w is a weighted set of atoms (quadrature nodes, or Monte Carlo samples compressed by `label_law`).
Everything is vectorised numpy over z and over the atoms.

Pipeline layer: label law (`theory.PIPELINE`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hierarchical_model._validation import check_finite_array, check_float, check_int

__all__ = ["LabelLaw", "label_law", "compress_samples", "atom_law", "stieltjes", "density", "z_of_x", "dz_dx", "edge_points",
           "bulk_edges", "bulk_mass_beyond"]


@dataclass(frozen=True)
class LabelLaw:
    """A discrete law of the label weight w = T(y): atoms ``w`` (K,), probabilities ``p`` (K,), and for each
    latent direction i the conditional spike moment ``a[i, k] = E[h1_i^2 - 1 | w in atom k]`` (d1, K), which is
    all the spike formulas of `theory.spikes` need of the joint law of (w, h1).
    ``mean`` is E[w] of the untruncated law. ``shift`` is what C subtracts times I_D when it is not E[w]: in the
    Hermite model w = kappa s^2 y but C subtracts the sample mean of y (HERMITE.md section 3), so shift = E[y]
    (E[y (2 s - 1)] for the chaos estimator, `theory.hermite_law`); None means shift = mean (Gaussian-equivalent).
    ``tail`` (optional): the sorted raw Monte Carlo weights of both tails, for single-sample outliers.
    ``extra_var``: E[sum_k w_k^2] of minor per-sample atoms (chaos estimator, `theory.hermite_law`), which enter
    the bulk as a free semicircle of variance c * extra_var (`theory.remainder`); 0 elsewhere.
    ``a2`` (optional, (d1, K)): E[(h1_i^2 - 1)^2 | w in atom k], for the outliers' fluctuation (`theory.selection`)."""

    w: np.ndarray
    p: np.ndarray
    a: np.ndarray
    mean: float
    n_mc: int = 0
    seed: int = 0
    shift: float | None = None
    tail: np.ndarray | None = None
    extra_var: float = 0.0
    a2: np.ndarray | None = None

    @property
    def centre(self) -> float:
        """The multiple of I_D that C subtracts: ``shift``, or E[w] when it is None."""
        return self.mean if self.shift is None else self.shift

    def expect(self, f: np.ndarray) -> np.ndarray:
        """E_w[f(w)] for f evaluated on the atoms along the last axis."""
        return f @ self.p

    def truncated(self, n: int) -> "LabelLaw":
        """The law conditioned on Q(1/(n+1)) <= w <= Q(n/(n+1)): the range an empirical law of n samples covers.

        Finite-n heuristic for unbounded labels (g = id): the n labels in C have a largest value near the
        1 - 1/n quantile, and a limit law with unbounded support has no right edge at all. For bounded labels
        it removes a negligible mass. ``mean`` is kept (the shift of C is the sample mean, whatever the tail)."""
        cdf = np.cumsum(self.p)
        lo, hi = 1.0 / (n + 1), n / (n + 1.0)
        keep = (cdf - self.p < hi) & (cdf > lo)
        p = self.p[keep] / self.p[keep].sum()
        return replace(self, w=self.w[keep], p=p, a=self.a[:, keep], a2=None if self.a2 is None else self.a2[:, keep])


def atom_law(w, p=None, a=None) -> LabelLaw:
    """A LabelLaw from explicit atoms (quadrature nodes and weights, or raw samples with p = None)."""
    w = check_finite_array("w", w, 1, "(K,)")
    p = np.full(w.size, 1.0 / w.size) if p is None else check_finite_array("p", p, 1, "(K,)")
    if p.shape != w.shape or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"p has shape {p.shape}: must be non-negative weights of shape {w.shape}")
    a = np.zeros((0, w.size)) if a is None else np.atleast_2d(check_finite_array("a", a, np.ndim(a), "(d1, K)"))
    p = p / p.sum()
    return LabelLaw(w=w, p=p, a=a, mean=float(w @ p))


def label_law(config, lam=None, n_mc: int = 400_000, seed: int = 0, n_atoms: int = 300) -> LabelLaw:
    """Monte Carlo law of w = y = g(h2) + sigma xi in the Gaussian-equivalent model (T = identity, as in the paper).

    h1 ~ N(0, I_d1) (orthonormal rows of A make h1 = A g exactly standard), h2 = (1/sqrt 2) sum_i lambda_i
    (h1_i^2 - 1), xi ~ N(0, 1); ``n_mc`` samples from numpy's default_rng(seed). ``lam`` is the signed lambda
    (required: Teacher(config, s).lam for teacher s). The samples are compressed to ``n_atoms`` atoms by `compress_samples`.
    Monte Carlo error of a bin-averaged moment: O(1/sqrt(n_mc)) (about 0.002 at the default)."""
    from hierarchical_model import make_link

    n_mc = check_int("n_mc", n_mc, 1000)
    n_atoms = check_int("n_atoms", n_atoms, 10, n_mc)
    lam = _signed_lam(config, lam)
    rng = np.random.default_rng(check_int("seed", seed, 0, 2**31 - 1))
    h1 = rng.standard_normal((n_mc, lam.size))
    h2 = ((h1 * h1 - 1.0) @ lam) / np.sqrt(2.0)
    link = make_link(config.g)
    y = np.asarray(link(h2), np.float64)
    if config.sigma > 0:
        y = y + config.sigma * rng.standard_normal(n_mc)
    law = compress_samples(y, h1**2 - 1.0, n_atoms)
    return replace(law, mean=float(y.mean()), n_mc=n_mc, seed=seed)


def compress_samples(w, s, n_atoms: int = 800) -> LabelLaw:
    """A LabelLaw from joint samples: labels ``w`` (N,) and spike statistics ``s`` (N, k), s[:, i] = h_i^2 - 1.

    Sorted w is cut into bins whose sizes shrink like a cosine grid towards both tails (the extreme bins hold
    single samples, so the ends of the support are resolved); each atom carries its bin's mean w, mass,
    E[s_i | bin] and E[s_i^2 | bin]."""
    w = np.asarray(w, np.float64)
    s = np.asarray(s, np.float64).reshape(w.size, -1)
    N = w.size
    order = np.argsort(w, kind="stable")
    w, s = w[order], s[order]
    cuts = np.unique(np.round(N * (1 - np.cos(np.pi * np.arange(n_atoms + 1) / n_atoms)) / 2).astype(int))
    counts = np.diff(cuts)
    atoms = np.add.reduceat(w, cuts[:-1]) / counts
    a = (np.add.reduceat(s, cuts[:-1], axis=0) / counts[:, None]).T
    a2 = (np.add.reduceat(s * s, cuts[:-1], axis=0) / counts[:, None]).T
    return LabelLaw(w=atoms, p=counts / N, a=a, mean=float(w.mean()), n_mc=N, a2=a2)


def _signed_lam(config, lam, seed: int | None = None) -> np.ndarray:
    """The signed lambda_i: ``lam`` when given, else teacher ``seed``'s; one of them is required (the signs decide
    on which side of the bulk each spike sits, so there is no default teacher)."""
    from hierarchical_model import Teacher

    if lam is None:
        if seed is None:
            raise ValueError("lam=None and seed=None is not allowed: pass the teacher's seed or its signed lambda_i")
        return np.asarray(Teacher(config, check_int("seed", seed, 0, 2**31 - 1)).lam, np.float64)
    lam = check_finite_array("lam", lam, 1, f"({config.latent},)")
    if lam.size != config.latent:
        raise ValueError(f"lam has {lam.size} entries: must have d1={config.latent}")
    return lam


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
