"""The label law of the Hermite input model: the radial scale mixture W = kappa s^2 T(y) (HERMITE.md section 3).

For q = 2, x = sqrt(d s) theta with s = |x|^2/d ~ chi^2_d/d and theta uniform on the sphere, and exactly
    F(x) = s Gt + sqrt(d/2) (s - 1) e0,   Gt = (d theta theta^T - I)/sqrt 2,   E[Gt Gt^T] = kappa P_0,  kappa = d/(d+2),
with Gt independent of s and P_0 the projector off e0 = I/sqrt d. Treating Gt/sqrt(kappa) as a standard Gaussian
vector g ("conditional Gaussian equivalence"), each sample enters C = (1/n) sum_mu y_mu (F F^T - I) as
W_mu g g^T with the weight
    W = kappa s^2 y,   h1 = A F ~ s sqrt(kappa) z,   z ~ N(0, I_d1),   y = g(h2(h1)) + sigma xi,          (W1)
so the bulk is the label-weighted Marchenko-Pastur law of `theory.resolvent` with the atoms W, and each spike
uses a_i = E[z_i^2 - 1 | W] (`theory.spikes`). C subtracts (1/n) sum y, not (1/n) sum W, so the law is centred by
    shift = E[y]                    (paper estimator),                                                      (W2)
i.e. shifted by E[W] - E[y] = Cov(y, kappa s^2) from the Gaussian-equivalent picture. Spikes lengthen by
kappa^2 E[s^4] = (d+4)(d+6)/(d(d+2)) (g = id: E[W (z_i^2 - 1)] = sqrt 2 lambda_i kappa^2 E[s^4] exactly).

Chaos estimator (HERMITE.md section 2), C_chaos = C - (G V + V G), G = (1/n) sum y (x x^T - I). Per sample, with
X = x x^T - I = d s T - I (T = theta theta^T), the Kronecker sum is exactly X (+) X = d s (2 P_T + P_mix) - 2 I
(P_T the projector on T, P_mix on the d - 1 matrices theta v^T + v theta^T, v orth. theta), so
    C_chaos = ybar I + (1/n) sum y R,   R = X X^T/2 - d s (2 P_T + P_mix)   (rank d + 1).
R has the eigenvalue -d s on P_mix and, on the plane {T, I - T}, those of the 2 x 2 block
[[a^2/2 - 2 d s, a b/2], [a b/2, b^2/2]] with a = d s - 1, b = -sqrt(d - 1) (X = a T + b (I - T)/sqrt(d - 1)):
r1 ~ |X|^2/2 - 2 d s (the sample's direction, ~F) and r2 ~ -2 s. Scaled as the paper's atom (|X|^2/2 -> kappa s^2),
f = kappa s^2 / (|X|^2/2), the main atom is
    W_chaos = f r1 y  (~ W (1 - 4/(d s))),                                                                  (W3)
and the minor atoms f r2 y and (d - 1) x (-f d s y) enter the Silverstein equation to second order: their mean
shifts the centre, their second moment v = E[sum_k w_k^2] adds a free semicircle of variance c v (`extra_var`):
    centre_chaos = -(E[y] + E[sum_minor w]) ~ E[y (2 s - 1)],                                                (W4)
which removes the radial (trace) shift: E[W] - centre = O(1/d^2) instead of Cov(y, kappa s^2).

Pipeline layer: label law (`theory.PIPELINE`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hierarchical_model._validation import check_choice, check_int

from .label_laws import LabelLaw, compress_samples, signed_lam

__all__ = ["ESTIMATORS", "kappa", "spike_lengthening", "radial_samples", "sample_weights", "weight_law", "hermite_label_law",
           "check_estimator"]

ESTIMATORS = ("paper", "chaos")
TAIL = 4000  # raw weights kept from each tail (single-sample outliers of rules 'soft' and 'hard', `theory.tails`)
#: Fraction of the Monte Carlo weights in each tail fitted as `label_laws.ExtremeTail` (rule 'measure').
TAIL_FRACTION = 0.005


def kappa(d: int) -> float:
    """kappa = d/(d+2): the covariance of Gt on the traceless subspace."""
    return d / (d + 2.0)


def spike_lengthening(d: int) -> float:
    """kappa^2 E[s^4] = (d+4)(d+6)/(d(d+2)), E[s^4] = (d+2)(d+4)(d+6)/d^3 for s ~ chi^2_d/d."""
    return (d + 4.0) * (d + 6.0) / (d * (d + 2.0))


def check_estimator(config, estimator: str) -> str:
    """Refuse an estimator the configuration does not have, in one line."""
    estimator = check_choice("estimator", estimator, ESTIMATORS)
    if estimator == "chaos" and (config.input_model != "hermite" or config.q != 2):
        raise ValueError(f"estimator='chaos' is not allowed for input_model={config.input_model!r}, q={config.q}: "
                         "the chaos projection needs the Hermite input model with q=2")
    return estimator


def radial_samples(config, lam, n_mc: int, seed: int):
    """(s, z, y): s ~ chi^2_d/d, z ~ N(0, I_d1), y = g(h2(s sqrt(kappa) z)) + sigma xi, from default_rng(seed)."""
    from hierarchical_model import make_link

    rng = np.random.default_rng(check_int("seed", seed, 0, 2**31 - 1))
    d = config.d
    s = rng.chisquare(d, n_mc) / d
    z = rng.standard_normal((n_mc, lam.size))
    h1 = (s * np.sqrt(kappa(d)))[:, None] * z
    y = np.asarray(make_link(config.g)(((h1 * h1 - 1.0) @ lam) / np.sqrt(2.0)), np.float64)
    if config.sigma > 0:
        y = y + config.sigma * rng.standard_normal(n_mc)
    return s, z, y


def chaos_atoms(s, d: int):
    """Per sample (W3): the main atom's factor f r1 and the minor atoms' sum f (r2 - (d-1) d s) and sum of
    squares f^2 (r2^2 + (d-1) d^2 s^2), all per unit label (multiply by y, y, y^2)."""
    a, b2 = d * s - 1.0, d - 1.0
    t11, t12, t22 = a * a / 2.0 - 2.0 * d * s, -a * np.sqrt(b2) / 2.0, b2 / 2.0
    mid, rad = (t11 + t22) / 2.0, np.sqrt(((t11 - t22) / 2.0) ** 2 + t12**2)
    r1, r2 = mid + rad, mid - rad
    f = kappa(d) * s * s / ((a * a + b2) / 2.0)
    return f * r1, f * (r2 - b2 * d * s), f * f * (r2 * r2 + b2 * (d * s) ** 2)


def sample_weights(y, s, d: int, estimator: str = "paper") -> np.ndarray:
    """Each sample's weight in C: W = kappa s^2 y (W1, paper estimator) or the main atom f r1 y (W3, chaos)."""
    y, s = np.asarray(y, np.float64), np.asarray(s, np.float64)
    return kappa(d) * s * s * y if estimator == "paper" else chaos_atoms(s, d)[0] * y


def weight_law(y, s, d: int, stats, estimator: str = "paper", n_atoms: int = 300) -> LabelLaw:
    """(W1)-(W4) from joint samples: atoms W (paper: kappa s^2 y; chaos: f r1 y) with the spike statistics
    ``stats`` (N, k), mean E[W], the centre (shift) and extra_var of the estimator, the raw tails of W and their
    fits (`label_laws.ExtremeTail`, the TAIL_FRACTION most extreme weights of each side)."""
    y, s = np.asarray(y, np.float64), np.asarray(s, np.float64)
    W = sample_weights(y, s, d, estimator)
    if estimator == "paper":
        shift, extra = float(y.mean()), 0.0
    else:
        _, minor, minor2 = chaos_atoms(s, d)
        shift, extra = -float(np.mean(y * (1.0 + minor))), float(np.mean(y * y * minor2))
    law = compress_samples(W, stats, n_atoms, tail_fraction=TAIL_FRACTION)
    srt = np.sort(W)
    k = min(TAIL, W.size // 2)
    return replace(law, mean=float(W.mean()), shift=shift, extra_var=extra, tail=np.concatenate([srt[:k], srt[-k:]]))


def hermite_label_law(config, lam=None, estimator: str = "paper", n_mc: int = 400_000, seed: int = 0,
                      n_atoms: int = 300, teacher_seed: int | None = None) -> LabelLaw:
    """Monte Carlo law (W1) of the Hermite model for ``estimator`` ('paper' or 'chaos'), T = identity.

    ``lam``: signed lambda_i (or ``teacher_seed``: Teacher(config, teacher_seed).lam); ``n_mc`` samples of (s, z)
    from default_rng(``seed``), compressed to ``n_atoms`` atoms. Refuses q != 2 and the Gaussian-equivalent model."""
    if config.input_model != "hermite" or config.q != 2:
        raise ValueError(f"input_model={config.input_model!r}, q={config.q} is not allowed: the radial W-law is derived "
                         "for the Hermite input model with q=2")
    estimator = check_estimator(config, estimator)
    n_mc = check_int("n_mc", n_mc, 1000)
    n_atoms = check_int("n_atoms", n_atoms, 10, n_mc)
    lam = signed_lam(config, lam, teacher_seed)
    s, z, y = radial_samples(config, lam, n_mc, seed)
    law = weight_law(y, s, config.d, z * z - 1.0, estimator, n_atoms)
    return replace(law, n_mc=n_mc, seed=seed)
