"""The figures: from a results folder (the results table contract) to the paper's figures and beyond, PNG and PDF
(figures/README.md). Data, theory and drawing stay apart: the plotted numbers are pure functions of the tables.

- `figures.make`: the registry, `make_figure(name, results, out)`, `figure_names()`;
- `figures.paper_figs`, `figures.threshold_figs`, `figures.comparison_figs`: one recipe per figure, by group
  (fig2-5; collapse, gamma1, tail, scaling; baselines, multid, links);
- `figures.rows`: which rows each figure draws (its configuration, its splits by input model, estimator, d);
- `figures.panels`: the theory overlay of seed-averaged rows, the shared panels, labels and titles;
- `figures.data`: the plotted data, pure functions of results tables and theory outputs (tested);
- `figures.theory_curves`: theory overlays (finite-size prediction, bulk density, asymptotic forms), cached;
- `figures.draw`, `figures.draw_recovery`: matplotlib drawing, PNG and PDF; `figures.style`: the house style and
  the shared primitives (no global matplotlib state);
- `figures.results`: reading a results folder (runs, spectra, baselines);
- `figures.recipes`: the sweeps and baseline runs each scale of `hmodel reproduce` needs.
"""
