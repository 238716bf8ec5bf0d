"""Kernel ridge regression with a rotation-invariant kernel (the package docstring): exact while the n x n arrays fit
the memory budget, Nystrom beyond it."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from .._validation import check_choice, check_float, check_int
from ..learner import DEFAULT_RIDGES
from ..splits import VALID_EVERY, held_out
from .common import DEFAULT_BUDGET_GB, _BatchedRegressor, _best_ridge, _check_ridges, _check_xy, _psd_solve

__all__ = ["KernelRidge", "KERNELS"]

KERNELS = ("rbf", "polynomial", "gaussian")


class KernelRidge(_BatchedRegressor):
    """Kernel ridge regression with a rotation-invariant kernel (module docstring): exact, or Nystrom beyond the
    memory budget.

    Parameters: kernel ('rbf' | 'polynomial' | 'gaussian'), degree p of the polynomial kernel (default 4 = 2q
    for q = 2), bandwidth h of the rbf kernel (default: the median heuristic), ridge_grid, memory_gb (budget for
    the n x n arrays of the exact solve, 3 n^2 float64 numbers; beyond it Nystrom), n_landmarks (Nystrom's m;
    default the largest m whose m x m arrays fit the budget, at most 4000; unused while the exact solve fits).
    Learned: ``X_`` (the training inputs, or the landmarks), ``dual_coef_``, ``ridge_``, ``valid_errors_``,
    ``bandwidth_`` (rbf), ``solver_`` ('exact' | 'nystrom').
    """

    def __init__(self, kernel: str = "rbf", degree: int = 4, bandwidth: float | None = None, ridge_grid=DEFAULT_RIDGES,
                 memory_gb: float = DEFAULT_BUDGET_GB, batch_size: int = 4096, n_landmarks: int | None = None):
        self.kernel, self.degree, self.bandwidth, self.ridge_grid = kernel, degree, bandwidth, ridge_grid
        self.memory_gb, self.batch_size, self.n_landmarks = memory_gb, batch_size, n_landmarks

    def _check_params(self):
        check_choice("kernel", self.kernel, KERNELS)
        check_int("degree", self.degree, 1, 12)
        if self.bandwidth is not None:
            check_float("bandwidth", self.bandwidth, 0.0, lo_open=True)
        self._ridges = _check_ridges(self.ridge_grid)
        check_float("memory_gb", self.memory_gb, 0.0, lo_open=True)
        check_int("batch_size", self.batch_size, 1)
        if self.n_landmarks is not None:
            check_int("n_landmarks", self.n_landmarks, 1)

    @staticmethod
    def bytes_needed(n: int) -> int:
        """The Gram matrix, its fitted block and that block's eigenvectors: about 3 n^2 float64 numbers."""
        return 3 * 8 * n * n

    def gram(self, X1, X2) -> np.ndarray:
        """k(X1, X2) of shape (len(X1), len(X2)); the rbf kernel needs ``bandwidth_`` (set by fit)."""
        d = X1.shape[1]
        inner = X1 @ X2.T
        if self.kernel == "polynomial":
            return (1.0 + inner / d) ** self.degree
        sq = np.maximum(np.sum(X1 * X1, axis=1)[:, None] + np.sum(X2 * X2, axis=1)[None, :] - 2.0 * inner, 0.0)
        width2 = d if self.kernel == "gaussian" else self.bandwidth_**2
        return np.exp(-0.5 * sq / width2)

    @staticmethod
    def median_heuristic(X, max_points: int = 2000) -> float:
        """h = median of |x_i - x_j| over the pairs i < j of the first ``max_points`` inputs."""
        Z = X[:max_points]
        sq = np.sum(Z * Z, axis=1)
        D2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * Z @ Z.T, 0.0)
        return float(np.sqrt(np.median(D2[np.triu_indices(len(Z), 1)])))

    def _landmarks(self) -> int:
        if self.n_landmarks is not None:
            return self.n_landmarks
        fit = int(math.sqrt(self.memory_gb * 2**30 / (4 * 8)))  # K_ZZ, the two m x m normal matrices, a solve
        return max(1, min(4000, fit))

    def fit(self, X, y):
        self._check_params()
        X, y = _check_xy(X, y)
        n = check_int("n (number of samples)", X.shape[0], VALID_EVERY)
        val = held_out(n)
        if self.kernel == "rbf":
            self.bandwidth_ = self.bandwidth if self.bandwidth is not None else self.median_heuristic(X[~val])
            if not self.bandwidth_ > 0:
                raise ValueError("X has coincident inputs (median pairwise distance 0): the rbf kernel needs a bandwidth > 0")
        if self.bytes_needed(n) <= self.memory_gb * 2**30:
            return self._fit_exact(X, y, val)
        m = min(self._landmarks(), int((~val).sum()))
        if 4 * 8 * m * m > self.memory_gb * 2**30:
            raise ValueError(f"n_landmarks={m} is too large for the memory budget {self.memory_gb:.3g} GB "
                             f"(its m x m arrays need {4 * 8 * m * m / 2**30:.3g} GB)")
        return self._fit_nystrom(X, y, val, m)

    def _fit_exact(self, X, y, val):
        n = X.shape[0]
        K_all = self.gram(X, X)
        K_ff = K_all[np.ix_(~val, ~val)]
        n_fit = int((~val).sum())
        s, U = scipy.linalg.eigh(K_ff, overwrite_a=True, check_finite=False)
        K_vf, y_v = K_all[np.ix_(val, ~val)], y[val]
        del K_ff
        # a(r) = (K_ff + n_fit r I)^(-1) y_fit, scored on the held-out samples
        self.ridge_, self.valid_errors_ = _best_ridge(s, U, y[~val], self._ridges, n_fit,
                                                      lambda a: np.mean((y_v - K_vf @ a) ** 2))
        del U, K_vf
        K_all[np.diag_indices(n)] += n * self.ridge_
        self.dual_coef_ = _psd_solve(K_all, y)
        self.X_, self.solver_ = X, "exact"
        return self

    def _fit_nystrom(self, X, y, val, m: int):
        n = X.shape[0]
        Z = X[~val][:m]
        K_zz = self.gram(Z, Z)
        self.X_ = Z  # gram(batch, X_) below is k(x, Z)
        stats = {}
        for part, mask in (("fit", ~val), ("val", val)):
            G, b = np.zeros((m, m)), np.zeros(m)
            Xp, yp = X[mask], y[mask]
            for lo in range(0, len(yp), self.batch_size):
                K = self.gram(Xp[lo:lo + self.batch_size], Z)
                G += K.T @ K
                b += K.T @ yp[lo:lo + self.batch_size]
            stats[part] = (G, b, float(yp @ yp), len(yp))
        (Gf, bf, _, nf), (Gv, bv, yyv, nv) = stats["fit"], stats["val"]
        jitter = 1e-10 * np.trace(K_zz) / m * np.eye(m)  # K_ZZ is only semi-definite in floating point

        def solve(G, b, count, r):
            return _psd_solve(G + count * r * K_zz + count * jitter, b)

        errs = [float((a @ Gv @ a - 2 * a @ bv + yyv) / nv) for a in (solve(Gf, bf, nf, r) for r in self._ridges)]
        self.ridge_, self.valid_errors_ = float(self._ridges[int(np.nanargmin(errs))]), errs
        self.dual_coef_ = solve(Gf + Gv, bf + bv, n, self.ridge_)
        self.solver_ = "nystrom"
        return self

    _fitted = "dual_coef_"

    def _n_inputs(self) -> int:
        return self.X_.shape[1]

    def _predict_batch(self, X):
        return self.gram(X, self.X_) @ self.dual_coef_

