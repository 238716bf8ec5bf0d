"""The figure registry: `make_figure(name, results, out)` draws figure NAME from a results folder into OUT (OUT/NAME.png
and OUT/NAME.pdf, and for some companions such as OUT/NAME_hermite.png) and returns the written paths.

Each figure selects its rows (`figures.rows`), computes its data (`figures.data`) and theory overlays
(`figures.panels`, `figures.theory_curves`) and draws them (`figures.draw`); the recipes live by group:
`figures.paper_figs` (fig2-5), `figures.threshold_figs` (collapse, gamma1, tail, scaling) and
`figures.comparison_figs` (baselines, multid, links).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .comparison_figs import baselines, links, multid
from .paper_figs import fig2, fig3, fig4, fig5
from .results import load_runs
from .rows import BASE_CONFIG, FigureOptions, NoData
from .threshold_figs import collapse, gamma1, scaling, tail

__all__ = ["FIGURES", "FigureOptions", "NoData", "make_figure", "figure_names", "BASE_CONFIG"]

FIGURES = {"fig2": fig2, "fig3": fig3, "fig4": fig4, "fig5": fig5, "baselines": baselines, "collapse": collapse,
           "scaling": scaling, "multid": multid, "links": links, "gamma1": gamma1, "tail": tail}


def figure_names() -> tuple:
    return tuple(FIGURES)


def make_figure(name: str, results, out, opts: FigureOptions = FigureOptions(), runs: pd.DataFrame | None = None):
    """Draw figure ``name`` from the results folder ``results`` into ``out``; returns the written paths.
    ``runs`` (optional): the already loaded table of ``results``."""
    from hierarchical_model._validation import check_choice

    check_choice("figure", name, FIGURES)
    results = Path(results)
    if not results.is_dir():
        raise ValueError(f"results={str(results)!r} is not a folder")
    runs = load_runs(results) if runs is None else runs
    # the theory cache sits beside the results it was computed for; baselines are read from its parent
    return FIGURES[name](runs, Path(out), opts, results / "theory_cache")
