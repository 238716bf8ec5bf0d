"""Data sources of the engines: the samples of Algorithm 1 served in fixed-size batches with a prefix mask.

A source has ``n``, ``batch_size``, ``n_batches(n)``, ``batch(b, n) -> (inputs, y, mask)`` and ``batches(n)``;
mask is 1 for sample indices < n, so that every point of a nested grid of n reads an exact prefix of one
stream (MODEL.md section 3) with one compiled batch shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._x64 import float64
from ..hermite import HermiteFeatures
from ..teacher import CHUNK

__all__ = ["StreamSource", "ArraySource", "choose_batch_chunks", "matrix_free_batch_chunks"]

_TARGET_BATCH_FLOATS = 1 << 24  # a (B, D) float32 batch of at most 64 MiB
_MATRIX_FREE_BATCH_FLOATS = 1 << 26  # the matrix-free pass's (B, k, d) float32 contraction: at most 256 MiB


def choose_batch_chunks(D: int, max_chunks: int = 32) -> int:
    """Batch size in chunks of CHUNK samples: a power of two (so that it splits into the dense engine's
    sub-batches), big enough to amortise dispatch, (B, D) float32 <= 64 MiB."""
    fit = max(1, min(max_chunks, _TARGET_BATCH_FLOATS // (D * CHUNK)))
    return 1 << (int(fit).bit_length() - 1)


def matrix_free_batch_chunks(fmap, k: int, max_chunks: int = 32, backend: str | None = None) -> int:
    """Batch size in chunks for the matrix-free engine's stream, k vectors per pass.

    On an accelerator, for Hermite features of degree 2: a pass never forms a (B, D) array, its largest is the
    (B, k, d) float32 contraction x^T T_j of `HermiteFeatures.dot`, so B keeps that <= 256 MiB (a power of two of
    chunks, at most ``max_chunks``) instead of `choose_batch_chunks`'s (B, D) rule, which at d = 400 (D = 80200)
    leaves one chunk of 256 samples and a pass dominated by dispatch. Measured on an H200, d = 400, k = 30, one
    pass over 262144 samples: 3.18 s at B = 256 (the (B, D) rule), 0.855 s at 1024, 0.200 s at 4096 (this rule),
    0.180 s at 16384.
    On the CPU, and for other feature maps (which form (B, D) arrays in a pass), `choose_batch_chunks`: there the
    larger batch is slower (2 cores, one pass over 60000 samples: d = 200, 2.51 s at B = 512 against 3.03 s at
    8192; d = 100, 0.59 s at 2048 against 0.88 s at 8192). ``backend``: JAX's platform name the stream runs on
    (default: `jax.default_backend()`; `hmodel bench --plan` asks for a device's)."""
    rule = choose_batch_chunks(fmap.D)
    if (backend or jax.default_backend()) == "cpu" or not isinstance(fmap, HermiteFeatures) or fmap.q != 2:
        return rule
    fit = max(1, min(max_chunks, _MATRIX_FREE_BATCH_FLOATS // (k * fmap.input_dim * CHUNK)))
    return max(rule, 1 << (int(fit).bit_length() - 1))


class _Batches:
    """``n_batches`` and ``batches`` from ``n``, ``batch_size`` and ``batch``."""

    def n_batches(self, n: int | None = None) -> int:
        return -(-(self.n if n is None else n) // self.batch_size)

    def batches(self, n: int | None = None):
        for b in range(self.n_batches(n)):
            yield self.batch(b, n)


@dataclass(frozen=True, eq=False)
class StreamSource(_Batches):
    """The first n samples of a teacher's stream, in batches of ``batch_chunks`` chunks.

    The first batches, up to ``cache_bytes``, are kept once generated: a nested grid re-reads the
    prefix of the stream at every checkpoint (layer 2 and the readout), and the prefix is what it
    re-reads most."""

    teacher: object
    stream: str
    n: int
    seed: int
    batch_chunks: int
    cache_bytes: int = 0

    def __post_init__(self):
        object.__setattr__(self, "_cache", {})

    @property
    def batch_size(self) -> int:
        return self.batch_chunks * CHUNK

    @float64
    def batch(self, b: int, n: int | None = None):
        """Batch b as (inputs, y, mask); mask is 1 for sample indices < n (default self.n)."""
        n = self.n if n is None else n
        if b in self._cache:
            X, y = self._cache[b]
        else:
            X, y = self.teacher.chunks(self.stream, b * self.batch_chunks, self.batch_chunks, self.seed)
            if (len(self._cache) + 1) * (X.nbytes + y.nbytes) <= self.cache_bytes:
                self._cache[b] = (X, y)
        return X, y, _prefix_mask(b * self.batch_size, self.batch_size, n)


@dataclass(frozen=True, eq=False)
class ArraySource(_Batches):
    """User arrays (inputs (n, dim), y (n,)) served in zero-padded batches with a mask."""

    X: np.ndarray
    y: np.ndarray
    batch_size: int

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @float64
    def batch(self, b: int, n: int | None = None):
        n = self.n if n is None else n
        lo, B = b * self.batch_size, self.batch_size
        X = self.X[lo: lo + B]
        y = self.y[lo: lo + B]
        pad = B - X.shape[0]
        if pad:
            X = np.concatenate([X, np.zeros((pad, X.shape[1]), X.dtype)])
            y = np.concatenate([y, np.zeros(pad, y.dtype)])
        return jnp.asarray(X, jnp.float32), jnp.asarray(y, jnp.float32), _prefix_mask(lo, B, n)


@jax.jit
def _prefix_mask_jit(lo, n, ar):
    return ((lo + ar) < n).astype(jnp.float32)


def _prefix_mask(lo: int, B: int, n: int):
    return _prefix_mask_jit(jnp.int64(lo), jnp.int64(n), jnp.arange(B))
