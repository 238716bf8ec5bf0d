"""Parsing the values of a sweep grid's axes as the command line and TOML give them: comma-separated lists, seed
ranges ('0-2,7'), alpha ranges START:STOP:STEP (STOP included), the spectra setting; each value checked and refused
in one line naming the axis (ValueError), lists capped at MAX_AXIS_VALUES (a longer one is a typo, not a grid).
"""

from __future__ import annotations

import math

from hierarchical_model._validation import check_float, check_int

__all__ = ["parse_list", "parse_alphas", "parse_spectra", "parse_seeds", "unique", "sorted_unique", "MAX_AXIS_VALUES"]

_RANGE_EPS = 1e-9  # float slack when counting the points of START:STOP:STEP
MAX_AXIS_VALUES = 10_000  # values of one axis (sizes, seeds, ...): a longer list is a typo, not a grid


def parse_list(name: str, value, kind):
    """A comma-separated string ('20,40'), a scalar or a list -> tuple of ``kind``; refuses an empty list."""
    if isinstance(value, str):
        items = [s.strip() for s in value.split(",")]
        if any(s == "" for s in items):
            raise ValueError(f"{name}={value!r} is not allowed: must be a non-empty comma-separated list")
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    if not items:
        raise ValueError(f"{name}={value!r} is not allowed: must hold at least one value")
    _check_count(name, value, len(items))
    return tuple(_convert(name, v, kind) for v in items)


def _convert(name, v, kind):
    if kind is str:
        if not isinstance(v, str):
            raise ValueError(f"{name}={v!r} is not allowed: must be a name")
        return v
    if isinstance(v, str):
        try:
            v = kind(v) if kind is float else int(v)
        except ValueError:
            raise ValueError(f"{name}={v!r} is not allowed: must be {'a number' if kind is float else 'an integer'}") from None
    if kind is int:
        return check_int(name, v)
    return check_float(name, v)


def parse_alphas(value) -> tuple:
    """'START:STOP:STEP' (STOP included), '1.0,2.5', a number or a list -> sorted tuple of exponents."""
    if isinstance(value, str) and ":" in value:
        parts = value.split(":")
        try:
            start, stop, step = (float(p) for p in parts) if len(parts) == 3 else (None,) * 3
        except ValueError:
            start = None
        if start is None:
            raise ValueError(f"alphas={value!r} is not allowed: a range must read START:STOP:STEP, e.g. 1.0:3.5:0.1")
        if not (math.isfinite(start) and math.isfinite(stop) and math.isfinite(step)) or step <= 0 or stop < start:
            raise ValueError(f"alphas={value!r} is not allowed: a range START:STOP:STEP needs START <= STOP and STEP > 0")
        count = math.floor((stop - start) / step + _RANGE_EPS) + 1
        _check_count("alphas", value, count)
        alphas = tuple(round(start + i * step, 12) for i in range(count))
    else:
        alphas = parse_list("alphas", value, float)
    for a in alphas:
        check_float("alphas", a, 0.0, 12.0, lo_open=True)
    return sorted_unique("alphas", alphas)


def parse_spectra(value):
    """Where the whole spectrum of C is computed and stored: 'none' (default), 'all' (every point; dense engine,
    D <= 5000), or alphas (a list or START:STOP:STEP, as `parse_alphas`): the points n = round(d^alpha).
    Returns 'none', 'all' or a sorted tuple of alphas."""
    if isinstance(value, str) and value.strip().lower() in ("none", "all"):
        return value.strip().lower()
    try:
        return parse_alphas(value)
    except ValueError:
        raise ValueError(f"spectra={value!r} is not allowed: must be none, all, or alphas like 2.0,2.5 or "
                         "2.0:3.0:0.5") from None


def parse_seeds(value) -> tuple:
    """'0-2,7' (ranges inclusive), '3', an int or a list of ints -> tuple of seeds; refuses an empty list."""
    if isinstance(value, str):
        seeds = []
        for part in value.split(","):
            part = part.strip()
            lo, sep, hi = part.partition("-")
            try:
                lo, hi = (int(lo), int(hi)) if sep else (int(part), int(part))
            except ValueError:
                raise ValueError(f"seeds={value!r} is not allowed: must be a list like 0-2,7 of integers >= 0") from None
            if hi < lo:
                raise ValueError(f"seeds={value!r} is not allowed: a range A-B needs A <= B")
            _check_count("seeds", value, len(seeds) + hi - lo + 1)
            seeds.extend(range(lo, hi + 1))
        seeds = tuple(seeds)
    else:
        seeds = parse_list("seeds", value, int)
    if not seeds:
        raise ValueError(f"seeds={value!r} is not allowed: must hold at least one seed")
    for s in seeds:
        check_int("seeds", s, 0, 2**31 - 1)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds={value!r} is not allowed: seeds must not repeat")
    return seeds


def _check_count(name, value, count) -> None:
    if count > MAX_AXIS_VALUES:
        text = repr(value) if isinstance(value, str) and len(value) < 60 else f"<{type(value).__name__}>"
        raise ValueError(f"{name}={text} gives {count} values: must give at most {MAX_AXIS_VALUES}")


def sorted_unique(name, values):
    return tuple(sorted(unique(name, values)))


def unique(name, values):
    if len(set(values)) != len(values):
        raise ValueError(f"{name}={list(values)} is not allowed: values must not repeat")
    return values
