"""`hmodel bench --quick`: a smoke test that the suite runs and produces its table and JSON (not a timed test)."""

import json
import math

import pytest

from sims.bench_report import summarize
from sims.cli import main

SECTIONS = {"peak", "accumulation", "sweep", "numpy", "reference", "eigsh", "matrix_free", "summary", "machine"}


def _positive_finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


@pytest.mark.slow
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
    # the peak is measured at the package's matmul precision, float32 products: error ~ sqrt(N) float32 ulps of the
    # largest entry (TF32 or bfloat16 operands would give ~1e-3); the backend default is measured beside it
    N = r["peak"]["N"]
    assert r["peak"]["precision"] == "highest" and r["peak"]["error"] < 16 * math.sqrt(N) * 2.0**-24
    assert _positive_finite(r["peak"]["backend_default"]["gflops"]) and "backend's default precision" in table
    assert all(_positive_finite(a["gflops_effective"]) and _positive_finite(a["eigen_seconds"])
               and _positive_finite(a["assemble_seconds"]) and (_positive_finite(a["eigen_full_seconds"]) or a["D"] > 2000)
               for a in r["accumulation"])
    for a in r["accumulation"]:  # q = 2: the flops it must do are the C(d + 3, 4) distinct fourth moments
        D = a["d"] * (a["d"] + 1) // 2
        assert a["gflops_required"] / a["gflops_effective"] == pytest.approx(math.comb(a["d"] + 3, 4) / D**2, rel=1e-12)
        assert a["gflops_required"] < a["gflops_executed"] < a["gflops_effective"]
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


def test_summary_completes_a_partial_run_from_its_own_cost_model():
    """A run stopped after two of three sizes: numpy (nested) adds the mean eigh time per size left and the
    accumulation of the samples left at its measured cost per sample; the reference (each size from scratch) adds
    t(n_last) n / n_last per size left; numpy from scratch re-accumulates every size."""
    r = {"peak": {"gflops": 100.0}, "accumulation": [{"D": 2000, "gflops_effective": 60.0}, {"D": 500, "gflops_effective": 5.0}],
         "sweep": {"ns": [100, 200, 400], "seconds": 10.0, "qh": [0.1, 0.2, 0.3]},
         "numpy_partial": {"qh": [0.1, 0.2], "seconds": 6.0, "seconds_eigh": 2.0},
         "reference_partial": {"qh": [0.1, 0.25], "seconds": 8.0, "seconds_per_n": [2.0, 4.0]},
         "matrix_free": {"ratio": 1.5}}
    s = summarize(r)
    # numpy: 6 s + (2 s / 2 sizes) x 1 size left + (6 - 2) s / 200 samples x 200 samples left
    assert s["numpy_seconds"] == pytest.approx(11.0) and s["numpy_extrapolated"]
    assert s["speedup_vs_numpy"] == pytest.approx(1.1)
    assert s["numpy_scratch_seconds"] == pytest.approx(1.0 * 3 + 0.02 * 700)  # eigh per size + every size from scratch
    assert s["reference_seconds"] == pytest.approx(8.0 + 4.0 / 200 * 400) and s["reference_extrapolated"]
    # accuracy against the float64 truth on the sizes it has: ours exact, the reference 0.05 off at n = 200
    assert s["max_abs_dqh"]["sweep"] == 0.0 and s["max_abs_dqh"]["reference"] == pytest.approx(0.05)
    assert math.isnan(s["max_abs_dqh"]["eigsh"]) and "eigsh_seconds" not in s
    assert s["accumulation_fraction"] == {2000: pytest.approx(0.6), 500: pytest.approx(0.05)}
    assert s["met"] == {"b_accumulation": True,  # only D >= 1000 counts: 0.6 >= 0.5
                        "c_sweep_seconds": True, "c_accuracy": True, "c_vs_d": False, "c_vs_e_numpy": False,
                        "c_vs_e_eigsh": False, "f_memory": True}
    r["reference"] = {"qh": [0.1, 0.2, 0.3], "seconds": 50.0, "seconds_per_n": [2.0, 4.0, 44.0]}  # finished: measured
    s = summarize(r)
    assert s["reference_seconds"] == 50.0 and not s["reference_extrapolated"] and s["met"]["c_vs_d"]
