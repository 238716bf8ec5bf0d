"""Shallow baselines: exact recovery of targets they can represent, the kernel formulas, the held-out ridge
choice, memory refusals, and the runner on shared data."""

import math

import numpy as np
import pytest

import hierarchical_model as hm
from hierarchical_model.baselines import HermiteRidge, KernelRidge, hermite_basis_size, run_baselines
from hierarchical_model.baselines.common import _best_ridge


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d))


def test_kernel_formulas():
    X1, X2 = _data(3, 4), _data(2, 4, 1)
    K = KernelRidge("polynomial", degree=3).gram(X1, X2)
    np.testing.assert_allclose(K[1, 0], (1 + X1[1] @ X2[0] / 4) ** 3)
    G = KernelRidge("gaussian").gram(X1, X2)
    np.testing.assert_allclose(G[2, 1], math.exp(-np.sum((X1[2] - X2[1]) ** 2) / 8))
    # rotation invariance: k(Qx, Qx') = k(x, x')
    Q, _ = np.linalg.qr(_data(4, 4, 2))
    np.testing.assert_allclose(KernelRidge("gaussian").gram(X1 @ Q.T, X2 @ Q.T), G)


def test_kernel_ridge_learns_a_polynomial_in_its_span():
    d, n = 4, 400
    X, Xt = _data(n, d), _data(500, d, 1)
    f = lambda X: X[:, 0] * X[:, 1] + 0.5 * (X[:, 2] ** 2 - 1)  # degree 2: inside the degree-2 kernel's span
    model = KernelRidge("polynomial", degree=2).fit(X, f(X))
    assert model.evaluate(Xt, f(Xt))["nmse"] < 1e-4
    assert model.ridge_ <= 1e-4  # noiseless: the held-out choice goes to a small ridge


def test_hermite_ridge_recovers_the_coefficients():
    d, n = 3, 600
    X, Xt = _data(n, d), _data(400, d, 1)
    P = hermite_basis_size(d, 2)
    assert P == 1 + 3 + 6
    true = np.random.default_rng(3).standard_normal(P)
    feats = lambda X: np.concatenate([np.ones((len(X), 1)), np.asarray(hm.HermiteFeatures(d, 1).explicit(X)),
                                      np.asarray(hm.HermiteFeatures(d, 2).explicit(X))], axis=1)
    y = feats(X) @ true
    model = HermiteRidge(max_degree=2, batch_size=128).fit(X, y)
    np.testing.assert_allclose(model.coef_, true, atol=2e-3)  # float32 features
    assert model.evaluate(Xt, feats(Xt) @ true)["nmse"] < 1e-5


def test_best_ridge_picks_the_held_out_minimiser():
    # 1-d problem: s = 1, rhs = 1 -> w(r) = 1/(1 + r); held-out error (w - 0.5)^2 is minimal at r = 1
    r, errs = _best_ridge(np.array([1.0]), np.eye(1), np.array([1.0]), np.array([0.0, 1.0, 10.0]), 1.0,
                          lambda w: (w[0] - 0.5) ** 2)
    assert r == 1.0 and errs[1] == pytest.approx(0.0)


def test_noisy_small_sample_chooses_a_larger_ridge():
    d, n = 4, 60
    X = _data(n, d)
    y = np.random.default_rng(5).standard_normal(n)  # pure noise: shrinking to 0 is best
    assert KernelRidge("polynomial", degree=4).fit(X, y).ridge_ >= 1.0


def test_rbf_bandwidth_is_the_median_pairwise_distance_of_the_fitted_part():
    X = _data(60, 3)
    model = KernelRidge("rbf").fit(X, X[:, 0])
    fit = X[np.arange(60) % 5 != 4]
    dist = [np.linalg.norm(a - b) for i, a in enumerate(fit) for b in fit[i + 1:]]
    assert model.bandwidth_ == pytest.approx(np.median(dist), rel=1e-6)  # |a|^2 + |b|^2 - 2ab round-off
    K = model.gram(X[:2], X[2:3])
    np.testing.assert_allclose(K[1, 0], math.exp(-np.sum((X[1] - X[2]) ** 2) / (2 * model.bandwidth_**2)))


def test_nystrom_on_every_fitted_sample_scores_ridges_like_the_exact_solve():
    # with the landmarks = the fitted samples, a = (K_ff^2 + n r K_ff)^-1 K_ff y = (K_ff + n r I)^-1 y: the same
    # held-out errors as the exact solve, ridge by ridge
    d, n = 3, 100
    X = _data(n, d)
    y = np.sin(X[:, 0]) + 0.1 * _data(n, 1, 7)[:, 0]
    ridges = (1e-3, 1e-2, 1e-1, 1.0)
    exact = KernelRidge("rbf", ridge_grid=ridges).fit(X, y)
    ny = KernelRidge("rbf", ridge_grid=ridges, memory_gb=220e3 / 2**30, n_landmarks=80).fit(X, y)  # exact: 240 kB
    assert exact.solver_ == "exact" and ny.solver_ == "nystrom" and ny.X_.shape == (80, d)
    np.testing.assert_allclose(ny.valid_errors_, exact.valid_errors_, rtol=1e-4)  # K^2 squares the conditioning
    Xt = _data(200, d, 2)
    assert ny.evaluate(Xt, np.sin(Xt[:, 0]))["nmse"] < 0.1


def test_memory_budget_nystrom_fallback_and_refusals_are_one_line():
    X = _data(200, 12)
    model = KernelRidge(memory_gb=1e-4).fit(X, X[:, 0])  # 200 x 200 arrays over budget: Nystrom on 57 landmarks
    assert model.solver_ == "nystrom" and model.X_.shape[0] == int(math.sqrt(1e-4 * 2**30 / 32))
    with pytest.raises(ValueError, match=r"n_landmarks=100 is too large for the memory budget"):
        KernelRidge(memory_gb=1e-4, n_landmarks=100).fit(X, X[:, 0])
    with pytest.raises(ValueError, match=r"d=12 is too large for Hermite ridge regression of degree 4.*memory budget"):
        HermiteRidge(4, memory_gb=1e-3).fit(X, X[:, 0])


@pytest.mark.parametrize("make, match", [
    (lambda: KernelRidge("laplace"), "kernel='laplace'"),
    (lambda: KernelRidge(bandwidth=0), "bandwidth=0"),
    (lambda: KernelRidge(ridge_grid=()), "ridge_grid=()"),
    (lambda: KernelRidge(memory_gb=0), "memory_gb=0.0"),
    (lambda: HermiteRidge(max_degree=0), "max_degree=0"),
])
def test_bad_parameters_are_stored_and_refused_by_fit(make, match):
    model = make()  # the scikit-learn contract: stored as given
    X = _data(40, 3)
    with pytest.raises(ValueError, match="^" + re_escape(match)) as err:
        model.fit(X, X[:, 0])
    assert "\n" not in str(err.value)


def re_escape(s):
    import re

    return re.escape(s)


def test_predict_before_fit_and_wrong_width():
    with pytest.raises(RuntimeError):
        KernelRidge().predict(_data(2, 3))
    m = HermiteRidge(2, batch_size=64).fit(_data(50, 3), _data(50, 1)[:, 0])
    with pytest.raises(ValueError, match="X has 4 columns"):
        m.predict(_data(2, 4))


@pytest.mark.slow
def test_run_baselines_shares_data_and_skips_refused_sizes():
    cfg = hm.TeacherConfig(d=5, q=2, gamma=0.4, g="id")
    recs = run_baselines(cfg, [100, 400], seed=1, n_test=300, memory_gb=3 * 8 * 300**2 / 2**30)
    by = {(r["method"], r["n"]): r for r in recs}
    assert set(by) == {(m, n) for m in ("hierarchical", "kernel", "kernel_hhat", "hermite_ridge") for n in (100, 400)}
    assert by[("kernel", 100)]["skipped"] == "" and by[("kernel", 100)]["solver"] == "exact"
    assert by[("kernel", 400)]["solver"] == by[("kernel_hhat", 400)]["solver"] == "nystrom"  # 400^2 arrays over budget
    capped = run_baselines(cfg, [100, 400], seed=1, n_test=300, methods=("kernel",), kernel_max_n=100)
    assert [r["n"] for r in capped] == [100]
    var = {r["var_y"] for r in recs if r["skipped"] == ""}
    assert max(var) - min(var) < 1e-6 * max(var)  # one test set for every method (learner sums in float32)
    # y = h2 is a degree-4 polynomial: ridge on all Hermite features of degree <= 4 (P = 126 < 400) is exact
    assert by[("hermite_ridge", 400)]["nmse"] < 1e-3
    with pytest.raises(ValueError, match="input_model"):
        run_baselines(hm.TeacherConfig(d=5, input_model="gaussian_equivalent"), [100], 0)


def test_the_learner_in_run_baselines_sees_exactly_the_kernels_samples():
    # the learner's record is fit(X[:n], y[:n]) on the same prefix (no extra validation stream)
    cfg = hm.TeacherConfig(d=6, q=2, gamma=0.4, g="id")
    rec = run_baselines(cfg, [300], seed=2, n_test=200, methods=("hierarchical",))[0]
    t = hm.Teacher(cfg, 2)
    X, y = (np.asarray(a, np.float64) for a in t.sample(300, "train", 2))
    Xt, yt = (np.asarray(a, np.float64) for a in t.sample(200, "test", 2))
    learner = hm.HierarchicalSpectralLearner(t.d1, 2, memory_gb=2.0).fit(X, y)
    assert rec["mse"] == pytest.approx(learner.evaluate(Xt, yt)["mse"], rel=1e-9)
    H = learner.latent_fields(Xt[:5])
    np.testing.assert_allclose(H, np.asarray(hm.HermiteFeatures(6, 2).explicit(Xt[:5])) @ learner.A_hat_.T, atol=1e-4)
