"""`hmodel bench --quick`: a smoke test that the suite runs and produces its table and JSON (not a timed test)."""

import json
import math

from sims.cli import main

SECTIONS = {"peak", "accumulation", "sweep", "numpy", "reference", "eigsh", "matrix_free", "summary", "machine"}


def _positive_finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_bench_quick_prints_the_table_and_writes_the_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--out", str(out)]) == 0
    table = capsys.readouterr().out
    for label in ("GEMM peak", "dense accumulation", "nested dense sweep", "subspace iteration", "numpy.linalg.eigh",
                  "scipy eigsh", "matrix-free", "q_h per alpha", "per-checkpoint overhead", "per-checkpoint layer2"):
        assert label in table
    r = json.loads(out.read_text())
    assert SECTIONS <= set(r)
    assert _positive_finite(r["peak"]["gflops"])
    assert all(_positive_finite(a["gflops_effective"]) and _positive_finite(a["eigen_seconds"])
               and _positive_finite(a["assemble_seconds"]) and (_positive_finite(a["eigen_full_seconds"]) or a["D"] > 2000)
               for a in r["accumulation"])
    for key in ("sweep", "numpy", "reference", "eigsh"):
        assert _positive_finite(r[key]["seconds"])
    mf = r["matrix_free"]
    assert _positive_finite(mf["seconds_per_pass"]) and _positive_finite(mf["peak"]) and mf["passes"] >= 1
    # the ground truth and our float32 sweep see the same samples: q_h agrees to float32 rounding
    n_sizes = len(r["sweep"]["ns"])
    assert len(r["numpy"]["qh"]) == len(r["reference"]["qh"]) == n_sizes
    assert r["summary"]["max_abs_dqh"]["sweep"] < 1e-3
    assert set(r["summary"]["met"]) >= {"b_accumulation", "c_sweep_seconds", "c_vs_d", "f_memory"}


def test_bench_refuses_a_bad_out_path(tmp_path, capsys):
    assert main(["bench", "--quick", "--out", str(tmp_path / "bench.txt")]) == 2
    assert "--out=" in capsys.readouterr().err
    assert not (tmp_path / "bench.txt").exists()
