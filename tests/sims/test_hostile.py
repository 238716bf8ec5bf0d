"""Hostile input (issue 14): every refusal is exit status 2, one line on stderr naming the parameter or file,
nothing on stdout, and the folder untouched; the API refuses with a one-line ValueError naming the parameter.

The CLI cases run in-process through `sims.cli.main` (fast: no JAX compilation happens before a refusal).
"""

import json
import os
import stat

import numpy as np
import pytest

import hierarchical_model as hm
from sims.cli import main
from sims.store import rows_to_table

# ---- the world each case runs in: a folder of hostile files ---------------------------------------------
MANIFEST = {"format": "hmodel-sweep/1", "version": "0", "grid": {"seeds": [0], "independent": False}, "configs": []}


def _row(seed, n, **kw):
    return {"config_hash": "abc", "seed": seed, "n": n, "d": 12, "q": 2, "D": 78, "d1": 3, "gamma": 0.4, "eps": 0.5,
            "g": "id", "input_model": "hermite", "a_kind": "orthonormal", "sigma": 0.0, "label_transform": "identity",
            "qh": 0.5, "cos2": [0.5, 0.4, 0.1], "ang_err": [0.3, 0.4, 0.7], "lam": [0.7, -0.5, 0.4], "recovered": 1,
            "mse": 0.5, "nmse": 0.6, "top_eigs": [1.0, 0.9, 0.8], "eig_tags": [1, 2, 3], "eig_overlaps": [0.5, 0.4, 0.1], **kw}


def _parquet(path, rows):
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows_to_table(rows), path)


@pytest.fixture
def world(tmp_path):
    w = tmp_path
    (w / "afile").write_text("not a folder\n")
    (w / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    os.mkfifo(w / "fifo")
    (w / "empty").mkdir()
    (w / "busy").mkdir()
    (w / "busy" / "notes.txt").write_text("someone's files\n")
    for name, content in {"list": "[]", "nogrid": json.dumps({"format": "hmodel-sweep/1", "configs": []}),
                          "garbled": "\x00\xff{{{", "noseeds": json.dumps({**MANIFEST, "grid": {}})}.items():
        (w / f"sj_{name}").mkdir()
        (w / f"sj_{name}" / "sweep.json").write_text(content, errors="surrogateescape")
    (w / "sj_fifo").mkdir()
    os.mkfifo(w / "sj_fifo" / "sweep.json")
    (w / "n_test.toml").write_text('alphas = "1.5:2.0:0.5"\nd = 12\nn_test = 1e20\n')
    (w / "unknown.toml").write_text('alphas = "1.5"\nbatch = 3\n')
    (w / "nested.toml").write_text("alphas = " + "[" * 5000 + "]" * 5000 + "\n")
    (w / "huge.toml").write_text(f"d = {list(range(20, 120))}\nalphas = \"1.0:4.0:0.1\"\nseeds = \"0-99\"\n")
    (w / "toolong.toml").write_text("# padding\n" * 2_000_000)
    (w / "bad_dict.toml").write_text('alphas = "1.5"\nd = {a = 1}\n')
    _parquet(w / "res" / "runs.parquet", [_row(s, n) for s in range(3) for n in (100, 200, 400)])
    _parquet(w / "nocols" / "runs.parquet", [{"config_hash": "abc", "seed": 0, "n": 100}])
    (w / "badpq").mkdir()
    (w / "badpq" / "runs.parquet").write_bytes(b"PAR1 but not really")
    return w


def _snapshot(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, stat.S_IMODE(st.st_mode))
    return out


# (id, argv with {w} for the world folder, the text the one line must contain)
CLI_CASES = [
    # ---- run
    ("run-d-huge", "run --d 100000", "d=100000"),
    ("run-d-1", "run --d 1", "d=1"),
    ("run-d-memory", "run --d 20000", "d=20000"),
    ("run-q", "run --q 4", "q=4"),
    ("run-n-0", "run --n 0", "n=0"),
    ("run-n-unrepresentable", "run --n 10000000000000", "n=10000000000000"),
    ("run-n-cost", "run --n 100000000000", "--max-hours"),
    ("run-n-text", "run --n ten", "--n"),
    ("run-n-float", "run --n 1e6", "--n"),
    ("run-alpha-huge", "run --alpha 11.5", "alpha=11.5"),
    ("run-alpha-0", "run --alpha 0", "alpha=0"),
    ("run-alpha-nan", "run --alpha nan", "alpha=nan"),
    ("run-n-and-alpha", "run --n 100 --alpha 2", "--alpha"),
    ("run-n-test-0", "run --n-test 0", "n_test=0"),
    ("run-n-test-huge", "run --n-test 10000000000000", "n_test=10000000000000"),
    ("run-n-test-cost", "run --n-test 100000000000", "n_test=100000000000"),
    ("run-memory-above-ram", "run --memory-gb 1e6", "memory_gb="),
    ("run-memory-0", "run --memory-gb 0", "memory_gb=0"),
    ("run-memory-nan", "run --memory-gb nan", "memory_gb=nan"),
    ("run-sigma-huge", "run --sigma 1e20 --json", "sigma=1e+20"),
    ("run-sigma-negative", "run --sigma -1", "sigma=-1"),
    ("run-sigma-inf", "run --sigma inf", "sigma=inf"),
    ("run-gamma-nan", "run --gamma nan", "gamma=nan"),
    ("run-eps-inf", "run --eps inf", "eps=inf"),
    ("run-eps-too-big", "run --d 4 --eps 2", "eps=2.0"),
    ("run-d1-0", "run --d1 0", "d1=0"),
    ("run-d1-above-D", "run --d 4 --d1 11", "d1=11"),
    ("run-engine", "run --engine gpu", "engine='gpu'"),
    ("run-dense-over-budget", "run --d 200 --engine dense --memory-gb 0.01", "engine='dense'"),
    ("run-link", "run --g nope", "g='nope'"),
    ("run-a-kind", "run --a-kind sparse", "a_kind='sparse'"),
    ("run-input-model", "run --input-model pixels", "input_model='pixels'"),
    ("run-label-transform", "run --label-transform log", "label_transform='log'"),
    ("run-clip-quantile", "run --clip-quantile 2", "clip_quantile=2"),
    ("run-seed-negative", "run --seed -1", "seed=-1"),
    ("run-seed-huge", "run --seed 2147483648", "seed=2147483648"),
    ("run-max-hours-0", "run --max-hours 0", "max_hours=0"),
    ("run-max-hours-tiny", "run --max-hours 0.000001", "--max-hours"),
    ("run-unknown-option", "run --dd 3", "--dd"),
    # ---- theory
    ("theory-d-huge", "theory --d 100000", "d=100000"),
    ("theory-n-mc-huge", "theory --n-mc 100000000000", "n_mc=100000000000"),
    ("theory-n-mc-cost", "theory --n-mc 100000000 --max-hours 1", "n_mc=100000000"),
    ("theory-n-mc-small", "theory --n-mc 10", "n_mc=10"),
    ("theory-n-below-d1", "theory --n 2", "n=2"),
    ("theory-alpha", "theory --alpha 13", "alpha=13"),
    ("theory-sigma", "theory --sigma 1e20", "sigma=1e+20"),
    # ---- check
    ("check-missing", "check {w}/missing", "results="),
    ("check-no-table", "check {w}/empty", "results="),
    ("check-garbage-table", "check {w}/badpq", "runs.parquet"),
    ("check-fifo-table", "check {w}/fifo_res", "runs.parquet"),
    ("check-columns", "check {w}/nocols", "lacks column"),
    ("check-n-boot-0", "check {w}/res --n-boot 0", "n_boot=0"),
    ("check-n-boot-huge", "check {w}/res --n-boot 1000000000000", "n_boot=1000000000000"),
    ("check-ci", "check {w}/res --ci 2 --no-finite-size", "ci=2"),
    # ---- sweep
    ("sweep-seeds-huge", "sweep --out {w}/o --alphas 1.5 --seeds 0-2147483647", "seeds="),
    ("sweep-seeds-reversed", "sweep --out {w}/o --alphas 1.5 --seeds 5-1", "seeds="),
    ("sweep-seeds-text", "sweep --out {w}/o --alphas 1.5 --seeds a", "seeds="),
    ("sweep-seeds-repeat", "sweep --out {w}/o --alphas 1.5 --seeds 0,0", "seeds="),
    ("sweep-alphas-step", "sweep --out {w}/o --alphas 1:3:1e-9", "alphas="),
    ("sweep-alphas-huge-n", "sweep --out {w}/o --alphas 1:12:0.5", "alphas="),
    ("sweep-alphas-reversed", "sweep --out {w}/o --alphas 3:1:0.5", "alphas="),
    ("sweep-alphas-text", "sweep --out {w}/o --alphas x", "alphas="),
    ("sweep-ns-0", "sweep --out {w}/o --ns 0", "ns=0"),
    ("sweep-ns-huge", "sweep --out {w}/o --ns 10000000000000", "ns=10000000000000"),
    ("sweep-no-sizes", "sweep --out {w}/o", "alphas"),
    ("sweep-config-dev-zero", "sweep --out {w}/o --config /dev/zero", "config='/dev/zero'"),
    ("sweep-config-fifo", "sweep --out {w}/o --config {w}/fifo", "config="),
    ("sweep-config-missing", "sweep --out {w}/o --config {w}/missing.toml", "config="),
    ("sweep-config-binary", "sweep --out {w}/o --config {w}/garbage.bin", "config="),
    ("sweep-config-too-long", "sweep --out {w}/o --config {w}/toolong.toml", "config="),
    ("sweep-config-nested", "sweep --out {w}/o --config {w}/nested.toml", "config="),
    ("sweep-toml-n-test", "sweep --out {w}/o --config {w}/n_test.toml", "n_test="),
    ("sweep-toml-unknown-key", "sweep --out {w}/o --config {w}/unknown.toml", "'batch'"),
    ("sweep-toml-dict", "sweep --out {w}/o --config {w}/bad_dict.toml", "d={'a': 1}"),
    ("sweep-toml-huge-grid", "sweep --out {w}/o --config {w}/huge.toml", "--max-hours"),
    ("sweep-out-is-file", "sweep --out {w}/afile --alphas 1.5", "out="),
    ("sweep-out-below-file", "sweep --out {w}/afile/o --alphas 1.5", "out="),
    ("sweep-out-proc", "sweep --out /proc/hmodel-out --alphas 1.5", "out='/proc/hmodel-out'"),
    ("sweep-out-busy", "sweep --out {w}/busy --alphas 1.5", "out="),
    ("sweep-json-list", "sweep --out {w}/sj_list --alphas 1.5", "sweep.json="),
    ("sweep-json-no-grid", "sweep --out {w}/sj_nogrid --alphas 1.5", "sweep.json="),
    ("sweep-json-garbled", "sweep --out {w}/sj_garbled --alphas 1.5", "sweep.json="),
    ("sweep-json-fifo", "sweep --out {w}/sj_fifo --alphas 1.5", "sweep.json="),
    ("sweep-workers-0", "sweep --out {w}/o --alphas 1.5 --workers 0", "workers=0"),
    ("sweep-workers-and-dask", "sweep --out {w}/o --alphas 1.5 --workers 2 --dask-local 2", "--dask-local"),
    ("sweep-scheduler", "sweep --out {w}/o --alphas 1.5 --scheduler nowhere", "scheduler='nowhere'"),
    ("sweep-memory-above-ram", "sweep --out {w}/o --alphas 1.5 --memory-gb 1e6", "memory_gb="),
    ("sweep-d-repeat", "sweep --out {w}/o --alphas 1.5 --d 20,20", "d="),
    ("sweep-d-empty-item", "sweep --out {w}/o --alphas 1.5 --d 20,", "d="),
    ("sweep-n-test-0", "sweep --out {w}/o --alphas 1.5 --n-test 0", "n_test=0"),
    ("sweep-dense-over-budget", "sweep --out {w}/o --alphas 1.5 --d 300 --engine dense --memory-gb 0.5", "engine='dense'"),
    ("sweep-max-hours", "sweep --out {w}/o --alphas 1.5 --max-hours 0.000001", "--max-hours"),
    # ---- status
    ("status-missing", "status {w}/missing", "dir="),
    ("status-not-sweep", "status {w}/empty", "dir="),
    ("status-json-list", "status {w}/sj_list", "sweep.json="),
    ("status-json-no-seeds", "status {w}/sj_noseeds", "sweep.json="),
    ("status-json-fifo", "status {w}/sj_fifo", "sweep.json="),
    # ---- figure
    ("figure-empty", "figure fig2 --results {w}/empty --out {w}/figs", "results="),
    ("figure-all-empty", "figure all --results {w}/empty --out {w}/figs", "results="),
    ("figure-name", "figure fig9 --results {w}/res --out {w}/figs", "figure='fig9'"),
    ("figure-missing", "figure fig2 --results {w}/missing --out {w}/figs", "results="),
    ("figure-columns", "figure fig2 --results {w}/nocols --out {w}/figs", "runs.parquet"),
    ("figure-garbage-table", "figure fig2 --results {w}/badpq --out {w}/figs", "runs.parquet"),
    ("figure-out-file", "figure fig2 --results {w}/res --out {w}/afile --no-theory", "out="),
    ("figure-theory-mc", "figure fig2 --results {w}/res --out {w}/figs --theory-mc 1000000000000", "theory_mc="),
    ("figure-no-rows-for-it", "figure baselines --results {w}/res --out {w}/figs --no-theory", "figure baselines"),
    # ---- reproduce
    ("reproduce-out-file", "reproduce --out {w}/afile", "out="),
    ("reproduce-out-proc", "reproduce --out /proc/hmodel-repro", "out="),
    ("reproduce-scale", "reproduce --scale huge --out {w}/r", "scale='huge'"),
    ("reproduce-memory", "reproduce --memory-gb 1e6 --out {w}/r", "memory_gb="),
    ("reproduce-paper-cost", "reproduce --scale paper --out {w}/r", "--max-hours"),
    # ---- no sub-command at all
    ("no-command", "", "COMMAND"),
]


@pytest.mark.parametrize("argv,needle", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_in_one_line_and_writes_nothing(world, capsys, argv, needle):
    if "fifo_res" in argv:
        (world / "fifo_res").mkdir()
        os.mkfifo(world / "fifo_res" / "runs.parquet")
    before = _snapshot(world)
    code = main(argv.format(w=world).split())
    cap = capsys.readouterr()
    lines = cap.err.strip().splitlines()
    assert code == 2, cap.err
    assert cap.out == ""
    assert len(lines) == 1 and lines[0].startswith("hmodel: error: "), cap.err
    assert needle in lines[0], lines[0]
    assert _snapshot(world) == before


def test_battery_covers_every_subcommand():
    by = {}
    for _, argv, _ in CLI_CASES:
        by[argv.split()[0] if argv else "-"] = by.get(argv.split()[0] if argv else "-", 0) + 1
    assert set(by) >= {"run", "theory", "check", "sweep", "status", "figure", "reproduce"}
    assert len(CLI_CASES) + len(API_CASES) >= 60


# ---- the API --------------------------------------------------------------------------------------------
def _xy(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal(n)


def _fit(transform_X=lambda X: X, transform_y=lambda y: y, **kw):
    X, y = _xy()
    return hm.HierarchicalSpectralLearner(2, **kw).fit(transform_X(X), transform_y(y))


API_CASES = [
    ("teacher-d-huge", lambda: hm.TeacherConfig(d=10**6), "d=1000000"),
    ("teacher-d-memory", lambda: hm.Teacher(hm.TeacherConfig(d=60000, q=2), 0), "d=60000"),
    ("teacher-sigma", lambda: hm.TeacherConfig(sigma=1e20), "sigma="),
    ("learner-memory", lambda: _fit(memory_gb=1e6), "memory_gb="),  # the constructor stores, fit refuses
    ("learner-standardize", lambda: _fit(standardize="yes"), "standardize="),
    ("fit-10x", lambda: _fit(lambda X: 10 * X), "X is off the unit scale"),
    ("fit-shifted", lambda: _fit(lambda X: X + 50), "X is off the unit scale"),
    ("fit-2.5x", lambda: _fit(lambda X: 2.5 * X), "X is off the unit scale"),
    ("fit-complex", lambda: _fit(lambda X: X + 1j * X), "X has a complex dtype"),
    ("fit-constant-y", lambda: _fit(transform_y=lambda y: np.ones_like(y)), "y is constant"),
    ("fit-huge-y", lambda: _fit(transform_y=lambda y: 1e20 * y), "y reaches"),
    ("fit-constant-column", lambda: _fit(lambda X: np.where(np.arange(6) == 2, 1.0, X), standardize=True), "X column 2"),
    ("run-n", lambda: hm.run(hm.TeacherConfig(d=12), 10**13), "n=10000000000000"),
    ("run-n-test", lambda: hm.run(hm.TeacherConfig(d=12), 100, n_test=10**13), "n_test=10000000000000"),
    ("grid-alphas", lambda: __import__("sims.grid").grid.SweepGrid.from_mapping({"alphas": "1:3:1e-9"}), "alphas="),
    ("grid-n-test", lambda: __import__("sims.grid").grid.SweepGrid.from_mapping({"alphas": "1.5", "n_test": 1e20}), "n_test="),
]


@pytest.mark.parametrize("call,start", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_refuses_in_one_line(call, start):
    with pytest.raises(ValueError) as err:
        call()
    msg = str(err.value)
    assert "\n" not in msg and start in msg, msg
