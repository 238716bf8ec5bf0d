"""JAX's 64-bit mode, scoped to the package's entry points instead of switched on for the whole process.

The package casts every product to float32 explicitly and keeps long sums (the D x D accumulator, test errors),
the teacher's A and the links' Gaussian expectations in float64; those float64 arrays exist in JAX only while
its 64-bit mode is on. `float64` turns it on for the duration of one call (or of each step of a generator) and
restores the caller's setting afterwards, so importing or using the package leaves the rest of the process alone.
"""

from __future__ import annotations

import functools
import inspect

import jax

__all__ = ["float64"]


def float64(fn):
    """Decorator: run ``fn`` with JAX's 64-bit mode on (a generator: each of its steps), the caller's mode restored."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            it = fn(*args, **kwargs)
            while True:
                with jax.enable_x64(True):
                    try:
                        item = next(it)
                    except StopIteration as stop:
                        return stop.value
                yield item

        return steps

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with jax.enable_x64(True):
            return fn(*args, **kwargs)

    return call
