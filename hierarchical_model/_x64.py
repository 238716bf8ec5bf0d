"""The package's numeric mode, scoped to its entry points instead of switched on for the whole process.

Two JAX settings hold inside every entry point (and each step of a generator) and are restored afterwards, so that
importing or using the package leaves the rest of the process alone:

- 64-bit mode on. The package casts every product to float32 explicitly and keeps long sums (the D x D
  accumulator, test errors), the teacher's A and the links' Gaussian expectations in float64; those float64 arrays
  exist in JAX only while its 64-bit mode is on.
- matrix products at full float32 precision (``jax.default_matmul_precision(MATMUL_PRECISION)``, 'highest').
  JAX's default precision lets an accelerator round float32 operands to TensorFloat-32 (10-bit mantissa, relative
  error ~5e-4 per product) on NVIDIA GPUs since Ampere, or to bfloat16 passes on TPUs; the CPU computes in float32
  either way. Without this setting, C and q_h would differ between a CPU and a GPU run of the same seed by far more
  than float32 rounding (measured on an H200: see `hmodel bench`'s precision line and the closing note of issue 12).
"""

from __future__ import annotations

import functools
import inspect

import jax

__all__ = ["float64", "MATMUL_PRECISION"]

MATMUL_PRECISION = "highest"


def float64(fn):
    """Decorator: run ``fn`` in the package's numeric mode (module docstring): JAX's 64-bit mode on and float32 matrix
    products at full precision, for the call (a generator: for each of its steps), the caller's settings restored."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            it = fn(*args, **kwargs)
            while True:
                with jax.enable_x64(True), jax.default_matmul_precision(MATMUL_PRECISION):
                    try:
                        item = next(it)
                    except StopIteration as stop:
                        return stop.value
                yield item

        return steps

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with jax.enable_x64(True), jax.default_matmul_precision(MATMUL_PRECISION):
            return fn(*args, **kwargs)

    return call
