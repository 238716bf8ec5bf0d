"""Algorithm 1's selection step: which of the predicted outliers are among the d1 eigenvalues of largest |eigenvalue|,
and the cos^2 that follows (MODEL.md section 2, step 1; HERMITE.md section 3).

Inputs come from the steps before it only: the outliers z_i and their overlaps cos^2_i (`theory.spikes`,
`theory.hermite_spikes`), the outer bulk cells (`resolvent.edge_cells`, `hermite_bulk.bulk_cells`), the bulk
eigenvectors' overlap density, the label law (for the fluctuation scale) and the single-sample outliers of
`theory.tails`.

Two rules.
- 'hard' (the deterministic limit, used by `finite_size.finite_size_thresholds`): direction i is kept iff the
  expected number of eigenvalues of larger magnitude is below d1,
      D mu_bulk(|x| > |z_i|) + #{j: |z_j| > |z_i|} + N_1(|z_i|) <= d1 - 1,                              (K1)
  an all-or-nothing indicator per outlier.
- 'soft' (the default): the probability of (K1) under the fluctuations of a finite sample,
      P_i = P( D mu_bulk^(eta)(|x| > |z_i| + sigma_i xi_i) + #{j: |z_j + sigma_j xi_j| > |z_i + sigma_i xi_i|}
               + Poisson-N_1 <= d1 - 1 ),                                                              (K2)
  with independent xi_j ~ N(0, 1) (outliers), the bulk shifted outward on each side by sigma_TW eta_side
  (eta ~ Tracy-Widom beta = 1, taken Gaussian with its mean -1.2065 and sd 1.2680), and the single-sample
  outliers a Poisson process of the rate of `theory.tails` (T2). Evaluated by Monte Carlo over ``draws``
  draws from a fixed seed (error of P_i below 1/sqrt(draws)). sigma -> 0 gives back 'hard' (up to ties).

Fluctuation scales.
- Outlier i (first-order perturbation, lambda_hat - z_i = u_hat^T (C - E C) u_hat with the limit eigenvector
  u_hat = cos theta u_i + sin theta v, v a bulk direction; each sample adds W (g g^T - I)/n, and
  g.u_hat = cos h_i + sin xi, so q^2 - 1 = cos^2 (h_i^2 - 1) + sin^2 (xi^2 - 1) + 2 cos sin h_i xi):
      sigma_i^2 = (1/n) Var(W (q^2 - 1))
                = (1/n) [ cos^4 E[W^2 a2_i] + 4 cos^2 sin^2 E[W^2 (1 + a_i)] + 2 sin^4 E[W^2]
                          - cos^4 E[W a_i]^2 ],                                                        (F1)
  with the law's conditional moments a_i = E[h_i^2 - 1 | W] and a2_i = E[(h_i^2 - 1)^2 | W] (`LabelLaw.a2`;
  when absent, h_i | W is taken Gaussian of variance 1 + a_i). The centring: C subtracts the sample mean of
  the labels, which moves with the sample; (F1) takes each sample's own weight as its centring term (exact in
  the Gaussian-equivalent model; in the Hermite model C subtracts y_mu, not W_mu = kappa s_mu^2 y_mu, an
  O(sqrt(2/d)) difference per sample). The O(c) correction from the eigenvector's own fluctuation is
  neglected, and so is the deterministic remainder M of the Hermite model (it does not fluctuate). Checked by
  Monte Carlo at D = 55 (`tests/theory/test_selection.py`): within 6% for tanh; g = id's heavy-tailed labels
  (the law truncated at the range n samples cover) fluctuate 10-14% more.
- Bulk edge: with the density rho(x) ~ (b/pi) sqrt(E - x) near the edge E, the largest eigenvalue is
  E + (b D)^(-2/3) TW_1 (Tracy-Widom scaling of a square-root edge). b is read off the outermost cells:
  D mu((E - l, E)) = (2 b D/(3 pi)) l^(3/2).                                                            (F2)
Counting eigenvalues inside the bulk (K3). (K1) counts an outlier as one eigenvalue beyond the edge and nothing
inside the bulk. Exactly (Schur complement, det(C - t) = det(C_perp,i - t) / r_i(t), and the argument principle),
adding direction i back to C restricted to u_i's complement changes the number of eigenvalues above t by
    xi_i(t) = 1 - arg(r_i(t + i0))/pi in [0, 1],   r_i(t) = u_i^T (C - t)^-1 u_i.                           (K3)
Off the spectrum xi_i is 0 or 1 (1 between the edge and an outlier of direction i above it): (K1)'s count. Inside
the bulk, with the deterministic equivalent of r_i (the Schur complements of `theory.spikes` and
`theory.hermite_spikes`, `resolvent_diag`), xi_i is a fraction: a direction with an outlier takes 1 - xi_i of an
eigenvalue from the outer bulk, and one just below its threshold adds xi_i there (the near-edge eigenvalues that
carry its overlap; three of them on one side add 2-3 eigenvalues that (K1) misses). Each cell therefore holds
D mu_bulk(cell) + sum_j [xi_j(lower end) - xi_j(upper end)] eigenvalues (`shift_mass`), leaving out direction i's
own term when the count is the competition of direction i's outlier; both rules and the slot filling below use
these counts (the bulk alone when ``shift`` is None). Checked against Monte Carlo at D = 200
(`tests/theory/test_selection.py`): a direction's effect on the count inside the bulk is 0.14-0.59 eigenvalues
where (K3) says 0.23-0.76 and (K1) between -0.15 and 0.99; the exact identity holds on finite matrices.

After selection, cos^2_i = P_i cos^2_i(outlier) + the overlap of u_i with the bulk eigenvectors that fill the
k = d1 - sum_j P_j - (slots of single-sample outliers) remaining slots (the finite-D part, see `select`).
`selection_se`: the standard error of a seed mean that the selection events alone cause.

Measured (issue 11's table, d = 40, eps = 0.5, gamma = 0.4, Hermite input, 4 seeds, n = 4000..64000): the largest
error of a seed-mean per-direction cos^2 goes from 0.19/0.15/0.20/0.20 (hard; tanh paper/chaos, id paper/chaos)
to 0.18/0.11/0.10/0.11, and with M's exact spectrum and projected coefficients for the paper estimator
(`theory.remainder`, whose outer eigenvalues outside span(A) take slots here as part of the bulk) to
0.08/0.11/0.09/0.11. Against the mean of 9 data streams per teacher (the sampling noise of a 4-seed mean is up to
0.07 for tanh chaos at n = 16000 and 0.10-0.12 for g = id at n = 64000) the errors are 0.05/0.04/0.08/0.09.
With the count (K3) (issue 11, stop 13): 0.070/0.081/0.110/0.142 on the 4 seeds, 0.066/0.067/0.159/0.177 on 8
teachers; per teacher against its 9 data streams (teachers 0-3, n = 4000..64000, all directions) the largest
error goes 0.195/0.073/0.249/0.666 -> 0.151/0.069/0.202/0.462 and the root mean square 0.032/0.018/0.061/0.094 ->
0.029/0.017/0.054/0.076. For g = id the seed means get worse while the per-teacher errors shrink: the
indicator count's errors had partly cancelled across teachers. What remains for g = id is the bulk's outer edge, which the
truncated W-law sets at its largest sample (`LabelLaw.truncated`), where the simulation has single-sample eigenvalues
that share the directions' overlap; `theory.spectral_measure` (rule 'measure') models that mixing, and where it helps.

Pipeline layer: selection (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

from hierarchical_model._validation import check_choice

from .tails import tail_count

__all__ = ["RULES", "TW1_MEAN", "TW1_SD", "outlier_sd", "direction_sd", "edge_scale", "select", "selection_se"]

RULES = ("soft", "hard")
TW1_MEAN, TW1_SD = -1.2065, 1.2680  # Tracy-Widom beta = 1: mean and standard deviation
DRAWS = 4000


def outlier_sd(law, cos2, n: int) -> np.ndarray:
    """(F1): standard deviation of each direction's outlier eigenvalue at sample size ``n`` (d1,), from the
    (truncated) label law ``law`` (atoms w, a, optional a2) and the outliers' squared overlaps ``cos2`` (d1,)."""
    w, p, a = law.w, law.p, law.a
    a2 = getattr(law, "a2", None)
    if a2 is None:  # h | W Gaussian of variance 1 + a: E[(h^2 - 1)^2] = 3 (1 + a)^2 - 2 (1 + a) + 1
        a2 = 3.0 * (1.0 + a) ** 2 - 2.0 * a - 1.0
    c2 = np.clip(np.asarray(cos2, np.float64), 0.0, 1.0)
    s2 = 1.0 - c2
    w2 = w * w
    var = (c2**2 * ((w2 * a2) @ p) + 4.0 * c2 * s2 * ((w2 * (1.0 + a)) @ p) + 2.0 * s2**2 * (w2 @ p)
           - c2**2 * ((w * a) @ p) ** 2)
    return np.sqrt(np.maximum(var, 0.0) / n)


def direction_sd(law, n: int) -> float:
    """(F1) at cos = 0: sqrt(2 E[W^2]/n), the fluctuation of an eigenvalue whose direction lies outside span(A)
    (M's spurious directions, `hermite_spikes.spurious_outliers`)."""
    return float(np.sqrt(2.0 * ((law.w * law.w) @ law.p) / n))


def edge_scale(cells: dict, D: int, n_grid: int) -> tuple[float, float]:
    """(F2): the Tracy-Widom scale (b D)^(-2/3) at the (left, right) bulk edge from the cells of `edge_cells`
    (first ``n_grid`` cells: right side from its edge inward; the next ``n_grid``: left side)."""
    out = []
    for side in (slice(n_grid, 2 * n_grid), slice(0, n_grid)):
        mass = D * cells["mass"][side]
        dist = np.cumsum(cells["dl"][side])  # the inner end of each cell, from the edge
        cum = np.cumsum(mass)
        k = int(np.clip(np.searchsorted(cum, 1.0), 0, cum.size - 1))  # first cell holding >= 1 eigenvalue
        bD = 3.0 * np.pi * cum[k] / (2.0 * dist[k] ** 1.5) if cum[k] > 0 else np.inf
        out.append(float(bD ** (-2.0 / 3.0)) if np.isfinite(bD) and bD > 0 else 0.0)
    return out[0], out[1]


def spectral_shift(r) -> np.ndarray:
    """(K3): xi = 1 - arg(r)/pi in [0, 1] from r = u^T (C - t - i0)^-1 u (any shape, complex; Im r >= 0): the
    number of eigenvalues of C above t minus those of C restricted to u's complement."""
    r = np.asarray(r, np.complex128)
    return 1.0 - np.arctan2(np.maximum(r.imag, 0.0), r.real) / np.pi


def shift_mass(r_lo, r_hi) -> np.ndarray:
    """(K3) per cell: xi(lower end) - xi(upper end), the eigenvalues a direction adds to (or, < 0, takes from) each
    cell, from r at the cells' ends (cells, d1)."""
    return spectral_shift(r_lo) - spectral_shift(r_hi)


def select(z, c2, D: int, cells: dict, overlap, d1: int, *, rule: str = "soft", sd=None, tw=(0.0, 0.0), tails=None,
           shift=None, draws: int = DRAWS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1's selection of ``d1`` eigenvalues from the outliers ``z`` (NaN: none) with overlaps ``c2`` (entries
    beyond the d1 directions: further competitors without overlap, c2 = 0, e.g. M's spurious directions), the bulk cells
    (`resolvent.edge_cells`: mid, dl, mass; the right side's cells first) and ``overlap`` (cells, d1), the
    bulk eigenvectors' overlap density with each u_i at the cells' midpoints. Returns (P(selected) (d1,), cos^2 (d1,)); for
    rule='hard' P is the 0/1 indicator (K1), for 'soft' the probability (K2) (module docstring).

    ``tails`` = (locations, rate): the single-sample outliers ((T1) locations, n/n_mc each, `theory.tails`); they
    take slots and carry no overlap. 'soft' also takes ``sd`` (d1,) (F1) and ``tw`` = (left, right) edge scales (F2).
    ``shift`` (cells, d1): the directions' eigenvalue counts per cell (K3), `shift_mass`; None: the bulk alone (K1)."""
    rule = check_choice("rule", rule, RULES)
    z = np.asarray(z, np.float64)
    mid = cells["mid"]
    mag_cells = np.abs(mid)
    ok = np.isfinite(z)
    # per competitor j: the bulk's eigenvalue count per cell plus the spectral shift (K3) of the other directions
    mass = D * cells["mass"]
    mass_j = np.repeat(mass[:, None], z.size, axis=1)
    if shift is not None:
        shift = np.asarray(shift, np.float64)
        mass_j[:, :shift.shape[1]] -= shift
        mass_j += shift.sum(axis=1, keepdims=True)
        mass = np.clip(mass + shift.sum(axis=1), 0.0, None)
    mag = np.where(ok, np.abs(z), -np.inf)
    tail_at_edge = 0.0
    if tails is not None:
        tail_at_edge = float(tail_count(np.array([np.max(mag_cells)]), *tails)[0])
    if rule == "hard" or not ok.any():
        larger = (mag[None, :] > mag[:, None]).sum(axis=1)
        bulk_above = np.array([mass_j[mag_cells > t, j].sum() for j, t in enumerate(mag)])
        if tails is not None:
            bulk_above = bulk_above + tail_count(np.where(ok, mag, 0.0), *tails)
        prob = (ok & (bulk_above + larger <= d1 - 1)).astype(np.float64)
    else:
        prob = _soft(z, ok, mass_j, cells, d1, np.zeros(z.size) if sd is None else np.asarray(sd, np.float64), tw, tails,
                     draws, seed)
    k = d1 - prob.sum()
    k = max(k - min(tail_at_edge, k), 0.0)  # single-sample outliers beyond the bulk take slots first
    order = np.argsort(-mag_cells)
    cum = np.cumsum(mass[order])
    frac = np.clip((k - (cum - mass[order])) / np.maximum(mass[order], 1e-300), 0.0, 1.0)
    weight = np.zeros(mag_cells.size)
    weight[order] = frac
    bulk_overlap = (weight * cells["dl"]) @ np.clip(overlap, 0.0, None)
    cos2 = np.where(ok, prob * np.nan_to_num(c2), 0.0) + bulk_overlap
    return prob, np.clip(cos2, 0.0, 1.0)


def _soft(z, ok, mass_j, cells, d1, sd, tw, tails, draws, seed):
    """(K2) by Monte Carlo: P(fewer than d1 eigenvalues beyond each outlier)."""
    rng = np.random.default_rng(seed)
    n_half = cells["mid"].size // 2
    right = np.zeros(cells["mid"].size, bool)
    right[:n_half] = True
    zs = np.where(ok, z, 0.0)[None, :] + sd[None, :] * rng.standard_normal((draws, z.size))
    mags = np.where(ok[None, :], np.abs(zs), -np.inf)  # (draws, d1)
    eta = TW1_MEAN + TW1_SD * rng.standard_normal((draws, 2))  # (left, right), outward
    shift = np.where(right[None, :], tw[1] * eta[:, 1:2], -tw[0] * eta[:, 0:1])  # (draws, cells)
    cmag = np.abs(cells["mid"][None, :] + shift)
    bulk = np.einsum("kcj,cj->kj", cmag[:, :, None] > mags[:, None, :], mass_j)  # (draws, d1)
    larger = (mags[:, None, :] > mags[:, :, None]).sum(axis=2)
    count = bulk + larger
    if tails is not None and tails[0].size:
        t_mag, rate = np.abs(np.asarray(tails[0], np.float64)), float(tails[1])
        m = rng.poisson(rate * t_mag.size, draws)
        pick = rng.integers(0, t_mag.size, (draws, int(m.max()) if m.size and m.max() > 0 else 0))
        pts = np.where(np.arange(pick.shape[1])[None, :] < m[:, None], t_mag[pick], -np.inf)  # (draws, max m)
        count = count + (pts[:, None, :] > mags[:, :, None]).sum(axis=2)
    return np.where(ok, np.mean(count <= d1 - 1, axis=0), 0.0)


def selection_se(cos2, p_selected) -> np.ndarray:
    """Standard error of the seed mean of cos^2 from the selection events: per seed s a Bernoulli(P_s) times
    c_s = cos2_s/P_s, so sqrt(sum_s c_s^2 P_s (1 - P_s))/S; arrays (S, ...) -> (...)."""
    cos2, p = np.asarray(cos2, float), np.asarray(p_selected, float)
    c = np.where(p > 1e-12, cos2 / np.maximum(p, 1e-12), 0.0)
    return np.sqrt(np.sum(c * c * p * (1.0 - p), axis=0)) / cos2.shape[0]
