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


def test_extremes_rule_is_hermite_only_and_reproducible(monkeypatch):
    """'extremes' is refused for the Gaussian-equivalent model in one line; for the Hermite model its cos^2 lie in
    [0, 1], repeat exactly, and at n where no sample separates (tanh) agree with 'soft' where every outlier is kept."""
    ge = hm.TeacherConfig(d=10, gamma=0.4, g="id", input_model="gaussian_equivalent")
    with pytest.raises(ValueError, match="selection='extremes' is not allowed for input_model='gaussian_equivalent'"):
        selection_rule(ge, "extremes")
    import theory.extreme_samples as es

    monkeypatch.setattr(es, "POOL", 500_000)  # a smaller pool: this test is about the rule, not its Monte Carlo size
    monkeypatch.setattr(es, "POOL_PER_N", 1)
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
    with its own z and input x."""
    from theory.extreme_samples import extreme_pool, input_samples
    from theory.hermite_law import sample_weights

    cfg = hm.TeacherConfig(d=20, eps=0.5, gamma=0.4, g="id", input_model="hermite")
    lam, A = signed_lam(cfg, None, 0), hm.Teacher(cfg, 0).A
    pool = extreme_pool(cfg, lam, "chaos", A, n_pool=3000, keep=100, seed=5, chunk=1000)
    draws = [input_samples(cfg, lam, A, 1000, 5 + k) for k in range(3)]
    w = np.concatenate([sample_weights(y, s, cfg.d, "chaos") for _, s, _, y in draws])
    z = np.concatenate([zz for _, _, zz, _ in draws])
    x = np.concatenate([xx for xx, _, _, _ in draws])
    order = np.argsort(w, kind="stable")
    ends = np.concatenate([order[:100], order[-100:]])
    np.testing.assert_array_equal(pool.w, w[ends])
    np.testing.assert_array_equal(pool.z, z[ends])
    np.testing.assert_array_equal(pool.x, x[ends])
    assert pool.n_pool == 3000 and pool.keep == 100


def test_input_samples_are_the_teachers_own_samples():
    """`extreme_samples.input_samples`: h1 = A F(x) by quadratic forms equals the feature map's, y equals the teacher's
    labels on the same x, and z is each sample's g = Gt/sqrt(kappa) (`sample_directions`) on the directions, with
    A F = s sqrt(kappa) z + sqrt(d/2) (s - 1) (A e0) (W1). |g|^2 = |Gt|^2/kappa = (d - 1)(d + 2)/2 = D - 1 for every sample."""
    from theory.extreme_samples import input_samples, sample_directions
    from theory.hermite_law import kappa

    cfg = hm.TeacherConfig(d=12, eps=0.5, gamma=0.4, g="id", input_model="hermite")
    t = hm.Teacher(cfg, 0)
    A = np.asarray(t.A, np.float64)
    x, s, z, y = input_samples(cfg, t.lam, A, 4000, 3)
    F = np.asarray(hm.HermiteFeatures(cfg.d, 2).explicit(x), np.float64)
    i, j = np.triu_indices(cfg.d)
    e0 = np.where(i == j, 1.0 / np.sqrt(cfg.d), 0.0)
    np.testing.assert_allclose(s[:, None] * np.sqrt(kappa(cfg.d)) * z + np.sqrt(cfg.d / 2) * np.outer(s - 1, A @ e0), F @ A.T,
                               atol=2e-5)
    np.testing.assert_allclose(y, np.asarray(t.labels_noiseless(x), np.float64), atol=1e-4)
    g = sample_directions(x, cfg.d)
    np.testing.assert_allclose(g @ A.T, z, atol=2e-5)
    np.testing.assert_allclose(np.sum(g * g, axis=1), cfg.D - 1, rtol=1e-5)


def test_exact_quadratic_form_places_a_sample_aligned_with_m():
    """(D4): a planted sample whose feature direction g lies mostly along the outer eigenvectors of a deterministic
    M_perp (pure noise +-1, D = 300, n = 3000, M_perp = diag(linspace(-0.3, 0.3)), weight 1.3 W*, u-component 5).
    With g's variance 8 on M's top 20 eigenvectors (|g|^2 = D - 1) the exact quadratic form q = sum_k p_k/(mu_k - omega)
    puts the root at the simulated largest eigenvalue (measured: 0.8382 against 0.8413 +- 0.0020, overlap with u
    0.0322 against 0.0320 +- 0.0008), where the mean D m_M of (D3) puts it at 0.787; with g off those eigenvectors
    both are at the simulation (0.7821, 0.7868 against 0.7802). Tolerance: 4 standard errors of 60 simulations
    plus 0.003."""
    from theory.remainder import Remainder

    D, n, reps, z0 = 300, 3000, 60, 5.0
    K = D - 1
    mu = np.linspace(-0.3, 0.3, K)
    rem = Remainder(kind="exact", Mii=np.zeros(1), mu=mu, b=np.zeros((1, K)), mean=0.0, var=float(mu.var()),
                    vectors=np.vstack([np.zeros(K), np.eye(K)]))
    bulk = Bulk(D / n, atom_law(np.array([-1.0, 1.0]), np.array([0.5, 0.5]), np.zeros((1, 2))), rem)
    oe = bulk.edge_omegas()
    W0 = 1.3 * separation_weights(bulk, oe)[1]
    sd = _Side(bulk, oe[1], 1.0, 2000)
    rng = np.random.default_rng(1)
    M = np.diag(np.concatenate([[0.0], mu]))
    w = np.repeat([-1.0, 1.0], n // 2)
    r_mean, _ = roots(sd, np.zeros(1), np.array([W0]), np.array([[z0]]), n, D)
    for top_var in (0.0, 8.0):
        gp = rng.standard_normal(K)
        gp[-20:] *= np.sqrt(top_var)
        gp *= np.sqrt(K) / np.linalg.norm(gp)
        r, ov = roots(sd, np.zeros(1), np.array([W0]), np.array([[z0]]), n, D, P=gp[None, :] ** 2)
        assert r.size == 1
        g0 = np.concatenate([[z0], gp])
        top, overlap = [], []
        for _ in range(reps):
            g = rng.standard_normal((n, D))
            ev, V = np.linalg.eigh(M + (g * w[:, None]).T @ g / n + (W0 / n) * np.outer(g0, g0))
            top.append(ev[-1])
            overlap.append(V[0, -1] ** 2)
        for pred, sim in ((r[0], top), (ov[0, 0], overlap)):
            se = np.std(sim) / np.sqrt(reps)
            assert abs(np.mean(sim) - pred) < 4 * se + 0.003, (top_var, pred, np.mean(sim), se)
        if top_var:
            assert np.mean(top) - r_mean[0] > 0.04  # the mean quadratic form misses it


def test_exact_quadratic_form_with_mean_weights_is_the_mean_form():
    """(D4) with p_k = D/K for every k (q = D m_M exactly) gives (D3)'s roots and overlaps without fluctuation."""
    cfg, law, bulk = _hermite("id", "paper", n=16_000)
    assert bulk.rem.vectors is not None
    oe = bulk.edge_omegas()
    K = bulk.rem.mu.size
    for k, side in enumerate((-1.0, 1.0)):
        sd = _Side(bulk, oe[k], side, 1200)
        W = np.array([1.6, 2.5]) * separation_weights(bulk, oe)[k]
        Z = np.random.default_rng(k).standard_normal((2, cfg.latent)) * 3
        a = roots(sd, np.zeros(cfg.latent), W, Z, 16_000, cfg.D)
        b = roots(sd, np.zeros(cfg.latent), W, Z, 16_000, cfg.D, P=np.full((2, K), cfg.D / K))
        assert a[0].size >= 2
        np.testing.assert_allclose(b[0], a[0], rtol=1e-10)
        np.testing.assert_allclose(b[1], a[1], rtol=1e-8, atol=1e-12)


def test_pool_grows_with_n_and_is_drawn_once_per_size(monkeypatch):
    """`pool_size` = max(POOL, POOL_PER_N n) up to POOL_MAX; `PoolCache` keeps its pool for the n it covers and
    draws a larger one (the same fraction kept) for a larger n, covering twice that n; with ``n_max`` its first pool
    covers n_max."""
    import theory.extreme_samples as es

    assert es.pool_size(1000) == es.POOL and es.pool_size(10**9) == es.POOL_MAX
    assert es.pool_size(325_289) == es.POOL_PER_N * 325_289 and es.POOL_KEEP / es.POOL == 0.005
    monkeypatch.setattr(es, "POOL", 4000)
    monkeypatch.setattr(es, "POOL_KEEP", 20)
    monkeypatch.setattr(es, "POOL_PER_N", 2)
    monkeypatch.setattr(es, "POOL_MAX", 100_000)
    cfg = hm.TeacherConfig(d=20, eps=0.5, gamma=0.4, g="id", input_model="hermite")
    args = (cfg, signed_lam(cfg, None, 0), "paper")
    cache = es.PoolCache(*args, seed=3, A=hm.Teacher(cfg, 0).A)
    first = cache.get(1000)
    assert first.n_pool == 4000 and first.keep == 20 and first.w.size == 40 and cache.get(2000) is first
    bigger = cache.get(3000)
    assert bigger.n_pool == 12_000 and bigger.keep == 60 and cache.get(1000) is bigger and cache.get(6000) is bigger
    assert cache.get(10**6).n_pool == 100_000
    assert es.PoolCache(*args, seed=3, A=hm.Teacher(cfg, 0).A, n_max=3000).get(1000).n_pool == 6000


def test_coarse_sign_changes_are_the_full_grids_for_a_monotone_h():
    """`_sign_changes` with ``monotone`` (every COARSE-th grid point, then the full grid inside the coarse intervals
    where the number of negative eigenvalues changes) finds the same crossings with the same values as the full grid,
    for H(omega) = C + diag(a - omega b), b > 0 (decreasing in the Loewner order, as (D1) with (D4)), including two
    roots one grid step apart; and it finds none where the count does not change."""
    from theory.extreme_samples import COARSE, _sign_changes

    rng = np.random.default_rng(0)
    k, G = 7, 1200
    om = np.linspace(0.0, 1.0, G)
    a = np.r_[rng.uniform(0.05, 0.95, k - 2), 0.5, 0.5 + 1.2 / G]
    C = rng.normal(0.0, 0.05, (k, k))
    C = np.triu(C, 1) + np.triu(C, 1).T
    H = C[None] + np.einsum("gk,kl->gkl", a[None, :] - om[:, None], np.eye(k))
    full = _sign_changes(H)
    fast = _sign_changes(H, monotone=True)
    assert full[0].size == k and COARSE > 1
    for x, y in zip(full, fast):
        np.testing.assert_array_equal(x, y)
    none = _sign_changes(H[:3] + 10.0 * np.eye(k), monotone=True)
    assert all(v.size == 0 for v in none)


def test_auto_selection_takes_soft_where_the_pool_saturates():
    """At n = 100 < D = 210 (d = 20, g = id, chaos estimator) the pool's whole kept tail separates: rule
    'extremes+anisotropic' says so (`PoolSaturatedWarning`), and the default selection 'auto' takes rule 'soft' (on the
    same law and exact M) at that n without a warning, and 'extremes+anisotropic' at n = 1600."""
    import warnings

    from theory.extreme_samples import PoolSaturatedWarning

    cfg = hm.TeacherConfig(d=20, eps=0.5, gamma=0.4, g="id", input_model="hermite")
    kw = dict(seed=0, n_mc=40_000, estimator="chaos", with_mse=False)
    with pytest.warns(PoolSaturatedWarning):
        predict(cfg, [100], selection="extremes+anisotropic", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PoolSaturatedWarning)
        auto = predict(cfg, [100, 1600], **kw)
    soft = predict(cfg, [100], selection="soft", remainder="exact", **kw)
    xa = predict(cfg, [1600], selection="extremes+anisotropic", **kw)
    assert auto.meta["selection"] == "extremes+anisotropic" and auto.meta["selection_saturated"] == "soft"
    np.testing.assert_array_equal(auto.cos2[0], soft.cos2[0])
    np.testing.assert_allclose(auto.cos2[1], xa.cos2[0], atol=1e-12)
