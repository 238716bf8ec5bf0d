"""`hmodel check RESULTS`: report, JSON, and one-line refusals with exit status 2."""

import json

import pytest

from sims.cli import main
from tests.theory.test_checks import synthetic_table


@pytest.fixture
def results(tmp_path):
    synthetic_table(gamma=0.8).to_parquet(tmp_path / "runs.parquet")
    return tmp_path


def test_check_text_report(results, capsys):
    assert main(["check", str(results), "--no-finite-size", "--n-boot", "200"]) == 0
    out = capsys.readouterr().out
    assert "1 configuration" in out and "[g0.8]" in out
    assert "theorem_3_1_slope" in out and "corollary_3_1_count" in out and "theorem_3_2_mse" in out
    assert len([line for line in out.splitlines() if line.strip().startswith(("1 ", "2 ", "3 ", "4 "))]) == 4


def test_check_json(results, capsys):
    assert main(["check", str(results), "--no-finite-size", "--n-boot", "200", "--json"]) == 0
    out = capsys.readouterr().out
    obj = json.loads(out)  # exactly one JSON object
    item = obj["configs"]["g0.8"]
    assert [r["direction"] for r in item["thresholds"]] == [1, 2, 3, 4]
    statuses = {v["name"]: v["status"] for v in item["verdicts"]}
    assert statuses["theorem_3_1_slope"] == "pass" and statuses["theorem_3_2_mse"] == "pass"
    assert all(v["passed"] is (v["status"] == "pass") for v in item["verdicts"])  # a JSON true/false, never a string


def test_check_refuses_bad_input(tmp_path, capsys):
    cases = []
    cases.append((["check", str(tmp_path / "nowhere")], "not a folder"))
    cases.append((["check", str(tmp_path)], "no runs.parquet"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "runs.parquet").write_text("not parquet")
    cases.append((["check", str(bad)], "unreadable"))
    short = tmp_path / "short"
    short.mkdir()
    synthetic_table().drop(columns=["cos2"]).to_parquet(short / "runs.parquet")
    cases.append((["check", str(short)], "lacks column(s) cos2"))
    good = tmp_path / "good"
    good.mkdir()
    synthetic_table().to_parquet(good / "runs.parquet")
    cases.append((["check", str(good), "--n-boot", "0"], "n_boot=0"))
    for argv, message in cases:
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and message in captured.err and len(captured.err.strip().splitlines()) == 1


def test_check_cost_counts_every_teacher_seeds_finite_size_theory():
    """`hmodel check` predicts every teacher seed's own finite-size model (issue 11, item 3); in the Hermite model
    with an exact M each costs minutes (measured 115 s per seed at d = 40, `sims.cost`), the Gaussian-equivalent
    law seconds. The estimate scales with the seeds and tells the two laws apart."""
    from sims.cost import CheckShape, estimate_check, finite_size_seconds
    from theory.remainder import EXACT_MAX_D

    h40 = CheckShape(seeds=1, sizes=5, d1=6, D=820, input_model="hermite")
    ge40 = CheckShape(seeds=1, sizes=5, d1=6, D=820, input_model="gaussian_equivalent")
    one = finite_size_seconds(h40)
    assert 60 < one < 300 and finite_size_seconds(ge40) < one / 10
    assert finite_size_seconds(CheckShape(4, 5, 6, 820, "hermite")) == pytest.approx(4 * one)
    d20, d60 = CheckShape(1, 5, 4, 210, "hermite"), CheckShape(1, 5, 7, 1830, "hermite")
    assert finite_size_seconds(d20) < one < finite_size_seconds(d60)
    # beyond the exact M (semicircle surrogate) and for q = 3 (not derived, refused at once) the theory is light
    for light in (CheckShape(1, 5, 8, EXACT_MAX_D + 1, "hermite"), CheckShape(1, 5, 6, 820, "hermite", q=3)):
        assert finite_size_seconds(light) < one / 10
    both = estimate_check([CheckShape(4, 5, 6, 820, "hermite"), ge40], n_boot=1000, finite_size=True)
    assert both.seconds > 4 * one and estimate_check([h40], n_boot=1000, finite_size=False).seconds < 30


def test_check_refuses_a_hermite_table_over_max_hours_and_reports_progress(results, capsys, monkeypatch):
    """The synthetic table is the Hermite model at d = 20 with 5 teacher seeds: its finite-size theory is predicted
    at ~2.7 min (33 s per seed measured), so --max-hours 0.02 (72 s) refuses it in one line naming --max-hours and
    the same table without the finite-size theory runs. The theory itself is faked here; the progress line goes to
    stderr, one per configuration, and stdout stays one JSON object."""
    import numpy as np

    import theory.per_seed as ps

    assert main(["check", str(results), "--max-hours", "0.02"]) == 2
    err = capsys.readouterr().err
    assert "--max-hours" in err and len(err.strip().splitlines()) == 1
    assert main(["check", str(results), "--max-hours", "0.02", "--no-finite-size", "--n-boot", "200"]) == 0
    assert "[check]" not in capsys.readouterr().err
    monkeypatch.setattr(ps, "seed_mean_thresholds", lambda config, seeds, lams, estimator="paper": np.arange(1.0, 5.0) * 1000)
    assert main(["check", str(results), "--n-boot", "200", "--json"]) == 0
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.startswith("[check]")]
    assert len(lines) == 1 and "configuration 1/1 g0.8" in lines[0] and "5 teacher seeds" in lines[0] and "hermite" in lines[0]
    assert json.loads(captured.out)["configs"]["g0.8"]["thresholds"][0]["n_finite"] == 1000
