"""Drawing the recovery of the teacher directions: per-direction cos^2 with the predicted thresholds, the angular
error after recovery and the recovered count against the m_n staircase (fig4), the collapse of cos^2 against
n / n_i, and the tail energy beside the error and q_h (P6). Same contract as `figures.draw`: plain tables in,
BASE.png and BASE.pdf out, their paths returned.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np

from .style import band, palette, save, styled, subplots, suptitle

__all__ = ["draw_directions", "draw_collapse", "draw_tail"]


@styled
def draw_directions(cos2_tbl, thresholds: dict, after_tbl, stair_tbl, stair_theory: dict, base,
                    title: str = "", principal_tbl=None) -> list[Path]:
    """Three panels: per-direction cos^2 against alpha (mean_band by i over 'alpha') with vertical lines at
    ``thresholds`` {label: (alpha_i per teacher direction 1..d1, linestyle)}; 1 - cos(theta_i) after the
    transition against n (mean_band by i over 'n') with a 1/n guide; recovered count against n (mean_band over
    'n') with the predicted staircases ``stair_theory`` {label: (corner ns, m_n)} drawn as post-steps. With
    ``principal_tbl`` (mean_band by rank k over 'alpha'), a fourth panel beside the first: the sorted cos^2 of
    the principal angles between span(A) and span(A_hat)."""
    extra = principal_tbl is not None and len(principal_tbl) > 0
    fig, axes = subplots(1, 4 if extra else 3, figsize=(17.0 if extra else 13.0, 3.6))
    idx = sorted(cos2_tbl["i"].unique())
    colors = dict(zip(idx, palette(len(idx))))
    ax, *rest = axes
    ax_pa = rest.pop(0) if extra else None
    ax_err, ax_rec = rest
    for i in idx:
        band(ax, cos2_tbl[cos2_tbl["i"] == i], "alpha", colors[i], label=fr"$i$={i}")
    for lab, (alphas, style) in thresholds.items():
        first = True
        for i in idx:
            a = alphas[i - 1] if i - 1 < len(alphas) else np.nan
            if np.isfinite(a):
                ax.axvline(a, color=colors[i], ls=style, lw=1, label=lab if first else None)
                first = False
    ax.axhline(0.5, color="0.5", lw=0.6)
    ax.set_xlabel(r"$\alpha = \log n / \log d$")
    ax.set_ylabel(r"$\cos^2\theta_i$")
    ax.set_title("per teacher direction: $||\\hat U^T u_i||^2$; vertical lines: predicted thresholds")
    ax.legend(ncol=2)
    if extra:
        ax = ax_pa
        ranks = sorted(principal_tbl["k"].unique())
        for k, color in zip(ranks, palette(len(ranks))):
            band(ax, principal_tbl[principal_tbl["k"] == k], "alpha", color, label=fr"$k$={k}", marker="s")
        ax.axhline(0.5, color="0.5", lw=0.6)
        ax.set_xlabel(r"$\alpha = \log n / \log d$")
        ax.set_ylabel(r"$\cos^2\phi_k$ (principal angles, sorted)")
        ax.set_title(r"principal angles between span($A$) and span($\hat A$)")
        ax.legend(ncol=2)
    ax = ax_err
    guide_n = []
    for i in idx:
        sub = after_tbl[after_tbl["i"] == i]
        if len(sub):
            band(ax, sub, "n", colors[i], label=fr"$i$={i}")
            guide_n.extend(sub["n"].tolist())
    if guide_n:
        nn = np.geomspace(min(guide_n), max(guide_n), 20)
        ref = after_tbl["mean"].median() * np.median(guide_n)
        ax.plot(nn, ref / nn, "k:", lw=1.2, label=r"$\propto 1/n$")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("n")
    ax.set_ylabel(r"$1 - |\cos\theta_i|$ (after the transition)")
    ax.set_title("angular error after recovery")
    ax.legend(ncol=2)
    ax = ax_rec
    band(ax, stair_tbl, "n", "k", label="measured (mean over seeds)")
    for (lab, (ns, m)), style, color in zip(stair_theory.items(), ("--", ":", "-."), ("C3", "C0", "C2")):
        ax.step(ns, m, where="post", ls=style, color=color, lw=1.3, label=lab)
    ax.set_xscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel(r"recovered count $\#\{i: \cos^2\theta_i > 1/2\}$")
    ax.set_title(r"recovered directions vs predicted $m_n$")
    ax.legend()
    if title:
        suptitle(fig, title)
    return save(fig, base)


@styled
def draw_collapse(panels: list[dict], base, title: str = "", xlabel: str = r"$n / n_i$") -> list[Path]:
    """cos^2 against n / n_i, one axis per panel {tbl, theory, title}: tbl a mean_band table over 'x' grouped by
    (d, i), theory a list of {x, y, label} curves."""
    fig, axs = subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    for ax, panel in zip(axs[0], panels):
        tbl, theory = panel["tbl"], panel.get("theory", [])
        ds = sorted(tbl["d"].unique())
        idx = sorted(tbl["i"].unique())
        markers = dict(zip(ds, "osD^v<>p*h"))
        colors = dict(zip(idx, palette(len(idx))))
        for d in ds:
            for i in idx:
                sub = tbl[(tbl["d"] == d) & (tbl["i"] == i)]
                if len(sub):
                    ax.errorbar(sub["x"], sub["mean"], yerr=[sub["mean"] - sub["lo"], sub["hi"] - sub["mean"]],
                                fmt=markers[d], ms=3.5, color=colors[i], alpha=0.8, lw=0.6, capsize=0)
        for k, c in enumerate(theory):
            ax.plot(c["x"], c["y"], "-", color="0.25", lw=0.9, alpha=0.6, label=c.get("label") if k == 0 else None)
        for d in ds:
            ax.plot([], [], markers[d], color="0.4", label=f"d = {d}")
        for i in idx:
            ax.plot([], [], "s", color=colors[i], label=fr"$i$ = {i}")
        ax.axvline(1.0, color="0.5", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(r"$\cos^2\theta_i$")
        ax.legend(ncol=2, loc="upper left", fontsize=6)
        if panel.get("title"):
            ax.set_title(panel["title"], fontsize=8)
    if title:
        suptitle(fig, title)
    return save(fig, base)


@styled
def draw_tail(mse_panel: dict, scatter: dict, overlap: dict, base, title: str = "") -> list[Path]:
    """P6: three axes.
    1. ``mse_panel`` (a `draw_curves_vs_alpha` panel): the MSE and the tail energies against alpha;
    2. ``scatter`` {tbl (`figures.data.tail_table`), lines [{x, y, label, style}]}: the MSE (seed mean band) against
       the measured tail energy, with the diagonal MSE = tail;
    3. ``overlap`` {qh (mean_band over 'alpha'), rec (mean_band of the recovered count over 'alpha'), stairs
       {label: (alphas, m)} (post-steps), d1}: q_h on the left axis, recovered counts on the right axis."""
    fig, axes = subplots(1, 3, figsize=(14.0, 4.6))
    ax = axes[0]
    curves = mse_panel["curves"]
    for color, c in zip(palette(len(curves)), curves):
        band(ax, c["tbl"], "alpha", c.get("color", color), c.get("label"), marker=c.get("marker", "o"))
    for line in mse_panel.get("lines", []):
        ax.plot(line["x"], line["y"], line.get("style", ":"), color=line.get("color", "k"), lw=1.3,
                label=line.get("label"), drawstyle=line.get("drawstyle", "default"))
    ax.set_yscale("log")
    lo = min([float(c["tbl"]["lo"].min()) for c in curves]
             + [float(np.min(y[y > 0])) for y in (np.asarray(v["y"], float) for v in mse_panel.get("lines", [])) if (y > 0).any()])
    hi = max(float(c["tbl"]["hi"].max()) for c in curves)
    ax.set_ylim(0.5 * lo, 2.0 * hi)  # a predicted tail of 0 (every direction found) leaves the log axis
    ax.set_xlabel(r"$\alpha = \log n / \log d$")
    ax.set_ylabel(mse_panel["ylabel"])
    ax.set_title(mse_panel.get("title", ""))
    ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.16), fontsize=6, ncol=2)  # below: the curves fill the axis
    ax = axes[1]
    tbl = scatter["tbl"]
    ax.errorbar(tbl["tail"], tbl["mean"], yerr=[tbl["mean"] - tbl["lo"], tbl["hi"] - tbl["mean"]], fmt="o", ms=3.5,
                color="C0", lw=0.6, label=r"measured (one point per n)")
    ok = np.isfinite(tbl["tail"]) & (tbl["tail"] > 0)
    if ok.any():
        lo, hi = float(min(tbl["tail"][ok].min(), tbl["lo"].min())), float(max(tbl["tail"][ok].max(), tbl["hi"].max()))
        ax.plot([lo, hi], [lo, hi], "k:", lw=1.0, label="error = tail energy")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"measured tail energy $Z_\gamma^2 R_{num} = \sum_j \lambda_j^2 (1 - q_j)$")
    ax.set_ylabel(scatter.get("ylabel", "test NMSE = MSE / Var(y)"))
    ax.set_title("error against the unrecovered energy")
    ax.legend(loc="upper left", fontsize=6)
    ax = axes[2]
    band(ax, overlap["qh"], "alpha", "C2", label=r"$q_h$ (left axis)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(r"$\alpha = \log n / \log d$")
    ax.set_ylabel(r"$q_h$")
    ax2 = ax.twinx()
    ax2.grid(False)
    band(ax2, overlap["rec"], "alpha", "0.3", label=r"measured #{i: $\cos^2\theta_i > 1/2$}", marker=".")
    for (lab, (x, m)), style, color in zip(overlap["stairs"].items(), ("--", ":", "-."), ("C3", "C0", "C1")):
        ax2.step(x, m, where="post", ls=style, color=color, lw=1.3, label=lab)
    ax2.set_ylim(-0.1, overlap["d1"] + 0.5)
    ax2.set_ylabel(r"recovered count $m_n$")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=6)
    ax.set_title(r"$q_h$ and the $m_n$ staircase")
    if title:
        suptitle(fig, title)
    return save(fig, base)

