"""Sweep grids: parsing, validation, configuration hashes, and bad input refused with exit 2 and nothing written."""

import pytest

from sims.cli import main
from sims.grid import SweepGrid, grid_from_sources, parse_alphas, parse_seeds
from sims.store import ResultsStore
from sims.sweep import _check_folder, manifest_for, plan_sweep


def test_alpha_range_includes_stop_and_gives_round_d_to_alpha():
    alphas = parse_alphas("1.0:3.5:0.1")
    assert len(alphas) == 26 and alphas[0] == 1.0 and alphas[-1] == 3.5 and alphas[1] == 1.1
    grid = SweepGrid.from_mapping({"d": 60, "alphas": "1.0:3.5:0.1"})
    ns = grid.sizes(60)
    assert ns[0] == 60 and ns[-1] == round(60 ** 3.5) and len(ns) == 26
    assert parse_alphas("2.5,1.0") == (1.0, 2.5) and parse_alphas(2) == (2.0,)
    # at small d, alphas that round to the same n give one sample size
    assert SweepGrid.from_mapping({"d": 4, "alphas": "1.0:1.2:0.1"}).sizes(4) == (4, 5)


def test_seed_lists():
    assert parse_seeds("0-2") == (0, 1, 2)
    assert parse_seeds("0-1,7") == (0, 1, 7)
    assert parse_seeds([3, 4]) == (3, 4)
    for bad in ("", "2-0", "0,0", "a", "-1"):
        with pytest.raises(ValueError, match="seeds"):
            parse_seeds(bad)


@pytest.mark.parametrize("alphas", ["3:1:0.1", "1:3:0", "1:3", "1:x:0.1", "0", ""])
def test_bad_alphas_are_refused(alphas):
    with pytest.raises(ValueError, match="alphas"):
        parse_alphas(alphas)


def test_hash_excludes_seed_and_n_and_includes_the_learner_and_the_mode():
    def hashes(**kw):
        return [c.config_hash for c in SweepGrid.from_mapping({"d": 12, "alphas": "1.5", **kw}).configurations(8.0)]

    base = hashes()
    assert base == hashes(seeds="0-3", alphas="1.5,2.0")
    for change in ({"engine": "matrix_free"}, {"independent": True}, {"label_transform": "clip"}, {"n_test": 500},
                   {"input_model": "gaussian_equivalent"}, {"gamma": 0.8}, {"d": 13}):
        assert hashes(**change) != base, change
    assert len(set(hashes(gamma="0.4,0.8", g="tanh,id"))) == 4


def test_toml_gives_the_same_grid_as_the_command_line(tmp_path):
    f = tmp_path / "sweep.toml"
    f.write_text('d = [12, 16]\ngamma = 0.8\ng = "id"\nalphas = "1.5:2.5:0.5"\nseeds = [0, 1]\nindependent = true\n')
    a = grid_from_sources(f)
    b = grid_from_sources(d="12,16", gamma="0.8", g="id", alphas="1.5:2.5:0.5", seeds="0-1", independent=True)
    assert a == b
    assert grid_from_sources(f, gamma="0.4").gamma == (0.4,)  # the command line wins


def test_memory_guard_refuses_dense_and_auto_falls_back():
    grid = SweepGrid.from_mapping({"d": 40, "alphas": "2", "engine": "auto"})
    need_gb = 3 * 8 * 820**2 / 2**30
    assert grid.configurations(memory_gb=need_gb / 2)[0].learner["engine"] == "matrix_free"
    assert grid.configurations(memory_gb=need_gb * 2)[0].learner["engine"] == "dense"
    with pytest.raises(ValueError, match="engine='dense' needs"):
        SweepGrid.from_mapping({"d": 40, "alphas": "2", "engine": "dense"}).configurations(memory_gb=need_gb / 2)


def test_sizes_below_d1_are_refused():
    with pytest.raises(ValueError, match="below d1"):
        SweepGrid.from_mapping({"d": 16, "ns": "2,100"}).configurations(8.0)


def _refused(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hmodel: error: ") and "\n" not in err
    return err


@pytest.mark.parametrize("extra, word", [
    (["--alphas", "3:1:0.1"], "alphas"),
    (["--alphas", "2", "--seeds", ""], "seeds"),
    (["--alphas", "2", "--d", "12,12"], "d="),
    (["--ns", "100", "--engine", "dense", "--memory-gb", "1e-6"], "engine='dense'"),
    (["--ns", "100", "--g", "sin"], "g="),
    (["--ns", "100", "--workers", "0"], "workers"),
    (["--ns", "100", "--scheduler", "localhost"], "scheduler"),
    ([], "exactly one of alphas"),
])
def test_bad_command_lines_exit_2_and_write_nothing(tmp_path, capsys, extra, word):
    out = tmp_path / "results" / "x"
    err = _refused(capsys, ["sweep", "--d", "12", "--out", str(out), *extra])
    assert word in err
    assert not (tmp_path / "results").exists()


def test_unknown_toml_key_is_refused(tmp_path, capsys):
    f = tmp_path / "sweep.toml"
    f.write_text('d = 12\nalphas = "2"\ngama = 0.5\n')
    err = _refused(capsys, ["sweep", "--config", str(f), "--out", str(tmp_path / "x")])
    assert "unknown key 'gama'" in err and not (tmp_path / "x").exists()


def _snapshot(path):
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_a_folder_of_another_sweep_or_foreign_files_is_refused(tmp_path, capsys):
    out = tmp_path / "r"
    grid, configs = plan_sweep({"d": 12, "alphas": "1.5,2.0", "seeds": "0-1"})
    ResultsStore(out).create(manifest_for(grid, configs))
    before = _snapshot(out)
    err = _refused(capsys, ["sweep", "--d", "12", "--alphas", "1.5,2.5", "--seeds", "0-1", "--out", str(out)])
    assert "another sweep" in err and "alphas" in err
    err = _refused(capsys, ["sweep", "--d", "12", "--alphas", "1.5,2.0", "--seeds", "0-1", "--independent", "--out", str(out)])
    assert "independent" in err
    assert _snapshot(out) == before
    foreign = tmp_path / "f"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert "without sweep.json" in _refused(capsys, ["sweep", "--d", "12", "--ns", "100", "--out", str(foreign)])
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    assert "no sweep.json" in _refused(capsys, ["status", str(foreign)])


def test_status_lists_what_is_missing(tmp_path, capsys):
    out = tmp_path / "r"
    grid, configs = plan_sweep({"d": 12, "alphas": "1.5,2.0", "seeds": "0-1"})
    ResultsStore(out).create(manifest_for(grid, configs))
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "0/4 rows done, 4 missing" in text and "missing seed 1: 2 n in [42, 144]" in text


def test_a_folder_left_by_a_kill_before_sweep_json_is_accepted(tmp_path):
    grid, configs = plan_sweep({"d": 12, "alphas": "1.5", "seeds": "0"})
    store = ResultsStore(tmp_path / "r")
    store.path.mkdir()
    (store.path / ".sweep.lock").touch()
    (store.path / ".abc.tmp").write_bytes(b"{")
    _check_folder(store, manifest_for(grid, configs))  # no error: only our lock and a dead temporary file


def test_spectra_option_parses_and_stays_out_of_the_hash(tmp_path, capsys):
    from sims.grid import SweepGrid, parse_spectra

    assert parse_spectra("none") == "none" and parse_spectra("ALL") == "all"
    assert parse_spectra("2.0:3.0:0.5") == (2.0, 2.5, 3.0) and parse_spectra([3.0, 2.0]) == (2.0, 3.0)
    for bad in ("some", "2.0:1.0:0.1", "-1"):
        with pytest.raises(ValueError, match="spectra="):
            parse_spectra(bad)
    base = {"d": 12, "alphas": "1.5,2.0", "seeds": "0"}
    (c_none,) = plan_sweep(base)[1]
    (c_all,) = plan_sweep({**base, "spectra": "all"})[1]
    (c_two,) = plan_sweep({**base, "spectra": "2.0,3.0"})[1]
    assert c_none.spectrum_ns == () and c_all.spectrum_ns is None and c_two.spectrum_ns == (144, 1728)
    assert c_none.config_hash == c_all.config_hash == c_two.config_hash  # what is stored, not what is computed
    assert "spectra" not in SweepGrid.from_mapping(base).to_dict()  # the default leaves old manifests unchanged
    out = tmp_path / "r"
    grid, configs = plan_sweep(base)
    ResultsStore(out).create(manifest_for(grid, configs))
    _check_folder(ResultsStore(out), manifest_for(*plan_sweep({**base, "spectra": "all"})))  # a rerun may change them
    assert "spectra='x'" in _refused(capsys, ["sweep", "--d", "12", "--ns", "100", "--spectra", "x", "--out", str(tmp_path / "s")])


def test_krylov_tol_reaches_the_matrix_free_learner_and_its_hash_only(tmp_path):
    """krylov_tol: the matrix-free engine's tol in the learner and in config_hash (a changed result); a dense
    configuration ignores it (same hash as without); absent from the recorded grid when unset; refused outside
    (0, 1] in one line; the rows of a sweep record it."""
    import pandas as pd

    base = {"d": 12, "alphas": "2.5", "seeds": "0"}
    (mf,) = plan_sweep({**base, "engine": "matrix_free"})[1]
    (mf_tol,) = plan_sweep({**base, "engine": "matrix_free", "krylov_tol": 0.01})[1]
    (dense,) = plan_sweep({**base, "engine": "dense"})[1]
    (dense_tol,) = plan_sweep({**base, "engine": "dense", "krylov_tol": 0.01})[1]
    assert mf_tol.learner["tol"] == 0.01 and "tol" not in mf.learner and mf_tol.config_hash != mf.config_hash
    assert "tol" not in dense_tol.learner and dense_tol.config_hash == dense.config_hash
    assert "krylov_tol" not in SweepGrid.from_mapping(base).to_dict()
    assert SweepGrid.from_mapping({**base, "krylov_tol": 0.01}).to_dict()["krylov_tol"] == 0.01
    for bad in (0, 2, "x"):
        with pytest.raises(ValueError, match="krylov_tol"):
            SweepGrid.from_mapping({**base, "krylov_tol": bad})
    out = tmp_path / "r"
    assert main(["sweep", "--d", "12", "--alphas", "2.5", "--engine", "matrix_free", "--krylov-tol", "0.01",
                 "--n-test", "500", "--out", str(out), "--quiet"]) == 0
    assert pd.read_parquet(out / "runs.parquet")["krylov_tol"].tolist() == [0.01]
