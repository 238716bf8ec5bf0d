"""Sweeps: every (configuration, seed, n) of a grid, resumable, on any backend (sims/backends.py).

Nested grids (the default): one task per (configuration, seed) runs `hierarchical_model.run_path` over
all its sample sizes at once, on nested prefixes of one training stream: the dense engine keeps
accumulating C and diagonalises it at each checkpoint (one pass over the largest n); the matrix-free
engine warm-starts each Krylov solve from the previous n. Each nested point is a valid sample of its
size (the first n samples of the stream are the same whatever the largest n), points of one seed are
correlated with each other, and different seeds are independent. ``independent=True`` makes one task
per (configuration, seed, n), each fitting on its own fresh pass over the first n samples.

A row is written (sims/store.py) as soon as its checkpoint is finished, so a sweep killed at any moment
loses at most the points in progress; started again with the same grid and folder, it computes only
the rows that are missing (a nested task restarts at its first missing n: for the dense engine C is the
uninterrupted run's, accumulated over the same batches in the same order, and its top eigenpairs equal them
to the eigen-solver's tolerance, ~1e-14 in the eigenvalues and ~1e-8 in q_h: the restarted solve starts cold,
not from the previous n's vectors). ``spectra`` in the grid says at which points the whole spectrum of C is
computed and stored (default none; `sims.grid.parse_spectra`). Rows are pure functions of (configuration, seed, n), so every backend gives the same rows.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

from .backends import make_backend
from .grid import STORAGE_KEYS, SweepConfig, SweepGrid
from .store import LOCK_FILES, ResultsStore, row_key

__all__ = ["run_sweep", "plan_sweep", "compute_task", "make_row", "Task", "SweepSummary", "manifest_for",
           "MANIFEST_FORMAT"]

MANIFEST_FORMAT = "hmodel-sweep/1"


@dataclass(frozen=True)
class Task:
    """What one worker computes: the rows of ``config`` at ``seed`` for the sample sizes ``ns``."""

    config: SweepConfig
    seed: int
    ns: tuple

    def keys(self) -> list[str]:
        return [row_key(self.config.config_hash, self.seed, n) for n in self.ns]


@dataclass(frozen=True)
class SweepSummary:
    out: str
    rows_total: int
    rows_before: int
    rows_computed: int
    seconds: float


def make_row(config: SweepConfig, res) -> tuple[dict, dict]:
    """The results-table row of one RunResult (list fields kept as lists, timings flattened to
    time_<name>, no spectrum) and the arrays of its spectra file."""
    from hierarchical_model import __version__

    row = res.to_dict(spectrum=False)
    for name, seconds in row.pop("timings").items():
        row[f"time_{name}"] = float(seconds)
    lr = config.learner
    row.update(config_hash=config.config_hash, alpha=math.log(res.n) / math.log(res.d), version=__version__,
               label_transform=lr["label_transform"],
               clip_quantile=float(lr["clip_quantile"]), fresh_split=bool(lr["fresh_split"]), nested=config.nested)
    if "tol" in lr:
        row["krylov_tol"] = float(lr["tol"])
    spectra = {"top_eigs": res.top_eigs, "eig_tags": res.eig_tags, "spectrum": res.spectrum}
    return row, spectra


def compute_task(task: Task, sink=None) -> list[tuple[dict, dict]]:
    """Run one task; hand each finished row to ``sink`` at once (a callable(row, spectra), a results
    folder to write it to, or None), and return all of them as (row, spectra) pairs."""
    import hierarchical_model as hm

    cfg = task.config.teacher_config()
    store = ResultsStore(sink) if isinstance(sink, str) else None
    out = []

    def emit(res):
        row, spectra = make_row(task.config, res)
        if store is not None:
            store.write_row(row, spectra)
        elif sink is not None:
            sink(row, spectra)
        out.append((row, spectra))

    kw = dict(n_test=task.config.n_test, spectrum_ns=task.config.spectrum_ns, **task.config.learner)
    if task.config.nested:
        hm.run_path(cfg, list(task.ns), task.seed, progress=emit, **kw)
    else:
        for n in task.ns:
            emit(hm.run(cfg, n, task.seed, **kw))
    return out


def manifest_for(grid: SweepGrid, configs: list[SweepConfig]) -> dict:
    """What DIR/sweep.json records: the grid and, per configuration, its hash, parameters and sizes."""
    from hierarchical_model import __version__

    return {"format": MANIFEST_FORMAT, "version": __version__, "grid": grid.to_dict(),
            "configs": [{"config_hash": c.config_hash, "label": c.label(), "teacher": c.teacher,
                         "learner": {k: v for k, v in c.learner.items() if k != "memory_gb"},
                         "n_test": c.n_test, "nested": c.nested, "ns": list(c.ns)} for c in configs]}


def _check_folder(store: ResultsStore, manifest: dict) -> None:
    """Refuse a folder that is not ours: a file, a non-empty folder without sweep.json, or a sweep.json
    of another grid (a rerun must use the identical grid)."""
    from .guards import check_out_dir

    p = check_out_dir("out", store.path)
    if not p.exists():
        return
    old = store.read_manifest()
    if old is None:
        if any(f.name not in LOCK_FILES and not f.name.endswith(".tmp") for f in p.iterdir()):
            raise ValueError(f"out={str(p)!r} is a non-empty folder without sweep.json: use a new or empty folder")
        return
    if old.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"out={str(p)!r} holds sweep.json of format {old.get('format')!r}: expected {MANIFEST_FORMAT!r}")
    new_grid, old_grid = manifest["grid"], old["grid"]
    for key in sorted((set(new_grid) | set(old_grid)) - set(STORAGE_KEYS)):
        if new_grid.get(key) != old_grid.get(key):
            raise ValueError(f"out={str(p)!r} holds another sweep ({key}={old_grid.get(key)} there, {new_grid.get(key)} "
                             "now): rerun with the identical grid or use another folder")
    if [c["config_hash"] for c in old["configs"]] != [c["config_hash"] for c in manifest["configs"]]:
        raise ValueError(f"out={str(p)!r} holds the same grid with other configurations (engine 'auto' resolved "
                         "differently for this memory budget?): pass the --memory-gb of the first run")


def plan_sweep(grid, memory_gb: float | None = None) -> tuple[SweepGrid, list[SweepConfig]]:
    """Validate a grid (a SweepGrid or a mapping of GRID_KEYS) and expand it into its configurations."""
    grid = grid if isinstance(grid, SweepGrid) else SweepGrid.from_mapping(dict(grid))
    return grid, grid.configurations(memory_gb)


def _pending_tasks(configs, seeds, done: set, independent: bool) -> list[Task]:
    tasks = []
    for c in configs:
        for s in seeds:
            missing = tuple(n for n in c.ns if row_key(c.config_hash, s, n) not in done)
            if not missing:
                continue
            if independent:
                tasks.extend(Task(c, s, (n,)) for n in reversed(missing))  # large n first: better packing
            else:
                tasks.append(Task(c, s, missing))
    return tasks


def run_sweep(grid, out, backend=None, *, memory_gb: float | None = None, progress: bool = True,
              log=None, cost=None) -> SweepSummary:
    """Compute every missing row of ``grid`` into the results folder ``out`` and consolidate
    ``out/runs.parquet``. ``backend``: None (sequential in this process), a backend of
    sims/backends.py, or 'local'/'dask'. Everything is validated (grid, memory guard of the dense
    engine, folder) before anything is written. ``log(line)`` receives one line per finished task
    (default: stderr when ``progress``). ``cost(estimate)``: called with the `sims.cost.Estimate` of the
    missing rows before anything is written (`sims.guards.enforce_cost` refuses one too large)."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    grid, configs = plan_sweep(grid, memory_gb)
    backend = make_backend(backend)
    manifest = manifest_for(grid, configs)
    store = ResultsStore(out)
    _check_folder(store, manifest)
    if cost is not None:
        from .cost import estimate_sweep

        done = store.done_keys() if store.path.is_dir() else set()
        cost(estimate_sweep(configs, grid.seeds, done, getattr(backend, "workers", None) or getattr(backend, "n_workers", None) or 1))
    store.path.mkdir(parents=True, exist_ok=True)
    with store.claim():
        store.create(manifest)
        done = store.done_keys(verify=True)
        total = sum(len(c.ns) for c in configs) * len(grid.seeds)
        tasks = _pending_tasks(configs, grid.seeds, done, grid.independent)
        pending = sum(len(t.ns) for t in tasks)
        bar = tqdm(total=total, initial=total - pending, desc="sweep", unit="pt", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True, smoothing=0.05)
        if log is None:
            log = (lambda line: tqdm.write(line, file=sys.stderr)) if progress else (lambda line: None)
        written = set()

        def on_row(row, spectra):
            key = row_key(row["config_hash"], row["seed"], row["n"])
            if key not in written:
                if not store.has_part(key):
                    store.write_row(row, spectra)
                written.add(key)
                bar.update(1)

        try:
            for i, (task, rows) in enumerate(backend.execute(compute_task, tasks, store.path, on_row), 1):
                for row, spectra in rows:
                    on_row(row, spectra)
                log(_task_line(i, len(tasks), task, [r for r, _ in rows]))
        finally:
            bar.close()
        store.consolidate()
    return SweepSummary(str(store.path), total, total - pending, len(written), time.perf_counter() - t0)


def _task_line(i: int, count: int, task: Task, rows: list[dict]) -> str:
    secs = {k: sum(r.get(f"time_{k}", 0.0) for r in rows) for k in ("layer1", "layer2_readout", "test")}
    ns = f"n={task.ns[0]}" if len(task.ns) == 1 else f"n={task.ns[0]}..{task.ns[-1]} ({len(task.ns)} pts)"
    return (f"[{i}/{count}] {task.config.label()} seed={task.seed} {ns}: {sum(r['seconds'] for r in rows):.1f}s "
            f"(layer1 {secs['layer1']:.1f}s, layer2+readout {secs['layer2_readout']:.1f}s, test {secs['test']:.1f}s, "
            f"passes {sum(r['passes'] for r in rows)})")
