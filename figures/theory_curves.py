"""Theory overlays of the figures: the finite-size prediction (`theory.finite_size.predict`), the bulk
density of C (`theory.resolvent`) and the paper's asymptotic thresholds (`theory.asymptotics`),
evaluated on a coarse grid of n and cached on disk (the finite-size prediction costs seconds per n).

Every function returns plain numpy arrays / dicts, so `figures.draw` never imports theory (`figures.data` only for
the one crossing function, when called).
The theory is that of the configuration's input model (Gaussian-equivalent, or the Hermite model's radial
W-law + remainder M, theory/hermite_finite.py); curves for seed-averaged data are means of per-seed predictions.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np


__all__ = ["theory_grid", "finite_size_curves", "finite_size_thresholds_from", "bulk_density",
           "naive_thresholds", "power_law_mse", "asymptotic_mse", "available", "DEFAULT_N_MC"]

DEFAULT_N_MC = 100_000


def theory_grid(n_min: float, n_max: float, points: int = 12) -> list[int]:
    """A geometric grid of ``points`` sample sizes from n_min to n_max (distinct integers)."""
    if not (0 < n_min <= n_max):
        raise ValueError(f"n range [{n_min}, {n_max}] is not allowed: must satisfy 0 < n_min <= n_max")
    return sorted({int(round(v)) for v in np.geomspace(n_min, n_max, points)})


# Part of every cache key: raise it whenever a change of `theory` changes its numbers (4: the soft selection of
# theory.selection and the measured Kronecker coefficients of M; 5: M's coefficients projected from E[C] and its
# exact spectrum for the paper estimator, `theory.remainder`; 6: the spectral-shift count (K3) of
# `theory.selection`; 7: M's Monte Carlo coefficients follow n_mc above 200000, `remainder.hermite_setup`; 8: the
# pairs of (M1') in M, issue 11 stop 26; 9: the default selection 'auto', rule 'extremes+anisotropic' for the
# Hermite model, stop 27; 10: the sample G's Kronecker-sum spread (K2) of theory.kronecker_spread, stop 28), so that
# a results folder's theory_cache is recomputed instead of drawing the previous theory beside new data.
THEORY_REVISION = 10


def _cache_path(cache_dir, payload: dict) -> Path | None:
    if cache_dir is None:
        return None
    key = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"{payload['kind']}-{key}.npz"


def _cached(cache_dir, payload, compute):
    path = _cache_path(cache_dir, payload)
    if path is not None and path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    out = {k: np.asarray(v) for k, v in compute().items()}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(path)
    return out


def finite_size_curves(config, ns, lam=None, n_mc: int = DEFAULT_N_MC, cache_dir=None, seeds=None,
                       estimator: str = "paper") -> dict:
    """`theory.finite_size.predict` on ``ns`` for config.input_model and ``estimator``: ns, qh (N,), cos2 (N, d1),
    mse (N,), nmse (N,) = mse / var_y, var_y (the label variance of the same law), recovered (N,), outliers (N, d1),
    bulk_edges (N, 2). With ``lam`` the prediction for those signed weights; otherwise the mean of the per-seed
    predictions of teachers ``seeds`` (default 0-3: pass the seeds of the data it overlays), never one seed's."""
    from theory.finite_size import label_variance, predict
    from theory.per_seed import predict_seeds

    ns = [int(n) for n in ns]
    lam_list = None if lam is None else [float(v) for v in lam]
    seeds = [0, 1, 2, 3] if seeds is None else [int(s) for s in seeds]
    payload = {"kind": "predict", "config": config.to_dict(), "ns": ns, "lam": lam_list, "n_mc": n_mc,
               "v": THEORY_REVISION, "seeds": None if lam is not None else seeds, "estimator": estimator}

    def compute():
        if lam is not None:
            p = predict(config, ns, lam=lam, n_mc=n_mc, estimator=estimator)
            lams = [p.lam]
        else:
            p = predict_seeds(config, ns, seeds, n_mc=n_mc, estimator=estimator)
            lams = p.per_seed["lam"]
        var_y = float(np.mean([label_variance(config, v, n_mc) for v in lams]))
        return {"ns": np.asarray(p.ns), "qh": p.qh, "cos2": p.cos2, "mse": p.mse_pred, "nmse": p.mse_pred / var_y,
                "var_y": var_y, "recovered": p.recovered, "outliers": p.outliers, "bulk_edges": p.bulk_edges}

    return _cached(cache_dir, payload, compute)


def finite_size_thresholds_from(curves: dict, level: float = 0.5) -> np.ndarray:
    """Per direction, the n where the predicted cos^2 first reaches ``level`` (log-interpolated on the
    curves' grid; NaN when not reached on it)."""
    from theory.crossing import first_crossing

    return np.asarray(first_crossing(curves["ns"], np.asarray(curves["cos2"]).T, level), float)


def bulk_density(config, n: int, x, lam=None, n_mc: int = DEFAULT_N_MC, cache_dir=None, seed: int = 0,
                 estimator: str = "paper") -> dict:
    """Limiting eigenvalue density of C's noise bulk at the points x (c = D/n, the label law truncated to the
    range n samples cover, as in `theory.ge_finite.predict_n`), and its edges, for config.input_model: the
    Hermite model's radial W-law + M (`theory.remainder`) or the Gaussian-equivalent law. ``lam`` default:
    teacher ``seed``'s signed weights (whose directions also enter M)."""
    from theory.finite_size import model_at_n
    from theory.label_laws import label_law
    from theory.resolvent import bulk_edges, density

    x = np.asarray(x, np.float64)
    payload = {"kind": "density", "config": config.to_dict(), "n": int(n), "x": [float(v) for v in x],
               "lam": None if lam is None else [float(v) for v in lam], "n_mc": n_mc, "seed": seed,
               "estimator": estimator, "v": THEORY_REVISION}

    def compute():
        c = config.D / n
        if config.input_model == "hermite":
            from theory.hermite_bulk import Bulk
            from theory.remainder import hermite_setup
            from hierarchical_model import Teacher

            t = Teacher(config, seed)
            law, rem = hermite_setup(config, t.lam if lam is None else lam, t.A, estimator, n_mc, seed)
            bulk = Bulk(c, law.truncated(int(n)), rem)
            return {"x": x, "rho": bulk.solve(x + 1e-7j)[0].imag / np.pi, "edges": np.asarray(bulk.edges())}
        law = label_law(config, lam if lam is not None else model_at_n(config, None, seed)[0], n_mc=n_mc).truncated(int(n))
        return {"x": x, "rho": density(x, c, law), "edges": np.asarray(bulk_edges(c, law))}

    return _cached(cache_dir, payload, compute)


def naive_thresholds(config) -> np.ndarray:
    """The paper's thresholds with our constants, n_i = D E[y^2] / theta_i^2 (`theory.asymptotics`)."""
    from theory.asymptotics import naive_thresholds as nt

    return np.asarray(nt(config), float)


def power_law_mse(x, gamma: float) -> np.ndarray:
    """Theorem 3.2 for gamma > 1/2 as a function of x = n / d^q: x^(-1 + 1/(2 gamma)) (prefactor 1)."""
    from theory.asymptotics import mse_asymptotic

    # mse_asymptotic takes n, d, q: with d = 2, q = 1 and n = 2 x, n / d^q = x
    return np.asarray(mse_asymptotic(2.0 * np.asarray(x, float), 2, 1, gamma), float)


def asymptotic_mse(ns, config) -> np.ndarray:
    """Theorem 3.2 with finite d (`theory.asymptotics.mse_tail`, naive thresholds): tail energy + O(1/n)."""
    from theory.asymptotics import mse_tail

    return np.asarray(mse_tail(np.asarray(ns, float), config), float)


def available() -> bool:
    """True when the theory package imports (figures fall back to data only otherwise)."""
    try:
        import theory.asymptotics  # noqa: F401
        import theory.finite_size  # noqa: F401
        import theory.resolvent  # noqa: F401
    except ImportError:
        return False
    return True

