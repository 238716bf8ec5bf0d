"""`hmodel theory`: one JSON object with the finite-size prediction, a readable report, and one-line refusals."""

import json

import numpy as np
import pytest

import hierarchical_model as hm
from sims.cli import main

SMALL = ["theory", "--d", "12", "--gamma", "0.4", "--g", "tanh", "--n-mc", "20000", "--input-model", "gaussian_equivalent"]


def test_json_output_has_the_prediction_fields(capsys):
    assert main(SMALL + ["--n", "2000", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    d1 = out["config"]["d1"]
    assert d1 == 3 and out["n"] == 2000
    for key in ("cos2_pred", "outliers_pred", "lam"):
        assert len(out[key]) == d1
    assert set(out["thresholds"]) == {"asymptotic", "finite_size"} and len(out["thresholds"]["finite_size"]) == d1
    assert set(out["m_n"]) == {"asymptotic", "finite_size"}
    left, right = out["bulk_edges"]
    assert left < 0 < right
    # the JSON carries the library's prediction for the same teacher and Monte Carlo seed, not a re-derivation
    import hierarchical_model as hm
    from theory import predict

    cfg = hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model="gaussian_equivalent")
    pred = predict(cfg, [2000], seed=0, n_mc=20000, mc_seed=0)
    assert out["mse_pred"] == pytest.approx(float(pred.mse_pred[0]), rel=1e-12)
    assert out["qh_pred"] == pytest.approx(float(pred.qh[0]), rel=1e-12)
    # the finite-size count agrees with the predicted cos^2 at this n (both use cos^2 > 1/2)
    assert out["m_n"]["finite_size"] == sum(c > 0.5 for c in out["cos2_pred"])


def test_seed_selects_the_teachers_signed_lambdas_and_the_report_is_readable(capsys):
    import hierarchical_model as hm

    assert main(SMALL + ["--alpha", "3", "--seed", "2"]) == 0
    text = capsys.readouterr().out
    lam = hm.Teacher(hm.TeacherConfig(d=12, gamma=0.4, g="tanh", input_model="gaussian_equivalent"), 2).lam
    assert "n=1728" in text and f"{lam[0]:+.3f}" in text and "bulk of C" in text


def test_explicit_lam_and_the_chaos_estimator_of_the_hermite_model(capsys):
    """--lam predicts for a teacher drawn elsewhere (its weights in teacher order); the law is the input
    model's and the estimator's, and says so."""
    argv = ["theory", "--d", "12", "--gamma", "0.4", "--g", "tanh", "--n-mc", "20000", "--n", "3000",
            "--estimator", "chaos", "--lam", "0.7,-0.55,0.45", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["lam"] == [0.7, -0.55, 0.45] and out["lam_source"] == "--lam" and out["estimator"] == "chaos"
    assert out["theory_model"].startswith("hermite radial W-law") and len(out["cos2_pred"]) == 3


@pytest.mark.parametrize("rule", ["measure", "extremes", "extremes+anisotropic"])
def test_selection_option_is_theory_predicts_rule(capsys, rule):
    """--selection measure / extremes (Hermite model) prints the prediction of theory.predict(selection=rule) for
    the same teacher and law, and says which rule it used."""
    import theory

    argv = ["theory", "--d", "12", "--gamma", "0.4", "--g", "id", "--n-mc", "20000", "--n", "3000", "--seed", "1",
            "--selection", rule, "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    cfg = hm.TeacherConfig(d=12, gamma=0.4, g="id")
    pred = theory.predict(cfg, [3000], seed=1, n_mc=20000, mc_seed=1, selection=rule)
    assert out["selection"] == rule
    np.testing.assert_allclose(out["cos2_pred"], pred.cos2[0], atol=1e-12)


@pytest.mark.parametrize("bad, name", [(["--gamma", "-1"], "gamma"), (["--n", "0"], "n"), (["--g", "cosh"], "g"),
                                       (["--n-mc", "10"], "n_mc"), (["--d", "1"], "d"), (["--lam", "0.5,0.5"], "lam"),
                                       (["--lam", "a,b,c"], "lam"), (["--estimator", "chaos"], "estimator"),
                                       (["--estimator", "both"], "estimator"), (["--law-draws", "0"], "law_draws"),
                                       (["--selection", "best"], "selection"), (["--selection", "measure"], "selection"),
                                       (["--selection", "extremes"], "selection"),
                                       (["--selection", "extremes+anisotropic"], "selection")])
def test_bad_input_exits_2_with_one_line(capsys, bad, name):
    assert main(SMALL + bad + ["--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and cap.err.count("\n") == 1 and name in cap.err
