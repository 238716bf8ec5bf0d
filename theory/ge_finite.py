"""One n of the Gaussian-equivalent model: bulk, outliers, selection and cos^2 (MODEL.md section 4).

Per n (c = D/n), with the label law of `theory.label_laws.label_law` truncated to the range n samples cover:
1. bulk edges [left, right] of C's noise part (label-weighted Marchenko-Pastur, `theory.resolvent`);
2. each direction's outlier and eigenvector overlap (spectral-method formulas (S1)-(S2), `theory.spikes`),
   which include the correlation of the labels with the spike direction, the other directions acting as
   label noise (single-spike reduction; exact here up to nearly coincident outliers, see `theory.spikes`);
3. Algorithm 1's selection (`theory.selection`): it keeps the d1 eigenvalues of largest |eigenvalue|, so an
   outlier counts only if fewer than d1 eigenvalues lie beyond its magnitude: D mu_bulk(|x| > |z_i|) (bulk
   eigenvalues, from the limiting density, with the eigenvalues each direction adds to or takes from the outer bulk,
   the spectral shift (K3)) plus the outliers of larger magnitude. selection='soft' (default)
   weights the outlier's cos^2 by the probability of that event under the outliers' Gaussian fluctuations and
   the edges' Tracy-Widom ones (a seed flips at its own n, so a seed mean is a fraction); selection='hard' is
   the deterministic all-or-nothing rule (used for `finite_size_thresholds`). An outlier on the side of the smaller
   bulk edge is lost until it also beats the larger edge. The remaining slots go to the outermost bulk
   eigenvectors, whose overlap with u_i (`selection`) is the finite-D part of cos^2: it makes the rise of
   cos^2 across a transition smooth, as in simulations. q_h = mean cos^2.
   (In the Gaussian-equivalent model the bulk is nearly symmetric at these sizes, edges -0.62/+0.61 at
   d = 40, n = 4000, tanh, seed 0, and the positive lambda_3 of seed 0 is recovered like the others. The
   observation that it is never recovered, even at n = 32000, is the Hermite model's: there E[C] shrinks it to
   +0.44 and adds negative directions outside span(A), see `theory.finite_size`.)

Measured (issue 11, stop 29; d = 40 and 60, gamma = 0.4, n = d^alpha, alpha = 2.3..3.1, teachers 0-3, against 16 / 8
data streams per teacher): largest per-direction error of the 4-seed mean cos^2 0.015 (tanh) and 0.041 (g = id) at d
= 40, 0.017 (tanh) at d = 60, but 0.144 for g = id at d = 60, n = 27885 (q_h 0.515 predicted, 0.466 simulated):
there the outliers of directions 4-7 (|lambda| 0.33-0.26) lie within 0.04 of each other and of the bulk's edge
(teacher 0: predicted -0.703, -0.686, -0.671 and none for direction 7, edge -0.667; simulated eigenvalues -0.706,
-0.678, -0.658, -0.656), so their eigenvectors mix with each other and with the edge's, which the single-spike
overlaps of (S1)-(S2) leave out; the weak directions are predicted 0.05-0.13 too high. Part of it is the label law's
Monte Carlo noise (g = id: the edge follows the largest atoms): the mean of 16 law draws (predict(law_draws=16))
gives 0.085 there, n_mc = 400000 with 4 draws 0.091, and q_h 0.502 against 0.466.

Pipeline layer: outcome (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

from .resolvent import bulk_edges, edge_cells
from .selection import edge_scale, outlier_sd, select, shift_mass
from .spikes import outliers as spike_outliers, overlap_density, resolvent_diag

__all__ = ["selection", "predict_n"]


def selection(z, c2, D: int, c: float, law, edges, n_cells: int = 60, slots: int | None = None, *,
              rule: str = "soft", n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1's d1 largest-|eigenvalue| selection (`theory.selection.select`, rule 'soft' or 'hard';
    'soft' needs the sample size ``n`` for the fluctuation scales): (P(selected) (d1,), cos^2 (d1,)).

    Outliers: direction i's outlier is kept (rule 'hard') iff the expected number of eigenvalues of larger
    magnitude is below d1: D mu_bulk(|x| > |z_i|) + #{j: |z_j| > |z_i|} <= d1 - 1, or with the probability of
    that event under the outliers' and the edges' fluctuations (rule 'soft'). The remaining
    k = d1 - sum P slots go to the bulk eigenvalues of largest magnitude, a region R = {|x| > t*} with D mu_bulk(R) = k.
    cos^2_i = [kept] cos^2(S2) + overlap of u_i with the bulk eigenvectors in R, where (Ledoit-Peche /
    Benaych-Georges-Nadakuditi type, derived from the Schur complement of `theory.spikes`)
        u_i^T (S - z)^-1 u_i = -x / (c - x K_i(x)),   x = -c m(z),  K_i(x) = E[w (h1_i^2 - 1)/(1 - x w)],
    so the eigenvectors at x in the bulk carry (1/pi) Im[-x/(c - x K_i(x))] dx of |u_i|^2 (its residue at an
    outlier is (S2), its a_i = 0 value the uniform 1/D per eigenvector). This finite-D term is O(d1/D) far
    from a transition and grows near it, where it replaces the sharp jump by the smooth rise simulations show."""
    z = np.asarray(z, np.float64)
    cells = edge_cells(c, law, edges, n_grid=n_cells)

    soft = {} if rule == "hard" else {"sd": outlier_sd(law, c2, n if n is not None else round(D / c)),
                                      "tw": edge_scale(cells, D, n_cells)}
    shift = shift_mass(resolvent_diag(cells["m_lo"], c, law), resolvent_diag(cells["m_hi"], c, law))
    return select(z, c2, D, cells, overlap_density(cells["m"], c, law), z.size if slots is None else slots, rule=rule,
                  shift=shift, **soft)


def predict_n(n: int, D: int, law, n_cells: int = 60, selection_rule: str = "soft") -> dict:
    """One n: bulk edges, outliers, selection and cos^2 (see the module docstring, steps 1-3); ``n_cells``
    per side of the bulk for the selected-region integrals (`edge_cells`); ``selection_rule``: 'soft' or 'hard'
    (`theory.selection`)."""
    c = D / n
    lw = law.truncated(n)
    edges = bulk_edges(c, lw)
    z, c2 = spike_outliers(c, lw)
    sel, cos2 = selection(z, c2, D, c, lw, edges, n_cells, rule=selection_rule, n=n)
    return {"z": z, "cos2": cos2, "selected": sel, "edges": edges}
