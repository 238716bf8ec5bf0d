"""The matrix-free engine: C of Algorithm 1, step 1 (MODEL.md section 2) never formed. V -> C V is streamed over
the batches through the feature map's ``dot``/``rdot`` actions (memory O(D k)), and `linalg.block_krylov_eigsh`
finds the pairs of largest |eigenvalue|.

    C V = (1/n) sum_mu T(y_mu) F_mu (F_mu^T V) - (sum_mu T(y_mu) / n) V
    estimator 'chaos': C_chaos V = C V - (G V + V G), G = (1/n) sum T(y) (x x^T - I_d) accumulated in the first pass
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp

from .._x64 import float64
from .chaos import check_estimator, kronecker_sum_apply
from .labels import LabelTransform
from .linalg import EigenInfo, block_krylov_eigsh

__all__ = ["matrix_free_operator", "MatrixFreeEngine"]


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
    check_estimator(estimator, fmap)
    return _StreamedOperator(fmap, source, transform, source.n if n is None else n, counter, estimator)


class _StreamedOperator:
    """`matrix_free_operator`'s callable."""

    def __init__(self, fmap, source, transform, n, counter, estimator):
        self.fmap, self.source, self.transform, self.n, self.counter, self.estimator = (
            fmap, source, transform, n, counter, estimator)
        self.G = None

    @float64
    def __call__(self, V):
        fmap, n = self.fmap, self.n
        step, step_moment = _mf_kernel(fmap)
        V = jnp.asarray(V, jnp.float64)
        V32 = V.astype(jnp.float32)
        acc = jnp.zeros(V.shape, jnp.float64)
        sum_w = 0.0
        want_G = self.estimator == "chaos" and self.G is None
        M2 = jnp.zeros((fmap.input_dim,) * 2, jnp.float64) if want_G else None
        for X, y, mask in self.source.batches(n):
            if want_G:
                acc, M2, sw = step_moment(acc, M2, X, self.transform(y) * mask, V32)
            else:
                acc, sw = step(acc, X, self.transform(y) * mask, V32)
            sum_w = sum_w + sw
        if self.counter is not None:
            self.counter["passes"] = self.counter.get("passes", 0) + 1
        if want_G:
            self.G = ((M2 + M2.T) / 2 - sum_w * jnp.eye(M2.shape[0], dtype=jnp.float64)) / n
        CV = (acc - sum_w * V) / n
        return CV - kronecker_sum_apply(fmap, self.G, V) if self.estimator == "chaos" else CV


class MatrixFreeEngine:
    """The layer-1 engine protocol (`engines.layer1`) on the streamed operator: block Krylov with ``block``
    vectors (default k + 10), ``depth`` blocks per cycle, stopping at relative residual ``tol`` or after
    ``max_passes`` passes over the data; each n of a nested grid warm-starts from the previous n's eigenvectors.
    Not converged within max_passes: a `linalg.ConvergenceWarning`, and ``info.converged`` False with the
    residuals (the eigenpairs returned are the best Ritz pairs found)."""

    name = "matrix_free"

    def __init__(self, fmap, source, transform: LabelTransform, estimator: str = "paper", *, block: int | None = None,
                 depth: int = 4, tol: float = 1e-4, max_passes: int = 300, seed: int = 0):
        self.fmap, self.source, self.transform = fmap, source, transform
        self.estimator = check_estimator(estimator, fmap)
        self.block, self.depth, self.tol, self.max_passes, self.seed = block, depth, tol, max_passes, seed
        self._V0 = None

    @float64
    def top_eigenpairs(self, n: int, k: int, spectrum: bool = False, project: bool = False):
        """(vals, vecs (D, k), EigenInfo) of C on the first n samples; no spectrum and no projection (C is never
        formed: ``info.spectrum`` and ``info.projected`` stay None)."""
        apply = matrix_free_operator(self.fmap, self.source, self.transform, n, estimator=self.estimator)
        vals, vecs, passes, res = block_krylov_eigsh(
            apply, self.fmap.D, k, V0=self._V0, block=self.block, depth=self.depth, tol=self.tol,
            max_passes=self.max_passes, key=jax.random.key(self.seed))
        self._V0 = vecs
        info = EigenInfo("block_krylov (matrix-free)", block=vecs, passes=passes, residuals=res,
                         converged=bool(res.max() <= self.tol))
        info.warn_if_not_converged(self.tol, f"at n={n} within max_passes={self.max_passes}", stacklevel=4)
        return vals, vecs, info
