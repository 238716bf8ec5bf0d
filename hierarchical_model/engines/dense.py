"""The dense engine: C of Algorithm 1, step 1 (MODEL.md section 2) accumulated as a D x D float64 matrix over a
stream's prefix, its top-|eigenvalue| pairs by `linalg.dense_top`.

    C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D)     ('paper')
    C_chaos = C - (G (+) G)                          ('chaos', G read off the moment kernel; HERMITE.md section 2)
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .._x64 import float64
from ..teacher import CHUNK
from .chaos import check_estimator, kronecker_sum_apply, kronecker_sum_matrix
from .dense_kernels import SUB_BATCH_CHUNKS, dense_kernel
from .labels import LabelTransform
from .linalg import dense_top

__all__ = ["DenseAccumulator", "DenseEngine"]


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
        self.sub = min(source.batch_size, SUB_BATCH_CHUNKS * CHUNK)
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
            w = self.transform(y)
            if self.kernel.host:  # slicing a device array per sub-batch cost ~8 ms each (measured, d = 60)
                X, w = np.asarray(X), np.asarray(w)
            self._batch = (b, X, w)
        return self._batch[1], self._batch[2]

    @float64
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
            w = w[lo: lo + S] * (np.arange(S) < n - self.done)
            stats, sw = self.kernel.add(self.kernel.copy(stats), X[lo: lo + S], w)
            sum_w += float(sw)
        C = self.kernel.matrix(stats, jnp.float64(sum_w), jnp.float64(n))
        if self.estimator == "chaos":
            self.G = self.kernel.label_moment(stats, jnp.float64(sum_w), jnp.float64(n))
            C = kronecker_sum_matrix(self.G, C, -1.0)
        return C


class DenseEngine:
    """The layer-1 engine protocol (`engines.layer1`) on the dense C: one accumulator carried along a nested grid
    of n, each eigen-solve warm-started from the previous checkpoint's block (Krylov) and solved by `dense_top`
    (``solver``: 'auto' | 'krylov' | 'tridiagonal')."""

    name = "dense"

    def __init__(self, fmap, source, transform: LabelTransform, estimator: str = "paper", solver: str = "auto"):
        self.fmap, self.solver = fmap, solver
        self.accumulator = DenseAccumulator(fmap, source, transform, estimator)
        self._V0 = None

    @float64
    def top_eigenpairs(self, n: int, k: int, spectrum: bool = False, project: bool = False):
        """(vals, vecs (D, k), EigenInfo) of C on the first n samples; ``project``: also U^T C U of the paper's C
        (C_chaos + (G (+) G) for the chaos estimator) as ``info.projected``, the layer-2 matrix B_hat when layer 2
        reads the same samples with T = identity (no further pass over the data)."""
        C = self.accumulator.matrix(n)
        vals, vecs, spec, info = dense_top(C, k, spectrum, V0=self._V0, solver=self.solver)
        self._V0 = info.block
        info.spectrum = spec
        if project:
            info.projected = vecs.T @ np.asarray(C, np.float64) @ vecs
            if self.accumulator.estimator == "chaos":
                info.projected = info.projected + vecs.T @ np.asarray(kronecker_sum_apply(self.fmap, self.accumulator.G, vecs))
        return vals, vecs, info
