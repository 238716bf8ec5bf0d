"""Orthonormal degree-q Hermite features and their matrix-free actions (MODEL.md section 1).

One coordinate per multiset S = {i_1 <= ... <= i_q} of input indices, in lexicographic order:

    F_S(x) = prod_j He_{k_j}(x_j) / sqrt(k_j!)        (k_j = multiplicity of j in S)

with probabilists' Hermite polynomials He_k. For x ~ N(0, I_d): E[F] = 0 and E[F F^T] = I_D.

Matrix-free actions. A vector v in R^D is identified with the symmetric tensor T(v) in (R^d)^{(x)q}
whose entries at every ordering of S are v_S sqrt(prod_j k_j!) / q!. Then

    F(x) . v = < T(v), H_q(x) >,

where H_q is the tensor Hermite polynomial: H_2(x) = x x^T - I, and
H_3(x)_{ijl} = x_i x_j x_l - x_i d_jl - x_j d_il - x_l d_ij. For q = 2 this is MODEL.md's
F.v = (x^T V x - tr V) / sqrt(2) with V = sqrt(2) T(v). The adjoint is

    (F^T w)_S = M_S / sqrt(prod_j k_j!),   M = sum_mu w_mu H_q(x_mu),

so F v and F^T w cost O(B d^q) per column through d x d (q = 2) or d x d x d (q = 3) contractions,
and no n x D array is ever formed. Other q use the explicit (batch x D) features.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import check_int
from ._x64 import float64

__all__ = ["HermiteFeatures", "GaussianFeatures", "feature_dim", "hermite_he", "make_feature_map"]


def feature_dim(d: int, q: int) -> int:
    """D = C(d + q - 1, q), the number of degree-q multisets of d indices."""
    return math.comb(d + q - 1, q)


@float64
def hermite_he(x, kmax: int):
    """Normalised probabilists' Hermite polynomials He_k(x)/sqrt(k!) for k = 0..kmax, stacked on
    a new last axis (three-term recurrence He_{k+1} = x He_k - k He_{k-1})."""
    he = [jnp.ones_like(x), x]
    for k in range(1, kmax):
        he.append(x * he[k] - k * he[k - 1])
    he = he[: kmax + 1]
    norms = jnp.asarray([1.0 / math.sqrt(math.factorial(k)) for k in range(kmax + 1)], x.dtype)
    return jnp.stack(he, axis=-1) * norms


@dataclass(frozen=True)
class HermiteFeatures:
    """The feature map x in R^d -> F(x) in R^D of degree q (MODEL.md section 1).

    Methods take a batch X of shape (B, d) and never form more than a (B, D) array; `dot` and
    `rdot` for q in {2, 3} form no (B, D) array at all.
    """

    d: int
    q: int = 2

    def __post_init__(self):
        check_int("d", self.d, 2)
        check_int("q", self.q, 1, 6)

    @property
    def input_dim(self) -> int:
        return self.d

    @property
    def D(self) -> int:
        return feature_dim(self.d, self.q)

    # ---- index tables (host side, built once) -------------------------------------------------
    @cached_property
    def multisets(self) -> np.ndarray:
        """(D, q) sorted indices of every multiset S, lexicographic order."""
        return np.asarray(list(itertools.combinations_with_replacement(range(self.d), self.q)),
                          dtype=np.int32).reshape(-1, self.q)

    @cached_property
    def _prod_factorials(self) -> np.ndarray:
        S = self.multisets
        out = np.ones(len(S))
        for j in range(self.q):
            # multiplicity of S[:, j] counted once per distinct index: product of k_j!
            first = np.ones(len(S), bool) if j == 0 else S[:, j] != S[:, j - 1]
            mult = (S == S[:, [j]]).sum(1)
            out = np.where(first, out * np.vectorize(math.factorial)(mult), out)
        return out

    @cached_property
    def _gather_tables(self):
        """(index, multiplicity) pairs per multiset, padded with (0, 0): F_S = prod_p hn[j_p, k_p]."""
        S = self.multisets
        J = np.zeros_like(S)
        K = np.zeros_like(S)
        for r, s in enumerate(S):
            vals, counts = np.unique(s, return_counts=True)
            J[r, : len(vals)] = vals
            K[r, : len(vals)] = counts
        return J, K

    @cached_property
    def _tensor_coef(self):
        """sqrt(prod k!) / q!: the tensor entry per unit of v_S (float64; cast to the working dtype at use)."""
        return np.sqrt(self._prod_factorials) / math.factorial(self.q)

    @cached_property
    def _inv_sqrt_fact(self):
        return 1.0 / np.sqrt(self._prod_factorials)

    @cached_property
    def _flat_perm_index(self):
        """Flat tensor positions of every ordering of every multiset, shape (q!, D)."""
        S = self.multisets
        strides = self.d ** np.arange(self.q - 1, -1, -1)
        perms = list(itertools.permutations(range(self.q)))
        return np.stack([S[:, p] @ strides for p in perms]).astype(np.int32)

    # ---- explicit features ----------------------------------------------------------------------
    def explicit(self, X):
        """F(X) as a (B, D) float32 array (one batch; use for dense accumulation)."""
        X = jnp.asarray(X, jnp.float32)
        hn = hermite_he(X, self.q)  # (B, d, q+1)
        J, K = self._gather_tables
        F = hn[:, J[:, 0], K[:, 0]]
        for p in range(1, self.q):
            F = F * hn[:, J[:, p], K[:, p]]
        return F

    # ---- vector <-> symmetric tensor ------------------------------------------------------------
    @float64
    def to_tensor(self, V, dtype=jnp.float32):
        """(D, k) -> (k, d, ..., d): the symmetric tensors T(v) of the module docstring, in ``dtype``
        (float32 for the batched products; float64 where a d x d operator acts on them)."""
        V = jnp.asarray(V, dtype)
        k = V.shape[1]
        vals = (V * self._tensor_coef.astype(dtype)[:, None]).T  # (k, D)
        T = jnp.zeros((k, self.d ** self.q), dtype)
        for idx in self._flat_perm_index:
            T = T.at[:, idx].set(vals)
        return T.reshape((k,) + (self.d,) * self.q)

    @float64
    def from_tensor(self, M):
        """(k, d, ..., d) symmetric -> (D, k): (M_S / sqrt(prod k!))_S."""
        k = M.shape[0]
        flat = M.reshape(k, -1)[:, self._flat_perm_index[0]]
        return (flat * self._inv_sqrt_fact.astype(flat.dtype)).T

    # ---- matrix-free actions --------------------------------------------------------------------
    def dot(self, X, V):
        """F(X) @ V for X (B, d), V (D, k) -> (B, k)."""
        X = jnp.asarray(X, jnp.float32)
        if self.q == 2:
            T = self.to_tensor(V)  # (k, d, d)
            XT = jnp.einsum("bi,kij->bkj", X, T)
            return jnp.einsum("bkj,bj->bk", XT, X) - jnp.trace(T, axis1=1, axis2=2)[None, :]
        if self.q == 3:
            T = self.to_tensor(V)  # (k, d, d, d)
            d = self.d
            XX = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], d * d)  # (B, d^2)

            def one(Tk):  # contract one tensor with x (x) x (x) x without a (B, k, d, d) array
                cubic = jnp.sum((X @ Tk.reshape(d, d * d)) * XX, axis=1)
                return cubic - 3.0 * X @ jnp.einsum("ijj->i", Tk)

            return jax.lax.map(one, T).T
        return self.explicit(X) @ jnp.asarray(V, jnp.float32)

    def rdot(self, X, W):
        """F(X)^T @ W for X (B, d), W (B, k) -> (D, k)."""
        X = jnp.asarray(X, jnp.float32)
        W = jnp.asarray(W, jnp.float32)
        d = self.d
        if self.q == 2:
            M = jnp.einsum("bk,bi,bj->kij", W, X, X) - W.sum(0)[:, None, None] * jnp.eye(d, dtype=X.dtype)
            return self.from_tensor(M)
        if self.q == 3:
            XX = (X[:, :, None] * X[:, None, :]).reshape(X.shape[0], d * d)
            eye = jnp.eye(d, dtype=X.dtype)

            def one(w):
                cubic = ((X * w[:, None]).T @ XX).reshape(d, d, d)
                m = X.T @ w
                sym = (m[:, None, None] * eye[None] + m[None, :, None] * eye[:, None, :]
                       + m[None, None, :] * eye[:, :, None])
                return cubic - sym

            return self.from_tensor(jax.lax.map(one, W.T))
        return self.explicit(X).T @ W


@dataclass(frozen=True)
class GaussianFeatures:
    """Gaussian-equivalent input model: the 'features' are the inputs themselves, g ~ N(0, I_D)."""

    D: int

    def __post_init__(self):
        check_int("D", self.D, 1)

    @property
    def input_dim(self) -> int:
        return self.D

    def explicit(self, X):
        return jnp.asarray(X, jnp.float32)

    def dot(self, X, V):
        return jnp.asarray(X, jnp.float32) @ jnp.asarray(V, jnp.float32)

    def rdot(self, X, W):
        return jnp.asarray(X, jnp.float32).T @ jnp.asarray(W, jnp.float32)


def make_feature_map(input_model: str, d: int, q: int):
    """The learner's view of the inputs: Hermite features of x, or the Gaussian features themselves."""
    if input_model == "hermite":
        return HermiteFeatures(d, q)
    if input_model == "gaussian_equivalent":
        return GaussianFeatures(feature_dim(d, q))
    raise ValueError(f"input_model={input_model!r} is not allowed: must be one of 'hermite', 'gaussian_equivalent'")
