"""The anisotropic bulk of the Hermite model, for selection rule 'extremes+anisotropic' (exact M_perp; issue 11,
HERMITE.md section 3).

Why. (M2) of `theory.hermite_bulk` takes each sample's quadratic form g^T (M_perp - omega)^-1 g equal to its trace
(conditional Gaussian equivalence). For the paper estimator, M_perp holds the Kronecker-sum part E[G] (+) E[G], and a
sample of large |W| has its feature direction g along that part's outer eigenvectors (|W| is large because some h1_i^2
is). Samples push the spectrum outward along the directions where they lie, so the outer bulk on the side of those
samples is fuller and wider than (M2) says. At d = 40, g = id, n = 64000 (teacher 3) the simulated spectrum has
11.8 / 5.5 / 3.2 eigenvalues beyond 0.6 / 0.7 / 0.8 on that side (6 streams), rule 'extremes' 9.6 / 4.6 / 2.7, and
its weak directions are 0.1-0.2 too high in cos^2 (direction 3: 0.16 predicted, 0.08 simulated): the eigenvalues they
lack take the last slots of Algorithm 1.

The model: the anisotropic deterministic equivalent. The resolvent of M_perp + (1/n) sum_mu W_mu g_mu g_mu^T
(less its mean, which M already holds) is taken diagonal in M_perp's eigenbasis v_k,
    R_k(zeta) = 1 / (mu_k - omega_k),
    omega_k = zeta + centre - Sigma_k + t m,  Sigma_k = E[W] - E[W^2 p_k (q/n) / (1 + W q/n)],  q = sum_j p_j R_j,  (A1)
with p_k = (v_k . g)^2 of each sample (`extreme_samples.quadratic_weights`) and the expectations over true Hermite
samples (`extreme_samples.input_samples`); t m is the chaos estimator's free semicircle, as in (M2). With p_k = 1
(q = sum_k R_k the same for every sample) Sigma_k is (M2)'s isotropic Sigma_iso. Checked against Monte Carlo (tests).

What the prediction uses (`AnisotropicBulk.remainder_at`). (A1) at its own solution equals (M2) on a shifted spectrum,
    1/(mu_k - omega_k) = 1/((mu_k + Sigma_k - Sigma_iso) - omega),   omega = zeta + centre - Sigma_iso + t m,       (A2)
so the eigenvalues of M_perp are shifted by Re(Sigma_k - Sigma_iso) (`eigenvalue_shifts`), read at zeta = edge + i ETA
of each (M2) edge (the right edge's shifts for the eigenvalues above M_perp's median, the left edge's below; two
rounds, each at the previous round's edges), and the whole of rule 'extremes' (bulk, outliers (M3)-(M4), M's spurious
eigenvalues, the separated samples (D1)-(D4)) runs on the shifted spectrum, the eigenvectors unchanged. Freezing the
shifts at the edges is exact there and first order away from them; the selection only looks at the outer bulk.
For the paper estimator, M_perp's spectrum first takes the shifts (K2) of `theory.kronecker_spread` (since stop 28):
the sample G's own spread of the Kronecker-sum part, a d-dimensional effect that (A1), a D-dimensional equivalent,
does not hold.

The samples: ``N_BULK`` true inputs for the body of the law (all but the POOL_KEEP / POOL fraction on each side),
``N_BODY`` of them kept at random with their share of the mass, and the rule's pool (`extreme_samples.PoolCache`)
for the tails: its ``N_TAIL`` most extreme samples of each side whole and as many at random from the rest of the
side. The eigenvalues are binned: the ``SINGLE`` outermost of each side alone, the others in ``GROUPS`` runs (R_k
averaged over a bin, p summed over it). Cost at d = 40: about 10 s per teacher for the body, 2-5 s per n.

Measured (issue 11, d = 40, eps = 0.5, gamma = 0.4, Hermite input, teachers 0-3; largest error of a seed-mean
per-direction cos^2 against the mean of 16 data streams per teacher / against one stream, the largest q_h error
against 16 streams in brackets). With (M1') of `theory.remainder` and, for the paper estimator, (K2) of
`theory.kronecker_spread` (stop 28):

| grid | tanh paper | tanh chaos | id paper | id chaos |
|---|---|---|---|---|
| n = 4k..64k (*) | 0.053 / 0.133 (0.017) | 0.036 / 0.057 (0.007) | 0.031 / 0.134 (0.007) | 0.051 / 0.108 (0.016) |
| alpha-grid (**) | 0.020 / 0.092 (0.008) | 0.055 / 0.082 (0.015) | 0.029 / 0.099 (0.008) | 0.052 / 0.123 (0.013) |
(*) n_mc = 400000; (**) n = d^alpha, alpha = 2.3..3.1 (n = 4839..92552), n_mc = 100000.

Without (K2) (stop 27) the paper estimator's rows were 0.052 / 0.087 (0.016) and 0.051 / 0.107 (0.022) on the first
grid, 0.095 / 0.128 (0.033) and 0.042 / 0.093 (0.023) on the second: minority-sign directions of tanh entered too
early (teacher 3, n = 21162, direction 4: 0.56 predicted, now 0.29, 16 streams 0.21; teacher 2, n = 44256, direction
3: 0.58, now 0.20, against 0.22), because the majority side held about 2 more eigenvalues within 0.01 of its edge
than the model: the sample G's spread (`theory.kronecker_spread`). A single stream's 4-seed mean has a sampling sd of
up to 0.09-0.14 on these grids, so the one-stream errors are mostly the stream's own; as the model nears the mean
over streams, some of them grow (tanh paper 0.087 -> 0.133 on the first grid, where stream 0 is 0.08 from the
16-stream mean). d = 60 (alpha-grid, n = 12296..325289, n_mc = 100000), one stream: tanh paper 0.031 (q_h 0.012;
0.034 without (K2)), id paper 0.121 (0.078 without (K2)), tanh chaos (stop 26) 0.109, id chaos (stop 27) 0.139, q_h
within 0.018; against 8 data streams per teacher (stop 28): tanh paper 0.025, tanh chaos 0.033, id paper 0.057, id
chaos 0.061, q_h within 0.014. The
one-stream 0.121 is teacher 3's minority-sign direction 6 at n = 325289: 0.88 on stream 0, recovered in 3 of 9
streams (mean 0.30), predicted 0.35 (0.50 without (K2)).
History: rule 'soft' (the default until stop 27) gives 0.136 / 0.154, 0.030 / 0.064, 0.127 / 0.144, 0.182 / 0.182 on
the first grid; rule 'extremes' alone 0.064 / 0.081 (tanh paper), 0.098 / 0.131 and 0.068 / 0.103 (g = id); with the
four-operator M of stops 14-25 this rule gave 0.132 / 0.130 (tanh paper), since M_perp's too wide edge moved it out
past a weak minority-sign outlier. The pool proportional to n and (D4)'s coarse root grid are stop 27's.
Cost: 3-5 times rule 'soft' (stop 27, 2 cores): at d = 20, 10 s against 3 s for three n up to 32000; at d = 40,
44 s against 10 s for five n up to 64000 (58 s before stop 27, when the pool had 4M draws at every n).

Pipeline layer: selection (`theory.PIPELINE`; it needs the samples of `theory.extreme_samples`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .extreme_samples import input_samples, quadratic_weights
from .hermite_bulk import bulk_at
from .hermite_law import sample_weights
from .kronecker_spread import KroneckerSpread

__all__ = ["AnisotropicBulk", "BulkSamples", "eigen_bins", "solve_omega", "solve_density", "eigenvalue_shifts",
           "N_BULK", "N_BODY", "N_TAIL", "SINGLE", "GROUPS", "ETA"]

N_BULK = 100_000  # true inputs for the body of the weight law
N_BODY = 16_000  # ... of which this many are kept, each with its share of the mass
N_TAIL = 2_000  # the pool's most extreme samples kept whole per side (and as many of the rest of the side at random)
SINGLE = 12  # M_perp's outermost eigenvalues on each side, each in its own bin
GROUPS = 40  # bins for the others
ETA = 0.004  # imaginary part of zeta where the density is read
ITERS = 400
MIX = 0.85  # damping of the fixed point (0.5: the same density within 1e-6, twice the iterations)
TOL = 1e-7


@dataclass(frozen=True)
class BulkSamples:
    """Weighted samples of the weight law: weights ``w`` (N,), their probability masses ``mass`` (N,, summing to 1)
    and p summed over M_perp's eigenvalue bins, ``p`` (N, B), with ``size`` (B,) eigenvalues per bin and the bin of
    each eigenvalue ``index`` (K,)."""

    w: np.ndarray
    mass: np.ndarray
    p: np.ndarray
    size: np.ndarray
    index: np.ndarray


def eigen_bins(K: int, single: int = SINGLE, groups: int = GROUPS) -> np.ndarray:
    """The bin of each of K eigenvalues in ascending order: the ``single`` outermost on each side alone, the rest in
    ``groups`` runs of consecutive eigenvalues."""
    if K <= 2 * single + groups:
        return np.arange(K)
    inner = np.array_split(np.arange(single, K - single), groups)
    index = np.empty(K, int)
    index[:single] = np.arange(single)
    for b, run in enumerate(inner):
        index[run] = single + b
    index[K - single:] = single + groups + np.arange(single)
    return index


def solve_omega(samples: BulkSamples, mu, centre: float, n: int, x, *, t: float = 0.0, isotropic: bool = False,
                eta: float = ETA, om0=None) -> np.ndarray:
    """omega_k of (A1) (module docstring), one per bin (B, G), at zeta = x + i eta for the real points ``x``;
    ``isotropic``: with p_k replaced by 1 ((M2) on the same samples). Damped fixed point from ``om0`` (x-shaped
    omega, e.g. (M2)'s) or zeta + centre - E[W]."""
    mu = np.asarray(mu, np.float64)
    size, index, w, mass = samples.size, samples.index, samples.w, samples.mass
    B, K = size.size, mu.size
    zeta = np.asarray(x, np.float64) + 1j * eta
    Ew = float(mass @ w)
    om = np.broadcast_to(zeta + centre - Ew if om0 is None else np.asarray(om0, np.complex128), (B, zeta.size)).copy()
    w2 = mass * w * w
    pw = (samples.p / size[None, :]).T * w2[None, :]  # (B, N): E[W^2 p_k .] per eigenvalue of each bin
    member = _member(samples)
    for _ in range(ITERS):
        Rb = member @ (1.0 / (mu[:, None] - om[index]))  # (B, G)
        if isotropic:  # one q for all samples: E[W^2 (q/n) / (1 + W q/n)] is the same for every bin
            se = np.broadcast_to(_self_energy_iso(samples, size @ Rb, n), Rb.shape)
        else:  # real products (the p are real): half the work of complex ones
            x_n = (samples.p @ Rb.real + 1j * (samples.p @ Rb.imag)) / n  # (N, G)
            f = x_n / (1.0 + w[:, None] * x_n)
            se = Ew - (pw @ f.real + 1j * (pw @ f.imag))
        new = zeta[None, :] + centre - se + t * ((size @ Rb) / K)[None, :]
        step = np.max(np.abs(new - om))
        om = (1.0 - MIX) * om + MIX * new
        if step < TOL * (1.0 + np.max(np.abs(om))):
            break
    return om


def _member(samples) -> np.ndarray:
    """(B, K): the mean over each bin's eigenvalues."""
    member = np.zeros((samples.size.size, samples.index.size))
    member[samples.index, np.arange(samples.index.size)] = 1.0 / samples.size[samples.index]
    return member


def _self_energy_iso(samples, q, n: int):
    """E[W] - E[W^2 (q/n) / (1 + W q/n)] for one q per point (G,) (the isotropic self-energy of (M2))."""
    w, w2 = samples.w, samples.mass * samples.w**2
    x_n = np.asarray(q)[None, :] / n
    return float(samples.mass @ w) - w2 @ (x_n / (1.0 + w[:, None] * x_n))


def solve_density(samples: BulkSamples, mu, centre: float, n: int, x, **kw) -> np.ndarray:
    """rho(x) of (A1) at the real points ``x``, normalised to 1 over M_perp's K eigenvalues ``mu`` (`solve_omega`)."""
    om = solve_omega(samples, mu, centre, n, x, **kw)
    Rb = _member(samples) @ (1.0 / (np.asarray(mu)[:, None] - om[samples.index]))
    return np.imag(samples.size @ Rb) / (np.pi * np.asarray(mu).size)


def eigenvalue_shifts(samples: BulkSamples, mu, centre: float, n: int, x, *, t: float = 0.0, eta: float = ETA,
                      om0=None) -> np.ndarray:
    """(B, G): Re (Sigma_k - Sigma_iso) of (A1) at its own solution, zeta = x + i eta, per bin: (A2)'s shift of M_perp's
    eigenvalues, from
        1/(mu_k - omega_k) = 1/((mu_k + Sigma_k - Sigma_iso) - omega),  omega = zeta + centre - Sigma_iso + t m,
    exact with the complex difference; its real part (what a spectrum can take) holds the outermost eigenvalues and
    overfills the inner part of the outer bulk a little (tests/theory/test_anisotropic_bulk.py)."""
    om = solve_omega(samples, mu, centre, n, x, t=t, eta=eta, om0=om0)
    Rb = _member(samples) @ (1.0 / (np.asarray(mu)[:, None] - om[samples.index]))
    q = samples.size @ Rb
    zeta = np.asarray(x, np.float64) + 1j * eta
    sigma = zeta[None, :] + centre + t * (q / np.asarray(mu).size)[None, :] - om
    return np.real(sigma - _self_energy_iso(samples, q, n)[None, :])


class AnisotropicBulk:
    """The samples of (A1) for one teacher, estimator and exact remainder ``rem`` (with its eigenvectors): the body of
    the weight law from ``N_BULK`` true inputs (``seed``), the tails from the pool of rule 'extremes' at each n; and
    the shifted remainder (A2) at each n (`remainder_at`), for the paper estimator after the Kronecker-sum spread
    (K2) of `theory.kronecker_spread` (from the same inputs; ``kronecker_spread=False`` leaves it out)."""

    def __init__(self, config, lam, A, estimator: str, rem, seed: int, kronecker_spread: bool = True):
        if rem.vectors is None:
            raise ValueError("the anisotropic bulk needs the exact M_perp's eigenvectors (remainder kind 'exact')")
        self.mu, self.vectors, self.seed = rem.mu, rem.vectors, seed
        self.index = eigen_bins(rem.mu.size)
        self.size = np.bincount(self.index).astype(np.float64)
        x, s, _, y = input_samples(config, lam, A, N_BULK, seed)
        self.body_w, self.body_p = sample_weights(y, s, config.d, estimator), self._binned(x)
        self._tails = {}
        # the sample G's spread of the Kronecker-sum part (theory.kronecker_spread); the chaos estimator has none
        self.kronecker = (KroneckerSpread(rem.EG, x, y, rem.vectors, seed + 5)
                          if kronecker_spread and estimator == "paper" and rem.EG is not None else None)

    def _binned(self, x) -> np.ndarray:
        onehot = np.zeros((self.index.size, self.size.size))
        onehot[np.arange(self.index.size), self.index] = 1.0
        return np.concatenate([quadratic_weights(x[a:a + 20_000], self.vectors) @ onehot
                               for a in range(0, x.shape[0], 20_000)] or [np.zeros((0, self.size.size))])

    def samples(self, pool) -> BulkSamples:
        """`BulkSamples`: the body (weights strictly between the pool's kept sides) and the pool's kept sides."""
        if pool.n_pool not in self._tails:
            rng = np.random.default_rng(self.seed + 1)
            keep = pool.keep
            w, p, mass = [], [], []
            for side in (np.arange(keep), np.arange(pool.w.size - 1, pool.w.size - 1 - keep, -1)):  # most extreme first
                rest = side[N_TAIL:]
                pick = np.sort(rng.choice(rest.size, min(N_TAIL, rest.size), replace=False))
                idx = np.concatenate([side[:N_TAIL], rest[pick]])
                w.append(pool.w[idx])
                p.append(self._binned(pool.x[idx]))
                mass.append(np.concatenate([np.full(min(N_TAIL, side.size), 1.0),
                                            np.full(pick.size, rest.size / max(pick.size, 1))]) / pool.n_pool)
            lo, hi = pool.w[keep - 1], pool.w[pool.w.size - keep]
            body = np.flatnonzero((self.body_w > lo) & (self.body_w < hi))
            body = body[np.sort(rng.choice(body.size, min(N_BODY, body.size), replace=False))]
            share = 1.0 - 2.0 * keep / pool.n_pool
            self._tails[pool.n_pool] = BulkSamples(
                w=np.concatenate([self.body_w[body]] + w), p=np.concatenate([self.body_p[body]] + p),
                mass=np.concatenate([np.full(body.size, share / body.size)] + mass), size=self.size, index=self.index)
        return self._tails[pool.n_pool]

    def remainder_at(self, n: int, D: int, law, rem, pool, rounds: int = 2):
        """``rem`` with M_perp's eigenvalues shifted by `eigenvalue_shifts` at the (M2) edges of n samples: the right
        edge's shifts for the eigenvalues above M_perp's median, the left edge's below; ``rounds`` times, each at the
        edges of the previous round's spectrum. For the paper estimator the spectrum they shift is M_perp's with the
        sample G's spread (K2) of `theory.kronecker_spread` at n (``kronecker_spread=False``: without it)."""
        smp = self.samples(pool)
        upper = self.mu > np.median(self.mu)
        base = self.mu if self.kronecker is None else self.mu + self.kronecker.shifts(n)
        out = replace(rem, mu=base, mean=float(base.mean()), var=float(base.var()))
        for _ in range(rounds):
            bulk = bulk_at(n, D, law, out)
            x = np.array(bulk.edges())
            om0 = bulk.solve(x + 1j * ETA)[1]
            d = eigenvalue_shifts(smp, base, bulk.law.centre, n, x, t=bulk.t, om0=om0)[self.index]  # (K, 2)
            mu = base + np.where(upper, d[:, 1], d[:, 0])
            out = replace(rem, mu=mu, mean=float(mu.mean()), var=float(mu.var()))
        return out
