"""The simulator as a tool: the `hmodel` command line and what it runs at scale, around the library
(hierarchical_model) and the theory, which never import it.

- `sims.cli`, `sims.cmd_*`: the console script, one sub-command per module (run, sweep, status, theory, check,
  figure, reproduce, bench); `sims.options`: their shared options; `sims.guards`, `sims.cost`: refusals before any
  work (cost limits, output folders, input files); `sims.allocator`: the opt-in allocator tuning of the entry point;
- `sims.grid` (with `sims.grid_parse`): a sweep's grid, its parsing and its configurations (config_hash);
- `sims.sweep`, `sims.backends`: every (configuration, seed, n) of a grid, resumable, in process, in local
  processes or on Dask;
- `sims.store` (with `sims.store_schema`, `sims.store_io`, `sims.store_lock`): the results folder (runs.parquet,
  parts, spectra), written atomically and read back without duplicates;
- `sims.bench` (with `sims.bench_report`, `sims.bench_baselines`): the benchmark suite against the machine's
  peak, the field's reference algorithm and plain numpy/scipy.
"""
