"""Ridge regression on the constant and all orthonormal Hermite features of x up to degree 2q (the package docstring):
the best linear estimator on a basis that holds the target exactly."""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from .._validation import check_float, check_int
from .._x64 import float64
from ..hermite import HermiteFeatures, feature_dim
from ..learner import DEFAULT_RIDGES
from ..splits import VALID_EVERY, held_out
from .common import DEFAULT_BUDGET_GB, _BatchedRegressor, _best_ridge, _check_ridges, _check_xy, _psd_solve

__all__ = ["HermiteRidge", "hermite_basis_size"]


def hermite_basis_size(d: int, max_degree: int) -> int:
    """P = 1 + sum_{k=1}^{max_degree} C(d + k - 1, k): the constant and every Hermite feature up to max_degree."""
    return 1 + sum(feature_dim(d, k) for k in range(1, max_degree + 1))


@lru_cache(maxsize=16)
def _hermite_ridge_kernels(d: int, max_degree: int):
    fmaps = tuple(HermiteFeatures(d, k) for k in range(1, max_degree + 1))

    def features(X):
        X = jnp.asarray(X, jnp.float32)
        return jnp.concatenate([jnp.ones((X.shape[0], 1), jnp.float32)] + [f.explicit(X) for f in fmaps], axis=1)

    @jax.jit
    def normal_step(G, b, X, y, w):
        # products in float32, sums in float64, as the learner's accumulators
        Phi = features(X)
        Pw = Phi * w[:, None]
        return G + (Pw.T @ Phi).astype(jnp.float64), b + (Pw.T @ y).astype(jnp.float64)

    return jax.jit(features), normal_step


class HermiteRidge(_BatchedRegressor):
    """Ridge regression on the constant and all orthonormal Hermite features of x of degree 1..max_degree
    (module docstring): w = (G/n + r I)^(-1) b/n with G = sum Phi Phi^T, b = sum y Phi accumulated in batches.

    Parameters: max_degree (2q; default 4), ridge_grid, memory_gb (budget for the P x P float64 arrays:
    about 4 P^2 numbers, plus a batch of batch_size x P float32 features), batch_size.
    Learned: ``coef_`` (P,), ``ridge_``, ``valid_errors_``, ``d_``.
    """

    def __init__(self, max_degree: int = 4, ridge_grid=DEFAULT_RIDGES, memory_gb: float = DEFAULT_BUDGET_GB,
                 batch_size: int = 2048):
        self.max_degree, self.ridge_grid, self.memory_gb, self.batch_size = max_degree, ridge_grid, memory_gb, batch_size

    def bytes_needed(self, d: int) -> int:
        P = hermite_basis_size(d, self.max_degree)
        return 4 * 8 * P * P + 4 * self.batch_size * P

    @float64
    def fit(self, X, y):
        check_int("max_degree", self.max_degree, 1, 6)
        ridges = _check_ridges(self.ridge_grid)
        check_float("memory_gb", self.memory_gb, 0.0, lo_open=True)
        check_int("batch_size", self.batch_size, 1)
        X, y = _check_xy(X, y)
        n = check_int("n (number of samples)", X.shape[0], VALID_EVERY)
        d = check_int("X.shape[1] (input dimension d)", X.shape[1], 1)
        P = hermite_basis_size(d, self.max_degree)
        need = self.bytes_needed(d) / 2**30
        if need > self.memory_gb:
            raise ValueError(f"d={d} is too large for Hermite ridge regression of degree {self.max_degree}: its "
                             f"{P} x {P} normal equations need {need:.2f} GB, memory budget {self.memory_gb:.2f} GB")
        _, normal_step = _hermite_ridge_kernels(d, self.max_degree)
        val = held_out(n)
        zeros = (jnp.zeros((P, P), jnp.float64), jnp.zeros(P, jnp.float64))
        (Gf, bf), (Gv, bv) = zeros, zeros
        X32, y32 = X.astype(np.float32), y.astype(np.float32)
        for lo in range(0, n, self.batch_size):
            Xb, yb, vb = X32[lo:lo + self.batch_size], y32[lo:lo + self.batch_size], val[lo:lo + self.batch_size]
            if len(yb) < self.batch_size:  # pad the last batch to keep one compiled shape
                pad = self.batch_size - len(yb)
                Xb, yb = np.pad(Xb, ((0, pad), (0, 0))), np.pad(yb, (0, pad))
                vb = np.pad(vb, (0, pad))
                wf = np.pad(np.ones(self.batch_size - pad, np.float32), (0, pad))
            else:
                wf = np.ones(self.batch_size, np.float32)
            wv = (wf * vb).astype(np.float32)
            Gf, bf = normal_step(Gf, bf, Xb, yb, wf - wv)
            Gv, bv = normal_step(Gv, bv, Xb, yb, wv)
        Gf, bf, Gv, bv = (np.asarray(a, np.float64) for a in (Gf, bf, Gv, bv))
        nf, nv = float((~val).sum()), float(val.sum())
        yyv = float(np.sum(y[val] ** 2))
        s, U = scipy.linalg.eigh(Gf / nf, check_finite=False)
        self.ridge_, self.valid_errors_ = _best_ridge(s, U, bf / nf, ridges, 1.0,
                                                      lambda w: (w @ Gv @ w - 2 * w @ bv + yyv) / nv)
        G, b = (Gf + Gv) / n, (bf + bv) / n
        G[np.diag_indices(P)] += self.ridge_
        self.coef_ = _psd_solve(G, b)
        self.d_ = d
        return self

    _fitted = "coef_"

    def _n_inputs(self) -> int:
        return self.d_

    @float64
    def _predict_batch(self, X):
        features, _ = _hermite_ridge_kernels(self.d_, self.max_degree)
        return features(X) @ self.coef_.astype(np.float32)

