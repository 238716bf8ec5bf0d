"""One outcome schema (issue 10, item 4): `hm.simulate` and `theory.predict` return the same fields for the same
teacher, so that data and theory overlay in one line; in the Gaussian-equivalent model, where the finite-size
theory is derived, the two agree."""

import numpy as np
import pytest

import hierarchical_model as hm
from theory import predict, predict_seeds


@pytest.fixture(scope="module")
def pair():
    cfg = hm.TeacherConfig(d=14, eps=0.5, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    ns = [1500, 6000]
    return cfg, ns, hm.simulate(cfg, ns, 3, n_test=4000), predict(cfg, ns, seed=3, n_mc=40_000)


def test_simulation_and_theory_share_the_outcome_fields(pair):
    cfg, ns, sim, pred = pair
    d1 = hm.latent_dim(cfg.d, cfg.eps)
    shapes = {"ns": (2,), "lam": (d1,), "qh": (2,), "cos2": (2, d1), "top_eigs": (2, d1), "bulk_edges": (2, 2),
              "recovered": (2,), "mse": (2,), "nmse": (2,)}
    assert set(shapes) == set(hm.OUTCOME_FIELDS)
    for o in (sim, pred):
        for name, shape in shapes.items():
            assert np.shape(getattr(o, name)) == shape, (type(o).__name__, name)
    # the same teacher: the signed weights of Teacher(config, 3), on both sides
    np.testing.assert_array_equal(sim.lam, hm.Teacher(cfg, 3).lam)
    np.testing.assert_allclose(pred.lam, sim.lam, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(sim.ns), np.asarray(pred.ns))
    # q_h is the mean cos^2 and recovered counts cos^2 > 1/2, in both
    for o in (sim, pred):
        np.testing.assert_allclose(o.qh, np.mean(o.cos2, axis=1), rtol=1e-12)
        np.testing.assert_array_equal(o.recovered, np.sum(np.asarray(o.cos2) > 0.5, axis=1))


def test_the_overlay_agrees_where_the_theory_is_derived(pair):
    """GE input, d = 14: the prediction's q_h within 0.12 of one seed's simulation (the finite-D fluctuation of
    one teacher's q_h at these n is ~0.05), and its NMSE = MSE / Var(y) of its own label law."""
    _, _, sim, pred = pair
    assert np.max(np.abs(sim.qh - pred.qh)) < 0.12, (sim.qh, pred.qh)
    assert np.all(np.isfinite(pred.nmse)) and pred.var_y > 0
    np.testing.assert_allclose(pred.nmse, pred.mse / pred.var_y)
    np.testing.assert_allclose(sim.nmse, [r.nmse for r in sim.runs])
    # the simulated NMSE's denominator is the same quantity: Var(y) of the test labels vs the law's
    assert sim.runs[0].var_y == pytest.approx(pred.var_y, rel=0.1)


def test_seed_means_carry_the_label_variance():
    cfg = hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    mean = predict_seeds(cfg, [2000], [0, 1], n_mc=20_000)
    per = [predict(cfg, [2000], seed=s, n_mc=20_000).var_y for s in (0, 1)]
    assert mean.var_y == pytest.approx(np.mean(per), rel=1e-12)
