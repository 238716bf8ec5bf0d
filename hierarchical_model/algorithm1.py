"""Algorithm 1 of MODEL.md section 2 in plain float64 numpy: the test oracle of the engines.

Small d only (explicit n x D features, a full eigh). Same conventions as `HierarchicalSpectralLearner.fit`
with T = identity and its validation split (`splits`): every fifth sample (index % 5 == 4) is held out to choose the ridge, layers 1-2 and
the readout use the rest (with ``fresh_split``: layer 1 the first half of it, layer 2 and the readout
the second half).

    C       = (1/n) sum y (F F^T - I_D)                             ('paper')
    C_chaos = C - (G V + V G),  G = (1/n) sum y (x x^T - I_d)       ('chaos', q = 2 Hermite; HERMITE.md section 2)
    A_hat   = the d1 eigenvectors of largest |eigenvalue|,  h = A_hat F
    B_hat   = (1/n) sum y (h h^T - I),  h2_hat = h^T B_hat h - tr B_hat,  s = sqrt(2) ||B_hat||_F
    readout = ridge regression of y on He_k(h2_hat / s) / sqrt(k!), k = 0..p, ridge of least held-out error
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np

from ._x64 import float64
from .engines import check_estimator
from .hermite import GaussianFeatures, HermiteFeatures, hermite_he
from .learner import DEFAULT_RIDGES
from .splits import held_out as held_out_mask

__all__ = ["algorithm1", "kronecker_sum_reference"]


def kronecker_sum_reference(G: np.ndarray) -> np.ndarray:
    """D x D matrix of v -> G V + V G, v <-> V of MODEL.md section 1 (V_ii = v_ii, V_ij = v_ij / sqrt 2)."""
    d = G.shape[0]
    iu, ju = np.triu_indices(d)
    basis = np.zeros((iu.size, d, d))  # the unit-Frobenius symmetric matrices of the features
    basis[np.arange(iu.size), iu, ju] = np.where(iu == ju, 1.0, math.sqrt(0.5))
    basis[np.arange(iu.size), ju, iu] = basis[np.arange(iu.size), iu, ju]
    return 2.0 * np.einsum("aij,jk,bki->ab", basis, G, basis)  # <B_a, G B_b + B_b G> = 2 tr(B_a G B_b)


@float64
def _readout_features(F, A_hat, B_hat, s, degree):
    h = F @ A_hat.T
    u = (np.einsum("ni,ij,nj->n", h, B_hat, h) - np.trace(B_hat)) / s
    return np.asarray(hermite_he(jnp.asarray(u, jnp.float64), degree), np.float64)  # He_k(u) / sqrt(k!), k <= degree


@float64
def algorithm1(X, y, d1: int, q: int = 2, *, input_model: str = "hermite", estimator: str = "paper",
               readout_degree: int = 5, ridge_grid=DEFAULT_RIDGES, fresh_split: bool = False):
    """Fit Algorithm 1 on arrays X (n, d) (or (n, D) features for 'gaussian_equivalent'), y (n,).
    Returns a namespace: eigenvalues (d1, by decreasing |.|), A_hat (d1, D), B_hat, h2_scale, ridge, coef,
    C (the matrix whose eigenvectors were taken), readout_condition, readout_features(X), predict(X) and
    ridge_objective(w) (mean squared residual on the readout samples + ridge |w|^2)."""
    check_estimator(estimator, q=q, input_model=input_model)
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    fmap = HermiteFeatures(X.shape[1], q) if input_model == "hermite" else GaussianFeatures(X.shape[1])
    features = lambda Z: np.asarray(fmap.explicit(Z), np.float64)  # noqa: E731  (float32-rounded entries)
    held_out = held_out_mask(len(y))
    F = features(X)
    (Ft, Xt, yt), (Fv, yv) = (F[~held_out], X[~held_out], y[~held_out]), (F[held_out], y[held_out])
    half = len(yt) // 2 if fresh_split else len(yt)
    (F1, X1, y1), (F2, y2) = (Ft[:half], Xt[:half], yt[:half]), ((Ft[half:], yt[half:]) if fresh_split else (Ft, yt))
    # layer 1
    n = len(y1)
    C = (F1.T * y1) @ F1 / n - y1.mean() * np.eye(fmap.D)
    if estimator == "chaos":
        G = (X1.T * y1) @ X1 / n - y1.mean() * np.eye(X1.shape[1])
        C = C - kronecker_sum_reference(G)
    evals, evecs = np.linalg.eigh(C)
    top = np.argsort(-np.abs(evals), kind="stable")[:d1]
    A_hat = evecs[:, top].T
    # layer 2
    h = F2 @ A_hat.T
    B_hat = (h.T * y2) @ h / len(y2) - y2.mean() * np.eye(d1)
    s = max(math.sqrt(2.0) * np.linalg.norm(B_hat), 1e-30)
    # readout: normal equations on the readout samples, ridge of least error on the held-out ones
    P, Pv = (_readout_features(Z, A_hat, B_hat, s, readout_degree) for Z in (F2, Fv))
    p = readout_degree + 1
    normal = [P.T @ P / len(y2) + r * np.eye(p) for r in ridge_grid]
    fits = [np.linalg.solve(N, P.T @ y2 / len(y2)) for N in normal]
    errors = [np.mean((yv - Pv @ w) ** 2) for w in fits]
    best = int(np.argmin(errors))
    out = SimpleNamespace(eigenvalues=evals[top], A_hat=A_hat, B_hat=B_hat, h2_scale=s, C=C, ridge=ridge_grid[best],
                          coef=fits[best], readout_condition=float(np.linalg.cond(normal[best])), fmap=fmap)
    out.readout_features = lambda Z: _readout_features(features(np.asarray(Z, np.float64)), A_hat, B_hat, s, readout_degree)
    out.predict = lambda Z: out.readout_features(Z) @ out.coef
    out.ridge_objective = lambda w: float(np.mean((y2 - P @ w) ** 2) + out.ridge * w @ w)  # coef minimises it
    return out
