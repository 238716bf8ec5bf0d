"""Failure handling (issue 14): workers die with their parent, a folder used by orphans is refused, corrupted
files are quarantined and recomputed, results files get the umask's mode, internal errors say they are bugs,
--json is valid JSON, and the cost guard tells its estimate."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from sims import cost
from sims.cli import main
from sims.guards import json_text
from sims.store import ResultsStore, atomic_write_bytes, load_results, row_key
from sims.store_lock import alive, lock_records, proc_start
from sims.sweep import run_sweep

GRID = {"d": 8, "ns": "60,120", "seeds": "0", "n_test": 300}  # D = 36, d1 = 2: two rows, seconds


def _wait(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


@pytest.mark.slow
def test_workers_die_with_their_sigkilled_parent(tmp_path):
    out = tmp_path / "orphans"
    argv = ["sweep", "--d", "8", "--ns", "60,120,240,480", "--seeds", "0-7", "--n-test", "300", "--independent",
            "--workers", "2", "--quiet", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-m", "sims.cli", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # the parent and both workers recorded in the sweep lock: the workers are up
        assert _wait(lambda: len(lock_records(out / ".sweep.lock")) >= 3, 120), "workers did not start"
        workers = [(pid, start) for pid, start in lock_records(out / ".sweep.lock") if pid != proc.pid]
        assert len(workers) == 2 and all(alive(pid, start) for pid, start in workers)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert _wait(lambda: not any(alive(pid, start) for pid, start in workers), 10), "orphaned workers survive"


def test_folder_used_by_live_processes_of_a_killed_sweep_is_refused(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    orphan = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert _wait(lambda: proc_start(orphan.pid) != "", 10)
        (out / ".sweep.lock").write_text(f"{os.getpid() + 10**6} 1\n{orphan.pid} {proc_start(orphan.pid)}\n")
        code = main(["sweep", "--out", str(out), "--d", "8", "--ns", "60", "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and f"in use by processes {orphan.pid} " in err[0]
        assert sorted(p.name for p in out.iterdir()) == [".sweep.lock"]
    finally:
        orphan.kill()
        orphan.wait()


@pytest.mark.slow
def test_corrupted_part_and_spectrum_are_quarantined_and_recomputed(tmp_path, capsys):
    out = tmp_path / "q"
    assert run_sweep(GRID, out, progress=False).rows_computed == 2
    ref = load_results(out)
    h = ref["config_hash"][0]
    k60, k120 = row_key(h, 0, 60), row_key(h, 0, 120)
    (out / "spectra" / f"{k60}.npz").write_bytes(b"\x80\x04garbage, not a zip archive")
    (out / "parts" / f"{h}-s0-n999.json").write_bytes(b"\xff\xfe{ not json")
    (out / "parts" / f"{k120}.json").write_text(json.dumps({"config_hash": h, "seed": 0, "n": 120, "qh": "high"}))
    capsys.readouterr()

    assert main(["status", str(out)]) == 0  # never blocked by the garbage parts
    cap = capsys.readouterr()
    assert "2/2 rows done" in cap.out
    warned = [line for line in cap.err.splitlines() if line.startswith("hmodel: warning:")]
    assert len(warned) == 2 and all("quarantine" in line for line in warned)
    assert any(f"parts/{h}-s0-n999.json is corrupted (not JSON" in line for line in warned)

    s = run_sweep(GRID, out, progress=False)  # the row whose spectrum is corrupted is recomputed
    assert (s.rows_before, s.rows_computed) == (1, 1)
    assert f"spectra/{k60}.npz is corrupted" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "quarantine").iterdir()) == sorted([f"{k60}.npz", f"{h}-s0-n999.json", f"{k120}.json"])
    store = ResultsStore(out)
    assert store.spectrum_ok(k60) and store.done_keys(verify=True) == {k60, k120}
    df = load_results(out)
    assert len(df) == 2 and np.allclose(np.stack(df["top_eigs"]), np.stack(ref["top_eigs"]))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_results_files_get_the_umask_mode(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_bytes(tmp_path / "f.json", b"{}")
    finally:
        os.umask(old)
    assert (os.stat(tmp_path / "f.json").st_mode & 0o777) == 0o666 & ~umask


def test_internal_error_keeps_its_traceback_and_says_it_is_a_bug(monkeypatch, capsys):
    import sims.cmd_status as status

    def broken(path):
        raise KeyError("an invariant of ours")

    monkeypatch.setattr(status, "status_report", broken)
    assert main(["status", "somewhere"]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError" in err
    assert err.strip().splitlines()[-1].startswith("hmodel: internal error: this is a bug")


def test_json_is_valid_with_null_for_non_finite():
    text = json_text({"mse": float("inf"), "cos2": [float("nan"), 0.5], "n": 3})
    assert json.loads(text) == {"mse": None, "cos2": [None, 0.5], "n": 3}
    assert "Infinity" not in text and "NaN" not in text


def test_cost_estimate_scales_and_the_refusal_states_it(capsys):
    small = cost.estimate_run(820, 6, 2, [8000], 10000, "dense")
    big = cost.estimate_run(820, 6, 2, [8_000_000], 10000, "dense")
    # per training sample: the dense accumulation (1/3 of 2 D^2), generating it (4 D d1), and layer 2 and the
    # readout (two passes, each generating it again and projecting on A_hat: 2 x 6 D d1)
    assert big.flops - small.flops == pytest.approx((8_000_000 - 8000) * (2 / 3 * 820**2 + 16 * 820 * 6), rel=1e-6)
    assert 10 < small.seconds < 120 and big.seconds > 10 * small.seconds
    assert small.bytes >= 24 * 820**2
    mf = cost.estimate_run(80200, 20, 2, [10**6, 2 * 10**6], 10000, "matrix_free")
    assert mf.bytes < 2**30 < mf.flops and mf.rows == 2
    # the matrix-free passes grow as D^(1/3) from the calibration's D = 1830: the first n of a nested grid streams
    # MF_PASSES (D / 1830)^(1/3) passes more than the dense engine's samples (counted in ``samples``)
    for D, passes in ((1830, cost.MF_PASSES), (80200, cost.MF_PASSES * (80200 / 1830) ** (1 / 3))):
        extra = (cost.estimate_run(D, 20, 2, [10**6], 10000, "matrix_free").samples
                 - cost.estimate_run(D, 20, 2, [10**6], 10000, "dense").samples)
        assert extra == pytest.approx(passes * 10**6, rel=1e-12)
    assert cost.MF_PASSES * (80200 / 1830) ** (1 / 3) == pytest.approx(141.0, abs=0.1)
    assert main(["run", "--n", "400000000", "--max-hours", "1"]) == 2
    line = capsys.readouterr().err.strip()
    assert "n=400000000" in line and "samples" in line and "flops" in line and "GiB" in line and "--yes" in line


def test_a_garbage_spectrum_read_by_a_figure_is_quarantined_not_fatal(tmp_path, capsys):
    from figures.results import load_row_spectrum

    (tmp_path / "spectra").mkdir()
    (tmp_path / "spectra" / "abc-s0-n100.npz").write_bytes(b"\x80\x04\x95 a pickle, not an archive")
    row = {"results_dir": str(tmp_path), "config_hash": "abc", "seed": 0, "n": 100}
    assert load_row_spectrum(row) is None  # the panel is skipped; the figure is still drawn
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "spectra/abc-s0-n100.npz is corrupted" in err[0] and "allow_pickle" not in err[0]
    assert [p.name for p in (tmp_path / "quarantine").iterdir()] == ["abc-s0-n100.npz"]
