"""Single-sample outliers of heavy-tailed label weights (issue 11, item 4; MODEL.md section 2, step 1).

A sample mu enters C as W_mu g g^T / n with |g|^2 ~ D: alone it is a rank-one spike of strength c W_mu. In the
Silverstein picture (x = -c m real, `theory.resolvent` (R2)) a weight W is a pole of E[w/(1 - x w)] at x = 1/W,
and a sample whose weight lies beyond the bulk's edge point, 1/W < x_e (W > 1/x_e on the right, W < 1/x_e on the
left), is not part of the bulk: it gives its own eigenvalue at
    zeta_1(W) = z(1/W) = c W + E[w/(1 - w/W)] - centre          (~ c W + E[w] - centre for large W),         (T1)
with the Remainder version omega_W: c m_M(omega_W) = -1/W, zeta_1 = zeta(omega_W) of `theory.remainder` (M2).
The expected number of such eigenvalues of magnitude above t is
    N_1(t) = n P(W beyond the edge point, |zeta_1(W)| > t),                                                 (T2)
counted on the raw Monte Carlo tails of W (`LabelLaw.tail`, each sample of probability 1/n_mc; rules 'soft' and
'hard') or on the law's fitted tails (`LabelLaw.extremes`, the generalised Pareto law (E1) of `theory.label_laws`,
as a Poisson process of equal-rate points; rule 'measure'), beyond the bulk's edge points. These eigenvalues
take Algorithm 1's slots (`selection.select`) and carry no overlap with span(A). For bounded labels (tanh) N_1
is zero; for g = id (W ~ kappa s^2 h2, exponential tails) it is O(1) at n / D ~ 10-100.

Pipeline layer: spikes (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["tail_locations", "single_sample_outliers", "tail_count"]


def tail_locations(bulk, om_edges, W) -> np.ndarray:
    """(T1): eigenvalue locations of the weights ``W`` that lie beyond the edge points of ``bulk``."""
    W = np.asarray(W, np.float64)
    out = []
    for side, oe in ((-1.0, om_edges[0]), (1.0, om_edges[1])):
        om = oe + side * np.geomspace(1e-12, 1e6, 400) * (1.0 + abs(oe))
        x = -bulk.c * bulk.rem.st(om)  # monotone from x_e (at the edge) to 0
        w = W[(W * side > 0)]
        w = w[(1.0 / w) * side < x[0] * side]  # beyond the edge point
        if w.size:
            out.append(bulk.zeta(np.interp(side / w, (side * x)[::-1], om[::-1])))  # x decreasing in |omega|
    return np.concatenate(out) if out else np.zeros(0)


def single_sample_outliers(bulk, om_edges, n: int, extremes) -> tuple[np.ndarray, float]:
    """(locations, rate) of (T2) for n samples: the label law's fitted tails ``extremes`` (`LabelLaw.extremes`) as a
    Poisson process in W (`ExtremeTail.intensity`, points of equal expected count ``rate``), those beyond ``bulk``'s
    edge points placed by (T1)."""
    grids = [t.intensity(n) for t in extremes]
    return tail_locations(bulk, om_edges, np.concatenate([g[0] for g in grids])), grids[0][2]


def tail_count(t, locations, rate: float) -> np.ndarray:
    """(T2): expected number of single-sample eigenvalues of magnitude above each t (array), from their
    ``locations`` (`tail_locations`) of expected count ``rate`` each."""
    t = np.atleast_1d(np.asarray(t, np.float64))
    return rate * np.sum(np.abs(locations)[None, :] > t[:, None], axis=1)
