"""(K1)-(K2) of `theory.kronecker_spread` (issue 11): the sample G's spread of the paper estimator's Kronecker-sum part."""

import numpy as np

import hierarchical_model as hm
from theory.extreme_samples import input_samples
from theory.kronecker_spread import KroneckerSpread
from theory.remainder import operator_coef, symmetric_basis


def _kronecker_sum(G, d):
    """V -> G V + V G in the feature basis (D, D), as `theory.compare.simulate_hermite` subtracts it."""
    P = symmetric_basis(d).reshape(-1, d * d)
    return P @ (np.kron(G, np.eye(d)) + np.kron(np.eye(d), G)) @ P.T


def test_first_order_shift_is_the_kronecker_sums_quadratic_form():
    """(K2): 2 sum_a delta_g_a Q_ka = v_k^T (K (+) K) v_k, K = sum_a delta_g_a v_a v_a^T, for any unit v_k; on the
    symmetrised v_a (x) v_b it is delta_g_a + delta_g_b. A wrong sqrt 2 of the off-diagonal basis, or a missing factor
    2 of the two Kronecker terms, fails."""
    d, rng = 7, np.random.default_rng(3)
    D = d * (d + 1) // 2
    EG = rng.standard_normal((d, d))
    EG = (EG + EG.T) / 2
    g, Vg = np.linalg.eigh(EG)
    basis = symmetric_basis(d)
    a, b = 1, 5
    pair = (np.outer(Vg[:, a], Vg[:, b]) + np.outer(Vg[:, b], Vg[:, a])) / np.sqrt(2.0)
    vectors = np.concatenate([np.linalg.qr(rng.standard_normal((D, 4)))[0],
                              np.einsum("ij,Dij->D", pair, basis)[:, None]], axis=1)
    x = rng.standard_normal((500, d))
    ks = KroneckerSpread(EG, x, rng.standard_normal(500), vectors, seed=0, draws=4)
    dg = ks.spread(300)
    K = Vg @ np.diag(dg) @ Vg.T
    assert np.allclose(2.0 * ks.Q @ dg, np.einsum("Dk,DE,Ek->k", vectors, _kronecker_sum(K, d), vectors), atol=1e-12)
    assert np.isclose(ks.shifts(300)[-1], dg[a] + dg[b], atol=1e-12)
    assert np.allclose(ks.Q.sum(axis=1), 1.0)


def test_spread_matches_the_sample_gs_eigenvalues():
    """(K1) against sample G's of true Hermite data (d = 12, tanh, n = 3000, 48 draws): E[sorted eig(G)] - eig(E[G])
    of the outermost three per side within 4 standard errors of the draws' mean (plus E[G]'s own Monte Carlo error,
    ~0.1 of the spread). The outermost one's spread is over 5 standard errors, so (K1) = 0 (M's E[G] alone) fails,
    and so does a Delta of twice the variance."""
    cfg = hm.TeacherConfig(d=12, eps=0.5, gamma=0.4, g="tanh")
    t = hm.Teacher(cfg, 1)
    lam, A = np.asarray(t.lam), np.asarray(t.A)
    n, reps = 3000, 48
    EG = operator_coef(cfg, lam, A, 400_000, 0).EG
    x, _, _, y = input_samples(cfg, lam, A, 25_000, 7)
    ks = KroneckerSpread(EG, x, y, np.eye(cfg.D)[:, :3], seed=1)
    sims = []
    for r in range(reps):
        xs, _, _, ys = input_samples(cfg, lam, A, n, 1000 + r)
        G = (xs * ys[:, None]).T @ xs / n - ys.mean() * np.eye(cfg.d)
        sims.append(np.linalg.eigvalsh(G) - ks.g)
    sims = np.array(sims)
    sim, se = sims.mean(0), sims.std(0, ddof=1) / np.sqrt(reps)
    outer = np.r_[0:3, -3:0]
    pred = ks.spread(n)
    assert np.all(np.abs(sim[[0, -1]]) > 5 * se[[0, -1]])
    tol = 4 * se[outer] + 0.1 * np.abs(sim[outer])
    assert np.all(np.abs(pred[outer] - sim[outer]) < tol), (pred[outer], sim[outer], se[outer])
    # Delta's variance: the spread of the outermost eigenvalues grows like its sd; twice the variance is off
    wrong = np.linalg.eigvalsh(ks.EG[None] + np.sqrt(2.0) * ks.Z / np.sqrt(n)).mean(axis=0) - ks.g
    assert np.any(np.abs(wrong[outer] - sim[outer]) > 4 * se[outer] + 0.1 * np.abs(sim[outer]))
