"""Shallow, non-adaptive baselines on the same data as the hierarchical learner (MODEL.md section 1, last
point: globally y is a degree-2q polynomial of x, so a method that does not learn features needs
n >> d^(2q) samples where the layer-wise learner needs n ~ d^q).

- `KernelRidge`: kernel ridge regression with a rotation-invariant kernel of x,
      polynomial  k(x, x') = (1 + <x, x'> / d)^p          (p = 2q by default: it spans every degree-2q polynomial)
      gaussian    k(x, x') = exp(-|x - x'|^2 / (2 d))
  f(x) = k(x, X) a,  a = (K + n r I)^(-1) y: the minimiser of (1/n) sum (y - f)^2 + r |f|_K^2.
  The Gram matrix is n x n: sizes whose n^2 float64 arrays exceed the memory budget are refused.
- `HermiteRidge`: ridge regression on all orthonormal Hermite features of x of degree 0..2q
  (`HermiteFeatures(d, k)` for k = 1..2q and a constant): the best linear estimator on a basis that holds
  the target exactly. The normal equations (P x P, P = sum_k C(d+k-1, k)) are accumulated in batches,
  never forming an n x P array; sizes whose P x P float64 arrays exceed the budget are refused.

Both choose the ridge r on a held-out fifth of the training samples (index % 5 == 4), then refit on all
of them, and follow the learner's fit / predict / evaluate interface.
"""

from __future__ import annotations

import math
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from ._validation import check_choice, check_finite_array, check_float, check_int
from .hermite import HermiteFeatures, feature_dim
from .learner import DEFAULT_RIDGES, HierarchicalSpectralLearner
from .teacher import Teacher, TeacherConfig

__all__ = ["KernelRidge", "HermiteRidge", "KERNELS", "BASELINE_METHODS", "run_baselines", "hermite_basis_size"]

KERNELS = ("polynomial", "gaussian")
BASELINE_METHODS = ("hierarchical", "kernel", "hermite_ridge")
DEFAULT_BUDGET_GB = 2.0
_VALID_EVERY = 5


def _held_out(n: int) -> np.ndarray:
    return np.arange(n) % _VALID_EVERY == _VALID_EVERY - 1


def _check_xy(X, y):
    X = check_finite_array("X", X, 2, "(n_samples, d)")
    y = check_finite_array("y", y, 1, "(n_samples,)")
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} samples: must match X's {X.shape[0]}")
    return X, y


def _errors(pred, y) -> dict:
    mse = float(np.mean((y - pred) ** 2))
    var_y = float(np.var(y))
    return {"mse": mse, "var_y": var_y, "nmse": mse / var_y if var_y > 0 else math.inf}


def _best_ridge(evals, evecs, rhs, ridges, shift_per_ridge: float, val_err):
    """The ridge r of ``ridges`` whose solution w(r) = U diag(1/(s + shift r)) U^T rhs minimises val_err(w),
    every w(r) from one eigendecomposition (s, U) of the fitted part's matrix; returns (r, errors)."""
    proj = evecs.T @ rhs
    s = np.maximum(evals, 0.0)  # round-off can leave tiny negative eigenvalues of a PSD matrix
    errs = [float(val_err(evecs @ (proj / (s + shift_per_ridge * r)))) for r in ridges]
    return float(ridges[int(np.nanargmin(errs))]), errs


def _psd_solve(M, b):
    """M^(-1) b for a symmetric positive semi-definite M: Cholesky, or (when round-off leaves M singular, as a
    finite-rank polynomial kernel with a tiny ridge can) the minimum-norm solution on its eigenbasis."""
    try:
        return scipy.linalg.cho_solve(scipy.linalg.cho_factor(M, check_finite=False), b, check_finite=False)
    except np.linalg.LinAlgError:
        s, U = scipy.linalg.eigh(M, check_finite=False)
        keep = s > s.max() * 1e-12
        return U[:, keep] @ ((U[:, keep].T @ b) / s[keep])


class _BatchedRegressor:
    """predict / evaluate shared by the baselines: checks at the boundary, then ``_predict_batch`` on
    batches of ``batch_size`` inputs. Subclasses set ``_fitted`` (the attribute fit sets last) and
    ``_n_inputs()`` (the training inputs' dimension)."""

    _fitted = ""

    def predict(self, X) -> np.ndarray:
        if not hasattr(self, self._fitted):
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit first")
        X = check_finite_array("X", X, 2, "(n_samples, d)")
        d = self._n_inputs()
        if X.shape[1] != d:
            raise ValueError(f"X has {X.shape[1]} columns: must have {d} like the training inputs")
        return np.concatenate([np.asarray(self._predict_batch(X[i:i + self.batch_size]), np.float64)
                               for i in range(0, X.shape[0], self.batch_size)])

    def evaluate(self, X, y) -> dict:
        X, y = _check_xy(X, y)
        return _errors(self.predict(X), y)


class KernelRidge(_BatchedRegressor):
    """Kernel ridge regression with a rotation-invariant kernel of x (module docstring).

    Parameters: kernel ('polynomial' | 'gaussian'), degree p of the polynomial kernel (default 4 = 2q for
    q = 2), ridge_grid, memory_gb (budget for the n x n arrays; fitting needs 3 n^2 float64 numbers).
    Learned: ``X_``, ``dual_coef_``, ``ridge_``, ``valid_errors_``.
    """

    def __init__(self, kernel: str = "polynomial", degree: int = 4, ridge_grid=DEFAULT_RIDGES,
                 memory_gb: float = DEFAULT_BUDGET_GB, batch_size: int = 4096):
        self.kernel = check_choice("kernel", kernel, KERNELS)
        self.degree = check_int("degree", degree, 1, 12)
        self.ridge_grid = np.asarray([check_float("ridge_grid", r, 0.0) for r in ridge_grid], np.float64)
        if self.ridge_grid.size == 0:
            raise ValueError("ridge_grid=() is not allowed: must hold at least one ridge >= 0")
        self.memory_gb = check_float("memory_gb", memory_gb, 0.0, lo_open=True)
        self.batch_size = check_int("batch_size", batch_size, 1)

    @staticmethod
    def bytes_needed(n: int) -> int:
        """The Gram matrix, its fitted block and that block's eigenvectors: about 3 n^2 float64 numbers."""
        return 3 * 8 * n * n

    def gram(self, X1, X2) -> np.ndarray:
        """k(X1, X2) of shape (len(X1), len(X2))."""
        d = X1.shape[1]
        inner = (X1 @ X2.T) / d
        if self.kernel == "polynomial":
            return (1.0 + inner) ** self.degree
        sq1 = np.sum(X1 * X1, axis=1)[:, None] / d
        sq2 = np.sum(X2 * X2, axis=1)[None, :] / d
        return np.exp(-0.5 * np.maximum(sq1 + sq2 - 2.0 * inner, 0.0))

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        n = check_int("n (number of samples)", X.shape[0], _VALID_EVERY)
        need = self.bytes_needed(n) / 2**30
        if need > self.memory_gb:
            raise ValueError(f"n={n} is too large for kernel ridge regression: its n x n arrays need {need:.2f} GB, "
                             f"memory budget {self.memory_gb:.2f} GB (n <= {int(math.sqrt(self.memory_gb * 2**30 / 24))})")
        val = _held_out(n)
        K_all = self.gram(X, X)
        K_ff = K_all[np.ix_(~val, ~val)]
        n_fit = int((~val).sum())
        s, U = scipy.linalg.eigh(K_ff, overwrite_a=True, check_finite=False)
        K_vf, y_v = K_all[np.ix_(val, ~val)], y[val]
        del K_ff
        # a(r) = (K_ff + n_fit r I)^(-1) y_fit, scored on the held-out samples
        self.ridge_, self.valid_errors_ = _best_ridge(s, U, y[~val], self.ridge_grid, n_fit,
                                                      lambda a: np.mean((y_v - K_vf @ a) ** 2))
        del U, K_vf
        K_all[np.diag_indices(n)] += n * self.ridge_
        self.dual_coef_ = _psd_solve(K_all, y)
        self.X_ = X
        return self

    _fitted = "dual_coef_"

    def _n_inputs(self) -> int:
        return self.X_.shape[1]

    def _predict_batch(self, X):
        return self.gram(X, self.X_) @ self.dual_coef_


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
        self.max_degree = check_int("max_degree", max_degree, 1, 6)
        self.ridge_grid = np.asarray([check_float("ridge_grid", r, 0.0) for r in ridge_grid], np.float64)
        if self.ridge_grid.size == 0:
            raise ValueError("ridge_grid=() is not allowed: must hold at least one ridge >= 0")
        self.memory_gb = check_float("memory_gb", memory_gb, 0.0, lo_open=True)
        self.batch_size = check_int("batch_size", batch_size, 1)

    def bytes_needed(self, d: int) -> int:
        P = hermite_basis_size(d, self.max_degree)
        return 4 * 8 * P * P + 4 * self.batch_size * P

    def fit(self, X, y):
        X, y = _check_xy(X, y)
        n = check_int("n (number of samples)", X.shape[0], _VALID_EVERY)
        d = check_int("X.shape[1] (input dimension d)", X.shape[1], 1)
        P = hermite_basis_size(d, self.max_degree)
        need = self.bytes_needed(d) / 2**30
        if need > self.memory_gb:
            raise ValueError(f"d={d} is too large for Hermite ridge regression of degree {self.max_degree}: its "
                             f"{P} x {P} normal equations need {need:.2f} GB, memory budget {self.memory_gb:.2f} GB")
        _, normal_step = _hermite_ridge_kernels(d, self.max_degree)
        val = _held_out(n)
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
        self.ridge_, self.valid_errors_ = _best_ridge(s, U, bf / nf, self.ridge_grid, 1.0,
                                                      lambda w: (w @ Gv @ w - 2 * w @ bv + yyv) / nv)
        G, b = (Gf + Gv) / n, (bf + bv) / n
        G[np.diag_indices(P)] += self.ridge_
        self.coef_ = _psd_solve(G, b)
        self.d_ = d
        return self

    _fitted = "coef_"

    def _n_inputs(self) -> int:
        return self.d_

    def _predict_batch(self, X):
        features, _ = _hermite_ridge_kernels(self.d_, self.max_degree)
        return features(X) @ self.coef_.astype(np.float32)


def run_baselines(config: TeacherConfig, ns, seed: int = 0, *, methods=BASELINE_METHODS, n_test: int = 10000,
                  memory_gb: float = DEFAULT_BUDGET_GB, kernel: str = "polynomial") -> list[dict]:
    """Fit every method of ``methods`` on the first n training samples of the teacher of ``seed`` (the same
    samples for every method: nested prefixes of one stream) and evaluate it on the same n_test test samples.
    Sizes a method refuses for memory are skipped (reported with mse = NaN and the reason). Returns one
    record per (method, n): method, n, d, q, gamma, g, seed, mse, nmse, var_y, ridge, seconds, skipped."""
    import time

    ns = sorted({check_int("n", n, _VALID_EVERY) for n in ns})
    methods = [check_choice("method", m, BASELINE_METHODS) for m in methods]
    check_choice("input_model", config.input_model, ("hermite",))  # the baselines see x, not the features
    n_test = check_int("n_test", n_test, 1)
    teacher = Teacher(config, seed)
    base = {"d": config.d, "q": config.q, "gamma": config.gamma, "g": config.link_name, "eps": config.eps,
            "d1": config.latent, "seed": seed, "n_test": n_test}
    X_test, y_test = (np.asarray(a, np.float64) for a in teacher.sample(n_test, "test", seed))
    X_all, y_all = (np.asarray(a, np.float64) for a in teacher.sample(ns[-1], "train", seed))
    out = []
    for method in methods:
        if method == "hierarchical":
            learner = HierarchicalSpectralLearner(teacher.d1, config.q, input_model=config.input_model)
            t0 = time.perf_counter()
            for n in learner.fit_path(teacher, ns, seed):
                err = learner.evaluate(X_test, y_test)
                out.append({**base, "method": method, "n": n, **err, "ridge": float(learner.ridge_),
                            "seconds": time.perf_counter() - t0, "skipped": ""})
                t0 = time.perf_counter()
            continue
        model = (KernelRidge(kernel, degree=2 * config.q, memory_gb=memory_gb) if method == "kernel"
                 else HermiteRidge(2 * config.q, memory_gb=memory_gb))
        for n in ns:
            t0 = time.perf_counter()
            try:
                err = model.fit(X_all[:n], y_all[:n]).evaluate(X_test, y_test)
                rec = {**err, "ridge": model.ridge_, "skipped": ""}
            except ValueError as exc:  # over the memory budget: skip this size, keep the reason
                rec = {"mse": math.nan, "nmse": math.nan, "var_y": math.nan, "ridge": math.nan, "skipped": str(exc)}
            out.append({**base, "method": method, "n": n, **rec, "seconds": time.perf_counter() - t0})
    return out
