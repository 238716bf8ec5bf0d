"""(D1)-(D2) of rule 'extremes' (`theory.extreme_samples`, issue 11): the separated samples as explicit spikes."""

import numpy as np
import pytest

import hierarchical_model as hm
from theory.extreme_samples import _Side, roots, separation_weights
from theory.finite_size import predict, selection_rule
from theory.hermite_bulk import Bulk, bulk_at
from theory.hermite_spikes import outliers
from theory.label_laws import atom_law, signed_lam
from theory.remainder import hermite_setup, zero_remainder
from theory.tails import tail_locations


def _hermite(g="id", est="chaos", d=20, n=8000, n_mc=40_000):
    cfg = hm.TeacherConfig(d=d, eps=0.5, gamma=0.4, g=g, input_model="hermite")
    law, rem = hermite_setup(cfg, signed_lam(cfg, None, 0), hm.Teacher(cfg, 0).A, est, n_mc, 0)
    return cfg, law, bulk_at(n, cfg.D, law, rem)


def test_without_separated_samples_the_roots_are_the_outliers():
    """m = 0, delta = 0: (D1) is diag f_i, its roots and (D2) are (M3)-(M4)'s outliers and cos^2 (to the grid's
    linear interpolation)."""
    cfg, law, bulk = _hermite("tanh", "paper", n=40_000)
    oe = bulk.edge_omegas()
    z, c2 = outliers(bulk, oe)
    assert np.isfinite(z).sum() >= 2
    found_z, found_c = [], []
    for k, side in enumerate((-1.0, 1.0)):
        r, ov = roots(_Side(bulk, oe[k], side, 1200), np.zeros(cfg.latent), np.zeros(0), np.zeros((0, cfg.latent)),
                      40_000, cfg.D)
        found_z.append(r)
        found_c.append(ov)
    r, ov = np.concatenate(found_z), np.concatenate(found_c)
    for i in np.flatnonzero(np.isfinite(z)):
        j = int(np.argmax(ov[:, i]))
        assert r[j] == pytest.approx(z[i], abs=2e-4) and ov[j, i] == pytest.approx(c2[i], abs=2e-3)
        assert np.sum(ov[:, i]) == pytest.approx(ov[j, i])  # diag H: each root belongs to one direction


def test_an_uncoupled_sample_sits_at_its_single_sample_location():
    """Z = 0: the sample's root is (T1) of `theory.tails`, with no overlap; beyond W* only."""
    cfg, law, bulk = _hermite(n=8000)
    oe = bulk.edge_omegas()
    w_star = separation_weights(bulk, oe)[1]
    W = np.array([1.5 * w_star])
    sd = _Side(bulk, oe[1], 1.0, 1200)
    r, ov = roots(sd, np.full(cfg.latent, -50.0), W, np.zeros((1, cfg.latent)), 8000, cfg.D)  # directions pushed away
    assert r.size == 1 and r[0] == pytest.approx(tail_locations(bulk, oe, W)[0], rel=1e-4) and np.all(ov == 0)
    r2, _ = roots(sd, np.full(cfg.latent, -50.0), 0.9 * np.array([w_star]), np.zeros((1, cfg.latent)), 8000, cfg.D)
    assert r2.size == 0


def test_a_planted_sample_and_its_overlap_match_monte_carlo():
    """Pure noise (weights +-1, M = 0), D = 300, n = 3000, one direction u without a spike and one planted sample of
    weight W0 = 1.5 W* whose Gaussian vector has u-component z0 = 7: (D1)'s root and (D2)'s overlap against the
    largest eigenvalue and its eigenvector's (u . psi)^2 in 100 simulations, within 4 standard errors of the simulated
    mean (plus 0.002 for the O(1/D) terms (D1) drops). Measured (200 simulations): root 0.7871 predicted, 0.7885 +-
    0.0028 simulated; overlap 0.1012, 0.1020 +- 0.0014. The test fails without the coupling (the uncoupled root
    (T1) is 0.729) or with the naive overlap z0^2/(z0^2 + D) = 0.140 in place of (D2)."""
    D, n, z0, reps = 300, 3000, 7.0, 100
    bulk = Bulk(D / n, atom_law(np.array([-1.0, 1.0]), np.array([0.5, 0.5]), np.zeros((1, 2))), zero_remainder(1))
    oe = bulk.edge_omegas()
    W0 = 1.5 * separation_weights(bulk, oe)[1]
    r, ov = roots(_Side(bulk, oe[1], 1.0, 2000), np.zeros(1), np.array([W0]), np.array([[z0]]), n, D)
    assert r.size == 1
    rng = np.random.default_rng(0)
    w = np.repeat([-1.0, 1.0], n // 2)
    top, overlap = [], []
    for _ in range(reps):
        g = rng.standard_normal((n, D))
        g0 = np.concatenate([[z0], rng.standard_normal(D - 1)])  # u = e_0
        ev, V = np.linalg.eigh((g * w[:, None]).T @ g / n + (W0 / n) * np.outer(g0, g0))
        top.append(ev[-1])
        overlap.append(V[0, -1] ** 2)
    for pred, sim in ((r[0], top), (ov[0, 0], overlap)):
        se = np.std(sim) / np.sqrt(reps)
        assert abs(np.mean(sim) - pred) < 4 * se + 0.002, (pred, np.mean(sim), se)


def test_extremes_rule_is_hermite_only_and_reproducible():
    """'extremes' is refused for the Gaussian-equivalent model in one line; for the Hermite model its cos^2 lie in
    [0, 1], repeat exactly, and at n where no sample separates (tanh) agree with 'soft' where every outlier is kept."""
    ge = hm.TeacherConfig(d=10, gamma=0.4, g="id", input_model="gaussian_equivalent")
    with pytest.raises(ValueError, match="selection='extremes' is not allowed for input_model='gaussian_equivalent'"):
        selection_rule(ge, "extremes")
    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="id", input_model="hermite")
    a = predict(cfg, [4000, 40_000], seed=0, n_mc=20_000, with_mse=False, estimator="chaos", selection="extremes")
    b = predict(cfg, [4000, 40_000], seed=0, n_mc=20_000, with_mse=False, estimator="chaos", selection="extremes")
    assert a.meta["selection"] == "extremes" and np.all((a.cos2 >= 0) & (a.cos2 <= 1))
    np.testing.assert_array_equal(a.cos2, b.cos2)
    th = hm.TeacherConfig(d=20, gamma=0.4, g="tanh", input_model="hermite")
    ext = predict(th, [400_000], seed=0, n_mc=20_000, with_mse=False, selection="extremes")
    soft = predict(th, [400_000], seed=0, n_mc=20_000, with_mse=False)
    np.testing.assert_allclose(ext.cos2, soft.cos2, atol=0.02)


def test_extreme_pool_keeps_the_most_extreme_samples_with_their_z():
    """`extreme_pool` in chunks: the `keep` smallest and largest weights of all draws (chunk k from seed + k), each
    with its own z."""
    from theory.extreme_samples import extreme_pool
    from theory.hermite_law import radial_samples, sample_weights

    cfg = hm.TeacherConfig(d=20, eps=0.5, gamma=0.4, g="id", input_model="hermite")
    lam = signed_lam(cfg, None, 0)
    pool = extreme_pool(cfg, lam, "chaos", n_pool=3000, keep=100, seed=5, chunk=1000)
    draws = [radial_samples(cfg, lam, 1000, 5 + k) for k in range(3)]
    w = np.concatenate([sample_weights(y, s, cfg.d, "chaos") for s, _, y in draws])
    z = np.concatenate([zz for _, zz, _ in draws])
    order = np.argsort(w, kind="stable")
    ends = np.concatenate([order[:100], order[-100:]])
    np.testing.assert_array_equal(pool.w, w[ends])
    np.testing.assert_array_equal(pool.z, z[ends])
    assert pool.n_pool == 3000 and pool.keep == 100


def test_pool_grows_with_n_and_is_drawn_once_per_size(monkeypatch):
    """`pool_size` = max(POOL, POOL_PER_N n) up to POOL_MAX; `PoolCache` keeps its pool for the n it covers and
    draws a larger one (the same fraction kept) for a larger n."""
    import theory.extreme_samples as es

    assert es.pool_size(1000) == es.POOL and es.pool_size(10**9) == es.POOL_MAX
    assert es.pool_size(325_289) == es.POOL_PER_N * 325_289
    monkeypatch.setattr(es, "POOL", 4000)
    monkeypatch.setattr(es, "POOL_KEEP", 20)
    monkeypatch.setattr(es, "POOL_PER_N", 2)
    monkeypatch.setattr(es, "POOL_MAX", 10_000)
    cfg = hm.TeacherConfig(d=20, eps=0.5, gamma=0.4, g="id", input_model="hermite")
    cache = es.PoolCache(cfg, signed_lam(cfg, None, 0), "paper", seed=3)
    first = cache.get(1000)
    assert first.n_pool == 4000 and first.keep == 20 and first.w.size == 40 and cache.get(2000) is first
    bigger = cache.get(3000)
    assert bigger.n_pool == 6000 and bigger.keep == 30 and cache.get(1000) is bigger
    assert cache.get(10**6).n_pool == 10_000
