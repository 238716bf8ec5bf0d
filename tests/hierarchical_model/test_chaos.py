"""The projected ("chaos") estimator C_chaos = C - (G (+) G) of HERMITE.md section 2, in both engines.

References are computed here in float64 numpy, independently of the code under test: the features
from their definition (MODEL.md section 1), the matrix <-> vector map (diagonal v_ii, off-diagonal
v_ij / sqrt 2), and the degree-4 chaos Pi_4[V] = <X, V> X - 2 (V X + X V) - 2 V, X = x x^T - I, whose
chaos property is itself checked exactly by Gauss-Hermite quadrature.
"""

import itertools
import math

import numpy as np
import pytest

import hierarchical_model as hm
from hierarchical_model.engines import (ArraySource, DenseAccumulator, LabelTransform, StreamSource,
                                        choose_batch_chunks, kronecker_sum_apply, kronecker_sum_matrix,
                                        matrix_free_operator)
from hierarchical_model.hermite import GaussianFeatures, HermiteFeatures


# ---- independent float64 references -------------------------------------------------------------------
def features64(X):
    """F(x) of MODEL.md section 1 for q = 2, lexicographic pairs i <= j, float64."""
    iu, ju = np.triu_indices(X.shape[1])
    F = X[:, iu] * X[:, ju]
    diag = iu == ju
    F[:, diag] = (F[:, diag] - 1.0) / math.sqrt(2.0)
    return F


def vec_to_mat(v, d):
    """MODEL.md section 1: V_ii = v_ii, V_ij = V_ji = v_ij / sqrt 2."""
    iu, ju = np.triu_indices(d)
    V = np.zeros((d, d))
    V[iu, ju] = np.where(iu == ju, v, v / math.sqrt(2.0))
    V[ju, iu] = V[iu, ju]
    return V


def mat_to_vec(V):
    iu, ju = np.triu_indices(V.shape[0])
    return np.where(iu == ju, V[iu, ju], math.sqrt(2.0) * V[iu, ju])


def pi4(x, V):
    """Degree-4 chaos part of <X, V> X (HERMITE.md section 2), X = x x^T - I."""
    X = np.outer(x, x) - np.eye(len(x))
    return np.sum(X * V) * X - 2.0 * (V @ X + X @ V) - 2.0 * V


def gauss_hermite_grid(d, points=4):
    """Nodes (m, d) and weights (m,) of the product rule for N(0, I_d): exact for polynomials of degree
    <= 2 points - 1 in each coordinate."""
    t, w = np.polynomial.hermite_e.hermegauss(points)
    w = w / math.sqrt(2.0 * math.pi)
    nodes = np.array(list(itertools.product(t, repeat=d)))
    weights = np.prod(np.array(list(itertools.product(w, repeat=d))), axis=1)
    return nodes, weights


def stream_arrays(src, n):
    """The first n samples of a source, float64 (the very samples the engines read)."""
    X, y = zip(*[(np.asarray(a)[np.asarray(m) > 0], np.asarray(b)[np.asarray(m) > 0]) for a, b, m in src.batches(n)])
    return np.concatenate(X).astype(np.float64), np.concatenate(y).astype(np.float64)


def _random_symmetric(rng, d):
    M = rng.standard_normal((d, d))
    return (M + M.T) / 2


# ---- the decomposition ----------------------------------------------------------------------------------
def test_pi4_is_the_degree_four_chaos_exactly():
    """E[Pi_4[V] p(x)] = 0 for p = 1 and p = x_c x_e (odd p vanish by parity): the constants 2 and 2 of
    the Wick decomposition are right. Exact by quadrature (degree <= 6 per coordinate)."""
    d = 3
    rng = np.random.default_rng(0)
    V = _random_symmetric(rng, d)
    nodes, w = gauss_hermite_grid(d)
    P = np.array([pi4(x, V) for x in nodes])  # (m, d, d)
    assert np.abs(np.einsum("m,mab->ab", w, P)).max() < 1e-12
    assert np.abs(np.einsum("m,mab,mc,me->abce", w, P, nodes, nodes)).max() < 1e-12
    # and it is not trivially zero: its second moment is of order |V|^2
    assert np.einsum("m,mab,mab->", w, P, P) > 1.0


@pytest.mark.parametrize("d", [4, 5, 6])
def test_per_sample_identity_c_equals_c_chaos_plus_kronecker_sum(d):
    """For arbitrary labels, sample by sample: C v = C_4[V] + (G V + V G), in float64 to 1e-10."""
    rng = np.random.default_rng(d)
    n = 11
    x, y = rng.standard_normal((n, d)), rng.standard_normal(n) ** 3
    F = features64(x)
    D = F.shape[1]
    C = (F.T * y) @ F / n - y.mean() * np.eye(D)
    G = np.einsum("m,ma,mb->ab", y, x, x) / n - y.mean() * np.eye(d)
    K = np.asarray(kronecker_sum_matrix(G))
    for v in rng.standard_normal((3, D)):
        V = vec_to_mat(v, d)
        C4V = sum(y[m] * pi4(x[m], V) for m in range(n)) / (2 * n)
        np.testing.assert_allclose((C - K) @ v, mat_to_vec(C4V), rtol=0, atol=1e-10 * np.abs(C @ v).max())
        np.testing.assert_allclose(K @ v, mat_to_vec(G @ V + V @ G), rtol=0, atol=1e-12 * np.abs(K @ v).max())
    # the sparse matrix and the tensor route of the matrix-free engine are one operator
    np.testing.assert_allclose(np.asarray(kronecker_sum_apply(HermiteFeatures(d), G, np.eye(D))), K, atol=1e-13)


@pytest.mark.parametrize("engine", ["dense", "matrix_free"])
def test_pure_degree_two_labels_leave_nothing_in_c_chaos(engine):
    """y = x^T M x - tr M is pure degree-2 chaos: E[C] = 2 (M (+) M) (nonzero, 'what buries the minority
    directions'), E[G] = 2 M and E[C_chaos] = 0. The engines are fed the exact quadrature rule for
    N(0, I_4) as samples with labels n w_k y(x_k), so their C is the expectation itself."""
    d = 4
    rng = np.random.default_rng(1)
    M = _random_symmetric(rng, d)
    nodes, w = gauss_hermite_grid(d)
    n = len(w)
    labels = n * w * (np.einsum("ma,ab,mb->m", nodes, M, nodes) - np.trace(M))
    fmap = HermiteFeatures(d)
    src = ArraySource(nodes.astype(np.float32), labels.astype(np.float32), choose_batch_chunks(fmap.D) * hm.CHUNK)
    EC = np.asarray(kronecker_sum_matrix(2 * M))  # E[C] = E[y (F F^T - I)] = 2 (M (+) M)
    D = fmap.D
    if engine == "dense":
        paper = np.asarray(DenseAccumulator(fmap, src, LabelTransform()).matrix(n))
        acc = DenseAccumulator(fmap, src, LabelTransform(), "chaos")
        chaos = np.asarray(acc.matrix(n))
        G = np.asarray(acc.G)
    else:
        paper = np.asarray(matrix_free_operator(fmap, src, LabelTransform())(np.eye(D)))
        apply = matrix_free_operator(fmap, src, LabelTransform(), estimator="chaos")
        chaos = np.asarray(apply(np.eye(D)))
        G = np.asarray(apply.G)
    scale = np.abs(EC).max()
    assert scale > 1.0
    np.testing.assert_allclose(paper, EC, atol=2e-6 * scale)
    np.testing.assert_allclose(G, 2 * M, atol=2e-6 * np.abs(M).max())
    assert np.abs(chaos).max() < 2e-6 * scale


@pytest.mark.slow
def test_engines_c_chaos_against_the_float64_definition():
    """Both engines' C_chaos on teacher samples against C - (G (+) G) built here in float64."""
    cfg = hm.TeacherConfig(d=10, g="tanh", sigma=0.2)
    t = hm.Teacher(cfg, 3)
    n = 3000
    src = StreamSource(t, "train", n, 3, choose_batch_chunks(t.D))
    X, y = stream_arrays(src, n)
    F = features64(X)
    G = np.einsum("m,ma,mb->ab", y, X, X) / n - y.mean() * np.eye(cfg.d)
    ref = (F.T * y) @ F / n - y.mean() * np.eye(t.D) - np.asarray(kronecker_sum_matrix(G))
    C = np.asarray(DenseAccumulator(t.features, src, LabelTransform(), "chaos").matrix(n))
    np.testing.assert_allclose(C, ref, atol=2e-5 * np.abs(ref).max())
    V = np.random.default_rng(0).standard_normal((t.D, 4))
    CV = np.asarray(matrix_free_operator(t.features, src, LabelTransform(), estimator="chaos")(V))
    assert np.linalg.norm(CV - ref @ V) < 1e-5 * np.linalg.norm(ref @ V)


def test_dense_chaos_nested_prefixes_equal_fresh_accumulation():
    cfg = hm.TeacherConfig(d=10, g="id")
    t = hm.Teacher(cfg, 0)
    src = StreamSource(t, "train", 5000, 0, choose_batch_chunks(t.D))
    acc = DenseAccumulator(t.features, src, LabelTransform(), "chaos")
    for n in (700, 2048, 5000):
        fresh = DenseAccumulator(t.features, StreamSource(t, "train", n, 0, src.batch_chunks), LabelTransform(), "chaos")
        np.testing.assert_allclose(np.asarray(acc.matrix(n)), np.asarray(fresh.matrix(n)), atol=1e-6)


# ---- E[G] ----------------------------------------------------------------------------------------------
def test_expected_g_for_the_identity_link_against_monte_carlo():
    """E[G] = (4 / sqrt 2) sum_i lambda_i M_i^2 for g = id (HERMITE.md section 2; M_i the unit-Frobenius
    matrix of u_i), against G from the engine on n samples; tolerance 5 standard errors per entry, the
    standard errors estimated from the same samples."""
    cfg = hm.TeacherConfig(d=10, d1=3, gamma=0.3, g="id")
    t = hm.Teacher(cfg, 2)
    n = 100_000
    src = StreamSource(t, "train", n, 2, choose_batch_chunks(t.D))
    acc = DenseAccumulator(t.features, src, LabelTransform(), "chaos")
    acc.matrix(n)
    M = [vec_to_mat(u, cfg.d) for u in t.A / np.linalg.norm(t.A, axis=1, keepdims=True)]
    assert all(abs(np.linalg.norm(Mi) - 1) < 1e-12 for Mi in M)
    expected = 4 / math.sqrt(2) * sum(lam * Mi @ Mi for lam, Mi in zip(t.lam, M))
    X, y = stream_arrays(src, n)
    terms = y[:, None, None] * (X[:, :, None] * X[:, None, :] - np.eye(cfg.d))
    se = terms.std(axis=0) / math.sqrt(n)
    z = np.abs(np.asarray(acc.G) - expected) / se
    assert z.max() < 5.0, z.max()
    # the overall factor: G's component along the formula is 1 within 5 standard errors, and those are
    # small enough to tell it from 1/sqrt 2 or sqrt 2
    proj = np.einsum("mab,ab->m", terms, expected) / np.sum(expected**2)
    se_ratio = proj.std() / math.sqrt(n)
    assert se_ratio < 0.05
    assert abs(np.sum(np.asarray(acc.G) * expected) / np.sum(expected**2) - 1) < 5 * se_ratio


# ---- recovery ------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_chaos_recovers_the_minority_sign_direction(seed):
    """d = 20, g = id, n = 160000 (HERMITE.md sections 1-2): the paper's C leaves the direction whose lambda
    has the minority sign (3 : 1 split at these seeds) below cos^2 = 0.1; C_chaos recovers every direction."""
    cfg = hm.TeacherConfig(d=20, g="id")
    t = hm.Teacher(cfg, seed)
    signs = np.sign(t.lam)
    minority = signs != np.sign(signs.sum())
    assert minority.sum() == 1
    cos2 = {}
    for est in ("paper", "chaos"):
        L = hm.HierarchicalSpectralLearner(t.d1, engine="dense", estimator=est, n_validation=1000).fit_stream(t, 160_000)
        cos2[est] = hm.first_layer_metrics(t.A, L.A_hat_)["cos2"]
    assert cos2["paper"][minority][0] < 0.1, cos2
    assert cos2["chaos"].min() > 0.8, cos2


# ---- refusals ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{"input_model": "gaussian_equivalent"}, {"q": 3}])
def test_chaos_is_refused_without_degree_two_hermite_input(kw):
    learner = hm.HierarchicalSpectralLearner(3, estimator="chaos", **kw)  # stored as given: refused by fit
    X = np.random.default_rng(0).standard_normal((200, 8))
    with pytest.raises(ValueError, match=r"^estimator='chaos' is not allowed") as err:
        learner.fit(X, X[:, 0] * X[:, 1])
    assert "\n" not in str(err.value)
    cfg = hm.TeacherConfig(d=8, **kw)
    with pytest.raises(ValueError, match=r"^estimator='chaos'"):
        hm.run(cfg, 500, estimator="chaos")


def test_engines_refuse_chaos_for_gaussian_features_and_unknown_estimators():
    fmap = GaussianFeatures(10)
    src = ArraySource(np.zeros((8, 10), np.float32), np.zeros(8, np.float32), 8)
    with pytest.raises(ValueError, match=r"^estimator='chaos'"):
        DenseAccumulator(fmap, src, LabelTransform(), "chaos")
    with pytest.raises(ValueError, match=r"^estimator='chaos'"):
        matrix_free_operator(fmap, src, LabelTransform(), estimator="chaos")
    with pytest.raises(ValueError, match=r"^estimator='fourth'.*'paper', 'chaos'"):
        hm.HierarchicalSpectralLearner(3, estimator="fourth").fit(*np.random.default_rng(0).standard_normal((2, 50, 4)))
