"""Dense moment kernels: the sufficient statistics of C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D) (MODEL.md
section 2) accumulated batch by batch, float32 GEMMs added into float64 sums.
Two kernels behind one interface (`_DenseKernel`): the blocked symmetric product of the explicit features (any
feature map), and for degree-2 Hermite features C read off the distinct weighted fourth moments (about 2x fewer
flops). Each program runs with JAX's 64-bit mode on (`_x64.float64`), whoever calls it.

Where the products run: on accelerators, jitted JAX (statistics on the device); on the CPU backend, the process's
BLAS through numpy (`_blas_products`), with the q = 2 operands built by slicing into preallocated panels. Measured
at d = 60 on 2 cores (jax 0.10, OpenBLAS): XLA:CPU ran the panel GEMMs at 60-73 GFLOP/s, OpenBLAS at 124, and the
gathered operands took 10 ms per 2048 samples where the sliced ones take 3.5 ms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from .._x64 import float64

__all__ = ["dense_kernel", "dense_bytes", "SUB_BATCH_CHUNKS"]


def dense_bytes(D: int) -> int:
    """Memory of the dense engine: the float64 accumulator plus eigh's workspace (about two more copies)."""
    return 3 * 8 * D * D


SUB_BATCH_CHUNKS = 8  # GEMMs run on sub-batches of 2048 samples: their (D, 2048) feature panels stay in cache
_GRAM_BLOCK = 200      # column-block width of the generic blocked symmetric update (measured best near 200)
_MOMENT_ROWS = {"xla": 256, "blas": 128}  # rows per panel of the q = 2 moment update (measured best, d = 60)


@dataclass(frozen=True, eq=False)
class _DenseKernel:
    """Sufficient statistics of C for one feature map (see `dense_kernel`): two steps per sub-batch.

    operands(X, w) -> (GEMM operands of one sub-batch, sum w); update(stats, *operands) -> stats plus the
    sub-batch's products in float64 (stats donated on accelerators, updated in place by BLAS); zeros() -> empty
    float64 statistics; matrix(stats, sum_w, n) -> C = (sum_mu w_mu F_mu F_mu^T - sum_w I) / n, float64 D x D.
    On accelerators building the operands and multiplying them are separate jitted programs on purpose: fused into
    one XLA:CPU program the same GEMMs ran at half the speed (measured, jax 0.10, d = 60)."""

    name: str
    zeros: object
    operands: object
    update: object
    matrix: object
    executed_fraction: float  # flops executed per sample, as a fraction of the general product's 2 D^2
    required_fraction: float  # flops it must do per sample (distinct products only), same unit
    label_moment: object = None  # (stats, sum_w, n) -> G = (M2 - sum_w I) / n, d x d (q = 2 moments only)
    host: bool = False  # products through BLAS on host (numpy) arrays: feed it numpy batches, not device slices

    def __post_init__(self):
        for name in ("zeros", "operands", "update", "matrix", "label_moment"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float64(getattr(self, name)))

    def add(self, stats, X, w):
        """(stats + those of X, w, sum w): float32 products, float64 accumulation. ``stats`` is consumed (updated in
        place on the CPU, donated on accelerators): pass `copy(stats)` to keep it."""
        *ops, sum_w = self.operands(X, w)
        return self.update(stats, *ops), sum_w

    @staticmethod
    def copy(stats):
        return tuple(a.copy() for a in stats)


def _products(blocks, blas: bool):
    """update(stats, A, Bw) for blocks ((a0, a1, b0, b1), ...): stats_k + A[a0:a1] Bw[b0:b1]^T in float64
    (jitted JAX, or `_blas_products` when ``blas``)."""
    if blas:
        return _blas_products(blocks)

    def update(stats, A, Bw):
        return tuple(s + (A[a0:a1] @ Bw[b0:b1].T).astype(jnp.float64) for s, (a0, a1, b0, b1) in zip(stats, blocks))

    return jax.jit(update, donate_argnums=0)


def _blas_products(blocks):
    """`_products` on the CPU: each block a float32 BLAS GEMM (numpy), added in place into float64 numpy sums."""

    def update(stats, A, Bw):
        A, Bw = np.asarray(A, np.float32), np.asarray(Bw, np.float32)
        for s, (a0, a1, b0, b1) in zip(stats, blocks):
            s += A[a0:a1] @ Bw[b0:b1].T
        return stats

    return update


def _zeros(shapes, blas: bool):
    """Empty float64 statistics where the products land: numpy for BLAS, JAX (the device) otherwise."""
    xp = np if blas else jnp
    return tuple(xp.zeros(shape, xp.float64) for shape in shapes)


def _column_blocks(D: int) -> tuple:
    """Column ranges of F for the blocked symmetric update: nb blocks of about _GRAM_BLOCK columns."""
    nb = max(1, min(12, round(D / _GRAM_BLOCK)))
    edges = np.linspace(0, D, nb + 1).round().astype(int)
    return tuple((int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]))


def _block_triangle_kernel(fmap, blas: bool) -> _DenseKernel:
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
        return _zeros(((cols[i][1] - cols[i][0], cols[j][1] - cols[j][0]) for i, j in pairs), blas)

    @jax.jit
    def matrix(stats, sum_w, n):
        by_pair = dict(zip(pairs, stats))
        nb = len(cols)
        G = jnp.block([[by_pair[(i, j)] if i <= j else by_pair[(j, i)].T for j in range(nb)] for i in range(nb)])
        return (G - sum_w * jnp.eye(fmap.D, dtype=jnp.float64)) / n

    update = _products(tuple(cols[i] + cols[j] for i, j in pairs), blas)
    nb = len(cols)
    return _DenseKernel("block_triangle", zeros, operands, update, matrix, (nb + 1) / (2 * nb), (fmap.D + 1) / (2 * fmap.D),
                        host=blas)


def _moment_plan(d: int, panel_rows: int = _MOMENT_ROWS["xla"]):
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
        if rows >= panel_rows:
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


def _moment_kernel(fmap, blas: bool) -> _DenseKernel:
    """Hermite features of degree 2: sum w F F^T from the distinct weighted fourth moments (`_moment_plan`).

    With F_(i,j) = s_ij (x_i x_j - delta_ij), s = 1/sqrt(2) on the diagonal pairs, 1 elsewhere:

        sum_mu w F_alpha F_beta = s_alpha s_beta (M4[alpha beta] - delta_beta M2[alpha] - delta_alpha M2[beta]
                                                  + delta_alpha delta_beta sum_w),   M2 = sum_mu w_mu x x^T."""
    d, D = fmap.d, fmap.D
    panels, index = _moment_plan(d, _MOMENT_ROWS["blas" if blas else "xla"])
    iu, ju = np.triu_indices(d)
    order = np.lexsort((iu, ju))  # colex: by the larger index, then the smaller
    ci, cj = iu[order], ju[order]
    diag = (iu == ju).astype(np.float64)
    s = np.where(iu == ju, 1.0 / math.sqrt(2.0), 1.0)

    # Operands of one sub-batch: colex monomials x_i x_j (rows), lex monomials x_i x_j w (columns), and
    # M2 = sum w x x^T riding along as one more block (rows D..D+d times columns D..D+d).
    @jax.jit
    def xla_operands(X, w):
        Xt, w = X.T, w.astype(jnp.float32)
        Xw = Xt * w[None, :]
        rows = Xt[ci] * Xt[cj]
        cols = Xt[iu] * Xw[ju]
        return jnp.concatenate([rows, Xt]), jnp.concatenate([cols, Xw]), jnp.sum(w, dtype=jnp.float64)

    def blas_operands(X, w):
        # the same monomials, each run of them one broadcast product written in place (no gather)
        Xt = np.ascontiguousarray(np.asarray(X, np.float32).T)
        w = np.asarray(w, np.float32)
        rows, cols = np.empty((2, D + d, Xt.shape[1]), np.float32)
        np.multiply(Xt, w, out=cols[D:])
        Xw = cols[D:]
        for j in range(d):
            colex, lex = j * (j + 1) // 2, j * d - j * (j - 1) // 2  # first pair with larger / smaller index j
            np.multiply(Xt[: j + 1], Xt[j], out=rows[colex: colex + j + 1])
            np.multiply(Xt[j], Xw[j:], out=cols[lex: lex + d - j])
        rows[D:] = Xt
        return rows, cols, np.sum(w, dtype=np.float64)

    def zeros():
        return _zeros([(hi - lo, D - c) for lo, hi, c in panels] + [(d, d)], blas)

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

    update = _products(tuple((lo, hi, c, D) for lo, hi, c in panels) + ((D, D + d, D, D + d),), blas)
    executed = sum((hi - lo) * (D - c) for lo, hi, c in panels) / D**2
    operands = blas_operands if blas else xla_operands
    return _DenseKernel("moments", zeros, operands, update, matrix, executed, math.comb(d + 3, 4) / D**2, label_moment,
                        host=blas)


def dense_kernel(fmap) -> _DenseKernel:
    """The dense engine's kernel: fourth moments for degree-2 Hermite features (about 2x fewer flops
    than the block triangle), the blocked symmetric product of the explicit features otherwise; its products
    through BLAS on the CPU backend, XLA elsewhere."""
    return _kernel_for(fmap, jax.default_backend() == "cpu")


@float64  # the kernel's float64 tables are made once, at its first call
@lru_cache(maxsize=32)
def _kernel_for(fmap, blas: bool) -> _DenseKernel:
    from ..hermite import HermiteFeatures

    if isinstance(fmap, HermiteFeatures) and fmap.q == 2:
        return _moment_kernel(fmap, blas)
    return _block_triangle_kernel(fmap, blas)

