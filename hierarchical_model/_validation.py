"""Boundary checks: every public entry point refuses bad input with one line
naming the parameter, the value and the allowed range (the project's rule for bad input); among them the
unit-scale check of user inputs that the Hermite features assume (`input_transform`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

__all__ = ["check_int", "check_float", "check_choice", "check_finite_array", "physical_memory_gb", "check_memory_gb",
           "input_transform"]


def _fmt_range(lo, hi, lo_open=False, hi_open=False) -> str:
    if lo is not None and hi is not None:
        return f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return ""


def check_int(name: str, value, lo: int | None = None, hi: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer in [lo, hi], else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name}={value!r} is not allowed: must be an integer {_fmt_range(lo, hi)}".rstrip())
    value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"{name}={value} is out of range: must be an integer {_fmt_range(lo, hi)}".rstrip())
    return value


def check_float(name: str, value, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False) -> float:
    """Return ``value`` as a finite float in the given range, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} is not allowed: must be a real number {_fmt_range(lo, hi, lo_open, hi_open)}".rstrip())
    value = float(value)
    bad = not math.isfinite(value)
    if lo is not None:
        bad |= value <= lo if lo_open else value < lo
    if hi is not None:
        bad |= value >= hi if hi_open else value > hi
    if bad:
        raise ValueError(f"{name}={value} is out of range: must be a finite number {_fmt_range(lo, hi, lo_open, hi_open)}".rstrip())
    return value


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not allowed: must be one of {', '.join(map(repr, choices))}")
    return value


def check_finite_array(name: str, arr, ndim: int, shape_hint: str):
    """Refuse arrays of the wrong rank or with NaN/inf entries (user data at the boundary)."""
    import numpy as np

    if np.iscomplexobj(arr):  # float64 conversion would drop the imaginary part with a mere warning
        raise ValueError(f"{name} has a complex dtype: must be a real numeric array of shape {shape_hint}")
    try:
        a = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not allowed: must be a numeric array of shape {shape_hint}") from None
    if a.ndim != ndim:
        raise ValueError(f"{name} has shape {a.shape}: must have shape {shape_hint}")
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name} has {bad} non-finite entries: all entries must be finite")
    return a


def physical_memory_gb() -> float:
    """This machine's physical memory in GiB (inf when the platform does not tell)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return math.inf


def check_memory_gb(name: str, value) -> float:
    """A memory budget in GiB: positive, and not above this machine's physical memory (a budget the
    machine cannot hold lets the dense engine allocate until the kernel kills the process)."""
    phys = physical_memory_gb()
    value = check_float(name, value, 0.0, lo_open=True)
    if value > phys:
        raise ValueError(f"{name}={value:g} is out of range: must be in (0, {phys:.1f}] GiB, this machine's physical memory")
    return value


_SCALE_P = 1e-9  # a genuine N(0, 1) column fails the unit-scale check with at most this probability
_SCALE_SLACK = 1.5  # and a column off by less than this factor (or 0.5 in its mean) is accepted


def input_transform(X, standardize: bool):
    """(mean, scale) per column: the sample moments when ``standardize``; else zeros and ones, after
    checking that every column is on the unit scale of x ~ N(0, 1) (see HierarchicalSpectralLearner's ``standardize``)."""
    import numpy as np
    from scipy.stats import chi2

    n = X.shape[0]
    mean, std = X.mean(axis=0), X.std(axis=0, ddof=1)
    if standardize:
        flat = np.flatnonzero(std == 0)
        if flat.size:
            raise ValueError(f"X column {int(flat[0])} is constant: standardize=True needs every column to vary")
        return mean, std
    mean_tol = 0.5 + 6.1 / math.sqrt(n)  # 6.1 standard errors: two-sided tail 1e-9
    lo = math.sqrt(chi2.ppf(_SCALE_P, n - 1) / (n - 1)) / _SCALE_SLACK
    hi = math.sqrt(chi2.isf(_SCALE_P, n - 1) / (n - 1)) * _SCALE_SLACK
    off = np.abs(mean) / mean_tol + np.maximum(np.log(np.maximum(std, 1e-300) / hi), np.log(lo / np.maximum(std, 1e-300))).clip(0)
    j = int(np.argmax(off))
    if abs(mean[j]) > mean_tol or not lo <= std[j] <= hi:
        raise ValueError(f"X is off the unit scale that the Hermite features assume (x ~ N(0, I)): column {j} has mean "
                         f"{mean[j]:.3g} and standard deviation {std[j]:.3g} (allowed for n={n}: |mean| <= {mean_tol:.2f}, "
                         f"std in [{lo:.2f}, {hi:.2f}]); pass standardize=True to centre and scale each column")
    return np.zeros(X.shape[1]), np.ones(X.shape[1])
