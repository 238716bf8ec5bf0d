"""One run of the whole pipeline on generated data: teacher -> learner -> metrics (MODEL.md section 3)."""

from __future__ import annotations

import time

import numpy as np

from ._validation import check_int
from ._x64 import float64
from .learner import HierarchicalSpectralLearner
from .metrics import RunResult, first_layer_metrics
from .teacher import MAX_SAMPLES, Teacher, TeacherConfig

__all__ = ["run", "run_path"]


@float64
def run(config: TeacherConfig, n: int, seed: int = 0, *, n_test: int = 10000, **learner_kwargs) -> RunResult:
    """Draw the teacher of ``seed``, fit on its first n training samples, evaluate on n_test fresh ones."""
    return run_path(config, [n], seed, n_test=n_test, **learner_kwargs)[0]


@float64
def run_path(config: TeacherConfig, ns, seed: int = 0, *, n_test: int = 10000, progress=None, spectrum_ns=None,
             data_seed: int | None = None, **learner_kwargs) -> list[RunResult]:
    """`run` at every n of an increasing grid, on nested prefixes of one training stream (one pass over
    the largest n for the dense engine; warm-started Krylov solves for the matrix-free one). Each point
    is a valid sample of its size; different seeds are independent. ``progress(result)`` is called
    after each point. ``spectrum_ns``: the n whose RunResult carries the whole spectrum of C (None: every n,
    dense engine and D <= 5000; elsewhere only the top d1 eigenpairs are computed, see `engines.dense_top`).
    ``data_seed``: the seed of the training and test streams (default ``seed``): another training set for the same
    teacher, to separate the data's fluctuation from the teacher's (`theory.compare`). RunResult.seed stays the
    teacher's."""
    n_test = check_int("n_test", n_test, 1, MAX_SAMPLES)
    data_seed = seed if data_seed is None else check_int("data_seed", data_seed, 0, 2**31 - 1)
    teacher = Teacher(config, seed)
    learner = HierarchicalSpectralLearner(teacher.d1, config.q, input_model=config.input_model, **learner_kwargs)
    out = []
    t_start = time.perf_counter()
    for n in learner.fit_path(teacher, ns, data_seed, spectrum_ns):
        t_fit = time.perf_counter()
        err = learner.evaluate_stream(teacher, n_test, data_seed)
        t_end = time.perf_counter()
        m = first_layer_metrics(teacher.A, learner.A_hat_)
        timings = dict(learner.timings_, test=t_end - t_fit)
        res = RunResult(
            n=int(n), d=config.d, q=config.q, D=teacher.D, d1=teacher.d1, gamma=config.gamma,
            g=config.link_name, seed=seed, input_model=config.input_model, engine=learner.engine_,
            eps=config.eps, qh=m["qh"], cos2=_floats(m["cos2"]), ang_err=_floats(m["ang_err"]),
            principal_cos2=_floats(m["principal_cos2"]), converged=bool(learner.converged_),
            eig_residual=learner.eigen_info_.max_residual if learner.eigen_info_.residuals is not None else float("nan"),
            lam=_floats(teacher.lam), top_eigs=_floats(learner.eigenvalues_), eig_tags=[int(t) for t in m["eig_tags"]],
            eig_overlaps=_floats(m["eig_overlaps"]), recovered=m["recovered"], mse=err["mse"], nmse=err["nmse"],
            var_y=err["var_y"], ridge=float(learner.ridge_), n_test=n_test, passes=int(learner.n_passes_),
            seconds=t_end - t_start, estimator=learner.estimator, sigma=config.sigma,
            a_kind=config.a_kind, conventions=config.conventions, timings={k: round(v, 4) for k, v in timings.items()},
            spectrum=None if learner.spectrum_ is None else _floats(learner.spectrum_))
        out.append(res)
        if progress is not None:
            progress(res)
        t_start = time.perf_counter()
    return out


def _floats(a) -> list:
    return [float(v) for v in np.asarray(a, np.float64).ravel()]
