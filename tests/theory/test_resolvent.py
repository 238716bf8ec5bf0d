"""The label-weighted Marchenko-Pastur law of theory.resolvent against closed forms and simulated spectra."""

import numpy as np
import pytest

import hierarchical_model as hm
from theory.label_laws import atom_law, label_law
from theory.resolvent import bulk_edges, bulk_mass_beyond, density, stieltjes, z_of_x


def mp_density(x, c):
    """Marchenko-Pastur density of (1/n) G^T G (ratio c < 1) at x, edges (1 -+ sqrt c)^2."""
    a, b = (1 - np.sqrt(c)) ** 2, (1 + np.sqrt(c)) ** 2
    inside = (x > a) & (x < b)
    return np.where(inside, np.sqrt(np.clip((b - x) * (x - a), 0, None)) / (2 * np.pi * c * x), 0.0)


@pytest.mark.parametrize("c", [0.1, 0.3, 0.7])
def test_all_ones_labels_give_marchenko_pastur_shifted_by_minus_one(c):
    law = atom_law(np.array([1.0]))
    left, right = bulk_edges(c, law)
    assert left == pytest.approx((1 - np.sqrt(c)) ** 2 - 1, abs=1e-9)
    assert right == pytest.approx((1 + np.sqrt(c)) ** 2 - 1, abs=1e-9)
    x = np.linspace(left - 0.2, right + 0.2, 41)
    np.testing.assert_allclose(density(x, c, law), mp_density(x + 1.0, c), atol=2e-4)
    # closed-form Stieltjes transform of MP at a point off the axis, shifted by -1
    z = 0.3 + 0.2j
    zs = z + 1.0
    m_mp = (1 - c - zs + np.sqrt((zs - 1 - c) ** 2 - 4 * c + 0j)) / (2 * c * zs)
    m_mp = m_mp if m_mp.imag > 0 else (1 - c - zs - np.sqrt((zs - 1 - c) ** 2 - 4 * c + 0j)) / (2 * c * zs)
    assert stieltjes(np.array([z]), c, law)[0] == pytest.approx(m_mp, abs=1e-10)
    assert bulk_mass_beyond(0.0, c, law)[0] == pytest.approx(1.0, abs=1e-3)


def test_symmetric_labels_with_small_c_give_the_semicircle():
    # w = +-1: m = 1/(-z - c m/(1 - c^2 m^2)) -> semicircle of variance c as c -> 0; corrections are O(c)
    c = 0.004
    law = atom_law(np.array([-1.0, 1.0]))
    r = 2 * np.sqrt(c)
    left, right = bulk_edges(c, law)
    assert right == pytest.approx(r, rel=3 * c) and left == pytest.approx(-r, rel=3 * c)
    x = np.linspace(-0.9 * r, 0.9 * r, 15)
    semi = np.sqrt(r**2 - x**2) / (2 * np.pi * c)
    np.testing.assert_allclose(density(x, c, law), semi, rtol=0.03)


def test_edges_are_the_critical_points_of_the_inverse_map():
    law = atom_law(np.random.default_rng(0).uniform(-0.5, 1.5, 300))
    c = 0.25
    left, right = bulk_edges(c, law)
    # just outside an edge the density vanishes, just inside it does not
    out, inn = 1e-3 * (right - left), 1e-2 * (right - left)
    rho = density(np.array([left - out, left + inn, right - inn, right + out]), c, law)
    assert rho[0] < 1e-4 and rho[3] < 1e-4 and rho[1] > 0.02 and rho[2] > 0.02
    # z(x) is above the right edge on both sides of the critical point
    xs = np.linspace(1e-3, 0.6, 200)
    assert np.min(z_of_x(xs, c, law)) >= right - 1e-9


def test_stieltjes_solution_matches_the_spectrum_of_a_simulated_noise_matrix():
    """ESD of C = (1/n) sum w (g g^T - I) against the predicted CDF. The w law fed to the theory is the
    empirical law of the same n labels, so the remaining error is the finite-D one: O(1/D) for the
    bulk CDF, O(D^(-2/3)) for the extreme eigenvalues (Tracy-Widom scale)."""
    rng = np.random.default_rng(1)
    D, n = 400, 1600
    c = D / n
    w = rng.choice([-0.6, 0.2, 1.4], size=n, p=[0.3, 0.5, 0.2])
    G = rng.standard_normal((n, D))
    C = (G * w[:, None]).T @ G / n - w.mean() * np.eye(D)
    ev = np.linalg.eigvalsh(C)
    vals, counts = np.unique(w, return_counts=True)
    law = atom_law(vals, counts)
    left, right = bulk_edges(c, law)
    assert abs(ev[0] - left) < 3 * D ** (-2 / 3) and abs(ev[-1] - right) < 3 * D ** (-2 / 3)
    grid = np.linspace(left, right, 801)
    mid = 0.5 * (grid[1:] + grid[:-1])
    cdf = np.concatenate([[0.0], np.cumsum(density(mid, c, law) * np.diff(grid))])
    emp = np.searchsorted(ev, grid) / D
    assert np.max(np.abs(cdf - emp)) < 6.0 / D


def test_label_law_of_the_model_has_the_first_order_spike_moments():
    """E[w (h1_i^2 - 1)] = sqrt(2) lambda_i exactly for g = id; Var w = sum lambda^2 = 1."""
    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="id", input_model="gaussian_equivalent")
    lam = hm.Teacher(cfg, 0).lam
    law = label_law(cfg, lam, n_mc=100_000, seed=3)
    tol = 5 * np.sqrt(8.0 / 100_000)  # sd of the Monte Carlo mean of w (h^2 - 1): sqrt(E[w^2 (h^2-1)^2]/n_mc)
    np.testing.assert_allclose(law.a @ (law.w * law.p), np.sqrt(2) * lam, atol=tol)
    assert law.expect(law.w**2) == pytest.approx(1.0, abs=tol)
    # truncation to n samples' range keeps the bulk of the mass
    tr = law.truncated(1000)
    assert tr.w.max() < law.w.max() and tr.p.sum() == pytest.approx(1.0)
