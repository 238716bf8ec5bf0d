"""Label laws: the law of the label weight w = T(y) jointly with the spike statistics h1_i^2 - 1, as weighted atoms
(MODEL.md section 4, "the resolvent route"); the Gaussian-equivalent model's law (`label_law`); the signed lambda_i
of a teacher. The Hermite model's radial W-law is `theory.hermite_law`.

Pipeline layer: label law (`theory.PIPELINE`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hierarchical_model._validation import check_finite_array, check_int

__all__ = ["LabelLaw", "atom_law", "label_law", "compress_samples", "signed_lam"]


@dataclass(frozen=True)
class LabelLaw:
    """A discrete law of the label weight w = T(y): atoms ``w`` (K,), probabilities ``p`` (K,), and for each
    latent direction i the conditional spike moment ``a[i, k] = E[h1_i^2 - 1 | w in atom k]`` (d1, K), which is
    all the spike formulas of `theory.spikes` need of the joint law of (w, h1).
    ``mean`` is E[w] of the untruncated law. ``shift`` is what C subtracts times I_D when it is not E[w]: in the
    Hermite model w = kappa s^2 y but C subtracts the sample mean of y (HERMITE.md section 3), so shift = E[y]
    (E[y (2 s - 1)] for the chaos estimator, `theory.hermite_law`); None means shift = mean (Gaussian-equivalent).
    ``tail`` (optional): the sorted raw Monte Carlo weights of both tails, for single-sample outliers.
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
    extra_var: float = 0.0
    a2: np.ndarray | None = None

    @property
    def centre(self) -> float:
        """The multiple of I_D that C subtracts: ``shift``, or E[w] when it is None."""
        return self.mean if self.shift is None else self.shift

    def expect(self, f: np.ndarray) -> np.ndarray:
        """E_w[f(w)] for f evaluated on the atoms along the last axis."""
        return f @ self.p

    def truncated(self, n: int) -> "LabelLaw":
        """The law conditioned on Q(1/(n+1)) <= w <= Q(n/(n+1)): the range an empirical law of n samples covers.

        Finite-n heuristic for unbounded labels (g = id): the n labels in C have a largest value near the
        1 - 1/n quantile, and a limit law with unbounded support has no right edge at all. For bounded labels
        it removes a negligible mass. ``mean`` is kept (the shift of C is the sample mean, whatever the tail)."""
        cdf = np.cumsum(self.p)
        lo, hi = 1.0 / (n + 1), n / (n + 1.0)
        keep = (cdf - self.p < hi) & (cdf > lo)
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


def compress_samples(w, s, n_atoms: int = 800) -> LabelLaw:
    """A LabelLaw from joint samples: labels ``w`` (N,) and spike statistics ``s`` (N, k), s[:, i] = h_i^2 - 1.

    Sorted w is cut into bins whose sizes shrink like a cosine grid towards both tails (the extreme bins hold
    single samples, so the ends of the support are resolved); each atom carries its bin's mean w, mass,
    E[s_i | bin] and E[s_i^2 | bin]."""
    w = np.asarray(w, np.float64)
    s = np.asarray(s, np.float64).reshape(w.size, -1)
    N = w.size
    order = np.argsort(w, kind="stable")
    w, s = w[order], s[order]
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
