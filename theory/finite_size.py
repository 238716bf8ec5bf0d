"""Finite-size predictions for Algorithm 1 at every n: outliers, per-direction cos^2, q_h, recovered count, MSE.

Per n (c = D/n), steps 1-3 run in the input model's module, `theory.ge_finite` (Gaussian-equivalent) or
`theory.hermite_finite` (Hermite, q = 2), on its label law (`model_at_n` builds it once for all n):
1. the label law truncated to the range n samples cover, and the bulk edges;
2. each direction's outlier and eigenvector overlap;
3. Algorithm 1's selection (`theory.selection`) and cos^2; q_h = mean cos^2;
4. mse_pred: the population MSE of Algorithm 1's readout given those overlaps (`mse_from_overlaps`) plus an
   O(1/n) estimation error.

Scope. The formulas are those of the Gaussian-equivalent input model in the proportional limit, evaluated at
the finite (D, n), plus the finite-D bulk-eigenvector overlaps of step 3 (`theory.ge_finite`); the fluctuations of the edges and
outliers enter only the selection (rule 'soft'), which decides which of two nearly equal candidates takes the
last slot.
In the Hermite input model E[C] itself differs (`theory.hermite_signal`, exact for g = id): besides the spikes
sqrt(2) lambda_i u_i u_i^T it holds a fourth-cumulant operator of norm ~ 12/d per direction. Seed 0, d = 40,
gamma = 0.4, g = id: the eigenvalues of E[C] are -1.285, -1.037, -0.855, -0.830, -0.768 (overlaps with span(A)
0.96-0.85), then -0.638, -0.631, -0.630 on directions OUTSIDE span(A) (overlap 0.02), and +0.439 for the positive
lambda_3 (additive value +0.541). Measured at n = 128000 (dense engine): top eigenvalue of C -1.366 in the
Hermite model, -0.867 in the Gaussian-equivalent one, where this theory predicts -0.86 (sqrt(2) lambda_1 =
-0.840). So the additive spike with the spectral-method correction is right for Gaussian features even with
the unbounded link; the Hermite model's shift comes from its features (and at smaller n from its heavier
noise), not from the link. Its spurious directions take Algorithm 1's slots: this theory over-predicts the
Hermite model's overlaps at d = 40 (see the issue note's table).

Pipeline layer: outcome (`theory.PIPELINE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from hierarchical_model._validation import check_choice, check_float, check_int

from .asymptotics import readout_error
from .ge_finite import predict_n
from .hermite_finite import model_name, predict_n_hermite
from .hermite_law import check_estimator, radial_samples
from .label_laws import label_law, signed_lam
from .remainder import EXACT_MAX_D, hermite_setup
from .selection import RULES

HERMITE_RULES = ("measure", "extremes", "extremes+anisotropic")  # selection rules derived for the Hermite model only

__all__ = ["Prediction", "predict", "label_variance", "model_at_n", "selection_rule", "finite_size_thresholds", "mse_from_overlaps",
           "average_predictions", "LAW_DRAW_STRIDE"]

#: Draw k of ``law_draws`` uses the Monte Carlo seed (mc_seed + k * LAW_DRAW_STRIDE) mod 2^31.
LAW_DRAW_STRIDE = 1_000_003


@dataclass
class Prediction:
    """Predicted learner outputs on a grid of n (rows of the per-n arrays follow ``ns``; columns teacher order)."""

    config: dict
    lam: list
    ns: list
    qh: np.ndarray          # (N,)
    cos2: np.ndarray        # (N, d1)
    outliers: np.ndarray    # (N, d1) predicted eigenvalue of C per direction, NaN when inside the bulk
    selected: np.ndarray    # (N, d1) bool: the outlier is among the d1 largest |eigenvalues| (p_selected >= 1/2)
    bulk_edges: np.ndarray  # (N, 2) [left, right]
    recovered: np.ndarray   # (N,) #{i: cos2_i > 1/2}
    mse_pred: np.ndarray    # (N,)
    meta: dict = field(default_factory=dict)
    per_seed: dict | None = None  # `predict_seeds`: the per-seed arrays behind the means
    p_selected: np.ndarray | None = None  # (N, d1) its probability (`theory.selection`; 0/1 for selection='hard')
    var_y: float = float("nan")  # Var(y) of the label law (`label_variance`; NaN when with_mse=False)

    # The outcome schema shared with the simulation (`hierarchical_model.outcome.OUTCOME_FIELDS`): the same names
    # as `hm.simulate`'s Outcome, so that an overlay of data and theory is one line.
    @property
    def top_eigs(self) -> np.ndarray:
        """(N, d1) each direction's predicted outlier of C (NaN inside the bulk): the simulation's top_eigs."""
        return self.outliers

    @property
    def mse(self) -> np.ndarray:
        return self.mse_pred

    @property
    def nmse(self) -> np.ndarray:
        """mse / Var(y), the simulation's NMSE."""
        return self.mse_pred / self.var_y

    def to_dict(self) -> dict:
        """JSON-ready: lists, None for absent outliers."""
        def lst(a):
            return [[None if (isinstance(v, float) and math.isnan(v)) else v for v in row] for row in np.asarray(a, float).tolist()]
        return {"config": self.config, "lam": list(self.lam), "ns": list(self.ns), "qh": self.qh.tolist(),
                "cos2": self.cos2.tolist(), "outliers": lst(self.outliers), "selected": self.selected.tolist(),
                "bulk_edges": self.bulk_edges.tolist(), "recovered": self.recovered.tolist(),
                "mse_pred": self.mse_pred.tolist(), "meta": dict(self.meta),
                **({"p_selected": np.asarray(self.p_selected).tolist()} if self.p_selected is not None else {}),
                **({"per_seed": {k: np.asarray(v).tolist() for k, v in self.per_seed.items()}} if self.per_seed else {})}


def selection_rule(config, selection: str = "auto", remainder: str = "auto") -> str:
    """The selection rule, refused in one line where it is not derived: 'soft' and 'hard' (`theory.selection`) serve
    both input models, 'measure' (`theory.spectral_measure`) and 'extremes' (`theory.extreme_samples`) the Hermite
    model only ('extremes+anisotropic': rule 'extremes' on the anisotropic outer bulk of `theory.anisotropic_bulk`).

    'auto' (the default) resolves to the rule measured closest to the simulation: 'extremes+anisotropic' for the
    Hermite model with q = 2 where M is exact (D <= `remainder.EXACT_MAX_D`, ``remainder`` 'auto' or 'exact'; issue 11:
    per-direction cos^2 within 0.066 of 16 data streams for tanh and g = id, both estimators, where 'soft' misses by
    up to 0.18), else 'soft'. `model_at_n` then takes 'soft' at an n where so many samples separate that the pool's
    whole kept tail does (`extreme_samples.PoolSaturatedWarning`; n of order D, where no direction is recovered;
    meta["selection_saturated"])."""
    selection = check_choice("selection", selection, ("auto",) + RULES + HERMITE_RULES)
    if selection == "auto":
        exact = config.input_model == "hermite" and config.q == 2 and config.D <= EXACT_MAX_D
        return "extremes+anisotropic" if exact and remainder in ("auto", "exact") else "soft"
    if selection in HERMITE_RULES and config.input_model != "hermite":
        raise ValueError(f"selection={selection!r} is not allowed for input_model={config.input_model!r}: it is derived for "
                         "the Hermite input model; use 'soft' or 'hard'")
    return selection


def model_at_n(config, lam=None, seed=None, estimator: str = "paper", n_mc: int = 400_000, mc_seed=None,
               remainder: str = "auto", tails: bool = True, selection: str = "auto", n_max: int = 0):
    """(signed lam, at_n(n, n_cells) -> per-n dict, meta) for the law of ``config.input_model`` and ``estimator``,
    with Algorithm 1's selection by ``selection`` (`selection_rule`); ``n_max``: the largest n that at_n will be
    asked for (rules 'extremes...': their pool of extreme samples is drawn once, for it).

    Gaussian-equivalent: `label_law` and `ge_finite.predict_n` (the paper's estimator only). Hermite, q = 2:
    `theory.hermite_finite` (radial W-law + M), with the directions of teacher ``seed`` or, when only ``lam`` is
    given, a Haar-random draw from ``mc_seed`` (M depends on A only through its Haar statistics). Hermite q = 3
    is not derived and is refused (no silent Gaussian-equivalent fallback)."""
    if getattr(config, "conventions", "model") != "model":
        raise ValueError(f"conventions={config.conventions!r} is not allowed: the finite-size theory is derived in "
                         "MODEL.md's conventions ('model') only")
    estimator = check_estimator(config, estimator)
    auto = selection == "auto"
    selection = selection_rule(config, selection, remainder)
    lam = signed_lam(config, lam, seed)
    mcs = mc_seed if mc_seed is not None else (seed if seed is not None else 0)
    D, d1 = config.D, config.latent
    meta = {"n_mc": n_mc, "seed": mcs, "teacher_seed": seed, "D": D, "d1": d1, "estimator": estimator,
            "input_model": config.input_model, "selection": selection}
    if config.input_model == "gaussian_equivalent":
        law = label_law(config, lam, n_mc=n_mc, seed=mcs)
        meta["model"] = "gaussian_equivalent, proportional limit at finite (D, n)"
        return lam, (lambda n, n_cells=60: predict_n(n, D, law, n_cells, selection)), meta
    if config.q != 2:
        raise ValueError(f"input_model='hermite' with q={config.q} is not allowed: the finite-size theory of the "
                         "Hermite model is derived for q=2 only")
    from hierarchical_model import Teacher

    if seed is not None:
        A, meta["directions"] = Teacher(config, seed).A, f"teacher seed {seed}"
    else:
        A = np.linalg.qr(np.random.default_rng(mcs).standard_normal((D, d1)))[0].T
        meta["directions"] = f"Haar draw (seed {mcs}): lam given without the teacher"
    extremes = selection in ("extremes", "extremes+anisotropic")
    if selection == "extremes+anisotropic" and (remainder not in ("auto", "exact") or D > EXACT_MAX_D):
        raise ValueError(f"selection='extremes+anisotropic' with remainder={remainder!r} at D={D} is not allowed: it needs "
                         f"the exact M (remainder 'auto' or 'exact', D <= {EXACT_MAX_D})")
    if remainder == "auto" and extremes and D <= EXACT_MAX_D:
        remainder = "exact"  # its eigenvectors give each separated sample its own quadratic form (D4)
    law, rem = hermite_setup(config, lam, A, estimator, n_mc, mcs, remainder)
    meta.update(model=model_name(rem.kind), remainder=rem.kind, centre=law.centre, mean_W=law.mean,
                mse="readout of the Gaussian-equivalent model (finite_size.mse_from_overlaps)")
    pool = aniso = None
    if extremes:
        from .extreme_samples import PoolCache

        pool = PoolCache(config, lam, estimator, seed=mcs + 17, A=A, n_max=n_max)
        if selection == "extremes+anisotropic":
            from .anisotropic_bulk import AnisotropicBulk

            aniso = AnisotropicBulk(config, lam, A, estimator, rem, seed=mcs + 29)
            meta["bulk"] = "anisotropic correction of the outer bulk (anisotropic_bulk, (A1))"
        meta["extreme_pool"] = f"extreme_samples.pool_size({max(n_max, 1)}) draws, more for a larger n"
    if auto and extremes:
        meta["selection_saturated"] = "soft"

    def at_n(n, n_cells=60):
        if not (auto and extremes):
            return predict_n_hermite(n, D, law, rem, n_cells, tails, selection, pool, aniso)
        import warnings

        from .extreme_samples import PoolSaturatedWarning

        with warnings.catch_warnings():
            warnings.simplefilter("error", PoolSaturatedWarning)
            try:
                return predict_n_hermite(n, D, law, rem, n_cells, tails, selection, pool, aniso)
            except PoolSaturatedWarning:  # so many samples separate (n of order D) that the pool's kept tail does
                return predict_n_hermite(n, D, law, rem, n_cells, tails, "soft")

    return lam, at_n, meta


def predict(config, ns, lam=None, n_mc: int = 400_000, seed: int | None = None, readout_degree: int = 5,
            with_mse: bool = True, *, estimator: str = "paper", mc_seed: int | None = None, remainder: str = "auto",
            tails: bool = True, selection: str = "auto", law_draws: int = 1) -> Prediction:
    """Predict Algorithm 1's first-layer outputs and test MSE at every n in ``ns`` (see module docstring; the
    Hermite model: `theory.hermite_finite`), for the law of config.input_model and ``estimator``
    ('paper' or 'chaos', the latter Hermite q = 2 only).

    The teacher: ``seed`` (lam = Teacher(config, seed).lam, and its directions for M) or explicit signed ``lam``
    (teacher order); one is required, since the signs decide on which side of the bulk each spike sits.
    ``n_mc``: Monte Carlo size of the label law, drawn from ``mc_seed`` (default: ``seed``, else 0);
    ``remainder``: 'auto' (exact for the paper estimator, and for both with selection 'extremes', up to
    `remainder.EXACT_MAX_D`, else the semicircle;
    `theory.remainder`), 'exact', 'semicircle', 'semicircle+spurious' or 'none' (Hermite M); ``tails``: count single-sample
    outliers (`theory.tails`); ``with_mse=False`` skips the MSE's Monte Carlo (mse_pred is then NaN);
    ``selection``: 'auto' (default, `selection_rule`: 'extremes+anisotropic' for the Hermite model where M is exact,
    else 'soft'; meta["selection"] names the rule used), 'soft' (the probability that each outlier is among the d1
    largest |eigenvalues| under a finite sample's fluctuations), 'hard' (the all-or-nothing deterministic rule), both
    `theory.selection`, or
    'measure' (Hermite model, `theory.spectral_measure`: the mass of each u_i's spectral measure beyond the d1-th
    largest |eigenvalue|; measured against 'soft' in `theory.hermite_finite`) or 'extremes' (Hermite model,
    `theory.extreme_samples`: the samples that separate from the bulk as explicit spikes coupled to the directions,
    from a pool of their own; the better rule for the chaos estimator with heavy-tailed labels, measured there) or
    'extremes+anisotropic' (the same on the anisotropic bulk of `theory.anisotropic_bulk`, exact M only: with
    (M1') of `theory.remainder` the rule within issue 11's targets for g = id and tanh, both estimators, where 'soft'
    misses tanh with the paper estimator and g = id; measured in `theory.hermite_finite`).
    ``law_draws``: the mean of that many predictions, each on its own Monte Carlo draw of the label law and of M's
    coefficients (seeds mc_seed + k * LAW_DRAW_STRIDE); meta["cos2_mc_se"] (N, d1) is the standard error of that mean
    (NaN for one draw). Why: where an outlier and the bulk's edge are within the selection's fluctuation scale
    (a few 0.001 at d = 40, n = 64000), a Monte Carlo error of that size in either moves P(selected). Measured (issue
    11, d = 40, Hermite, n_mc = 100000, 8 draws): the sd of one prediction's cos^2_i across draws reaches 0.07-0.11
    for tanh and 0.25-0.29 for g = id (whose edge the few largest atoms of the truncated law set). A larger n_mc
    helps only in part: the law's largest atoms stay single samples (the edge moved by +-0.0015 at n_mc = 1.6M), while
    M's coefficients now follow n_mc (`remainder.hermite_setup`; at 1.6M that narrowed P(selected) at the knife edge
    of teacher 3, tanh, n = 64000, from 0.74-0.89 to 0.78-0.85 across draws).
    With 8 draws the largest error of a 4-seed mean per-direction cos^2 in issue 11's table (n = 4000..64000) is
    0.079/0.047/0.094/0.127 (tanh paper/chaos, g = id paper/chaos) against 0.070/0.081/0.110/0.142 with one draw.
    meta["model"] states the law and approximation used."""
    ns = [check_int("n", n, 1) for n in np.atleast_1d(ns)]
    law_draws = check_int("law_draws", law_draws, 1, 64)
    if law_draws > 1:
        base = mc_seed if mc_seed is not None else (seed if seed is not None else 0)
        mc_seeds = [(check_int("mc_seed", base, 0, 2**31 - 1) + k * LAW_DRAW_STRIDE) % 2**31 for k in range(law_draws)]
        draws = [predict(config, ns, lam, n_mc, seed, readout_degree, with_mse, estimator=estimator, mc_seed=m,
                         remainder=remainder, tails=tails, selection=selection) for m in mc_seeds]
        mean, stack = average_predictions(draws)
        meta = dict(draws[0].meta, law_draws=law_draws, mc_seeds=mc_seeds,
                    cos2_mc_se=(stack["cos2"].std(axis=0, ddof=1) / math.sqrt(law_draws)).tolist())
        return Prediction(config=draws[0].config, lam=draws[0].lam, ns=draws[0].ns, meta=meta, **mean)
    lam, at_n, meta = model_at_n(config, lam, seed, estimator, n_mc, mc_seed, remainder, tails, selection, max(ns))
    rows = [at_n(n) for n in ns]
    cos2 = np.array([r["cos2"] for r in rows])
    mcs = meta["seed"]
    mse = np.array([mse_from_overlaps(config, lam, c2, n, readout_degree=readout_degree, n_mc=min(n_mc, 200_000), seed=mcs)
                    if with_mse
                    else np.nan for c2, n in zip(cos2, ns)])
    var_y = label_variance(config, lam, min(n_mc, 200_000), mcs) if with_mse else float("nan")
    if "tail_outliers" in rows[0]:
        meta["tail_outliers"] = [r["tail_outliers"] for r in rows]
    return Prediction(config=config.to_dict(), lam=[float(v) for v in lam], ns=ns, qh=cos2.mean(axis=1), cos2=cos2,
                      outliers=np.array([r["z"] for r in rows]), selected=np.array([r["selected"] for r in rows]) >= 0.5,
                      bulk_edges=np.array([r["edges"] for r in rows]), recovered=(cos2 > 0.5).sum(axis=1),
                      mse_pred=mse, meta=meta, p_selected=np.array([r["selected"] for r in rows], float), var_y=var_y)


def average_predictions(preds) -> tuple[dict, dict]:
    """The mean of Predictions on one grid, as Prediction's fields (qh, cos2, outliers (NaN-mean: over the predictions
    that have the outlier), selected and recovered (fractions), bulk_edges, mse_pred, p_selected, var_y), and the
    stacked per-prediction arrays behind them."""
    import warnings

    keys = ("qh", "cos2", "outliers", "selected", "bulk_edges", "recovered", "mse_pred", "p_selected")
    stack = {k: np.array([getattr(p, k) for p in preds], float) for k in keys}
    mean = {k: stack[k].mean(axis=0) for k in keys if k != "outliers"}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean["outliers"] = np.nanmean(stack["outliers"], axis=0)
    mean["var_y"] = float(np.mean([p.var_y for p in preds]))
    return mean, stack


def label_variance(config, lam, n_mc: int, seed: int = 0) -> float:
    """Var(y) under the input model's label law: the radial samples of the Hermite model (HERMITE.md section 3),
    else the Gaussian-equivalent law of MODEL.md; the denominator of the NMSE."""
    if config.input_model == "hermite" and config.q == 2:
        return float(np.var(radial_samples(config, np.asarray(lam, float), n_mc, seed)[2]))
    law = label_law(config, lam, n_mc=n_mc, seed=seed)
    return float(law.p @ law.w**2 - law.mean**2)


def mse_from_overlaps(config, lam, cos2, n: int | None = None, readout_degree: int = 5, n_mc: int = 200_000,
                      seed: int = 0) -> float:
    """Test MSE of Algorithm 1 when its recovered directions have squared overlaps ``cos2`` (Monte Carlo).

    Model: each direction with cos2_i > 0 has one estimated field h1hat_i = cos_i h1_i + sin_i xi_i (xi_i
    independent N(0, 1): the eigenvector's part outside the teacher span, Gaussian-equivalent model);
    B_hat takes its population value E[y (h1hat_i^2 - 1)] = cos_i^2 E[y (h1_i^2 - 1)] on the diagonal (the
    off-diagonal ones vanish by the h1_i -> -h1_i symmetry), and the readout is the population least-squares
    fit of y on He_0..He_p(h2hat / sd) (MODEL.md section 2, step 4). So (h1hat_i^2 - 1) keeps a fraction
    cos_i^4 of the variance of (h1_i^2 - 1): for g = id the MSE is sum_i lambda_i^2 (1 - cos_i^4), the
    unrecovered energy, and other links map it through the readout.
    With ``n``: plus the estimation error `theory.asymptotics.readout_error` (the d1 (d1 + 1)/2 entries of
    B_hat and the p + 1 readout coefficients, each O(E[y^2]/n)), an O(1/n) order-of-magnitude term, not a
    sharp constant."""
    from hierarchical_model import hermite_he, make_link

    lam = np.asarray(lam, np.float64)
    cos2 = np.clip(np.asarray(cos2, np.float64), 0.0, 1.0)
    rng = np.random.default_rng(seed + 1)
    h1 = rng.standard_normal((n_mc, lam.size))
    xi = rng.standard_normal((n_mc, lam.size))
    y = np.asarray(make_link(config.g)(((h1**2 - 1) @ lam) / np.sqrt(2)), np.float64)
    if config.sigma > 0:
        y = y + config.sigma * rng.standard_normal(n_mc)
    hh = np.sqrt(cos2) * h1 + np.sqrt(1 - cos2) * xi
    b = cos2 * (y @ (h1**2 - 1)) / n_mc
    h2 = (hh**2 - 1) @ b
    sd = np.sqrt(2.0 * np.sum(b**2))
    if sd <= 0:
        mse = float(np.var(y))
    else:
        Phi = np.asarray(hermite_he(h2 / sd, readout_degree), np.float64)
        coef, *_ = np.linalg.lstsq(Phi, y, rcond=None)
        mse = float(np.mean((y - Phi @ coef) ** 2))
    if n is not None:
        mse += float(readout_error(n, lam.size, float(np.mean(y**2)), readout_degree))
    return mse


def finite_size_thresholds(config, lam=None, n_lo: float | None = None, n_hi: float | None = None, n_mc: int = 200_000,
                           seed: int | None = None, level: float = 0.5, per_decade: int = 12, refine: int = 5, *,
                           estimator: str = "paper", mc_seed: int | None = None, remainder: str = "auto") -> np.ndarray:
    """n at which each direction's predicted cos^2 first reaches ``level`` (default 1/2), teacher order.

    The teacher, law and estimator as in `predict` (``seed`` or ``lam``; config.input_model, ``estimator``).
    Scans a geometric grid of n (``per_decade`` points per decade, from n_lo = D/2 to n_hi = 300 D by
    default), then refines the first crossing of each direction by ``refine`` bisections in log n (the
    selection step can make cos^2 jump, so a bracketing method; relative precision 10^(1/per_decade)^(2^-refine),
    about 0.6% by default). Uses 24 cells per bulk side (`resolvent.edge_cells`) and the deterministic ('hard')
    selection of `theory.selection`, so that a threshold is the crossing of the limiting curves; NaN where the
    level is not reached below n_hi."""
    D = config.D
    level = check_float("level", level, 0.0, 1.0, lo_open=True, hi_open=True)
    lam, at_n, _ = model_at_n(config, lam, seed, estimator, n_mc, mc_seed, remainder, selection="hard")
    lo = math.log(n_lo if n_lo is not None else max(D / 2, config.latent + 1))
    hi = math.log(n_hi if n_hi is not None else 300 * D)
    grid = np.linspace(lo, hi, max(4, int(round(per_decade * (hi - lo) / math.log(10))) + 1))
    cache = {}

    def cos2_at(t):
        if t not in cache:
            cache[t] = at_n(int(round(math.exp(t))), n_cells=24)["cos2"]
        return cache[t]

    rows = []
    for t in grid:  # up the grid until every direction has crossed
        rows.append(cos2_at(t))
        if np.all(np.max(rows, axis=0) >= level):
            break
    vals = np.array(rows)
    out = np.full(lam.size, np.nan)
    for i in range(lam.size):
        above = np.flatnonzero(vals[:, i] >= level)
        if above.size == 0:
            continue
        k = above[0]
        if k == 0:
            out[i] = math.exp(grid[0])
            continue
        a, b = grid[k - 1], grid[k]
        for _ in range(refine):
            m = 0.5 * (a + b)
            a, b = (a, m) if cos2_at(m)[i] >= level else (m, b)
        out[i] = math.exp(b)
    return out
