"""The chaos estimator's correction (HERMITE.md section 2): the Kronecker sum v <-> V -> G V + V G in the q = 2
feature basis, as a sparse D x D matrix (dense engine) and as an action on a block (matrix-free engine),
and the estimator names with their refusal."""

from __future__ import annotations

import math
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_choice
from .._x64 import float64

__all__ = ["ESTIMATORS", "check_estimator", "kronecker_sum_matrix", "kronecker_sum_apply"]

ESTIMATORS = ("paper", "chaos")


def check_estimator(estimator: str, fmap=None, *, q: int | None = None, input_model: str | None = None) -> str:
    """Refuse an unknown estimator, and 'chaos' for anything but degree-2 Hermite features of x."""
    from ..hermite import HermiteFeatures

    check_choice("estimator", estimator, ESTIMATORS)
    if estimator == "chaos":
        if fmap is not None:
            q, input_model = getattr(fmap, "q", None), "hermite" if isinstance(fmap, HermiteFeatures) else "gaussian_equivalent"
        if q != 2 or input_model != "hermite":
            raise ValueError(f"estimator='chaos' is not allowed with q={q}, input_model={input_model!r}: it needs "
                             "q = 2 Hermite input (HERMITE.md section 2); use estimator='paper'")
    return estimator


@lru_cache(maxsize=8)
def _kronecker_sum_plan(d: int):
    """Sparse entries of the D x D matrix K of v -> G V + V G in the q = 2 feature basis (lexicographic pairs).

    With B_(a,b) the unit-Frobenius symmetric matrices of the features (e_a e_a^T; (e_a e_b^T + e_b e_a^T)/sqrt 2)
    and P_ab = e_a e_b^T + e_b e_a^T = B_(a,b) / c_(a,b) (c = 1/2 on the diagonal, 1/sqrt 2 off it):

        K[(a,b), (c,e)] = <B_(a,b), G B_(c,e) + B_(c,e) G> = 2 c_ab c_ce (G_bc d_ae + G_be d_ac + G_ac d_be + G_ae d_bc).

    Each term pairs one index p of (a, b) with an equal index of (c, e), and G reads the other two: so
    every row (a, b) has entries only at the columns {p, k}, p in {a, b}, k = 0..d-1 (2 d entries, the
    value doubling when k = p because both orderings of {p, p} match). Returns (rows, cols, g_index,
    coef) with K[rows, cols] += coef * G.ravel()[g_index] (repeated positions add up)."""
    iu, ju = np.triu_indices(d)
    D = iu.size
    c = np.where(iu == ju, 0.5, math.sqrt(0.5))
    k = np.arange(d)[None, :]
    rows, cols, gidx, coef = [], [], [], []
    for p, other in ((iu[:, None], ju[:, None]), (ju[:, None], iu[:, None])):
        lo, hi = np.minimum(p, k), np.maximum(p, k)
        beta = lo * d - lo * (lo - 1) // 2 + hi - lo  # lexicographic position of the pair {p, k}
        rows.append(np.broadcast_to(np.arange(D)[:, None], beta.shape))
        cols.append(beta)
        gidx.append(other * d + k)
        coef.append(2.0 * c[:, None] * c[beta] * np.where(k == p, 2.0, 1.0))
    flat = lambda parts, dtype: jnp.asarray(np.concatenate([a.ravel() for a in parts]).astype(dtype))  # noqa: E731
    return flat(rows, np.int32), flat(cols, np.int32), flat(gidx, np.int32), flat(coef, np.float64)


@partial(jax.jit, donate_argnums=0)
def _add_kronecker_sum(C, G, scale, rows, cols, gidx, coef):
    return C.at[rows, cols].add(scale * coef * G.ravel()[gidx])


@float64
def kronecker_sum_matrix(G, C=None, scale: float = 1.0):
    """C + scale * K (C donated; zeros if None), K the D x D matrix of v -> G V + V G (`_kronecker_sum_plan`)."""
    G = jnp.asarray(G, jnp.float64)
    d = G.shape[0]
    D = d * (d + 1) // 2
    C = jnp.zeros((D, D), jnp.float64) if C is None else C
    return _add_kronecker_sum(C, G, jnp.float64(scale), *_kronecker_sum_plan(d))


@lru_cache(maxsize=32)
def _kronecker_sum_apply_jit(fmap):
    @jax.jit
    def apply(G, V):
        T = fmap.to_tensor(V, jnp.float64)  # T(v) = V / sqrt 2 (hermite.py), so v -> G V + V G is 2 (G T + T G)
        return 2.0 * fmap.from_tensor(G @ T + T @ G)

    return apply


@float64
def kronecker_sum_apply(fmap, G, V):
    """V (D, k) -> (G V_j + V_j G)_j (D, k) in float64, through the symmetric-matrix map of `HermiteFeatures`."""
    return _kronecker_sum_apply_jit(fmap)(jnp.asarray(G, jnp.float64), jnp.asarray(V, jnp.float64))

