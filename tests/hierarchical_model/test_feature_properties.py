"""Property tests (hypothesis) of the feature map of MODEL.md section 1: shape, exact orthonormality under Gauss-Hermite
quadrature, permutation equivariance, the adjoint pair dot / rdot and the tensor identification v <-> T(v)."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.polynomial.hermite_e import hermegauss, hermeval

import hierarchical_model as hm

SETTINGS = settings(max_examples=25, deadline=None)


@SETTINGS
@given(kmax=st.integers(0, 10), x=st.lists(st.floats(-4, 4), min_size=1, max_size=6))
def test_hermite_he_is_the_normalised_probabilists_hermite(kmax, x):
    x = np.asarray(x)
    got = np.asarray(hm.hermite_he(x, kmax), np.float64)
    assert got.shape == (x.size, kmax + 1)
    for k in range(kmax + 1):
        want = hermeval(x, np.eye(k + 1)[k]) / math.sqrt(math.factorial(k))
        np.testing.assert_allclose(got[:, k], want, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(want).max()))


@SETTINGS
@given(kmax=st.integers(0, 10))
def test_hermite_he_is_orthonormal_under_gaussian_quadrature(kmax):
    # 12-point Gauss-Hermite (probabilists') integrates polynomials of degree <= 23 exactly against N(0, 1)
    z, w = hermegauss(12)
    w = w / w.sum()
    H = np.asarray(hm.hermite_he(z, kmax), np.float64)
    np.testing.assert_allclose(H.T @ (w[:, None] * H), np.eye(kmax + 1), atol=1e-10)


@SETTINGS
@given(d=st.integers(2, 3), q=st.integers(1, 3))
def test_features_are_exactly_orthonormal_under_product_quadrature(d, q):
    """E[F] = 0 (q >= 1) and E[F F^T] = I_D exactly: a product of two degree-q features has degree <= 2q <= 6
    in each coordinate, integrated exactly by the 4-point rule on every axis (float32 features: 1e-5)."""
    fm = hm.HermiteFeatures(d, q)
    z, w = hermegauss(4)
    w = w / w.sum()
    X = np.asarray(list(itertools.product(z, repeat=d)))
    W = np.prod(np.asarray(list(itertools.product(w, repeat=d))), axis=1)
    F = np.asarray(fm.explicit(X), np.float64)
    assert F.shape == (X.shape[0], math.comb(d + q - 1, q)) == (X.shape[0], fm.D)
    np.testing.assert_allclose(W @ F, 0.0, atol=1e-5)
    np.testing.assert_allclose(F.T @ (W[:, None] * F), np.eye(fm.D), atol=1e-5)


@SETTINGS
@given(d=st.integers(2, 5), q=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_features_are_permutation_equivariant(d, q, seed):
    """Permuting the coordinates of x permutes the features: F_S(x o pi) = F_{pi(S)}(x), pi(S) re-sorted."""
    rng = np.random.default_rng(seed)
    fm = hm.HermiteFeatures(d, q)
    pi = rng.permutation(d)
    X = rng.standard_normal((3, d)).astype(np.float32)
    position = {tuple(S): r for r, S in enumerate(fm.multisets)}
    image = [position[tuple(sorted(pi[S]))] for S in fm.multisets]
    np.testing.assert_allclose(np.asarray(fm.explicit(X[:, pi])), np.asarray(fm.explicit(X))[:, image], rtol=1e-6, atol=1e-6)


@pytest.mark.slow
@SETTINGS
@given(d=st.integers(2, 4), q=st.integers(2, 3), k=st.integers(1, 2), seed=st.integers(0, 2**31 - 1))
def test_dot_and_rdot_are_adjoint_and_match_the_explicit_features(d, q, k, seed):
    """<F V, W> = <V, F^T W>, and both equal the explicit products (the actions never form F)."""
    rng = np.random.default_rng(seed)
    fm = hm.HermiteFeatures(d, q)
    X = rng.standard_normal((5, d)).astype(np.float32)
    V = rng.standard_normal((fm.D, k)).astype(np.float32)
    W = rng.standard_normal((5, k)).astype(np.float32)
    FV, FtW = np.asarray(fm.dot(X, V), np.float64), np.asarray(fm.rdot(X, W), np.float64)
    F = np.asarray(fm.explicit(X), np.float64)
    scale = np.abs(F).max() * max(np.abs(V).max(), np.abs(W).max()) * fm.D
    np.testing.assert_allclose(FV, F @ V, atol=1e-5 * scale)
    np.testing.assert_allclose(FtW, F.T @ W, atol=1e-5 * scale)
    assert abs(np.sum(FV * W) - np.sum(V * FtW)) <= 1e-5 * scale * k * 5


@SETTINGS
@given(d=st.integers(2, 5), q=st.integers(2, 3), seed=st.integers(0, 2**31 - 1))
def test_tensor_identification_round_trips(d, q, seed):
    """T(v) has entries v_S sqrt(prod k!) / q! at every ordering of S; reading M_S / sqrt(prod k!) back gives v / q!,
    and T(v) is symmetric."""
    fm = hm.HermiteFeatures(d, q)
    V = np.random.default_rng(seed).standard_normal((fm.D, 2))
    T = np.asarray(fm.to_tensor(V, np.float64), np.float64)
    for perm in itertools.permutations(range(1, q + 1)):
        np.testing.assert_allclose(T, T.transpose((0,) + perm), atol=1e-12)
    np.testing.assert_allclose(math.factorial(q) * np.asarray(fm.from_tensor(T), np.float64), V, rtol=1e-12, atol=1e-12)
