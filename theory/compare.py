"""Predicted against simulated first-layer overlaps: the table of the finite-size theory's closing note.

`compare(config, ns, seeds)` runs Algorithm 1 (hm.run_path, nested grid, dense engine) for every seed and
predicts each seed with that seed's signed lambda_i (the signs decide which side of the bulk each spike sits
on), then averages both over the seeds. ``streams`` > 1 trains each teacher on several independent data sets, and
the standard errors it returns say which differences the data's noise explains.

Pipeline layer: consumer (`theory.PIPELINE`).
"""

from __future__ import annotations

import numpy as np

from hierarchical_model._validation import check_int

from .finite_size import predict

__all__ = ["compare", "format_table", "simulate_first_layer", "simulate_hermite"]


def simulate_first_layer(lam, g, D: int, ns, seed: int = 0, sigma: float = 0.0, block: int = 2000) -> list[dict]:
    """Algorithm 1's first layer on Gaussian-equivalent data, directly in numpy, at every n of a nested grid.

    g_mu ~ N(0, I_D); by rotation invariance A = the first d1 coordinate vectors, so h1 = g[:d1];
    y = link(h2) + sigma xi; C = (1/n) sum_mu y_mu (g_mu g_mu^T - I_D), accumulated over blocks as float32
    GEMMs into float64 (as the dense engine). Per n: {"n", "eigs" (the d1 eigenvalues of largest |.|, in
    decreasing |.|), "cos2" (d1,): |U_hat^T u_i|^2 with U_hat their eigenvectors}."""
    from hierarchical_model import make_link

    link = make_link(g)
    lam = np.asarray(lam, np.float64)
    d1 = lam.size
    rng = np.random.default_rng(seed)
    S, sw, done, out = np.zeros((D, D)), 0.0, 0, []
    for n in ns:
        while done < n:
            G = rng.standard_normal((min(block, n - done), D)).astype(np.float32)
            h = G[:, :d1].astype(np.float64)
            w = np.asarray(link(((h**2 - 1) @ lam) / np.sqrt(2)), np.float64)
            if sigma > 0:
                w = w + sigma * rng.standard_normal(w.size)
            S += ((G * w[:, None].astype(np.float32)).T @ G).astype(np.float64)
            sw += w.sum()
            done += G.shape[0]
        ev, V = np.linalg.eigh(S / n - (sw / n) * np.eye(D))
        top = np.argsort(-np.abs(ev))[:d1]
        out.append({"n": n, "eigs": ev[top], "cos2": np.sum(V[:d1, top] ** 2, axis=1)})
    return out


def simulate_hermite(config, seed: int, ns, labels=None, block: int = 4096, data_seed: int | None = None) -> list[dict]:
    """Both first-layer matrices of the Hermite model (q = 2) at every n of a nested grid, densely in numpy:
    C = (1/n) sum y (F F^T - I) (paper) and C_chaos = C - (G (+) G), G = (1/n) sum y (x x^T - I) (HERMITE.md
    section 2), F from HermiteFeatures.explicit on teacher ``seed``'s training stream, float32 GEMMs accumulated
    in float64. ``labels``: optional replacement labels (n_max,) (e.g. +-1 independent of x for the pure-noise
    bulk). ``data_seed``: the training stream's seed (default ``seed``; as `hm.run_path`). Per n and estimator: {"spec" (D,), "span" (D,): each eigenvector's squared overlap with span(A),
    "cos2" (d1,): Algorithm 1's d1 largest-|eigenvalue| selection}."""
    import hierarchical_model as hm

    from .remainder import symmetric_basis

    t = hm.Teacher(config, seed)
    d, D, d1 = config.d, config.D, config.latent
    iu, ju = np.triu_indices(d)  # the multisets {i <= j} in HermiteFeatures' lexicographic order
    P = symmetric_basis(d).reshape(D, d * d)
    X_all, y_all = (np.asarray(a) for a in t.sample(max(ns), seed=data_seed))
    X_all = X_all.astype(np.float32)
    y_all = np.asarray(y_all if labels is None else labels, np.float64)
    S, G, sy, done, out = np.zeros((D, D)), np.zeros((d, d)), 0.0, 0, []
    for n in ns:
        while done < n:
            X, y = X_all[done:min(done + block, n)], y_all[done:min(done + block, n)]
            F = (X[:, iu] * X[:, ju]).astype(np.float32)
            F[:, iu == ju] = (F[:, iu == ju] - 1.0) / np.float32(np.sqrt(2.0))
            S += ((F * y[:, None].astype(np.float32)).T @ F).astype(np.float64)
            G += (X.astype(np.float64) * y[:, None]).T @ X - y.sum() * np.eye(d)
            sy, done = sy + y.sum(), done + X.shape[0]
        C = S / n - (sy / n) * np.eye(D)
        ksum = P @ (np.kron(G / n, np.eye(d)) + np.kron(np.eye(d), G / n)) @ P.T
        rec = {"n": n}
        for name, M in (("paper", C), ("chaos", C - ksum)):
            ev, V = np.linalg.eigh(M)
            top = np.argsort(-np.abs(ev))[:d1]
            proj = t.directions @ V
            rec[name] = {"spec": ev, "span": np.sum(proj**2, axis=0), "cos2": np.sum(proj[:, top] ** 2, axis=1)}
        out.append(rec)
    return out


#: Stream k >= 1 of teacher ``seed`` trains on data seed seed + k * STREAM_STRIDE: a prime above any seed a sweep
#: uses, so for seeds below it no extra stream is another teacher's own stream 0.
STREAM_STRIDE = 1_000_003


def compare(config, ns, seeds=(0, 1, 2, 3), n_test: int = 2000, n_mc: int = 400_000, streams: int = 1,
            law_draws: int = 1, **run_kwargs) -> dict:
    """Seed-averaged predicted and simulated q_h, per-direction cos^2 and test MSE on the grid ``ns``, with the
    error bars that say whether a difference is a miss of the theory or the noise of the data.

    Teacher s is simulated on ``streams`` independent training sets (stream 0: run_path's own, data seed s;
    stream k: s + k * STREAM_STRIDE) and its simulated values are their mean: the prediction is an expectation
    over the data, so more streams shrink the data's noise without changing what is compared. ``law_draws``: each
    prediction is the mean over that many Monte Carlo draws of its label law (`predict`), which shrinks the theory's
    own Monte Carlo noise in the same way.

    Returns {"ns", "seeds", "streams", "sim_qh", "pred_qh", "sim_cos2" (N, d1), "pred_cos2", "sim_mse", "pred_mse"},
    each a mean over ``seeds``, and
      "se_qh", "se_cos2": the standard error of that mean of (simulated - predicted), from the spread of the
        per-seed paired differences, sd_s / sqrt(S) (ddof 1; NaN for one seed);
      "data_se_qh", "data_se_cos2" (NaN for one stream): the part due to the data draw alone,
        sqrt(sum_s var_s / streams) / S, var_s the across-stream variance (ddof 1) of teacher s.
    Why it matters: near a direction's transition, cos^2 of one data draw of the Hermite model at d = 40 has an
    sd of up to 0.24 (tanh) and 0.42 (g = id) for a fixed teacher, so the mean of 4 seeds with one stream each carries
    a data error of up to 0.05-0.12 there (measured on 9 streams per teacher, issue 11). On the grid n = 4000..64000
    (d = 40, gamma = 0.4, 4 seeds x 5 n x 6 directions) even an exact prediction, stood in for by the mean of 15 other
    streams, keeps every per-direction difference within 0.08 of a one-stream 4-seed mean in only 63% (tanh, paper
    estimator), 41% (tanh, chaos), 3% (id, paper) and 2% (id, chaos) of the 16^4 ways to pick one stream per
    teacher (stop 29); a bound that tight needs several streams."""
    import hierarchical_model as hm

    streams = check_int("streams", streams, 1, 1000)
    seeds = [check_int("seed", s, 0, STREAM_STRIDE - 1) for s in seeds]
    run_kwargs.setdefault("engine", "dense")
    sim_qh, sim_cos2, sim_mse, preds = [], [], [], []
    for s in seeds:
        per_stream = [hm.run_path(config, list(ns), s, n_test=n_test, data_seed=s + k * STREAM_STRIDE, **run_kwargs)
                      for k in range(streams)]
        sim_qh.append([[r.qh for r in res] for res in per_stream])
        sim_cos2.append([[r.cos2 for r in res] for res in per_stream])
        sim_mse.append([[r.mse for r in res] for res in per_stream])
        preds.append(predict(config, ns, seed=s, n_mc=n_mc, estimator=run_kwargs.get("estimator", "paper"),
                             law_draws=law_draws))
    sim_qh, sim_cos2, sim_mse = (np.asarray(a, np.float64) for a in (sim_qh, sim_cos2, sim_mse))  # (S, streams, N, ...)
    pred_qh = np.array([p.qh for p in preds])
    pred_cos2 = np.array([p.cos2 for p in preds])

    def se_of_mean(diff):  # (S, ...) -> (...)
        return diff.std(axis=0, ddof=1) / np.sqrt(len(seeds)) if len(seeds) > 1 else np.full(diff.shape[1:], np.nan)

    def data_se(x):  # (S, streams, ...) -> (...)
        if streams < 2:
            return np.full(x.shape[2:], np.nan)
        return np.sqrt(x.var(axis=1, ddof=1).sum(axis=0) / streams) / len(seeds)

    return {
        "ns": list(ns), "seeds": list(seeds), "streams": streams,
        "sim_qh": sim_qh.mean(axis=(0, 1)), "pred_qh": pred_qh.mean(axis=0),
        "sim_cos2": sim_cos2.mean(axis=(0, 1)), "pred_cos2": pred_cos2.mean(axis=0),
        "sim_mse": sim_mse.mean(axis=(0, 1)), "pred_mse": np.mean([p.mse_pred for p in preds], axis=0),
        "se_qh": se_of_mean(sim_qh.mean(axis=1) - pred_qh), "se_cos2": se_of_mean(sim_cos2.mean(axis=1) - pred_cos2),
        "data_se_qh": data_se(sim_qh), "data_se_cos2": data_se(sim_cos2),
    }


def format_table(cmp: dict, title: str = "") -> str:
    """Markdown table: per n, q_h and each cos^2_i as 'simulated / predicted (+- se)', and the test MSE; se is the
    standard error of the seed mean of their difference (`compare`), left out where it is not known."""
    d1 = cmp["sim_cos2"].shape[1]
    se_qh, se_cos2 = cmp.get("se_qh"), cmp.get("se_cos2")

    def pm(se):
        return f" ± {se:.2f}" if se is not None and np.isfinite(se) else ""

    head = "| n | q_h sim / pred | " + " | ".join(f"cos2_{i + 1}" for i in range(d1)) + " | mse sim / pred |"
    lines = [title, head, "|" + "---|" * (d1 + 3)] if title else [head, "|" + "---|" * (d1 + 3)]
    for k, n in enumerate(cmp["ns"]):
        cells = [f"{cmp['sim_cos2'][k, i]:.2f} / {cmp['pred_cos2'][k, i]:.2f}{pm(None if se_cos2 is None else se_cos2[k, i])}"
                 for i in range(d1)]
        lines.append(f"| {n} | {cmp['sim_qh'][k]:.2f} / {cmp['pred_qh'][k]:.2f}{pm(None if se_qh is None else se_qh[k])} | "
                     + " | ".join(cells)
                     + f" | {cmp['sim_mse'][k]:.3f} / {cmp['pred_mse'][k]:.3f} |")
    return "\n".join(lines)
