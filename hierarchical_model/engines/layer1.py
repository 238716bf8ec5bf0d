"""The layer-1 engine protocol: how Algorithm 1, step 1 (MODEL.md section 2) is computed, never what.

An engine is built once for a training source, a label transform T and an estimator, and answers

    top_eigenpairs(n, k, spectrum=False, project=False) -> (vals (k,), vecs (D, k), EigenInfo)

for an increasing sequence of n (a nested grid reads prefixes of one stream): the k eigenpairs of largest
|eigenvalue| of C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D) (or C_chaos) on the first n samples, by decreasing
|eigenvalue|. Whatever an engine carries from one n to the next (an accumulator, a warm start) is its own.
`algorithm1.algorithm1` is the plain reference every engine is tested against.
"""

from __future__ import annotations

import os
from typing import Protocol

import numpy as np

from .dense import DenseEngine
from .dense_kernels import dense_bytes
from .linalg import EigenInfo
from .matrix_free import MatrixFreeEngine
from .sources import choose_batch_chunks, matrix_free_batch_chunks

__all__ = ["Layer1Engine", "make_engine", "resolve_engine", "engine_batch_chunks", "default_memory_gb", "ENGINES",
           "DENSE_MAX_D"]

ENGINES = ("auto", "dense", "matrix_free")
DENSE_MAX_D = 6000  # beyond this a float64 eigh costs minutes: 'auto' goes matrix-free


class Layer1Engine(Protocol):
    name: str

    def top_eigenpairs(self, n: int, k: int, spectrum: bool = False,
                       project: bool = False) -> tuple[np.ndarray, np.ndarray, EigenInfo]: ...


def default_memory_gb() -> float:
    """Half of this machine's physical memory."""
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return 4.0


def resolve_engine(engine: str, D: int, memory_gb: float) -> str:
    """'auto' -> 'dense' when its D x D accumulator fits the budget (and D <= 6000), else 'matrix_free';
    an explicit 'dense' beyond the budget is refused."""
    need = dense_bytes(D) / 2**30
    if engine == "dense" and need > memory_gb:
        raise ValueError(f"engine='dense' needs {need:.1f} GB for D={D} (memory budget {memory_gb:.1f} GB): "
                         "use engine='matrix_free' or raise memory_gb")
    if engine == "auto":
        return "dense" if need <= memory_gb and D <= DENSE_MAX_D else "matrix_free"
    return engine


def engine_batch_chunks(name: str, fmap, k: int) -> int:
    """Batch size, in chunks, of the stream that engine ``name`` (as resolved) reads with k Krylov vectors: the
    dense engine's (B, D) rule (`sources.choose_batch_chunks`), or the matrix-free pass's own
    (`sources.matrix_free_batch_chunks`). Layer 2 and the readout read the same stream."""
    return matrix_free_batch_chunks(fmap, k) if name == "matrix_free" else choose_batch_chunks(fmap.D)


def make_engine(name: str, fmap, source, transform, estimator: str = "paper", **matrix_free_options) -> Layer1Engine:
    """The engine ``name`` ('dense' | 'matrix_free', as resolved by `resolve_engine`) on ``source``;
    ``matrix_free_options``: block, depth, tol, max_passes, seed of `MatrixFreeEngine`."""
    if name == "dense":
        return DenseEngine(fmap, source, transform, estimator)
    return MatrixFreeEngine(fmap, source, transform, estimator, **matrix_free_options)
