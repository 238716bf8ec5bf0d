"""Figures of the paper and beyond it (figures/README.md).

- `figures.data`: the plotted data, pure functions of results tables and theory outputs (tested);
- `figures.theory_curves`: theory overlays (finite-size prediction, bulk density, asymptotic forms), cached;
- `figures.draw`: matplotlib drawing (Agg backend), PNG and PDF;
- `figures.make`: one function per figure (`make_figure(name, results, out)`);
- `figures.recipes`: the sweeps and baseline runs each scale of `hmodel reproduce` needs.
"""
