"""The house style of the figures and the drawing primitives every figure shares: the style applied inside each
drawing function only (`styled`, `matplotlib.rc_context`: importing changes no global matplotlib state), axes on a
`matplotlib.figure.Figure` that pyplot does not track (no backend chosen or needed: savefig renders with Agg),
the palette, the wrapped title, the mean +- sem band of the data and the theory line, and saving BASE.png and
BASE.pdf.
"""

from __future__ import annotations

import functools
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

__all__ = ["STYLE", "styled", "subplots", "palette", "suptitle", "save", "band", "theory_line"]

STYLE = {"figure.dpi": 110, "savefig.dpi": 130, "font.size": 9, "axes.titlesize": 9, "legend.fontsize": 7,
          "axes.grid": True, "grid.alpha": 0.3}


def styled(draw):
    """Run a drawing function under the house style, leaving matplotlib's global settings as they were."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def subplots(nrows=1, ncols=1, figsize=None, **kwargs):
    """(figure, axes) like pyplot.subplots, on a Figure that pyplot does not track."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def palette(k: int):
    cmap = matplotlib.colormaps["viridis" if k > 6 else "tab10"]
    return [cmap(i / max(k - 1, 1)) if k > 6 else cmap(i) for i in range(k)]


def suptitle(fig, title: str, fontsize: float = 9):
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


def theory_line(ax, x, y, color, label=None, style="--"):
    if x is not None and y is not None and len(x):
        ax.plot(x, y, style, color=color, lw=1.3, label=label, alpha=0.9)

