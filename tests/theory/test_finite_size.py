"""Spectral-method outliers/overlaps and the finite-size predictions against simulated matrices and runs."""

import json

import numpy as np
import pytest

import hierarchical_model as hm
from theory.compare import simulate_first_layer
from theory.hermite_signal import hermite_signal_matrix
from theory.finite_size import finite_size_thresholds, mse_from_overlaps, predict
from theory.ge_finite import predict_n
from theory.label_laws import compress_samples, label_law
from theory.spikes import outlier, spike_strength


def _single_spike_labels(rng, h, a):
    """w = tanh(a (h^2 - 1)/sqrt 2 + xi/2): correlated with the spike through h^2, plus independent label noise."""
    return np.tanh(a * (h**2 - 1) / np.sqrt(2) + 0.5 * rng.standard_normal(h.shape))


@pytest.mark.parametrize("a", [1.5, -1.5])
def test_outlier_and_overlap_match_a_simulated_single_spike_matrix(a):
    """C = (1/n) sum w (g g^T - I) with w depending on h = <u, g>, u = e_1: the extreme eigenvalue on the spike's
    side and its eigenvector's cos^2 against (S1)-(S2). Fluctuations: the outlier ~ sqrt(2 E[w^2]/n) = 0.02,
    cos^2 ~ 1/sqrt(D) = 0.06 per matrix; averaged over 4 matrices the tolerances below are ~3 sd."""
    rng = np.random.default_rng(7)
    D, n, reps = 300, 1500, 4
    c = D / n
    hm_ = rng.standard_normal(200_000)
    law = compress_samples(_single_spike_labels(rng, hm_, a), hm_**2 - 1, 300)
    z_pred, cos2_pred = outlier(c, law, 0)
    assert np.isfinite(z_pred) and np.sign(z_pred) == np.sign(a)
    zs, cs = [], []
    for _ in range(reps):
        G = rng.standard_normal((n, D))
        w = _single_spike_labels(rng, G[:, 0], a)
        ev, V = np.linalg.eigh((G * w[:, None]).T @ G / n - w.mean() * np.eye(D))
        j = -1 if a > 0 else 0
        zs.append(ev[j])
        cs.append(V[0, j] ** 2)
    assert np.mean(zs) == pytest.approx(z_pred, abs=0.03)
    assert np.mean(cs) == pytest.approx(cos2_pred, abs=0.08)
    # the outlier is not the additive spike: the label-spike correlation pushes it beyond theta
    assert abs(z_pred) > abs(spike_strength(law)[0])


def test_prediction_matches_simulated_cos2_per_direction_across_the_transition():
    """Gaussian-equivalent model, d = 40 (D = 820, d1 = 6), g = tanh, gamma = 0.4, the signed lambdas of
    teachers 0-3 (each predicted with its own signs, as the sides of the bulk matter): the 4-seed mean cos^2
    per direction within 0.1 at every n from before the first transition to after the last one. (Measured
    with hm.run_path on the same setting, the 4-seed means agree within 0.05: see the table in the issue note.)"""
    cfg = hm.TeacherConfig(d=40, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    ns = [2000, 4000, 8000, 16000]
    sim, pred = [], []
    for s in range(4):
        lam = hm.Teacher(cfg, s).lam
        sim.append([r["cos2"] for r in simulate_first_layer(lam, "tanh", cfg.D, ns, seed=100 + s)])
        pred.append(predict(cfg, ns, lam=lam, n_mc=100_000, seed=s, with_mse=False).cos2)
    sim, pred = np.mean(sim, axis=0), np.mean(pred, axis=0)
    assert np.max(np.abs(sim - pred)) < 0.1, np.round(sim - pred, 3)
    assert pred[0].mean() < 0.15 and pred[-1].min() > 0.6  # the grid does span the transitions


def test_gaussian_equivalent_outliers_are_predicted_and_the_hermite_ones_are_not():
    """Measured fact, at d = 20 (d = 40, n = 128000, seed 0, g = id: top eigenvalue of C -0.867 in the
    Gaussian-equivalent model, predicted -0.86, but -1.366 in the Hermite model). The Hermite model's E[C] has
    the extra fourth-cumulant operator of theory.finite_size's docstring, of norm ~ 48/d: the spectral-method
    prediction is right for Gaussian features with the unbounded link, and far off for Hermite ones."""
    cfg_ge = hm.TeacherConfig(d=20, gamma=0.4, g="id", input_model="gaussian_equivalent")
    cfg_he = hm.TeacherConfig(d=20, gamma=0.4, g="id", input_model="hermite")
    n = 10000
    lam = hm.Teacher(cfg_ge, 0).lam
    p = predict(cfg_ge, [n], lam=lam, n_mc=100_000)
    ge = hm.run(cfg_ge, n, 0, engine="dense", n_test=256)
    he = hm.run(cfg_he, n, 0, engine="dense", n_test=256)
    assert ge.eig_tags == [1, 2, 3, 4]
    # outlier sd ~ sqrt(2 E[w^2]/n) = 0.014; the rest of the tolerance is the model's own error for this
    # unbounded link (measured 0.056 on direction 1 here, 0.023 at n = 20000): the outlier of a negative spike
    # depends on the long negative tail of w = h2, which `LabelLaw.truncated` only approximates
    np.testing.assert_allclose(ge.top_eigs, p.outliers[0], atol=0.08)
    assert ge.top_eigs[0] == pytest.approx(np.sqrt(2) * lam[0], abs=0.05)
    assert he.top_eigs[0] < p.outliers[0][0] - 0.5
    # ... the Hermite model's exact E[C] (fourth-cumulant operator, theory.hermite_signal) already lies far
    # beyond the Gaussian-equivalent outlier, and the observed eigenvalue beyond it (pushed out further by the
    # Hermite noise, which this theory does not model: -2.22 at n = 10000, -1.87 at 20000, E[C]: -1.76)
    mu = np.linalg.eigvalsh(hermite_signal_matrix(hm.Teacher(cfg_he, 0)))
    assert mu[0] < p.outliers[0][0] - 0.5 and he.top_eigs[0] < mu[0] + 0.05


def test_hermite_signal_matrix_is_e_of_c_for_the_identity_link():
    """(H1) against a float64 Monte Carlo average of C in the Hermite model, d = 8 (D = 36), g = id: the
    Rayleigh quotients along each u_i (spike plus fourth-cumulant term) within 5 Monte Carlo sd."""
    cfg = hm.TeacherConfig(d=8, gamma=0.4, g="id", input_model="hermite")
    t = hm.Teacher(cfg, 1)
    M = hermite_signal_matrix(t)
    fm = hm.HermiteFeatures(cfg.d, 2)
    rng = np.random.default_rng(0)
    N = 400_000
    X = rng.standard_normal((N, cfg.d))
    F = np.asarray(fm.explicit(X), np.float64)
    h = F @ t.directions.T
    y = ((h**2 - 1) @ t.lam) / np.sqrt(2)
    rq = np.mean(y[:, None] * (h**2 - 1), axis=0)  # u_i^T C u_i
    sd = np.std(y[:, None] * (h**2 - 1), axis=0) / np.sqrt(N)
    pred = np.einsum("id,de,ie->i", t.directions, M, t.directions)
    assert np.all(np.abs(rq - pred) < 5 * sd), (rq, pred, sd)
    # the Gaussian-equivalent value sqrt(2) lambda_i is measurably wrong here
    assert np.max(np.abs(rq - np.sqrt(2) * t.lam) / sd) > 10


def test_thresholds_are_where_the_predicted_cos2_crosses_one_half():
    cfg = hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    lam = hm.Teacher(cfg, 0).lam
    th = finite_size_thresholds(cfg, lam, n_mc=20_000, per_decade=6, refine=4)
    assert np.all(np.isfinite(th))
    law = label_law(cfg, lam, n_mc=20_000)
    for i, t in enumerate(th):
        assert predict_n(int(t * 0.96), cfg.D, law, n_cells=24, selection_rule="hard")["cos2"][i] < 0.5
        assert predict_n(int(t * 1.04), cfg.D, law, n_cells=24, selection_rule="hard")["cos2"][i] >= 0.5
    # finite-size thresholds lie above the naive BBP ones D E[y^2]/theta_i^2 (the delay MODEL.md section 5 notes)
    from theory.asymptotics import naive_thresholds

    assert np.all(th > naive_thresholds(cfg))


def test_mse_from_overlaps_is_the_unrecovered_energy_for_the_identity_link():
    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="id", input_model="gaussian_equivalent")
    lam = hm.spike_weights(cfg.latent, cfg.gamma, [1, -1, 1, -1])
    cos2 = np.array([1.0, 0.8, 0.5, 0.0])
    tol = 5 * np.sqrt(2.0 / 100_000)  # Monte Carlo sd of a mean square of O(1) residuals
    # all recovered: h2 is a quadratic in the h1hat, so the degree-5 readout leaves only the fit's O(p/n_mc)
    assert mse_from_overlaps(cfg, lam, np.ones(4), n_mc=100_000) < 1e-3
    assert mse_from_overlaps(cfg, lam, np.zeros(4), n_mc=100_000) == pytest.approx(1.0, abs=tol)
    expected = np.sum(lam**2 * (1 - cos2**2))
    assert mse_from_overlaps(cfg, lam, cos2, n_mc=100_000) == pytest.approx(expected, abs=tol)
    # the O(1/n) readout term decreases with n
    assert mse_from_overlaps(cfg, lam, cos2, 1000, n_mc=20_000) > mse_from_overlaps(cfg, lam, cos2, 10_000, n_mc=20_000)


def test_prediction_object_and_bad_input():
    cfg = hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    p = predict(cfg, [500, 4000], n_mc=20_000, seed=0)
    d = json.loads(json.dumps(p.to_dict()))
    assert d["ns"] == [500, 4000] and len(d["cos2"][0]) == cfg.latent and len(d["bulk_edges"][1]) == 2
    assert p.qh[1] > p.qh[0] and p.mse_pred[1] < p.mse_pred[0]
    assert np.array_equal(p.lam, hm.Teacher(cfg, 0).lam)  # seed: that teacher's signed lambdas
    with pytest.raises(ValueError, match="seed=None"):  # no default teacher
        predict(cfg, [1000])
    with pytest.raises(ValueError, match="n=0"):
        predict(cfg, [0], seed=0)
    with pytest.raises(ValueError, match="lam has 2 entries"):
        predict(cfg, [1000], lam=[0.5, 0.5])


def test_law_draws_is_the_mean_over_independent_law_draws_with_its_error_bar():
    """law_draws = k: the mean of k predictions on the Monte Carlo seeds mc_seed + j * LAW_DRAW_STRIDE, and the
    standard error of that mean per n and direction; draw 0 is the single prediction of mc_seed."""
    from theory.finite_size import LAW_DRAW_STRIDE

    cfg = hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    ns = [1500, 4000]
    draws = [predict(cfg, ns, seed=1, n_mc=20_000, mc_seed=5 + j * LAW_DRAW_STRIDE, with_mse=False) for j in range(3)]
    avg = predict(cfg, ns, seed=1, n_mc=20_000, mc_seed=5, with_mse=False, law_draws=3)
    cos2 = np.array([p.cos2 for p in draws])
    np.testing.assert_allclose(avg.cos2, cos2.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(avg.qh, np.mean([p.qh for p in draws], axis=0), atol=1e-12)
    np.testing.assert_allclose(avg.meta["cos2_mc_se"], cos2.std(axis=0, ddof=1) / np.sqrt(3), atol=1e-12)
    assert np.max(avg.meta["cos2_mc_se"]) > 0  # the draws are independent Monte Carlo laws
    assert avg.meta["mc_seeds"] == [5, 5 + LAW_DRAW_STRIDE, 5 + 2 * LAW_DRAW_STRIDE] and avg.lam == draws[0].lam
    assert json.loads(json.dumps(avg.to_dict()))["ns"] == ns
    with pytest.raises(ValueError, match="law_draws"):
        predict(cfg, ns, seed=1, law_draws=0)


def test_finite_size_mse_uses_the_one_readout_error_term():
    # one O(1/n) constant for the whole theory package: asymptotics.readout_error, p = d1 (d1 + 1)/2 + deg + 1
    from theory.asymptotics import readout_error

    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="id")
    lam = hm.Teacher(cfg, 0).lam
    full = mse_from_overlaps(cfg, lam, np.ones(lam.size), n=5000, n_mc=20_000)
    population = mse_from_overlaps(cfg, lam, np.ones(lam.size), n=None, n_mc=20_000)
    rng = np.random.default_rng(1)  # mse_from_overlaps draws h1 from default_rng(seed + 1), seed = 0
    h1 = rng.standard_normal((20_000, lam.size))
    ey2 = float(np.mean((((h1**2 - 1) @ lam) / np.sqrt(2)) ** 2))
    assert full - population == pytest.approx(float(readout_error(5000, lam.size, ey2, 5)), rel=1e-6)
    assert float(readout_error(5000, 4, 1.0, 5)) == pytest.approx((4 * 5 / 2 + 6) / 5000)
