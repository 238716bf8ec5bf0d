"""Output links g of the target y = g(h2) (MODEL.md section 1).

A link is centred under Z ~ N(0, 1) (E[g(Z)] = 0) and has information exponent 1,
nu_1 = E[g'(Z)] = E[Z g(Z)] != 0 (Stein's lemma, which also covers non-smooth g).
Built in: id, tanh, relu and quad (g(z) = z^2 + z - 1, the paper's quadratic link); expectations are computed by
quadrature, so a user callable is centred the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import jax.numpy as jnp
import numpy as np

from ._x64 import float64

__all__ = ["Link", "make_link", "gaussian_expectation", "LINK_NAMES"]

LINK_NAMES = ("id", "tanh", "relu", "quad")
_RAW = {
    "id": lambda z: z,
    "tanh": jnp.tanh,
    "relu": lambda z: jnp.maximum(z, 0.0),
    # the paper's third link (P4): z^2 + z - 1 = He_2(z) + He_1(z), centred with nu_1 = 1 and E[g^2] = 3
    "quad": lambda z: z * z + z - 1.0,
}


@lru_cache(maxsize=1)
def _simpson_grid(half_width: float = 12.0, n: int = 200_001):
    """Composite Simpson nodes and weights for the N(0, 1) density on [-12, 12]: O(h^2) accurate even at
    kinks (relu), where Gauss-Hermite quadrature converges slowly; the truncated mass is below 1e-32."""
    z = np.linspace(-half_width, half_width, n)
    h = z[1] - z[0]
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    w *= h / 3.0 * np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)
    return z, w


@float64
def gaussian_expectation(fn: Callable) -> float:
    """E[fn(Z)], Z ~ N(0, 1), by composite Simpson quadrature on a fine grid (one vectorised call of fn)."""
    z, w = _simpson_grid()
    return float(np.dot(w, np.asarray(fn(z), dtype=np.float64)))


@dataclass(frozen=True)
class Link:
    """A centred link: ``link(z) = raw(z) - mean``, with ``nu1 = E[Z g(Z)]`` and ``second_moment = E[g(Z)^2]``."""

    name: str
    raw: Callable
    mean: float
    nu1: float
    second_moment: float

    @float64
    def __call__(self, z):
        return self.raw(z) - self.mean


@float64
def make_link(g) -> Link:
    """Build a centred link from a name in LINK_NAMES or a vectorised callable (numpy/jax arrays in, same shape out)."""
    if isinstance(g, Link):
        return g
    if isinstance(g, str):
        if g not in _RAW:
            raise ValueError(f"g={g!r} is not allowed: must be one of {', '.join(map(repr, LINK_NAMES))} or a callable")
        raw, name = _RAW[g], g
    elif callable(g):
        raw, name = g, getattr(g, "__name__", "custom")
        probe = np.linspace(-3.0, 3.0, 7)
        try:
            out = np.asarray(raw(jnp.asarray(probe)), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - any failure means the callable is unusable here
            raise ValueError(f"g={name!r} is not allowed: the callable must map a jax array to an array of the same shape ({exc})") from None
        if out.shape != probe.shape or not np.all(np.isfinite(out)):
            raise ValueError(f"g={name!r} is not allowed: the callable must be elementwise and finite on [-3, 3]")
    else:
        raise ValueError(f"g={g!r} is not allowed: must be one of {', '.join(map(repr, LINK_NAMES))} or a callable")
    mean = gaussian_expectation(lambda z: raw(jnp.asarray(z)))
    nu1 = gaussian_expectation(lambda z: z * np.asarray(raw(jnp.asarray(z))))
    second = gaussian_expectation(lambda z: (np.asarray(raw(jnp.asarray(z))) - mean) ** 2)
    if abs(nu1) < 1e-8:
        raise ValueError(f"g={name!r} is not allowed: its first Hermite coefficient nu_1 = E[Z g(Z)] = {nu1:.3g} must be non-zero (information exponent 1)")
    return Link(name=name, raw=raw, mean=mean, nu1=nu1, second_moment=second)
