"""Shallow, non-adaptive baselines on the same data as the hierarchical learner (MODEL.md section 1, last
point: globally y is a degree-2q polynomial of x, so a method that does not learn features needs
n >> d^(2q) samples where the layer-wise learner needs n ~ d^q).

- `KernelRidge`: kernel ridge regression with a rotation-invariant kernel,
      rbf         k(x, x') = exp(-|x - x'|^2 / (2 h^2)),  h = median pairwise distance of the training inputs
                  (the median heuristic; the paper's baseline, on x and on the learned h1_hat)
      polynomial  k(x, x') = (1 + <x, x'> / d)^p          (p = 2q by default: it spans every degree-2q polynomial)
      gaussian    k(x, x') = exp(-|x - x'|^2 / (2 d))     (fixed bandwidth sqrt(d))
  f(x) = k(x, X) a,  a = (K + n r I)^(-1) y: the minimiser of (1/n) sum (y - f)^2 + r |f|_K^2, solved exactly
  while the n x n arrays fit the memory budget. Beyond it, the Nystrom approximation on m landmarks Z (the first
  m training samples): f(x) = k(x, Z) a,  a = (K_nZ^T K_nZ + n r K_ZZ)^(-1) K_nZ^T y, the same objective restricted
  to span{k(., z)}; K_nZ^T K_nZ is accumulated in batches, never forming the n x m matrix. ``solver_`` says which.
- `HermiteRidge`: ridge regression on all orthonormal Hermite features of x of degree 0..2q
  (`HermiteFeatures(d, k)` for k = 1..2q and a constant): the best linear estimator on a basis that holds
  the target exactly. The normal equations (P x P, P = sum_k C(d+k-1, k)) are accumulated in batches,
  never forming an n x P array; sizes whose P x P float64 arrays exceed the budget are refused.

All of them, and the hierarchical learner's `fit(X, y)`, choose the ridge r on the same held-out fifth of the
training samples (index % 5 == 4: the package's one validation split, `splits`), then refit on all of them: `run_baselines` gives every method exactly the
same n training samples. They follow the learner's fit / predict / evaluate interface.
"""

from __future__ import annotations

import math
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from ._params import Params
from ._validation import check_choice, check_finite_array, check_float, check_int
from ._x64 import float64
from .hermite import HermiteFeatures, feature_dim
from .learner import DEFAULT_RIDGES, HierarchicalSpectralLearner
from .splits import VALID_EVERY, held_out
from .teacher import Teacher, TeacherConfig

__all__ = ["KernelRidge", "HermiteRidge", "KERNELS", "BASELINE_METHODS", "run_baselines", "hermite_basis_size"]

KERNELS = ("rbf", "polynomial", "gaussian")
BASELINE_METHODS = ("hierarchical", "kernel", "kernel_hhat", "hermite_ridge")
DEFAULT_BUDGET_GB = 2.0


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


def _check_ridges(ridge_grid) -> np.ndarray:
    ridges = np.asarray([check_float("ridge_grid", r, 0.0) for r in ridge_grid], np.float64)
    if ridges.size == 0:
        raise ValueError("ridge_grid=() is not allowed: must hold at least one ridge >= 0")
    return ridges


class _BatchedRegressor(Params):
    """predict / evaluate shared by the baselines: checks at the boundary, then ``_predict_batch`` on
    batches of ``batch_size`` inputs. Subclasses set ``_fitted`` (the attribute fit sets last) and
    ``_n_inputs()`` (the training inputs' dimension). Constructors store their arguments as given; fit validates
    them (the scikit-learn contract, `_params.Params`)."""

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


@float64
def run_baselines(config: TeacherConfig, ns, seed: int = 0, *, methods=BASELINE_METHODS, n_test: int = 10000,
                  memory_gb: float = DEFAULT_BUDGET_GB, kernel: str = "rbf", estimators=("paper",),
                  kernel_max_n: int | None = None, n_landmarks: int | None = None, engine: str = "auto") -> list[dict]:
    """Fit every method of ``methods`` on the first n training samples of the teacher of ``seed`` and evaluate
    it on the same n_test test samples.

    Every method sees exactly the same n samples with the same held-out fifth (index % 5 == 4) for its ridge:
    the hierarchical learner is fitted with `HierarchicalSpectralLearner.fit(X[:n], y[:n])`, not on a stream
    with extra validation samples. Methods: 'hierarchical' (the learner, once per estimator of ``estimators``),
    'kernel' (``kernel`` ridge on x), 'kernel_hhat' (rbf kernel ridge on the learner's h1_hat = A_hat F(x), once
    per estimator), 'hermite_ridge'. A method of estimator e != 'paper' is recorded as 'METHOD_e'.
    ``kernel_max_n``: the kernel methods stop above this n; ``n_landmarks``: their Nystrom size beyond the budget.
    Sizes a method refuses for memory are skipped (reported with mse = NaN and the reason). Returns one
    record per (method, n): method, n, d, q, gamma, g, seed, mse, nmse, var_y, ridge, seconds, skipped, solver."""
    import time

    ns = sorted({check_int("n", n, VALID_EVERY) for n in ns})
    methods = [check_choice("method", m, BASELINE_METHODS) for m in methods]
    check_choice("input_model", config.input_model, ("hermite",))  # the baselines see x, not the features
    n_test = check_int("n_test", n_test, 1)
    kernel_max_n = ns[-1] if kernel_max_n is None else check_int("kernel_max_n", kernel_max_n, 1)
    teacher = Teacher(config, seed)
    base = {"d": config.d, "q": config.q, "gamma": config.gamma, "g": config.link_name, "eps": config.eps,
            "d1": config.latent, "sigma": config.sigma, "seed": seed, "n_test": n_test}
    X_test, y_test = (np.asarray(a, np.float64) for a in teacher.sample(n_test, "test", seed))
    X_all, y_all = (np.asarray(a, np.float64) for a in teacher.sample(ns[-1], "train", seed))
    out = []

    def record(method, n, fit_and_evaluate):
        t0 = time.perf_counter()
        try:
            err, model = fit_and_evaluate()
            rec = {**err, "ridge": float(model.ridge_), "skipped": "", "solver": getattr(model, "solver_", "")}
        except ValueError as exc:  # over the memory budget: skip this size, keep the reason
            rec = {"mse": math.nan, "nmse": math.nan, "var_y": math.nan, "ridge": math.nan, "skipped": str(exc),
                   "solver": ""}
        out.append({**base, "method": method, "n": n, **rec, "seconds": time.perf_counter() - t0})

    for estimator in estimators if ("hierarchical" in methods or "kernel_hhat" in methods) else ():
        tag = "" if estimator == "paper" else f"_{estimator}"
        kw = {} if estimator == "paper" else {"estimator": estimator}
        for n in ns:
            learner = HierarchicalSpectralLearner(teacher.d1, config.q, input_model=config.input_model, engine=engine,
                                                  memory_gb=memory_gb, **kw)
            t0 = time.perf_counter()
            learner.fit(X_all[:n], y_all[:n])
            t_fit = time.perf_counter() - t0
            if "hierarchical" in methods:
                record("hierarchical" + tag, n, lambda: (learner.evaluate(X_test, y_test), learner))
                out[-1]["seconds"] += t_fit
            if "kernel_hhat" in methods and n <= kernel_max_n:
                H, H_test = learner.latent_fields(X_all[:n]), learner.latent_fields(X_test)
                model = KernelRidge("rbf", memory_gb=memory_gb, n_landmarks=n_landmarks)
                record("kernel_hhat" + tag, n, lambda: (model.fit(H, y_all[:n]).evaluate(H_test, y_test), model))
    for method in ("kernel", "hermite_ridge"):
        if method not in methods:
            continue
        model = (KernelRidge(kernel, degree=2 * config.q, memory_gb=memory_gb, n_landmarks=n_landmarks) if method == "kernel"
                 else HermiteRidge(2 * config.q, memory_gb=memory_gb))
        for n in ns:
            if method == "kernel" and n > kernel_max_n:
                continue
            record(method, n, lambda: (model.fit(X_all[:n], y_all[:n]).evaluate(X_test, y_test), model))
    return out
