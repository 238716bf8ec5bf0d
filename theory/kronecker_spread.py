"""The spread of the paper estimator's Kronecker-sum part by the sample's own G (issue 11, HERMITE.md section 2).

Why. The paper estimator's C holds G (+) G, V -> G V + V G, with the *sample* G = (1/n) sum_mu y_mu (x_mu x_mu^T - I)
(d x d), exactly (the per-sample identity C = C_chaos + G (+) G). The structured remainder M ((M1') of
`theory.remainder`) holds its mean E[G] (+) E[G]. Around that mean, G fluctuates by a d x d matrix Delta of entries of
order 1/sqrt(n); its eigenvalues spread like those of a deformed Wigner matrix, the outermost outwards, and the
Kronecker sum doubles the spread: its eigenvalues are g_a + g_b. That is a d-dimensional effect, coherent over the d
eigenvectors v_a (x) v_b of each g_a, which the D-dimensional deterministic equivalent of the bulk ((M2) of
`theory.hermite_bulk`, (A1) of `theory.anisotropic_bulk`, self-energies read at the bulk's edge, far from the
Kronecker part's own gaps) does not see. At d = 40, tanh, teacher 3, n = 21162 (stop 28, 4 data streams): the
sample G's outer eigenvalues are -0.065 / 0.100 against E[G]'s -0.049 / 0.084; the simulated C has 4.5 eigenvalues
beyond 0.36 (3 of them outliers), and 3.0 when the sample's G (+) G is replaced by E[G] (+) E[G].

The model. Delta is Gaussian (a sum of n independent terms) with the covariance of the single-sample term
y (x x^T - I) over true Hermite inputs; draws of it are Gaussian multiplier sums over those inputs,
    Z_r = N^-1/2 sum_j xi_rj (y_j (x_j x_j^T - I) - E[G]),    xi_rj ~ N(0, 1),    Delta = Z_r / sqrt(n),
drawn once (the same Z_r at every n). The spread of G's spectrum at n is
    delta_g(n) = E_r[sorted eig(E[G] + Z_r / sqrt n)] - eig(E[G]),                                            (K1)
paired with E[G]'s eigenvectors in order, and M_perp's eigenvalue mu_k moves to first order by
    delta_k(n) = <V_k, K V_k + V_k K> = 2 sum_a delta_g_a(n) Q_ka,   K = sum_a delta_g_a v_a v_a^T,
    Q_ka = sum_b (v_a^T V_k v_b)^2,                                                                            (K2)
V_k the symmetric d x d matrix of M_perp's eigenvector k (`theory.remainder.symmetric_basis`); sum_a Q_ka = 1. So an
eigenvector of E[G] (+) E[G], v_a (x) v_b, moves by delta_g_a + delta_g_b. The eigenvectors stay; as with (A2), only the
outer part of the spectrum matters for the selection. The chaos estimator has no Kronecker-sum part: no shift.

Used by rule 'extremes+anisotropic' (`AnisotropicBulk.remainder_at`): the shifts (K2) are added to M_perp's spectrum
before (A2)'s. Measured in `theory.anisotropic_bulk`'s docstring (at d = 40, tanh, paper estimator, the alpha-grid's
largest per-direction error against 16 data streams 0.095 -> 0.020). Checked: (K1) against sample G's of true Hermite
data, (K2) against the Kronecker sum's exact quadratic form (tests/theory/test_kronecker_spread.py). Cost: about 1 s
per teacher at d = 40 (64 draws from 25000 inputs), no measurable change of a prediction's. Not applied: rule 'soft'
and the other rules (where D > EXACT_MAX_D, M is a semicircle and n ~ d^alpha makes the spread, of order sqrt(d/n),
smaller).

Pipeline layer: bulk (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

from .remainder import symmetric_basis

__all__ = ["KroneckerSpread", "DRAWS", "N_COV"]

DRAWS = 64  # Gaussian draws of Delta: the mean outermost eigenvalue to about 0.1 of its sd
N_COV = 25_000  # true inputs whose single-sample terms give Delta's covariance


class KroneckerSpread:
    """(K1)-(K2) for one teacher: ``EG`` (d, d), M's E[G] (`theory.remainder.Remainder.EG`, n_mc samples); the draws
    Z_r from the inputs ``x`` (N, d) and labels ``y`` (N,) (the first ``N_COV`` of them); the weights Q (K, d) of
    M_perp's eigenvectors ``vectors`` (D, K) (feature basis). E[G] is M's own rather than these inputs' mean: a mean of
    N_COV samples is itself spread like a sample G of that size (at d = 40, tanh, outermost eigenvalues 0.093
    against 0.084)."""

    def __init__(self, EG, x, y, vectors, seed: int, draws: int = DRAWS, n_cov: int = N_COV):
        x, y = np.asarray(x, np.float64)[:n_cov], np.asarray(y, np.float64)[:n_cov]
        N, d = x.shape
        self.EG = np.asarray(EG, np.float64)
        self.g, Vg = np.linalg.eigh(self.EG)
        xi = np.random.default_rng(seed).standard_normal((draws, N))
        mean = (x * y[:, None]).T @ x / N - y.mean() * np.eye(d)  # centring: the covariance of these samples' terms
        Z = np.empty((draws, d, d))
        for r in range(draws):  # sum_j xi_j (y_j (x_j x_j^T - I) - mean) without an (N, d, d) array
            w = xi[r] * y
            Z[r] = (x * w[:, None]).T @ x - w.sum() * np.eye(d) - xi[r].sum() * mean
        self.Z = Z / np.sqrt(N)
        Vk = np.einsum("Dk,Dij->kij", np.asarray(vectors, np.float64), symmetric_basis(d))
        W = np.einsum("ia,kij,jb->kab", Vg, Vk, Vg, optimize=True)  # V_k in E[G]'s eigenbasis
        self.Q = np.sum(W * W, axis=2)  # (K, d)

    def spread(self, n: int) -> np.ndarray:
        """delta_g(n) of (K1), (d,) in E[G]'s ascending eigenvalue order."""
        return np.linalg.eigvalsh(self.EG[None] + self.Z / np.sqrt(n)).mean(axis=0) - self.g

    def shifts(self, n: int) -> np.ndarray:
        """delta_k(n) of (K2), (K,): the first-order move of each eigenvalue of M_perp."""
        return 2.0 * self.Q @ self.spread(n)
