"""n at which a curve first crosses a level: the thresholds of measured and predicted cos^2 curves alike.

Pipeline layer: outcome (`theory.PIPELINE`); it calls nothing in theory.
"""

from __future__ import annotations

import numpy as np

__all__ = ["first_crossing"]


def first_crossing(ns, curves, level: float = 0.5) -> np.ndarray:
    """n at the first upward crossing of ``level`` by each curve (..., N) on the grid ns (N,), in any order
    (sorted here): the first j with curve[j-1] < level <= curve[j], interpolated linearly in log n,

        log n* = log n_{j-1} + (level - c_{j-1}) / (c_j - c_{j-1}) (log n_j - log n_{j-1}).

    NaN where no crossing happened on the grid: the curve never reaches the level, or it starts at or above it
    (the threshold lies below the grid, censored: its first point is not the crossing). The one crossing
    function of the project (empirical thresholds, `hmodel check`, the figures' thresholds and collapse)."""
    ns = np.asarray(ns, np.float64)
    order = np.argsort(ns, kind="stable")
    ns = ns[order]
    c = np.asarray(curves, np.float64)[..., order]
    if ns.size < 2:  # one point: nothing to cross between
        return np.full(c.shape[:-1], np.nan)
    up = (c[..., :-1] < level) & (c[..., 1:] >= level)
    has = up.any(axis=-1) & ~(c[..., 0] >= level)
    j = np.argmax(up, axis=-1)
    c0 = np.take_along_axis(c, j[..., None], -1)[..., 0]
    c1 = np.take_along_axis(c, (j + 1)[..., None], -1)[..., 0]
    x0, x1 = np.log(ns[j]), np.log(ns[np.minimum(j + 1, ns.size - 1)])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # garbage where has is False
        out = np.exp(x0 + (level - c0) / (c1 - c0) * (x1 - x0))
    return np.where(has, out, np.nan)
