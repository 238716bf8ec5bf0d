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
    pilot of held-out samples (see `fit_scale`)."""

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
_GRAM_BLOCK = 200  # column-block width of the blocked symmetric update (measured best near 120-260)


def _column_blocks(D: int) -> tuple:
    """Column ranges of F for the blocked symmetric update: nb blocks of about _GRAM_BLOCK columns."""
    nb = max(1, min(12, round(D / _GRAM_BLOCK)))
    edges = np.linspace(0, D, nb + 1).round().astype(int)
    return tuple((int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]))


@lru_cache(maxsize=32)
def _dense_kernels(fmap):
    """Jitted kernels of the dense engine on the upper block triangle of F^T diag(w) F.

    Only the nb (nb + 1) / 2 column blocks (i <= j) are computed, as BLAS SYRK does: (nb + 1) / (2 nb)
    of the general product's flops. F is laid out transposed (D, B) so that every block product is a
    row-slice GEMM Ft_i (w Ft_j)^T on contiguous rows; the optimization barriers keep XLA from fusing
    the feature map and the weighting into the products (fused operands fall off the fast GEMM path).
    The weights are cast to float32 first: float64 labels would make every product a float64 GEMM.

    Returns acc_fn(acc, X, w) -> (acc + blocks in float64, sum w) with acc a tuple of float64 blocks
    (donated), gram64(X, w) -> the batch's blocks in float64, assemble(blocks) -> the symmetric D x D
    matrix, and zeros() -> an empty accumulator."""
    cols = _column_blocks(fmap.D)
    pairs = tuple((i, j) for i in range(len(cols)) for j in range(i, len(cols)))

    def gram(X, w):
        Ft = jax.lax.optimization_barrier(fmap.explicit(X).T)
        Fwt = jax.lax.optimization_barrier(Ft * w.astype(jnp.float32)[None, :])
        return tuple(Ft[slice(*cols[i])] @ Fwt[slice(*cols[j])].T for i, j in pairs)

    def acc_fn(acc, X, w):
        return (tuple(a + g.astype(jnp.float64) for a, g in zip(acc, gram(X, w))),
                jnp.sum(w, dtype=jnp.float64))

    @jax.jit
    def gram64(X, w):
        return tuple(g.astype(jnp.float64) for g in gram(X, w))

    @jax.jit
    def assemble(blocks):
        by_pair = dict(zip(pairs, blocks))
        nb = len(cols)
        return jnp.block([[by_pair[(i, j)] if i <= j else by_pair[(j, i)].T for j in range(nb)] for i in range(nb)])

    def zeros():
        return tuple(jnp.zeros((cols[i][1] - cols[i][0], cols[j][1] - cols[j][0]), jnp.float64) for i, j in pairs)

    return jax.jit(acc_fn, donate_argnums=0), gram64, assemble, zeros


class DenseAccumulator:
    """Running sum of T(y) F F^T over a stream's prefix, so that C at a nested grid of n costs one pass.

    Each batch adds its float32 F^T diag(w) F (upper block triangle, see `_dense_kernels`) to float64
    blocks (long sums in float64). `matrix(n)` returns C for the first n samples; successive calls must
    not decrease n."""

    def __init__(self, fmap, source, transform: LabelTransform):
        self.fmap, self.source, self.transform = fmap, source, transform
        self._acc_fn, self._gram, self._assemble, zeros = _dense_kernels(fmap)
        self.acc = zeros()
        self.sum_w = 0.0
        self.done = 0  # full batches accumulated
        self.last_n = 0

    def matrix(self, n: int):
        B = self.source.batch_size
        if n < self.last_n:
            raise ValueError(f"n={n} is below the previous n={self.last_n}: nested grids must increase")
        self.last_n = n
        sums = []
        while (self.done + 1) * B <= n:
            X, y, mask = self.source.batch(self.done, n)
            self.acc, sw = self._acc_fn(self.acc, X, self.transform(y) * mask)
            sums.append(sw)  # read back once, after the loop: no host sync per batch
            self.done += 1
        self.sum_w += float(sum(sums)) if sums else 0.0
        blocks, sum_w = self.acc, self.sum_w
        if n > self.done * B:  # a partial last batch, added to a copy and kept out of the running sum
            X, y, mask = self.source.batch(self.done, n)
            w = self.transform(y) * mask
            blocks = tuple(a + g for a, g in zip(blocks, self._gram(X, w)))
            sum_w += float(jnp.sum(w, dtype=jnp.float64))
        total = self._assemble(blocks)
        return (total - sum_w * jnp.eye(total.shape[0], dtype=jnp.float64)) / n


def dense_top(C, n_eig: int, keep_spectrum: bool):
    """Eigen-decomposition of the dense C; top n_eig by |eigenvalue| (and the whole spectrum if asked).

    On the CPU backend: one LAPACK tridiagonal reduction, the whole spectrum from the tridiagonal
    matrix, and eigenvectors only for the n_eig wanted eigenvalues (`_tridiagonal_top`), several times
    cheaper than a full eigh. On accelerators: the device's own eigh."""
    if jax.default_backend() == "cpu" and 2 * n_eig < C.shape[0]:
        evals, vals, vecs = _tridiagonal_top(np.asarray(C, np.float64), n_eig)
    else:
        evals, evecs = jnp.linalg.eigh(C)
        evals, evecs = np.asarray(evals), np.asarray(evecs)
        vals, vecs = top_by_magnitude(evals, evecs, n_eig)
    return vals, vecs, (evals if keep_spectrum else None)


def _tridiagonal_top(C: np.ndarray, k: int):
    """(all eigenvalues ascending, the k of largest |eigenvalue| in decreasing |eigenvalue|, their
    eigenvectors) of a symmetric float64 C by C = Q T Q^T (LAPACK dsytrd, Householder), the spectrum
    of the tridiagonal T, inverse iteration on T for the k wanted pairs only, and z -> Q z.

    The wanted eigenvalues are the m lowest and the k - m highest (largest magnitudes sit at the ends
    of the sorted spectrum), so two index ranges of T cover them."""
    import scipy.linalg as sla
    from scipy.linalg import lapack

    D = C.shape[0]
    lwork, _ = lapack.dsytrd_lwork(D, lower=1)
    a, diag, off, tau, info = lapack.dsytrd(C, lower=1, lwork=int(lwork))
    if info != 0:
        raise np.linalg.LinAlgError(f"dsytrd failed (info={info})")
    evals = sla.eigvalsh_tridiagonal(diag, off)
    order = np.argsort(-np.abs(evals), kind="stable")[:k]
    sel = np.sort(order)
    m = int(np.sum(sel == np.arange(k)))  # length of the bottom run 0..m-1
    if not np.array_equal(sel[m:], np.arange(D - (k - m), D)):  # ties broken oddly: full eigh
        ev, V = np.linalg.eigh(C)
        vals, vecs = top_by_magnitude(ev, V, k)
        return ev, vals, vecs
    Z = np.zeros((D, k))
    ranges = [(0, m - 1)] if m else []
    ranges += [(D - (k - m), D - 1)] if k - m else []
    col = 0
    for lo, hi in ranges:
        _, z = sla.eigh_tridiagonal(diag, off, select="i", select_range=(lo, hi))
        Z[:, col: col + z.shape[1]] = z
        col += z.shape[1]
    # Q = H_0 H_1 ... H_{D-2}, H_i = I - tau_i v_i v_i^T, v_i = (0,..,0, 1, a[i+2:, i]) with the 1 at i + 1
    for i in range(D - 2, -1, -1):
        if tau[i] == 0.0:
            continue
        v = np.concatenate(([1.0], a[i + 2:, i]))
        Z[i + 1:] -= np.outer(tau[i] * v, v @ Z[i + 1:])
    pos = {idx: c for c, idx in enumerate(sel)}
    cols = [pos[idx] for idx in order]
    return evals, evals[order], Z[:, cols]


def top_by_magnitude(evals, evecs, k: int):
    """The k eigenpairs of largest |eigenvalue|, in decreasing |eigenvalue|."""
    order = np.argsort(-np.abs(evals), kind="stable")[:k]
    return evals[order], evecs[:, order]


# ---- matrix-free engine -------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _mf_kernel(fmap):
    def step(acc, X, w, V):
        s = fmap.dot(X, V) * w.astype(jnp.float32)[:, None]
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
