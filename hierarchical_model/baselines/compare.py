"""Every baseline and the hierarchical learner on exactly the same samples of one teacher (the package docstring)."""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_choice, check_int
from .._x64 import float64
from ..learner import HierarchicalSpectralLearner
from ..splits import VALID_EVERY
from ..teacher import Teacher, TeacherConfig
from .common import DEFAULT_BUDGET_GB
from .hermite_ridge import HermiteRidge
from .kernel_ridge import KernelRidge

__all__ = ["run_baselines", "BASELINE_METHODS"]

BASELINE_METHODS = ("hierarchical", "kernel", "kernel_hhat", "hermite_ridge")


@float64
def run_baselines(config: TeacherConfig, ns, seed: int = 0, *, methods=BASELINE_METHODS, n_test: int = 10000,
                  memory_gb: float = DEFAULT_BUDGET_GB, kernel: str = "rbf", estimators=("paper",),
                  kernel_max_n: int | None = None, n_landmarks: int | None = None, engine: str = "auto") -> list[dict]:
    """Fit every method of ``methods`` on the first n training samples of the teacher of ``seed`` and evaluate
    it on the same n_test test samples.

    Every method sees exactly the same n samples with the same held-out fifth (index % 5 == 4) for its ridge:
    the hierarchical learner is fitted with `HierarchicalSpectralLearner.fit(X[:n], y[:n])`, not on a stream
    with extra validation samples. Methods: 'hierarchical' (the learner, once per estimator of ``estimators``),
    'kernel' (``kernel`` ridge on x), 'kernel_hhat' (rbf kernel ridge on the learner's h1_hat = A_hat F(x), once
    per estimator), 'hermite_ridge'. A method of estimator e != 'paper' is recorded as 'METHOD_e'.
    ``kernel_max_n``: the kernel methods stop above this n; ``n_landmarks``: their Nystrom size beyond the budget.
    Sizes a method refuses for memory are skipped (reported with mse = NaN and the reason). Returns one
    record per (method, n): method, n, d, q, gamma, g, seed, mse, nmse, var_y, ridge, seconds, skipped, solver."""
    import time

    ns = sorted({check_int("n", n, VALID_EVERY) for n in ns})
    methods = [check_choice("method", m, BASELINE_METHODS) for m in methods]
    check_choice("input_model", config.input_model, ("hermite",))  # the baselines see x, not the features
    n_test = check_int("n_test", n_test, 1)
    kernel_max_n = ns[-1] if kernel_max_n is None else check_int("kernel_max_n", kernel_max_n, 1)
    teacher = Teacher(config, seed)
    base = {"d": config.d, "q": config.q, "gamma": config.gamma, "g": config.link_name, "eps": config.eps,
            "d1": config.latent, "sigma": config.sigma, "seed": seed, "n_test": n_test}
    X_test, y_test = (np.asarray(a, np.float64) for a in teacher.sample(n_test, "test", seed))
    X_all, y_all = (np.asarray(a, np.float64) for a in teacher.sample(ns[-1], "train", seed))
    out = []

    def record(method, n, fit_and_evaluate):
        t0 = time.perf_counter()
        try:
            err, model = fit_and_evaluate()
            rec = {**err, "ridge": float(model.ridge_), "skipped": "", "solver": getattr(model, "solver_", "")}
        except ValueError as exc:  # over the memory budget: skip this size, keep the reason
            rec = {"mse": math.nan, "nmse": math.nan, "var_y": math.nan, "ridge": math.nan, "skipped": str(exc),
                   "solver": ""}
        out.append({**base, "method": method, "n": n, **rec, "seconds": time.perf_counter() - t0})

    for estimator in estimators if ("hierarchical" in methods or "kernel_hhat" in methods) else ():
        tag = "" if estimator == "paper" else f"_{estimator}"
        kw = {} if estimator == "paper" else {"estimator": estimator}
        for n in ns:
            learner = HierarchicalSpectralLearner(teacher.d1, config.q, input_model=config.input_model, engine=engine,
                                                  memory_gb=memory_gb, **kw)
            t0 = time.perf_counter()
            learner.fit(X_all[:n], y_all[:n])
            t_fit = time.perf_counter() - t0
            if "hierarchical" in methods:
                record("hierarchical" + tag, n, lambda: (learner.evaluate(X_test, y_test), learner))
                out[-1]["seconds"] += t_fit
            if "kernel_hhat" in methods and n <= kernel_max_n:
                H, H_test = learner.latent_fields(X_all[:n]), learner.latent_fields(X_test)
                model = KernelRidge("rbf", memory_gb=memory_gb, n_landmarks=n_landmarks)
                record("kernel_hhat" + tag, n, lambda: (model.fit(H, y_all[:n]).evaluate(H_test, y_test), model))
    for method in ("kernel", "hermite_ridge"):
        if method not in methods:
            continue
        model = (KernelRidge(kernel, degree=2 * config.q, memory_gb=memory_gb, n_landmarks=n_landmarks) if method == "kernel"
                 else HermiteRidge(2 * config.q, memory_gb=memory_gb))
        for n in ns:
            if method == "kernel" and n > kernel_max_n:
                continue
            record(method, n, lambda: (model.fit(X_all[:n], y_all[:n]).evaluate(X_test, y_test), model))
    return out
