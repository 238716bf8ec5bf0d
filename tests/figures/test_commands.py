"""Every figure command on a tiny hand-written results folder (the results table contract): PNG and PDF
written and non-empty; bad input refused with exit status 2 and nothing written."""

import numpy as np
import pandas as pd
import pytest

from figures.make import FigureOptions, figure_names, make_figure
from sims.cli import main as hmodel
from sims.store import row_key

D, D1 = 21, 2  # d = 6, q = 2


def _rows(d, gamma, g, input_model, seeds, ns, rng, estimator="paper"):
    rows, spectra = [], {}
    h = f"{d}{gamma}{g}{input_model}{estimator}".replace(".", "")[:16]
    lam = [0.8, -0.6]
    for seed in seeds:
        for k, n in enumerate(ns):
            t = k / (len(ns) - 1)  # a smooth made-up transition
            cos2 = [min(1.0, 1.2 * t + 0.05 * rng.random()), min(1.0, max(0.0, 1.5 * t - 0.4))]
            D_ = (d * (d + 1)) // 2
            eigs = np.sort(rng.normal(0, 0.3, D_))
            eigs[:2] = [-2.0 * t - 0.5, 1.5 * t + 0.4]
            rows.append({"n": n, "d": d, "q": 2, "D": D_, "d1": D1, "gamma": gamma, "g": g, "seed": seed,
                         "input_model": input_model, "engine": "dense", "eps": 0.5, "qh": float(np.mean(cos2)),
                         "cos2": cos2, "ang_err": [1 - np.sqrt(c) for c in cos2], "lam": lam,
                         "top_eigs": list(eigs[:2]), "eig_tags": [1, 2], "eig_overlaps": cos2,
                         "recovered": int(sum(c > 0.5 for c in cos2)), "mse": 1.0 - 0.9 * t + 0.01,
                         "nmse": 1.0 - 0.9 * t + 0.01, "var_y": 1.0, "ridge": 1e-3, "n_test": 100, "passes": 1,
                         "seconds": 0.1, "time_layer1": 0.1, "time_layer2_readout": 0.0, "time_test": 0.0,
                         "config_hash": h, "alpha": np.log(n) / np.log(d), "version": "0.1.0", "sigma": 0.0,
                         "a_kind": "orthonormal", "label_transform": "identity", "nested": True,
                         "estimator": estimator, "principal_cos2": sorted(cos2, reverse=True)})
            spectra[row_key(h, seed, n)] = eigs
    return rows, spectra


def _write(folder, rows, spectra):
    (folder / "spectra").mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "runs.parquet")
    for key, eigs in spectra.items():
        np.savez(folder / "spectra" / f"{key}.npz", spectrum=eigs, top_eigs=eigs[:2], eig_tags=np.array([1, 2]))


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(0)
    ns = [20, 60, 200, 600, 2000]
    sweeps = {"main": [(6, 0.4, "id", "hermite")], "ge": [(6, 0.4, "id", "gaussian_equivalent")],
              "gammas": [(6, 0.0, "id", "hermite"), (6, 1.0, "id", "hermite")], "tanh": [(6, 0.4, "tanh", "hermite")],
              "collapse": [(8, 0.4, "id", "hermite")], "chaos": [(6, 0.4, "id", "hermite", "chaos")],
              "quad": [(6, 0.4, "quad", "hermite")], "gamma1": [(6, 1.0, "id", "hermite"), (8, 1.0, "id", "hermite")]}
    for name, configs in sweeps.items():
        rows, spectra = [], {}
        for cfg in configs:
            r, s = _rows(*cfg[:4], seeds=[0, 1], ns=ns, rng=rng, estimator=(cfg[4:] or ("paper",))[0])
            rows += r
            spectra.update(s)
        _write(root / name, rows, spectra)
    recs = [{"method": m, "n": n, "d": 6, "q": 2, "gamma": 0.4, "g": "id", "eps": 0.5, "d1": 2, "seed": s,
             "n_test": 100, "mse": v, "nmse": v, "var_y": 1.0, "ridge": 0.1, "seconds": 0.0, "skipped": ""}
            for s in (0, 1) for m, scale in (("hierarchical", 1.0), ("kernel", 3.0), ("hermite_ridge", 2.0))
            for n, v in zip((50, 100, 200), (scale / 3, scale / 6, scale / 12))]
    (root / "baselines").mkdir()
    pd.DataFrame(recs).to_parquet(root / "baselines" / "baselines-d6-s0.parquet")
    return root


@pytest.mark.parametrize("name", figure_names())
def test_every_figure_command_writes_png_and_pdf(results, tmp_path, name):
    assert hmodel(["figure", name, "--results", str(results), "--out", str(tmp_path), "--no-theory"]) == 0
    pngs = list(tmp_path.glob(f"{name}*.png"))
    assert pngs, f"no PNG for {name}"
    for p in pngs + list(tmp_path.glob(f"{name}*.pdf")):
        assert p.stat().st_size > 1000
    assert len(list(tmp_path.glob(f"{name}*.pdf"))) == len(pngs)


def test_fig2_draws_spectra_of_both_input_models(results, tmp_path):
    paths = make_figure("fig2", results, tmp_path, FigureOptions(theory=False))
    assert {p.name for p in paths} == {"fig2.png", "fig2.pdf", "fig2_spectra.png", "fig2_spectra.pdf"}


def test_fig4_draws_each_estimator_and_collapse_each_input_model(results, tmp_path):
    paths = make_figure("fig4", results, tmp_path, FigureOptions(theory=False))
    # as many rows of the paper's C in both input models: the Gaussian-equivalent model's first
    assert {p.name for p in paths if p.suffix == ".png"} == {"fig4.png", "fig4_hermite.png", "fig4_hermite_chaos.png"}
    paths = make_figure("collapse", results, tmp_path, FigureOptions(theory=False))
    assert {p.name for p in paths if p.suffix == ".png"} == {"collapse.png", "collapse_hermite.png"}


def test_figure_with_theory_overlay(results, tmp_path):
    # a real (small) finite-size prediction on the d = 6 configuration, cached under the results folder
    paths = make_figure("fig5", results, tmp_path, FigureOptions(theory=True, n_mc=5000, theory_points=3))
    assert paths[0].stat().st_size > 1000
    assert list((results / "theory_cache").glob("predict-*.npz"))


def test_bad_input_is_refused_with_status_2_and_nothing_written(results, tmp_path, capsys):
    out = tmp_path / "figs"
    assert hmodel(["figure", "fig7", "--results", str(results), "--out", str(out)]) == 2
    assert "figure='fig7'" in capsys.readouterr().err
    assert hmodel(["figure", "fig2", "--results", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert hmodel(["figure", "fig2", "--results", str(results), "--out", str(out), "--theory-mc", "5"]) == 2
    assert hmodel(["reproduce", "--scale", "huge", "--out", str(out)]) == 2
    assert not out.exists()


def test_figure_without_its_rows_is_reported_not_drawn(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert hmodel(["figure", "fig3", "--results", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert not list(tmp_path.glob("o/*.png"))
