"""`hmodel bench --plan`: the flop counts are those of the programs that run, and the prediction is their arithmetic."""

import json
import math

import jax
import jax.numpy as jnp
import pytest

import hierarchical_model as hm
from sims.bench_plan import PlanGrid, pass_flops, plan
from sims.cli import main


def _xla_flops(fn, *args) -> float:
    cost = jax.jit(fn).lower(*args).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


@pytest.mark.parametrize("d", [8, 12])
def test_pass_flops_are_what_the_compiled_actions_execute(d):
    """XLA's own count of the two actions of C (F V and F^T W, q = 2) and of one regenerated chunk, per sample,
    against `pass_flops`: within 10 % (XLA also counts the small tensor reshuffles); a missing factor of 2 fails."""
    t = hm.Teacher(hm.TeacherConfig(d=d, eps=0.5), 0)
    f, B = pass_flops(d, t.d1), 256
    X = jnp.ones((B, d), jnp.float32)
    actions = (_xla_flops(t.features.dot, X, jnp.ones((t.D, f["k"]), jnp.float32))
               + _xla_flops(t.features.rdot, X, jnp.ones((B, f["k"]), jnp.float32))) / B
    assert actions == pytest.approx(f["actions"], rel=0.1)
    generation = _xla_flops(t.features.dot, X, jnp.ones((t.D, t.d1), jnp.float32)) / B
    assert generation == pytest.approx(f["generation"], rel=0.15)


def test_plan_is_passes_times_samples_times_flops_over_the_rate():
    measured = [{"d": 10, "alpha": a, "n": round(10 ** a), "passes": p, "seconds": 1.0, "converged": True,
                 "flops_per_sample_pass": 1.0} for a, p in ((2.0, 7), (3.0, 5))]
    grid = PlanGrid(d=100, alphas=(2.0, 3.0), seeds=3)
    p = plan(grid, measured, peak_flops=1e12, efficiency=0.5)
    per = pass_flops(100, grid.d1)["total"]
    scale = (5050 / 55) ** (1 / 3)  # passes grow as D^(1/3) from the measured d = 10 (D = 55) to D = 5050
    passes = [math.ceil(7 * scale), math.ceil(5 * scale)]
    assert [r["passes"] for r in p["rows"]] == passes == [32, 23] and p["pass_scale"] == pytest.approx(scale)
    assert p["seconds"] == pytest.approx(3 * (passes[0] * 10**4 + passes[1] * 10**6) * per / 0.5e12, rel=1e-12)
    assert p["dense_alternative"]["flops"] == 2 * math.comb(103, 4) * 10**6 * 3


def test_cli_plan_prints_measured_and_extrapolated_parts(tmp_path, capsys):
    out = tmp_path / "plan.json"
    assert main(["bench", "--plan", "--d", "50", "--alphas", "1.5:2.5:0.5", "--seeds", "2", "--measure-ds", "6,8",
                 "--peak-tflops", "2", "--efficiency", "0.5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "MEASURED at d = 6, 8" in text and "EXTRAPOLATED to d = 50" in text and "PREDICTED" in text
    r = json.loads(out.read_text())
    assert [row["n"] for row in r["rows"]] == [round(50 ** a) for a in (1.5, 2.0, 2.5)]
    assert all(row["passes"] >= 1 for row in r["rows"]) and r["rate"] is None
    assert r["seconds"] == pytest.approx(2 * sum(row["seconds"] for row in r["rows"]))


@pytest.mark.parametrize("argv, name", [(["--d", "1"], "d"), (["--efficiency", "1.5"], "efficiency"),
                                        (["--measure-ds", "6,x"], "measure_ds"), (["--peak-tflops", "-1"], "peak_tflops"),
                                        (["--check-d", "401"], "check_d"), (["--check-alphas", "2:1:0.1"], "alphas"),
                                        (["--krylov-tol", "0"], "krylov_tol")])
def test_cli_plan_refuses_bad_values_in_one_line(argv, name, capsys):
    assert main(["bench", "--plan", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{name}=" in err


def test_cli_plan_checks_its_own_prediction_on_the_check_alphas(tmp_path, capsys):
    """--check-d with --check-alphas: the check runs the grid's engine at that d over those alphas only, and compares
    wall time and passes with the plan's prediction for the same alphas."""
    out = tmp_path / "plan.json"
    assert main(["bench", "--plan", "--d", "50", "--alphas", "1.5:2.5:0.5", "--measure-ds", "6,8", "--rate-d", "8",
                 "--check-d", "10", "--check-alphas", "1.5:2.0:0.5", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "check at d = 10, alphas 1.5:2.0" in text and "Krylov tol 0.0001" in text
    r = json.loads(out.read_text())
    assert [row["n"] for row in r["check_rows"]] == [round(10 ** 1.5), 100]
    assert r["check"]["measured_passes"] == sum(row["passes"] for row in r["check_rows"])
    assert r["check"]["predicted_passes"] >= 2 and r["check"]["alphas"] == [1.5, 2.0]


def test_plan_measures_passes_at_the_given_krylov_tol():
    """measure_passes(tol=...) is the engine at that tol: a looser residual takes no more passes on the same grid."""
    from sims.bench_plan import measure_passes

    strict, loose = (measure_passes([10], (1.5, 2.0, 2.5), tol=tol) for tol in (1e-4, 1e-2))
    assert [r["n"] for r in strict] == [r["n"] for r in loose]
    assert sum(r["passes"] for r in loose) < sum(r["passes"] for r in strict)
