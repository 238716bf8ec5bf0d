"""The target (MODEL.md section 1): normalisations, links, streams, reproducibility."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import hierarchical_model as hm
from hierarchical_model.links import gaussian_expectation


def test_spike_weights_normalisation():
    lam = hm.spike_weights(6, 0.4)
    assert np.sum(lam**2) == pytest.approx(1.0)
    z_gamma = np.sum(np.arange(1, 7) ** -0.8) ** -0.5
    np.testing.assert_allclose(lam, z_gamma * np.arange(1, 7) ** -0.4)
    assert hm.latent_dim(40, 0.5) == 6 and hm.latent_dim(100, 0.5) == 10


def test_links_centred_and_nu1():
    tanh = hm.make_link("tanh")
    assert tanh.mean == pytest.approx(0.0, abs=1e-9)
    # nu_1 = E[g'(Z)] = E[1 - tanh(Z)^2], an independent quadrature of the derivative
    assert tanh.nu1 == pytest.approx(gaussian_expectation(lambda z: 1 - np.tanh(z) ** 2), rel=1e-8)
    relu = hm.make_link("relu")
    assert relu.mean == pytest.approx(1 / math.sqrt(2 * math.pi), abs=2e-4)
    assert relu.nu1 == pytest.approx(0.5, abs=2e-4)
    quad = hm.make_link("quad")  # z^2 + z - 1: E = 0, E[Z g] = E[Z^3 + Z^2 - Z] = 1, E[g^2] = 3 + 1 + 1 - 2 = 3
    assert (quad.mean, quad.nu1, quad.second_moment) == pytest.approx((0.0, 1.0, 3.0), abs=1e-9)
    ident = hm.make_link("id")
    assert (ident.nu1, ident.second_moment) == pytest.approx((1.0, 1.0))
    cubic = hm.make_link(lambda z: z**3 + 1.0)  # user callable: centred numerically, nu_1 = E[3 Z^2] = 3
    assert cubic.mean == pytest.approx(1.0) and cubic.nu1 == pytest.approx(3.0)
    assert float(cubic(jnp.asarray(0.0))) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("a_kind", ["orthonormal", "gaussian"])
def test_teacher_parameters(a_kind):
    t = hm.Teacher(hm.TeacherConfig(d=20, eps=0.5, gamma=0.6, a_kind=a_kind), seed=5)
    assert t.A.shape == (4, 210) and t.lam.shape == (4,)
    assert np.sum(t.lam**2) == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(t.lam), hm.spike_weights(4, 0.6), rtol=1e-12)  # signs times the magnitudes
    if a_kind == "orthonormal":
        np.testing.assert_allclose(t.A @ t.A.T, np.eye(4), atol=1e-12)
    else:  # N(0, 1/D) entries: squared row norms ~ chi2_D / D
        assert np.all(np.abs(np.sum(t.A**2, 1) - 1) < 6 * math.sqrt(2 / 210))


def test_signs_are_fair_independent_coins():
    """z_i = +-1 with probability 1/2, independently across directions and seeds (MODEL.md section 1): over 60 seeds
    x 16 directions the fraction of + signs, and of equal neighbours z_i = z_(i+1), are each within 5 standard errors
    of 1/2 (a sign stuck at +, or one shared by all directions, fails by > 20 standard errors)."""
    z = np.array([np.sign(hm.Teacher(hm.TeacherConfig(d=10, d1=16), s).lam) for s in range(60)])
    assert set(np.unique(z)) == {-1.0, 1.0}
    for fraction, count in (((z > 0).mean(), z.size), ((z[:, 1:] == z[:, :-1]).mean(), z[:, 1:].size)):
        assert abs(fraction - 0.5) < 5 * math.sqrt(0.25 / count), fraction


@pytest.mark.parametrize("input_model", ["hermite", "gaussian_equivalent"])
def test_labels_follow_the_formula(input_model):
    """y = g(h2), h2 = sum_i lambda_i (h1_i^2 - 1)/sqrt(2), h1 = A F(x), recomputed in float64."""
    cfg = hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model=input_model)
    t = hm.Teacher(cfg, seed=1)
    X, y = t.sample(300)
    X = np.asarray(X, np.float64)
    F = X if input_model == "gaussian_equivalent" else np.asarray(hm.HermiteFeatures(12, 2).explicit(X), np.float64)
    h1 = F @ t.A.T
    h2 = (h1**2 - 1) @ t.lam / math.sqrt(2)
    np.testing.assert_allclose(np.asarray(y), np.tanh(h2), rtol=2e-4, atol=2e-5)


def test_latent_fields_are_white_monte_carlo():
    """E[h1 h1^T] = A A^T = I for both input models (within 5 standard errors), and Var(h2) = 1 exactly in
    the Gaussian-equivalent model (h1 ~ N(0, I): Var((h^2-1)/sqrt 2) = 1, sum lambda^2 = 1)."""
    N = 60_000
    for model in ["hermite", "gaussian_equivalent"]:
        t = hm.Teacher(hm.TeacherConfig(d=10, d1=3, g="id", input_model=model), seed=2)
        X, y = t.sample(N)
        h1 = np.asarray(t.latent_fields(X), np.float64)
        cov = h1.T @ h1 / N
        se = np.sqrt(np.maximum((h1**2).T @ h1**2 / N - cov**2, 1e-12) / N)
        assert np.abs((cov - np.eye(3)) / se).max() < 5
        if model == "gaussian_equivalent":
            y = np.asarray(y, np.float64)
            # chi-square-based interval for the variance of a non-Gaussian sum: use the sample kurtosis
            se_var = math.sqrt((np.mean(y**4) - np.mean(y**2) ** 2) / N)
            assert abs(np.var(y) - 1.0) < 5 * se_var


def test_label_noise_variance():
    t0 = hm.Teacher(hm.TeacherConfig(d=8, d1=2, g="id", input_model="gaussian_equivalent"), seed=3)
    t1 = hm.Teacher(hm.TeacherConfig(d=8, d1=2, g="id", sigma=0.5, input_model="gaussian_equivalent"), seed=3)
    X0, y0 = t0.sample(50_000)
    X1, y1 = t1.sample(50_000)
    np.testing.assert_array_equal(np.asarray(X0), np.asarray(X1))
    noise = np.asarray(y1, np.float64) - np.asarray(y0, np.float64)
    lo, hi = stats.chi2.ppf([1e-4, 1 - 1e-4], len(noise)) / len(noise) * 0.25
    assert lo < np.var(noise) < hi


@pytest.mark.slow
def test_streams_are_reproducible_nested_and_independent():
    t = hm.Teacher(hm.TeacherConfig(d=10), seed=4)
    Xa, ya = t.sample(1000)
    Xb, yb = t.sample(1000)
    np.testing.assert_array_equal(np.asarray(Xa), np.asarray(Xb))
    Xc, _ = t.sample(600)  # a prefix of the longer stream: nested grids are exact prefixes
    np.testing.assert_array_equal(np.asarray(Xc), np.asarray(Xa)[:600])
    Xchunk, _ = t.chunks("train", 2, 1)  # any chunk regenerated alone equals its slice of the stream
    np.testing.assert_array_equal(np.asarray(Xchunk), np.asarray(Xa)[512:768])
    Xt, _ = t.sample(1000, stream="test")
    assert not np.allclose(np.asarray(Xt), np.asarray(Xa))
    Xs, _ = t.sample(1000, seed=5)
    assert not np.allclose(np.asarray(Xs), np.asarray(Xa))
    t2 = hm.Teacher(hm.TeacherConfig(d=10), seed=5)
    assert not np.allclose(t2.A, t.A)


def test_authors_conventions_preset():
    # d1 = round(d^eps) (14^0.5 = 3.74: MODEL.md's floor gives 3)
    assert hm.TeacherConfig(d=14, eps=0.5).latent == 3
    cfg = hm.TeacherConfig(d=14, eps=0.5, gamma=0.4, g="tanh", conventions="authors")
    assert cfg.latent == 4 and cfg.to_dict()["conventions"] == "authors"
    assert "conventions" not in hm.TeacherConfig(d=14).to_dict()  # MODEL.md's dicts (and sweep hashes) unchanged
    t = hm.Teacher(cfg, seed=3)
    X, y = t.sample(20000)
    y = np.asarray(y, np.float64)
    # their h2_a = sum_i b_i (h1_i^2 - 1), b_i = d1^(2 gamma - 1) z_i i^(-gamma) for 0 < gamma <= 1/2, no 1/sqrt(2);
    # labels (tanh(h2_a) - m) / s: an exact affine function of tanh(h2_a), standardised
    i = np.arange(1, 5)
    b = 4 ** (2 * 0.4 - 1) * np.sign(t.lam) * i**-0.4
    h1 = np.asarray(t.latent_fields(X), np.float64)
    ref = np.tanh((h1**2 - 1) @ b)
    slope, icpt = np.polyfit(ref, y, 1)
    assert np.max(np.abs(y - (slope * ref + icpt))) < 1e-5
    tol = 5 / np.sqrt(y.size)  # the pilot's 65,536 samples and these 20,000 are independent
    assert abs(y.mean()) < tol and abs(y.std() - 1) < 2 * tol
    with pytest.raises(ValueError, match="conventions='paper'"):
        hm.TeacherConfig(conventions="paper")
