"""Estimating gamma and |lambda_i| from the outlier eigenvalues of one C (theory.inverse)."""

import numpy as np
import pytest

import hierarchical_model as hm
from theory.compare import simulate_first_layer
from theory.finite_size import predict
from theory.inverse import estimate_spectrum, fit_gamma

CFG = hm.TeacherConfig(d=24, d1=6, gamma=0.8, g="tanh", input_model="gaussian_equivalent")  # D = 300


def test_fit_gamma_recovers_an_exact_power_law():
    for gamma in (0.3, 0.8, 1.5):
        g, se = fit_gamma(hm.spike_weights(8, gamma)[:5], 8)
        assert g == pytest.approx(gamma, abs=1e-6) and se < 1e-6


def test_inverting_the_predicted_outliers_returns_the_teacher_spectrum():
    """Round trip through the theory: outliers predicted at the true lambda, inverted with the same Monte Carlo
    law, give back |lambda_i| and gamma (the fixed point of the iteration is the truth)."""
    lam = hm.Teacher(CFG, 0).lam
    n = 60000
    p = predict(CFG, [n], lam=lam, n_mc=100_000, with_mse=False)
    assert np.all(p.selected[0])
    est = estimate_spectrum(p.outliers[0], CFG, n, n_mc=100_000)
    assert est.gamma == pytest.approx(0.8, abs=0.01)
    np.testing.assert_allclose(est.lam_abs, np.abs(lam), atol=0.01)


def test_gamma_is_recovered_within_its_uncertainty_from_a_simulated_spectrum():
    """All 6 directions are outliers at n = 60000 (D = 300); the estimate is within two standard errors and
    the inversion beats reading the spike off the eigenvalue, |e| / (sqrt 2 nu_1)."""
    lam = hm.Teacher(CFG, 0).lam
    n = 60000
    eigs = simulate_first_layer(lam, "tanh", CFG.D, [n], seed=10)[0]["eigs"]
    est = estimate_spectrum(eigs, CFG, n, n_mc=100_000)
    assert est.lam_abs.size == 6
    assert 0 < est.gamma_se < 0.05
    assert abs(est.gamma - 0.8) <= 2 * est.gamma_se, (est.gamma, est.gamma_se)
    naive = np.sort(np.abs(eigs))[::-1] / (np.sqrt(2) * hm.make_link("tanh").nu1)
    truth = np.abs(lam)
    assert np.mean(np.abs(est.lam_abs - truth)) < np.mean(np.abs(naive - truth))


def test_too_few_outliers_are_refused():
    with pytest.raises(ValueError, match="need at least 2"):
        estimate_spectrum(np.full(6, 1e-3), CFG, 60000, n_mc=20_000)


@pytest.mark.slow
def test_hermite_data_are_inverted_with_the_hermite_law():
    """Non-circular: the outliers of the learner's C on Hermite data (d = 20, d1 = 4, gamma = 0.8, tanh, teacher 4,
    whose lambdas share one sign so all four are outliers, n = 100000), inverted with the radial W-law: gamma
    within 3 standard errors (measured 0.715 +- 0.038) and |lambda_i| within 0.06. Read with the
    Gaussian-equivalent law the spikes look (d+4)(d+6)/(d(d+2)) = 1.42 times longer: |lambda| biased up."""
    import dataclasses

    from theory.inverse import estimate_from_result

    cfg = hm.TeacherConfig(d=20, d1=4, gamma=0.8, g="tanh")
    res = hm.run(cfg, 100_000, 4, engine="dense", n_test=256)
    assert res.eig_tags == [1, 2, 3, 4]
    est = estimate_from_result(res)
    truth = np.abs(res.lam)
    assert abs(est.gamma - 0.8) < 3 * est.gamma_se and est.gamma_se < 0.1
    np.testing.assert_allclose(est.lam_abs, truth, atol=0.06)
    ge = estimate_spectrum(np.asarray(res.top_eigs), dataclasses.replace(cfg, input_model="gaussian_equivalent"), res.n)
    assert np.mean(ge.lam_abs - truth) > 0.15 > np.mean(np.abs(est.lam_abs - truth))
