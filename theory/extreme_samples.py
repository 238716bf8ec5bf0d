"""Selection rule 'extremes' (Hermite model): the samples that separate from the bulk as explicit rank-one spikes,
coupled to the directions u_i (issue 11, item 4; HERMITE.md section 3; MODEL.md section 2, step 1).

Why. With heavy-tailed weights (g = id, W ~ kappa s^2 h2) a few samples of extreme W give C eigenvalues of their
own beyond the bulk (`theory.tails`, (T1)). They are not independent of the directions: |W| is large because some
h1_i^2 are, so each such sample's eigenvector carries overlap with u_i, and a direction whose outlier lies among
them shares its overlap with them. Rule 'soft' keeps them as overlap-free competitors on the law truncated at the
largest sample (whose edge then lies at that one sample's eigenvalue); rule 'measure' spreads them into a smooth
density. Here they are what they are in a finite sample: a Poisson number of discrete spikes, each with its own
weight and its own h1.

The model (conditional Gaussian equivalence, as (M2)-(M4) of `theory.hermite_bulk`, `theory.hermite_spikes`).
C = C_rest + sum_mu (W_mu/n) g_mu g_mu^T over the separated samples mu, g_mu = sum_i z_mu,i u_i + g_perp, where
C_rest is the bulk of the other samples with the directions' spikes (`hermite_bulk.bulk_at`, (M5)), whose Schur
complement on span(A) is diag f_i(omega) (M3) and whose normalised trace is m_M(omega). A sample separates when
its pole lies beyond the bulk's edge: W beyond W*_side = -1/(c m_M(omega_edge)). With R = (C_rest - zeta)^-1,
Woodbury gives U^T (C - zeta)^-1 U = K^-1, K = diag f_i + Z^T Delta^-1 Z, Delta_mu = n/W_mu + g_perp^T R g_perp
(cross terms between independent Gaussian parts dropped), so zeta = zeta(omega) outside the bulk is an eigenvalue
of C iff the (d1 + m)-square symmetric matrix
    H(omega) = [[diag(f_i(omega) + delta_i), Z^T], [Z, -diag(n/W_mu + q_mu(omega))]]                      (D1)
is singular, Z (m, d1) the separated samples' z. H is monotone in omega outside the bulk (f_i' < 0, m_M' > 0),
so each of its sorted eigenvalues crosses zero at most once on each side: the roots are their sign changes on a
log grid of omega from the edge outwards, placed by linear interpolation (two close roots are two eigenvalues,
never a missed pair of sign changes of det H; with (D4) H is monotone in the Loewner order, so the count of its
negative eigenvalues is found on every COARSE-th grid point first and on the full grid only where it changes).
K^-1 is the span(A) block of H^-1; its residue at a root with
null vector w = (w_A, w_S) gives the eigenvector's overlaps
    (u_i . psi)^2 = w_i^2 zeta'(omega) / (-sum_i w_i^2 f_i'(omega) + D m_M'(omega) |w_S|^2),               (D2)
which at m = 0 is (M4); a sample alone (Z = 0) sits at (T1). Each sample's own quadratic form is
    q_mu(omega) = D m_M(omega) + sqrt(2 D m_M'(omega) / zeta'(omega)) xi_mu,   xi_mu ~ N(0, 1),               (D3)
its mean and its Gaussian fluctuation (Var g^T R g = 2 tr R^2 = 2 D dm/dzeta). Where M_perp is exact (kind 'exact',
with its eigenvectors v_k; the paper estimator's default up to `remainder.EXACT_MAX_D`), each sample's form is instead
its own: with p_k = (v_k . g_mu)^2 from its input x (`sample_directions`),
    q_mu(omega) = g_mu^T (M_perp - omega)^-1 g_mu = sum_k p_k / (mu_k - omega),   q_mu' = sum_k p_k / (mu_k - omega)^2,  (D4)
which enters (D1), (D2) (in place of D m_M') and the separation test 1 + W q_mu(omega_edge)/n <= 0. Why: a sample
of extreme W has its g along the outer eigenvectors of M's Kronecker-sum part E[G] (+) E[G] (|W| is large because
h1_i^2 is, and E[G] ~ sum_i kappa_i A_i^2), so its form is larger than D m_M and it separates sooner and further
out: at d = 40, g = id, n = 64000, teacher 3, the separated samples' rate doubles (2.1 / 2.4 -> 4.5 / 5.3 per side)
and the eigenvalues beyond 0.6 / 0.7 / 0.8 on the majority side go from 7.3 / 3.9 / 2.4 to 9.6 / 4.6 / 2.7
(simulated 11.8 / 5.5 / 3.2, 6 streams). Checked against a planted sample on a structured M (tests).

Fluctuations, per Monte Carlo draw (``draws`` of them, from a fixed seed): on each side a Poisson number of
separated samples of rate n P(separate), each a sample (W, z, x) of `extreme_pool` (its own Monte Carlo draws of
true Hermite inputs, 64 n and at least 500000 (`pool_size`), of which the most extreme 0.5% per side are kept: at d = 40, g = id,
n = 64000 a sample separates with probability 6e-5, 25 samples of the label law's 400000, and a rate off by 30%
moved the weakest directions' cos^2 by 0.2 for one teacher); delta_i ~ N(0, Var(W (h_i^2 - 1))/n), the
fluctuation of u_i^T C u_i over the bulk's law; the bulk's edges shifted by Tracy-Widom (`selection.edge_scale`).
Per draw Algorithm 1's d1 slots are filled by magnitude from the roots (one eigenvalue each), M's spurious
eigenvalues (``fixed``) and the bulk's cells (their eigenvalue counts with the directions' spectral shift (K3),
`selection.shift_mass`, and the overlap density of (M3)); cos^2_i is the mean over draws of the selected roots'
(D2) plus the selected cells' overlap. P(selected)_i is the selected share of the roots' overlap with u_i.

Checked (tests/theory/test_extreme_samples.py): at m = 0 the roots and (D2) are (M3)-(M4); a planted sample of
weight 1.5 W* with z = 7 along u (D = 300, n = 3000, pure noise) at 0.7871 with overlap 0.1012, simulated
0.7885 +- 0.0028 and 0.1020 +- 0.0014 (uncoupled: 0.729; naive overlap z^2/(z^2 + D): 0.140).

Measured (issue 11, d = 40, eps = 0.5, gamma = 0.4, teachers 0-3, n = 4000..64000, n_mc = 400000; largest error
of a seed-mean per-direction cos^2, against the mean of 16 data streams per teacher / against one stream; per-teacher
root mean square error against the 16 streams):
- g = id, stop 24 (true-input pool; (D4) on the exact M_perp, which 'auto' now takes for both estimators under this
  rule): paper 0.098 / 0.131 (rms 0.040), chaos 0.068 / 0.103 (rms 0.027); mean q_h within 0.059 / 0.028.
  The steps, 16 streams: paper 0.179 (stop 23) -> 0.182 (true-input pool) -> 0.098 (with (D4)); chaos 0.093 ->
  0.090 (exact M_perp, radial pool) -> 0.089 (true-input pool, semicircle M) -> 0.068 (both, and (D4)).
- stop 23 (radial pool, (D3) only), tanh paper, tanh chaos, id paper, id chaos: 0.064 / 0.081, 0.040 / 0.049,
  0.179 / 0.212, 0.093 / 0.101; rms 0.035, 0.021, 0.067, 0.032. For tanh no sample separates, so neither the
  pool nor (D4) changes it;
- 'soft' (the default): 0.037 / 0.070, 0.038 / 0.081, 0.111 / 0.110, 0.117 / 0.142; rms 0.026, 0.016, 0.061, 0.065.
So for g = id 'extremes' is the better rule for both estimators (and for the chaos estimator within the issue's
0.08 against 16 streams). What it still misses, for the paper estimator at n = 64000: the weak majority-side
directions 0.06-0.15 high per teacher (direction 3: 0.51 against 0.41). The simulated outer bulk on that side
holds more eigenvalues than the prediction (teacher 3, 6 streams, beyond 0.6 / 0.7 / 0.8: 11.8 / 5.5 / 3.2
simulated; 7.3 / 3.9 / 2.4 with (D3), 9.6 / 4.6 / 2.7 with (D4)): the rest is the quadratic form of the bulk's
own samples, which rule 'extremes+anisotropic' (`theory.anisotropic_bulk`) adds: there 0.058 (paper) and 0.056
(chaos) against 16 streams. For the chaos estimator the counts agree
(teacher 2, n = 64000, beyond 0.5 / 0.6 / 0.7 on the majority side: 9.3 / 3.8 / 1.8 simulated, 9.0 / 4.0 / 1.4
predicted with (D3)).

Pipeline layer: selection (`theory.PIPELINE`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .hermite_law import kappa, sample_weights
from .hermite_spikes import spike_function, spike_function_deriv
from .selection import TW1_MEAN, TW1_SD

__all__ = ["ExtremePool", "PoolSaturatedWarning", "extreme_pool", "pool_size", "PoolCache", "separation_weights",
           "separated_pool",
           "input_samples", "sample_directions", "quadratic_weights", "roots", "select_extremes", "DRAWS", "GRID",
           "POOL", "POOL_KEEP", "CANDIDATE", "CANDIDATES"]

DRAWS = 300  # Monte Carlo draws of the separated samples per n
GRID = 1200  # omega points per side, log-spaced from the edge outwards
POOL = 500_000  # Monte Carlo draws of true Hermite inputs for the separated samples, at least
POOL_KEEP = 2_500  # the most extreme of POOL kept per side (the same fraction, 0.5%, of a larger pool)
POOL_PER_N = 64  # beyond n = POOL / POOL_PER_N the pool grows with n ...
POOL_MAX = 64_000_000  # ... up to this many draws
CANDIDATE = 0.5  # (D4): pool samples beyond CANDIDATE x W* are tested for separation with their exact quadratic form
CANDIDATES = 4000  # ... at most this many per side (a stratified subsample of them beyond)
COARSE = 16  # (D4)'s roots: the grid's every COARSE-th point first, the full grid where the eigenvalue count changes


class PoolSaturatedWarning(RuntimeWarning):
    """The pool's whole kept tail of one side separates at this n: the rate of separated samples is underestimated
    (many samples separate; selection 'auto' then takes rule 'soft' at that n, `finite_size.model_at_n`)."""


@dataclass(frozen=True)
class ExtremePool:
    """The most extreme Monte Carlo samples of each side of the weight law: weights ``w`` (k,), their latent
    ``z`` (k, d1) (the coordinates of g on the directions, signed) and inputs ``x`` (k, d), ``keep`` of each side out of
    ``n_pool`` draws."""

    w: np.ndarray
    z: np.ndarray
    n_pool: int
    keep: int
    x: np.ndarray | None = None


def extreme_pool(config, lam, estimator: str, A, n_pool: int = POOL, keep: int = POOL_KEEP, seed: int = 0,
                 chunk: int = 1_000_000) -> ExtremePool:
    """`ExtremePool` of ``n_pool`` true Hermite inputs of the teacher with directions ``A`` (d1, D) and signed
    ``lam`` (`input_samples`, seeds seed, seed + 1, ... per chunk), weights by
    `hermite_law.sample_weights`. A pool of its own, larger than the label law's Monte Carlo: at d = 40, g = id,
    n = 64000 a sample separates with probability 6e-5, about 25 samples of the law's 400000, and the selection of
    the weakest directions follows that rate. True inputs, not the radial mixture's Gaussian z: h1 = A F(x) given s
    is not Gaussian in the far tail that the pool is made of (issue 11, stop 24, d = 40, g = id, chaos estimator:
    the largest per-direction error against 16 data streams 0.090 with the radial pool, 0.069 with true inputs)."""
    lam = np.asarray(lam, np.float64)
    ws, zs, xs = np.zeros(0), np.zeros((0, lam.size)), np.zeros((0, config.d))
    for k, start in enumerate(range(0, n_pool, chunk)):
        x, s, z, y = input_samples(config, lam, A, min(chunk, n_pool - start), seed + k)
        ws = np.concatenate([ws, sample_weights(y, s, config.d, estimator)])
        zs, xs = np.concatenate([zs, z]), np.concatenate([xs, x])
        order = np.argsort(ws, kind="stable")
        if ws.size > 2 * keep:
            order = np.concatenate([order[:keep], order[-keep:]])
        ws, zs, xs = ws[order], zs[order], xs[order]
    return ExtremePool(w=ws, z=zs, n_pool=n_pool, keep=keep, x=xs)


def input_samples(config, lam, A, n_mc: int, seed: int, chunk: int = 100_000):
    """(x, s, z, y) of true Hermite inputs x ~ N(0, I_d) from default_rng(seed): s = |x|^2/d, h1 = A F(x) exactly,
    as the quadratic forms h1_i = (x^T A_i x - tr A_i)/sqrt 2 (A_i the symmetric d x d matrix of row i of A, MODEL.md
    section 1), y = g(h2(h1)) + sigma xi, and z = U Gt / sqrt(kappa) the coordinates of the sample's Gt on the
    orthonormal directions U = A (rows orthonormal), Gt = (F - sqrt(d/2) (s - 1) e0)/s as in (W1) of
    `theory.hermite_law`:
        z_i = (h1_i - (s - 1) tr A_i / sqrt 2) / (s sqrt(kappa)).
    Unlike `hermite_law.radial_samples`, h1 keeps its exact (non-Gaussian) law given s, which matters in the far
    tails of W."""
    from hierarchical_model import make_link
    from hierarchical_model._validation import check_int

    from .remainder import symmetric_basis

    rng = np.random.default_rng(check_int("seed", seed, 0, 2**31 - 1))
    d, lam = config.d, np.asarray(lam, np.float64)
    Am = np.einsum("kD,Dij->kij", np.asarray(A, np.float64), symmetric_basis(d))
    trA = np.trace(Am, axis1=1, axis2=2)
    link = make_link(config.g)
    x = rng.standard_normal((n_mc, d))
    h1 = np.empty((n_mc, lam.size))
    At = Am.transpose(1, 0, 2).reshape(d, -1)  # (d, d1 d): one GEMM for all directions
    At32 = At.astype(np.float32)  # float32 product (4x faster; the pool is 4M+ draws), float64 contraction with x
    for a in range(0, n_mc, chunk):
        xb = x[a:a + chunk]
        Ax = (xb.astype(np.float32) @ At32).reshape(-1, lam.size, d)
        h1[a:a + chunk] = (np.einsum("nke,ne->nk", Ax, xb) - trA) / np.sqrt(2.0)
    s = np.sum(x * x, axis=1) / d
    y = np.asarray(link(((h1 * h1 - 1.0) @ lam) / np.sqrt(2.0)), np.float64)
    if config.sigma > 0:
        y = y + config.sigma * rng.standard_normal(n_mc)
    z = (h1 - np.outer(s - 1.0, trA) / np.sqrt(2.0)) / (s * np.sqrt(kappa(d)))[:, None]
    return x, s, z, y


def sample_directions(x, d: int) -> np.ndarray:
    """(k, D): each sample's Gt / sqrt(kappa) (the unit-covariance feature direction g of (W1)) in the feature basis
    of MODEL.md section 1, from its input x (k, d): (F(x) - sqrt(d/2) (s - 1) e0) / (s sqrt(kappa)), e0 = I/sqrt d."""
    x = np.asarray(x, np.float64)
    s = np.sum(x * x, axis=1) / d
    i, j = np.triu_indices(d)  # HermiteFeatures' multiset order
    diag = i == j
    # F(x) of q = 2 written out (x_i x_j, (x_i^2 - 1)/sqrt 2), in float64 and without a JAX compile per batch shape:
    # the pool's candidates come in a new count at every n (checked against HermiteFeatures.explicit in the tests)
    F = x[:, i] * x[:, j]
    F[:, diag] = (F[:, diag] - 1.0) / np.sqrt(2.0)
    e0 = np.where(diag, 1.0 / np.sqrt(d), 0.0)
    return (F - np.sqrt(d / 2.0) * (s - 1.0)[:, None] * e0) / (s * np.sqrt(kappa(d)))[:, None]


def pool_size(n: int) -> int:
    """Draws of the pool for n samples: max(POOL, POOL_PER_N n), at most POOL_MAX. Why: a pool of
    n_pool holds about (n_pool / n) x rate separated samples, and its rate's relative error is the inverse square
    root of that, so a pool proportional to n keeps that error the same at every n. Measured at d = 60, g = id,
    chaos, n = 325289, 4 teachers: the weakest direction's cos^2 0.785 with 4M draws (12 n), 0.830 with 16M (50 n;
    simulated 0.861); at d = 40, n = 64000, the 4M draws (62 n) of issue 11's table. Until stop 27 the pool had
    4M draws at every n; 64 n is as many at n = 64000 and 8-16 times fewer at the n of the tests (2000-8000)."""
    return int(min(max(POOL, POOL_PER_N * int(n)), POOL_MAX))


class PoolCache:
    """`extreme_pool` of one teacher, estimator and seed, drawn on first use and drawn again, larger, when an n needs
    more draws (`pool_size`). ``n_max``: the largest n it will be asked for, so that the first draw covers all of
    them (one pool per prediction instead of one per growing n); without it, a pool that must grow covers twice the
    n that asks (a scan up a grid of n draws at most about four times its last pool)."""

    def __init__(self, config, lam, estimator: str, seed: int, A, n_max: int = 0):
        self.args, self.seed, self.pool, self.n_max = (config, lam, estimator, A), seed, None, int(n_max)

    def get(self, n: int) -> ExtremePool:
        size = pool_size(max(n, self.n_max))
        if self.pool is not None and self.pool.n_pool < size:
            size = pool_size(max(2 * n, self.n_max))
        if self.pool is None or self.pool.n_pool < size:
            keep = POOL_KEEP * size // POOL
            self.pool = extreme_pool(*self.args, n_pool=size, keep=keep, seed=self.seed)
        return self.pool


def separation_weights(bulk, om_edges) -> tuple[float, float]:
    """(W*_left, W*_right): a sample separates from the bulk when its weight lies beyond W*_side = -1/(c m_M) at
    that side's edge ((M5) of `theory.hermite_bulk`)."""
    return tuple(float(-1.0 / (bulk.c * bulk.rem.st(oe))) for oe in om_edges)


def separated_pool(pool: ExtremePool, w_star: float, side: float, n: int, quad=None):
    """(W (k,), z (k, d1), rate, P): the pool's samples that separate on ``side`` and the expected number n P(separate)
    of such samples among n. Without ``quad``: those beyond ``w_star`` (a sample's quadratic form taken equal to its
    mean, (D3)); with ``quad`` = (omega_edge, mu (K,), vectors (D, K)) of the exact M_perp: those whose own pole lies
    beyond the edge, 1 + W q(omega_edge)/n <= 0 with q = sum_k p_k/(mu_k - omega) (D4), tested on the pool's samples
    beyond CANDIDATE x w_star; where there are more than CANDIDATES of them, on CANDIDATES spread evenly over their
    order in W (a stratified subsample, each standing for its share of the rate). P (k, K) their p_k (else None)."""
    beyond = side * pool.w > side * (w_star if quad is None else CANDIDATE * w_star)
    if quad is None:
        count = int(beyond.sum())
        if count >= pool.keep:
            warnings.warn(f"selection='extremes' at n={n}: more than the {pool.keep} most extreme of {pool.n_pool} pool "
                          "samples separate; their rate is underestimated", PoolSaturatedWarning, stacklevel=3)
        return pool.w[beyond], pool.z[beyond], n * count / pool.n_pool, None
    idx = np.flatnonzero(beyond)
    idx = idx[np.argsort(-side * pool.w[idx], kind="stable")]
    whole_side = idx.size >= pool.keep
    share = max(idx.size / CANDIDATES, 1.0)
    if idx.size > CANDIDATES:
        idx = idx[np.linspace(0, idx.size - 1, CANDIDATES).astype(int)]
    om_e, mu, vectors = quad
    P = quadratic_weights(pool.x[idx], vectors)
    sep = 1.0 + pool.w[idx] * (P @ (1.0 / (mu - om_e))) / n <= 0
    if whole_side and sep.size and sep[-1]:
        warnings.warn(f"selection='extremes' at n={n}: the least extreme of the {pool.keep} pool samples kept per side "
                      "separates; the rate of separated samples is underestimated", PoolSaturatedWarning, stacklevel=3)
    idx = idx[sep]
    return pool.w[idx], pool.z[idx], n * idx.size * share / pool.n_pool, P[sep]


def quadratic_weights(x, vectors) -> np.ndarray:
    """(k, K): p_k = (v_k . g)^2 for each sample's feature direction g (`sample_directions`) on the
    exact M_perp's eigenvectors v_k, so that its quadratic form is q(omega) = g^T (M_perp - omega)^-1 g =
    sum_k p_k/(mu_k - omega) (D4); sum_k p_k ~ D - d1 on average."""
    if x.shape[0] == 0:
        return np.zeros((0, vectors.shape[1]))
    d = x.shape[1]
    # float32 product over D terms (p_k ~ 1, error ~1e-6): twice the speed on the anisotropic body's 100000 samples
    return ((sample_directions(x, d).astype(np.float32) @ np.asarray(vectors, np.float32)) ** 2).astype(np.float64)


class _Side:
    """Everything of (D1)-(D2) that does not depend on a draw, on a grid of omega from one edge outwards."""

    def __init__(self, bulk, om_edge: float, side: float, grid: int):
        d1 = bulk.law.a.shape[0]
        self.side = side
        self.om = om_edge + side * np.geomspace(1e-9, 1e3, grid) * (1.0 + abs(om_edge))
        self.f = np.stack([spike_function(bulk, self.om, i) for i in range(d1)], axis=1)  # (G, d1)
        self.fp = np.stack([spike_function_deriv(bulk, self.om, i) for i in range(d1)], axis=1)
        self.mM, self.dmM = bulk.rem.st(self.om), bulk.rem.st(self.om, deriv=True)
        self.zeta, self.dzeta = bulk.zeta(self.om), bulk.dzeta(self.om)
        self.r = None if bulk.rem.vectors is None else 1.0 / (bulk.rem.mu[None, :] - self.om[:, None])  # (G, K)


def roots(sd: _Side, delta, W, Z, n: int, D: int, xi=None, P=None) -> tuple[np.ndarray, np.ndarray]:
    """(zeta (r,), overlaps (r, d1)): the eigenvalues of C beyond one edge, roots of (D1), and their (D2), for the
    separated samples (W (m,), Z (m, d1)) and the diagonal shifts ``delta`` (d1,). Each sample's quadratic form
    g_perp^T R g_perp: exact from its ``P`` (m, K) when given ((D4), with the exact M_perp of ``sd``), else D m_M plus
    ``xi`` (m,) standard normal fluctuations of variance 2 tr R^2 = 2 D m_M'/zeta' (D3)."""
    d1, m = sd.f.shape[1], W.size
    k = d1 + m
    H = np.zeros((sd.om.size, k, k))
    H[:, np.arange(d1), np.arange(d1)] = sd.f + delta
    if m:
        H[:, :d1, d1:] = Z.T
        H[:, d1:, :d1] = Z
        if P is not None:
            quad, dquad = sd.r @ P.T, (sd.r * sd.r) @ P.T
        else:
            quad, dquad = D * sd.mM[:, None], np.broadcast_to(D * sd.dmM[:, None], (sd.om.size, m))
            if xi is not None:
                quad = quad + np.sqrt(2.0 * D * sd.dmM / sd.dzeta)[:, None] * np.asarray(xi)[None, :]
        H[:, np.arange(d1, k), np.arange(d1, k)] = -(n / W[None, :] + quad)
    j, col, lo, hi = _sign_changes(H, sd.f + delta if not m else None, monotone=P is not None)
    if j.size == 0:
        return np.zeros(0), np.zeros((0, d1))
    t = lo / (lo - hi)  # linear interpolation between grid points j and j + 1

    def at(a):
        return a[j] + t.reshape((-1,) + (1,) * (a.ndim - 1)) * (a[j + 1] - a[j])

    Hr, fp, dz = at(H), at(sd.fp), at(sd.dzeta)
    ev, V = np.linalg.eigh(Hr)
    w = V[np.arange(j.size), :, np.argmin(np.abs(ev), axis=1)]  # null vectors (r, k)
    den = -np.sum(w[:, :d1] ** 2 * fp, axis=1)
    if m:
        den = den + np.sum(w[:, d1:] ** 2 * at(dquad), axis=1)
    return at(sd.zeta), np.clip(w[:, :d1] ** 2 * (dz / den)[:, None], 0.0, 1.0)


def _sign_changes(H, diag=None, monotone: bool = False, stride: int = COARSE):
    """(j, col, lam_j, lam_j+1): the grid points j after which the sorted eigenvalue ``col`` of H (G, k, k) changes
    sign, and its values at j and j + 1. ``diag`` (G, k): H is that diagonal (no samples). ``monotone``: H is
    monotone in omega (the exact quadratic form (D4): f_i' < 0, q' > 0, Z constant), so the number of negative
    eigenvalues is monotone along the grid and changes only inside the coarse intervals (every ``stride``-th point)
    whose ends differ: the same crossings as the full grid, from about a fifth of its eigenvalue problems."""
    if diag is not None:
        lam, fine = np.sort(diag, axis=1), None
    elif not monotone:
        lam, fine = np.linalg.eigvalsh(H), None
    else:
        G = H.shape[0]
        coarse = np.unique(np.r_[np.arange(0, G, stride), G - 1])
        neg = (np.linalg.eigvalsh(H[coarse]) < 0).sum(axis=1)
        changed = np.flatnonzero(neg[1:] != neg[:-1])
        if changed.size == 0:
            return (np.zeros(0, int),) * 2 + (np.zeros(0),) * 2
        fine = np.unique(np.concatenate([np.arange(coarse[a], coarse[a + 1] + 1) for a in changed]))
        lam = np.linalg.eigvalsh(H[fine])
    change = np.sign(lam[1:]) != np.sign(lam[:-1])
    if fine is not None:
        change &= (fine[1:] == fine[:-1] + 1)[:, None]  # neighbours on the full grid only
    j, col = np.nonzero(change)
    return (j if fine is None else fine[j]), col, lam[j, col], lam[j + 1, col]


def select_extremes(bulk, om_edges, n: int, D: int, pool: ExtremePool, cells: dict, overlap, mass, tw, *, fixed=None,
                    draws: int = DRAWS, grid: int = GRID, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Rule 'extremes' (module docstring) on ``bulk`` (`hermite_bulk.bulk_at`, with its edge omegas): the cells of
    `hermite_bulk.bulk_cells` (right side first), the overlap density (cells, d1), the eigenvalue count per cell
    ``mass`` (cells,) and the Tracy-Widom scales ``tw`` = (left, right); ``fixed``: further eigenvalues without overlap
    (M's spurious directions, `hermite_spikes.spurious_outliers`). Returns (P(selected) (d1,), cos^2 (d1,),
    info: expected separated samples per side and roots per draw)."""
    rng = np.random.default_rng(seed)
    fixed = np.abs(np.zeros(0) if fixed is None else np.asarray(fixed, np.float64))
    law = bulk.law
    d1 = law.a.shape[0]
    a2 = law.a2 if law.a2 is not None else 3.0 * (1.0 + law.a) ** 2 - 2.0 * law.a - 1.0
    sd1 = np.sqrt(np.maximum((law.w**2 * a2) @ law.p - ((law.w * law.a) @ law.p) ** 2, 0.0) / n)
    exact = bulk.rem.vectors is not None and pool.x is not None
    sides, pools = [], []
    for k, (side, w_star) in enumerate(zip((-1.0, 1.0), separation_weights(bulk, om_edges))):
        sides.append(_Side(bulk, om_edges[k], side, grid))
        quad = (om_edges[k], bulk.rem.mu, bulk.rem.vectors) if exact else None
        pools.append(separated_pool(pool, w_star, side, n, quad))
    n_half = cells["mid"].size // 2
    right = np.arange(cells["mid"].size) < n_half
    bulk_overlap = cells["dl"][:, None] * np.clip(overlap, 0.0, None)
    cos2, sel, tot, n_roots = np.zeros(d1), np.zeros(d1), np.zeros(d1), 0.0
    for _ in range(draws):
        delta = sd1 * rng.standard_normal(d1)
        eta = TW1_MEAN + TW1_SD * rng.standard_normal(2)
        cmag = np.abs(cells["mid"] + np.where(right, tw[1] * eta[1], -tw[0] * eta[0]))
        zs, ovs = [], []
        for sd, (W, Z, rate, P) in zip(sides, pools):
            m = rng.poisson(rate) if W.size else 0
            pick = rng.integers(0, W.size, m)
            xi = rng.standard_normal(m)
            z, ov = roots(sd, delta, W[pick], Z[pick], n, D, xi, None if P is None else P[pick])
            zs.append(z)
            ovs.append(ov)
        z, ov = np.concatenate(zs), np.concatenate(ovs)
        n_roots += z.size
        mags = np.concatenate([np.abs(z), cmag, fixed])
        masses = np.concatenate([np.ones(z.size), mass, np.ones(fixed.size)])
        order = np.argsort(-mags, kind="stable")
        before = np.cumsum(masses[order]) - masses[order]
        frac = np.empty(mags.size)
        frac[order] = np.clip((d1 - before) / np.maximum(masses[order], 1e-300), 0.0, 1.0)
        cos2 += frac[:z.size] @ ov + frac[z.size:z.size + cmag.size] @ bulk_overlap
        sel += frac[:z.size] @ ov
        tot += ov.sum(axis=0)
    prob = np.where(tot > 0, sel / np.maximum(tot, 1e-300), 0.0)
    info = {"separated": [p[2] for p in pools], "roots": n_roots / draws}
    return prob, np.clip(cos2 / draws, 0.0, 1.0), info
