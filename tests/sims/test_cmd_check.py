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
