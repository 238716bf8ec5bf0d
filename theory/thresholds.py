"""Empirical per-direction recovery thresholds from sweep results, beside the predicted ones.

Input: a results table (the results table contract: one row per (configuration, seed, n), list column cos2 in
teacher order). For one configuration, n_i_emp is the n at which the seed-mean cos^2(theta_i) first crosses
1/2 upwards (MODEL.md section 3's recovery criterion), interpolated linearly in log n between the two grid
points around the crossing; its confidence interval comes from a bootstrap over seeds. The predictions are the
naive BBP thresholds of `theory.asymptotics` and, when importable, the finite-size ones of
`theory.per_seed.seed_mean_thresholds`: the first crossings of the seed-mean of the per-seed predictions
(each with that seed's signed lambda_i), for the seeds present in the table, its input model and its estimator
(column `estimator`, 'paper' when absent).

Pipeline layer: consumer (`theory.PIPELINE`).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from hierarchical_model._validation import check_float, check_int
from hierarchical_model.links import LINK_NAMES
from hierarchical_model.teacher import TeacherConfig

from .asymptotics import naive_thresholds
from .crossing import first_crossing

__all__ = ["REQUIRED_COLUMNS", "CONFIG_COLUMNS", "check_columns", "config_of", "estimator_of", "split_configs", "seed_cube",
           "bootstrap_seed_means", "percentile_ci", "empirical_thresholds", "threshold_table"]

# Columns every check needs (the results table contract, MODEL.md section 3's metrics).
REQUIRED_COLUMNS = ("n", "seed", "d", "q", "D", "d1", "gamma", "eps", "g", "input_model", "cos2", "ang_err",
                    "lam", "recovered", "mse", "nmse")
# Columns that identify a configuration when no config_hash is given.
CONFIG_COLUMNS = ("d", "q", "d1", "eps", "gamma", "g", "input_model", "sigma", "a_kind", "label_transform", "estimator",
                  "conventions")


def check_columns(df: pd.DataFrame, needed=REQUIRED_COLUMNS) -> None:
    """Refuse a table that misses a needed column, or has no rows, in one line."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"results={type(df).__name__} is not allowed: must be a pandas DataFrame")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"results table lacks column(s) {', '.join(missing)}: "
                         f"the results table contract needs {', '.join(needed)}")
    if len(df) == 0:
        raise ValueError("results table has 0 rows: must hold at least one run")


def split_configs(df: pd.DataFrame) -> dict:
    """{config key: sub-table}: by config_hash when present, else by the CONFIG_COLUMNS present."""
    if "config_hash" in df.columns:
        return {str(k): g for k, g in df.groupby("config_hash", sort=False)}
    cols = [c for c in CONFIG_COLUMNS if c in df.columns]
    return {"-".join(map(str, k if isinstance(k, tuple) else (k,))): g for k, g in df.groupby(cols, sort=False)}


def config_of(df: pd.DataFrame) -> TeacherConfig:
    """The TeacherConfig of a one-configuration table (a_kind, sigma default when absent)."""
    check_columns(df, ("d", "q", "d1", "eps", "gamma", "g", "input_model"))
    cols = [c for c in CONFIG_COLUMNS if c in df.columns]
    distinct = df[cols].drop_duplicates()
    if len(distinct) != 1:
        raise ValueError(f"results table holds {len(distinct)} configurations: must hold one (group by config_hash first)")
    return TeacherConfig.from_row(distinct.iloc[0])


def estimator_of(df: pd.DataFrame) -> str:
    """The first-layer estimator of a one-configuration table: its `estimator` column, 'paper' when absent."""
    if "estimator" not in df.columns:
        return "paper"
    vals = set(df["estimator"])
    if len(vals) != 1:
        raise ValueError(f"results table holds estimators {sorted(vals)}: must hold one (group by config_hash first)")
    return str(vals.pop())


def seed_cube(df: pd.DataFrame, column: str):
    """(seeds (S,), ns (N,), values (S, N, k)) of a list column (k = its length) or a scalar one (k = 1),
    NaN where a (seed, n) is missing; duplicate (seed, n) rows are averaged."""
    seeds = np.sort(df["seed"].unique())
    ns = np.sort(df["n"].unique()).astype(np.float64)
    vals = [np.atleast_1d(np.asarray(v, np.float64)) for v in df[column]]
    k = max(v.size for v in vals)
    if any(v.size != k for v in vals):
        raise ValueError(f"column {column} has lists of different lengths: one configuration has one d1")
    total = np.zeros((seeds.size, ns.size, k))
    count = np.zeros((seeds.size, ns.size, 1))
    si, ni = np.searchsorted(seeds, df["seed"].to_numpy()), np.searchsorted(ns, df["n"].to_numpy().astype(np.float64))
    np.add.at(total, (si, ni), np.stack(vals))
    np.add.at(count, (si, ni), 1.0)
    with np.errstate(invalid="ignore"):
        return seeds, ns, total / np.where(count > 0, count, np.nan)


def bootstrap_seed_means(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Seed means of ``values`` (S, ...) for n_boot resamples of the S seeds with replacement: (n_boot, ...).

    The bootstrap over seeds treats each seed (one teacher, one nested data stream) as the independent unit;
    the RNG is numpy's default_rng(seed)."""
    n_boot = check_int("n_boot", n_boot, 1)
    idx = np.random.default_rng(check_int("seed", seed, 0)).integers(0, values.shape[0], size=(n_boot, values.shape[0]))
    with _quiet():
        return np.nanmean(values[idx], axis=1)


@contextmanager
def _quiet():
    """Silence numpy's all-NaN RuntimeWarnings: an all-NaN slice is meant to give NaN here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def percentile_ci(samples: np.ndarray, level: float = 0.9, axis: int = 0):
    """Percentile bootstrap interval (lo, hi) at ``level``, ignoring NaN replicates (NaN if all are NaN)."""
    level = check_float("ci", level, 0.0, 1.0, lo_open=True, hi_open=True)
    with _quiet():
        lo, hi = np.nanquantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=axis)
    return lo, hi


def empirical_thresholds(df: pd.DataFrame, level: float = 0.5, n_boot: int = 1000, ci: float = 0.9,
                         seed: int = 0) -> pd.DataFrame:
    """Per direction i (1-based, teacher order): n_emp (first crossing of the seed-mean cos^2 over ``level``),
    its bootstrap interval [n_emp_lo, n_emp_hi] over seeds (percentiles of the crossing in the replicates that
    cross) and boot_crossed, the fraction of replicates that cross; `censored` says 'below grid' when the
    seed mean already exceeds the level at the smallest n, 'above grid' when it never reaches it."""
    check_columns(df, ("n", "seed", "cos2"))
    level = check_float("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    _, ns, cube = seed_cube(df, "cos2")
    with _quiet():
        mean = np.nanmean(cube, axis=0).T  # (k, N)
    n_emp = first_crossing(ns, mean, level)
    boot = first_crossing(ns, np.swapaxes(bootstrap_seed_means(cube, n_boot, seed), 1, 2), level)  # (B, k)
    lo, hi = percentile_ci(boot, ci)
    censored = np.where(mean[:, 0] >= level, "below grid", np.where(np.isnan(n_emp), "above grid", ""))
    return pd.DataFrame({"direction": np.arange(1, mean.shape[0] + 1), "n_emp": n_emp, "n_emp_lo": lo,
                         "n_emp_hi": hi, "boot_crossed": np.mean(np.isfinite(boot), axis=0), "censored": censored})


def _finite_size(config, df):
    """theory.per_seed.seed_mean_thresholds for the seeds (and their signed lambdas) of ``df`` when importable
    and working, else (NaN, note)."""
    k = int(config.latent)
    try:
        from .per_seed import seed_mean_thresholds
    except ImportError as exc:
        return np.full(k, np.nan), f"finite-size theory not importable ({exc})"
    first = df.sort_values(["seed", "n"]).groupby("seed", sort=True)["lam"].first()
    seeds = [int(s) for s in first.index]
    lams = [np.asarray(v, np.float64) for v in first]
    try:
        return np.asarray(seed_mean_thresholds(config, seeds, lams, estimator=estimator_of(df)), np.float64), ""
    except Exception as exc:  # noqa: BLE001 - a failing prediction must not hide the measured table
        return np.full(k, np.nan), f"finite-size theory failed: {type(exc).__name__}: {exc}"


def threshold_table(df: pd.DataFrame, level: float = 0.5, n_boot: int = 1000, ci: float = 0.9, seed: int = 0,
                    finite_size: bool = True) -> pd.DataFrame:
    """`empirical_thresholds` beside the predictions, for one configuration: columns direction, lam
    (first seed's signed lambda_i), n_emp, n_emp_lo, n_emp_hi, boot_crossed, censored, n_naive
    (`asymptotics.naive_thresholds`, T = identity), ratio_naive = n_emp / n_naive, n_finite
    (`per_seed.seed_mean_thresholds` over the table's seeds, or NaN), ratio_finite, note."""
    check_columns(df, ("n", "seed", "cos2", "lam", "d", "q", "d1", "eps", "gamma", "g", "input_model"))
    config = config_of(df)
    table = empirical_thresholds(df, level, n_boot, ci, seed)
    lam = np.asarray(df.sort_values(["seed", "n"])["lam"].iloc[0], np.float64)
    notes = []
    if config.link_name in LINK_NAMES:
        n_naive = naive_thresholds(config)
    else:
        n_naive = np.full(lam.size, np.nan)
        notes.append(f"no naive threshold for the custom link {config.link_name!r}")
    if "label_transform" in df.columns and set(df["label_transform"]) != {"identity"}:
        notes.append("naive thresholds assume T = identity")
    if finite_size:
        n_finite, note = _finite_size(config, df)
        notes += [note] if note else [f"n_finite: seed mean of the predictions of seeds {sorted(set(map(int, df['seed'])))}"]
    else:
        n_finite = np.full(lam.size, np.nan)
        notes.append("finite-size theory not requested")
    table.insert(1, "lam", lam)
    table["n_naive"] = n_naive
    table["ratio_naive"] = table["n_emp"] / n_naive
    table["n_finite"] = n_finite
    table["ratio_finite"] = table["n_emp"] / n_finite
    table["note"] = "; ".join(notes)
    return table
