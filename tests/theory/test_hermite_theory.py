"""The Hermite model's finite-size theory (HERMITE.md section 3): radial W-law, remainder M, chaos estimator,
per-seed predictions, single-sample tails, against Monte Carlo and simulated spectra."""

import dataclasses

import numpy as np
import pytest

import hierarchical_model as hm
from theory.compare import simulate_hermite
from theory.finite_size import predict
from theory.hermite_law import chaos_atoms, hermite_label_law, kappa, spike_lengthening, weight_law
from theory.per_seed import predict_seeds
from theory.hermite_bulk import Bulk
from theory.hermite_spikes import outliers as m_outliers
from theory.remainder import Remainder, symmetric_basis, remainder, zero_remainder
from theory.label_laws import atom_law, compress_samples, label_law
from theory.resolvent import bulk_edges, stieltjes
from theory.spikes import outliers, spike_strength
from theory.tails import single_sample_outliers

CFG40 = hm.TeacherConfig(d=40, gamma=0.4, g="tanh")


def test_radial_law_spikes_lengthen_by_kappa2_es4_and_centre_on_y():
    """g = id: E[W (z_i^2 - 1)] = sqrt 2 lambda_i kappa^2 E[s^4] (= 1.42 sqrt 2 lambda_i at d = 20), within 5 Monte
    Carlo sd; the paper law is centred by E[y], the chaos law by E[y (2 s - 1)], which removes the shift
    E[W] - E[y] = Cov(y, kappa s^2) to O(1/d^2)."""
    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="id")
    lam = hm.Teacher(cfg, 0).lam
    law = hermite_label_law(cfg, lam, n_mc=400_000, seed=1)
    sd = 5 * np.sqrt(np.sum(law.w**2 * law.p) * 3.0 / law.n_mc)
    np.testing.assert_allclose(spike_strength(law), np.sqrt(2) * lam * spike_lengthening(20), atol=sd)
    assert spike_lengthening(20) == pytest.approx(24 * 26 / (20 * 22))
    s = np.random.default_rng(0).chisquare(20, 10**6) / 20
    assert kappa(20) ** 2 * np.mean(s**4) == pytest.approx(spike_lengthening(20), rel=0.01)
    chaos = hermite_label_law(cfg, lam, "chaos", n_mc=400_000, seed=1)
    shift_paper, shift_chaos = law.mean - law.centre, chaos.mean - chaos.centre
    # d = 20, g = id: Cov(y, kappa s^2) = sum(lam) (kappa^2 E s^4 - 1)/sqrt 2
    assert shift_paper == pytest.approx(np.sum(lam) * (spike_lengthening(20) - 1) / np.sqrt(2), abs=0.02)
    assert abs(shift_chaos) < 0.15 * abs(shift_paper)


def test_chaos_atoms_are_the_eigenvalues_of_one_samples_operator():
    """(W3): for one x, F F^T - 2 I - X (+) X (the chaos estimator's per-sample operator minus I) has the
    eigenvalues r1, r2 (plane {T, I - T}), -d s (d - 1 times) and 0; chaos_atoms returns them scaled by
    f = kappa s^2 / (|X|^2/2)."""
    d = 7
    P = symmetric_basis(d).reshape(-1, d * d)
    fm = hm.HermiteFeatures(d, 2)
    x = np.random.default_rng(3).standard_normal(d)
    F = np.asarray(fm.explicit(x[None]), np.float64)[0]
    X = np.outer(x, x) - np.eye(d)
    ksum = P @ (np.kron(X, np.eye(d)) + np.kron(np.eye(d), X)) @ P.T
    ev = np.linalg.eigvalsh(np.outer(F, F) - 2 * np.eye(F.size) - ksum)
    s = x @ x / d
    f = kappa(d) * s * s / (np.sum(X * X) / 2)
    main, minor, minor2 = chaos_atoms(np.array([s]), d)
    r1, rest = ev[-1], ev[:-1]
    assert main[0] == pytest.approx(f * r1, rel=1e-6)
    assert minor[0] == pytest.approx(f * rest.sum(), rel=1e-6)
    assert minor2[0] == pytest.approx(f * f * np.sum(rest**2), rel=1e-6)
    assert np.sum(np.isclose(rest, -d * s, rtol=1e-6)) == d - 1


def test_zero_remainder_reduces_to_the_gaussian_equivalent_formulas():
    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    law = label_law(cfg, hm.Teacher(cfg, 0).lam, n_mc=50_000).truncated(3000)
    c = cfg.D / 3000
    b = Bulk(c, law, zero_remainder(cfg.latent))
    np.testing.assert_allclose(b.edges(), bulk_edges(c, law), rtol=1e-9)
    np.testing.assert_allclose(np.nan_to_num(m_outliers(b)[0]), np.nan_to_num(outliers(c, law)[0]), rtol=1e-8)
    np.testing.assert_allclose(m_outliers(b)[1], outliers(c, law)[1], rtol=1e-7, atol=1e-12)
    z = np.array([-0.2 + 1e-6j, 0.05 + 1e-6j, 0.4 + 1e-3j])
    np.testing.assert_allclose(b.solve(z)[0], stieltjes(z, c, law), rtol=1e-8)


def test_silverstein_bai_with_a_deterministic_m_matches_a_simulated_matrix():
    """M = diag(mu) with a coupling m_1 between u = e_1 and e_2, plus (1/n) sum w g g^T (w = +-1 with a spike
    correlation on g_1): bulk edges, and the outlier and its cos^2 of (M2)-(M4) against 4 matrices
    (D = 400, n = 2000; edge fluctuations ~ D^(-2/3), outlier sd ~ sqrt(2/n) = 0.03)."""
    rng = np.random.default_rng(5)
    D, n = 400, 2000
    mu = np.linspace(-0.3, 0.3, D - 1)
    Mfull = np.zeros((D, D))
    Mfull[1:, 1:] = np.diag(mu)
    Mfull[0, 0], Mfull[0, 1], Mfull[1, 0] = 0.1, 0.3, 0.3

    def labels(g1):
        return np.where(rng.random(g1.size) < 0.5 + 0.3 * np.tanh(g1**2 - 1), 1.0, -1.0)

    h = rng.standard_normal(400_000)
    w = labels(h)
    law = compress_samples(w, h * h - 1.0, 300)
    rem = Remainder(kind="exact", Mii=np.array([0.1]), mu=mu, b=np.zeros((1, D - 1)))
    rem = dataclasses.replace(rem, b=(0.3**2 * (np.arange(D - 1) == 0))[None, :].astype(float))
    bulk = Bulk(D / n, law, rem)
    edges = bulk.edges()
    z, c2 = m_outliers(bulk)
    sims = []
    for _ in range(4):
        G = rng.standard_normal((n, D))
        ww = labels(G[:, 0])
        ev, V = np.linalg.eigh(Mfull + (G * ww[:, None]).T @ G / n - ww.mean() * np.eye(D))
        sims.append((ev[0], ev[-2], ev[-1], V[0, -1] ** 2))
    sims = np.mean(sims, axis=0)
    assert sims[0] == pytest.approx(edges[0], abs=0.05) and sims[1] == pytest.approx(edges[1], abs=0.05)
    assert sims[2] == pytest.approx(z[0], abs=0.04) and sims[3] == pytest.approx(c2[0], abs=0.08)
    # the coupling m_1 matters (measured: cos^2 0.24 simulated, 0.28 with it, 0.05 without)
    c0 = m_outliers(Bulk(D / n, law, dataclasses.replace(rem, b=np.zeros((1, D - 1)))))[1][0]
    assert abs(c0 - sims[3]) > 0.1, (c0, c2[0], sims[3])


@pytest.fixture(scope="module")
def noise_spectra():
    """Pure-noise Hermite spectra (labels +-1 independent of x), both estimators: d = 20 and d = 40."""
    out = {}
    for d, ns in ((20, [5000]), (40, [8200])):
        cfg = hm.TeacherConfig(d=d, gamma=0.4, g="tanh")
        y = np.random.default_rng(d).choice([-1.0, 1.0], size=max(ns))
        out[d] = simulate_hermite(cfg, 0, ns, labels=y)
    return out


@pytest.mark.parametrize("d", [20, 40])
def test_w_law_bulk_edges_match_pure_noise_hermite_spectra(noise_spectra, d):
    """HERMITE.md section 3: the W-weighted law (atoms kappa s^2 y) gives the Hermite bulk edges, the
    Gaussian-equivalent law (atoms y) is too narrow; the chaos estimator's bulk (W3)-(W4) is narrower still.
    Measured (extreme eigenvalues): d = 40, n = 8200: paper -0.729/+0.766 vs W-law -0.754/+0.757 (GE -0.661/+0.661);
    chaos -0.700/+0.725 vs -0.717/+0.717; d = 20, n = 5000: paper -0.514/+0.593 vs -0.518/+0.518."""
    rng = np.random.default_rng(1)
    D = d * (d + 1) // 2
    s, y = rng.chisquare(d, 400_000) / d, rng.choice([-1.0, 1.0], 400_000)
    for rec in noise_spectra[d]:
        n, c = rec["n"], D / rec["n"]
        for est in ("paper", "chaos"):
            law = weight_law(y, s, d, np.zeros((y.size, 1)), est).truncated(n)
            pred = Bulk(c, law, zero_remainder(1)).edges()
            spec = rec[est]["spec"]  # the 2nd and 3rd extremes: the 1st is a single sample's at d = 20
            np.testing.assert_allclose([spec[1:3].mean(), spec[-3:-1].mean()], pred, atol=0.05 * (pred[1] - pred[0]))
        ge = bulk_edges(c, atom_law(np.array([-1.0, 1.0])))
        assert rec["paper"]["spec"][-1] - rec["paper"]["spec"][0] > 1.1 * (ge[1] - ge[0])


@pytest.mark.slow
def test_predicted_qh_and_cos2_match_the_library_learner_at_d40_both_estimators():
    """Target of issue 11 (tanh, d = 40, gamma = 0.4, 4 seeds, each predicted with its own teacher):
    |predicted - simulated| mean q_h < 0.05 at every n, per-direction 4-seed means within 0.10, rule
    'extremes+anisotropic' (`theory.anisotropic_bulk`, with (K2) of `theory.kronecker_spread` for the paper estimator).
    The data: the library learner's own run (stream 0, `hm.run_path`) and 7 further streams per teacher
    (`compare.simulate_hermite`, data seeds s + k STREAM_STRIDE), their mean. One stream's 4-seed mean has a sampling
    sd of up to 0.09 here, so a bound of 0.10 on one stream fails a correct prediction about as often as not (stop 28,
    paper: 0.137 on stream 0 at n = 16000, 0.053 against 16 streams at n_mc = 400000). Measured with these 8 streams
    (stop 28): paper 0.066 (q_h 0.020), chaos 0.039 (0.015); stream 0 alone 0.137 and 0.057. Without (K2) the paper
    estimator measured 0.056 here against 16 streams (its miss was on the alpha-grid, `theory.anisotropic_bulk`); with
    (M1') rule 'soft' measures 0.146 (paper, one stream) and 0.063 (chaos)."""
    from theory.compare import STREAM_STRIDE

    ns = [4000, 8000, 16000, 32000]
    extra = [[simulate_hermite(CFG40, s, ns, data_seed=s + k * STREAM_STRIDE) for k in range(1, 8)] for s in range(4)]
    for est in ("paper", "chaos"):
        kw = {} if est == "paper" else {"estimator": "chaos"}
        try:
            sims = [hm.run_path(CFG40, ns, s, engine="dense", n_test=256, **kw) for s in range(4)]
        except TypeError:
            pytest.skip("the learner has no estimator= keyword yet (chaos estimator not merged)")
        pred = predict_seeds(CFG40, ns, range(4), estimator=est, n_mc=100_000, with_mse=False,
                             selection="extremes+anisotropic")
        sim_cos2 = np.mean([np.mean([[r.cos2 for r in path]] + [[rec[est]["cos2"] for rec in stream] for stream in more],
                                    axis=0) for path, more in zip(sims, extra)], axis=0)
        sim_qh = sim_cos2.mean(axis=1)
        assert np.max(np.abs(pred.qh - sim_qh)) < 0.05, (est, np.round(pred.qh, 3), np.round(sim_qh, 3))
        assert np.max(np.abs(pred.cos2 - sim_cos2)) < 0.10, (est, np.round(pred.cos2 - sim_cos2, 2))
        assert "hermite radial W-law" in pred.meta["model"] and pred.per_seed["qh"].shape == (4, len(ns))


@pytest.mark.slow
def test_single_sample_outliers_of_the_identity_link_at_d20():
    """Issue 11, item 4, g = id, d = 20 (D = 210), paper estimator, 4 seeds x n in {2000, 8000}: eigenvalues
    beyond the predicted bulk edges that lie outside span(A) (overlap < 0.3) against (T2)'s expected count of
    single-sample outliers. Measured (6 seeds, n = 2000, 8000, 32000): 2.4 per spectrum simulated, 1.8 predicted;
    the theory's count is within a factor 2 and clearly non-zero, and zero for bounded weights."""
    cfg = hm.TeacherConfig(d=20, gamma=0.4, g="id")
    ns = [2000, 8000]
    sim, pred = [], []
    for s in range(4):
        p = predict(cfg, ns, seed=s, n_mc=100_000, with_mse=False, selection="soft")  # (T2) is rule 'soft''s count
        pred.append(p.meta["tail_outliers"])
        for k, rec in enumerate(simulate_hermite(cfg, s, ns)):
            lo, hi = p.bulk_edges[k]
            spec, span = rec["paper"]["spec"], rec["paper"]["span"]
            sim.append(np.sum(((spec > hi) | (spec < lo)) & (span < 0.3)))
    sim_mean, pred_mean = np.mean(sim), np.mean(pred)
    assert pred_mean > 0.5 and 0.5 < sim_mean / pred_mean < 2.0, (sim, pred)
    # bounded weights (labels +-1, s fixed at 1) have no tail beyond the edge
    law = weight_law(np.tile([-1.0, 1.0], 5000), np.ones(10_000), 20, np.zeros((10_000, 1)))
    b = Bulk(210 / 2000, law, zero_remainder(1))
    assert single_sample_outliers(b, b.edge_omegas(), 2000, law.extremes)[0].size == 0


def test_remainder_is_consistent_with_the_hermite_signal_matrix():
    """(M1) with the exact spectrum equals E[C] of (H1) minus the radial spikes and the trace, restricted off
    span(A); the semicircle surrogate has its mean and variance (Hutchinson estimate, 48 probes)."""
    from theory.hermite_signal import hermite_signal_matrix

    cfg = hm.TeacherConfig(d=10, gamma=0.4, g="id")
    t = hm.Teacher(cfg, 2)
    rho = spike_lengthening(10)
    U = t.directions
    ref = hermite_signal_matrix(t) - np.sqrt(2) * rho * np.einsum("k,ki,kj->ij", t.lam, U, U)
    ref -= np.trace(ref) / cfg.D * np.eye(cfg.D)
    exact = remainder(t.A, t.lam, 10, 1.0, rho, "paper", "exact")
    Q = np.linalg.qr(np.concatenate([U.T, np.eye(cfg.D)], axis=1))[0][:, cfg.latent:cfg.D]
    np.testing.assert_allclose(exact.mu, np.linalg.eigvalsh(Q.T @ ref @ Q), atol=1e-6)  # (H1) is built in float32
    np.testing.assert_allclose(exact.Mii, np.einsum("ki,ij,kj->k", U, ref, U), atol=1e-6)
    semi = remainder(t.A, t.lam, 10, 1.0, rho, "paper", "semicircle")
    assert semi.var == pytest.approx(exact.var, rel=0.25) and abs(semi.mean - exact.mean) < 0.3 * np.sqrt(exact.var)
    chaos = remainder(t.A, t.lam, 10, 1.0, rho, "chaos", "exact")
    assert chaos.var < 0.5 * exact.var  # the Kronecker-sum part, removed by the chaos estimator, dominates M


def test_predict_requires_a_teacher_and_refuses_what_is_not_derived():
    ge = hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    with pytest.raises(ValueError, match="lam=None and seed=None"):
        predict(ge, [1000])
    with pytest.raises(ValueError, match="estimator='chaos' is not allowed"):
        predict(ge, [1000], seed=0, estimator="chaos")
    with pytest.raises(ValueError, match="conventions='authors' is not allowed"):
        predict(hm.TeacherConfig(d=12, gamma=0.4, conventions="authors"), [1000], seed=0)
    with pytest.raises(ValueError, match="q=3"):
        predict(hm.TeacherConfig(d=6, q=3, gamma=0.4), [1000], seed=0)
    # GE with explicit lam and seed: bit-identical to the Monte Carlo seed's law, as before
    lam = hm.Teacher(ge, 1).lam
    a = predict(ge, [1000, 4000], lam=lam, seed=1, n_mc=20_000, with_mse=False)
    b = predict(ge, [1000, 4000], seed=1, n_mc=20_000, with_mse=False)
    np.testing.assert_array_equal(a.cos2, b.cos2)
    assert a.meta["model"].startswith("gaussian_equivalent")
    # per-seed mean = mean of per-seed predictions, each with its own signs
    m = predict_seeds(ge, [1000, 4000], [0, 1], n_mc=20_000, with_mse=False)
    c0 = predict(ge, [1000, 4000], seed=0, n_mc=20_000, with_mse=False)
    np.testing.assert_allclose(m.cos2, (c0.cos2 + b.cos2) / 2)
    np.testing.assert_allclose(m.per_seed["lam"][1], lam)
    # Hermite with lam only: directions drawn, and said so
    he = hm.TeacherConfig(d=12, gamma=0.4, g="tanh")
    p = predict(he, [2000], lam=[0.7, -0.5, 0.5], n_mc=20_000, with_mse=False, estimator="chaos")
    assert "Haar" in p.meta["directions"] and "hermite radial W-law" in p.meta["model"]


@pytest.mark.slow
def test_outer_eigenvalues_of_m_take_the_minority_sign_slots_at_d40():
    """HERMITE.md sections 1 and 3: at d = 40, tanh, paper estimator, C has eigenvalues outside span(A) just beyond
    the majority-side bulk (the isolated outer eigenvalues of M's Kronecker-sum part, `theory.remainder`) that take
    Algorithm 1's last slots from minority-sign outliers: teacher 1 at n = 64000 (direction 3, lambda = -0.38) and
    teacher 3 at n = 32000 (direction 6, lambda = -0.29) are simulated at cos^2 0.00 and 0.01 (8 further data
    streams each: 0.00-0.02). The semicircle surrogate of M with first-order coefficients predicted 0.74 and 0.57;
    the exact spec(M_perp) of (M1') with rule 'extremes+anisotropic' predicts 0.00 and 0.18 (n_mc = 100000; 0.24 at
    400000, where the mean of 16 data streams is 0.04), and every direction of both teachers at n = 32000 and 64000
    within 0.097 (teacher 1) and 0.166 (teacher 3, that direction); with the pool of 64 n draws (stop 27, 4.1M here,
    4M before) 0.00 and 0.13, within 0.097 and 0.12. With the sample G's spread of the Kronecker-sum part ((K2) of
    `theory.kronecker_spread`, stop 28), which moves M's outer eigenvalues out with n: 0.00 and 0.006, every
    direction within 0.070 and 0.058 (bounds 0.10 and 0.12). Rule 'soft' with (M1') predicts 0.39 there, and the
    four-operator M of stops 14-25 with 'soft' 0.13: a knife edge between the minority-sign outlier and M's isolated
    eigenvalues that this test keeps in view."""
    ns = [32000, 64000]
    for seed, (k, i) in ((1, (1, 2)), (3, (0, 5))):
        sim = np.array([r.cos2 for r in hm.run_path(CFG40, ns, seed, engine="dense", n_test=256)])
        pred = predict(CFG40, ns, seed=seed, n_mc=100_000, with_mse=False, selection="extremes+anisotropic")
        assert sim[k, i] < 0.1 and pred.cos2[k, i] < 0.1, (seed, sim[k, i], pred.cos2[k, i])
        assert np.max(np.abs(pred.cos2 - sim)) < 0.12, (seed, np.round(pred.cos2 - sim, 2))
    assert "exact M" in pred.meta["model"]


def test_operator_coefficients_are_the_projection_of_a_monte_carlo_c():
    """`remainder.operator_coef` against a directly accumulated E[C] (d = 6, D = 21, tanh, library feature map,
    8 batches of 100000 samples): E[G] against the Monte Carlo E[y (x x^T - I)], and the coefficients against the
    least-squares fit of E[C] - E[G] (+) E[G] on the explicit D x D operators (spike, A V A, the pairs
    Sym(A^2 (x) A^2) and Sym(A (x) A^3), identity), whose Gram matrix `operator_gram` must reproduce; g = id gives
    (H1)'s first-order coefficients exactly."""
    from hierarchical_model.hermite import make_feature_map
    from theory.remainder import OperatorCoef, first_order_coef, operator_coef, operator_gram

    cfg = hm.TeacherConfig(d=6, gamma=0.4, g="tanh")
    t = hm.Teacher(cfg, 1)
    lam, A = np.asarray(t.lam), np.asarray(t.A, np.float64)
    basis = symmetric_basis(6)
    Am = np.einsum("kD,Dij->kij", A, basis)
    Am /= np.linalg.norm(Am, axis=(1, 2), keepdims=True)

    def explicit(fn):
        return np.einsum("kij,Dij->kD", fn(basis), basis)

    def pair(X, Y):  # the operator of Sym(X (x) Y)
        return explicit(lambda V: np.einsum("ij,kij->k", Y, V)[:, None, None] * X
                        + np.einsum("ij,kij->k", X, V)[:, None, None] * Y + 2 * (X @ V @ Y + Y @ V @ X))

    ops = []
    for Ai in Am:
        v = np.einsum("ij,Dij->D", Ai, basis)
        ops += [np.outer(v, v), explicit(lambda V: Ai @ V @ Ai), pair(Ai @ Ai, Ai @ Ai), pair(Ai, Ai @ Ai @ Ai)]
    ops.append(np.eye(cfg.D))
    gram = np.array([[np.sum(a * b) for b in ops] for a in ops])
    np.testing.assert_allclose(operator_gram(Am), gram, atol=1e-10)
    fm, rng, fits, EGs = make_feature_map("hermite", 6, 2), np.random.default_rng(5), [], []
    for _ in range(8):
        x = rng.standard_normal((100_000, 6))
        F = np.asarray(fm.explicit(x), np.float64)
        h = F @ A.T
        y = np.tanh(((h * h - 1) @ lam) / np.sqrt(2))
        EG = (x.T * y) @ x / len(y) - y.mean() * np.eye(6)
        C = (F.T * y) @ F / len(y) - y.mean() * np.eye(cfg.D) - explicit(lambda V: EG @ V + V @ EG)
        fits.append(np.linalg.solve(gram, [np.sum(C * N) for N in ops])[:-1].reshape(-1, 4))
        EGs.append(EG)
    fits, EGs = np.array(fits), np.array(EGs)
    co = operator_coef(cfg, lam, A, n_mc=400_000, seed=2)
    got = np.stack([co.spike, co.ava, co.pair22, co.pair13], 1)
    # standard error of the difference: the 800000 samples here, and operator_coef's 400000 (at most sqrt 2 times
    # theirs per mean; the control variate only lowers it)
    se = np.sqrt(3.0) * fits.std(axis=0, ddof=1) / np.sqrt(len(fits))
    assert np.all(np.abs(got - fits.mean(axis=0)) < 4 * se + 1e-3), (got, fits.mean(axis=0), se)
    se_g = np.sqrt(3.0) * EGs.std(axis=0, ddof=1) / np.sqrt(len(EGs))
    assert np.all(np.abs(co.EG - EGs.mean(axis=0)) < 4 * se_g + 1e-4)
    c = first_order_coef(cfg, lam) / np.sqrt(2)
    assert np.all(np.abs(co.ava) < 0.95 * np.abs(4 * c))  # tanh saturates: below first order
    assert np.max(np.abs(co.pair22)) > 10 * np.max(se[:, 2])  # and the pairs are there
    ident = hm.TeacherConfig(d=6, gamma=0.4, g="id")
    co = operator_coef(ident, lam, A, n_mc=20_000)
    fo = OperatorCoef.first_order(Am, lam / np.sqrt(2))
    for name in ("spike", "ava", "pair22", "pair13", "EG"):
        np.testing.assert_allclose(getattr(co, name), getattr(fo, name), atol=1e-10)


@pytest.mark.parametrize("estimator", ["paper", "chaos"])
def test_m_against_the_hermite_inputs_e_c(estimator):
    """(M1') against the Hermite input's E[C] (paper) or E[C] - E[G] (+) E[G] (chaos), Monte Carlo of 10^6 samples
    (standard error 0.002-0.003), d = 20, tanh, teacher 1:
    - M_perp's outermost eigenvalues (3 per side, relative to the mean over span(A)^perp) against the Rayleigh
      quotients along their eigenvectors. Measured: with `operator_coef` within 0.017 (paper) and 0.009 (chaos);
      first-order coefficients ((H1)) are 0.07-0.23 and 0.04-0.16 off; without the pairs Sym(A^2 (x) A^2),
      Sym(A (x) A^3), M_perp was 0.01-0.03 too wide at d = 40 (issue 11, stop 26).
    - the spike strengths M_ii + E[W a_i] + E[W] - centre against u_i^T E[C] u_i - E[y] = E[T(y)(h_i^2 - 1)]."""
    from hierarchical_model import make_link
    from theory.remainder import first_order_coef, hermite_setup, radial_rho

    cfg = hm.TeacherConfig(d=20, eps=0.5, gamma=0.4, g="tanh")
    t = hm.Teacher(cfg, 1)
    lam, A, d, D = np.asarray(t.lam, float), np.asarray(t.A, float), 20, cfg.D
    law, fitted = hermite_setup(cfg, lam, A, estimator, 100_000, 1, "exact")
    first = remainder(A, first_order_coef(cfg, lam, 100_000, seed=1), d, 1.0, radial_rho(d, estimator, 100_000, seed=1),
                      estimator, "exact")
    sel = [0, 1, 2, -3, -2, -1]
    vecs = np.concatenate([first.vectors[:, sel], fitted.vectors[:, sel]], 1)
    model = np.concatenate([first.mu[sel] - first.mu.mean(), fitted.mu[sel] - fitted.mu.mean()])
    basis = symmetric_basis(d)
    Vm = np.einsum("Dk,Dij->kij", vecs, basis)
    Um = np.einsum("kD,Dij->kij", np.linalg.qr(A.T)[0].T, basis)
    Am = np.einsum("kD,Dij->kij", A, basis)
    rng, quad, perp, EG, N = np.random.default_rng(77), np.zeros(len(model)), 0.0, np.zeros((d, d)), 1_000_000
    theta = np.zeros(len(lam))
    for _ in range(N // 50_000):
        x = rng.standard_normal((50_000, d))

        def feat(M):  # <F, V> for each V of M: (x^T V x - tr V)/sqrt 2
            return (np.einsum("bi,kij,bj->bk", x, M, x) - np.trace(M, axis1=1, axis2=2)) / np.sqrt(2)

        h = feat(Am)
        y = np.asarray(make_link("tanh")(((h * h - 1) @ lam) / np.sqrt(2)), float)
        r = np.sum(x * x, 1)
        quad += y @ feat(Vm) ** 2
        theta += y @ (h * h - 1)
        perp += y @ ((r * r - 2 * r + d) / 2 - np.sum(feat(Um) ** 2, 1))
        EG += (x.T * y) @ x - y.sum() * np.eye(d)
    quad, perp, EG, theta = quad / N, perp / (N * (D - len(lam))), EG / N, theta / N
    if estimator == "chaos":  # E[C_chaos] = E[C] - E[G] (+) E[G]
        quad -= np.einsum("kij,kij->k", Vm, EG @ Vm + Vm @ EG)
        theta -= np.einsum("kij,kij->k", Am, EG @ Am + Am @ EG)
        Q = np.linalg.qr(np.concatenate([np.linalg.qr(A.T)[0], np.eye(D)], axis=1))[0][:, len(lam):]
        Qm = np.einsum("Dk,Dij->kij", Q, basis)
        perp -= np.einsum("kij,kij->", Qm, EG @ Qm + Qm @ EG) / (D - len(lam))
    err = np.abs(quad - perp - model)
    assert np.max(err[6:]) < 0.025, np.round(err, 3)
    assert np.min(err[:6]) > 0.03, np.round(err, 3)
    strength = fitted.Mii + np.sum(law.p * law.w * law.a, axis=1) + law.mean - law.centre
    assert np.max(np.abs(strength - theta)) < 0.02, np.round([strength, theta], 3)


def test_hermite_setup_spends_n_mc_on_every_coefficient_of_m():
    """Above 200000 samples M's coefficients follow n_mc (no hidden cap: a cap is a Monte Carlo noise floor that a
    larger n_mc could not lower); at or below it they are those of 200000 samples (first_order_coef, radial_rho)."""
    from theory.remainder import first_order_coef, hermite_setup, operator_coef, radial_rho

    cfg = hm.TeacherConfig(d=12, eps=0.5, gamma=0.4, g="tanh", input_model="hermite")
    t = hm.Teacher(cfg, 0)
    lam = np.asarray(t.lam, float)
    for estimator in ("paper", "chaos"):
        law, rem = hermite_setup(cfg, lam, t.A, estimator, 300_000, 4)
        co = operator_coef(cfg, lam, t.A, 300_000, 4)
        ref = remainder(t.A, first_order_coef(cfg, lam, 300_000, seed=4), cfg.d, 1.0,
                        radial_rho(cfg.d, estimator, 300_000, seed=4), estimator, "auto", co,
                        radial=np.sum(law.p * law.w * law.a, axis=1))
        np.testing.assert_allclose(rem.Mii, ref.Mii, rtol=0, atol=1e-12)
    assert not np.allclose(co.ava, operator_coef(cfg, lam, t.A, 200_000, 4).ava)  # the samples beyond 200000 are used
