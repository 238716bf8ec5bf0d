"""The layer-1 estimator option (HERMITE.md section 2) on the command line, in sweep grids and the results table."""

import json

import pytest

from sims.cli import main
from sims.grid import SweepGrid
from sims.store import load_results
from sims.sweep import run_sweep


def test_run_estimator_chaos_is_reported(capsys):
    assert main(["run", "--d", "8", "--n", "600", "--n-test", "200", "--estimator", "chaos", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["estimator"] == "chaos"
    assert obj["qh"] == pytest.approx(sum(obj["cos2"]) / len(obj["cos2"]), rel=1e-6, abs=1e-9)  # orthonormal A


@pytest.mark.parametrize("argv,start", [
    (["--estimator", "fourth"], "estimator='fourth' is not allowed"),
    (["--estimator", "chaos", "--input-model", "gaussian_equivalent"], "estimator='chaos' is not allowed"),
    (["--estimator", "chaos", "--q", "3", "--d", "6"], "estimator='chaos' is not allowed"),
])
def test_run_refuses_a_bad_estimator_in_one_line(capsys, argv, start):
    assert main(["run", *argv, "--json"]) == 2
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert cap.out == "" and len(lines) == 1 and lines[0].startswith(f"hmodel: error: {start}")


def _hashes(**kw):
    return [c.config_hash for c in SweepGrid.from_mapping({"d": 12, "alphas": "1.5", **kw}).configurations(8.0)]


def test_estimator_is_a_grid_axis_in_the_hash_and_the_default_keeps_old_hashes():
    base = _hashes()
    assert base == ["f1f9d9c48ff1910f"]  # the hash of this grid before the option existed: old folders resume
    assert _hashes(estimator="paper") == base
    both = _hashes(estimator="paper,chaos")
    assert both[0] == base[0] and both[1] != base[0]
    assert "estimator" not in SweepGrid.from_mapping({"d": 12, "alphas": "1.5"}).to_dict()
    assert SweepGrid.from_mapping({"d": 12, "alphas": "1.5", "estimator": "chaos"}).to_dict()["estimator"] == ["chaos"]


@pytest.mark.parametrize("kw", [{"input_model": "gaussian_equivalent"}, {"q": 3}, {"estimator": "fourth"}])
def test_grid_refuses_chaos_without_degree_two_hermite_input(kw):
    grid = {"d": 8, "alphas": "1.5", "estimator": "chaos", **kw}
    with pytest.raises(ValueError, match=r"^estimator="):
        SweepGrid.from_mapping(grid).configurations(8.0)


def test_sweep_rows_carry_the_estimator(tmp_path):
    out = tmp_path / "est"
    run_sweep({"d": 8, "ns": "300,600", "estimator": "paper,chaos", "n_test": 200}, out, progress=False)
    df = load_results(out)
    assert len(df) == 4 and df.groupby("estimator")["config_hash"].nunique().to_dict() == {"chaos": 1, "paper": 1}
    assert set(df["estimator"]) == {"paper", "chaos"}


def test_conventions_axis_keeps_default_hashes_and_rebuilds_its_config():
    from hierarchical_model import TeacherConfig
    from sims.grid import SweepGrid

    base = {"d": 14, "alphas": "2.0", "seeds": "0"}
    default = SweepGrid.from_mapping(base).configurations(memory_gb=1.0)[0]
    explicit = SweepGrid.from_mapping({**base, "conventions": "model"}).configurations(memory_gb=1.0)[0]
    authors = SweepGrid.from_mapping({**base, "conventions": "authors"}).configurations(memory_gb=1.0)[0]
    assert default.config_hash == explicit.config_hash != authors.config_hash
    assert "conventions" not in SweepGrid.from_mapping(base).to_dict()
    cfg = authors.teacher_config()
    assert cfg.conventions == "authors" and cfg.latent == 4  # round(14^0.5)
    assert TeacherConfig.from_row({**cfg.to_dict(), "conventions": float("nan")}).conventions == "model"
    assert TeacherConfig.from_row(cfg.to_dict()).to_dict() == cfg.to_dict()
