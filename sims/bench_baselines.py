"""The methods the benchmark (sims/bench.py) compares our nested dense sweep against.

* `reference_subspace_iteration`: the field's algorithm (MODEL.md section 6), written faithfully in JAX:
  for EVERY sample size, from scratch, k = d1 + 10 random start vectors and 15 passes over the n samples;
  each pass streams the batches, forms the explicit features F (B x D) and accumulates F^T (w * (F V)),
  then re-orthonormalises by QR; float32 throughout (as the published PyTorch code). A final
  Rayleigh-Ritz step on the last block (no extra pass) picks the d1 vectors of largest |Ritz value|.
  The field's code runs PyTorch; JAX on the same machine is the fair comparison. It reads the same
  stream prefixes as our sweep (instead of an independent draw per size) so that both can be scored
  against one float64 ground truth; the cost is the same.
* `numpy_dense_path`: what a user writes with plain numpy: C += F^T diag(w) F per batch in float64
  (nested prefixes, the same trick as ours, which only flatters the baseline), `numpy.linalg.eigh` at
  each n. Its float64 q_h is the ground truth of the benchmark.
* `scipy_eigsh`: `scipy.sparse.linalg.eigsh(which='LM')` on a LinearOperator whose matvec streams the
  samples held in memory (n x d) and forms F per batch in float64.

Every method returns q_h (MODEL.md section 3) per sample size and its wall time.
"""

from __future__ import annotations

import math
import time

import jax
import jax.numpy as jnp
import numpy as np

import hierarchical_model as hm
from hierarchical_model.engines import StreamSource, choose_batch_chunks, top_by_magnitude
from hierarchical_model.teacher import CHUNK

__all__ = ["reference_subspace_iteration", "numpy_dense_path", "scipy_eigsh", "numpy_features_q2",
           "REFERENCE_PASSES", "REFERENCE_OVERSAMPLE"]

REFERENCE_PASSES = 15
REFERENCE_OVERSAMPLE = 10


def numpy_features_q2(X: np.ndarray) -> np.ndarray:
    """Degree-2 Hermite features in plain numpy (MODEL.md section 1): x_i x_j for i < j and
    (x_i^2 - 1)/sqrt(2) on the diagonal, multisets in lexicographic order (= numpy.triu_indices)."""
    d = X.shape[1]
    iu, ju = np.triu_indices(d)
    F = X[:, iu] * X[:, ju]
    diag = iu == ju
    F[:, diag] = (F[:, diag] - 1.0) / math.sqrt(2.0)
    return F


def _stream(teacher, n, seed=0):
    return StreamSource(teacher, "train", n, seed, choose_batch_chunks(teacher.D))


# ---- (d) the field's algorithm -------------------------------------------------------------------
def _reference_kernel(fmap):
    @jax.jit
    def step(acc, X, w, V):
        F = fmap.explicit(X)
        return acc + F.T @ ((F @ V) * w[:, None]), jnp.sum(w)

    return step


def reference_subspace_iteration(teacher, ns, seed: int = 0, passes: int = REFERENCE_PASSES,
                                 oversample: int = REFERENCE_OVERSAMPLE, progress=None) -> dict:
    """The field's streaming randomized subspace iteration at every n, from scratch each time.
    ``progress(partial_result)`` is called after each n."""
    fmap, d1, D = teacher.features, teacher.d1, teacher.D
    k = min(D, d1 + oversample)
    step = _reference_kernel(fmap)
    bc = choose_batch_chunks(D)
    qh, seconds = [], []
    for i, n in enumerate(ns):
        # batches no larger than n needs (powers of two chunks: few compilations), as the field's code would
        src = StreamSource(teacher, "train", n, seed, min(bc, 1 << max(0, math.ceil(math.log2(-(-n // CHUNK))))))
        t0 = time.perf_counter()
        V = jax.random.normal(jax.random.key(1000 + i), (D, k), jnp.float32)  # a fresh start per size
        V, _ = jnp.linalg.qr(V)
        for p in range(passes):
            acc, sw = jnp.zeros((D, k), jnp.float32), jnp.float32(0)
            for X, y, mask in src.batches(n):
                acc, s = step(acc, X, (y * mask).astype(jnp.float32), V)
                sw = sw + s
            W = (acc - sw * V) / n
            if p < passes - 1:
                V, _ = jnp.linalg.qr(W)
        H = np.asarray(V.T @ W, np.float64)
        theta, Y = np.linalg.eigh((H + H.T) / 2)
        _, Y = top_by_magnitude(theta, Y, d1)
        A_hat = (np.asarray(V, np.float64) @ Y).T
        seconds.append(time.perf_counter() - t0)
        qh.append(hm.subspace_overlap(teacher.A, A_hat))
        out = {"qh": qh, "seconds": float(sum(seconds)), "seconds_per_n": seconds, "passes_per_n": passes, "k": k,
               "complete": len(qh) == len(ns)}
        if progress is not None:
            progress(out)
    return out


# ---- (e) plain numpy / scipy ---------------------------------------------------------------------
def numpy_dense_path(teacher, ns, seed: int = 0, progress=None) -> dict:
    """C accumulated with numpy in float64 over nested prefixes, numpy.linalg.eigh at every n.
    ``progress(partial_result)`` is called after each n."""
    D, d1 = teacher.D, teacher.d1
    src = _stream(teacher, max(ns), seed)
    B = src.batch_size
    C = np.zeros((D, D))
    sum_w, done = 0.0, 0
    qh, t_eigh = [], 0.0
    t0 = time.perf_counter()
    for n in ns:
        while done < n:  # chunk-aligned batches; a batch may straddle two checkpoints
            X, y = (np.asarray(a, np.float64) for a in teacher.chunks("train", done // CHUNK, B // CHUNK, seed))
            lo = done % CHUNK
            take = min(B - lo, n - done)
            F, w = numpy_features_q2(X[lo: lo + take]), y[lo: lo + take]
            C += F.T @ (F * w[:, None])
            sum_w += w.sum()
            done += take
        t1 = time.perf_counter()
        evals, evecs = np.linalg.eigh((C - sum_w * np.eye(D)) / n)
        _, U = top_by_magnitude(evals, evecs, d1)
        t_eigh += time.perf_counter() - t1
        qh.append(hm.subspace_overlap(teacher.A, U.T))
        out = {"qh": qh, "seconds": time.perf_counter() - t0, "seconds_eigh": t_eigh, "complete": len(qh) == len(ns)}
        if progress is not None:
            progress(out)
    return out


def _held_samples(teacher, n, seed):
    """The first n samples of the training stream as numpy arrays (a numpy user holds X, n x d)."""
    X, y = teacher.sample(n, "train", seed)
    return np.asarray(X, np.float64), np.asarray(y, np.float64)


def scipy_eigsh(teacher, ns, seed: int = 0, batch: int = 4096) -> dict:
    """scipy.sparse.linalg.eigsh(which='LM', k=d1) on a streamed LinearOperator, at every n."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    D, d1 = teacher.D, teacher.d1
    X_all, y_all = _held_samples(teacher, max(ns), seed)
    qh, seconds, matvecs = [], [], []
    for n in ns:
        X, y = X_all[:n], y_all[:n]
        count = [0]

        def matvec(v):
            v = np.ravel(v)
            out = -y.sum() * v
            for lo in range(0, n, batch):
                F = numpy_features_q2(X[lo: lo + batch])
                out += F.T @ (y[lo: lo + batch] * (F @ v))
            count[0] += 1
            return out / n

        t0 = time.perf_counter()
        op = LinearOperator((D, D), matvec=matvec, dtype=np.float64)
        _, U = eigsh(op, k=d1, which="LM", v0=np.ones(D) / math.sqrt(D))
        seconds.append(time.perf_counter() - t0)
        matvecs.append(count[0])
        qh.append(hm.subspace_overlap(teacher.A, U.T))
    return {"qh": qh, "seconds": float(sum(seconds)), "seconds_per_n": seconds, "matvecs": matvecs}
