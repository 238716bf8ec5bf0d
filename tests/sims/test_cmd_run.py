"""`hmodel run`: the report, the JSON object, and one-line refusals with exit status 2."""

import json
import subprocess
import sys

import pytest

from sims.cli import main

JSON_KEYS = {"n", "d", "q", "D", "d1", "gamma", "g", "seed", "qh", "cos2", "lam", "top_eigs", "recovered",
             "mse", "nmse", "seconds"}


def test_run_json_is_one_object_with_the_promised_keys(capsys):
    assert main(["run", "--d", "12", "--n", "1500", "--seed", "1", "--n-test", "500", "--json"]) == 0
    out = capsys.readouterr().out
    obj = json.loads(out)  # exactly one JSON object: json.loads refuses trailing data
    assert JSON_KEYS <= set(obj)
    assert (obj["n"], obj["d"], obj["D"], obj["d1"], obj["seed"]) == (1500, 12, 78, 3, 1)
    assert len(obj["cos2"]) == len(obj["lam"]) == len(obj["top_eigs"]) == 3
    # orthonormal A (the default): the teacher directions are an orthonormal basis of span(A^T), so
    # q_h = ||Q^T Q_hat||_F^2 / d1 is the mean of the per-direction cos^2 (MODEL.md section 3)
    assert obj["qh"] == pytest.approx(sum(obj["cos2"]) / 3, rel=1e-6, abs=1e-9)
    assert obj["recovered"] == sum(c > 0.5 for c in obj["cos2"]) and obj["seconds"] > 0


def test_run_alpha_and_report(capsys):
    assert main(["run", "--d", "12", "--alpha", "2.5", "--n-test", "500", "--engine", "matrix_free"]) == 0
    out = capsys.readouterr().out
    assert "n=499 " in out and "engine=matrix_free" in out and "q_h=" in out


@pytest.mark.parametrize("argv,start", [
    (["--d", "1"], "d=1"),
    (["--q", "5"], "q=5"),
    (["--gamma", "-1"], "gamma=-1.0"),
    (["--d", "4", "--eps", "2"], "eps=2.0 gives d1"),
    (["--n", "2"], "n=2"),
    (["--n-test", "0"], "n_test=0"),
    (["--g", "sin2"], "g='sin2'"),
    (["--engine", "gpu"], "engine='gpu'"),
    (["--input-model", "pixels"], "input_model='pixels'"),
    (["--alpha", "-1"], "alpha=-1.0"),
    (["--n", "ten"], "argument --n: invalid int value: 'ten'"),
    (["--n", "100", "--alpha", "2"], "argument --alpha: not allowed with argument --n"),
])
def test_run_refuses_bad_input_in_one_line(capsys, argv, start):
    assert main(["run", *argv, "--json"]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hmodel: error: {start}")


def test_console_script_exit_status():
    proc = subprocess.run([sys.executable, "-m", "sims.cli", "run", "--gamma", "-2"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == "hmodel: error: gamma=-2.0 is out of range: must be a finite number >= 0.0"


def test_compilation_cache_folder_and_off_switch(tmp_path, monkeypatch):
    from sims.cli import enable_compilation_cache

    monkeypatch.setenv("HMODEL_JAX_CACHE", "")
    assert enable_compilation_cache() is None
    monkeypatch.setenv("HMODEL_JAX_CACHE", str(tmp_path / "f"))
    (tmp_path / "f").write_text("a file, not a folder")
    assert enable_compilation_cache() is None  # unwritable: off, no error


def test_krylov_tol_trades_passes_for_a_small_q_h_change(capsys):
    """--krylov-tol reaches the matrix-free engine: at 1e-2 it takes fewer passes than the default 1e-4, with q_h
    within 1e-3 (the residual bound gives |sin| <= tol / gap; measured at d = 48 and 80: |dq_h| <= 2.4e-4)."""
    runs = {}
    for tol in (None, "0.01"):
        argv = ["run", "--d", "16", "--n", "4000", "--n-test", "500", "--engine", "matrix_free", "--json"]
        assert main(argv + ([] if tol is None else ["--krylov-tol", tol])) == 0
        runs[tol] = json.loads(capsys.readouterr().out)
    assert runs["0.01"]["passes"] < runs[None]["passes"]
    assert runs["0.01"]["qh"] == pytest.approx(runs[None]["qh"], abs=1e-3)
