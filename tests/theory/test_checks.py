"""Theorem checks and empirical thresholds (theory/checks.py, theory/thresholds.py) on tables whose answer is
known by construction, and once on a real (small) sweep."""

import json
import math

import numpy as np
import pandas as pd
import pytest

import hierarchical_model as hm
from theory import asymptotics, checks, crossing, thresholds

D20 = hm.TeacherConfig(d=20, q=2, d1=4, gamma=0.4, g="tanh").D


def synthetic_table(gamma=0.8, d1=4, seeds=(0, 1, 2, 3, 4), ns=None, ang_exponent=1.0, count_gamma=None,
                    mse_exponent=None, n0=1000.0, noise=0.05, rng_seed=0):
    """One configuration (d = 20, q = 2, tanh) with known laws: thresholds n_k = n0 k^(2 count_gamma) times a
    seed jitter; above threshold 1 - cos = 0.29 (n_k / n)^ang_exponent; below, cos^2 ~ 0.01; recovered =
    #{cos^2 > 1/2}; MSE = (n / n0)^mse_exponent for gamma > 1/2, NMSE = 1 - 0.1 (n / n0)^mse_exponent
    otherwise, each with multiplicative noise."""
    rng = np.random.default_rng(rng_seed)
    count_gamma = gamma if count_gamma is None else count_gamma
    if mse_exponent is None:
        mse_exponent = -1 + 1 / (2 * gamma) if gamma > 0.5 else 1 / (2 * gamma) - 1
    ns = np.geomspace(n0 / 4, n0 * d1 ** (2 * count_gamma) * 32, 24).round() if ns is None else np.asarray(ns)
    lam = hm.spike_weights(d1, gamma)
    rows = []
    for s in seeds:
        n_k = n0 * np.arange(1, d1 + 1) ** (2 * count_gamma) * np.exp(0.1 * rng.standard_normal(d1))
        for n in ns:
            jitter = np.exp(noise * rng.standard_normal(d1))
            above = n >= n_k
            ang = np.where(above, 0.29 * (n_k / n) ** ang_exponent * jitter, 1 - np.sqrt(0.01 * jitter))
            cos2 = np.where(above, (1 - ang) ** 2, 0.01 * jitter)
            if gamma > 0.5:
                mse = (n / n0) ** mse_exponent * math.exp(noise * rng.standard_normal())
                nmse = mse
            else:
                nmse = 1 - 0.1 * (n / n0) ** mse_exponent * math.exp(noise * rng.standard_normal())
                mse = nmse
            rows.append({"n": int(n), "seed": s, "d": 20, "q": 2, "D": D20, "d1": d1, "gamma": gamma, "eps": 0.5,
                         "g": "tanh", "input_model": "hermite", "qh": float(np.mean(cos2)), "cos2": list(cos2),
                         "ang_err": list(ang), "lam": list(lam), "recovered": int(np.sum(cos2 > 0.5)), "mse": mse,
                         "nmse": nmse, "alpha": math.log(n) / math.log(20), "config_hash": f"g{gamma}"})
    return pd.DataFrame(rows)


FAST = {"n_boot": 300, "seed": 1}


@pytest.mark.parametrize("exponent, status", [(1.0, "pass"), (0.5, "fail")])
def test_theorem_3_1_slope(exponent, status):
    v = checks.check_theorem_3_1(synthetic_table(ang_exponent=exponent), **FAST)
    assert v.status == status, v.summary
    assert v.fitted["slope"] == pytest.approx(-exponent, abs=0.05)
    lo, hi = v.ci["slope"]
    assert lo <= v.fitted["slope"] <= hi and hi - lo < 0.1
    assert set(v.fitted["slopes"]) == {1, 2, 3, 4}


def test_theorem_3_1_inconclusive_with_one_seed_or_no_points():
    assert checks.check_theorem_3_1(synthetic_table(seeds=(0,)), **FAST).status == "inconclusive"
    short = synthetic_table(ns=[250, 500, 1000])  # nothing 2x beyond any threshold
    assert checks.check_theorem_3_1(short, **FAST).status == "inconclusive"


def test_non_recovery():
    df = synthetic_table()
    true_th = 1000.0 * np.arange(1, 5) ** 1.6
    v = checks.check_non_recovery(df, delta=0.25, thresholds=true_th, **FAST)
    assert v.status == "pass" and v.fitted["cos2_max_below"] < 0.05, v.summary
    # claimed thresholds 30x too large: recovered points fall below n_k d^-delta
    assert checks.check_non_recovery(df, delta=0.25, thresholds=30 * true_th, **FAST).status == "fail"
    # default: the naive thresholds of our normalisation
    v = checks.check_non_recovery(df, **FAST)
    np.testing.assert_allclose(v.fitted["thresholds"], asymptotics.naive_thresholds(hm.TeacherConfig(d=20, d1=4, gamma=0.8)))


@pytest.mark.parametrize("count_gamma, status", [(0.8, "pass"), (0.4, "fail")])
def test_corollary_3_1(count_gamma, status):
    df = synthetic_table(gamma=0.8, d1=12, count_gamma=count_gamma)
    v = checks.check_corollary_3_1(df, **FAST)
    assert v.status == status, v.summary
    assert v.fitted["exponent"] == pytest.approx(1 / (2 * count_gamma), rel=0.15)
    assert len(v.fitted["ratio"]) == df["n"].nunique()
    assert checks.check_corollary_3_1(synthetic_table(gamma=0.0, mse_exponent=0.0), **FAST).status == "inconclusive"


@pytest.mark.parametrize("gamma", [0.8, 0.3])
def test_theorem_3_2(gamma):
    right = -1 + 1 / (2 * gamma) if gamma > 0.5 else 1 / (2 * gamma) - 1
    v = checks.check_theorem_3_2(synthetic_table(gamma=gamma, d1=8), **FAST)
    assert v.status == "pass" and v.fitted["exponent"] == pytest.approx(right, abs=0.03), v.summary
    wrong = checks.check_theorem_3_2(synthetic_table(gamma=gamma, d1=8, mse_exponent=2 * right), **FAST)
    assert wrong.status == "fail", wrong.summary
    assert checks.check_theorem_3_2(synthetic_table(gamma=0.5), **FAST).status == "inconclusive"


def test_judge_exponent_rule():
    ok = {"n_points": 5, "n_seeds": 4}
    assert checks.judge_exponent(-1.1, -1.25, -1.15, -1.0, **ok) == "pass"  # within tau = 0.2 of the CI
    assert checks.judge_exponent(-1.3, -1.35, -1.25, -1.0, **ok) == "fail"
    assert checks.judge_exponent(-0.5, -0.55, -0.45, -1.0, **ok) == "fail"
    assert checks.judge_exponent(-1.0, -1.01, -0.99, -1.0) == "inconclusive"  # no points
    assert checks.judge_exponent(-0.5, -1.2, 0.2, -1.0, n_points=5, n_seeds=4) == "inconclusive"  # CI too wide
    assert checks.judge_exponent(-1.0, -1.01, -0.99, -1.0, n_points=2, n_seeds=4) == "inconclusive"


def test_first_crossing_log_linear():
    ns = np.array([1000.0, 2000.0, 4000.0, 8000.0])
    curves = np.array([[0.1, 0.3, 0.7, 0.9],     # crosses between 2000 and 4000, halfway: 2000 * sqrt(2)
                       [0.6, 0.4, 0.7, 0.9],     # starts above: threshold below the grid
                       [0.1, 0.2, 0.3, 0.4],     # never
                       [0.1, 0.5, 0.2, 0.9]])    # reaches exactly 0.5 at 2000
    out = crossing.first_crossing(ns, curves)
    assert out[0] == pytest.approx(2000 * math.sqrt(2), rel=1e-12)
    assert np.isnan(out[1]) and np.isnan(out[2])
    assert out[3] == pytest.approx(2000.0, rel=1e-12)


def test_empirical_thresholds_on_a_hand_made_table():
    ns = [1000, 2000, 4000, 8000]
    # seed-mean cos2 of direction 1: 0.1, 0.3, 0.7, 0.9 (seeds at +-0.1), direction 2 never recovered
    rows = []
    for s, shift in ((0, -0.1), (1, 0.1)):
        for n, c in zip(ns, (0.1, 0.3, 0.7, 0.9)):
            rows.append({"n": n, "seed": s, "cos2": [c + shift, 0.05]})
    t = thresholds.empirical_thresholds(pd.DataFrame(rows), n_boot=200, seed=0)
    assert t["n_emp"][0] == pytest.approx(2000 * math.sqrt(2))
    assert t["n_emp_lo"][0] <= t["n_emp"][0] <= t["n_emp_hi"][0]
    # the bootstrap replicates are the 3 seed multisets: {0,0} crosses at 2000 * 2^0.75, {1,1} at 2000 * 2^0.25
    assert t["n_emp_lo"][0] == pytest.approx(2000 * 2**0.25) and t["n_emp_hi"][0] == pytest.approx(2000 * 2**0.75)
    assert np.isnan(t["n_emp"][1]) and t["censored"][1] == "above grid" and t["boot_crossed"][1] == 0


def test_threshold_table_predictions(monkeypatch):
    df = synthetic_table()
    cfg = hm.TeacherConfig(d=20, d1=4, gamma=0.8, g="tanh")
    table = thresholds.threshold_table(df, finite_size=False, **FAST)
    np.testing.assert_allclose(table["n_naive"], asymptotics.naive_thresholds(cfg))
    np.testing.assert_allclose(table["ratio_naive"], table["n_emp"] / table["n_naive"])
    assert table["n_finite"].isna().all() and "not requested" in table["note"][0]
    # the finite-size column is the seed mean of the per-seed predictions of the seeds in the table, each with
    # that seed's signed lambda (theory.per_seed.seed_mean_thresholds), for the table's estimator
    import theory.per_seed as ps

    seen = {}

    def fake(config, seeds, lams, estimator="paper"):
        seen.update(config=config, seeds=seeds, lams=lams, estimator=estimator)
        return np.arange(1.0, 5.0) * 1000

    monkeypatch.setattr(ps, "seed_mean_thresholds", fake)
    table = thresholds.threshold_table(df.assign(estimator="chaos"), finite_size=True, **FAST)
    assert seen["config"] == cfg and seen["seeds"] == [0, 1, 2, 3, 4] and seen["estimator"] == "chaos"
    for s, lam in zip(seen["seeds"], seen["lams"]):
        np.testing.assert_array_equal(lam, df[df["seed"] == s]["lam"].iloc[0])
    np.testing.assert_allclose(table["n_finite"], [1000, 2000, 3000, 4000])
    assert "seeds [0, 1, 2, 3, 4]" in table["note"][0]
    monkeypatch.setattr(ps, "seed_mean_thresholds", lambda *a, **k: 1 / 0)
    table = thresholds.threshold_table(df, finite_size=True, **FAST)
    assert table["n_finite"].isna().all() and "ZeroDivisionError" in table["note"][0]


def test_check_results_groups_configs_and_serialises():
    df = pd.concat([synthetic_table(gamma=0.8), synthetic_table(gamma=0.3)], ignore_index=True)
    out = checks.check_results(df, finite_size=False, **FAST)
    assert set(out) == {"g0.8", "g0.3"}
    for item in out.values():
        assert len(item["verdicts"]) == 4 and len(item["thresholds"]) == 4
        json.dumps([v.to_dict() for v in item["verdicts"]])
    with pytest.raises(ValueError, match="2 configurations"):
        checks.check_theorem_3_1(df.drop(columns="config_hash"))
    with pytest.raises(ValueError, match="lacks column"):
        checks.check_theorem_3_2(df.drop(columns="mse"))


def test_end_to_end_on_a_real_sweep():
    """A small real sweep (d = 12, 2 seeds): the checks run and return finite numbers of the right sign."""
    cfg = hm.TeacherConfig(d=12, eps=0.5, gamma=0.8, g="tanh", input_model="gaussian_equivalent")
    ns = [150, 300, 600, 1200, 2400, 4800]
    rows = [dict(r.to_dict(), config_hash="e2e") for s in (0, 1)
            for r in hm.run_path(cfg, ns, s, n_test=500, engine="dense")]
    df = pd.DataFrame(rows)
    out = checks.check_results(df, finite_size=False, **FAST)["e2e"]
    table = out["thresholds"]
    assert np.all(np.isfinite(table["n_naive"])) and np.isfinite(table["n_emp"][0]) and table["ratio_naive"][0] > 0
    by_name = {v.name: v for v in out["verdicts"]}
    slope = by_name["theorem_3_1_slope"]
    assert slope.fitted["slope"] < 0 and all(s < 0 for s in slope.fitted["slopes"].values()), slope.summary
    assert by_name["theorem_3_1_non_recovery"].fitted["cos2_max_below"] < 0.5
    mse = by_name["theorem_3_2_mse"]
    # gamma = 0.8 > 1/2: judged against Theorem 3.2's -1 + 1/(2 gamma) = -0.375, fitted on the window where the
    # seed-mean recovered count lies in [1, d1 - 1], and the verdict is the one its own numbers give
    assert mse.expected["exponent"] == pytest.approx(-1 + 1 / (2 * 0.8))
    rec = df.groupby("n")["recovered"].mean()
    assert mse.fitted["n_window"] == [float(n) for n, m in rec.items() if 1 <= m <= cfg.latent - 1]
    assert mse.status == checks.judge_exponent(mse.fitted["exponent"], *mse.ci["exponent"], mse.expected["exponent"],
                                               0.2, len(mse.fitted["n_window"]), 2)
