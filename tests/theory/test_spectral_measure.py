"""The fitted label tails (E1)-(E2), the law of n samples, the spectral measures (X1)-(X2) and the selection
(X3)-(X4) of rule 'measure' (`theory.spectral_measure`, issue 11)."""

import numpy as np
import pytest
from scipy.stats import genpareto

import hierarchical_model as hm
from theory.finite_size import predict, selection_rule
from theory.hermite_bulk import Bulk
from theory.hermite_spikes import outliers
from theory.label_laws import atom_law, compress_samples, fit_extreme_tail
from theory.remainder import zero_remainder
from theory.resolvent import bulk_mass_beyond
from theory.spectral_measure import measure_select, tail_measures


@pytest.mark.parametrize("xi", [0.0, 0.3, -0.2])
def test_extreme_tail_fit_recovers_a_generalised_pareto_tail(xi):
    """m = 2000 exceedances of a GPD (scale 2) above u = 1: the probability-weighted moments give xi and beta within
    4 of their asymptotic sds (Hosking and Wallis 1987: Var(xi) = (1-xi)^2 (2-xi)^2 (1-xi+2xi^2)/((1-2xi)(3-2xi) m),
    sd(beta)/beta = 1.53/sqrt(m) at xi = 0), and (E2) is the GPD's quantile."""
    m, N = 2000, 400_000
    y = genpareto.rvs(xi, scale=2.0, size=m, random_state=np.random.default_rng(3))
    w = np.concatenate([1.0 + np.sort(y)[::-1], [1.0]])  # the m most extreme first, then u
    tail = fit_extreme_tail(w, np.zeros((m + 1, 1)), N, 1.0)
    sd_xi = np.sqrt((1 - xi) ** 2 * (2 - xi) ** 2 * (1 - xi + 2 * xi**2) / ((1 - 2 * xi) * (3 - 2 * xi) * m))
    assert abs(tail.xi - xi) < 4 * sd_xi, (tail.xi, xi)
    assert abs(tail.beta / 2.0 - 1.0) < 4 * 1.6 / np.sqrt(m), tail.beta
    assert tail.u == 1.0 and tail.p_u == m / N
    p = tail.p_u * np.array([0.5, 0.1, 0.01])
    exact = 1.0 + genpareto.isf(p / tail.p_u, tail.xi, scale=tail.beta)
    np.testing.assert_allclose(tail.quantile(p), exact, rtol=1e-10)
    # the left tail mirrors: W < u
    left = fit_extreme_tail(-w, np.zeros((m + 1, 1)), N, -1.0)
    np.testing.assert_allclose(left.quantile(p), -tail.quantile(p), rtol=1e-10)


def test_law_of_n_samples_puts_the_extreme_samples_at_their_quantiles():
    """`LabelLaw.at_n`: mass 1; on each side the most extreme atom at Q(1/(2 n)) of (E2); atoms of mass 1/n (or
    1/(4 n) at resolution 4); the spike moments follow the weight (here s = w, so a grows towards the tail)."""
    rng = np.random.default_rng(0)
    w = rng.standard_exponential(200_000) - rng.standard_exponential(200_000)  # Laplace: exponential tails
    law = compress_samples(w, w[:, None], 300, tail_fraction=0.005)
    left, right = law.extremes
    assert abs(right.beta - 1.0) < 0.1 and abs(right.xi) < 0.15 and left.side == -1.0
    for n, res in ((4000, 1), (64_000, 4)):
        at = law.at_n(n, res)
        assert at.p.sum() == pytest.approx(1.0, abs=1e-12) and np.all(np.diff(at.w) >= 0)
        assert at.w[-1] == pytest.approx(right.quantile(0.5 / (n * res)), rel=1e-12)
        assert at.w[0] == pytest.approx(left.quantile(0.5 / (n * res)), rel=1e-12)
        assert at.p[-1] == pytest.approx(1.0 / (n * res), rel=1e-9)
        assert at.a[0, -1] > at.a[0, at.w.size // 2] + 3.0
    # Laplace(1): P(W > x) = exp(-x)/2, so the expected sample of rank k sits near log(n / (2 (k - 1/2)))
    assert law.at_n(4000).w[-1] == pytest.approx(np.log(4000.0), abs=0.4)


def test_vertical_line_measures_match_the_bulk_density_and_the_outlier_overlap():
    """(X1)-(X2) at M = 0, where (M2) is the Gaussian-equivalent bulk: D mu_m(|x| > t) equals D times
    `resolvent.bulk_mass_beyond` (density integrated on a grid) to 1e-3 eigenvalues per D = 500; each u_i's measure
    has mass 1, and its jump across the outlier is the outlier's cos^2 (M4); the directions' own eigenvalue counts
    are 1 below every eigenvalue and 0 above."""
    law = atom_law(np.array([-0.5, 0.4, 1.6]), np.array([0.3, 0.5, 0.2]), np.array([[1.8, 0.0, 2.5], [0.1, 0.0, 0.2]]))
    c, D = 0.25, 500
    bulk = Bulk(c, law, zero_remainder(2))
    left, right = bulk.edges()
    t = np.array([0.05, 0.3, 0.6]) * max(abs(left), abs(right))
    N_m = tail_measures(bulk, D, np.concatenate([t, -t]))[0]
    k = t.size
    np.testing.assert_allclose(N_m[:k] + N_m[k:], D * bulk_mass_beyond(t, c, law, n_grid=2000), atol=1e-3 * D / 500 * 5)
    far = 10.0 * max(abs(left), abs(right))
    N_far, own_far, mu_far = tail_measures(bulk, D, np.array([far, -far]))
    np.testing.assert_allclose(mu_far[:, 0] + mu_far[:, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(N_far[:2], 0.0, atol=1e-3)
    np.testing.assert_allclose(own_far[:, :2], 0.0, atol=1e-6)
    z, c2 = outliers(bulk)
    i = int(np.nanargmax(np.abs(z)))
    eps = 1e-3 * abs(z[i])
    _, own_z, mu_z = tail_measures(bulk, D, np.sign(z[i]) * np.array([abs(z[i]) - eps, abs(z[i]) + eps]))
    assert mu_z[i, 0] - mu_z[i, 1] == pytest.approx(c2[i], abs=2e-3)
    assert own_z[i, 0] == pytest.approx(1.0, abs=1e-3) and own_z[i, 1] == pytest.approx(0.0, abs=1e-3)


def test_measure_selection_keeps_isolated_outliers_and_reads_the_rest_off_the_bulk():
    """Two directions with outliers beyond the bulk and d1 = 2: both kept with their cos^2 (the d1-th eigenvalue's
    own mass is not counted against it). A strong third competitor outside span(A) beyond them would take a slot
    only through the count, which here the bulk's measure does not hold: a direction without an outlier keeps
    only its bulk overlap."""
    law = atom_law(np.array([-0.5, 0.4, 1.6]), np.array([0.3, 0.5, 0.2]), np.array([[1.8, 0.0, 2.5], [1.2, 0.0, 1.6]]))
    bulk = Bulk(0.05, law, zero_remainder(2))
    z, c2 = outliers(bulk)
    assert np.all(np.isfinite(z))
    left, right = bulk.edges()
    t = np.linspace(0.3 * min(abs(left), abs(right)), 1.3 * np.max(np.abs(z)), 80)
    prob, cos2, _ = measure_select(bulk, 400, 2, t, z, np.full(2, 1e-3), point=(z, c2))
    np.testing.assert_allclose(prob, 1.0, atol=1e-6)
    np.testing.assert_allclose(cos2, c2, atol=2e-3)
    weak = atom_law(law.w, law.p, np.array([[1.8, 0.0, 2.5], [0.0, 0.0, 0.0]]))
    b2 = Bulk(0.05, weak, zero_remainder(2))
    z2, c22 = outliers(b2)
    assert np.isnan(z2[1])
    prob2, cos22, _ = measure_select(b2, 400, 2, t, z2, np.full(2, 1e-3), point=(z2, c22))
    assert prob2[1] == 0.0 and 0.0 <= cos22[1] < 0.05 and cos22[0] == pytest.approx(c22[0], abs=2e-3)


def test_selection_rule_and_measure_predictions():
    """The default 'auto' is 'soft' for the Gaussian-equivalent model and 'extremes+anisotropic' for the Hermite model
    where M is exact (D <= EXACT_MAX_D, remainder 'auto' or 'exact'), else 'soft'; 'measure' is refused for the
    Gaussian-equivalent model in one line and gives cos^2 in [0, 1] for the Hermite model, equal to 'soft' where
    every outlier is isolated and kept."""
    from theory.remainder import EXACT_MAX_D

    ge = hm.TeacherConfig(d=10, gamma=0.4, g="id", input_model="gaussian_equivalent")
    assert selection_rule(ge) == "soft" and selection_rule(ge, "hard") == "hard"
    he = hm.TeacherConfig(d=20, gamma=0.4, g="id", input_model="hermite")
    big = hm.TeacherConfig(d=61, gamma=0.4, g="id", input_model="hermite")
    assert big.D > EXACT_MAX_D >= he.D
    assert selection_rule(he) == "extremes+anisotropic" and selection_rule(big) == "soft"
    assert selection_rule(he, "auto", remainder="semicircle") == "soft" and selection_rule(he, "soft") == "soft"
    with pytest.raises(ValueError, match="selection='measure' is not allowed for input_model='gaussian_equivalent'"):
        selection_rule(ge, "measure")
    with pytest.raises(ValueError, match="selection"):
        selection_rule(ge, "median")
    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="tanh", input_model="hermite")
    soft = predict(cfg, [4000, 400_000], seed=0, n_mc=20_000, with_mse=False, selection="soft")
    meas = predict(cfg, [4000, 400_000], seed=0, n_mc=20_000, with_mse=False, selection="measure")
    assert soft.meta["selection"] == "soft" and meas.meta["selection"] == "measure"
    assert np.all((meas.cos2 >= 0) & (meas.cos2 <= 1))
    np.testing.assert_allclose(meas.cos2[1], soft.cos2[1], atol=0.02)


@pytest.mark.slow
def test_measure_and_extremes_rules_match_identity_link_simulations_at_d40():
    """g = id, d = 40, 4 teachers, n = 8000..64000: 4-seed means of the simulated per-direction cos^2
    (`compare.simulate_hermite`) against rule 'measure' (both estimators) and rule 'extremes' (`theory.extreme_samples`,
    chaos estimator). Measured (issue 11, one data stream): largest error 0.110 / 0.109 ('measure', paper / chaos,
    stop 21, n from 4000; 0.142 for chaos with rule 'soft'); 'extremes', chaos, on this grid: 0.101 at stop 23, 0.080
    since stop 24 (true-input pool, exact M_perp and each separated sample's own quadratic form (D4); 0.068 against
    16 data streams per teacher). Rule 'extremes+anisotropic' (`theory.anisotropic_bulk`), paper estimator: 0.078 here
    at stop 25, 0.104 since stop 26 (M's radial spike is the law's own E[W a_i]; against 16 streams 0.056, where it
    was 0.058: a 4-seed mean of this one stream has a sampling sd of up to 0.107 at n = 64000), where 'extremes'
    measures 0.146. With stop 27's pool of 64 n draws (4.1M here, 4M before; other draws) 'extremes' measures 0.097
    and 'extremes+anisotropic' 0.101 (q_h 0.016 and 0.010): the pool's own Monte Carlo moves a 4-seed mean by up to
    0.02 at n = 64000. With the sample G's Kronecker-sum spread ((K2) of `theory.kronecker_spread`, stop 28) that
    rule is 0.031 from 16 streams but 0.128 from this one (n = 64000, direction 2: 0.67 predicted, 0.80 on stream 0),
    so it is checked against 4 streams per teacher (stream 0 and data seeds s + k STREAM_STRIDE, k = 1..3): 0.069
    (stop 28, 16-stream data at n_mc = 400000). Bounded here by 0.14 ('measure'), 0.10 ('extremes') and 0.12
    ('extremes+anisotropic', 4 streams), the q_h error by 0.08 (the issue's target; 'extremes' measured 0.014)."""
    from theory.compare import STREAM_STRIDE, simulate_hermite

    cfg = hm.TeacherConfig(d=40, gamma=0.4, g="id", input_model="hermite")
    ns = [8000, 16000, 32000, 64000]
    sims = [simulate_hermite(cfg, s, ns) for s in range(4)]
    for est, rule, bound in (("paper", "measure", 0.14), ("chaos", "measure", 0.14), ("chaos", "extremes", 0.10),
                              ("paper", "extremes+anisotropic", 0.12)):
        if rule == "extremes+anisotropic":
            sims = [[recs] + [simulate_hermite(cfg, s, ns, data_seed=s + k * STREAM_STRIDE) for k in (1, 2, 3)]
                    for s, recs in enumerate(sims)]
            sim = np.mean([np.mean([[r[est]["cos2"] for r in recs] for recs in streams], axis=0) for streams in sims],
                          axis=0)
        else:
            sim = np.mean([[r[est]["cos2"] for r in recs] for recs in sims], axis=0)
        pred = np.mean([predict(cfg, ns, seed=s, estimator=est, n_mc=100_000, with_mse=False, selection=rule).cos2
                        for s in range(4)], axis=0)
        assert np.max(np.abs(pred - sim)) < bound, (est, rule, np.round(pred - sim, 2))
        assert np.max(np.abs(pred.mean(axis=1) - sim.mean(axis=1))) < 0.08, (est, rule)
