"""End-to-end sweeps: nested and independent grids, resumption after SIGKILL, and equal rows on every backend."""

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sims.backends import DaskBackend, worker_cores
from sims.cli import main
from sims.store import ResultsStore, load_results, load_spectrum
from sims.sweep import run_sweep

GRID = {"d": 12, "alphas": "1.5:2.5:0.5", "seeds": "0-1", "n_test": 1000, "spectra": "2.0"}  # n = 42, 144, 499; D = 78, d1 = 3
NS = (42, 144, 499)
CONTRACT = ("n d q D d1 gamma g seed input_model engine eps qh cos2 ang_err lam top_eigs eig_tags eig_overlaps "
            "recovered mse nmse var_y ridge n_test passes seconds time_layer1 time_layer2_readout time_test "
            "config_hash alpha version sigma a_kind label_transform nested").split()
METRICS = ("qh", "cos2", "ang_err", "top_eigs", "eig_tags", "eig_overlaps", "recovered", "mse", "nmse", "var_y", "ridge")


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps") / "nested"
    summary = run_sweep(GRID, out, progress=False)
    assert (summary.rows_total, summary.rows_before, summary.rows_computed) == (6, 0, 6)
    return out


def _sorted(df):
    return df.sort_values(["seed", "n"]).reset_index(drop=True)


def assert_same_rows(a, b, rtol=1e-10):
    """Equal metrics row by row; floats to ``rtol`` (float64 round-off differs with the thread count)."""
    a, b = _sorted(a), _sorted(b)
    assert list(a["seed"]) == list(b["seed"]) and list(a["n"]) == list(b["n"])
    for col in METRICS:
        x, y = (np.concatenate(df[col].map(np.atleast_1d).tolist()) for df in (a, b))
        if x.dtype.kind in "iu":
            assert np.array_equal(x, y), col
        else:
            np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-12, err_msg=col)


def test_nested_sweep_rows_follow_the_contract(nested):
    df = load_results(nested)
    assert set(CONTRACT) <= set(df.columns) and "spectrum" not in df.columns
    assert len(df) == 6 and not df.duplicated(["config_hash", "seed", "n"]).any()
    assert df["config_hash"].nunique() == 1 and df["nested"].all() and set(df["engine"]) == {"dense"}
    assert sorted(set(df["n"])) == list(NS) and sorted(set(df["seed"])) == [0, 1]
    np.testing.assert_allclose(df["alpha"], np.log(df["n"]) / math.log(12))
    assert all(len(v) == 3 for v in df["cos2"])
    # orthonormal A: q_h is the mean per-direction cos^2 (MODEL.md section 3), recovered counts cos^2 > 1/2
    np.testing.assert_allclose(df["qh"], [np.mean(v) for v in df["cos2"]], rtol=1e-6, atol=1e-9)
    assert list(df["recovered"]) == [int(np.sum(np.asarray(v) > 0.5)) for v in df["cos2"]]
    for _, row in df.iterrows():  # spectra="2.0": the whole spectrum at n = 12^2 = 144 only, top_eigs everywhere
        z = load_spectrum(nested, row["config_hash"], row["seed"], row["n"])
        assert np.allclose(z["top_eigs"], row["top_eigs"])
        assert ("spectrum" in z) == (row["n"] == 144)
        if row["n"] == 144:
            assert z["spectrum"].shape == (78,)
            # the top eigenvalues by magnitude are the extreme ones of the whole spectrum
            assert np.isclose(np.max(np.abs(z["spectrum"])), np.max(np.abs(row["top_eigs"])))


def test_nested_points_equal_independent_fits_of_their_size(nested, tmp_path):
    """A nested point is a valid sample of its size: with the dense engine and T = identity it is the very
    fit of an independent run on the first n samples of the same seed."""
    summary = run_sweep({**GRID, "alphas": "2.0:2.5:0.5", "seeds": "1", "independent": True}, tmp_path / "ind",
                        progress=False)
    assert summary.rows_computed == 2
    ind, nest = load_results(tmp_path / "ind"), load_results(nested)
    assert not ind["nested"].any() and ind["config_hash"].nunique() == 1
    assert ind["config_hash"][0] != nest["config_hash"][0]
    assert_same_rows(nest[(nest.seed == 1) & (nest.n > 42)], ind)
    # seeds are independent: different teachers and data
    nest = _sorted(nest)
    assert not np.allclose(nest["lam"][0], nest["lam"][3]) and not np.isclose(nest["mse"][2], nest["mse"][5])


@pytest.mark.slow
def test_sigkill_half_way_then_rerun_loses_and_repeats_nothing(nested, tmp_path, capsys):
    out = tmp_path / "killed"
    argv = ["sweep", "--d", "12", "--alphas", "1.5:2.5:0.5", "--seeds", "0-1", "--n-test", "1000", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "sims.cli", *argv, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "parts").is_dir() and any(p.suffix == ".json" for p in (out / "parts").iterdir()):
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = len(ResultsStore(out).done_keys())
    assert 1 <= kept < 6, "the kill must land half-way"
    assert main(["status", str(out)]) == 0
    assert f"{kept}/6 rows done, {6 - kept} missing" in capsys.readouterr().out

    assert main([*argv, "--quiet"]) == 0
    assert f"6/6 rows ({6 - kept} computed now, {kept} already there)" in capsys.readouterr().out
    df = load_results(out)
    assert len(df) == 6 and not df.duplicated(["config_hash", "seed", "n"]).any()
    assert list((out / "parts").iterdir()) == [] and len(list((out / "spectra").iterdir())) == 6
    assert_same_rows(df, load_results(nested))  # resumed rows are those of an uninterrupted sweep
    assert main([*argv, "--quiet"]) == 0  # a third run computes nothing
    assert "(0 computed now, 6 already there)" in capsys.readouterr().out


def test_worker_cores_are_disjoint_blocks():
    assert worker_cores(2, [0, 1]) == [(0,), (1,)]
    assert worker_cores(2, range(8)) == [(0, 1, 2, 3), (4, 5, 6, 7)]
    assert worker_cores(3, [0, 1]) == [(0,), (1,), (0,)]


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_rows(nested, tmp_path):
    summary = run_sweep(GRID, tmp_path / "dask", DaskBackend(n_workers=1), progress=False)
    assert summary.rows_computed == 6
    df = load_results(tmp_path / "dask")
    assert len(df) == 6 and list(df["config_hash"].unique()) == list(load_results(nested)["config_hash"].unique())
    assert_same_rows(df, load_results(nested))
