"""Which rows each figure draws: the figures' configuration (`BASE_CONFIG`: q = 2, eps = 0.5, orthonormal A, no
label noise, identity label transform, MODEL.md's conventions; those of `figures.recipes`), its selection in a
results table, and the splits a figure draws apart (input model, estimator of C, d, seed). Rows of the two
estimators of C (column ``estimator``: 'paper', 'chaos'; tables without it are the paper's) are never averaged
together. Among the matching rows a one-size figure uses the d with the most rows (`figures.data.main_d`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from . import data as fd
from . import theory_curves as th

__all__ = ["BASE_CONFIG", "MAIN", "PAPER", "FigureOptions", "NoData", "figure_rows", "one_size", "by_input_model",
           "by_estimator", "estimator_of", "most_gammas", "config_of", "seeds_of", "ge_rows"]


BASE_CONFIG = {"q": 2, "eps": 0.5, "a_kind": "orthonormal", "sigma": 0.0, "label_transform": "identity",
               "conventions": "model"}
MAIN = {"gamma": 0.4, "g": "id"}
PAPER = {"estimator": "paper"}


@dataclass(frozen=True)
class FigureOptions:
    """theory: draw the theory overlays; n_mc: Monte Carlo size of the label law; theory_points: n-grid size."""

    theory: bool = True
    n_mc: int = th.DEFAULT_N_MC
    theory_points: int = 12
    input_model: str = "hermite"


class NoData(ValueError):
    """The results hold no rows for a figure."""


def figure_rows(runs: pd.DataFrame, opts: FigureOptions, **cond) -> pd.DataFrame:
    """The rows of the figure's configuration (BASE_CONFIG, ``opts.input_model`` and ``cond``; a value None
    means any; conditions on columns the table lacks are dropped: a table without ``estimator`` is the paper's)."""
    want = {**BASE_CONFIG, "input_model": opts.input_model, **cond}
    want = {k: v for k, v in want.items() if k in runs.columns and v is not None}
    sub = fd.select(runs, **want) if len(runs) else runs
    if sub.empty:
        raise NoData("the results hold no rows for this figure's configuration "
                     + ", ".join(f"{k}={v}" for k, v in want.items()))
    return fd.with_alpha(sub)


def one_size(runs, opts, **cond):
    sub = figure_rows(runs, opts, **cond)
    return sub[sub["d"] == fd.main_d(sub)].copy()


def by_input_model(runs, score, **cond) -> list[tuple[str, pd.DataFrame]]:
    """The figure's rows per input model, best first by ``score(rows)`` (ties: the Gaussian-equivalent
    model, which the theory overlays are derived for)."""
    out = []
    for im in ("gaussian_equivalent", "hermite"):
        try:
            out.append((im, figure_rows(runs, FigureOptions(input_model=im), **cond)))
        except NoData:
            continue
    if not out:
        raise NoData("the results hold no rows for this figure's configuration "
                     + ", ".join(f"{k}={v}" for k, v in {**BASE_CONFIG, **cond}.items()))
    return sorted(out, key=lambda kv: -score(kv[1]))


def by_estimator(sub: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The rows per estimator of C, the paper's first (a table without the column holds the paper's only)."""
    if "estimator" not in sub.columns:
        return [("paper", sub)]
    order = sorted(sub["estimator"].unique(), key=lambda e: (e != "paper", e))
    return [(e, sub[sub["estimator"] == e].copy()) for e in order]


def estimator_of(sub: pd.DataFrame) -> str:
    return str(sub["estimator"].iloc[0]) if "estimator" in sub.columns else "paper"


def most_gammas(sub):
    """Rows at the d with the most gammas (then the most rows)."""
    per_d = sub.groupby("d")["gamma"].nunique()
    return sub[sub["d"] == max(per_d.index, key=lambda d: (per_d[d], (sub["d"] == d).sum()))].copy()


def config_of(sub: pd.DataFrame):
    from hierarchical_model import TeacherConfig

    return TeacherConfig.from_row(sub.iloc[0])


def seeds_of(sub) -> list[int]:
    return sorted(int(s) for s in sub["seed"].unique())


def ge_rows(runs, sub):
    """Rows of the Gaussian-equivalent input model with the configuration and d of ``sub`` (may be empty)."""
    if sub["input_model"].iloc[0] == "gaussian_equivalent" or "input_model" not in runs.columns:
        return None
    r = sub.iloc[0]
    try:
        ge = figure_rows(runs, FigureOptions(input_model="gaussian_equivalent"), gamma=float(r["gamma"]), g=r["g"], d=int(r["d"]))
    except NoData:
        return None
    return ge

