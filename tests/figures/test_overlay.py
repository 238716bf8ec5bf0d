"""The theory overlay of seed-averaged data (issue 11 item 3): the mean of the per-seed predictions over the seeds
present in the rows, each with that seed's signed lambda, for the rows' input model and estimator."""

import numpy as np
import pandas as pd

from figures.make import FigureOptions
from figures.panels import theory_for


def test_overlay_is_the_mean_of_the_per_seed_predictions_of_the_rows_seeds():
    from hierarchical_model import Teacher, TeacherConfig
    from theory import predict

    cfg = TeacherConfig(d=8, q=2, eps=0.5, gamma=0.4, g="id", input_model="gaussian_equivalent")
    # seeds 1 and 2 have signs (+, +) and (-, +); seed 0, absent from the rows, has (-, -)
    assert [list(np.sign(Teacher(cfg, s).lam)) for s in (0, 1, 2)] == [[-1, -1], [1, 1], [-1, 1]]
    rows = pd.DataFrame([{"n": n, "d": 8, "q": 2, "eps": 0.5, "gamma": 0.4, "g": "id", "d1": 2, "seed": s,
                          "input_model": "gaussian_equivalent", "estimator": "paper"} for s in (1, 2) for n in (40, 400)])
    opts = FigureOptions(n_mc=4000, theory_points=3)
    curves = theory_for(rows, opts, cache=None)
    ns = list(curves["ns"])
    per_seed = [predict(cfg, ns, seed=s, n_mc=4000) for s in (1, 2)]
    np.testing.assert_allclose(curves["cos2"], np.mean([p.cos2 for p in per_seed], axis=0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(curves["qh"], np.mean([p.qh for p in per_seed], axis=0), rtol=1e-9, atol=1e-12)
    seed0 = predict(cfg, ns, seed=0, n_mc=4000)
    assert not np.allclose(curves["cos2"], seed0.cos2)  # what the overlay drew before: seed 0's teacher
