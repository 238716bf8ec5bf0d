"""The paper's theorems (MODEL.md section 4) checked on sweep results, one verdict per statement.

Input: a results table of ONE configuration (the results table contract; group by config_hash first, or use
`check_results`). Every statistic is computed on seed means at each n; its confidence interval is a percentile
bootstrap over seeds (each seed = one teacher and one nested data stream, the independent unit; explicit RNG
seed). Fitting windows are chosen once on the full data and kept fixed in the bootstrap replicates.

When a verdict passes (exponent checks). Fitted exponent b with bootstrap interval [lo, hi] (level ``ci``),
paper's exponent e, and a model tolerance tau = rtol |e| for the pre-asymptotic corrections a finite d leaves
(e.g. 1 - sqrt(1 - n_k/n) has local log-log slope -1.2 at n = 2 n_k, -1.08 at 4 n_k; the recovered count is
an integer staircase):
  * inconclusive  if the window holds fewer than ``min_points`` grid points, fewer than 2 seeds, or the interval
                  is too wide to tell e from e/2: (hi - lo) / 2 > |e| / 4;
  * pass          if e lies in [lo - tau, hi + tau];
  * fail          otherwise.
So the verdict is driven by the CI (a noisy sweep cannot fail or pass by luck, it is inconclusive), and rtol
(default 0.2) is the only hand-set number: an exponent off by more than 20% plus the statistical error fails.

Pipeline layer: consumer (`theory.PIPELINE`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from hierarchical_model._validation import check_float, check_int
from hierarchical_model.links import LINK_NAMES

from .asymptotics import naive_thresholds, recovered_count
from .crossing import first_crossing
from .thresholds import (REQUIRED_COLUMNS, _quiet, bootstrap_seed_means, check_columns, config_of,
                         percentile_ci, seed_cube, split_configs, threshold_table)

__all__ = ["Verdict", "judge_exponent", "log_slopes", "check_theorem_3_1", "check_non_recovery",
           "check_corollary_3_1", "check_theorem_3_2", "run_checks", "check_results"]

STATUSES = ("pass", "fail", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check: status in STATUSES, passed = (status == 'pass'), the fitted numbers with their
    bootstrap intervals, the paper's expected values, and a one-line summary."""

    name: str
    statement: str
    status: str
    fitted: dict = field(default_factory=dict)
    ci: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    summary: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict:
        return _jsonable(dict(asdict(self), passed=self.passed))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return None if not math.isfinite(obj) else float(obj)
    return obj


def judge_exponent(b: float, lo: float, hi: float, expected: float, rtol: float = 0.2, n_points: int = 0,
                   n_seeds: int = 0, min_points: int = 3) -> str:
    """The pass rule of the module docstring: 'inconclusive', 'pass' or 'fail'."""
    tau = rtol * abs(expected)
    if n_points < min_points or n_seeds < 2 or not all(map(math.isfinite, (b, lo, hi))):
        return "inconclusive"
    if (hi - lo) / 2 > abs(expected) / 4:
        return "inconclusive"
    return "pass" if lo - tau <= expected <= hi + tau else "fail"


def log_slopes(ns, values) -> np.ndarray:
    """Least-squares slope of log(values[..., j]) against log(ns[j]), vectorised over leading axes;
    NaN where any value is non-positive or NaN."""
    x = np.log(np.asarray(ns, np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.log(np.asarray(values, np.float64))
    xc = x - x.mean()
    return (y - y.mean(axis=-1, keepdims=True)) @ xc / np.sum(xc**2)


def _setup(df, ci, rtol, n_boot, seed):
    check_columns(df, REQUIRED_COLUMNS)
    return (config_of(df), check_float("ci", ci, 0.0, 1.0, lo_open=True, hi_open=True), check_float("rtol", rtol, 0.0),
            check_int("n_boot", n_boot, 1), check_int("seed", seed, 0))


def _exponent_verdict(name, statement, ns, full, boot, window, expected, ci, rtol, n_seeds, what, extra=None):
    """Fit log(full[window]) ~ log n (and each bootstrap row), judge against ``expected``."""
    n_pts = int(np.sum(window))
    if n_pts >= 2:
        b = float(log_slopes(ns[window], full[window]))
        lo, hi = percentile_ci(log_slopes(ns[window], boot[:, window]), ci)
    else:
        b = lo = hi = math.nan
    status = judge_exponent(b, float(lo), float(hi), expected, rtol, n_pts, n_seeds)
    fitted = {"exponent": b, "n_window": [float(v) for v in ns[window]], **(extra or {})}
    summary = (f"{name}: {what} exponent {b:+.3f} [{float(lo):+.3f}, {float(hi):+.3f}] vs {expected:+.3f} "
               f"(tol {rtol * abs(expected):.3f}, {n_pts} points, {n_seeds} seeds) -> {status}")
    return Verdict(name, statement, status, fitted, {"exponent": (float(lo), float(hi))}, {"exponent": expected}, summary)


def check_theorem_3_1(df: pd.DataFrame, after: float = 2.0, metric: str = "ang_err", ci: float = 0.9, rtol: float = 0.2,
                      n_boot: int = 1000, seed: int = 0) -> Verdict:
    """Theorem 3.1 (post-threshold): 1 - |<u_k, a_k>| = O(d^q k^(2 gamma) / (n Z_gamma^2)), i.e. slope -1 of
    log(1 - cos theta_k) against log n above the threshold.

    Per direction k: seed-mean error e_k(n) (``metric`` 'ang_err' = 1 - max_j |<u_k, uhat_j>|, or 'cos2' for
    1 - sqrt(cos^2), the subspace version), fitted on the grid points n >= after * n_k_emp (n_k_emp: the
    empirical threshold; ``after`` = 2 keeps the BBP curvature near threshold out of the fit, see the module
    docstring); directions with fewer than 3 such points are skipped. Judged: the mean slope over the fitted
    directions against -1 (pass rule of the module docstring); per-direction slopes are reported."""
    config, ci, rtol, n_boot, seed = _setup(df, ci, rtol, n_boot, seed)
    if metric not in ("ang_err", "cos2"):
        raise ValueError(f"metric={metric!r} is not allowed: must be one of 'ang_err', 'cos2'")
    seeds, ns, cube = seed_cube(df, metric)
    if metric == "cos2":
        cube = 1.0 - np.sqrt(np.clip(cube, 0.0, 1.0))
    with _quiet():
        full = np.nanmean(cube, axis=0)  # (N, k)
    boot = bootstrap_seed_means(cube, n_boot, seed)  # (B, N, k)
    with _quiet():
        n_emp = first_crossing(ns, np.nanmean(seed_cube(df, "cos2")[2], axis=0).T)  # empirical thresholds
    slopes, slopes_boot, used = {}, [], []
    for k in range(full.shape[1]):
        window = ns >= after * n_emp[k] if math.isfinite(n_emp[k]) else np.zeros(ns.size, bool)
        if np.sum(window) < 3:
            continue
        slopes[k + 1] = float(log_slopes(ns[window], full[window, k]))
        slopes_boot.append(log_slopes(ns[window], boot[:, window, k]))
        used.append(k + 1)
    statement = "Theorem 3.1: above threshold 1 - |<u_k, a_k>| = O(d^q k^(2 gamma) / (n Z_gamma^2)) (slope -1 in n)"
    if not used:
        return Verdict("theorem_3_1_slope", statement, "inconclusive", {"slopes": {}}, {}, {"slope": -1.0},
                       f"theorem_3_1_slope: no direction has 3 grid points beyond {after} x its threshold -> inconclusive")
    b = float(np.mean(list(slopes.values())))
    lo, hi = percentile_ci(np.mean(slopes_boot, axis=0), ci)
    per_ci = {k: tuple(map(float, percentile_ci(sb, ci))) for k, sb in zip(used, slopes_boot)}
    status = judge_exponent(b, float(lo), float(hi), -1.0, rtol, 3, seeds.size)
    summary = (f"theorem_3_1_slope: mean post-threshold slope of log(1 - cos) {b:+.3f} [{float(lo):+.3f}, {float(hi):+.3f}] "
               f"vs -1 (tol {rtol:.2f}, directions {used}, {seeds.size} seeds) -> {status}")
    return Verdict("theorem_3_1_slope", statement, status, {"slope": b, "slopes": slopes, "directions": used},
                   {"slope": (float(lo), float(hi)), "slopes": per_ci}, {"slope": -1.0}, summary)


def check_non_recovery(df: pd.DataFrame, delta: float = 0.25, thresholds=None, ci: float = 0.9, n_boot: int = 1000,
                       seed: int = 0) -> Verdict:
    """Theorem 3.1 (pre-threshold): at n = n_k d^(-delta) direction k is not recovered.

    n_k: ``thresholds`` (per direction, e.g. the finite-size ones) or the naive BBP thresholds of
    `asymptotics.naive_thresholds`. Statistic: the largest seed-mean cos^2(theta_k) over the directions k and
    the grid points n <= n_k d^(-delta); it passes when the upper end of its bootstrap interval is below 1/2
    (MODEL.md section 3's recovery criterion), fails when the lower end is above; the value expected without
    any alignment is d1/D (a random direction's overlap with a d1-dimensional subspace). Inconclusive when no
    grid point lies below any n_k d^(-delta)."""
    config, ci, _, n_boot, seed = _setup(df, ci, 0.0, n_boot, seed)
    delta = check_float("delta", delta, 0.0, lo_open=True)
    statement = "Theorem 3.1: at n = n_k d^(-delta) direction k is not recovered"
    if thresholds is None:
        if config.link_name not in LINK_NAMES:
            return Verdict("theorem_3_1_non_recovery", statement, "inconclusive", summary="theorem_3_1_non_recovery: "
                           f"no predicted threshold for the link {config.link_name!r} -> inconclusive")
        thresholds = naive_thresholds(config)
    thresholds = np.asarray(thresholds, np.float64)
    seeds, ns, cube = seed_cube(df, "cos2")
    if thresholds.shape != (cube.shape[2],):
        raise ValueError(f"thresholds has shape {thresholds.shape}: must have shape ({cube.shape[2]},), one per direction")
    mask = ns[:, None] <= thresholds[None, :] * float(config.d) ** (-delta)  # (N, k)
    expected = {"cos2_max_below": 0.5, "cos2_random": config.latent / config.D}
    if not mask.any():
        return Verdict("theorem_3_1_non_recovery", statement, "inconclusive", {"delta": delta}, {}, expected,
                       f"theorem_3_1_non_recovery: no grid point below n_k d^-{delta} -> inconclusive")
    with _quiet():
        full = np.nanmax(np.where(mask, np.nanmean(cube, axis=0), np.nan))
        boot = np.nanmax(np.where(mask, bootstrap_seed_means(cube, n_boot, seed), np.nan), axis=(1, 2))
    lo, hi = percentile_ci(boot, ci)
    status = "inconclusive" if seeds.size < 2 else ("pass" if hi < 0.5 else "fail" if lo > 0.5 else "inconclusive")
    summary = (f"theorem_3_1_non_recovery: max seed-mean cos2 below n_k d^-{delta} = {full:.3f} [{lo:.3f}, {hi:.3f}] "
               f"vs < 0.5 (random {config.latent / config.D:.4f}; {int(mask.sum())} (n, k) points) -> {status}")
    return Verdict("theorem_3_1_non_recovery", statement, status,
                   {"cos2_max_below": float(full), "delta": delta, "points": int(mask.sum()),
                    "thresholds": [float(t) for t in thresholds]},
                   {"cos2_max_below": (float(lo), float(hi))}, expected, summary)


def check_corollary_3_1(df: pd.DataFrame, thresholds=None, ci: float = 0.9, rtol: float = 0.2, n_boot: int = 1000,
                        seed: int = 0) -> Verdict:
    """Corollary 3.1: m_n ~ (Z_gamma^2 n / D)^(1/(2 gamma)).

    Statistic: the slope of log(m_emp(n) + 1/2) against log n, m_emp the seed-mean recovered count (column
    `recovered`), on the grid points where 1/2 <= m_emp <= d1 - 1/2 (neither before the first transition nor
    saturated); the +1/2 undoes on average the floor of the discrete count #{i : n_i <= n} = floor(m_n).
    Expected 1/(2 gamma). Also reported: m_emp / m_pred at each n, m_pred = `recovered_count` of ``thresholds``
    (default: the naive BBP thresholds)."""
    config, ci, rtol, n_boot, seed = _setup(df, ci, rtol, n_boot, seed)
    statement = "Corollary 3.1: m_n ~ (Z_gamma^2 n / D)^(1/(2 gamma))"
    if config.gamma <= 0:
        return Verdict("corollary_3_1_count", statement, "inconclusive", summary="corollary_3_1_count: gamma = 0 "
                       "(equal weights, every direction has one threshold) has no power law -> inconclusive")
    seeds, ns, cube = seed_cube(df, "recovered")
    full = np.nanmean(cube[..., 0], axis=0)
    boot = bootstrap_seed_means(cube[..., 0], n_boot, seed)
    window = (full >= 0.5) & (full <= config.latent - 0.5)
    if thresholds is None and config.link_name in LINK_NAMES:
        thresholds = naive_thresholds(config)
    extra = {"m_emp": [float(v) for v in full], "n": [float(v) for v in ns]}
    if thresholds is not None:
        m_pred = recovered_count(ns, thresholds)
        extra.update(m_pred=[int(v) for v in m_pred],
                     ratio=[float(a / b) if b > 0 else math.nan for a, b in zip(full, m_pred)])
    return _exponent_verdict("corollary_3_1_count", statement, ns,
                             full + 0.5, boot + 0.5, window, 1.0 / (2.0 * config.gamma), ci, rtol, seeds.size,
                             "recovered-count", extra)


def check_theorem_3_2(df: pd.DataFrame, n_min: float | None = None, n_max: float | None = None, ci: float = 0.9,
                      rtol: float = 0.2, n_boot: int = 1000, seed: int = 0) -> Verdict:
    """Theorem 3.2: MSE(n) ~ (n / d^q)^(-1 + 1/(2 gamma)) for gamma > 1/2; for 0 < gamma < 1/2
    MSE = Theta(1) - (n / (d1 d^q))^(1/(2 gamma) - 1) in the window d^q << n << d1 d^q.

    gamma > 1/2: slope of log(seed-mean mse) against log n, expected -1 + 1/(2 gamma).
    gamma < 1/2: slope of log(1 - seed-mean nmse) against log n, expected 1/(2 gamma) - 1 (the Theta(1) is
    Var y: the unrecovered tail carries all but the recovered energy, so 1 - NMSE is the explained fraction).
    Window: [n_min, n_max] when given, else the grid points where the seed-mean recovered count lies in
    [1, d1 - 1] (past the first transition, before saturation at d1, where the readout floor O(1/n) takes
    over). gamma = 1/2 (logarithmic corrections) is inconclusive."""
    config, ci, rtol, n_boot, seed = _setup(df, ci, rtol, n_boot, seed)
    gamma = config.gamma
    statement = ("Theorem 3.2: MSE ~ (n/d^q)^(-1+1/(2 gamma)) for gamma > 1/2; "
                 "Theta(1) - (n/(d1 d^q))^(1/(2 gamma)-1) for gamma < 1/2")
    if gamma == 0.5 or gamma <= 0:
        return Verdict("theorem_3_2_mse", statement, "inconclusive",
                       summary=f"theorem_3_2_mse: gamma = {gamma} is outside both regimes -> inconclusive")
    seeds, ns, rec = seed_cube(df, "recovered")
    m = np.nanmean(rec[..., 0], axis=0)
    if n_min is None and n_max is None:
        window = (m >= 1.0) & (m <= config.latent - 1)
    else:
        window = (ns >= (n_min or 0)) & (ns <= (n_max or np.inf))
    if gamma > 0.5:
        _, _, cube = seed_cube(df, "mse")
        full, boot = np.nanmean(cube[..., 0], axis=0), bootstrap_seed_means(cube[..., 0], n_boot, seed)
        expected, what = -1.0 + 1.0 / (2.0 * gamma), "MSE"
    else:
        _, _, cube = seed_cube(df, "nmse")
        full, boot = 1.0 - np.nanmean(cube[..., 0], axis=0), 1.0 - bootstrap_seed_means(cube[..., 0], n_boot, seed)
        expected, what = 1.0 / (2.0 * gamma) - 1.0, "1 - NMSE (window form)"
    return _exponent_verdict("theorem_3_2_mse", statement, ns, full, boot, window, expected, ci, rtol, seeds.size, what,
                             {"regime": "gamma > 1/2" if gamma > 0.5 else "0 < gamma < 1/2"})


def run_checks(df: pd.DataFrame, delta: float = 0.25, thresholds=None, ci: float = 0.9, rtol: float = 0.2,
               n_boot: int = 1000, seed: int = 0) -> list[Verdict]:
    """All verdicts of one configuration: Theorem 3.1 (slope, non-recovery), Corollary 3.1, Theorem 3.2."""
    common = {"ci": ci, "n_boot": n_boot, "seed": seed}
    return [check_theorem_3_1(df, rtol=rtol, **common),
            check_non_recovery(df, delta=delta, thresholds=thresholds, **common),
            check_corollary_3_1(df, thresholds=thresholds, rtol=rtol, **common),
            check_theorem_3_2(df, rtol=rtol, **common)]


def check_results(df: pd.DataFrame, delta: float = 0.25, ci: float = 0.9, rtol: float = 0.2, n_boot: int = 1000,
                  seed: int = 0, finite_size: bool = True, progress=None) -> dict:
    """{config key: {'config': dict, 'thresholds': DataFrame, 'verdicts': [Verdict]}} for every configuration of
    a results table (grouped by config_hash). The non-recovery check uses the finite-size thresholds where the
    finite-size theory gave them all, else the naive ones. ``progress(key, i, total)`` is called before the
    i-th (1-based) of ``total`` configurations: its finite-size theory can take minutes per teacher seed."""
    check_columns(df, REQUIRED_COLUMNS)
    out = {}
    configs = split_configs(df)
    for i, (key, sub) in enumerate(configs.items(), 1):
        if progress is not None:
            progress(key, i, len(configs))
        table = threshold_table(sub, n_boot=n_boot, ci=ci, seed=seed, finite_size=finite_size)
        finite = table["n_finite"].to_numpy()
        verdicts = run_checks(sub, delta=delta, thresholds=finite if np.all(np.isfinite(finite)) else None,
                              ci=ci, rtol=rtol, n_boot=n_boot, seed=seed)
        out[key] = {"config": config_of(sub).to_dict(), "thresholds": table, "verdicts": verdicts}
    return out
