"""One outcome schema for simulation and theory (neural-tangents style): `simulate(config, ns, seed)` here and
`theory.predict(config, ns, seed=seed)` return the same fields, so an overlay is one line,

    for o in (hm.simulate(cfg, ns, seed), theory.predict(cfg, ns, seed=seed)): ax.plot(o.ns, o.qh)

and both use the teacher of ``seed`` (its signed lambda from `Teacher(config, seed).lam`, the one pure function
of the signs), so a prediction cannot be paired with another teacher's data.

Fields (rows follow ns, columns teacher order): ns (N,); lam (d1,) signed; qh (N,) = mean_i cos2_i (MODEL.md
section 3); cos2 (N, d1); top_eigs (N, d1) (simulation: the d1 eigenvalues of largest |eigenvalue| of C, in
the learner's order; theory: each direction's predicted outlier, NaN inside the bulk); bulk_edges (N, 2) (theory; NaN
for a simulation: the sample spectrum has no edge without a fit); recovered (N,) = #{i: cos2_i > 1/2}; mse (N,);
nmse (N,) = mse / Var(y).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .experiment import run_path
from .teacher import TeacherConfig

__all__ = ["OUTCOME_FIELDS", "Outcome", "simulate"]

OUTCOME_FIELDS = ("ns", "lam", "qh", "cos2", "top_eigs", "bulk_edges", "recovered", "mse", "nmse")


@dataclass(frozen=True)
class Outcome:
    """A simulation's outputs on a grid of n, with the field names that `theory.Prediction` also has."""

    ns: np.ndarray
    lam: np.ndarray
    qh: np.ndarray
    cos2: np.ndarray
    top_eigs: np.ndarray
    bulk_edges: np.ndarray
    recovered: np.ndarray
    mse: np.ndarray
    nmse: np.ndarray
    runs: tuple = ()  # the RunResult of each n (timings, passes, convergence, the rest of a results row)

    @classmethod
    def from_runs(cls, runs) -> "Outcome":
        """The outcome of `run_path`'s results (one teacher, increasing n)."""
        runs = tuple(runs)
        if not runs:
            raise ValueError("runs=() is not allowed: give the results of at least one n")
        col = lambda k: np.array([getattr(r, k) for r in runs], float)  # noqa: E731
        return cls(ns=col("n").astype(int), lam=np.asarray(runs[0].lam, float), qh=col("qh"), cos2=col("cos2"),
                   top_eigs=col("top_eigs"), bulk_edges=np.full((len(runs), 2), np.nan), recovered=col("recovered"),
                   mse=col("mse"), nmse=col("nmse"), runs=runs)


def simulate(config: TeacherConfig, ns, seed: int = 0, **run_kwargs) -> Outcome:
    """Algorithm 1 on the teacher of ``seed`` at every n of ``ns`` (nested prefixes of one stream, `run_path`;
    ``run_kwargs``: n_test and the learner's hyper-parameters), as an `Outcome`."""
    return Outcome.from_runs(run_path(config, sorted(int(n) for n in np.atleast_1d(ns)), seed, **run_kwargs))
