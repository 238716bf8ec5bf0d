"""figures.data on hand-made tables: every plotted number has an exact expected value."""

import math

import numpy as np
import pandas as pd
import pytest

from figures import data as fd


def _table():
    # two seeds, d = 10, n in {10, 100, 1000}; qh and mse chosen so means and sems are exact
    rows = []
    for seed, qh, mse in ((0, [0.1, 0.4, 0.9], [1.0, 0.1, 0.01]), (1, [0.3, 0.6, 0.9], [1.0, 0.1, 0.0001])):
        for n, a, b in zip((10, 100, 1000), qh, mse):
            rows.append({"n": n, "d": 10, "q": 2, "gamma": 0.4, "g": "id", "seed": seed, "qh": a, "mse": b,
                         "cos2": [a, a / 2], "lam": [0.8, -0.6], "ang_err": [1 - math.sqrt(a), 1 - math.sqrt(a / 2)],
                         "recovered": int(a > 0.5)})
    return pd.DataFrame(rows)


def test_with_alpha_is_log_n_over_log_d():
    df = fd.with_alpha(_table())
    np.testing.assert_allclose(df["alpha"], [1, 2, 3, 1, 2, 3])


def test_select_floats_with_tolerance_and_lists():
    df = _table()
    assert len(fd.select(df, gamma=0.4 + 1e-12, g="id")) == 6
    assert len(fd.select(df, seed=[1])) == 3
    assert fd.select(df, gamma=0.5).empty
    with pytest.raises(ValueError, match="column 'nope'"):
        fd.select(df, nope=1)


def test_mean_band_is_mean_plus_minus_sem():
    m = fd.mean_band(fd.with_alpha(_table()), "alpha", "qh")
    np.testing.assert_allclose(m["mean"], [0.2, 0.5, 0.9])
    # two seeds: sd = |a - b| / sqrt 2, sem = sd / sqrt 2 = |a - b| / 2
    np.testing.assert_allclose(m["hi"] - m["mean"], [0.1, 0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(m["mean"] - m["lo"], [0.1, 0.1, 0.0], atol=1e-12)
    assert list(m["count"]) == [2, 2, 2]


def test_mean_band_log_is_geometric():
    m = fd.mean_band(_table(), "n", "mse", log=True)
    np.testing.assert_allclose(m["mean"], [1.0, 0.1, 0.001])
    # log10 values -2 and -4: sem of ln is ln(10), band = geometric mean times 10^(+-1)
    np.testing.assert_allclose(m["hi"].iloc[2], 0.01)
    np.testing.assert_allclose(m["lo"].iloc[2], 0.0001)


def test_single_seed_band_has_zero_width():
    m = fd.mean_band(_table().query("seed == 0"), "n", "qh")
    np.testing.assert_allclose(m["lo"], m["mean"])


def test_per_direction_explodes_teacher_order():
    long = fd.per_direction(_table())
    assert len(long) == 12
    first = long.iloc[:2]
    assert list(first["i"]) == [1, 2]
    np.testing.assert_allclose(first["cos2"], [0.1, 0.05])
    np.testing.assert_allclose(first["abs_lam"], [0.8, 0.6])
    np.testing.assert_allclose(first["lam"], [0.8, -0.6])


def test_crossing_interpolates_in_log_x():
    # y goes 0.2 -> 0.8 between x = 10 and x = 1000: level 0.5 is half-way in log x -> 100
    assert fd.crossing([10, 1000], [0.2, 0.8]) == pytest.approx(100.0)
    # unsorted input and the FIRST crossing
    assert fd.crossing([4, 1, 2, 3], [0.9, 0.0, 1.0, 0.0]) == pytest.approx(math.exp(0.5 * math.log(2)))
    assert fd.crossing([10, 1000], [0.2, 0.8], level=0.35) == pytest.approx(10 ** 1.5)


def test_crossing_that_did_not_happen_on_the_grid_is_nan():
    from theory.crossing import first_crossing

    # starts at or above the level: the crossing lies below the grid, its first point is not it
    assert math.isnan(fd.crossing([1, 2, 3], [0.6, 0.7, 0.9]))
    assert math.isnan(fd.crossing([1, 2, 3], [0.5, 0.2, 0.9]))  # even when it dips and comes back
    assert math.isnan(fd.crossing([1, 2, 3], [0.1, 0.2, 0.3]))  # never reaches it
    assert math.isnan(fd.crossing([5], [0.1])) and math.isnan(fd.crossing([5], [0.9]))  # one point: nothing to cross
    # the figures' crossing is the theory's, curve by curve
    ns, curves = [30, 10, 20], np.array([[0.4, 0.1, 0.2], [0.7, 0.6, 0.9], [0.9, 0.2, 0.6]])
    np.testing.assert_array_equal([fd.crossing(ns, c) for c in curves], first_crossing(ns, curves))


def test_counted_thresholds_count_directions_recovered_before_the_grid_from_its_start():
    ns = [300, 100, 1000]
    cos2 = np.array([[0.2, 0.7, 0.1], [0.1, 0.6, 0.1], [0.9, 0.9, 0.2]])  # rows: ns; columns: directions 1..3
    n_i = fd.crossing(ns, cos2[:, 0]), fd.crossing(ns, cos2[:, 1]), fd.crossing(ns, cos2[:, 2])
    assert math.isnan(n_i[1]) and math.isnan(n_i[2])  # direction 2 before the grid, 3 never
    counted = fd.counted_thresholds(ns, cos2, n_i)
    assert counted[0] == n_i[0] and counted[1] == 100.0 and math.isnan(counted[2])
    x, m = fd.staircase_points(counted, 100, 1000)
    assert list(m) == [1, 2, 2]  # direction 2 counts from n = 100, direction 1 at its crossing, 3 never


def test_crossings_per_direction_on_seed_means():
    long = fd.per_direction(_table())
    cr = fd.crossings(long, by=("d", "i"))
    # direction 1: seed-mean cos2 0.2, 0.5, 0.9 -> reaches 1/2 exactly at n = 100
    assert cr.loc[cr["i"] == 1, "n_cross"].item() == pytest.approx(100.0)
    # direction 2: 0.1, 0.25, 0.45: never
    assert math.isnan(cr.loc[cr["i"] == 2, "n_cross"].item())


def test_after_transition_keeps_rows_from_first_recovery():
    long = fd.per_direction(_table())
    after = fd.after_transition(long)
    # seed 0, i=1 reaches 0.9 at n=1000 only; seed 1, i=1 reaches 0.6 at n=100; i=2 never (max 0.45)
    assert sorted(zip(after["seed"], after["n"])) == [(0, 1000), (1, 100), (1, 1000)]
    np.testing.assert_allclose(after["one_minus_cos"], 1 - np.sqrt(after["cos2"]))


def test_collapse_divides_by_the_direction_threshold():
    long = fd.per_direction(_table())
    tbl = fd.collapse_table(long, {(10, 1): 100.0})  # no threshold for i = 2: dropped
    assert set(tbl["i"]) == {1}
    np.testing.assert_allclose(sorted(set(tbl["x"])), [0.1, 1.0, 10.0])


def test_fit_power_law_recovers_exponent():
    x = np.array([1.0, 10.0, 100.0, 1000.0])
    slope, intercept = fd.fit_power_law(x, 3.0 * x ** -0.75)
    assert slope == pytest.approx(-0.75)
    assert intercept == pytest.approx(math.log(3.0))
    assert all(math.isnan(v) for v in fd.fit_power_law([1.0], [1.0]))


def test_predicted_exponent_theorem_3_2():
    assert fd.predicted_exponent(1.0) == pytest.approx(-0.5)
    assert fd.predicted_exponent(0.75) == pytest.approx(-1 / 3)
    assert math.isnan(fd.predicted_exponent(0.4))


def test_scaling_table_fits_after_first_recovery():
    rows = []
    for gamma in (0.4, 1.0):
        for n in (100, 1000, 10000, 100000):  # d^q = 100: x = 1, 10, 100, 1000
            x = n / 100
            # flat at 1 before the first recovery (x < 10), then x^(-1/2) scaled to be continuous
            mse = 1.0 if x < 10 else (x / 10) ** -0.5
            rows.append({"n": n, "d": 10, "q": 2, "gamma": gamma, "seed": 0, "nmse": mse, "recovered": int(x >= 10)})
    tbl = fd.scaling_table(pd.DataFrame(rows))
    g1 = tbl[tbl["gamma"] == 1.0]
    assert g1["fit_from"].iloc[0] == pytest.approx(10.0)
    assert g1["fitted"].iloc[0] == pytest.approx(-0.5)
    assert g1["predicted"].iloc[0] == pytest.approx(-0.5)
    assert math.isnan(tbl[tbl["gamma"] == 0.4]["predicted"].iloc[0])
    # with d1 = 1 every direction is found at x = 10: the window is that single point, too short to fit
    tbl1 = fd.scaling_table(pd.DataFrame(rows).assign(d1=1))
    assert tbl1["fit_to"].iloc[0] == pytest.approx(10.0) and math.isnan(tbl1["fitted"].iloc[0])


def test_nearest_rows_and_spectrum_alphas():
    df = fd.with_alpha(_table())
    rows = fd.nearest_rows(df, [2.9, 1.2])
    assert list(rows["n"]) == [1000, 10] and set(rows["seed"]) == {0}
    qh = fd.mean_band(df, "alpha", "qh")  # means 0.2, 0.5, 0.9 at alpha 1, 2, 3
    np.testing.assert_allclose(fd.spectrum_alphas(qh, level=0.5, before=1.0), [1.0, 2.0, 3.0])


def test_spectrum_outliers_tags_only_aligned_eigenvectors():
    out = fd.spectrum_outliers([-2.0, 1.5], [1, 3], [0.9, 0.2])
    assert out == [(-2.0, 1), (1.5, None)]


def test_main_d_prefers_the_most_rows():
    df = pd.DataFrame({"d": [10, 10, 10, 20, 20]})
    assert fd.main_d(df) == 10
    assert fd.main_d(pd.DataFrame({"d": [10, 20]})) == 20
    with pytest.raises(ValueError):
        fd.main_d(df.iloc[0:0])


def test_baseline_table_drops_refused_sizes():
    recs = pd.DataFrame({"d": [10] * 4, "method": ["kernel", "kernel", "hierarchical", "hierarchical"],
                         "n": [100, 200, 100, 200], "seed": 0, "nmse": [0.5, float("nan"), 0.9, 0.8]})
    tbl = fd.baseline_table(recs)
    assert len(tbl) == 3
    np.testing.assert_allclose(tbl[tbl["method"] == "kernel"]["mean"], [0.5])


def test_theory_grid_and_thresholds_from_curves():
    from figures import theory_curves as th

    assert th.theory_grid(10, 1000, 3) == [10, 100, 1000]
    with pytest.raises(ValueError):
        th.theory_grid(0, 10)
    curves = {"ns": np.array([10, 100, 1000]), "cos2": np.array([[0.0, 0.0], [0.5, 0.2], [0.9, 0.4]])}
    n_i = th.finite_size_thresholds_from(curves)
    assert n_i[0] == pytest.approx(100.0) and math.isnan(n_i[1])
    # Theorem 3.2's power law in x = n / d^q: gamma = 1 -> x^(-1/2)
    np.testing.assert_allclose(th.power_law_mse([4.0, 100.0], 1.0), [0.5, 0.1])


def test_staircase_points_step_exactly_at_the_thresholds():
    x, m = fd.staircase_points([350.0, 100.0, math.nan, 5000.0], 10, 1000)
    np.testing.assert_allclose(x, [10, 100, 350, 1000])  # 5000 is beyond n_hi, NaN is never reached
    assert list(m) == [0, 1, 2, 2]
    x, m = fd.staircase_points([5.0], 10, 100)  # reached before n_lo: counted from the start
    assert list(m) == [1, 1]


def test_fig4_staircase_steps_where_its_thresholds_are_drawn():
    # predicted cos^2 of direction 1 crosses 1/2 half-way in log n between the grid points 100 and 1000 (n = 316),
    # direction 2 between 1000 and 10000 (n = 3162), direction 3 never: a count of cos^2 > 1/2 on the grid would
    # step at 1000 and 10000 instead
    from figures.paper_figs import _fig4_theory

    curves = {"ns": np.array([100, 1000, 10000]), "cos2": np.array([[0.2, 0.8, 0.9], [0.0, 0.2, 0.8], [0.0, 0.1, 0.2]]).T,
              "recovered": np.array([0, 1, 2])}
    d = 10
    thresholds, stairs = _fig4_theory(curves, naive=np.array([50.0, 200.0, 800.0]), d=d, n_lo=100, n_hi=10000)
    for key in ("finite-size theory", "paper's $n_i$ (naive)"):
        alphas = thresholds[key][0]
        (x, m), = [v for k, v in stairs.items() if k.split(" ")[0] == key.split(" ")[0]]
        steps = x[1:][np.diff(m) > 0]  # where the staircase goes up (drawn with where="post")
        drawn = np.sort(d ** alphas[np.isfinite(alphas) & (d ** np.nan_to_num(alphas) > 100)])
        np.testing.assert_allclose(steps, drawn, rtol=1e-9)
    np.testing.assert_allclose(d ** thresholds["finite-size theory"][0][:2], [10**2.5, 10**3.5], rtol=1e-9)
    x, m = stairs["finite-size theory"]
    assert list(m) == [0, 1, 2, 2]


def test_direction_subset_is_the_papers_choice_beyond_eight_directions():
    assert fd.direction_subset(4) == [1, 2, 3, 4]
    assert fd.direction_subset(20) == [1, 3, 5, 8, 12, 15, 18, 20]
    assert fd.direction_subset(13) == [1, 3, 5, 8, 12]


def test_principal_long_sorts_each_rows_cosines():
    df = pd.DataFrame({"n": [10, 100], "d": 10, "seed": 0, "principal_cos2": [[0.1, 0.9], [0.5, 0.7]]})
    long = fd.principal_long(df)
    assert list(long["k"]) == [1, 2, 1, 2]
    np.testing.assert_allclose(long["cos2"], [0.9, 0.1, 0.7, 0.5])
    assert fd.principal_long(df.drop(columns="principal_cos2")).empty


def test_tail_sums_weigh_the_unmatched_part_by_lambda_squared():
    # lambda^2 = (0.64, 0.36); matched overlaps q = (1 - ang_err)^2 = (1, 0.25): tail = 0.64 * 0 + 0.36 * 0.75
    df = pd.DataFrame({"n": [10], "lam": [[0.8, -0.6]], "ang_err": [[0.0, 0.5]], "mse": [0.3]})
    t = fd.tail_sums(df)
    assert t["tail_num"].item() == pytest.approx(0.27)
    assert t["lam2_total"].item() == pytest.approx(1.0)
    tbl = fd.tail_table(pd.concat([df, df.assign(ang_err=[[0.0, 0.0]], mse=[0.03])]).assign(n=10))
    assert tbl["tail"].item() == pytest.approx(0.135)  # the seeds' mean
    assert tbl["mean"].item() == pytest.approx(math.sqrt(0.3 * 0.03))  # geometric mean of the MSE


def test_tail_energy_th_sums_lambda_squared_beyond_m_n():
    lam = [0.8, -0.5, np.sqrt(1 - 0.64 - 0.25)]
    # thresholds 10, 100, never: m_n = 0, 1, 2, 2 at n = 5, 10, 100, 1e6
    out = fd.tail_energy_th([5, 10, 100, 1e6], [10.0, 100.0, math.nan], lam)
    np.testing.assert_allclose(out, [1.0, 0.36, 0.11, 0.11])
