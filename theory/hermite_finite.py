"""Finite-size predictions for the Hermite input model, both estimators (HERMITE.md section 3).

Per n (c = D/n), the steps of `theory.finite_size` with the Hermite pieces:
1. label law: the radial W-law of `theory.hermite_law` ((W1)-(W4): atoms W, spike moments a_i, the estimator's
   centre and extra variance), truncated to the range n samples cover (`LabelLaw.truncated`, rules 'soft' and
   'hard', with its raw Monte Carlo tails as the single-sample outliers) or as n samples see it (`LabelLaw.at_n`,
   rule 'measure': its two tails fitted as generalised Pareto laws (E1)-(E2) of `theory.label_laws`, the most
   extreme expected samples as atoms of mass 1/n);
2. bulk (M2) of `theory.hermite_bulk`, outliers and overlaps (M3)-(M4) of `theory.hermite_spikes`, of
   M + (weighted sample covariance), with M ((M1') of `theory.remainder`, built by `remainder.hermite_setup`) exact
   or its semicircle surrogate (chosen by D, recorded in Prediction.meta["model"]): E[G] (+) E[G] (paper estimator)
   and the spike, A V A and the pairs Sym(A_i^2 (x) A_i^2), Sym(A_i (x) A_i^3) with the coefficients
   `remainder.operator_coef` projects from the Hermite input's E[C] (both estimators; 'auto' takes the exact
   spec(M_perp) for the paper estimator up to EXACT_MAX_D, whose isolated outer eigenvalues are C's eigenvalues
   outside span(A) beyond the bulk);
3. the d1-largest-|eigenvalue| selection: by default (selection 'auto', `finite_size.selection_rule`, since stop 27)
   rule 'extremes+anisotropic' (below) where M is exact and rule 'soft' of `theory.selection.select` elsewhere; or
   rule 'extremes' of `theory.extreme_samples` (below), or rule 'measure' of `theory.spectral_measure`, which reads
   cos^2_i off u_i's spectral measure beyond the fluctuating d1-th largest |eigenvalue|, both from the law of n
   samples, so that a direction whose outlier lies among single-sample eigenvalues shares its overlap with them.
   'soft' counts, for each outlier, the eigenvalues each direction adds to or takes from the outer bulk counted by
   the spectral shift (K3) of `theory.selection`, M's spurious directions (isolated eigenvalues of the exact M_perp
   beyond the bulk, `hermite_spikes.spurious_outliers`) competing for the slots as further outliers without overlap,
   the bulk cells and the overlap density of the bulk eigenvectors taken from (M2)/(M3), plus the single-sample
   outliers of `theory.tails` competing for the slots. Measured (issue 11, stop 21, d = 40, 4 teachers, largest error
   of a per-direction cos^2; tanh paper / tanh chaos / id paper / id chaos):
   - n = 4000..64000 against the mean of 16 data streams per teacher: 'soft' 0.037 / 0.038 / 0.111 / 0.117,
     'measure' 0.072 / 0.054 / 0.106 / 0.100; on the issue's single stream 'soft' 0.070 / 0.081 / 0.110 / 0.142,
     'measure' 0.090 / 0.079 / 0.110 / 0.109;
   - g = id, n = d^alpha, alpha = 2.3..3.1 (up to 92552), one data stream: 'measure' 0.098 / 0.327 (paper / chaos),
     'soft' 0.081 / 0.162 (stop 20).
   'measure' treats the single-sample eigenvalues as a smooth mean density: right where they are dense (small n/D,
   an outlier among them shares its overlap), wrong where they are few (at n = 92552, g = id, chaos, a weak outlier
   near the edge usually has no single sample next to it and keeps its overlap, which the mean density spreads:
   direction 6 at 0.21 predicted, 0.54 simulated). It also loses for tanh, whose outliers are isolated: its Gaussian
   count fluctuation (X3) is coarser than 'soft''s draws. Its count of eigenvalues beyond t matches the simulation's
   within 0.5-1.5 for the chaos estimator at n = 64000; for the paper estimator it is 1-6 short in the outer bulk
   (the edge's outward shift that the quadratic form q below causes). So 'soft' stayed the default until stop 27.
   Rule 'extremes' (`theory.extreme_samples`, stop 23) keeps the bulk of 'measure' and puts the separated samples
   back as a Poisson number of discrete spikes, each coupled to the directions through its own h1, with the
   overlaps from the residues of a (d1 + m)-square system, each separated sample drawn from true Hermite inputs
   with its own quadratic form (D4). Same grid, 16 streams / one stream: 0.064 / 0.081, 0.040 / 0.049 (tanh paper,
   tanh chaos; stop 23, no sample separates), 0.098 / 0.131, 0.068 / 0.103 (id paper, id chaos; stop 24): the
   better rule for g = id, worse than 'soft' for tanh, so an option; rule 'extremes+anisotropic' adds the quadratic
   forms of the bulk's own samples (below, "Not modelled in the bulk");
4. the MSE from the overlaps (`finite_size.mse_from_overlaps`, whose readout model is the Gaussian-equivalent one).
The first-order-in-link M uses nu_1 lambda_i (exact for g = id).

Not modelled in the bulk (except by rule 'extremes+anisotropic'): the per-sample quadratic form
q = g^T (M_perp - omega)^-1 g / tr(M_perp - omega)^-1. Step 2 takes it equal to 1 (conditional Gaussian equivalence), as for a Gaussian g. For the Hermite features, which
are rank-one matrices d theta theta^T, it fluctuates from sample to sample through M's structured parts (A V A,
Kronecker sum). Measured at d = 40, tanh, paper estimator, with the exact M_perp at the edge's omega: sd
0.035-0.046 at n = 8000, 0.06-0.08 at n = 16000, 0.15-0.18 at n = 64000. Rule 'extremes' gives each separated
sample its own exact q ((D4) of `theory.extreme_samples`, issue 11 stop 24). For the bulk, a prototype of the
anisotropic deterministic equivalent (R diagonal in M_perp's eigenbasis, per eigenvalue k the self-energy
E[W p_k/(1 + W q/n)] - E[W p_k] + E[W] over true Hermite samples, p_k = (v_k . g)^2, since M already holds the
mean E[W g g^T]) moved the count of eigenvalues beyond 0.6 / 0.7 / 0.8 on the majority side by +5.4 / +1.9 / +0.3
(d = 40, g = id, paper estimator, teacher 3, n = 64000; its smooth law holds the separated samples too): the size
of what the prediction lacks there without (D4) (simulated minus predicted: 4.5 / 1.6 / 0.8; 2.2 / 0.9 / 0.5 with
(D4)). Rule 'extremes+anisotropic' (stop 25) runs it: `theory.anisotropic_bulk` solves that anisotropic equivalent
(A1) and folds it into (M2)-(M4) as shifts of M_perp's eigenvalues read at the edges (A2). Against 16 streams on the
same grid: 0.058 / 0.056 (id paper / id chaos), 0.028 (tanh chaos); worse for tanh paper (0.132), where M's own
edge error added to it. With (M1') (stop 26: M's pairs and the exact E[G], `theory.remainder`) that error is gone
and this rule is within the issue's targets in all four settings (an option: 10-50 times the cost of 'soft', its
pools). n = 4000..64000, 4 teachers,
n_mc = 400000, largest error of a seed-mean per-direction cos^2 (q_h in brackets), against 16 data streams per
teacher / the single stream: tanh paper 0.066 (0.017) / 0.084, tanh chaos 0.035 (0.007) / 0.054, id paper
0.056 (0.024) / 0.102, id chaos 0.041 (0.012) / 0.115. 'soft' with (M1'): tanh paper 0.136 / 0.154 (its old 0.037
leaned on M's error), tanh chaos 0.030 / 0.064, id paper 0.127 / 0.144, id chaos 0.182 / 0.182. Since stop 28 the
rule also moves M_perp's spectrum by the sample G's spread of the Kronecker-sum part ((K2) of
`theory.kronecker_spread`, paper estimator): on the d = 40 alpha-grid (16 streams) tanh paper 0.095 -> 0.020, id
paper 0.042 -> 0.029; current numbers in `theory.anisotropic_bulk`.

The simulated outer eigenvalues lie 0.01-0.06 outside the predicted classical locations at n = 8000. Pure-noise
spectra (M = 0, so q = 1) match. Two closures of the leave-one-out equations were tried, both with the law
built from true Hermite samples (issue 11, stop 12):
- q in the trace equation (atoms W q) and only in the spikes' denominators (numerators E[W a_i]): the edges
  move outward by 0.01-0.03;
- q in the denominators only: the edges move by 0.003 (teacher 4).
Neither improves the per-direction cos^2 on 8 teachers (tanh, max error over n = 4000..64000):
- paper estimator: 0.074 (this module), 0.100 (control, q = 1), 0.115 (with q);
- chaos estimator: 0.081, 0.073, 0.076.
So the over-prediction of weak directions near their transition (0.07-0.08 for direction 2 at n = 8000, both
estimators) is not explained by q alone.

At the population scale (n = 1M, c = 0.0008, d = 40, teachers 0 and 3, one simulation each, issue 11 stop 14)
the outliers agree within 0.002-0.013 (paper estimator; the simulated ones further out for tanh) and 0.001-0.009
(chaos), but the edges do not: for tanh and the paper estimator the predicted edge on the side of M's isolated
outer eigenvalues lies 0.02 too far out (teacher 3: right edge 0.222 predicted, largest simulated eigenvalue
outside span(A) 0.198; exact M_perp's largest eigenvalue 0.218 where the simulation has at most 0.198), and for
g = id and the chaos estimator the semicircle M puts both edges 0.02-0.05 too far in (the exact M: within 0.003,
0.02 on one side of teacher 0; at n <= 64000 the two give the same cos^2 within 0.001, the law's width dominates). Replacing M's Kronecker-sum
part sum_i kappa_i A_i^2 by the Monte Carlo E[G] (d x d, exact up to Monte Carlo) moves the paper estimator's
outliers out by 0.01 and its edge out by a further 0.02 with first-order A V A coefficients (0.005 with the
projected ones): so the part of E[C] that the four operators of (M1) miss is not in E[G] but in the degree-4
part, and it narrows spec(M_perp). Nor is it in the pairs: adding (A_i V A_j + A_j V A_i)/2, the Kronecker sum of
(A_i A_j + A_j A_i)/2 and the spike pairs to `operator_coef`'s projection (teacher 3, 400000 samples) gives them
coefficients of at most 0.018 and leaves the diagonal ones unchanged. Nor is it the diagonal alone: the theory's
u_i^T E[C] u_i (M_ii + E[W a_i] + E[W] - centre) is 0.006-0.017 smaller in magnitude than the exact E[y (h_i^2 - 1)]
of the Hermite input (teacher 3, paper estimator), but shifting M_ii by that difference turns the outliers' errors
at n = 1M from -0.008..+0.007 into -0.009..+0.005 (overshooting on the right): the coupling m_i to M_perp
compensates part of it. None adopted. Stop 26 found the missing part: E_4's pairs Sym(A_i^2 (x) A_i^2) and
Sym(A_i (x) A_i^3) (`theory.remainder`, (M1')); with them and the exact E[G], M_perp's outermost eigenvalues are
within 0.006 of E[C]'s Rayleigh quotients along their eigenvectors (teacher 3; 0.03 before), and with the radial
spike taken as the law's own E[W a_i] the spike strengths are within 0.009 of E[y (h_i^2 - 1)].

Pipeline layer: outcome (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

from .hermite_bulk import Bulk, bulk_at, bulk_cells
from .extreme_samples import select_extremes
from .hermite_spikes import outliers, overlap_density, resolvent_diag, spurious_outliers
from .selection import direction_sd, edge_scale, outlier_sd, select, shift_mass
from .spectral_measure import RESOLUTION, measure_select
from .tails import single_sample_outliers, tail_count, tail_locations

__all__ = ["predict_n_hermite", "model_name"]

N_THRESHOLDS = 64  # points of the threshold grid of rule 'measure' (`theory.spectral_measure`)


def model_name(kind: str) -> str:
    return {"exact": "hermite radial W-law + exact M", "semicircle": "hermite radial W-law + semicircle M",
            "semicircle+spurious": "hermite radial W-law + semicircle M + its spurious eigenvalues",
            "none": "hermite radial W-law (M = 0)"}[kind]


def predict_n_hermite(n: int, D: int, law, rem, n_cells: int = 60, tails: bool = True, selection: str = "soft",
                      pool=None, anisotropic=None) -> dict:
    """One n: bulk edges, outliers, selection ('soft', 'hard' or 'measure') and cos^2 of the Hermite model (module
    docstring, steps 1-3). 'soft' and 'hard' (`theory.selection`) take the outliers from the law truncated to the
    range n samples cover (`LabelLaw.truncated`); 'measure' (`theory.spectral_measure`) from the bulk of n samples
    without the single samples that separate from it (`hermite_bulk.bulk_at`, (M5)); 'extremes'
    (`theory.extreme_samples`) on that bulk, with the separated samples drawn from ``pool`` (`extreme_samples.PoolCache`)
    and, given ``anisotropic`` (`anisotropic_bulk.AnisotropicBulk`, rule 'extremes+anisotropic'), on M_perp's spectrum
    shifted by (A2) of `theory.anisotropic_bulk`."""
    if anisotropic is not None:  # rule 'extremes+anisotropic': M_perp's spectrum shifted by (A2)
        rem = anisotropic.remainder_at(n, D, law, rem, pool.get(n))
    extremes = selection in ("extremes", "extremes+anisotropic")
    bulk = bulk_at(n, D, law, rem) if selection == "measure" or extremes else Bulk(D / n, law.truncated(n), rem)
    lw = bulk.law
    om_edges = bulk.edge_omegas()
    edges = bulk.edges(om_edges)
    z, c2 = outliers(bulk, om_edges)
    if extremes:
        return _predict_extremes(n, D, bulk, om_edges, edges, z, n_cells, pool)
    singles = None
    if tails and selection == "measure" and law.extremes is not None:
        singles = single_sample_outliers(bulk, om_edges, n, law.extremes)
    elif tails and law.tail is not None:  # the raw samples, consistent with the truncated law's edge
        singles = (tail_locations(bulk, om_edges, law.tail), n / law.n_mc)
    # M's spurious directions (outside span(A), no overlap) compete for the slots like further outliers
    spur = spurious_outliers(bulk, om_edges)
    d1, k = z.size, spur.size
    zz, cc = np.concatenate([z, spur]), np.concatenate([c2, np.zeros(k)])
    sd = np.concatenate([outlier_sd(lw, c2, n), np.full(k, direction_sd(lw, n))])
    out = {"z": z, "edges": edges, "spurious": spur}
    if selection == "measure":
        full = Bulk(bulk.c, law.at_n(n, RESOLUTION), rem)
        point = outliers(full)  # the outliers beyond all of the single samples: eigenvalues of their own
        reach = max(np.max(np.abs(edges)), np.max(np.abs(zz[np.isfinite(zz)]), initial=0.0),
                    np.max(np.abs(singles[0]), initial=0.0) if singles is not None else 0.0)
        t = np.linspace(0.5 * min(abs(edges[0]), abs(edges[1])), 1.25 * reach, N_THRESHOLDS)
        sel, cos2, info = measure_select(full, D, d1, t, zz, sd, point, singles)
        out["threshold"] = info["t0"]
    else:
        cells = bulk_cells(bulk, edges, n_grid=n_cells)
        soft = {} if selection == "hard" else {"sd": sd, "tw": edge_scale(cells, D, n_cells)}
        dn = overlap_density(bulk, cells["om"])
        overlap = np.concatenate([dn, np.zeros((dn.shape[0], k))], axis=1)
        shift = shift_mass(resolvent_diag(bulk, cells["om_lo"]), resolvent_diag(bulk, cells["om_hi"]))
        sel, cos2 = select(zz, cc, D, cells, overlap, d1, rule=selection, tails=singles, shift=shift, **soft)
    out.update(cos2=cos2[:d1], selected=sel[:d1])
    if singles is not None:
        out["tail_outliers"] = float(tail_count(np.array([0.0]), *singles)[0])
    return out


def _predict_extremes(n, D, bulk, om_edges, edges, z, n_cells, pool) -> dict:
    """Rule 'extremes' (`theory.extreme_samples`) on the bulk of n samples without its separated ones (M5); M's
    spurious directions compete as eigenvalues without overlap."""
    cells = bulk_cells(bulk, edges, n_grid=n_cells)
    shift = shift_mass(resolvent_diag(bulk, cells["om_lo"]), resolvent_diag(bulk, cells["om_hi"]))
    mass = np.clip(D * cells["mass"] + shift.sum(axis=1), 0.0, None)
    spur = spurious_outliers(bulk, om_edges)
    sel, cos2, info = select_extremes(bulk, om_edges, n, D, pool.get(n), cells, overlap_density(bulk, cells["om"]), mass,
                                      edge_scale(cells, D, n_cells), fixed=spur)
    return {"z": z, "edges": edges, "spurious": spur, "cos2": cos2, "selected": sel, "separated": info["separated"],
            "tail_outliers": float(sum(info["separated"]))}
