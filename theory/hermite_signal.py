"""E[C] in the Hermite input model: the fourth-cumulant operator that the Gaussian-equivalent theory lacks.

For q = 2, F.v = (x^T V x - tr V)/sqrt 2 with ||V||_F = |v| (MODEL.md section 1). Joint cumulants of Gaussian
quadratic forms, kappa_r(x^T A_1 x, ..., x^T A_r x) = 2^(r-1) sum_{sigma in S_(r-1)} tr(A_1 A_sigma(2) ... A_sigma(r)),
give for u_i with matrix A_i and any v, v' (matrices V, W):
    E[(h1_i^2 - 1)(F.v F.v' - <v, v'>)] = 2 <u_i, v><u_i, v'> + 4 tr(W (A_i^2 V + V A_i^2 + A_i V A_i)),
so, for g = id (y = h2 exactly),
    E[C] = sum_i (lambda_i / sqrt 2) [2 u_i u_i^T + 4 N_i],   N_i = P^T (I (x) A_i^2 + A_i^2 (x) I + A_i (x) A_i) P,    (H1)
P the isometry v -> vec(V). In the Gaussian-equivalent model only the first term is there (sqrt(2) lambda_i
u_i u_i^T). N_i has norm ~ 3 |A_i|_op^2 ~ 12/d for a Haar-random u_i, and <u_i, N_i u_i> = 3 tr A_i^4 ~ 6/d:
at d = 40 it lengthens every spike by ~30% (kappa_4 = 12 tr A_i^4 ~ 0.6) and, summed over the mostly
same-signed lambda_i, adds directions OUTSIDE span(A) with eigenvalues comparable to the weaker spikes; these
compete for Algorithm 1's d1 slots. For another link, g(h2) = nu_1 h2 + (higher Hermite terms): nu_1 times
(H1) is its first order. Cost O(d1 d^4 + D^3); meant for d up to ~60.

Pipeline layer: spikes (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["hermite_signal_matrix"]


def hermite_signal_matrix(teacher, nu1: float | None = None) -> np.ndarray:
    """(H1) for a q = 2 teacher: the D x D matrix E[C] of the Hermite model to first order in the link
    (exact for g = id); ``nu1`` defaults to the teacher's link's nu_1 (1 for g = id)."""
    from hierarchical_model import HermiteFeatures

    if teacher.config.q != 2:
        raise ValueError(f"q={teacher.config.q} is not allowed: hermite_signal_matrix needs q=2")
    d = teacher.config.d
    fm = HermiteFeatures(d, 2)
    P = np.sqrt(2.0) * np.asarray(fm.to_tensor(np.eye(fm.D)), np.float64).reshape(fm.D, d * d)
    nu1 = teacher.link.nu1 if nu1 is None else float(nu1)
    eye = np.eye(d)
    M = np.zeros((fm.D, fm.D))
    for lam_i, a in zip(teacher.lam, teacher.A):
        A = (a @ P).reshape(d, d)
        A2 = A @ A
        K = np.kron(eye, A2) + np.kron(A2, eye) + np.kron(A, A)
        M += lam_i / np.sqrt(2.0) * (2.0 * np.outer(a, a) + 4.0 * (P @ K @ P.T))
    return nu1 * M

