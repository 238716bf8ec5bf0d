"""Top-|eigenvalue| solvers of Algorithm 1, step 1 (MODEL.md section 2): the d1 eigenpairs of largest |eigenvalue|
of a symmetric matrix or operator, at both ends of the spectrum (the signs z_i put spikes on both sides).

- `dense_top`: a dense float64 matrix: block Krylov first when it pays (`dense_block_krylov`), else (or when it
  does not converge within its budget: a fallback, recorded) one tridiagonal reduction (`_tridiagonal_top`).
- `block_krylov_eigsh`: any operator V -> C V (the matrix-free engine's streamed C), thick-restarted block Krylov.
Both report their residuals |C u - theta u| / |theta_1| (`EigenInfo`), so that a caller can tell a converged
answer from one cut off by its budget.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .._validation import check_choice
from .._x64 import float64

__all__ = ["EigenInfo", "ConvergenceWarning", "dense_top", "dense_block_krylov", "block_krylov_eigsh", "top_by_magnitude",
           "blas_threads", "KRYLOV_MIN_D", "KRYLOV_TOL", "KRYLOV_BUDGET"]

# The dense eigen-solve uses the process's BLAS pools as they are (every core for one process; a worker of a
# sweep has them cut to its own cores, sims/backends.py). On a quiet 2-core machine two OpenBLAS threads ran the
# D = 1830 reduction in 0.27 s against 0.44 s on one; on a machine loaded by other processes they ran it 2-15x
# slower than one thread (spinning threads contend): set EIGEN_BLAS_THREADS = 1 there.
EIGEN_BLAS_THREADS = None
# Block Krylov on the dense C (`dense_block_krylov`) is tried first by solver='auto' when D >= this. Measured
# (d = 40 and 60 sweeps, 2 cores): at D = 820 it needed about D matrix-vector products to converge at the bulk
# edge (as many flops as the reduction), at D = 1830 about 0.45 D, 0.37-0.49 s against 0.27 s for the reduction
# on two threads; the reduction grows as D^3, the products as D^2 per column, so Krylov wins only beyond the
# sizes measured: the threshold is an extrapolation (not measured here), the fallback keeps it safe.
KRYLOV_MIN_D = 3000
KRYLOV_TOL = 1e-8       # residual |C u - theta u| <= KRYLOV_TOL |theta_1| for every wanted pair
KRYLOV_BUDGET = 0.6     # matrix-vector products allowed, as a fraction of D, before falling back to the reduction


def blas_threads(n: int):
    """Context manager: BLAS/OpenMP thread pools of this process limited to n threads (threadpoolctl)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=n)


class ConvergenceWarning(RuntimeWarning):
    """An iterative eigen-solver stopped at its budget with a residual above its tolerance."""


@dataclass
class EigenInfo:
    """How one top-|eigenvalue| problem was solved.

    ``solver`` 'krylov' | 'tridiagonal' | 'eigh' | 'block_krylov (matrix-free)'; ``matvecs`` (dense Krylov products,
    columns); ``passes`` (applications of the operator: passes over the data for the matrix-free engine, 1 for the
    dense one); ``fallback`` (dense Krylov tried and not converged within its budget, so the reduction was used);
    ``residuals`` (|C u_j - theta_j u_j| / |theta_1| of each returned pair); ``converged`` (every residual within the
    solver's tolerance; exact solvers: True); ``block`` (the warm start of the next checkpoint of a nested grid);
    ``spectrum`` (every eigenvalue, ascending, when asked for and available, else None); ``projected``."""

    solver: str
    matvecs: int = 0
    fallback: bool = False
    block: np.ndarray | None = None
    passes: int = 1
    residuals: np.ndarray | None = None
    converged: bool = True
    spectrum: np.ndarray | None = None
    projected: np.ndarray | None = None  # U^T C U of the paper's C, when the engine was asked and holds C

    @property
    def max_residual(self) -> float:
        return float(np.max(self.residuals)) if self.residuals is not None and len(self.residuals) else 0.0

    def warn_if_not_converged(self, tol: float, context: str, stacklevel: int = 3) -> None:
        if not self.converged:
            warnings.warn(f"{self.solver} did not converge {context}: largest residual |C u - theta u| / |theta_1| = "
                          f"{self.max_residual:.3g} > tol={tol:g} after {self.passes} passes; the eigenpairs are "
                          "approximate (raise max_passes or tol)", ConvergenceWarning, stacklevel=stacklevel)


def _relative_residuals(C, vals, vecs) -> np.ndarray:
    """|C u_j - theta_j u_j| / |theta_1| of exact eigenpairs of a dense C (a check that costs D^2 k, against the
    reduction's D^3)."""
    R = np.asarray(C, np.float64) @ vecs - vecs * vals
    return np.linalg.norm(R, axis=0) / max(abs(float(vals[0])), 1e-300)


@float64
def dense_top(C, n_eig: int, keep_spectrum: bool, V0=None, solver: str = "auto", tol: float = KRYLOV_TOL,
              budget: float = KRYLOV_BUDGET):
    """The n_eig eigenpairs of largest |eigenvalue| of the dense C (both ends of the spectrum), and the whole
    spectrum only if ``keep_spectrum``. Returns (vals, vecs, spectrum or None, EigenInfo).

    CPU backend (BLAS threads: EIGEN_BLAS_THREADS):
    - 'krylov' (tried first by 'auto' when D >= KRYLOV_MIN_D and no spectrum is wanted): thick-restarted block
      Krylov on C (`dense_block_krylov`), warm-started from ``V0`` (the previous checkpoint's block), until every
      wanted pair has residual <= tol |theta_1|; if that takes more than budget * D products, the reduction below
      (recorded as ``fallback``). A residual r bounds the eigenvalue error by r^2 / gap and the subspace angle by
      r / gap (Kato-Temple, Davis-Kahan), so tol = 1e-8 gives eigenvalues equal to the reduction's to ~1e-14 and
      q_h to ~1e-8 (measured on the d = 40 and 60 sweeps).
    - 'tridiagonal': one LAPACK tridiagonal reduction, the whole spectrum from the tridiagonal matrix and
      eigenvectors only for the wanted eigenvalues (`_tridiagonal_top`), several times cheaper than a full eigh.
    On accelerators: the device's own eigh."""
    check_choice("solver", solver, ("auto", "krylov", "tridiagonal"))
    D = C.shape[0]
    if jax.default_backend() != "cpu" or 2 * n_eig >= D:
        evals, evecs = jnp.linalg.eigh(C)
        evals, evecs = np.asarray(evals), np.asarray(evecs)
        vals, vecs = top_by_magnitude(evals, evecs, n_eig)
        res = _relative_residuals(C, vals, vecs)
        return vals, vecs, (evals if keep_spectrum else None), EigenInfo("eigh", block=vecs, residuals=res)
    C = np.asarray(C, np.float64)
    with blas_threads(EIGEN_BLAS_THREADS) if EIGEN_BLAS_THREADS else contextlib.nullcontext():
        tried = solver == "krylov" or (solver == "auto" and not keep_spectrum and D >= KRYLOV_MIN_D)
        if tried:
            vals, vecs, block, matvecs, res = dense_block_krylov(C, n_eig, V0, tol, int(budget * D))
            if res.max() <= tol:
                return vals, vecs, None, EigenInfo("krylov", matvecs, block=block, residuals=res)
        evals, vals, vecs = _tridiagonal_top(C, n_eig)
        res = _relative_residuals(C, vals, vecs)
    return (vals, vecs, (evals if keep_spectrum else None),
            EigenInfo("tridiagonal", matvecs if tried else 0, tried, vecs, residuals=res))


def _ritz(Q, CQ, keep: int, k: int):
    """Rayleigh-Ritz on the basis Q (with CQ = C Q known): the ``keep`` Ritz pairs of largest |theta|, their images,
    and the relative residuals |C u - theta u| / |theta_1| of the first k (numpy or JAX arrays alike)."""
    xp = jnp if isinstance(Q, jax.Array) else np
    H = Q.T @ CQ
    theta, Y = np.linalg.eigh(np.asarray((H + H.T) / 2))
    theta, Y = top_by_magnitude(theta, Y, keep)
    Y = xp.asarray(Y)
    U, CU = Q @ Y, CQ @ Y
    res = np.asarray(xp.linalg.norm(CU[:, :k] - U[:, :k] * theta[:k], axis=0)) / max(abs(float(theta[0])), 1e-300)
    return theta, U, CU, res


def dense_block_krylov(C: np.ndarray, k: int, V0=None, tol: float = KRYLOV_TOL, max_matvecs: int | None = None,
                       extra: int = 8, depth: int = 10, seed: int = 0):
    """The k eigenpairs of largest |eigenvalue| of a symmetric float64 C by thick-restarted block Krylov
    (the dense counterpart of `block_krylov_eigsh`, in numpy float64).

    A block of b = k + extra vectors (``V0``'s columns first, the rest Gaussian from ``seed``); each cycle builds
    [V, CV, ..., C^depth V] (block Gram-Schmidt twice, then QR), takes the b Rayleigh-Ritz pairs of largest
    |theta| and restarts from them with their images already known. Converged when every wanted pair has
    |C u - theta u| <= tol |theta_1|. Returns (theta (k,), U (D, k), the b-vector block, products, relative
    residuals (k,))."""
    D = C.shape[0]
    b = min(k + extra, D)
    depth = max(1, min(depth, D // (2 * b) - 1))
    max_matvecs = 10 * D if max_matvecs is None else max_matvecs
    V = np.random.default_rng(seed).standard_normal((D, b))
    if V0 is not None:
        m = min(V0.shape[1], b)
        V[:, :m] = V0[:, :m]
    V, _ = np.linalg.qr(V)
    theta, U, matvecs, res = _thick_restart(lambda Q: C @ Q, V, k, depth, tol, max_matvecs, b, _orthonormalize_against_all)
    return theta[:k], U[:, :k], U, matvecs, res


def _tridiagonal_top(C: np.ndarray, k: int):
    """(all eigenvalues ascending, the k of largest |eigenvalue| in decreasing |eigenvalue|, their
    eigenvectors) of a symmetric float64 C by C = Q T Q^T (LAPACK dsytrd, Householder), the spectrum
    of the tridiagonal T, inverse iteration on T for the k wanted pairs only, and z -> Q z.

    The wanted eigenvalues are the m lowest and the k - m highest (largest magnitudes sit at the ends
    of the sorted spectrum), so two index ranges of T cover them."""
    import scipy.linalg as sla
    from scipy.linalg import lapack

    D = C.shape[0]
    lwork, _ = lapack.dsytrd_lwork(D, lower=1)
    a, diag, off, tau, info = lapack.dsytrd(C, lower=1, lwork=int(lwork))
    if info != 0:
        raise np.linalg.LinAlgError(f"dsytrd failed (info={info})")
    evals = sla.eigvalsh_tridiagonal(diag, off)
    order = np.argsort(-np.abs(evals), kind="stable")[:k]
    sel = np.sort(order)
    m = int(np.sum(sel == np.arange(k)))  # length of the bottom run 0..m-1
    if not np.array_equal(sel[m:], np.arange(D - (k - m), D)):  # ties broken oddly: full eigh
        ev, V = np.linalg.eigh(C)
        vals, vecs = top_by_magnitude(ev, V, k)
        return ev, vals, vecs
    Z = np.zeros((D, k))
    ranges = [(0, m - 1)] if m else []
    ranges += [(D - (k - m), D - 1)] if k - m else []
    col = 0
    for lo, hi in ranges:
        _, z = sla.eigh_tridiagonal(diag, off, select="i", select_range=(lo, hi))
        Z[:, col: col + z.shape[1]] = z
        col += z.shape[1]
    # Q = H_0 H_1 ... H_{D-2}, H_i = I - tau_i v_i v_i^T, v_i = (0,..,0, 1, a[i+2:, i]) with the 1 at i + 1
    for i in range(D - 2, -1, -1):
        if tau[i] == 0.0:
            continue
        v = np.concatenate(([1.0], a[i + 2:, i]))
        Z[i + 1:] -= np.outer(tau[i] * v, v @ Z[i + 1:])
    pos = {idx: c for c, idx in enumerate(sel)}
    cols = [pos[idx] for idx in order]
    return evals, evals[order], Z[:, cols]


def top_by_magnitude(evals, evecs, k: int):
    """The k eigenpairs of largest |eigenvalue|, in decreasing |eigenvalue|."""
    order = np.argsort(-np.abs(evals), kind="stable")[:k]
    return evals[order], evecs[:, order]


def _thick_restart(apply, V, k: int, depth: int, tol: float, budget: int, cost: int, orthonormalize):
    """The block Krylov loop shared by both solvers: from an orthonormal block V, each cycle builds
    [V, CV, ..., C^depth V] (``orthonormalize(R, basis)`` makes each new block orthonormal to the basis), keeps the
    V.shape[1] Rayleigh-Ritz pairs of largest |theta| and restarts from them, their images already known. Stops
    when the k wanted pairs have relative residual <= tol, when ``budget`` is spent (each application of C costs
    ``cost``; checked once per cycle) or at once when depth = 0. Returns (theta, U, cost spent, residuals)."""
    CV = apply(V)
    spent = cost
    while True:
        basis, images = [V], [CV]
        for _ in range(depth):
            Qn = orthonormalize(images[-1], basis)
            basis.append(Qn)
            images.append(apply(Qn))
            spent += cost
        xp = jnp if isinstance(V, jax.Array) else np
        theta, U, CU, res = _ritz(xp.concatenate(basis, 1), xp.concatenate(images, 1), V.shape[1], k)
        if depth == 0 or res.max() <= tol or spent >= budget:
            return theta, U, spent, res
        V, CV = U, CU


def _orthonormalize_against_all(R, basis):
    """Classical Gram-Schmidt against the whole basis at once, twice, then QR (numpy)."""
    Q = np.concatenate(basis, 1)
    for _ in range(2):
        R = R - Q @ (Q.T @ R)
    Qn, _ = np.linalg.qr(R)
    return Qn


def _orthonormalize_against(R, basis):
    """Block classical Gram-Schmidt, twice (numerically stable enough at these sizes), then QR (JAX)."""
    for _ in range(2):
        for Qb in basis:
            R = R - Qb @ (Qb.T @ R)
    Q, _ = jnp.linalg.qr(R)
    return Q


@float64
def block_krylov_eigsh(apply, D: int, n_eig: int, V0=None, block: int | None = None, depth: int = 4,
                       tol: float = 1e-4, max_passes: int = 300, key=None):
    """Eigenpairs of largest |eigenvalue| of a symmetric operator, by thick-restarted block Krylov.

    Each cycle builds the basis [V, CV, ..., C^depth V] (orthonormalised block by block), takes the
    Rayleigh-Ritz pairs of largest |theta| and restarts from the best ``block`` Ritz vectors, whose
    images are already known (no extra pass). Stops when every wanted pair has residual
    |C u - theta u| <= tol * |theta_1|, or after ``max_passes`` applications of C (then not converged: the
    residuals say by how much). ``V0`` warm-starts (e.g. the previous n of a nested grid).
    Returns (theta, U, passes, relative residuals |C u - theta u| / |theta_1|); when the block is most of the
    space, one exact Rayleigh-Ritz on all of it (residuals at round-off).
    """
    k = min(D, block or n_eig + 10)
    if D < 2 * k:  # the block is most of the space: one exact Rayleigh-Ritz on all of it
        k, depth = D, 0
    else:
        depth = max(1, min(depth, D // k - 1))
    key = jax.random.key(0) if key is None else key
    V = jax.random.normal(key, (D, k), jnp.float64)
    if V0 is not None:
        V0 = jnp.asarray(V0, jnp.float64)[:, :k]
        V = V.at[:, : V0.shape[1]].set(V0)
    V, _ = jnp.linalg.qr(V)
    theta, U, passes, res = _thick_restart(apply, V, n_eig, depth, tol, max_passes, 1, _orthonormalize_against)
    return theta[:n_eig], np.asarray(U[:, :n_eig]), passes, res
