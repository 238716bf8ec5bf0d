"""Layer-1 engines: matrix-free C v against dense C v, and the same top subspace from both."""

import dataclasses
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierarchical_model as hm
from hierarchical_model.teacher import CHUNK
from hierarchical_model.engines import (DenseAccumulator, LabelTransform, StreamSource, block_krylov_eigsh,
                                        choose_batch_chunks, matrix_free_operator)


def _source(cfg, n, seed=0):
    t = hm.Teacher(cfg, seed)
    return t, StreamSource(t, "train", n, seed, choose_batch_chunks(t.D))


@pytest.mark.slow
@pytest.mark.parametrize("input_model,q,d", [("hermite", 2, 16), ("gaussian_equivalent", 2, 16), ("hermite", 3, 7)])
def test_matrix_free_cv_equals_dense_cv(input_model, q, d):
    cfg = hm.TeacherConfig(d=d, q=q, g="tanh", input_model=input_model)
    t, src = _source(cfg, 3000)
    T = LabelTransform()
    C = np.asarray(DenseAccumulator(t.features, src, T).matrix(3000))
    # the definition, in float64 from explicit features
    X, y = t.sample(3000)
    F = np.asarray(t.features.explicit(X), np.float64)
    y = np.asarray(y, np.float64)
    C_def = (F.T * y) @ F / 3000 - y.mean() * np.eye(t.D)
    np.testing.assert_allclose(C, C_def, atol=2e-5 * np.abs(C_def).max())
    V = np.random.default_rng(0).standard_normal((t.D, 5))
    CV_mf = np.asarray(matrix_free_operator(t.features, src, T)(V))
    rel = np.linalg.norm(CV_mf - C @ V) / np.linalg.norm(C @ V)
    assert rel < 1e-5


def test_dense_accumulator_nested_prefixes():
    """C at n from a running accumulator equals C computed from scratch on the first n samples."""
    cfg = hm.TeacherConfig(d=12, g="id")
    t, src = _source(cfg, 5000)
    acc = DenseAccumulator(t.features, src, LabelTransform())
    for n in (700, 2048, 5000):
        fresh = DenseAccumulator(t.features, StreamSource(t, "train", n, 0, src.batch_chunks), LabelTransform())
        np.testing.assert_allclose(np.asarray(acc.matrix(n)), np.asarray(fresh.matrix(n)), atol=1e-6)
    with pytest.raises(ValueError, match="nested"):
        acc.matrix(100)


def test_block_krylov_finds_largest_magnitude_pairs_on_both_sides():
    rng = np.random.default_rng(0)
    D = 300
    Q, _ = np.linalg.qr(rng.standard_normal((D, D)))
    evals = np.concatenate([[5.0, -4.0, 3.5, -3.0], rng.uniform(-1, 1, D - 4)])
    M = (Q * evals) @ Q.T
    theta, U, passes, res = block_krylov_eigsh(lambda V: jnp.asarray(M) @ V, D, 4, tol=1e-8, key=jax.random.key(1))
    np.testing.assert_allclose(theta, [5.0, -4.0, 3.5, -3.0], atol=1e-7)
    P, P_true = U @ U.T, Q[:, :4] @ Q[:, :4].T
    assert np.linalg.norm(P - P_true) < 1e-6
    assert res.max() < 5e-8 and passes < 100


def test_engines_give_the_same_top_subspace():
    """At an n where the spikes are outside the bulk, both engines return the same d1-dimensional subspace.
    (Gaussian-equivalent input: at d = 20 the Hermite model has strong non-Gaussian outliers of its own.)"""
    cfg = hm.TeacherConfig(d=20, eps=0.5, gamma=0.2, g="id", input_model="gaussian_equivalent")
    t = hm.Teacher(cfg, 0)
    fits = {}
    for engine in ("dense", "matrix_free"):
        L = hm.HierarchicalSpectralLearner(t.d1, engine=engine, input_model=cfg.input_model, tol=1e-7)
        fits[engine] = L.fit_stream(t, 40_000)
    Ud, Um = fits["dense"].A_hat_.T, fits["matrix_free"].A_hat_.T
    assert np.linalg.norm(Ud @ Ud.T - Um @ Um.T) < 1e-3
    np.testing.assert_allclose(fits["dense"].eigenvalues_, fits["matrix_free"].eigenvalues_, rtol=1e-5)
    assert hm.subspace_overlap(t.A, Ud.T) > 0.9  # the spikes really are outside the bulk here


@dataclasses.dataclass(frozen=True)
class _ExplicitOnly:
    """A feature map known only by its explicit features: the dense engine's generic kernel."""
    fmap: object

    @property
    def D(self):
        return self.fmap.D

    def explicit(self, X):
        return self.fmap.explicit(X)


def test_moment_kernel_equals_block_triangle_kernel():
    """The q = 2 fourth-moment kernel (several panels at d = 30) gives the same C as the generic blocked
    product of the explicit features, at checkpoints that cut sub-batches and batches, with the products
    through BLAS (the CPU path) and through XLA (the accelerators' path, run here on the CPU)."""
    from hierarchical_model.engines.dense_kernels import _kernel_for, dense_kernel

    cfg = hm.TeacherConfig(d=30, g="tanh", sigma=0.3)
    t, src = _source(cfg, 20000)
    assert dense_kernel(t.features) is _kernel_for(t.features, True)
    assert _kernel_for(t.features, True).name == _kernel_for(t.features, False).name == "moments"
    accs = {}
    for blas in (True, False):
        for generic in (False, True):
            acc = DenseAccumulator(t.features, src, LabelTransform())
            acc.kernel = _kernel_for(_ExplicitOnly(t.features) if generic else t.features, blas)
            acc.stats = acc.kernel.zeros()
            accs[blas, generic] = acc
    assert accs[True, True].kernel.name == "block_triangle" and isinstance(accs[True, False].stats[0], np.ndarray)
    for n in (1000, 2048, 9000, 20000):
        Cs = {key: np.asarray(acc.matrix(n)) for key, acc in accs.items()}
        ref = Cs[True, True]
        for key, C in Cs.items():
            assert np.linalg.norm(C - ref) < 1e-6 * np.linalg.norm(ref), key


def test_moment_plan_covers_every_distinct_fourth_moment_once():
    """Every entry of the index map points at a product of the pairs (a, b), (c, e) with a <= b <= c <= e."""
    from hierarchical_model.engines.dense_kernels import _moment_plan

    d = 9
    panels, index = _moment_plan(d)
    D = d * (d + 1) // 2
    size = sum((hi - lo) * (D - c) for lo, hi, c in panels)
    x = np.random.default_rng(3).standard_normal(d)
    iu, ju = np.triu_indices(d)
    colex = np.lexsort((iu, ju))
    P_lex, P_colex = x[iu] * x[ju], (x[iu] * x[ju])[colex]
    flat = np.concatenate([np.outer(P_colex[lo:hi], P_lex[c:]).ravel() for lo, hi, c in panels])
    assert flat.size == size and index.min() >= 0 and index.max() < size
    np.testing.assert_allclose(flat[index], np.outer(P_lex, P_lex), rtol=1e-12)
    assert len(np.unique(index)) == math.comb(d + 3, 4)


def test_batches_are_powers_of_two_and_stream_cache_is_bounded():
    for D in (10, 1830, 5050, 20100, 10**6):  # a power of two, the largest whose (B, D) float32 batch fits 64 MiB
        c = choose_batch_chunks(D)
        assert c & (c - 1) == 0 and 1 <= c <= 32
        assert c == 1 or c * CHUNK * D * 4 <= 64 * 2**20
        assert c == 32 or 2 * c * CHUNK * D * 4 > 64 * 2**20
    t = hm.Teacher(hm.TeacherConfig(d=12), 0)
    plain = StreamSource(t, "train", 8192, 0, 4)
    cached = StreamSource(t, "train", 8192, 0, 4, cache_bytes=1024 * 13 * 4 + 100)
    for _ in range(2):
        for (X1, y1, _), (X2, y2, _) in zip(plain.batches(), cached.batches()):
            np.testing.assert_array_equal(np.asarray(X1), np.asarray(X2))
            np.testing.assert_array_equal(np.asarray(y1), np.asarray(y2))
    assert sorted(cached._cache) == [0]  # one batch of 1024 x (12 + 1) floats fits, the second does not


def test_allocator_tuning_can_be_turned_off(monkeypatch):
    from sims.allocator import tune_allocator

    monkeypatch.setenv("HMODEL_MALLOC_TUNING", "0")
    assert tune_allocator() is False


def test_allocator_tuning_lets_idle_openblas_threads_sleep_unless_the_user_chose(monkeypatch):
    from sims.allocator import tune_allocator

    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    tune_allocator()
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "4"
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "20")
    tune_allocator()
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == "20"


def _nested_Cs(d=24, ns=(300, 900, 2700, 8100)):
    """C of a nested grid on one stream (d = 24: D = 300, d1 = 4)."""
    cfg = hm.TeacherConfig(d=d, g="tanh", gamma=0.4)
    t, src = _source(cfg, ns[-1])
    acc = DenseAccumulator(t.features, src, LabelTransform())
    return t, [np.asarray(acc.matrix(n)) for n in ns]


def test_dense_krylov_warm_and_cold_give_the_reduction_top_k():
    """Warm-started (the previous n's block) and cold block Krylov on the C of a nested grid: the same top d1
    eigenvalues as the tridiagonal reduction to 1e-8 relative, the same eigenvectors' span (so the same q_h)."""
    from hierarchical_model.engines import dense_top

    t, Cs = _nested_Cs()
    V0 = None
    for C in Cs:
        ref_vals, ref_vecs, spectrum, ref = dense_top(C, t.d1, True, solver="tridiagonal")
        assert ref.solver == "tridiagonal" and spectrum.shape == (t.D,)
        assert np.allclose(np.sort(np.abs(spectrum))[-t.d1:], np.sort(np.abs(ref_vals)))
        cold = dense_top(C, t.d1, False, solver="krylov", budget=20.0)  # at D = 300 the bulk edge needs ~2 D products
        warm = dense_top(C, t.d1, False, V0=V0, solver="krylov", budget=20.0)
        for vals, vecs, spec, info in (cold, warm):
            assert info.solver == "krylov" and not info.fallback and spec is None
            np.testing.assert_allclose(vals, ref_vals, rtol=1e-8)
            assert np.linalg.norm(vecs @ vecs.T - ref_vecs @ ref_vecs.T) < 1e-6
            qh, qh_ref = (hm.first_layer_metrics(t.A, v.T)["qh"] for v in (vecs, ref_vecs))
            assert abs(qh - qh_ref) < 1e-6
        V0 = warm[3].block


def test_dense_krylov_falls_back_to_the_reduction_when_over_budget():
    from hierarchical_model.engines import dense_top

    t, Cs = _nested_Cs(ns=(2000,))
    ref_vals, ref_vecs, _, _ = dense_top(Cs[0], t.d1, False, solver="tridiagonal")
    vals, vecs, spec, info = dense_top(Cs[0], t.d1, False, solver="krylov", budget=0.01)  # one cycle at most
    assert info.fallback and info.solver == "tridiagonal" and info.matvecs > 0 and spec is None
    np.testing.assert_array_equal(vals, ref_vals)
    np.testing.assert_array_equal(vecs, ref_vecs)


def test_allocator_tuning_is_the_entry_points_choice_not_the_librarys():
    import subprocess
    import sys

    lib = "import sys, hierarchical_model; sys.exit(int('sims.allocator' in sys.modules))"
    cli = "import sys, sims.cli; sys.exit(int('sims.allocator' not in sys.modules))"
    assert subprocess.run([sys.executable, "-c", lib]).returncode == 0
    assert subprocess.run([sys.executable, "-c", cli]).returncode == 0


def test_matrix_free_batch_keeps_its_contraction_under_256_mib_on_an_accelerator(monkeypatch):
    """`matrix_free_batch_chunks`: on the CPU the (B, D) rule; on an accelerator, Hermite q = 2, the largest power of
    two of chunks with the (B, k, d) float32 contraction <= 256 MiB (d = 400, k = 30: 16 chunks, B = 4096), never
    below the (B, D) rule; other feature maps keep the (B, D) rule. `engine_batch_chunks` picks by engine."""
    from hierarchical_model.engines import engine_batch_chunks, matrix_free_batch_chunks
    from hierarchical_model.hermite import GaussianFeatures, HermiteFeatures

    f400 = HermiteFeatures(400)
    monkeypatch.setattr(jax, "default_backend", lambda: "cpu")
    assert matrix_free_batch_chunks(f400, 30) == choose_batch_chunks(f400.D) == 1
    assert matrix_free_batch_chunks(f400, 30, backend="gpu") == 16  # a plan for a device asks for the device's batch
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
    c = matrix_free_batch_chunks(f400, 30)
    assert c == 16 and c * CHUNK * 30 * 400 * 4 <= 2**28 < 2 * c * CHUNK * 30 * 400 * 4
    assert engine_batch_chunks("matrix_free", f400, 30) == 16 and engine_batch_chunks("dense", f400, 30) == 1
    assert matrix_free_batch_chunks(HermiteFeatures(20), 14) == 32  # capped at the (B, D) rule's maximum
    assert matrix_free_batch_chunks(HermiteFeatures(30, 3), 14) == choose_batch_chunks(HermiteFeatures(30, 3).D)
    assert matrix_free_batch_chunks(GaussianFeatures(80200), 30) == choose_batch_chunks(80200)
