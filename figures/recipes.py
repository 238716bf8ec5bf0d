"""Which sweeps the figures need, per scale, as plain grid mappings for the sweep engine
(`sims.sweep.run_sweep(grid, out)`, resumable), and the baseline runs (resumable per (d, seed) shard).

Scales:
- quick: d = 20 (D = 210, d1 = 4) for fig2-5 and links, alpha up to 4; the collapse adds d = 12, 30, the Hermite
  collapse (two estimators) d = 12, 24; gamma = 1 at
  d = 12, 20; baselines at d = 30. Within 10 minutes on 2 cores, every sweep and figure included.
- cpu:   d = 40 (D = 820, d1 = 6), 3-5 seeds; collapse d = 24..56, Hermite collapse d = 20, 30 (with main's 40);
  gamma = 1 at d = 24, 40; baselines d = 30. Within 2 hours.
- paper: the paper's parameters: d = 400 (D = 80200, d1 = 20) with the matrix-free engine (a GPU machine), several
  d = 120, 250 (400), gamma = 1 at d = 120..800; spectra are not kept at these D, so P1's spectrum panel has a dense
  side sweep (d = 140, alpha = 3.5) and fig2's spectrum panels need one.
The theory-facing Gaussian-equivalent sweeps (gammas, collapse, scaling) are the model the resolvent formulas are
derived in; fig2's configuration runs in both input models (`main`, `main_ge`), and the Hermite sweeps of the
Hermite panels (main, tanh, collapse_hermite) at both estimators of C (the paper's, and the chaos-projected one of
HERMITE.md section 2). The paper scale runs the Hermite model throughout.
"""

from __future__ import annotations

import io
from pathlib import Path

from hierarchical_model._validation import check_choice

__all__ = ["SCALES", "sweeps", "baseline_recipe", "FIGURE_SWEEPS", "run_baselines_recipe", "theory_settings"]

SCALES = ("quick", "cpu", "paper")
_MAIN = {"q": 2, "eps": 0.5, "gamma": 0.4, "g": "id"}
_OTHER_GAMMAS = [0.0, 0.2, 0.6, 0.8, 1.0]
# scaling: eps = 1 (d1 = d directions), so that the staircase of recoveries spans decades of n and its sum
# can look like Theorem 3.2's power law; with d1 = d^0.5 = 4 every direction is found within one decade
_SCALING_GAMMAS = [0.4, 0.6, 0.8, 1.0]

_GE = {"input_model": "gaussian_equivalent"}
# the Hermite sweeps of the Hermite panels run both estimators of C (HERMITE.md section 2); the chaos projection
# needs x, so the Gaussian-equivalent sweeps keep the paper's
_BOTH = {"estimator": ["paper", "chaos"]}
# what each sweep varies, at the CPU scales (theory-facing sweeps in the Gaussian-equivalent model)
_MODELS = {"main": {**_MAIN, **_BOTH}, "main_ge": {**_MAIN, **_GE}, "gammas": {**_MAIN, **_GE, "gamma": _OTHER_GAMMAS},
           "tanh": {**_MAIN, "g": "tanh", **_BOTH}, "collapse": {**_MAIN, **_GE},
           "scaling": {**_MAIN, **_GE, "eps": 1.0, "gamma": _SCALING_GAMMAS},
           # beyond fig2-5: the Hermite input at several d (the Hermite collapse, and P1's several d on one axis,
           # with `main`'s d), the third link of P4 (quad = z^2 + z - 1), gamma = 1 at several d (P8, and P6's tail
           # sums at the largest d)
           "collapse_hermite": {**_MAIN, **_BOTH}, "quad": {**_MAIN, "g": "quad"}, "gamma1": {**_MAIN, "gamma": 1.0}}
# per scale: test size, and per sweep (d, seeds, alphas[, extra settings])
_MF = {"engine": "matrix_free"}
_SIZES = {
    "quick": {"n_test": 4000, "main": (20, "0-1", "1.5:4.0:0.125"), "main_ge": (20, "0-2", "1.5:4.0:0.125"),
              "gammas": (20, "0-1", "1.5:4.0:0.25"), "tanh": (20, "0-1", "1.5:4.0:0.25"),
              "collapse": ([12, 30], "0-1", "2.0:3.5:0.25"), "scaling": (16, "0-1", "1.5:4.5:0.25"),
              "collapse_hermite": ([12, 24], "0-1", "2.0:3.5:0.25"), "quad": (20, "0-1", "1.5:4.0:0.25"),
              "gamma1": ([12, 20], "0-1", "2.0:4.0:0.25")},
    "cpu": {"n_test": 10000, "main": (40, "0-3", "1.5:3.6:0.1"), "main_ge": (40, "0-4", "1.5:3.6:0.1"),
            "gammas": (40, "0-3", "1.5:3.6:0.15"), "tanh": (40, "0-4", "1.5:3.6:0.1"),
            "collapse": ([24, 32, 56], "0-2", "2.0:3.5:0.125"), "scaling": (24, "0-2", "1.5:4.25:0.125"),
            "collapse_hermite": ([20, 30], "0-2", "2.0:3.75:0.125"), "quad": (40, "0-3", "1.5:3.6:0.1"),
            "gamma1": ([24, 40], "0-2", "1.75:3.75:0.125")},
    "paper": {"n_test": 20000, "main": (400, "0-4", "1.5:3.0:0.1", _MF), "main_ge": (400, "0-4", "1.5:3.0:0.1", _MF),
              "gammas": (400, "0-4", "1.5:3.0:0.1", _MF), "tanh": (400, "0-4", "1.5:3.0:0.1", _MF),
              "collapse": ([100, 200], "0-2", "2.0:3.3:0.1"), "scaling": (64, "0-4", "1.5:4.0:0.1"),
              # the paper's P1 (d = 120, 250, 400 with `main`, 10 seeds), P4 and P8 (d = 120, 250, 400) and P6 (d = 800)
              "collapse_hermite": ([120, 250], "0-9", "1.5:3.4:0.1", _MF), "quad": (400, "0-4", "1.5:3.0:0.1", _MF),
              "gamma1": ([120, 250, 400, 800], "0-4", "1.5:3.1:0.1", _MF),
              # P1's spectrum panel: d = 140 at alpha = 3.5 (D = 9870: dense, the full spectrum is kept)
              "spectrum": (140, "0", "3.5", {"engine": "dense"})},
}
_MODELS["spectrum"] = _MAIN
_PAPER_HERMITE = ("gammas", "collapse", "scaling")  # the paper scale runs the theory-facing sweeps in its own model


def _grid(scale: str, name: str) -> dict:
    d, seeds, alphas, *extra = _SIZES[scale][name]
    model = dict(_MODELS[name])
    if scale == "paper" and name in _PAPER_HERMITE:
        model.pop("input_model")
    return {**model, "d": d, "seeds": seeds, "alphas": alphas, "n_test": _SIZES[scale]["n_test"], **(extra[0] if extra else {})}


# The depth-versus-kernel comparison (P7): every method on the same n samples. At d = 10-14 a degree-4 kernel
# interpolates the target once n passes its C(d+4, 4) features while the learner is far from its asymptotics,
# the opposite of the paper's claim; at d = 30 the separation shows within n <= 10^5: RBF kernel ridge on x
# stalls (it learns the degree-2 part of y) while the learner, and RBF kernel ridge on its h1_hat, keep improving.
# The paper's own parameters (d = 200, eps = 0.4, gamma = 0.2) at the paper scale.
_BASELINES = {
    "quick": {"d": [30], "ns": [2000, 8000, 32000, 100000], "seeds": [0], "kernel_memory_gb": 0.25,
              "n_landmarks": 1000, "n_test": 4000},
    "cpu": {"d": [30], "ns": [1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000], "seeds": [0, 1, 2],
            "kernel_memory_gb": 1.0, "n_landmarks": 2000, "n_test": 10000},
    "paper": {"d": [200], "eps": 0.4, "gamma": 0.2, "ns": [1000, 2000, 4000, 8000, 16000, 64000, 256000, 1024000],
              "kernel_max_n": 16000, "seeds": [0, 1, 2, 3, 4], "kernel_memory_gb": 12.0, "n_landmarks": 4000,
              "n_test": 20000},
}
_BASELINE_METHODS = ("hierarchical", "kernel", "kernel_hhat")  # ridge on all Hermite features of degree <= 4
# (P = C(d+4, 4) + ... features) needs P^2 memory: beyond reach at d >= 20, it stays in the library
_BASELINE_ESTIMATORS = ("paper", "chaos")

# theory: Monte Carlo size of the label law and points of the n grid per curve
_THEORY = {"quick": {"n_mc": 40_000, "theory_points": 10}, "cpu": {"n_mc": 200_000, "theory_points": 16},
           "paper": {"n_mc": 400_000, "theory_points": 20}}

# the sweeps each figure reads (all of them sit under one results root)
FIGURE_SWEEPS = {"fig2": ["main", "main_ge"], "fig3": ["main_ge", "gammas"], "fig4": ["main", "main_ge"],
                 "fig5": ["tanh"], "baselines": ["baselines"],
                 "collapse": ["main_ge", "collapse", "main", "collapse_hermite"], "scaling": ["scaling"],
                 "multid": ["main", "collapse_hermite", "spectrum"], "links": ["main", "tanh", "quad"],
                 "gamma1": ["gamma1"], "tail": ["gamma1"]}


def sweeps(scale: str) -> dict:
    """{sweep name: grid mapping} of a scale (fresh copies: callers may modify them)."""
    check_choice("scale", scale, SCALES)
    return {name: _grid(scale, name) for name in _MODELS if name in _SIZES[scale]}


def baseline_recipe(scale: str) -> dict:
    """The baselines' input dimensions, sample sizes, seeds, kernel memory budget and test size of a scale."""
    check_choice("scale", scale, SCALES)
    return {**_MAIN, **{k: (list(v) if isinstance(v, list) else v) for k, v in _BASELINES[scale].items()}}


def theory_settings(scale: str) -> dict:
    check_choice("scale", scale, SCALES)
    return dict(_THEORY[scale])


def run_baselines_recipe(recipe: dict, out, log=print) -> list[Path]:
    """Run `hierarchical_model.baselines.run_baselines` for every (d, seed) of ``recipe`` into
    OUT/baselines-d{d}-s{seed}.parquet; shards already on disk are kept (resumable). Returns the shard paths."""
    import time

    import pandas as pd

    import hierarchical_model as hm
    from hierarchical_model.baselines import run_baselines
    from sims.store import atomic_write_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for d in recipe["d"]:
        cfg = hm.TeacherConfig(d=d, q=recipe["q"], eps=recipe["eps"], gamma=recipe["gamma"], g=recipe["g"],
                               sigma=recipe.get("sigma", 0.0))
        for seed in recipe["seeds"]:
            path = out / f"baselines-d{d}-s{seed}.parquet"
            paths.append(path)
            if path.exists():
                continue
            t0 = time.perf_counter()
            recs = run_baselines(cfg, recipe["ns"], seed, methods=_BASELINE_METHODS, estimators=_BASELINE_ESTIMATORS,
                                 n_test=recipe["n_test"], memory_gb=recipe["kernel_memory_gb"],
                                 n_landmarks=recipe.get("n_landmarks"), kernel_max_n=recipe.get("kernel_max_n"))
            buf = io.BytesIO()
            pd.DataFrame(recs).to_parquet(buf, index=False)
            atomic_write_bytes(path, buf.getvalue())
            log(f"baselines d={d} seed={seed}: {len(recs)} fits in {time.perf_counter() - t0:.1f}s -> {path}")
    return paths

