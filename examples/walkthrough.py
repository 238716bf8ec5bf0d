"""A researcher's session in one script: draw a teacher, fit the layer-wise spectral learner with both
estimators of layer 1, predict the same quantities with the finite-size theory, and overlay them.

    python examples/walkthrough.py                 # d = 30, n up to 64000: about a minute on 2 cores
    python examples/walkthrough.py --quick --out /tmp/walk    # d = 20: seconds (what the tests run)

Every step is the library's public API: `hierarchical_model` (teacher, learner, metrics) and `theory`
(predictions that mirror the learner's outputs: q_h, cos^2 per direction, recovered count).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (d = 20), for the tests")
    p.add_argument("--out", default="walkthrough_out", help="folder for walkthrough.png")
    args = p.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")  # a script that only writes files
    import matplotlib.pyplot as plt

    import hierarchical_model as hm
    import theory

    d, ns = (20, [1000, 2000, 4000, 8000, 16000]) if args.quick else (30, [2000, 4000, 8000, 16000, 32000, 64000])
    seed = 0

    # 1. The target (MODEL.md section 1): x ~ N(0, I_d), h1 = A F(x), h2 = sum_i lambda_i (h1_i^2 - 1)/sqrt 2, y = g(h2).
    cfg = hm.TeacherConfig(d=d, q=2, eps=0.5, gamma=0.4, g="tanh")
    teacher = hm.Teacher(cfg, seed)
    print(f"teacher: d={d}, D={teacher.D}, d1={teacher.d1}, signed lambda = {np.round(teacher.lam, 3).tolist()}")

    # 2. The learner (Algorithm 1) on nested prefixes of the teacher's stream, with the paper's C and the
    #    chaos-projected C of HERMITE.md section 2; metrics (MODEL.md section 3) against the teacher's A.
    sim = {}
    for estimator in ("paper", "chaos"):
        learner = hm.HierarchicalSpectralLearner(teacher.d1, q=2, estimator=estimator, engine="dense")
        rows = []
        for n in learner.fit_path(teacher, ns):
            m = hm.first_layer_metrics(teacher.A, learner.A_hat_)
            rows.append({"n": n, "qh": m["qh"], "cos2": np.asarray(m["cos2"]), **learner.evaluate_stream(teacher, 2000)})
        sim[estimator] = rows
        print(f"{estimator:>5}: q_h = " + " ".join(f"{r['qh']:.2f}" for r in rows) + f"   (n = {ns})")

    # 3. The theory for the same teacher (its seed fixes the signs of lambda and the directions of A).
    pred = {est: theory.predict(cfg, ns, seed=seed, estimator=est, n_mc=50_000 if args.quick else 200_000,
                                with_mse=False) for est in ("paper", "chaos")}
    for est, pr in pred.items():
        print(f"{est:>5}: predicted q_h = " + " ".join(f"{v:.2f}" for v in pr.qh) + f"   [{pr.meta['model']}]")

    # 4. One overlay: simulated (markers) against predicted (lines), q_h and the strongest direction's cos^2.
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for (est, rows), color in zip(sim.items(), ("C0", "C3")):
        axes[0].plot(ns, [r["qh"] for r in rows], "o", color=color, label=f"simulation, {est} C")
        axes[0].plot(ns, pred[est].qh, "--", color=color, label=f"theory, {est} C")
        axes[1].plot(ns, [r["cos2"][0] for r in rows], "o", color=color)
        axes[1].plot(ns, pred[est].cos2[:, 0], "--", color=color)
    for ax, ylabel in zip(axes, (r"$q_h$", r"$\cos^2\theta_1$ (strongest direction)")):
        ax.set_xscale("log")
        ax.set_xlabel("n")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Hermite input, d={d}, g=tanh, gamma=0.4, seed {seed}: simulation vs finite-size theory", fontsize=9)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "walkthrough.png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {out / 'walkthrough.png'}")
    return {"ns": ns, "sim": sim, "pred": pred, "png": out / "walkthrough.png"}


if __name__ == "__main__":
    main()
