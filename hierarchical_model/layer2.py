"""Algorithm 1, steps 2-3 (MODEL.md section 2), streamed over a source's batches: the second layer and the readout
on top of a learned first layer A_hat.

    h1_hat = A_hat F(x);  B_hat = (1/n) sum_mu y_mu (h1_hat h1_hat^T - I);  h2_hat = <B_hat, h1_hat h1_hat^T - I>
    readout: ridge regression of y on He_0..He_p (normalised) of u = h2_hat / s, s = sqrt(2) ||B_hat||_F,
             the ridge of least error on held-out samples (`splits`).

Products in float32, sums (B_hat, the normal equations, test errors) in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from ._x64 import float64
from .hermite import hermite_he

__all__ = ["Readout", "fit_bhat", "fit_readout"]


@lru_cache(maxsize=32)
def layer2_kernels(fmap, degree: int):
    """(bhat_step, normal_step, predict, error_step): the jitted per-batch programs of layer 2 and the readout."""
    @jax.jit
    def bhat_step(acc, X, y, mask, At):
        h = fmap.dot(X, At)
        wy = (y * mask)[:, None]
        return acc + ((h * wy).T @ h).astype(jnp.float64), jnp.sum(y * mask, dtype=jnp.float64)

    def features_h2(X, At, Bm, scale):
        h = fmap.dot(X, At)
        h2 = jnp.sum(h * (h @ Bm), axis=1) - jnp.trace(Bm)
        return hermite_he(h2 / scale, degree)

    @jax.jit
    def normal_step(stats, X, y, mask, At, Bm, scale):
        """Normal equations of the readout: (sum Phi Phi^T, sum Phi y, sum y^2, count)."""
        G, b, yy, cnt = stats
        Pm = features_h2(X, At, Bm, scale) * mask[:, None]
        return (G + (Pm.T @ Pm).astype(jnp.float64), b + (Pm.T @ y).astype(jnp.float64),
                yy + jnp.sum(mask * y * y, dtype=jnp.float64), cnt + jnp.sum(mask, dtype=jnp.float64))

    @jax.jit
    def predict(X, At, Bm, scale, coef):
        return features_h2(X, At, Bm, scale) @ coef

    @jax.jit
    def error_step(acc, X, y, mask, At, Bm, scale, coef):
        r = (y - features_h2(X, At, Bm, scale) @ coef) * mask
        return acc + jnp.stack([jnp.sum(r * r, dtype=jnp.float64), jnp.sum(y * mask, dtype=jnp.float64),
                                jnp.sum(y * y * mask, dtype=jnp.float64), jnp.sum(mask, dtype=jnp.float64)])

    return bhat_step, normal_step, predict, error_step


@float64
def fit_bhat(fmap, A_hat, source, n: int, degree: int) -> np.ndarray:
    """B_hat = (1/n) sum_mu y_mu (h h^T - I), h = A_hat F(x_mu), over the first n samples of ``source`` (one pass)."""
    bhat_step = layer2_kernels(fmap, degree)[0]
    At = jnp.asarray(A_hat.T, jnp.float32)
    d1 = A_hat.shape[0]
    acc, sum_y = jnp.zeros((d1, d1), jnp.float64), 0.0
    for X, y, mask in source.batches(n):
        acc, sy = bhat_step(acc, X, y, mask, At)
        sum_y += sy
    return np.asarray(acc - sum_y * jnp.eye(d1)) / n


@dataclass(frozen=True)
class Readout:
    """A fitted g_hat(x) = sum_k coef_k He_k(h2_hat / h2_scale) / sqrt(k!) (module docstring)."""

    fmap: object
    A_hat: np.ndarray
    B_hat: np.ndarray
    h2_scale: float
    coef: np.ndarray
    degree: int

    def args(self):
        return (jnp.asarray(self.A_hat.T, jnp.float32), jnp.asarray(self.B_hat, jnp.float32),
                jnp.float32(self.h2_scale), jnp.asarray(self.coef, jnp.float32))

    @float64
    def predict(self, X) -> np.ndarray:
        predict = layer2_kernels(self.fmap, self.degree)[2]
        return np.asarray(predict(jnp.asarray(X, jnp.float32), *self.args()), np.float64)

    @float64
    def errors(self, source) -> dict:
        """mse, var_y, nmse = mse / var_y over every sample of ``source``."""
        error_step = layer2_kernels(self.fmap, self.degree)[3]
        acc = jnp.zeros(4, jnp.float64)
        args = self.args()
        for X, y, mask in source.batches():
            acc = error_step(acc, X, y, mask, *args)
        sse, sy, syy, cnt = (float(v) for v in acc)
        mse = sse / cnt
        var_y = syy / cnt - (sy / cnt) ** 2
        return {"mse": mse, "var_y": var_y, "nmse": mse / var_y if var_y > 0 else math.inf}


@float64
def fit_readout(fmap, A_hat, B_hat, source, n: int, validation, degree: int, ridge_grid) -> tuple[Readout, float]:
    """The readout on the first n samples of ``source``, its ridge the one of ``ridge_grid`` with the least mean
    squared error on every sample of ``validation``. Returns (Readout, ridge)."""
    normal_step = layer2_kernels(fmap, degree)[1]
    h2_scale = max(math.sqrt(2.0) * float(np.linalg.norm(B_hat)), 1e-30)
    args = (jnp.asarray(A_hat.T, jnp.float32), jnp.asarray(B_hat, jnp.float32), jnp.float32(h2_scale))
    p = degree + 1

    def normal_equations(src, m):
        stats = (jnp.zeros((p, p), jnp.float64), jnp.zeros(p, jnp.float64), jnp.float64(0), jnp.float64(0))
        for X, y, mask in src.batches(m):
            stats = normal_step(stats, X, y, mask, *args)
        return [np.asarray(a, np.float64) for a in stats]

    G, b, _, cnt = normal_equations(source, n)
    Gv, bv, yyv, nv = normal_equations(validation, validation.n)
    errs = []
    for r in ridge_grid:
        w = _ridge_solve(G, b, cnt, r)
        errs.append((w @ Gv @ w - 2 * w @ bv + yyv) / nv)
    ridge = ridge_grid[int(np.argmin(errs))]
    return Readout(fmap, A_hat, B_hat, h2_scale, _ridge_solve(G, b, cnt, ridge), degree), ridge


def _ridge_solve(G, b, n, ridge):
    p = G.shape[0]
    return np.linalg.solve(G / n + ridge * np.eye(p), b / n)
