"""Drawing: matplotlib from the prepared data of `figures.data` and `figures.theory_curves`.

Every function takes plain DataFrames / arrays and an output base path, writes BASE.png and BASE.pdf and
returns the two paths. Importing this module changes no global matplotlib state: figures are
`matplotlib.figure.Figure` objects (no pyplot, so no backend is chosen or needed: savefig renders with
Agg), and the house style applies only inside each drawing function (`matplotlib.rc_context`). Data are markers with a mean +- sem band over seeds; theory is drawn as lines
(finite-size prediction: dashed; the paper's asymptotic forms: dotted).
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

__all__ = ["save", "band", "draw_curves_vs_alpha", "draw_spectra", "draw_directions", "draw_baselines",
           "draw_collapse", "draw_scaling", "draw_tail"]

_STYLE = {"figure.dpi": 110, "savefig.dpi": 130, "font.size": 9, "axes.titlesize": 9, "legend.fontsize": 7,
          "axes.grid": True, "grid.alpha": 0.3}


def _styled(draw):
    """Run a drawing function under the house style, leaving matplotlib's global settings as they were."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(_STYLE):
            return draw(*args, **kwargs)

    return wrapper


def _subplots(nrows=1, ncols=1, figsize=None, **kwargs):
    """(figure, axes) like pyplot.subplots, on a Figure that pyplot does not track."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def _colors(k: int):
    cmap = matplotlib.colormaps["viridis" if k > 6 else "tab10"]
    return [cmap(i / max(k - 1, 1)) if k > 6 else cmap(i) for i in range(k)]


def _suptitle(fig, title: str, fontsize: float = 9):
    """The figure's title, each line wrapped to the figure's width (a long title was clipped at the edges);
    never inside $...$, which must stay on one line for mathtext."""
    width = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))  # characters per line at this font size
    lines = []
    for line in title.split("\n"):
        words, current = [], []
        for tok in line.split(" "):  # glue the words of one $...$ span together
            current.append(tok)
            if " ".join(current).count("$") % 2 == 0:
                words.append(" ".join(current))
                current = []
        words += [" ".join(current)] if current else []
        row = ""
        for w in words:
            if row and len(row) + 1 + len(w) > width:
                lines.append(row)
                row = w
            else:
                row = f"{row} {w}" if row else w
        lines.append(row)
    fig.suptitle("\n".join(lines), fontsize=fontsize)


def save(fig, base) -> list[Path]:
    """Write BASE.png and BASE.pdf (folders created)."""
    base = Path(base)
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = [base.with_suffix(".png"), base.with_suffix(".pdf")]
    fig.tight_layout()
    for p in paths:
        fig.savefig(p)
    return paths


def band(ax, tbl, x: str, color, label=None, marker="o", ls="-"):
    """Mean (markers and thin line) with the lo-hi band of a `figures.data.mean_band` table."""
    ax.fill_between(tbl[x], tbl["lo"], tbl["hi"], color=color, alpha=0.2, lw=0)
    ax.plot(tbl[x], tbl["mean"], marker=marker, ms=3, lw=0.8, ls=ls, color=color, label=label)


def _theory_line(ax, x, y, color, label=None, style="--"):
    if x is not None and y is not None and len(x):
        ax.plot(x, y, style, color=color, lw=1.3, label=label, alpha=0.9)


@_styled
def draw_curves_vs_alpha(panels: list[dict], base, title: str = "") -> list[Path]:
    """One axis per panel; a panel holds ylabel, logy, and curves: [{tbl, label, theory_x, theory_y,
    theory_label, and optionally color, marker, ls (data line), theory_style}] with tbl a mean_band table over
    'alpha'; optionally vlines [(alpha, label[, color, style])], lines [{x, y, color, style, label}] (guides),
    ylim, legend_loc. A panel {"spectrum": s} draws a spectrum of C instead (see `draw_spectra`)."""
    fig, axes = _subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        if "spectrum" in panel:
            _spectrum_axis(ax, panel["spectrum"])
            continue
        curves = panel["curves"]
        for color, c in zip(_colors(len(curves)), curves):
            color = c.get("color", color)
            band(ax, c["tbl"], "alpha", color, c.get("label"), marker=c.get("marker", "o"), ls=c.get("ls", "-"))
            _theory_line(ax, c.get("theory_x"), c.get("theory_y"), color, c.get("theory_label"),
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
        _suptitle(fig, title)
    return save(fig, base)


def _spectrum_axis(ax, s: dict):
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


@_styled
def draw_spectra(spectra: list[dict], base, title: str = "") -> list[Path]:
    """One axis per spectrum dict (rows of three): alpha, n, eigs (all eigenvalues of C), outliers
    [(value, tag or None)] (vertical lines at the top-d1 eigenvalues, labelled with the teacher index their
    eigenvector aligns with, '?' when no overlap exceeds 1/2), and optionally theory_x, theory_rho, edges."""
    cols = min(3, len(spectra))
    rows = -(-len(spectra) // cols)
    fig, axes = _subplots(rows, cols, figsize=(4.4 * cols, 3.3 * rows), squeeze=False)
    for ax, s in zip(axes.ravel(), spectra):
        _spectrum_axis(ax, s)
    for ax in axes.ravel()[len(spectra):]:
        ax.set_visible(False)
    if title:
        _suptitle(fig, title + "\nvertical lines: the top-$d_1$ eigenvalues, labelled with the teacher direction their "
                  "eigenvector aligns with ($\\cos^2 > 1/2$; ? otherwise)")
    return save(fig, base)


@_styled
def draw_directions(cos2_tbl, thresholds: dict, after_tbl, stair_tbl, stair_theory: dict, base,
                    title: str = "", principal_tbl=None) -> list[Path]:
    """Three panels: per-direction cos^2 against alpha (mean_band by i over 'alpha') with vertical lines at
    ``thresholds`` {label: (alpha_i per teacher direction 1..d1, linestyle)}; 1 - cos(theta_i) after the
    transition against n (mean_band by i over 'n') with a 1/n guide; recovered count against n (mean_band over
    'n') with the predicted staircases ``stair_theory`` {label: (corner ns, m_n)} drawn as post-steps. With
    ``principal_tbl`` (mean_band by rank k over 'alpha'), a fourth panel beside the first: the sorted cos^2 of
    the principal angles between span(A) and span(A_hat)."""
    extra = principal_tbl is not None and len(principal_tbl) > 0
    fig, axes = _subplots(1, 4 if extra else 3, figsize=(17.0 if extra else 13.0, 3.6))
    idx = sorted(cos2_tbl["i"].unique())
    colors = dict(zip(idx, _colors(len(idx))))
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
        for k, color in zip(ranks, _colors(len(ranks))):
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
        _suptitle(fig, title)
    return save(fig, base)


@_styled
def draw_baselines(tbl, marks: dict, base, title: str = "") -> list[Path]:
    """NMSE against n per method, one axis per d; ``marks`` {d: [(n, label), ...]} vertical reference lines."""
    ds = sorted(tbl["d"].unique())
    fig, axes = _subplots(1, len(ds), figsize=(max(6.5, 4.6 * len(ds)), 4.0), squeeze=False)
    names = {"hierarchical": "hierarchical spectral learner (paper's C)",
             "hierarchical_chaos": "hierarchical spectral learner (chaos-projected C)",
             "kernel": "RBF kernel ridge on x (median heuristic)",
             "kernel_hhat": r"RBF kernel ridge on $\hat h_1$ (paper's C)",
             "kernel_hhat_chaos": r"RBF kernel ridge on $\hat h_1$ (chaos-projected C)",
             "hermite_ridge": r"ridge on Hermite features, deg $\leq 2q$"}
    for ax, d in zip(axes[0], ds):
        sub = tbl[tbl["d"] == d]
        groups = sorted(sub.groupby("method"), key=lambda kv: kv[0])
        for color, (method, g) in zip(_colors(len(groups)), groups):
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
        _suptitle(fig, title, fontsize=8)
    return save(fig, base)


@_styled
def draw_collapse(panels: list[dict], base, title: str = "", xlabel: str = r"$n / n_i$") -> list[Path]:
    """cos^2 against n / n_i, one axis per panel {tbl, theory, title}: tbl a mean_band table over 'x' grouped by
    (d, i), theory a list of {x, y, label} curves."""
    fig, axs = _subplots(1, len(panels), figsize=(6.2 * len(panels), 4.4), squeeze=False)
    for ax, panel in zip(axs[0], panels):
        tbl, theory = panel["tbl"], panel.get("theory", [])
        ds = sorted(tbl["d"].unique())
        idx = sorted(tbl["i"].unique())
        markers = dict(zip(ds, "osD^v<>p*h"))
        colors = dict(zip(idx, _colors(len(idx))))
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
        _suptitle(fig, title)
    return save(fig, base)


@_styled
def draw_scaling(tbl, theory: dict, base, title: str = "") -> list[Path]:
    """log NMSE against log(n / d^q) per gamma (a scaling_table), legend with fitted and predicted exponents;
    theory {gamma: {"finite": (x, y) dashed, "power": (x, y) or None dotted}}; a bar marks where each fit starts."""
    fig, ax = _subplots(figsize=(7.0, 4.6))
    gammas = sorted(tbl["gamma"].unique())
    for color, gm in zip(_colors(len(gammas)), gammas):
        sub = tbl[tbl["gamma"] == gm]
        fit, pred = float(sub["fitted"].iloc[0]), float(sub["predicted"].iloc[0])
        fit_s = f"{fit:+.2f}" if np.isfinite(fit) else "n/a (window too short)"
        pred_s = f"{pred:+.2f}" if np.isfinite(pred) else "none (γ ≤ 1/2)"
        band(ax, sub, "x", color, label=fr"$\gamma$={gm:g}: fitted {fit_s}, predicted {pred_s}")
        t = theory.get(gm, {})
        if t.get("finite") is not None:
            _theory_line(ax, *t["finite"], color=color, style="--")
        if t.get("power") is not None:
            _theory_line(ax, *t["power"], color=color, style=":")
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


@_styled
def draw_tail(mse_panel: dict, scatter: dict, overlap: dict, base, title: str = "") -> list[Path]:
    """P6: three axes.
    1. ``mse_panel`` (a `draw_curves_vs_alpha` panel): the MSE and the tail energies against alpha;
    2. ``scatter`` {tbl (`figures.data.tail_table`), lines [{x, y, label, style}]}: the MSE (seed mean band) against
       the measured tail energy, with the diagonal MSE = tail;
    3. ``overlap`` {qh (mean_band over 'alpha'), rec (mean_band of the recovered count over 'alpha'), stairs
       {label: (alphas, m)} (post-steps), d1}: q_h on the left axis, recovered counts on the right axis."""
    fig, axes = _subplots(1, 3, figsize=(14.0, 4.6))
    ax = axes[0]
    curves = mse_panel["curves"]
    for color, c in zip(_colors(len(curves)), curves):
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
        _suptitle(fig, title)
    return save(fig, base)
