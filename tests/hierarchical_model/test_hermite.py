"""Hermite features (MODEL.md section 1): exact values, Monte Carlo orthonormality, matrix-free actions."""

import math

import jax
import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermeval

import hierarchical_model as hm
from hierarchical_model.hermite import feature_dim


def brute_force_features(X, multisets):
    """F_S(x) = prod_j He_{k_j}(x_j)/sqrt(k_j!) computed entry by entry with numpy's Hermite_e."""
    F = np.ones((X.shape[0], len(multisets)))
    for r, S in enumerate(multisets):
        for j, k in zip(*np.unique(S, return_counts=True)):
            F[:, r] *= hermeval(X[:, j], np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))
    return F


@pytest.mark.parametrize("q", [2, 3, 4])
def test_explicit_features_match_the_definition(q):
    fm = hm.HermiteFeatures(5, q)
    assert fm.D == math.comb(5 + q - 1, q) == len(fm.multisets)
    X = np.random.default_rng(0).standard_normal((9, 5)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(fm.explicit(X)), brute_force_features(X.astype(np.float64), fm.multisets),
                               rtol=1e-5, atol=1e-5)


def test_q2_closed_forms_of_model_md():
    """F_ii = (x_i^2 - 1)/sqrt(2), F_ij = x_i x_j, and F.v = (x^T V x - tr V)/sqrt(2)."""
    d = 4
    fm = hm.HermiteFeatures(d, 2)
    x = np.array([[0.3, -1.2, 2.0, 0.7]], np.float32)
    F = np.asarray(fm.explicit(x))[0]
    for r, (i, j) in enumerate(fm.multisets):
        want = (x[0, i] ** 2 - 1) / math.sqrt(2) if i == j else x[0, i] * x[0, j]
        assert F[r] == pytest.approx(want, rel=1e-6, abs=1e-6)
    v = np.random.default_rng(1).standard_normal(fm.D)
    V = np.zeros((d, d))
    for r, (i, j) in enumerate(fm.multisets):
        V[i, j] = V[j, i] = v[r] if i == j else v[r] / math.sqrt(2)
    want = (x[0] @ V @ x[0] - np.trace(V)) / math.sqrt(2)
    assert float(np.asarray(fm.dot(x, v[:, None]))[0, 0]) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("q,d", [(2, 6), (3, 4)])
def test_features_are_orthonormal_monte_carlo(q, d):
    """E[F] = 0 and E[F F^T] = I: every entry within 5.5 standard errors (estimated from the samples)."""
    N = 200_000
    fm = hm.HermiteFeatures(d, q)
    X = np.asarray(jax.random.normal(jax.random.key(3), (N, d)), np.float32)
    F = np.asarray(fm.explicit(X), np.float64)
    mean_z = F.mean(0) / (F.std(0) / math.sqrt(N))
    assert np.abs(mean_z).max() < 5.5
    second = F.T @ F / N
    # standard error of each entry of E[F_a F_b] from the sample variance of F_a F_b
    se = np.sqrt(np.maximum((F**2).T @ F**2 / N - second**2, 1e-12) / N)
    z = (second - np.eye(fm.D)) / se
    assert np.abs(z).max() < 5.5
    # the test has teeth: without the 1/sqrt(k_j!) factors, E[F_S^2] = prod_j k_j! lands far outside
    fact = np.array([np.prod([math.factorial(c) for c in np.unique(S, return_counts=True)[1]]) for S in fm.multisets])
    wrong = fact > 1
    assert np.min(np.abs(np.diag(second)[wrong] * fact[wrong] - 1) / (np.diag(se)[wrong] * fact[wrong])) > 20


@pytest.mark.parametrize("q,d", [(2, 7), (3, 5)])
def test_matrix_free_actions_equal_explicit_products(q, d):
    fm = hm.HermiteFeatures(d, q)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((33, d)).astype(np.float32)
    V = rng.standard_normal((fm.D, 4)).astype(np.float32)
    W = rng.standard_normal((33, 4)).astype(np.float32)
    F = np.asarray(fm.explicit(X), np.float64)
    np.testing.assert_allclose(np.asarray(fm.dot(X, V)), F @ V, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(fm.rdot(X, W)), F.T @ W, rtol=1e-4, atol=1e-4)


def test_feature_dim():
    assert feature_dim(40, 2) == 820 and feature_dim(40, 3) == 11480 and feature_dim(200, 2) == 20100
