"""Reading what the figures need from a results folder (the results table contract).

A figure's ``--results DIR`` is either one sweep folder (DIR/runs.parquet) or a folder of them (every
runs.parquet below DIR, e.g. the sweeps of `hmodel reproduce`); the tables are concatenated, each row
remembering its folder (column ``results_dir``) so its spectrum can be found. Baseline records (written by
`figures.recipes.run_baseline_recipe`) live in ``baselines*.parquet`` files below DIR.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_runs", "load_baselines", "load_row_spectrum", "BASELINES_GLOB"]

BASELINES_GLOB = "baselines*.parquet"


def _folders_with(root: Path, name: str) -> list[Path]:
    return sorted({p.parent for p in root.rglob(name)})


def load_runs(root) -> pd.DataFrame:
    """Every results table below ``root`` (runs.parquet and, for a sweep in progress, its parts), concatenated."""
    from sims.store import load_results

    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"results={str(root)!r} is not a folder")
    folders = set(_folders_with(root, "runs.parquet")) | {p.parent.parent for p in root.rglob("parts/*.json")}
    tables = [load_results(f).assign(results_dir=str(f)) for f in sorted(folders)]
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame(columns=["n", "d", "q", "gamma", "g", "seed", "results_dir"])
    return pd.concat(tables, ignore_index=True)


def load_baselines(root) -> pd.DataFrame:
    """Every baselines*.parquet below ``root``, concatenated (empty table when there is none)."""
    root = Path(root)
    files = sorted(root.rglob(BASELINES_GLOB)) if root.is_dir() else []
    if not files:
        return pd.DataFrame(columns=["method", "n", "d", "q", "seed", "mse", "nmse"])
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def load_row_spectrum(row) -> np.ndarray | None:
    """All eigenvalues of C saved for one row (None when the sweep did not keep them)."""
    from sims.store import load_spectrum

    try:
        z = load_spectrum(row["results_dir"], row["config_hash"], int(row["seed"]), int(row["n"]))
    except (FileNotFoundError, KeyError):
        return None
    spec = z.get("spectrum")
    if spec is None or spec.ndim == 0 or spec.size == 0:
        return None
    return np.asarray(spec, float)
