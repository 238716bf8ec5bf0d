"""The paper's asymptotic statements with the constants of OUR normalisation (MODEL.md sections 1 and 4).

Normalisation (MODEL.md section 1): E[F F^T] = I_D, orthonormal rows u_i of A, lambda_i = Z_gamma z_i i^-gamma
with sum lambda_i^2 = 1, h2 = (1/sqrt 2) sum_i lambda_i (h1_i^2 - 1) (so Var h2 = 1), y = g(h2) + sigma xi,
nu_1 = E[Z g(Z)], T = identity (the paper's Algorithm 1).

Constants derived here (Gaussian-equivalent model, first order in lambda):

* signal:  u_i^T E[C] u_i = E[y (h1_i^2 - 1)] = theta_i = sqrt(2) nu_1 lambda_i   (exact for g = id),
  E[C] = sum_i theta_i u_i u_i^T + O(lambda^2) and E[C] = 0 on span(A)^perp;
* noise:   C - E[C] is, to leading order, a Wigner-type matrix with entry variance E[y^2]/n, spectral
  edge 2 sqrt(D E[y^2] / n); the BBP-type (semicircle) threshold is theta_i^2 = D E[y^2] / n:

      n_i = D E[y^2] / theta_i^2 = kappa D i^(2 gamma) / Z_gamma^2,   kappa = E[y^2] / (2 nu_1^2),

  kappa = 1/2 for g = id, 0.537 for tanh; n_1 = 1248 at d = 40, gamma = 0.4, tanh (MODEL.md section 5
  quotes about 1250), 1162 for g = id;
* above threshold (same semicircle picture): cos^2 theta_i = 1 - n_i / n and
  1 - |cos theta_i| = 1 - sqrt(1 - n_i/n) ~ n_i / (2 n)  (Theorem 3.1's d^q i^(2 gamma) / (n Z^2)).

E[y^2] is the Gaussian value E[g(Z)^2] + sigma^2 (h2 treated as N(0, 1)); h2 is a weighted chi-square, so
for few large lambdas both E[y^2] and theta_i differ from these first-order values (for tanh at d1 = 6,
gamma = 0.4 the exact theta_1 is about 0.87 times sqrt(2) nu_1 lambda_1): the finite-size theory
(theory.finite_size) is where such corrections belong. Every function is vectorised over n.

Pipeline layer: closed forms (`theory.PIPELINE`).
"""

from __future__ import annotations

import math

import numpy as np

from hierarchical_model._validation import check_float, check_int
from hierarchical_model.links import make_link
from hierarchical_model.teacher import spike_weights

__all__ = ["z_gamma", "spike_strengths", "label_second_moment", "threshold_constant", "recovery_thresholds",
           "naive_thresholds", "threshold_scaling", "recovered_count", "recovered_count_continuous",
           "mse_asymptotic", "tail_energy", "link_tail_mse", "readout_error", "mse_tail", "cos2_naive",
           "angular_error", "kernel_sample_complexity"]


def _positive_array(name: str, values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise ValueError(f"{name}={values!r} is out of range: every entry must be a finite number > 0")
    return a


def _outer(n, per_direction) -> np.ndarray:
    """(n, per_direction) reshaped so that they broadcast to n.shape + per_direction.shape."""
    n = _positive_array("n", n)
    return n.reshape(n.shape + (1,) * np.ndim(per_direction)), np.asarray(per_direction, np.float64)


def z_gamma(d1: int, gamma: float) -> float:
    """Z_gamma = (sum_{i <= d1} i^(-2 gamma))^(-1/2), the normalisation making sum lambda_i^2 = 1 (MODEL.md 1)."""
    d1 = check_int("d1", d1, 1)
    gamma = check_float("gamma", gamma, 0.0)
    return float(np.sum(np.arange(1, d1 + 1, dtype=np.float64) ** (-2.0 * gamma)) ** -0.5)


def spike_strengths(lam, nu1: float) -> np.ndarray:
    """theta_i = sqrt(2) nu_1 lambda_i (signed): the spike of E[C] along u_i (MODEL.md section 4, 'Signal').

    Derivation: E[C] = E[y (F F^T - I)] = A^T E[y (h1 h1^T - I)] A in the Gaussian-equivalent model, and
    g(h2) = nu_1 h2 + (higher Hermite terms), with E[h2 (h1_i^2 - 1)] = lambda_i E[(h1_i^2 - 1)^2] / sqrt 2
    = sqrt(2) lambda_i. Exact for g = id; first order in lambda for a nonlinear g.
    """
    nu1 = check_float("nu1", nu1)
    return math.sqrt(2.0) * nu1 * np.asarray(lam, np.float64)


def label_second_moment(g="tanh", sigma: float = 0.0) -> float:
    """E[y^2] = E[g(Z)^2] + sigma^2: the Gaussian approximation h2 ~ N(0, 1) (exact for g = id)."""
    return make_link(g).second_moment + check_float("sigma", sigma, 0.0) ** 2


def threshold_constant(nu1: float, second_moment: float) -> float:
    """kappa = E[y^2] / (2 nu_1^2), so that n_i = kappa D i^(2 gamma) / Z_gamma^2 (1/2 for g = id)."""
    return check_float("second_moment", second_moment, 0.0, lo_open=True) / (2.0 * check_float("nu1", nu1) ** 2)


def recovery_thresholds(D: int, lam, nu1: float, second_moment: float) -> np.ndarray:
    """Naive BBP-type thresholds n_i = D E[T(y)^2] / theta_i^2, theta_i = sqrt(2) nu_1 lambda_i (MODEL.md 4, 5).

    The noise C - E[C] is treated as a Wigner matrix with entry variance E[y^2]/n (edge 2 sqrt(D E[y^2]/n));
    a spike theta emerges from a semicircle bulk when theta^2 > D E[y^2]/n. This ignores the Marchenko-Pastur
    shape at c = D/n ~ 1 and the label-spike correlations, hence underestimates the measured thresholds.
    """
    D = check_int("D", D, 1)
    theta = spike_strengths(lam, nu1)
    return D * check_float("second_moment", second_moment, 0.0, lo_open=True) / theta**2


def naive_thresholds(config) -> np.ndarray:
    """`recovery_thresholds` of a TeacherConfig: lambda magnitudes, nu_1 and E[y^2] = E[g^2] + sigma^2."""
    link = make_link(config.g)
    lam = spike_weights(config.latent, config.gamma)
    return recovery_thresholds(config.D, lam, link.nu1, link.second_moment + config.sigma**2)


def threshold_scaling(d: int, q: int, d1: int, gamma: float, i=None) -> np.ndarray:
    """The paper's scaling form n_i ~ d^q i^(2 gamma) / Z_gamma^2 (MODEL.md 4), without constants.

    Our thresholds are kappa (D / d^q) times this, D / d^q -> 1/q! (`threshold_constant`)."""
    d, q = check_int("d", d, 2), check_int("q", q, 1)
    i = np.arange(1, d1 + 1) if i is None else _positive_array("i", i)
    return float(d) ** q * np.asarray(i, np.float64) ** (2.0 * gamma) / z_gamma(d1, gamma) ** 2


def recovered_count(n, thresholds) -> np.ndarray:
    """Corollary 3.1, discrete form: m_n = #{i : n_i <= n}; shape of n."""
    n, th = _outer(n, np.ravel(thresholds))
    return np.sum(th <= n, axis=-1)


def recovered_count_continuous(n, D: int, gamma: float, d1: int | None = None, kappa: float = 1.0) -> np.ndarray:
    """Corollary 3.1: m_n = (Z_gamma^2 n / (kappa D))^(1/(2 gamma)), capped at d1 when d1 is given.

    kappa = 1 is the paper's form; kappa = `threshold_constant` makes floor(m_n) equal `recovered_count`
    of the naive thresholds. Z_gamma needs d1 (d1 = None takes Z_gamma = 1, the pure power law)."""
    n = _positive_array("n", n)
    gamma = check_float("gamma", gamma, 0.0, lo_open=True)
    z2 = 1.0 if d1 is None else z_gamma(d1, gamma) ** 2
    m = (z2 * n / (check_float("kappa", kappa, 0.0, lo_open=True) * check_int("D", D, 1))) ** (1.0 / (2.0 * gamma))
    return m if d1 is None else np.minimum(m, d1)


def mse_asymptotic(n, d: int, q: int, gamma: float, d1: int | None = None) -> np.ndarray:
    """Theorem 3.2, the paper's scaling forms (prefactors 1):

    gamma > 1/2:      MSE ~ (n / d^q)^(-1 + 1/(2 gamma))             (d^q << n)
    0 < gamma < 1/2:  MSE ~ 1 - (n / (d1 d^q))^(1/(2 gamma) - 1)     (d^q << n << d1 d^q; needs d1)

    Both are the tail energy sum_{i > m_n} lambda_i^2 with m_n of Corollary 3.1 and the sum replaced by an
    integral (Z_gamma^2 -> 1/zeta(2 gamma) resp. (1 - 2 gamma) d1^(2 gamma - 1)); gamma = 1/2 (logarithmic
    corrections) is refused. The window form is clipped at 0 beyond the window."""
    n = _positive_array("n", n)
    d, q = check_int("d", d, 2), check_int("q", q, 1)
    gamma = check_float("gamma", gamma, 0.0, lo_open=True)
    if gamma > 0.5:
        return (n / float(d) ** q) ** (-1.0 + 1.0 / (2.0 * gamma))
    if gamma == 0.5:
        raise ValueError("gamma=0.5 is not allowed: Theorem 3.2 states gamma > 1/2 or 0 < gamma < 1/2")
    if d1 is None:
        raise ValueError("d1=None is not allowed for gamma < 1/2: the window form needs d1 >= 1")
    d1 = check_int("d1", d1, 1)
    return np.maximum(0.0, 1.0 - (n / (d1 * float(d) ** q)) ** (1.0 / (2.0 * gamma) - 1.0))


def tail_energy(n, lam, thresholds) -> np.ndarray:
    """t(n) = sum_{i : n_i > n} lambda_i^2, the energy of the unrecovered directions (exact finite sum)."""
    n, th = _outer(n, np.ravel(thresholds))
    lam2 = np.ravel(np.asarray(lam, np.float64)) ** 2
    if lam2.shape != th.shape:
        raise ValueError(f"lam has {lam2.size} entries and thresholds {th.size}: they must match")
    return np.sum(np.where(th > n, lam2, 0.0), axis=-1)


def link_tail_mse(g, t, n_nodes: int = 81) -> np.ndarray:
    """MSE of the Bayes predictor that knows the recovered part of h2 but not an independent tail of energy t:

        M_g(t) = E[g(Z)^2] - E_{Z1}[(E_{Z2} g(sqrt(1 - t) Z1 + sqrt(t) Z2))^2]
               = sum_{k >= 1} k! c_k^2 (1 - (1 - t)^k)        (Mehler, g = sum_k c_k He_k)

    with h2 Gaussian (recovered and tail parts independent, Var h2 = 1). M_id(t) = t exactly;
    M_g(t) = E[g'(Z)^2] t + O(t^2) is the link's 'variance factor'. 2-D Gauss-Hermite quadrature."""
    link = make_link(g)
    t = np.asarray(t, np.float64)
    if np.any((t < 0) | (t > 1)) or not np.all(np.isfinite(t)):
        raise ValueError("t is out of range: every tail energy must lie in [0, 1]")
    z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
    w = w / w.sum()
    tt = t.reshape(t.shape + (1, 1))
    vals = np.asarray(link(np.sqrt(1.0 - tt) * z[:, None] + np.sqrt(tt) * z[None, :]), np.float64)
    cond = vals @ w  # E[g | Z1] at each Z1 node
    return link.second_moment - (cond**2) @ w


def readout_error(n, d1: int, second_moment: float, readout_degree: int = 5) -> np.ndarray:
    """O(1/n) error of the fitted second layer: p E[y^2] / n, p = d1 (d1 + 1) / 2 + readout_degree + 1.

    Parameter counting (least squares with p coefficients has excess risk ~ p sigma_res^2 / n, here with
    sigma_res^2 <= E[y^2]): the d1 x d1 symmetric B_hat and the Hermite readout of degree readout_degree."""
    n = _positive_array("n", n)
    p = check_int("d1", d1, 1) * (d1 + 1) / 2 + check_int("readout_degree", readout_degree, 0) + 1
    return p * check_float("second_moment", second_moment, 0.0) / n


def mse_tail(n, config, thresholds=None, readout_degree: int = 5) -> np.ndarray:
    """Finite-size version of Theorem 3.2's MSE: M_g(t(n)) + sigma^2 + readout_error(n).

    t(n) = `tail_energy` over the directions with n_i > n (thresholds default to `naive_thresholds`; pass the
    finite-size ones for a sharper prediction); M_g = `link_tail_mse` (= t for g = id); sigma^2 is the
    irreducible label noise. Treats each direction as perfectly recovered above its threshold and absent below."""
    th = naive_thresholds(config) if thresholds is None else _positive_array("thresholds", thresholds)
    lam = spike_weights(config.latent, config.gamma)
    link = make_link(config.g)
    t = np.clip(tail_energy(n, lam, th), 0.0, 1.0)
    return (link_tail_mse(link, t) + config.sigma**2
            + readout_error(n, config.latent, link.second_moment + config.sigma**2, readout_degree))


def cos2_naive(n, thresholds) -> np.ndarray:
    """Semicircle BBP overlap cos^2 theta_i = max(0, 1 - n_i / n); shape n.shape + thresholds.shape."""
    n, th = _outer(n, thresholds)
    return np.maximum(0.0, 1.0 - th / n)


def angular_error(n, thresholds) -> np.ndarray:
    """Theorem 3.1 (post-threshold): 1 - |cos theta_i| = 1 - sqrt(1 - n_i/n) ~ n_i / (2 n)
    = kappa D i^(2 gamma) / (2 n Z_gamma^2), the paper's d^q i^(2 gamma) / (n Z_gamma^2) with our constants;
    1 (no alignment) below threshold. Shape n.shape + thresholds.shape."""
    return 1.0 - np.sqrt(cos2_naive(n, thresholds))


def kernel_sample_complexity(d: int, q: int) -> float:
    """n ~ d^(2q): y is a degree-2q polynomial of x, which a rotation-invariant kernel needs d^(2q) samples for."""
    return float(check_int("d", d, 1)) ** (2 * check_int("q", q, 1))
