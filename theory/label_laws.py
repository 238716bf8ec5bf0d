"""Label laws: the law of the label weight w = T(y) jointly with the spike statistics h1_i^2 - 1, as weighted atoms
(MODEL.md section 4, "the resolvent route"); the Gaussian-equivalent model's law (`label_law`); the signed lambda_i
of a teacher. The Hermite model's radial W-law is `theory.hermite_law`.

Pipeline layer: label law (`theory.PIPELINE`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hierarchical_model._validation import check_finite_array, check_int

__all__ = ["LabelLaw", "ExtremeTail", "fit_extreme_tail", "atom_law", "label_law", "compress_samples", "signed_lam"]

#: Single-sample atoms of `ExtremeTail.atoms` (the rest of a tail goes to TAIL_BINS bins): far more than the few
#: samples that ever separate from the bulk (`hermite_bulk.bulk_at`).
MAX_SINGLES = 64
TAIL_BINS = 16


@dataclass(frozen=True)
class ExtremeTail:
    """One tail of a label law beyond the threshold u (side = +1: W > u, side = -1: W < u), of probability p_u:
    a generalised Pareto law fitted to the m = p_u N most extreme of N Monte Carlo weights,
        P(side (W - u) > y | beyond u) = (1 + xi y / beta)^(-1/xi)     (exp(-y / beta) at xi = 0),         (E1)
    so the weight at exceedance probability p <= p_u is
        Q(p) = u + side beta ((p_u / p)^xi - 1) / xi                  (u + side beta log(p_u / p) at xi = 0).  (E2)
    Why: n samples of the weight have their k-th most extreme one near Q((k - 1/2)/n), and for g = id these few
    samples decide the bulk's finite-n edge and the single-sample outliers (`theory.tails`). The raw Monte Carlo
    order statistics put a single sample's noise there (about one tail scale beta); (E2) spreads the fit over m
    samples and extrapolates smoothly when n > N. The spike moments a_i, a2_i are their Monte Carlo means over
    rank bins of the fitted samples (their exceedance probabilities ``p_bins``, increasing from 0 to p_u)."""

    side: float
    u: float
    p_u: float
    xi: float
    beta: float
    p_bins: np.ndarray
    a: np.ndarray
    a2: np.ndarray

    def quantile(self, p) -> np.ndarray:
        """(E2): the weight at exceedance probability p (0 < p <= p_u)."""
        r = self.p_u / np.asarray(p, np.float64)
        y = self.beta * (np.log(r) if abs(self.xi) < 1e-8 else np.expm1(self.xi * np.log(r)) / self.xi)
        return self.u + self.side * y

    def spike_moments(self, p) -> tuple[np.ndarray, np.ndarray]:
        """(a, a2), each (d1, len(p)): the Monte Carlo means of the rank bin that holds exceedance probability p."""
        k = np.clip(np.searchsorted(self.p_bins, np.asarray(p, np.float64), side="right") - 1, 0, self.a.shape[1] - 1)
        return self.a[:, k], self.a2[:, k]

    def atoms(self, n: int, resolution: int = 1) -> tuple[np.ndarray, ...]:
        """The tail as n samples see it: (w, p, a, a2). The MAX_SINGLES most extreme expected samples are atoms of
        mass 1/n at Q((k - 1/2)/n), k = 1, 2, ... (as long as k/n <= p_u), or ``resolution`` atoms of mass
        1/(resolution n) each; the rest of the tail mass, between exceedance k/n and p_u, goes to TAIL_BINS bins
        (finer towards the extreme), each atom the bin's mean of (E2)."""
        nr = n * resolution
        k1 = int(min(np.floor(n * self.p_u), MAX_SINGLES)) * resolution
        p_single = (np.arange(k1) + 0.5) / nr
        lo = k1 / nr
        edges = lo + (self.p_u - lo) * np.linspace(0.0, 1.0, TAIL_BINS + 1) ** 2
        sub = edges[:-1, None] + np.diff(edges)[:, None] * (np.arange(8) + 0.5)[None, :] / 8
        w = np.concatenate([self.quantile(p_single), self.quantile(sub).mean(axis=1)])
        p = np.concatenate([np.full(k1, 1.0 / nr), np.diff(edges)])
        a, a2 = self.spike_moments(np.concatenate([p_single, sub[:, 4]]))
        return w, p, a, a2

    def intensity(self, n: int, span: float = 64.0, n_points: int = 2000) -> tuple[np.ndarray, np.ndarray, float]:
        """The tail's samples as a Poisson process in W for n samples: (W, p, rate), the weights W at exceedance
        probabilities p = (k - 1/2) dp, k = 1..n_points, dp = min(p_u, span/n)/n_points, each point of expected
        count rate = n dp."""
        dp = min(self.p_u, span / n) / n_points
        p = (np.arange(n_points) + 0.5) * dp
        return self.quantile(p), p, n * dp


def fit_extreme_tail(w, s, N: int, side: float, n_bins: int = 8) -> ExtremeTail:
    """(E1) from the m + 1 most extreme Monte Carlo weights ``w`` (most extreme first) of N, with their spike statistics
    ``s`` (m + 1, d1): u = w[m], (xi, beta) by probability-weighted moments (Hosking and Wallis 1987; xi clipped to
    [-0.5, 0.5], beta then from the mean exceedance, E[y] = beta/(1 - xi)), and the spike moments of ``n_bins`` rank bins."""
    w, s = np.asarray(w, np.float64), np.asarray(s, np.float64).reshape(np.size(w), -1)
    m = w.size - 1
    u = float(w[m])
    y = np.sort(side * (w[:m] - u))
    a0 = float(y.mean())
    a1 = float(np.mean(y * (m - 1.0 - np.arange(m)) / (m - 1.0)))
    if a0 <= 0 or a0 - 2 * a1 <= 0:  # ties at u (a bounded weight): a point mass, no spread
        xi, beta = 0.0, max(a0, 1e-300)
    else:
        xi = float(np.clip(2.0 - a0 / (a0 - 2.0 * a1), -0.5, 0.5))
        beta = a0 * (1.0 - xi)
    cuts = np.unique(np.round(np.linspace(0, m, n_bins + 1)).astype(int))
    counts = np.diff(cuts)
    a = (np.add.reduceat(s[:m], cuts[:-1], axis=0) / counts[:, None]).T
    a2 = (np.add.reduceat(s[:m] ** 2, cuts[:-1], axis=0) / counts[:, None]).T
    return ExtremeTail(side=float(side), u=u, p_u=m / N, xi=xi, beta=beta, p_bins=cuts / N, a=a, a2=a2)


@dataclass(frozen=True)
class LabelLaw:
    """A discrete law of the label weight w = T(y): atoms ``w`` (K,), probabilities ``p`` (K,), and for each
    latent direction i the conditional spike moment ``a[i, k] = E[h1_i^2 - 1 | w in atom k]`` (d1, K), which is
    all the spike formulas of `theory.spikes` need of the joint law of (w, h1).
    ``mean`` is E[w] of the untruncated law. ``shift`` is what C subtracts times I_D when it is not E[w]: in the
    Hermite model w = kappa s^2 y but C subtracts the sample mean of y (HERMITE.md section 3), so shift = E[y]
    (E[y (2 s - 1)] for the chaos estimator, `theory.hermite_law`); None means shift = mean (Gaussian-equivalent).
    ``tail`` (optional): the sorted raw Monte Carlo weights of both tails, the single-sample outliers of the
    truncated law (`truncated`, whose edge the same Monte Carlo samples set).
    ``extremes`` (optional): (left, right) `ExtremeTail`s, the law's two tails fitted beyond thresholds u, which
    `at_n` puts in place of the atoms beyond u as the atoms n samples see, with the single-sample outliers.
    ``extra_var``: E[sum_k w_k^2] of minor per-sample atoms (chaos estimator, `theory.hermite_law`), which enter
    the bulk as a free semicircle of variance c * extra_var (`theory.remainder`); 0 elsewhere.
    ``a2`` (optional, (d1, K)): E[(h1_i^2 - 1)^2 | w in atom k], for the outliers' fluctuation (`theory.selection`)."""

    w: np.ndarray
    p: np.ndarray
    a: np.ndarray
    mean: float
    n_mc: int = 0
    seed: int = 0
    shift: float | None = None
    tail: np.ndarray | None = None
    extremes: tuple | None = None
    extra_var: float = 0.0
    a2: np.ndarray | None = None

    @property
    def centre(self) -> float:
        """The multiple of I_D that C subtracts: ``shift``, or E[w] when it is None."""
        return self.mean if self.shift is None else self.shift

    def expect(self, f: np.ndarray) -> np.ndarray:
        """E_w[f(w)] for f evaluated on the atoms along the last axis."""
        return f @ self.p

    def at_n(self, n: int, resolution: int = 1) -> "LabelLaw":
        """The law as n samples see it. With ``extremes``: the atoms plus each tail's `ExtremeTail.atoms` (its most
        extreme expected samples as atoms of mass 1/n at (E2)'s Q((k - 1/2)/n), or ``resolution`` finer atoms per
        sample), sorted by w; which of them stay in the bulk is decided with the bulk (`hermite_bulk.bulk_at`).
        Without: `truncated`."""
        if self.extremes is None:
            return self.truncated(n)
        left, right = self.extremes
        inside = (self.w > left.u) & (self.w < right.u)
        p_in = self.p[inside] * (1.0 - left.p_u - right.p_u) / self.p[inside].sum()
        a2 = self.a2 if self.a2 is not None else self.a * 0.0
        parts = [(self.w[inside], p_in, self.a[:, inside], a2[:, inside])]
        parts += [t.atoms(n, resolution) for t in self.extremes]
        w = np.concatenate([q[0] for q in parts])
        order = np.argsort(w, kind="stable")
        p = np.concatenate([q[1] for q in parts])[order]
        a = np.concatenate([q[2] for q in parts], axis=1)[:, order]
        a2 = np.concatenate([q[3] for q in parts], axis=1)[:, order]
        return replace(self, w=w[order], p=p / p.sum(), a=a, a2=a2 if self.a2 is not None else None)

    def truncated(self, n: int) -> "LabelLaw":
        """The law conditioned on Q(1/(n+1)) <= w <= Q(n/(n+1)): the range an empirical law of n samples covers.

        Finite-n heuristic for unbounded labels (g = id): the n labels in C have a largest value near the
        1 - 1/n quantile, and a limit law with unbounded support has no right edge at all. For bounded labels
        it removes a negligible mass. ``mean`` is kept (the shift of C is the sample mean, whatever the tail).
        The atoms are the binned Monte Carlo samples, ``extremes`` play no part (`at_n` uses them)."""
        cdf = np.cumsum(self.p)
        lo, hi = 1.0 / (n + 1), n / (n + 1.0)
        keep = (cdf - self.p < hi) & (cdf > lo)
        return self.subset(keep)

    def subset(self, keep) -> "LabelLaw":
        """The law conditioned on the atoms ``keep`` (boolean (K,)), renormalised; ``mean`` and the rest are kept."""
        p = self.p[keep] / self.p[keep].sum()
        return replace(self, w=self.w[keep], p=p, a=self.a[:, keep], a2=None if self.a2 is None else self.a2[:, keep])


def atom_law(w, p=None, a=None) -> LabelLaw:
    """A LabelLaw from explicit atoms (quadrature nodes and weights, or raw samples with p = None)."""
    w = check_finite_array("w", w, 1, "(K,)")
    p = np.full(w.size, 1.0 / w.size) if p is None else check_finite_array("p", p, 1, "(K,)")
    if p.shape != w.shape or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(f"p has shape {p.shape}: must be non-negative weights of shape {w.shape}")
    a = np.zeros((0, w.size)) if a is None else np.atleast_2d(check_finite_array("a", a, np.ndim(a), "(d1, K)"))
    p = p / p.sum()
    return LabelLaw(w=w, p=p, a=a, mean=float(w @ p))


def label_law(config, lam=None, n_mc: int = 400_000, seed: int = 0, n_atoms: int = 300) -> LabelLaw:
    """Monte Carlo law of w = y = g(h2) + sigma xi in the Gaussian-equivalent model (T = identity, as in the paper).

    h1 ~ N(0, I_d1) (orthonormal rows of A make h1 = A g exactly standard), h2 = (1/sqrt 2) sum_i lambda_i
    (h1_i^2 - 1), xi ~ N(0, 1); ``n_mc`` samples from numpy's default_rng(seed). ``lam`` is the signed lambda
    (required: Teacher(config, s).lam for teacher s). The samples are compressed to ``n_atoms`` atoms by `compress_samples`.
    Monte Carlo error of a bin-averaged moment: O(1/sqrt(n_mc)) (about 0.002 at the default)."""
    from hierarchical_model import make_link

    n_mc = check_int("n_mc", n_mc, 1000)
    n_atoms = check_int("n_atoms", n_atoms, 10, n_mc)
    lam = signed_lam(config, lam)
    rng = np.random.default_rng(check_int("seed", seed, 0, 2**31 - 1))
    h1 = rng.standard_normal((n_mc, lam.size))
    h2 = ((h1 * h1 - 1.0) @ lam) / np.sqrt(2.0)
    link = make_link(config.g)
    y = np.asarray(link(h2), np.float64)
    if config.sigma > 0:
        y = y + config.sigma * rng.standard_normal(n_mc)
    law = compress_samples(y, h1**2 - 1.0, n_atoms)
    return replace(law, mean=float(y.mean()), n_mc=n_mc, seed=seed)


def compress_samples(w, s, n_atoms: int = 800, tail_fraction: float = 0.0) -> LabelLaw:
    """A LabelLaw from joint samples: labels ``w`` (N,) and spike statistics ``s`` (N, k), s[:, i] = h_i^2 - 1.

    Sorted w is cut into bins whose sizes shrink like a cosine grid towards both tails (the extreme bins hold
    single samples, so the ends of the support are resolved); each atom carries its bin's mean w, mass,
    E[s_i | bin] and E[s_i^2 | bin]. ``tail_fraction`` > 0: the m = ceil(tail_fraction N) most extreme samples
    of each side are also fitted, as the law's ``extremes`` (`fit_extreme_tail`, for `LabelLaw.at_n`)."""
    w = np.asarray(w, np.float64)
    s = np.asarray(s, np.float64).reshape(w.size, -1)
    N = w.size
    order = np.argsort(w, kind="stable")
    w, s = w[order], s[order]
    if tail_fraction > 0:
        m = max(int(np.ceil(tail_fraction * N)), 50)
        if 4 * m > N:
            raise ValueError(f"tail_fraction={tail_fraction} is not allowed for {N} samples: each tail takes "
                             f"{m} samples (at least 50), at most a quarter of them")
        ext = (fit_extreme_tail(w[:m + 1], s[:m + 1], N, -1.0), fit_extreme_tail(w[::-1][:m + 1], s[::-1][:m + 1], N, 1.0))
        return replace(compress_samples(w, s, n_atoms), extremes=ext)
    cuts = np.unique(np.round(N * (1 - np.cos(np.pi * np.arange(n_atoms + 1) / n_atoms)) / 2).astype(int))
    counts = np.diff(cuts)
    atoms = np.add.reduceat(w, cuts[:-1]) / counts
    a = (np.add.reduceat(s, cuts[:-1], axis=0) / counts[:, None]).T
    a2 = (np.add.reduceat(s * s, cuts[:-1], axis=0) / counts[:, None]).T
    return LabelLaw(w=atoms, p=counts / N, a=a, mean=float(w.mean()), n_mc=N, a2=a2)


def signed_lam(config, lam, seed: int | None = None) -> np.ndarray:
    """The signed lambda_i: ``lam`` when given, else teacher ``seed``'s; one of them is required (the signs decide
    on which side of the bulk each spike sits, so there is no default teacher)."""
    from hierarchical_model import Teacher

    if lam is None:
        if seed is None:
            raise ValueError("lam=None and seed=None is not allowed: pass the teacher's seed or its signed lambda_i")
        return np.asarray(Teacher(config, check_int("seed", seed, 0, 2**31 - 1)).lam, np.float64)
    lam = check_finite_array("lam", lam, 1, f"({config.latent},)")
    if lam.size != config.latent:
        raise ValueError(f"lam has {lam.size} entries: must have d1={config.latent}")
    return lam
