"""Drawing the curves against alpha and the spectra of C (fig2, fig3, fig5, multid, links, gamma1), the baselines
and the scaling figure, from the prepared data of `figures.data` and `figures.theory_curves`; the per-direction
recovery figures are in `figures.draw_recovery`, the house style and the shared primitives in `figures.style`.

Every function takes plain DataFrames / arrays and an output base path, writes BASE.png and BASE.pdf and returns
the two paths. Data are markers with a mean +- sem band over seeds; theory is drawn as lines (finite-size
prediction: dashed; the paper's asymptotic forms: dotted).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from .style import band, palette, save, styled, subplots, suptitle, theory_line

__all__ = ["draw_curves_vs_alpha", "draw_spectra", "spectrum_axis", "draw_baselines", "draw_scaling"]


@styled
def draw_curves_vs_alpha(panels: list[dict], base, title: str = "") -> list[Path]:
    """One axis per panel; a panel holds ylabel, logy, and curves: [{tbl, label, theory_x, theory_y,
    theory_label, and optionally color, marker, ls (data line), theory_style}] with tbl a mean_band table over
    'alpha'; optionally vlines [(alpha, label[, color, style])], lines [{x, y, color, style, label}] (guides),
    ylim, legend_loc. A panel {"spectrum": s} draws a spectrum of C instead (see `draw_spectra`)."""
    fig, axes = subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if "spectrum" in panel:
            spectrum_axis(ax, panel["spectrum"])
            continue
        curves = panel["curves"]
        for color, c in zip(palette(len(curves)), curves):
            color = c.get("color", color)
            band(ax, c["tbl"], "alpha", color, c.get("label"), marker=c.get("marker", "o"), ls=c.get("ls", "-"))
            theory_line(ax, c.get("theory_x"), c.get("theory_y"), color, c.get("theory_label"),
                         style=c.get("theory_style", "--"))
        for line in panel.get("lines", []):
            ax.plot(line["x"], line["y"], line.get("style", ":"), color=line.get("color", "k"), lw=1.2,
                    label=line.get("label"))
        if panel.get("logy"):
            ax.set_yscale("log")
        for xv, lab, *how in panel.get("vlines", []):
            color, style = (how + ["0.4", ":"][len(how):])[:2]
            ax.axvline(xv, color=color, ls=style, lw=1, label=lab if how else None)
            if not how:
                ax.annotate(lab, (xv, 1.0), xycoords=("data", "axes fraction"), ha="left", va="top", fontsize=7)
        if panel.get("ylim"):
            ax.set_ylim(*panel["ylim"])
        ax.set_xlabel(r"$\alpha = \log n / \log d$")
        ax.set_ylabel(panel["ylabel"])
        ax.set_title(panel.get("title", ""))
        ax.legend(loc=panel.get("legend_loc", "best"))
    if title:
        suptitle(fig, title)
    return save(fig, base)


def spectrum_axis(ax, s: dict):
    """A histogram of all eigenvalues of C with vertical lines at the top-d1 eigenvalues, labelled with the teacher
    direction their eigenvector aligns with; optionally the predicted density and its edges."""
    tag_colors = matplotlib.colormaps["tab10"].colors  # the colours of fig4's directions
    eigs = np.asarray(s["eigs"], float)
    ax.hist(eigs, bins=max(20, int(np.sqrt(eigs.size) * 1.5)), density=True, color="0.75", label="eigenvalues of C")
    if s.get("theory_x") is not None:
        ax.plot(s["theory_x"], s["theory_rho"], "k--", lw=1.2, label=s.get("theory_label", "predicted bulk density"))
    for e in s.get("edges", []) or []:
        ax.axvline(e, color="k", ls=":", lw=0.8)
    for value, tag in s["outliers"]:
        color = "0.3" if tag is None else tag_colors[(tag - 1) % 10]
        ax.axvline(value, color=color, lw=1.3, ymax=0.9)
        ax.annotate("?" if tag is None else f"{tag}", (value, 0.93), xycoords=("data", "axes fraction"),
                    color=color, ha="center", va="bottom", fontsize=8, fontweight="bold")
    if s.get("logy"):
        ax.set_yscale("log")
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_title(s.get("title") or fr"{s.get('input_model', '')} input, $\alpha$ = {s['alpha']:.2f} (n = {s['n']})")
    ax.legend(loc="center left", fontsize=6)


@styled
def draw_spectra(spectra: list[dict], base, title: str = "") -> list[Path]:
    """One axis per spectrum dict (rows of three): alpha, n, eigs (all eigenvalues of C), outliers
    [(value, tag or None)] (vertical lines at the top-d1 eigenvalues, labelled with the teacher index their
    eigenvector aligns with, '?' when no overlap exceeds 1/2), and optionally theory_x, theory_rho, edges."""
    cols = min(3, len(spectra))
    rows = -(-len(spectra) // cols)
    fig, axes = subplots(rows, cols, figsize=(4.4 * cols, 3.3 * rows), squeeze=False)
    for ax, s in zip(axes.ravel(), spectra):
        spectrum_axis(ax, s)
    for ax in axes.ravel()[len(spectra):]:
        ax.set_visible(False)
    if title:
        suptitle(fig, title + "\nvertical lines: the top-$d_1$ eigenvalues, labelled with the teacher direction their "
                  "eigenvector aligns with ($\\cos^2 > 1/2$; ? otherwise)")
    return save(fig, base)


@styled
def draw_baselines(tbl, marks: dict, base, title: str = "") -> list[Path]:
    """NMSE against n per method, one axis per d; ``marks`` {d: [(n, label), ...]} vertical reference lines."""
    ds = sorted(tbl["d"].unique())
    fig, axes = subplots(1, len(ds), figsize=(max(6.5, 4.6 * len(ds)), 4.0), squeeze=False)
    names = {"hierarchical": "hierarchical spectral learner (paper's C)",
             "hierarchical_chaos": "hierarchical spectral learner (chaos-projected C)",
             "kernel": "RBF kernel ridge on x (median heuristic)",
             "kernel_hhat": r"RBF kernel ridge on $\hat h_1$ (paper's C)",
             "kernel_hhat_chaos": r"RBF kernel ridge on $\hat h_1$ (chaos-projected C)",
             "hermite_ridge": r"ridge on Hermite features, deg $\leq 2q$"}
    for ax, d in zip(axes[0], ds):
        sub = tbl[tbl["d"] == d]
        groups = sorted(sub.groupby("method"), key=lambda kv: kv[0])
        for color, (method, g) in zip(palette(len(groups)), groups):
            band(ax, g, "n", color, label=names.get(method, method))
        for n, lab in marks.get(d, []):
            ax.axvline(n, color="0.4", ls=":", lw=1)
            ax.annotate(lab, (n, 0.98), xycoords=("data", "axes fraction"), rotation=90, fontsize=8, ha="right", va="top")
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo = max(1e-6, 0.5 * float(sub["lo"].min()))
        ax.set_ylim(lo, max(2.0, 1.5 * float(sub["hi"].max())))
        ax.set_xlabel("n")
        ax.set_ylabel("test NMSE = MSE / Var(y)")
        ax.set_title(f"d = {d}")
        ax.legend(loc="lower left")
    if title:
        suptitle(fig, title, fontsize=8)
    return save(fig, base)


@styled
def draw_scaling(tbl, theory: dict, base, title: str = "") -> list[Path]:
    """log NMSE against log(n / d^q) per gamma (a scaling_table), legend with fitted and predicted exponents;
    theory {gamma: {"finite": (x, y) dashed, "power": (x, y) or None dotted}}; a bar marks where each fit starts."""
    fig, ax = subplots(figsize=(7.0, 4.6))
    gammas = sorted(tbl["gamma"].unique())
    for color, gm in zip(palette(len(gammas)), gammas):
        sub = tbl[tbl["gamma"] == gm]
        fit, pred = float(sub["fitted"].iloc[0]), float(sub["predicted"].iloc[0])
        fit_s = f"{fit:+.2f}" if np.isfinite(fit) else "n/a (window too short)"
        pred_s = f"{pred:+.2f}" if np.isfinite(pred) else "none (γ ≤ 1/2)"
        band(ax, sub, "x", color, label=fr"$\gamma$={gm:g}: fitted {fit_s}, predicted {pred_s}")
        t = theory.get(gm, {})
        if t.get("finite") is not None:
            theory_line(ax, *t["finite"], color=color, style="--")
        if t.get("power") is not None:
            theory_line(ax, *t["power"], color=color, style=":")
        for edge in (float(sub["fit_from"].iloc[0]), float(sub["fit_to"].iloc[0]) if "fit_to" in sub else np.inf):
            if np.isfinite(edge):
                ax.plot([edge], [np.interp(edge, sub["x"], sub["mean"])], "|", color=color, ms=14, mew=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    # the theory's O(1/n) readout term exceeds Var y at the smallest n: keep the data's range
    ax.set_ylim(0.5 * float(tbl["lo"].min()), 2.0 * float(tbl["hi"].max()))
    ax.set_xlabel(r"$n / d^q$")
    ax.set_ylabel("test NMSE = MSE / Var(y)")
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title, fontsize=8)
    return save(fig, base)

