"""The walkthrough in examples/ runs end to end on the public API (quick sizes) and its numbers hang together."""

import runpy
from pathlib import Path

import numpy as np


def test_walkthrough_runs_and_overlays_simulation_and_theory(tmp_path):
    script = Path(__file__).resolve().parents[2] / "examples" / "walkthrough.py"
    out = runpy.run_path(str(script))["main"](["--quick", "--out", str(tmp_path)])
    assert out["png"].stat().st_size > 10_000
    for est in ("paper", "chaos"):
        sim, pred = out["sim"][est], out["pred"][est]
        assert [r["n"] for r in sim] == out["ns"] == pred.ns
        qh_sim = np.array([r["qh"] for r in sim])
        assert qh_sim[-1] > qh_sim[0] + 0.3  # sequential recovery along the nested grid
        assert np.all((0 <= pred.qh) & (pred.qh <= 1))
    # the chaos estimator's theory follows this teacher's simulation at d = 20 (one seed: a loose bound)
    qh_chaos = np.array([r["qh"] for r in out["sim"]["chaos"]])
    assert np.max(np.abs(out["pred"]["chaos"].qh - qh_chaos)) < 0.15
