"""Command line, sweeps, results store, backends and benchmarks of the hierarchical-model simulator."""
