"""Algorithm 1's selection read off spectral measures: rule 'measure' of the Hermite model (issue 11).

Algorithm 1 keeps the d1 eigenvectors of C with the largest |eigenvalue|, so direction i's cos^2 is the mass that u_i's
spectral measure mu_i (the squared overlaps of u_i with C's eigenvectors, placed at their eigenvalues) puts beyond the
d1-th largest |eigenvalue| t*. Both the count of eigenvalues beyond a point and mu_i come from Stieltjes transforms of
C's deterministic equivalent for the law of n samples (`LabelLaw.at_n` with RESOLUTION atoms per expected sample in
the tails): m(zeta) = m_M(omega) of (M2) (`theory.hermite_bulk`) and r_i(zeta) = 1/f_i(omega) of (M3)
(`theory.hermite_spikes`), whose f_i holds every sample's term W a_i/(1 + W c m). For a probability measure mu with
transform s, Cauchy's theorem on the quarter plane gives
    mu((t, inf)) = 1/2 + (1/pi) int_0^inf Re s(t + i y) dy,     mu((-inf, t)) = 1 - mu((t, inf)),            (X1)
evaluated on vertical lines (`hermite_bulk.Bulk.solve_lines`; trapezoid in log y). The number of eigenvalues beyond
t (above t for t > 0, below t for t < 0) adds to the bulk's D mu_m the directions' own eigenvalues (K3):
    N(t) = D mu_m((t, inf)) + sum_j xi_j(t),   xi_j(t) = 1 - arg(r_j(t + i0))/pi   (t > 0; mirrored for t < 0). (X2)
The d1-th largest |eigenvalue| fluctuates around the mean-field t0, N(t0) + N(-t0) = d1, as
    P(t* <= t) = Phi((d1 - 1/2 - N(t) - N(-t)) / sigma(t)),
    sigma^2(t) = sum_j p_j (1 - p_j) + N_1(t) + (2/pi^2) log(1 + N_b(t)),   p_j = Phi((|z_j| - t)/sd_j),      (X3)
over the outliers z_j and M's spurious eigenvalues with their fluctuations sd_j ((F1) of `theory.selection`), the
Poisson count N_1 of the single-sample outliers beyond t ((T2) of `theory.tails`), and the count rigidity of the
N_b = D mu_m - N_1 bulk eigenvalues beyond t (beta = 1: the number of eigenvalues in a stretch holding N of them has
variance ~ (2/(beta pi^2)) log N; zero beyond the bulk, where the count is the outliers' alone). Then
    cos^2_i = E[mu_i(|lambda| > t*)] = int mu_i(|lambda| > t) dP(t* <= t),   P(selected_i) = P(t* < |z_i|).   (X4)

Why (issue 11, d = 40, g = id): the law's most extreme samples give single-sample eigenvalues next to and beyond the
bulk, and an outlier among them shares its overlap with them. The edge/outlier/cells rule ('soft') must either keep
these samples in the bulk, whose edge then sits at the largest sample (-1.98 at n = 16000, teacher 2, where the
simulated bulk ends near -1.45 and direction 1's overlap lies in three eigenvalues at -1.7..-1.9), or take them out
as slot-takers without overlap; (X1) needs neither edges nor cells, and mu_i holds the mixing. The price: the single
samples enter as a smooth mean density, which is right where they are dense and spreads the overlap of an outlier
that, in most samples, has no single sample next to it where they are few. Measured against 'soft' in
`theory.hermite_finite` (better for g = id at n <= 64000, worse at n = 92552 and for tanh): an option, not the default.

Pipeline layer: selection (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from .hermite_bulk import Bulk
from .hermite_spikes import spike_function

__all__ = ["RESOLUTION", "tail_measures", "measure_select"]

#: Atoms per expected sample in the tails of the law of n samples (`LabelLaw.at_n`): the count N(t) among the
#: single-sample eigenvalues is then a smooth mean rather than a staircase at the typical sample positions.
RESOLUTION = 4
Y_DECADES = (-9.0, 6.0)  # the vertical lines of (X1) run from y = 1e-9 to 1e6 times the spectrum's scale
Y_PER_DECADE = 5


def tail_measures(bulk: Bulk, D: int, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X1)-(X2) at the real points ``t`` (k,): (N_m (k,), own (d1, k), mu (d1, k)): the bulk's D mu_m and each
    direction's own eigenvalue count xi_i beyond each t (their sum is N(t)), and the mass of each u_i's spectral
    measure beyond it (above t for t > 0, below t for t <= 0)."""
    t = np.asarray(t, np.float64)
    d1 = bulk.law.a.shape[0]
    lo, hi = bulk.rem.support()
    scale = 1.0 + np.max(np.abs(bulk.law.w)) * bulk.c + (hi - lo)
    n_y = int((Y_DECADES[1] - Y_DECADES[0]) * Y_PER_DECADE) + 1
    ys = scale * np.logspace(Y_DECADES[1], Y_DECADES[0], n_y)  # decreasing: continuation from the top
    om = bulk.solve_lines(t, ys)  # (n_y, k)
    m = bulk.rem.st(om)
    r = np.stack([1.0 / spike_function(bulk, om, i) for i in range(d1)])  # (d1, n_y, k)
    logy = np.log(ys)

    def above(s):  # (X1) along axis -2 (y): mu((t, inf))
        integrand = s.real * ys[:, None]
        # below y_min, Re s is constant; above y_max, Re s ~ (mean - t)/y^2: both ends add Re s(t + i y) y
        ends = integrand[..., 0, :] + integrand[..., -1, :]
        return 0.5 + (-np.trapezoid(integrand, logy, axis=-2) + ends) / np.pi

    right = t > 0
    mu_m, mu_r = above(m), above(r)
    mu_m = np.where(right, mu_m, 1.0 - mu_m)
    mu_r = np.where(right, mu_r, 1.0 - mu_r)
    r0 = r[:, -1, :]
    xi = 1.0 - np.arctan2(np.maximum(r0.imag, 0.0), r0.real) / np.pi  # directions' own eigenvalues above t (K3)
    return D * mu_m, np.where(right, xi, 1.0 - xi), mu_r


def measure_select(bulk: Bulk, D: int, d1: int, t, z, sd, point=None, tails=None) -> tuple[np.ndarray, np.ndarray, dict]:
    """(X3)-(X4) on the grid ``t`` (increasing, from inside the bulk to beyond everything; both signs are used):
    returns (P(selected) (d1,), cos^2 (d1,), {"t0": the mean-field threshold}). ``z``, ``sd``: the outliers (NaN:
    none) of the d1 directions and then M's spurious eigenvalues, with their fluctuations; ``point`` = (z_p, c2_p)
    (d1,): the outliers that ``bulk`` itself isolates beyond all of its spectrum (NaN: none), whose mass c2_p in mu_i
    is an eigenvalue of its own, kept when fewer than d1 *others* lie beyond it; ``tails`` = (locations, rate) of
    `theory.tails`."""
    t = np.asarray(t, np.float64)
    N_m, own, mu = tail_measures(bulk, D, np.concatenate([t, -t]))
    k = t.size
    N_m, own, mu = N_m[:k] + N_m[k:], own[:, :k] + own[:, k:], mu[:, :k] + mu[:, k:]
    N = N_m + own.sum(axis=0)
    z, sd = np.asarray(z, np.float64), np.asarray(sd, np.float64)
    ok = np.isfinite(z)
    p = np.where(ok[:, None], ndtr((np.abs(np.nan_to_num(z))[:, None] - t[None, :]) / np.maximum(sd, 1e-12)[:, None]), 0.0)
    singles = np.zeros(k)
    if tails is not None and np.size(tails[0]):
        singles = tails[1] * np.sum(np.abs(np.asarray(tails[0]))[None, :] > t[:, None], axis=1)
    var = np.sum(p * (1.0 - p), axis=0) + singles + 2.0 / np.pi**2 * np.log1p(np.maximum(N_m - singles, 0.0)) + 1e-12

    def kept(count, v):  # P(fewer than d1 eigenvalues beyond t): an eigenvalue at t is among the d1 largest
        return np.maximum.accumulate(np.clip(ndtr((d1 - 0.5 - count) / np.sqrt(v)), 0.0, 1.0))

    F = kept(N, var)
    dF = np.diff(F, prepend=0.0, append=1.0)  # mass below t[0] goes to t[0], above t[-1] to beyond everything
    z_p, c2_p = (np.full(d1, np.nan), np.zeros(d1)) if point is None else (np.asarray(a, np.float64) for a in point)
    prob, cos2 = np.zeros(d1), np.zeros(d1)
    for i in range(d1):
        rest = np.append(mu[i], 0.0)
        if np.isfinite(z_p[i]) and c2_p[i] > 0:
            m_i = abs(z_p[i])
            others = kept(N - own[i], var - p[i] * (1.0 - p[i]))  # its own eigenvalue excluded from the count
            w = np.diff(ndtr((t - m_i) / max(sd[i], 1e-12)), prepend=0.0, append=1.0)  # its fluctuating position
            prob[i] = float(np.append(others, 1.0) @ w)
            rest = np.clip(rest - c2_p[i] * np.append(t < m_i, False), 0.0, None)
        else:
            prob[i] = float(np.interp(abs(z[i]), t, F, left=0.0, right=1.0)) if ok[i] else 0.0
        cos2[i] = prob[i] * c2_p[i] + rest @ dF if np.isfinite(z_p[i]) else rest @ dF
    j = int(np.argmax(N < d1)) if np.any(N < d1) else k - 1
    return prob, np.clip(cos2, 0.0, 1.0), {"t0": float(t[j])}
