"""Layer-1 engines: the spectral matrix C of Algorithm 1 (MODEL.md section 2) and its top eigenpairs.

    C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D)

'dense'       accumulates C over batches: each batch's F^T diag(w) F is a float32 GEMM, added into a
              float64 D x D accumulator (long sums in float64), then a float64 eigh.
'matrix_free' never forms C: V -> C V is streamed over the batches through the feature map's
              `dot`/`rdot` actions, and a thick-restarted block Krylov method finds the eigenpairs of
              largest |eigenvalue| (both sides of the spectrum: the signs z_i put spikes on both sides).
              Memory O(D k).

Estimators (q = 2 Hermite input only for 'chaos'; HERMITE.md section 2):
'paper'  C as above (MODEL.md section 2; the default).
'chaos'  C_chaos = C - (G (+) G), G = (1/n) sum_mu T(y_mu) (x_mu x_mu^T - I_d): the degree-2 chaos of
         the labels, v <-> V -> G V + V G in feature coordinates, removed from C. The dense engine reads
         G off the moment kernel's M2 = sum w x x^T and subtracts the D x D matrix of the Kronecker sum
         (O(D d) entries) at `matrix(n)`; the matrix-free operator accumulates G in its first pass and
         subtracts G V + V G at every application.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import check_choice
from .teacher import CHUNK

__all__ = ["StreamSource", "ArraySource", "LabelTransform", "DenseAccumulator", "matrix_free_operator",
           "block_krylov_eigsh", "dense_block_krylov", "dense_top", "EigenInfo", "top_by_magnitude", "dense_bytes", "choose_batch_chunks", "dense_kernel",
           "ESTIMATORS", "check_estimator", "kronecker_sum_apply", "kronecker_sum_matrix"]

ESTIMATORS = ("paper", "chaos")

_TARGET_BATCH_FLOATS = 1 << 24  # a (B, D) float32 batch of at most 64 MiB


def choose_batch_chunks(D: int, max_chunks: int = 32) -> int:
    """Batch size in chunks of CHUNK samples: a power of two (so that it splits into the dense engine's
    sub-batches), big enough to amortise dispatch, (B, D) float32 <= 64 MiB."""
    fit = max(1, min(max_chunks, _TARGET_BATCH_FLOATS // (D * CHUNK)))
    return 1 << (int(fit).bit_length() - 1)


def dense_bytes(D: int) -> int:
    """Memory of the dense engine: the float64 accumulator plus eigh's workspace (about two more copies)."""
    return 3 * 8 * D * D


# ---- data sources ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class StreamSource:
    """The first n samples of a teacher's stream, in batches of ``batch_chunks`` chunks.

    The first batches, up to ``cache_bytes``, are kept once generated: a nested grid re-reads the
    prefix of the stream at every checkpoint (layer 2 and the readout), and the prefix is what it
    re-reads most."""

    teacher: object
    stream: str
    n: int
    seed: int
    batch_chunks: int
    cache_bytes: int = 0

    def __post_init__(self):
        object.__setattr__(self, "_cache", {})

    @property
    def batch_size(self) -> int:
        return self.batch_chunks * CHUNK

    def n_batches(self, n: int | None = None) -> int:
        return -(-(self.n if n is None else n) // self.batch_size)

    def batch(self, b: int, n: int | None = None):
        """Batch b as (inputs, y, mask); mask is 1 for sample indices < n (default self.n)."""
        n = self.n if n is None else n
        if b in self._cache:
            X, y = self._cache[b]
        else:
            X, y = self.teacher.chunks(self.stream, b * self.batch_chunks, self.batch_chunks, self.seed)
            if (len(self._cache) + 1) * (X.nbytes + y.nbytes) <= self.cache_bytes:
                self._cache[b] = (X, y)
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
_SUB_BATCH_CHUNKS = 8  # GEMMs run on sub-batches of 2048 samples: their (D, 2048) feature panels stay in cache
_GRAM_BLOCK = 200      # column-block width of the generic blocked symmetric update (measured best near 200)
_MOMENT_ROWS = 256     # rows per panel of the q = 2 moment update (measured best near 256)


@dataclass(frozen=True, eq=False)
class _DenseKernel:
    """Sufficient statistics of C for one feature map (see `dense_kernel`), as two jitted programs.

    operands(X, w) -> (GEMM operands of one sub-batch, sum w); update(stats, *operands) -> stats plus the
    sub-batch's products in float64 (stats donated); zeros() -> empty float64 statistics;
    matrix(stats, sum_w, n) -> C = (sum_mu w_mu F_mu F_mu^T - sum_w I) / n, float64 D x D.
    Building the operands and multiplying them are separate programs on purpose: fused into one XLA:CPU
    program the same GEMMs ran at half the speed (measured, jax 0.10, d = 60)."""

    name: str
    zeros: object
    operands: object
    update: object
    matrix: object
    executed_fraction: float  # flops executed per sample, as a fraction of the general product's 2 D^2
    label_moment: object = None  # (stats, sum_w, n) -> G = (M2 - sum_w I) / n, d x d (q = 2 moments only)

    def add(self, stats, X, w):
        """(stats + those of X, w, sum w): float32 products, float64 accumulation."""
        *ops, sum_w = self.operands(X, w)
        return self.update(stats, *ops), sum_w


def _products(blocks):
    """update(stats, A, Bw) for blocks ((a0, a1, b0, b1), ...): stats_k + A[a0:a1] Bw[b0:b1]^T in float64."""

    def update(stats, A, Bw):
        return tuple(s + (A[a0:a1] @ Bw[b0:b1].T).astype(jnp.float64) for s, (a0, a1, b0, b1) in zip(stats, blocks))

    return jax.jit(update, donate_argnums=0)


def _column_blocks(D: int) -> tuple:
    """Column ranges of F for the blocked symmetric update: nb blocks of about _GRAM_BLOCK columns."""
    nb = max(1, min(12, round(D / _GRAM_BLOCK)))
    edges = np.linspace(0, D, nb + 1).round().astype(int)
    return tuple((int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]))


def _block_triangle_kernel(fmap) -> _DenseKernel:
    """Any feature map: the upper block triangle of F^T diag(w) F.

    Only the nb (nb + 1) / 2 column blocks (i <= j) are computed, as BLAS SYRK does. F is laid out
    transposed (D, B) so that every block product is a row-slice GEMM Ft_i (w Ft_j)^T on contiguous
    rows."""
    cols = _column_blocks(fmap.D)
    pairs = tuple((i, j) for i in range(len(cols)) for j in range(i, len(cols)))

    @jax.jit
    def operands(X, w):
        Ft = fmap.explicit(X).T
        return Ft, Ft * w.astype(jnp.float32)[None, :], jnp.sum(w, dtype=jnp.float64)

    def zeros():
        return tuple(jnp.zeros((cols[i][1] - cols[i][0], cols[j][1] - cols[j][0]), jnp.float64) for i, j in pairs)

    @jax.jit
    def matrix(stats, sum_w, n):
        by_pair = dict(zip(pairs, stats))
        nb = len(cols)
        G = jnp.block([[by_pair[(i, j)] if i <= j else by_pair[(j, i)].T for j in range(nb)] for i in range(nb)])
        return (G - sum_w * jnp.eye(fmap.D, dtype=jnp.float64)) / n

    update = _products(tuple(cols[i] + cols[j] for i, j in pairs))
    nb = len(cols)
    return _DenseKernel("block_triangle", zeros, operands, update, matrix, (nb + 1) / (2 * nb))


def _moment_plan(d: int):
    """Panels of the q = 2 moment update and the map from C's entries to the panels' entries.

    For q = 2, sum_mu w_mu F F^T is a function of the weighted fourth moments
    M4[a, b, c, e] = sum_mu w_mu x_a x_b x_c x_e, of which only C(d + 3, 4) ~ D^2 / 6 are distinct, while
    the upper triangle of F^T diag(w) F holds D^2 / 2 entries. Every distinct a <= b <= c <= e is the
    product of the pair (a, b), whose larger index is b, with the pair (c, e), whose smaller index c >= b.
    So pairs are grouped by their larger index j (colex order) into row panels J = [j0, j1), and each
    panel is multiplied only with the pairs whose smaller index is >= j0 (a suffix of lexicographic
    order): about d^4 / 24 products instead of d^4 / 8.

    Returns (panels, index): panels[p] = (row_lo, row_hi, col_lo) in colex rows / lex columns;
    index (D, D) int32 gives, for features alpha, beta (lexicographic pairs), the position of
    M4[sorted(alpha + beta)] in the concatenation of the flattened panels."""
    D = d * (d + 1) // 2
    bounds, rows = [0], 0
    for j in range(d - 1):
        rows += j + 1
        if rows >= _MOMENT_ROWS:
            bounds.append(j + 1)
            rows = 0
    bounds.append(d)
    lex_start = lambda k: k * d - k * (k - 1) // 2  # noqa: E731  position of the pair (k, k) in lex order
    panels = tuple((j0 * (j0 + 1) // 2, j1 * (j1 + 1) // 2, lex_start(j0)) for j0, j1 in zip(bounds[:-1], bounds[1:]))
    offsets = np.cumsum([0] + [(hi - lo) * (D - c) for lo, hi, c in panels])
    panel_of = np.searchsorted(np.asarray(bounds[1:]), np.arange(d), side="right").astype(np.int32)  # panel of each larger index
    iu, ju = (v.astype(np.int32) for v in np.triu_indices(d))
    i, k = np.ix_(iu, iu)
    j, l = np.ix_(ju, ju)
    a, e = np.minimum(i, k), np.maximum(j, l)
    m1, m2 = np.maximum(i, k), np.minimum(j, l)
    b, c = np.minimum(m1, m2), np.maximum(m1, m2)
    del i, j, k, l, m1, m2
    p = panel_of[b]
    row_lo = np.asarray([pl[0] for pl in panels], np.int64)[p]
    col_lo = np.asarray([pl[2] for pl in panels], np.int64)[p]
    index = offsets[p] + (b * (b + 1) // 2 + a - row_lo) * (D - col_lo) + (lex_start(c) + e - c - col_lo)
    return panels, index.astype(np.int32 if offsets[-1] < 2**31 else np.int64)


def _moment_kernel(fmap) -> _DenseKernel:
    """Hermite features of degree 2: sum w F F^T from the distinct weighted fourth moments (`_moment_plan`).

    With F_(i,j) = s_ij (x_i x_j - delta_ij), s = 1/sqrt(2) on the diagonal pairs, 1 elsewhere:

        sum_mu w F_alpha F_beta = s_alpha s_beta (M4[alpha beta] - delta_beta M2[alpha] - delta_alpha M2[beta]
                                                  + delta_alpha delta_beta sum_w),   M2 = sum_mu w_mu x x^T."""
    d, D = fmap.d, fmap.D
    panels, index = _moment_plan(d)
    iu, ju = np.triu_indices(d)
    order = np.lexsort((iu, ju))  # colex: by the larger index, then the smaller
    ci, cj = iu[order], ju[order]
    diag = (iu == ju).astype(np.float64)
    s = np.where(iu == ju, 1.0 / math.sqrt(2.0), 1.0)

    @jax.jit
    def operands(X, w):
        Xt, w = X.T, w.astype(jnp.float32)
        Xw = Xt * w[None, :]
        rows = Xt[ci] * Xt[cj]  # colex monomials (D, sub)
        cols = Xt[iu] * Xw[ju]  # lex monomials, weighted
        # M2 = sum w x x^T rides along as one more block: rows D..D+d times columns D..D+d
        return jnp.concatenate([rows, Xt]), jnp.concatenate([cols, Xw]), jnp.sum(w, dtype=jnp.float64)

    def zeros():
        return tuple(jnp.zeros((hi - lo, D - c), jnp.float64) for lo, hi, c in panels) + (jnp.zeros((d, d), jnp.float64),)

    @jax.jit
    def assemble(stats, sum_w, n, index, diag, s):
        M4 = jnp.concatenate([p.ravel() for p in stats[:-1]])[index]
        m2 = stats[-1][iu, ju]
        G = M4 - diag[None, :] * m2[:, None] - diag[:, None] * m2[None, :] + sum_w * jnp.outer(diag, diag)
        return (G * jnp.outer(s, s) - sum_w * jnp.eye(D, dtype=jnp.float64)) / n

    tables = (jnp.asarray(index), jnp.asarray(diag), jnp.asarray(s))  # arguments, not constants: the index
    # map has D^2 entries, which XLA would otherwise fold into the compiled program

    def matrix(stats, sum_w, n):
        return assemble(stats, sum_w, n, *tables)

    @jax.jit
    def label_moment(stats, sum_w, n):
        M2 = (stats[-1] + stats[-1].T) / 2  # the float32 GEMM of the M2 block need not be exactly symmetric
        return (M2 - sum_w * jnp.eye(d, dtype=jnp.float64)) / n

    update = _products(tuple((lo, hi, c, D) for lo, hi, c in panels) + ((D, D + d, D, D + d),))
    executed = sum((hi - lo) * (D - c) for lo, hi, c in panels) / D**2
    return _DenseKernel("moments", zeros, operands, update, matrix, executed, label_moment)


@lru_cache(maxsize=32)
def dense_kernel(fmap) -> _DenseKernel:
    """The dense engine's kernel: fourth moments for degree-2 Hermite features (about 2x fewer flops
    than the block triangle), the blocked symmetric product of the explicit features otherwise."""
    from .hermite import HermiteFeatures

    if isinstance(fmap, HermiteFeatures) and fmap.q == 2:
        return _moment_kernel(fmap)
    return _block_triangle_kernel(fmap)


# ---- the chaos estimator (HERMITE.md section 2) -------------------------------------------------------
def check_estimator(estimator: str, fmap=None, *, q: int | None = None, input_model: str | None = None) -> str:
    """Refuse an unknown estimator, and 'chaos' for anything but degree-2 Hermite features of x."""
    from .hermite import HermiteFeatures

    check_choice("estimator", estimator, ESTIMATORS)
    if estimator == "chaos":
        if fmap is not None:
            q, input_model = getattr(fmap, "q", None), "hermite" if isinstance(fmap, HermiteFeatures) else "gaussian_equivalent"
        if q != 2 or input_model != "hermite":
            raise ValueError(f"estimator='chaos' is not allowed with q={q}, input_model={input_model!r}: it needs "
                             "q = 2 Hermite input (HERMITE.md section 2); use estimator='paper'")
    return estimator


@lru_cache(maxsize=8)
def _kronecker_sum_plan(d: int):
    """Sparse entries of the D x D matrix K of v -> G V + V G in the q = 2 feature basis (lexicographic pairs).

    With B_(a,b) the unit-Frobenius symmetric matrices of the features (e_a e_a^T; (e_a e_b^T + e_b e_a^T)/sqrt 2)
    and P_ab = e_a e_b^T + e_b e_a^T = B_(a,b) / c_(a,b) (c = 1/2 on the diagonal, 1/sqrt 2 off it):

        K[(a,b), (c,e)] = <B_(a,b), G B_(c,e) + B_(c,e) G> = 2 c_ab c_ce (G_bc d_ae + G_be d_ac + G_ac d_be + G_ae d_bc).

    Each term pairs one index p of (a, b) with an equal index of (c, e), and G reads the other two: so
    every row (a, b) has entries only at the columns {p, k}, p in {a, b}, k = 0..d-1 (2 d entries, the
    value doubling when k = p because both orderings of {p, p} match). Returns (rows, cols, g_index,
    coef) with K[rows, cols] += coef * G.ravel()[g_index] (repeated positions add up)."""
    iu, ju = np.triu_indices(d)
    D = iu.size
    c = np.where(iu == ju, 0.5, math.sqrt(0.5))
    k = np.arange(d)[None, :]
    rows, cols, gidx, coef = [], [], [], []
    for p, other in ((iu[:, None], ju[:, None]), (ju[:, None], iu[:, None])):
        lo, hi = np.minimum(p, k), np.maximum(p, k)
        beta = lo * d - lo * (lo - 1) // 2 + hi - lo  # lexicographic position of the pair {p, k}
        rows.append(np.broadcast_to(np.arange(D)[:, None], beta.shape))
        cols.append(beta)
        gidx.append(other * d + k)
        coef.append(2.0 * c[:, None] * c[beta] * np.where(k == p, 2.0, 1.0))
    flat = lambda parts, dtype: jnp.asarray(np.concatenate([a.ravel() for a in parts]).astype(dtype))  # noqa: E731
    return flat(rows, np.int32), flat(cols, np.int32), flat(gidx, np.int32), flat(coef, np.float64)


@partial(jax.jit, donate_argnums=0)
def _add_kronecker_sum(C, G, scale, rows, cols, gidx, coef):
    return C.at[rows, cols].add(scale * coef * G.ravel()[gidx])


def kronecker_sum_matrix(G, C=None, scale: float = 1.0):
    """C + scale * K (C donated; zeros if None), K the D x D matrix of v -> G V + V G (`_kronecker_sum_plan`)."""
    G = jnp.asarray(G, jnp.float64)
    d = G.shape[0]
    D = d * (d + 1) // 2
    C = jnp.zeros((D, D), jnp.float64) if C is None else C
    return _add_kronecker_sum(C, G, jnp.float64(scale), *_kronecker_sum_plan(d))


@lru_cache(maxsize=32)
def _kronecker_sum_apply_jit(fmap):
    @jax.jit
    def apply(G, V):
        T = fmap.to_tensor(V, jnp.float64)  # T(v) = V / sqrt 2 (hermite.py), so v -> G V + V G is 2 (G T + T G)
        return 2.0 * fmap.from_tensor(G @ T + T @ G)

    return apply


def kronecker_sum_apply(fmap, G, V):
    """V (D, k) -> (G V_j + V_j G)_j (D, k) in float64, through the symmetric-matrix map of `HermiteFeatures`."""
    return _kronecker_sum_apply_jit(fmap)(jnp.asarray(G, jnp.float64), jnp.asarray(V, jnp.float64))


class DenseAccumulator:
    """Running sum of T(y) F F^T over a stream's prefix, so that C at a nested grid of n costs one pass.

    The stream's batches are consumed in sub-batches of 2048 samples (their (D, 2048) operands stay in
    cache); at a checkpoint n only the sub-batch that n cuts is added, masked, to a copy. `matrix(n)`
    returns C (estimator 'paper') or C_chaos = C - (G (+) G) (estimator 'chaos', G kept as ``G``) for
    the first n samples; successive calls must not decrease n."""

    def __init__(self, fmap, source, transform: LabelTransform, estimator: str = "paper"):
        self.fmap, self.source, self.transform = fmap, source, transform
        self.estimator = check_estimator(estimator, fmap)
        self.G = None
        self.sub = min(source.batch_size, _SUB_BATCH_CHUNKS * CHUNK)
        self.kernel = dense_kernel(fmap)
        self.stats = self.kernel.zeros()
        self.sum_w = 0.0
        self.done = 0  # samples accumulated: a whole number of sub-batches
        self.last_n = 0
        self._batch = (-1, None, None)

    def _fetch(self, b: int):
        """Batch b as (inputs, T(y)); the last one is kept, since a checkpoint reads it by sub-batches."""
        if self._batch[0] != b:
            X, y, _ = self.source.batch(b)
            self._batch = (b, X, self.transform(y))
        return self._batch[1], self._batch[2]

    def matrix(self, n: int):
        B, S = self.source.batch_size, self.sub
        if n < self.last_n:
            raise ValueError(f"n={n} is below the previous n={self.last_n}: nested grids must increase")
        self.last_n = n
        sums = []  # read back once, after the loop: no host sync per sub-batch
        while self.done + S <= n:
            X, w = self._fetch(self.done // B)
            lo = self.done % B
            self.stats, sw = self.kernel.add(self.stats, X[lo: lo + S], w[lo: lo + S])
            sums.append(sw)
            self.done += S
        self.sum_w += float(sum(sums)) if sums else 0.0
        stats, sum_w = self.stats, self.sum_w
        if n > self.done:  # the sub-batch that n cuts: added to a copy, kept out of the running sum
            X, w = self._fetch(self.done // B)
            lo = self.done % B
            w = w[lo: lo + S] * (jnp.arange(S) < n - self.done)
            stats, sw = self.kernel.add(tuple(jnp.copy(a) for a in stats), X[lo: lo + S], w)
            sum_w += float(sw)
        C = self.kernel.matrix(stats, jnp.float64(sum_w), jnp.float64(n))
        if self.estimator == "chaos":
            self.G = self.kernel.label_moment(stats, jnp.float64(sum_w), jnp.float64(n))
            C = kronecker_sum_matrix(self.G, C, -1.0)
        return C


# The dense eigen-solve uses the process's BLAS pools as they are (every core for one process; a worker of a
# sweep has them cut to its own cores, sims/backends.py). On a quiet 2-core machine two OpenBLAS threads ran the
# D = 1830 reduction in 0.27 s against 0.44 s on one; on a machine loaded by other processes they ran it 2-15x
# slower than one thread (spinning threads contend): set EIGEN_BLAS_THREADS = 1 there.
EIGEN_BLAS_THREADS = None
# Block Krylov on the dense C (`dense_block_krylov`) is tried first by solver='auto' when D >= this. Measured
# (d = 40 and 60 sweeps, 2 cores): at D = 820 it needed about D matrix-vector products to converge at the bulk
# edge (as many flops as the reduction), at D = 1830 about 0.45 D, 0.37-0.49 s against 0.27 s for the reduction
# on two threads; the reduction grows as D^3, the products as D^2 per column, so Krylov wins only beyond the
# sizes measured: the threshold is an extrapolation (not measured here), the fallback keeps it safe.
KRYLOV_MIN_D = 3000
KRYLOV_TOL = 1e-8       # residual |C u - theta u| <= KRYLOV_TOL |theta_1| for every wanted pair
KRYLOV_BUDGET = 0.6     # matrix-vector products allowed, as a fraction of D, before falling back to the reduction


def blas_threads(n: int):
    """Context manager: BLAS/OpenMP thread pools of this process limited to n threads (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


@dataclass
class EigenInfo:
    """How `dense_top` solved one C: ``solver`` 'krylov' | 'tridiagonal' | 'eigh', ``matvecs`` (Krylov products,
    columns), ``fallback`` (Krylov tried and not converged within its budget), ``block`` (the Krylov block or
    the wanted eigenvectors: the warm start of the next checkpoint of a nested grid)."""

    solver: str
    matvecs: int = 0
    fallback: bool = False
    block: np.ndarray | None = None


def dense_top(C, n_eig: int, keep_spectrum: bool, V0=None, solver: str = "auto", tol: float = KRYLOV_TOL,
              budget: float = KRYLOV_BUDGET):
    """The n_eig eigenpairs of largest |eigenvalue| of the dense C (both ends of the spectrum), and the whole
    spectrum only if ``keep_spectrum``. Returns (vals, vecs, spectrum or None, EigenInfo).

    CPU backend (BLAS threads: EIGEN_BLAS_THREADS):
    - 'krylov' (tried first by 'auto' when D >= KRYLOV_MIN_D and no spectrum is wanted): thick-restarted block
      Krylov on C (`dense_block_krylov`), warm-started from ``V0`` (the previous checkpoint's block), until every
      wanted pair has residual <= tol |theta_1|; if that takes more than budget * D products, the reduction below
      (recorded as ``fallback``). A residual r bounds the eigenvalue error by r^2 / gap and the subspace angle by
      r / gap (Kato-Temple, Davis-Kahan), so tol = 1e-8 gives eigenvalues equal to the reduction's to ~1e-14 and
      q_h to ~1e-8 (measured on the d = 40 and 60 sweeps).
    - 'tridiagonal': one LAPACK tridiagonal reduction, the whole spectrum from the tridiagonal matrix and
      eigenvectors only for the wanted eigenvalues (`_tridiagonal_top`), several times cheaper than a full eigh.
    On accelerators: the device's own eigh."""
    check_choice("solver", solver, ("auto", "krylov", "tridiagonal"))
    D = C.shape[0]
    if jax.default_backend() != "cpu" or 2 * n_eig >= D:
        evals, evecs = jnp.linalg.eigh(C)
        evals, evecs = np.asarray(evals), np.asarray(evecs)
        vals, vecs = top_by_magnitude(evals, evecs, n_eig)
        return vals, vecs, (evals if keep_spectrum else None), EigenInfo("eigh", block=vecs)
    C = np.asarray(C, np.float64)
    with blas_threads(EIGEN_BLAS_THREADS) if EIGEN_BLAS_THREADS else contextlib.nullcontext():
        tried = solver == "krylov" or (solver == "auto" and not keep_spectrum and D >= KRYLOV_MIN_D)
        if tried:
            vals, vecs, block, matvecs, converged = dense_block_krylov(C, n_eig, V0, tol, int(budget * D))
            if converged:
                return vals, vecs, None, EigenInfo("krylov", matvecs, block=block)
        evals, vals, vecs = _tridiagonal_top(C, n_eig)
    return vals, vecs, (evals if keep_spectrum else None), EigenInfo("tridiagonal", matvecs if tried else 0, tried, vecs)


def dense_block_krylov(C: np.ndarray, k: int, V0=None, tol: float = KRYLOV_TOL, max_matvecs: int | None = None,
                       extra: int = 8, depth: int = 10, seed: int = 0):
    """The k eigenpairs of largest |eigenvalue| of a symmetric float64 C by thick-restarted block Krylov
    (the dense counterpart of `block_krylov_eigsh`, in numpy float64).

    A block of b = k + extra vectors (``V0``'s columns first, the rest Gaussian from ``seed``); each cycle builds
    [V, CV, ..., C^depth V] (block Gram-Schmidt twice, then QR), takes the b Rayleigh-Ritz pairs of largest
    |theta| and restarts from them with their images already known. Converged when every wanted pair has
    |C u - theta u| <= tol |theta_1|. Returns (theta (k,), U (D, k), the b-vector block, products, converged)."""
    D = C.shape[0]
    b = min(k + extra, D)
    depth = max(1, min(depth, D // (2 * b) - 1))
    max_matvecs = 10 * D if max_matvecs is None else max_matvecs
    V = np.random.default_rng(seed).standard_normal((D, b))
    if V0 is not None:
        m = min(V0.shape[1], b)
        V[:, :m] = V0[:, :m]
    V, _ = np.linalg.qr(V)
    CV = C @ V
    matvecs = b
    while True:
        basis, images = [V], [CV]
        for _ in range(depth):
            R, Q = images[-1], np.concatenate(basis, 1)
            for _ in range(2):
                R = R - Q @ (Q.T @ R)
            Qn, _ = np.linalg.qr(R)
            basis.append(Qn)
            images.append(C @ Qn)
            matvecs += b
        Q, CQ = np.concatenate(basis, 1), np.concatenate(images, 1)
        H = Q.T @ CQ
        theta, Y = np.linalg.eigh((H + H.T) / 2)
        theta, Y = top_by_magnitude(theta, Y, b)
        U, CU = Q @ Y, CQ @ Y
        res = np.linalg.norm(CU[:, :k] - U[:, :k] * theta[:k], axis=0)
        converged = bool(res.max() <= tol * abs(theta[0]))
        if converged or matvecs >= max_matvecs:
            return theta[:k], U[:, :k], U, matvecs, converged
        V, CV = U, CU


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

    def step_moment(acc, M2, X, w, V):
        """`step`, plus M2 + sum w x x^T (the chaos estimator's G, accumulated in the first pass)."""
        acc, sw = step(acc, X, w, V)
        Xw = jnp.asarray(X, jnp.float32) * w.astype(jnp.float32)[:, None]
        return acc, M2 + (Xw.T @ jnp.asarray(X, jnp.float32)).astype(jnp.float64), sw

    return jax.jit(step, donate_argnums=0), jax.jit(step_moment, donate_argnums=(0, 1))


def matrix_free_operator(fmap, source, transform: LabelTransform, n: int | None = None, counter=None,
                         estimator: str = "paper"):
    """V (D, k) -> C V (float64), one streamed pass over the first n samples per call.

    estimator='chaos': C_chaos V = C V - (G V + V G), G = (M2 - sum w I) / n accumulated during the
    first call (no extra pass) and kept as ``apply.G``."""
    n = source.n if n is None else n
    check_estimator(estimator, fmap)
    step, step_moment = _mf_kernel(fmap)

    def apply(V):
        V = jnp.asarray(V, jnp.float64)
        V32 = V.astype(jnp.float32)
        acc = jnp.zeros(V.shape, jnp.float64)
        sum_w = 0.0
        want_G = estimator == "chaos" and apply.G is None
        M2 = jnp.zeros((fmap.input_dim,) * 2, jnp.float64) if want_G else None
        for X, y, mask in source.batches(n):
            if want_G:
                acc, M2, sw = step_moment(acc, M2, X, transform(y) * mask, V32)
            else:
                acc, sw = step(acc, X, transform(y) * mask, V32)
            sum_w = sum_w + sw
        if counter is not None:
            counter["passes"] = counter.get("passes", 0) + 1
        if want_G:
            apply.G = ((M2 + M2.T) / 2 - sum_w * jnp.eye(M2.shape[0], dtype=jnp.float64)) / n
        CV = (acc - sum_w * V) / n
        return CV - kronecker_sum_apply(fmap, apply.G, V) if estimator == "chaos" else CV

    apply.G = None
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
