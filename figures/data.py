"""The data each figure plots: pure functions of a results table (the results table contract, one row per
(configuration, seed, n)) and of theory outputs, so every number on a figure is tested without drawing it.

Conventions: alpha = log n / log d; "mean over seeds with a band" is the mean and mean +- one standard error
(sd / sqrt(seeds), 0 for a single seed) of the seeds' values at each n; per-direction tables are long
(one row per teacher direction i = 1..d1, teacher order).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["with_alpha", "select", "mean_band", "per_direction", "crossing", "crossings", "nearest_rows",
           "spectrum_outliers", "fit_power_law", "after_transition", "collapse_table", "scaling_table",
           "predicted_exponent", "baseline_table", "main_d", "spectrum_alphas", "staircase_points",
           "direction_subset", "counted_thresholds", "principal_long", "tail_sums", "tail_energy_th", "tail_table", "PAPER_DIRECTIONS"]

# the teacher directions the paper's per-direction panel shows (P3, d1 = 20 at d = 400)
PAPER_DIRECTIONS = (1, 3, 5, 8, 12, 15, 18, 20)

_FLOAT_TOL = 1e-9


def with_alpha(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with alpha = log n / log d (recomputed, so hand-made tables need only n and d)."""
    out = df.copy()
    out["alpha"] = np.log(out["n"].astype(float)) / np.log(out["d"].astype(float))
    return out


def select(df: pd.DataFrame, **conditions) -> pd.DataFrame:
    """Rows whose columns equal the given values (floats compared with a tolerance; a list/tuple value means
    'any of these'). Unknown columns are refused."""
    mask = np.ones(len(df), bool)
    for col, want in conditions.items():
        if col not in df.columns:
            raise ValueError(f"column {col!r} is not in the results table: columns are {', '.join(df.columns)}")
        wants = want if isinstance(want, (list, tuple, set)) else [want]
        col_mask = np.zeros(len(df), bool)
        for w in wants:
            if isinstance(w, float) and pd.api.types.is_numeric_dtype(df[col]):
                col_mask |= np.isclose(df[col].to_numpy(float), w, rtol=0, atol=_FLOAT_TOL)
            else:
                col_mask |= (df[col] == w).to_numpy()
        mask &= col_mask
    return df[mask].copy()


def mean_band(df: pd.DataFrame, x: str, y: str, by=(), log: bool = False) -> pd.DataFrame:
    """Mean over seeds of column y at each x (within each group of ``by``), with the band mean +- sem.

    log=True averages log(y) (geometric mean and band: for MSEs spanning decades). Returns columns
    [*by, x, mean, lo, hi, count], sorted by (*by, x)."""
    by = list(by)
    vals = df[y].astype(float)
    if log:
        vals = np.log(vals.clip(lower=1e-300))
    tmp = df[by + [x]].copy()
    tmp["_v"] = vals.to_numpy()
    g = tmp.groupby(by + [x], sort=True)["_v"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    sem = (out["std"].fillna(0.0) / np.sqrt(out["count"])).to_numpy()
    lo, hi = out["mean"] - sem, out["mean"] + sem
    if log:
        out["mean"], lo, hi = np.exp(out["mean"]), np.exp(lo), np.exp(hi)
    out["lo"], out["hi"] = lo, hi
    return out.drop(columns="std")[by + [x, "mean", "lo", "hi", "count"]]


def per_direction(df: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (run, teacher direction i), with i (1-based), lam (signed lambda_i),
    abs_lam, cos2, ang_err, and the run's n, d, D, d1, q, gamma, g, seed (and alpha when present)."""
    keep = [c for c in ("n", "d", "D", "d1", "q", "gamma", "g", "eps", "seed", "alpha", "config_hash") if c in df.columns]
    rows = []
    for rec in df.to_dict("records"):
        cos2, lam = list(rec["cos2"]), list(rec["lam"])
        ang = list(rec["ang_err"]) if "ang_err" in rec and rec["ang_err"] is not None else [math.nan] * len(cos2)
        for i, (c, l, a) in enumerate(zip(cos2, lam, ang), 1):
            rows.append({**{k: rec[k] for k in keep}, "i": i, "lam": float(l), "abs_lam": abs(float(l)),
                         "cos2": float(c), "ang_err": float(a)})
    return pd.DataFrame(rows, columns=keep + ["i", "lam", "abs_lam", "cos2", "ang_err"])


def crossing(x, y, level: float = 0.5) -> float:
    """The first n at which the curve y(x) crosses ``level`` upwards, interpolated in log x: the one crossing
    function, `theory.crossing.first_crossing`, on one curve. NaN when it never reaches the level on the grid
    and when it starts at or above it (the crossing happened below the grid: not its first point). Imported
    when called, so that importing figures.data loads no theory."""
    from theory.crossing import first_crossing

    return float(first_crossing(x, y, level))


def crossings(long: pd.DataFrame, level: float = 0.5, by=("d", "i")) -> pd.DataFrame:
    """Empirical threshold per group: the n where the seed-mean cos^2 first crosses ``level`` upwards (`crossing`:
    NaN when it starts above it or never reaches it)."""
    m = mean_band(long, "n", "cos2", by=by)
    out = [{**dict(zip(by, key if isinstance(key, tuple) else (key,))), "n_cross": crossing(g["n"], g["mean"], level)}
           for key, g in m.groupby(list(by), sort=True)]
    return pd.DataFrame(out, columns=list(by) + ["n_cross"])


def nearest_rows(df: pd.DataFrame, alphas, seed: int | None = None) -> pd.DataFrame:
    """For each target alpha, the row (of ``seed``, default the smallest seed) whose alpha is closest."""
    df = with_alpha(df)
    seed = int(df["seed"].min()) if seed is None else seed
    sub = df[df["seed"] == seed]
    if sub.empty:
        raise ValueError(f"seed={seed} is not in the results table")
    idx = [int(np.argmin(np.abs(sub["alpha"].to_numpy() - a))) for a in alphas]
    return sub.iloc[idx].reset_index(drop=True)


def spectrum_outliers(top_eigs, eig_tags, eig_overlaps, min_overlap: float = 0.5) -> list[tuple]:
    """The selected eigenvalues of C as (eigenvalue, teacher index or None): an eigenvalue is labelled with
    the teacher direction its eigenvector aligns with when the squared overlap exceeds ``min_overlap``."""
    return [(float(e), int(t) if o > min_overlap else None) for e, t, o in zip(top_eigs, eig_tags, eig_overlaps)]


def fit_power_law(x, y) -> tuple[float, float]:
    """Least-squares slope and intercept of log y against log x (points with x, y > 0); NaNs if < 2 points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:
        return math.nan, math.nan
    slope, intercept = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(slope), float(intercept)


def staircase_points(thresholds, n_lo: float, n_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """The staircase m_n = #{i: n_i <= n} (Corollary 3.1, discrete form) on [n_lo, n_hi], as the corner points
    of a step plot drawn with ``where="post"``: x holds n_lo, every finite threshold inside (n_lo, n_hi] and
    n_hi (sorted), m the count at each x. It steps exactly at the thresholds (a staircase sampled on a grid of
    n steps at the grid points instead); NaN thresholds (never reached) never count."""
    th = np.asarray(thresholds, float).ravel()
    finite = th[np.isfinite(th)]
    x = np.unique(np.concatenate([[float(n_lo), float(n_hi)], finite[(finite > n_lo) & (finite <= n_hi)]]))
    m = np.sum(finite[None, :] <= x[:, None], axis=1)
    return x, m


def counted_thresholds(ns, cos2, n_i, level: float = 0.5) -> np.ndarray:
    """Thresholds for a count m_n = #{i: n_i <= n} (`staircase_points`, `tail_energy_th`) from curves cos2 (N, k)
    on the grid ns (N,) and their first crossings ``n_i`` (NaN when none on the grid): a direction whose cos^2
    already reaches ``level`` at the grid's first n was recovered before it and counts from there (its threshold
    is still not drawn: it is not on the grid); one that never reaches it never counts."""
    ns, cos2 = np.asarray(ns, float), np.asarray(cos2, float)
    first = int(np.argmin(ns))
    return np.where(np.isnan(n_i) & (cos2[first] >= level), ns[first], np.asarray(n_i, float))


def after_transition(long: pd.DataFrame, level: float = 0.5) -> pd.DataFrame:
    """Rows of a per-direction table at or after the first n where that (config, seed, i) reaches
    cos^2 >= level, with one_minus_cos = 1 - sqrt(cos2) (Theorem 3.1's angular error)."""
    keys = [c for c in ("config_hash", "d", "gamma", "g", "seed", "i") if c in long.columns]
    parts = []
    for _, g in long.groupby(keys, sort=True):
        g = g.sort_values("n")
        hit = np.flatnonzero(g["cos2"].to_numpy() >= level)
        if hit.size:
            parts.append(g.iloc[hit[0]:])
    if not parts:
        return long.iloc[0:0].assign(one_minus_cos=[])
    out = pd.concat(parts, ignore_index=True)
    out["one_minus_cos"] = 1.0 - np.sqrt(out["cos2"].clip(0.0, 1.0))
    return out


def collapse_table(long: pd.DataFrame, thresholds: dict) -> pd.DataFrame:
    """cos^2 against n / n_i: ``thresholds`` maps (d, i) -> n_i (e.g. the finite-size prediction); rows
    without a finite threshold are dropped. Adds columns n_i and x = n / n_i."""
    n_i = np.array([thresholds.get((int(d), int(i)), math.nan) for d, i in zip(long["d"], long["i"])], float)
    out = long.assign(n_i=n_i)
    out = out[np.isfinite(out["n_i"]) & (out["n_i"] > 0)].copy()
    out["x"] = out["n"] / out["n_i"]
    return out


def predicted_exponent(gamma: float) -> float:
    """Theorem 3.2: MSE ~ (n / d^q)^(-1 + 1/(2 gamma)) for gamma > 1/2; NaN otherwise (no power law)."""
    return -1.0 + 1.0 / (2.0 * gamma) if gamma > 0.5 else math.nan


def scaling_table(df: pd.DataFrame, y: str = "nmse", fit_from: float | None = None) -> pd.DataFrame:
    """Per gamma: the seed-mean y against x = n / d^q (geometric band), the exponent fitted over the window
    of sequential recovery and the predicted one (Theorem 3.2).

    fit_from=None fits, per gamma, from the first x where the seed-mean recovered count reaches 1 (before it the
    MSE is flat at Var y) up to the first x where it reaches d1 (when a d1 column is given: after it every
    direction is found and the error decays like the angular errors, 1/n, not like the tail). Returns columns
    gamma, x, mean, lo, hi, count, fit_from, fit_to, fitted, predicted."""
    tmp = df.assign(x=df["n"].astype(float) / df["d"].astype(float) ** df["q"].astype(float))
    m = mean_band(tmp, "x", y, by=["gamma"], log=True)
    parts = []
    for gamma, g in m.groupby("gamma", sort=True):
        start, stop = fit_from, math.inf
        if start is None:
            rows = tmp[np.isclose(tmp["gamma"], gamma)]
            rec = mean_band(rows, "x", "recovered")
            hit = rec.loc[rec["mean"] >= 1.0, "x"]
            start = float(hit.iloc[0]) if len(hit) else math.inf
            if "d1" in rows.columns:
                full = rec.loc[rec["mean"] >= float(rows["d1"].max()), "x"]
                stop = float(full.iloc[0]) if len(full) else math.inf
        window = g[(g["x"] >= start) & (g["x"] <= stop)]
        slope, _ = fit_power_law(window["x"], window["mean"])
        parts.append(g.assign(fit_from=start, fit_to=stop, fitted=slope, predicted=predicted_exponent(float(gamma))))
    cols = list(m.columns) + ["fit_from", "fit_to", "fitted", "predicted"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def baseline_table(records: pd.DataFrame, y: str = "nmse") -> pd.DataFrame:
    """Seed-mean y against n per (d, method), skipped sizes (NaN, refused for memory) left out."""
    ok = records[np.isfinite(records[y].astype(float))]
    return mean_band(ok, "n", y, by=["d", "method"], log=True)


def main_d(df: pd.DataFrame) -> int:
    """The input dimension with the most rows (ties: the larger d): a one-size figure uses the sweep made for
    it, not a side sweep at another d that shares its configuration."""
    if df.empty:
        raise ValueError("the results table has no matching rows")
    counts = df.groupby("d").size()
    return int(max(counts.index, key=lambda d: (counts[d], d)))


def spectrum_alphas(qh_tbl: pd.DataFrame, level: float = 0.25, before: float = 0.5) -> list[float]:
    """Three alphas for the spectrum panels (from a mean_band table of q_h over 'alpha'): before the first
    transition (``before`` below the next), at it (first alpha where the mean q_h reaches ``level``, else the
    middle of the range) and the largest alpha; each snapped to a measured alpha."""
    a = qh_tbl["alpha"].to_numpy(float)
    hit = np.flatnonzero(qh_tbl["mean"].to_numpy(float) >= level)
    mid = a[hit[0]] if hit.size else a[len(a) // 2]
    targets = [mid - before, mid, a.max()]
    return [float(a[np.argmin(np.abs(a - t))]) for t in targets]


def direction_subset(d1: int, wanted=PAPER_DIRECTIONS, max_all: int = 8) -> list[int]:
    """The directions a per-direction panel draws: all of 1..d1 when d1 <= ``max_all``, else those of ``wanted``
    (the paper's choice) that exist."""
    d1 = int(d1)
    return list(range(1, d1 + 1)) if d1 <= max_all else [i for i in wanted if i <= d1]


def principal_long(df: pd.DataFrame) -> pd.DataFrame:
    """Long table of the principal angles between span(A) and span(A_hat), from the column ``principal_cos2``
    (per row, the squared cosines sorted in decreasing order): one row per (run, rank k = 1..d1) with cos2.
    The squared cosines are the squared singular values of Q^T Q_hat (MODEL.md section 3's bases); they
    sum to d1 q_h. Empty when the results lack the column."""
    keep = [c for c in ("n", "d", "d1", "gamma", "g", "seed", "alpha", "config_hash") if c in df.columns]
    if "principal_cos2" not in df.columns:
        return pd.DataFrame(columns=keep + ["k", "cos2"])
    rows = [{**{c: rec[c] for c in keep}, "k": k, "cos2": float(v)}
            for rec in df.to_dict("records") if rec["principal_cos2"] is not None
            for k, v in enumerate(sorted(np.asarray(rec["principal_cos2"], float), reverse=True), 1)]
    return pd.DataFrame(rows, columns=keep + ["k", "cos2"])


def tail_sums(df: pd.DataFrame) -> pd.DataFrame:
    """Per run, the unrecovered energy measured from the matched overlaps (P6's R_num with our normalisation):
    tail_num = sum_j lambda_j^2 (1 - q_j), q_j = (1 - ang_err_j)^2 the squared overlap of teacher direction j with
    its best-matching eigenvector (`first_layer_metrics`; not one-to-one, so q_j is at least the Hungarian
    matching's). With lambda_j^2 = Z_gamma^2 j^(-2 gamma) this is Z_gamma^2 R_num, the MSE's tail term for g = id
    without a fitted prefactor. Adds columns tail_num and lam2_total (= sum lambda_j^2, 1 here)."""
    lam2 = [np.asarray(v, float) ** 2 for v in df["lam"]]
    q = [(1.0 - np.asarray(a, float)) ** 2 for a in df["ang_err"]]
    return df.assign(tail_num=[float(np.sum(w * (1.0 - qq))) for w, qq in zip(lam2, q)],
                     lam2_total=[float(np.sum(w)) for w in lam2])


def tail_energy_th(ns, thresholds, lam) -> np.ndarray:
    """P6's R_th with our normalisation: sum_{j > m_n} lambda_j^2, m_n = #{i: n_i <= n} (teacher order, |lambda|
    decreasing), at every n; lambda_j^2 = Z_gamma^2 j^(-2 gamma) makes it Z_gamma^2 sum_{j > m_n} j^(-2 gamma)."""
    w = np.asarray(lam, float) ** 2
    tail = np.concatenate([np.cumsum(w[::-1])[::-1], [0.0]])  # tail[m] = sum_{j > m} w_j (0-based j >= m)
    th = np.asarray(thresholds, float)
    m = np.sum(np.isfinite(th)[None, :] & (th[None, :] <= np.asarray(ns, float)[:, None]), axis=1)
    return tail[m]


def tail_table(df: pd.DataFrame, y: str = "mse") -> pd.DataFrame:
    """Per n (over seeds): the geometric-mean band of column y and the mean of tail_num (`tail_sums`), for a panel
    of the error against the measured tail energy. Columns n, mean, lo, hi, count, tail."""
    t = tail_sums(df)
    m = mean_band(t, "n", y, log=True)
    return m.assign(tail=t.groupby("n")["tail_num"].mean().reindex(m["n"]).to_numpy())
