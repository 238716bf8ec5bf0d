"""Predictions per teacher seed (issue 11, item 3): a theory overlay of seed-averaged data is the mean of the
per-seed predictions, each with that seed's signed lambda_i (and directions, for the Hermite remainder M), never
one seed's; the predicted thresholds of such data are the first crossings of the seed-mean predicted cos^2,
as the empirical ones are those of the seed-mean measured cos^2 (`theory.thresholds`).

Pipeline layer: outcome (`theory.PIPELINE`).
"""

from __future__ import annotations

import math

import numpy as np

from hierarchical_model._validation import check_float, check_int

from .crossing import first_crossing
from .finite_size import Prediction, average_predictions, model_at_n, predict
from .selection import selection_se

__all__ = ["predict_seeds", "seed_mean_thresholds"]


def predict_seeds(config, ns, seeds, **kwargs) -> Prediction:
    """The mean over teachers ``seeds`` of `predict` (each with its own signed lambda and directions): the theory
    overlay of seed-averaged data. qh, cos2, outliers (NaN-mean), selected and recovered (fractions), p_selected
    and mse_pred are seed means; the per-seed arrays are kept in ``per_seed`` (seeds, lam, qh, cos2, outliers), with
    ``per_seed["cos2_se"]``: the standard error of the seed mean of cos^2 that the all-or-nothing selection events
    alone cause, sqrt(sum_s c_s^2 P_s (1 - P_s))/S with P_s = p_selected and c_s = cos2_s/P_s (a lower bound on
    the sampling error of a seed mean: the overlaps of selected outliers fluctuate as well)."""
    seeds = [check_int("seed", s, 0, 2**31 - 1) for s in np.atleast_1d(seeds)]
    if not seeds:
        raise ValueError("seeds=[] is not allowed: give at least one teacher seed")
    preds = [predict(config, ns, seed=s, **kwargs) for s in seeds]
    mean, stack = average_predictions(preds)
    meta = dict(preds[0].meta, teacher_seed=None, seeds=seeds, averaged="mean over teacher seeds")
    return Prediction(config=preds[0].config, lam=[abs(v) for v in preds[0].lam], ns=preds[0].ns, meta=meta, **mean,
                      per_seed={"seeds": seeds, "lam": [p.lam for p in preds], "qh": stack["qh"],
                                "cos2": stack["cos2"], "outliers": stack["outliers"],
                                "cos2_se": selection_se(stack["cos2"], stack["p_selected"])})


def seed_mean_thresholds(config, seeds, lams=None, level: float = 0.5, n_lo: float | None = None,
                         n_hi: float | None = None, per_decade: int = 8, n_mc: int = 100_000,
                         estimator: str = "paper", selection: str = "auto") -> np.ndarray:
    """Per direction, the n where the seed-mean predicted cos^2 first reaches ``level``: scanned on a geometric
    grid (``per_decade`` points per decade from n_lo = D/2 to n_hi = 300 D), interpolated linearly in log n
    (`crossing.first_crossing`); NaN where not reached. ``lams``: per-seed signed lambda (default the teachers');
    ``selection``: Algorithm 1's selection rule (`finite_size.selection_rule`)."""
    seeds = [check_int("seed", s, 0, 2**31 - 1) for s in np.atleast_1d(seeds)]
    level = check_float("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    D = config.D
    lo = math.log(n_lo if n_lo is not None else max(D / 2, config.latent + 1))
    hi = math.log(n_hi if n_hi is not None else 300 * D)
    grid = np.exp(np.linspace(lo, hi, max(4, int(round(per_decade * (hi - lo) / math.log(10))) + 1)))
    models = [model_at_n(config, None if lams is None else lams[k], s, estimator, n_mc, selection=selection)[1]
              for k, s in enumerate(seeds)]
    rows = []
    for n in grid:  # up the grid until every direction's seed mean has crossed
        rows.append(np.mean([at_n(int(round(n)), n_cells=24)["cos2"] for at_n in models], axis=0))
        if np.all(np.max(rows, axis=0) >= level):
            break
    vals = np.array(rows)
    out = first_crossing(grid[: len(rows)], vals.T, level)
    return np.where(vals[0] >= level, grid[0], out)
