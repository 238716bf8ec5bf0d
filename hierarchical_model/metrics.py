"""Per-run metrics (MODEL.md section 3) and the plain result object a run returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["first_layer_metrics", "subspace_overlap", "RunResult"]


def _orthonormal_basis(M: np.ndarray) -> np.ndarray:
    """Orthonormal basis (columns) of span(M^T) for M of shape (k, D)."""
    Q, _ = np.linalg.qr(np.asarray(M, np.float64).T)
    return Q


def subspace_overlap(A: np.ndarray, A_hat: np.ndarray) -> float:
    """q_h = ||Q^T Q_hat||_F^2 / d1, Q and Q_hat orthonormal bases of span(A^T), span(A_hat^T)."""
    Q, Qh = _orthonormal_basis(A), _orthonormal_basis(A_hat)
    return float(np.sum((Q.T @ Qh) ** 2) / A.shape[0])


def first_layer_metrics(A: np.ndarray, A_hat: np.ndarray) -> dict:
    """Overlaps of the recovered directions (rows of A_hat) with the teacher's (rows of A).

    qh: subspace overlap; cos2[i] = ||U_hat^T u_i||^2 (u_i = A_i/|A_i|, U_hat an orthonormal basis of
    the recovered span); ang_err[i] = 1 - max_j |<u_i, uhat_j>| (best-matching eigenvector);
    recovered = #{i: cos2[i] > 1/2}; eig_tags[j] = the teacher index (1-based) that eigenvector j
    aligns with best, with squared overlap eig_overlaps[j]; principal_cos2 = the squared cosines of the
    principal angles between span(A^T) and span(A_hat^T) (squared singular values of Q^T Q_hat, decreasing;
    they sum to d1 q_h), the authors' alignment measure.
    """
    U = A / np.linalg.norm(A, axis=1, keepdims=True)
    Uh = A_hat / np.linalg.norm(A_hat, axis=1, keepdims=True)
    Qh = _orthonormal_basis(A_hat)
    cos2 = np.sum((U @ Qh) ** 2, axis=1)
    G = (U @ Uh.T) ** 2  # (d1 teacher, k recovered) squared cosines
    return {
        "qh": subspace_overlap(A, A_hat),
        "principal_cos2": np.linalg.svd(_orthonormal_basis(A).T @ Qh, compute_uv=False) ** 2,
        "cos2": cos2,
        "ang_err": 1.0 - np.sqrt(G.max(axis=1)),
        "recovered": int(np.sum(cos2 > 0.5)),
        "eig_tags": (G.argmax(axis=0) + 1).astype(int),
        "eig_overlaps": G.max(axis=0),
    }


@dataclass
class RunResult:
    """One (configuration, seed, n) point: what `hmodel run --json` prints."""

    n: int
    d: int
    q: int
    D: int
    d1: int
    gamma: float
    g: str
    seed: int
    input_model: str
    engine: str
    eps: float
    qh: float
    cos2: list
    ang_err: list
    lam: list
    top_eigs: list
    eig_tags: list
    eig_overlaps: list
    recovered: int
    mse: float
    nmse: float
    var_y: float
    ridge: float
    n_test: int
    passes: int
    seconds: float
    estimator: str = "paper"  # layer-1 matrix: 'paper' (C) or 'chaos' (C - (G (+) G), HERMITE.md section 2)
    sigma: float = 0.0  # the rest of the teacher's configuration, so that TeacherConfig.from_row(result) rebuilds it
    a_kind: str = "orthonormal"
    conventions: str = "model"
    principal_cos2: list = field(default_factory=list)  # squared cosines of the principal angles, decreasing
    converged: bool = True  # layer 1's eigen-solve met its tolerance (False: the matrix-free engine hit max_passes)
    eig_residual: float = float("nan")  # its largest relative residual |C u - theta u| / |theta_1| (NaN: not computed)
    timings: dict = field(default_factory=dict)
    spectrum: list | None = None

    def to_dict(self, spectrum: bool = False) -> dict:
        out = asdict(self)
        if not spectrum:
            out.pop("spectrum")
        return out
