"""Predicted against simulated first-layer overlaps: the table of the finite-size theory's closing note.

`compare(config, ns, seeds)` runs Algorithm 1 (hm.run_path, nested grid, dense engine) for every seed and
predicts each seed with that seed's signed lambda_i (the signs decide which side of the bulk each spike sits
on), then averages both over the seeds.
"""

from __future__ import annotations

import numpy as np

from .finite_size import predict

__all__ = ["compare", "format_table"]


def compare(config, ns, seeds=(0, 1, 2, 3), n_test: int = 2000, n_mc: int = 400_000, **run_kwargs) -> dict:
    """Seed-averaged predicted and simulated q_h, per-direction cos^2 and test MSE on the grid ``ns``.

    Returns {"ns", "sim_qh", "pred_qh", "sim_cos2" (N, d1), "pred_cos2", "sim_mse", "pred_mse", "seeds"},
    each a mean over ``seeds``."""
    import hierarchical_model as hm

    run_kwargs.setdefault("engine", "dense")
    sims, preds = [], []
    for s in seeds:
        res = hm.run_path(config, list(ns), s, n_test=n_test, **run_kwargs)
        sims.append(res)
        preds.append(predict(config, ns, lam=hm.Teacher(config, s).lam, n_mc=n_mc, seed=s))
    return {
        "ns": list(ns), "seeds": list(seeds),
        "sim_qh": np.mean([[r.qh for r in res] for res in sims], axis=0),
        "pred_qh": np.mean([p.qh for p in preds], axis=0),
        "sim_cos2": np.mean([[r.cos2 for r in res] for res in sims], axis=0),
        "pred_cos2": np.mean([p.cos2 for p in preds], axis=0),
        "sim_mse": np.mean([[r.mse for r in res] for res in sims], axis=0),
        "pred_mse": np.mean([p.mse_pred for p in preds], axis=0),
    }


def format_table(cmp: dict, title: str = "") -> str:
    """Markdown table: per n, q_h and each cos^2_i as 'simulated / predicted', and the test MSE."""
    d1 = cmp["sim_cos2"].shape[1]
    head = "| n | q_h sim / pred | " + " | ".join(f"cos2_{i + 1}" for i in range(d1)) + " | mse sim / pred |"
    lines = [title, head, "|" + "---|" * (d1 + 3)] if title else [head, "|" + "---|" * (d1 + 3)]
    for k, n in enumerate(cmp["ns"]):
        cells = [f"{cmp['sim_cos2'][k, i]:.2f} / {cmp['pred_cos2'][k, i]:.2f}" for i in range(d1)]
        lines.append(f"| {n} | {cmp['sim_qh'][k]:.2f} / {cmp['pred_qh'][k]:.2f} | " + " | ".join(cells)
                     + f" | {cmp['sim_mse'][k]:.3f} / {cmp['pred_mse'][k]:.3f} |")
    return "\n".join(lines)
