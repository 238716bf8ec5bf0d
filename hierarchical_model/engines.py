"""Layer-1 engines: the spectral matrix C of Algorithm 1 (MODEL.md section 2) and its top eigenpairs.

    C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D)

'dense'       accumulates C over batches: each batch's F^T diag(w) F is a float32 GEMM, added into a
              float64 D x D accumulator (long sums in float64), then a float64 eigh.
'matrix_free' never forms C: V -> C V is streamed over the batches through the feature map's
              `dot`/`rdot` actions, and a thick-restarted block Krylov method finds the eigenpairs of
              largest |eigenvalue| (both sides of the spectrum: the signs z_i put spikes on both sides).
              Memory O(D k).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from .teacher import CHUNK

__all__ = ["StreamSource", "ArraySource", "LabelTransform", "DenseAccumulator", "matrix_free_operator",
           "block_krylov_eigsh", "top_by_magnitude", "dense_bytes", "choose_batch_chunks"]

_TARGET_BATCH_FLOATS = 1 << 24  # a (B, D) float32 batch of at most 64 MiB


def choose_batch_chunks(D: int, max_chunks: int = 32) -> int:
    """Compute-batch size in chunks of CHUNK samples: big enough for efficient GEMMs, (B, D) <= 64 MiB."""
    return int(max(1, min(max_chunks, _TARGET_BATCH_FLOATS // (D * CHUNK))))


def dense_bytes(D: int) -> int:
    """Memory of the dense engine: the float64 accumulator plus eigh's workspace (about two more copies)."""
    return 3 * 8 * D * D


# ---- data sources ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class StreamSource:
    """The first n samples of a teacher's stream, in batches of ``batch_chunks`` chunks."""

    teacher: object
    stream: str
    n: int
    seed: int
    batch_chunks: int

    @property
    def batch_size(self) -> int:
        return self.batch_chunks * CHUNK

    def n_batches(self, n: int | None = None) -> int:
        return -(-(self.n if n is None else n) // self.batch_size)

    def batch(self, b: int, n: int | None = None):
        """Batch b as (inputs, y, mask); mask is 1 for sample indices < n (default self.n)."""
        n = self.n if n is None else n
        X, y = self.teacher.chunks(self.stream, b * self.batch_chunks, self.batch_chunks, self.seed)
        return X, y, _prefix_mask(b * self.batch_size, self.batch_size, n)

    def batches(self, n: int | None = None):
        for b in range(self.n_batches(n)):
            yield self.batch(b, n)


@dataclass(frozen=True, eq=False)
class ArraySource:
    """User arrays (inputs (n, dim), y (n,)) served in zero-padded batches with a mask."""

    X: np.ndarray
    y: np.ndarray
    batch_size: int

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def n_batches(self, n: int | None = None) -> int:
        return -(-(self.n if n is None else n) // self.batch_size)

    def batch(self, b: int, n: int | None = None):
        n = self.n if n is None else n
        lo, B = b * self.batch_size, self.batch_size
        X = self.X[lo: lo + B]
        y = self.y[lo: lo + B]
        pad = B - X.shape[0]
        if pad:
            X = np.concatenate([X, np.zeros((pad, X.shape[1]), X.dtype)])
            y = np.concatenate([y, np.zeros(pad, y.dtype)])
        return jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), _prefix_mask(lo, B, n)

    def batches(self, n: int | None = None):
        for b in range(self.n_batches(n)):
            yield self.batch(b, n)


@jax.jit
def _prefix_mask_jit(lo, n, ar):
    return ((lo + ar) < n).astype(jnp.float32)


def _prefix_mask(lo: int, B: int, n: int):
    return _prefix_mask_jit(jnp.int64(lo), jnp.int64(n), jnp.arange(B))


# ---- label preprocessing --------------------------------------------------------------------------
@dataclass(frozen=True)
class LabelTransform:
    """T(y) of Algorithm 1, step 1: 'identity' (the paper), 'clip' (clip |y| at ``scale``) or
    'tanh' (the saturating map scale * tanh(y / scale)). ``scale`` is the ``quantile`` of |y| on a
    pilot of the first training samples (see `fit_scale`)."""

    kind: str = "identity"
    quantile: float = 0.99
    scale: float = math.inf

    def __call__(self, y):
        if self.kind == "identity":
            return y
        if self.kind == "clip":
            return jnp.clip(y, -self.scale, self.scale)
        return self.scale * jnp.tanh(y / self.scale)

    def fit_scale(self, source, pilot: int = 16384) -> "LabelTransform":
        if self.kind == "identity":
            return self
        m = min(source.n, pilot)
        ys = [np.asarray(y)[np.asarray(mask) > 0] for _, y, mask in source.batches(m)]
        scale = float(np.quantile(np.abs(np.concatenate(ys)), self.quantile))
        return LabelTransform(self.kind, self.quantile, max(scale, 1e-12))


# ---- dense engine ---------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _dense_kernels(fmap):
    def gram(X, w):
        F = fmap.explicit(X)
        return F.T @ (F * w[:, None])

    @jax.jit
    def gram64(X, w):
        return gram(X, w).astype(jnp.float64)

    def acc_fn(acc, X, w):
        return acc + gram(X, w).astype(jnp.float64), jnp.sum(w, dtype=jnp.float64)

    return jax.jit(acc_fn, donate_argnums=0), gram64


class DenseAccumulator:
    """Running sum of T(y) F F^T over a stream's prefix, so that C at a nested grid of n costs one pass.

    `matrix(n)` returns C for the first n samples; successive calls must not decrease n."""

    def __init__(self, fmap, source, transform: LabelTransform):
        self.fmap, self.source, self.transform = fmap, source, transform
        D = fmap.D
        self.acc = jnp.zeros((D, D), jnp.float64)
        self.sum_w = 0.0
        self.done = 0  # full batches accumulated
        self.last_n = 0
        self._acc_fn, self._gram = _dense_kernels(fmap)

    def matrix(self, n: int):
        B = self.source.batch_size
        if n < self.last_n:
            raise ValueError(f"n={n} is below the previous n={self.last_n}: nested grids must increase")
        self.last_n = n
        while (self.done + 1) * B <= n:
            X, y, mask = self.source.batch(self.done, n)
            self.acc, sw = self._acc_fn(self.acc, X, self.transform(y) * mask)
            self.sum_w += float(sw)
            self.done += 1
        total, sum_w = self.acc, self.sum_w
        if n > self.done * B:  # a partial last batch, added to a copy and kept out of the running sum
            X, y, mask = self.source.batch(self.done, n)
            w = self.transform(y) * mask
            total = total + self._gram(X, w)
            sum_w += float(jnp.sum(w, dtype=jnp.float64))
        return (total - sum_w * jnp.eye(total.shape[0], dtype=jnp.float64)) / n


def dense_top(C, n_eig: int, keep_spectrum: bool):
    """Eigen-decomposition of the dense C; top n_eig by |eigenvalue| (and the whole spectrum if asked)."""
    evals, evecs = jnp.linalg.eigh(C)
    evals, evecs = np.asarray(evals), np.asarray(evecs)
    vals, vecs = top_by_magnitude(evals, evecs, n_eig)
    return vals, vecs, (evals if keep_spectrum else None)


def top_by_magnitude(evals, evecs, k: int):
    """The k eigenpairs of largest |eigenvalue|, in decreasing |eigenvalue|."""
    order = np.argsort(-np.abs(evals), kind="stable")[:k]
    return evals[order], evecs[:, order]


# ---- matrix-free engine -------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _mf_kernel(fmap):
    def step(acc, X, w, V):
        s = fmap.dot(X, V) * w[:, None]
        return acc + fmap.rdot(X, s).astype(jnp.float64), jnp.sum(w, dtype=jnp.float64)

    return jax.jit(step, donate_argnums=0)


def matrix_free_operator(fmap, source, transform: LabelTransform, n: int | None = None, counter=None):
    """V (D, k) -> C V (float64), one streamed pass over the first n samples per call."""
    n = source.n if n is None else n
    step = _mf_kernel(fmap)

    def apply(V):
        V = jnp.asarray(V, jnp.float64)
        V32 = V.astype(jnp.float32)
        acc = jnp.zeros(V.shape, jnp.float64)
        sum_w = 0.0
        for X, y, mask in source.batches(n):
            acc, sw = step(acc, X, transform(y) * mask, V32)
            sum_w = sum_w + sw
        if counter is not None:
            counter["passes"] = counter.get("passes", 0) + 1
        return (acc - sum_w * V) / n

    return apply


def _orthonormalize_against(R, basis):
    """Block classical Gram-Schmidt, twice (numerically stable enough at these sizes), then QR."""
    for _ in range(2):
        for Qb in basis:
            R = R - Qb @ (Qb.T @ R)
    Q, _ = jnp.linalg.qr(R)
    return Q


def block_krylov_eigsh(apply, D: int, n_eig: int, V0=None, block: int | None = None, depth: int = 4,
                       tol: float = 1e-4, max_passes: int = 300, key=None):
    """Eigenpairs of largest |eigenvalue| of a symmetric operator, by thick-restarted block Krylov.

    Each cycle builds the basis [V, CV, ..., C^depth V] (orthonormalised block by block), takes the
    Rayleigh-Ritz pairs of largest |theta| and restarts from the best ``block`` Ritz vectors, whose
    images are already known (no extra pass). Stops when every wanted pair has residual
    |C u - theta u| <= tol * |theta_1|, or after ``max_passes`` applications of C.
    ``V0`` warm-starts (e.g. the previous n of a nested grid). Returns (theta, U, passes, residuals).
    """
    k = min(D, block or n_eig + 10)
    if D < 2 * k:  # the block is most of the space: one exact Rayleigh-Ritz on all of it
        k, depth = D, 0
    else:
        depth = max(1, min(depth, D // k - 1))
    key = jax.random.key(0) if key is None else key
    V = jax.random.normal(key, (D, k), jnp.float64)
    if V0 is not None:
        V0 = jnp.asarray(V0, jnp.float64)[:, :k]
        V = V.at[:, : V0.shape[1]].set(V0)
    V, _ = jnp.linalg.qr(V)
    CV = apply(V)
    passes = 1
    while True:
        basis, images = [V], [CV]
        for _ in range(depth):
            Qn = _orthonormalize_against(images[-1], basis)
            basis.append(Qn)
            images.append(apply(Qn))
            passes += 1
        Q, CQ = jnp.concatenate(basis, 1), jnp.concatenate(images, 1)
        H = Q.T @ CQ
        theta, Y = np.linalg.eigh(np.asarray((H + H.T) / 2))
        theta, Y = top_by_magnitude(theta, Y, k)
        Y = jnp.asarray(Y)
        U, CU = Q @ Y, CQ @ Y
        res = np.asarray(jnp.linalg.norm(CU[:, :n_eig] - U[:, :n_eig] * theta[:n_eig], axis=0))
        if depth == 0 or res.max() <= tol * abs(theta[0]) or passes >= max_passes:
            return theta[:n_eig], np.asarray(U[:, :n_eig]), passes, res
        V, CV = U, CU
