"""What the baselines share: the boundary checks of (X, y), the ridge chosen on the held-out samples from one
eigendecomposition, a PSD solve, test errors, and predict / evaluate in batches."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from .._params import Params
from .._validation import check_finite_array, check_float

__all__ = ["DEFAULT_BUDGET_GB"]

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

