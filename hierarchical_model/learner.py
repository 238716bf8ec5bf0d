"""Algorithm 1 of MODEL.md section 2: the layer-wise spectral learner, scikit-learn style (the plain reference is
`algorithm1.algorithm1`; this class orchestrates its optimised parts).

1. C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D); A_hat = its d1 eigenvectors of largest |eigenvalue|
   (`engines`: the dense or the matrix-free engine behind `engines.layer1.Layer1Engine.top_eigenpairs`).
   estimator='chaos' (q = 2 Hermite input): the eigenvectors of C_chaos = C - (G (+) G) instead
   (HERMITE.md section 2); B_hat below keeps its meaning (the labels' second moment in h1_hat).
2. h1_hat = A_hat F(x);  B_hat = (1/n) sum_mu y_mu (h1_hat h1_hat^T - I);  h2_hat = <B_hat, h1_hat h1_hat^T - I>
   (`layer2.fit_bhat`, or read off C when layer 2 reads layer 1's samples with T = identity).
3. Readout: ridge regression of y on He_0..He_p (normalised) of u = h2_hat / s, s = sqrt(2) ||B_hat||_F
   (`layer2.fit_readout`), the ridge chosen on held-out data that layers 1 and 2 never saw (`splits`).
"""

from __future__ import annotations

import math
import time
import warnings
from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np

from ._params import Params
from ._validation import check_choice, check_finite_array, check_float, check_int, check_memory_gb, input_transform
from ._x64 import float64
from .engines import (ENGINES, ESTIMATORS, LABEL_TRANSFORMS, ArraySource, LabelTransform, StreamSource, check_estimator,
                      choose_batch_chunks, default_memory_gb, engine_batch_chunks, make_engine, resolve_engine)
from .hermite import GaussianFeatures, HermiteFeatures
from .layer2 import Readout, fit_bhat, fit_readout
from .splits import array_split, min_array_samples, stream_split
from .teacher import CHUNK, MAX_SAMPLES, Teacher

__all__ = ["HierarchicalSpectralLearner", "ENGINES", "ESTIMATORS", "LABEL_TRANSFORMS", "default_memory_gb", "resolve_engine",
           "DEFAULT_RIDGES", "input_transform"]

DEFAULT_RIDGES = tuple(10.0 ** np.arange(-8, 5))  # up to 1e4: "predict ~0" must be on the menu
_CACHE_SHARE = 0.25  # share of memory_gb that a nested grid may spend keeping its stream's prefix


class HierarchicalSpectralLearner(Params):
    """Layer-wise spectral learner for hierarchical targets (Algorithm 1, MODEL.md section 2).

    Parameters (stored as given; validated by fit, fit_stream and fit_path: get_params / set_params / clone work)
    ----------
    d1 : number of latent directions to recover.
    q : degree of the Hermite features.
    engine : 'auto' | 'dense' | 'matrix_free' (see `hierarchical_model.engines`).
    input_model : 'hermite' (inputs are x in R^d) or 'gaussian_equivalent' (inputs are the features).
    label_transform : T(y) for the first layer: 'identity' (paper), 'clip' or 'tanh' at the
        ``clip_quantile`` of |y| on the held-out validation samples.
    estimator : layer-1 matrix: 'paper' (C, MODEL.md section 2) or 'chaos' (C_chaos = C - (G (+) G),
        G = (1/n) sum T(y) (x x^T - I); HERMITE.md section 2; q = 2 Hermite input only).
    readout_degree : degree of the Hermite basis of h2_hat in the ridge readout.
    n_validation : fresh samples that choose the readout ridge in fit_stream / fit_path (`splits`).
    fresh_split : fit layer 2 and the readout on fresh samples (streams: an independent draw of the same
        size; arrays: the second half, the first half going to layer 1), as in the paper's proof.
    block_size, krylov_depth, tol, max_passes : block Krylov settings of the matrix-free engine
        (block defaults to d1 + 10).
    memory_gb : budget for the dense engine's D x D arrays (default: half the machine's memory; at most
        the physical memory).
    seed : seed of the Krylov start vectors.
    standardize : fit(X, y) only. The Hermite features assume x ~ N(0, I_d) (MODEL.md section 1), and
        inputs off that scale blow the degree-q features and the degree-5 readout up (NaN predictions
        for 10 X). False (default, the paper's convention): X must already be on the unit scale, checked
        per column (mean within 0.5 + 6.1/sqrt(n) of 0, standard deviation within a factor 1.5 of the
        range a genuine N(0, 1) column of n samples reaches with probability 1 - 1e-9); an input off that
        scale is refused with a message saying how far it is. True: each column is centred and scaled
        by its sample mean and standard deviation, learned as ``x_mean_`` and ``x_scale_`` and applied
        by predict and evaluate as well.

    Learned attributes: ``x_mean_``, ``x_scale_`` (the input transform of fit(X, y): zeros and ones
    unless standardize=True), ``A_hat_`` (d1, D), ``eigenvalues_`` (d1,), ``spectrum_`` (all eigenvalues, dense
    engine and D <= 5000, else None), ``B_hat_``, ``coef_``, ``h2_scale_``, ``ridge_``, ``engine_``,
    ``eigen_solver_`` (how layer 1 was solved), ``eigen_info_`` (its `engines.EigenInfo`: residuals
    |C u - theta u| / |theta_1|, passes), ``converged_`` (False when the matrix-free engine stopped at max_passes
    above tol: a `engines.ConvergenceWarning` is issued too), ``n_passes_``, ``n_samples_``, ``timings_``.
    """

    def __init__(self, d1: int, q: int = 2, *, engine: str = "auto", input_model: str = "hermite",
                 label_transform: str = "identity", estimator: str = "paper", clip_quantile: float = 0.99,
                 readout_degree: int = 5,
                 n_validation: int = 5000, ridge_grid=DEFAULT_RIDGES, fresh_split: bool = False, block_size: int | None = None,
                 krylov_depth: int = 4, tol: float = 1e-4, max_passes: int = 300,
                 memory_gb: float | None = None, seed: int = 0, spectrum_max_D: int = 5000, standardize: bool = False):
        self.d1, self.q, self.engine, self.input_model = d1, q, engine, input_model
        self.label_transform, self.estimator, self.clip_quantile = label_transform, estimator, clip_quantile
        self.readout_degree, self.n_validation, self.ridge_grid, self.fresh_split = readout_degree, n_validation, ridge_grid, fresh_split
        self.block_size, self.krylov_depth, self.tol, self.max_passes = block_size, krylov_depth, tol, max_passes
        self.memory_gb, self.seed, self.spectrum_max_D, self.standardize = memory_gb, seed, spectrum_max_D, standardize

    def _checked_params(self) -> SimpleNamespace:
        """The parameters validated (one line naming the first bad one), as used by a fit."""
        p = SimpleNamespace(d1=check_int("d1", self.d1, 1), q=check_int("q", self.q, 2, 3))
        p.engine = check_choice("engine", self.engine, ENGINES)
        p.input_model = check_choice("input_model", self.input_model, ("hermite", "gaussian_equivalent"))
        p.label_transform = check_choice("label_transform", self.label_transform, LABEL_TRANSFORMS)
        p.estimator = check_estimator(self.estimator, q=p.q, input_model=p.input_model)
        p.clip_quantile = check_float("clip_quantile", self.clip_quantile, 0.0, 1.0, lo_open=True)
        p.readout_degree = check_int("readout_degree", self.readout_degree, 1, 12)
        p.n_validation = check_int("n_validation", self.n_validation, 1)
        p.ridge_grid = tuple(check_float("ridge_grid", r, 0.0) for r in self.ridge_grid)
        if not p.ridge_grid:
            raise ValueError("ridge_grid=() is not allowed: must hold at least one ridge >= 0")
        p.fresh_split = bool(self.fresh_split)
        p.block_size = None if self.block_size is None else check_int("block_size", self.block_size, p.d1)
        p.krylov_depth = check_int("krylov_depth", self.krylov_depth, 1, 50)
        p.tol = check_float("tol", self.tol, 0.0, 1.0, lo_open=True)
        p.max_passes = check_int("max_passes", self.max_passes, 1)
        p.memory_gb = default_memory_gb() if self.memory_gb is None else check_memory_gb("memory_gb", self.memory_gb)
        p.seed = check_int("seed", self.seed, 0, 2**31 - 1)
        p.spectrum_max_D = check_int("spectrum_max_D", self.spectrum_max_D, 0)
        if not isinstance(self.standardize, bool):
            raise ValueError(f"standardize={self.standardize!r} is not allowed: must be True or False")
        p.standardize = self.standardize
        return p

    # ---- public API ---------------------------------------------------------------------------------
    @float64
    def fit(self, X, y):
        """Fit on arrays: X (n, d) inputs (or (n, D) features when input_model='gaussian_equivalent'), y (n,)."""
        p = self._checked_params()
        X = check_finite_array("X", X, 2, "(n_samples, n_inputs)")
        y = check_finite_array("y", y, 1, "(n_samples,)")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {y.shape[0]} samples: must match X's {X.shape[0]}")
        if p.input_model == "hermite":
            check_int("X.shape[1] (input dimension d)", X.shape[1], 2)
        fmap = HermiteFeatures(X.shape[1], p.q) if p.input_model == "hermite" else GaussianFeatures(X.shape[1])
        check_int("d1", p.d1, 1, fmap.D)
        check_int("n (number of samples)", X.shape[0], min_array_samples(p.d1, p.fresh_split))
        if np.ptp(y) == 0:
            raise ValueError(f"y is constant (every label is {y[0]:g}): the spectral learner needs labels that vary")
        if np.max(np.abs(y)) > _MAX_LABEL:
            raise ValueError(f"y reaches |y|={np.max(np.abs(y)):.3g}: must stay below {_MAX_LABEL:g}, beyond which the "
                             "float32 products y F F^T and y^2 overflow; rescale the labels")
        self.x_mean_, self.x_scale_ = input_transform(X, p.standardize)
        X = (X - self.x_mean_) / self.x_scale_
        name = resolve_engine(p.engine, fmap.D, p.memory_gb)
        split = array_split(X, y, p.fresh_split, self._batch_chunks(p, fmap, name) * CHUNK)
        engine = self._engine(p, fmap, split, name)
        self._fit_at(p, fmap, engine, split, split.layer1.n, spectrum=True)
        if not (np.all(np.isfinite(self.coef_)) and np.all(np.isfinite(self.B_hat_))):
            raise FloatingPointError("the fit is non-finite (readout coefficients or B_hat): the labels or the inputs "
                                     "overflow float32 (|y| up to {:.3g})".format(float(np.max(np.abs(y)))))
        return self

    def fit_stream(self, teacher: Teacher, n: int, seed: int | None = None):
        """Fit on the first n samples of ``teacher``'s training stream for ``seed`` (default teacher.seed)."""
        for _ in self.fit_path(teacher, [n], seed):
            pass
        return self

    @float64
    def fit_path(self, teacher: Teacher, ns, seed: int | None = None, spectrum_ns=None):
        """Fit at every n of an increasing grid on nested prefixes of one stream; yields n after each fit,
        with the learned attributes set for that n. The dense engine keeps accumulating C; both engines
        warm-start each eigen-solve from the previous n's eigenvectors. ``spectrum_ns``: the n at which the
        whole spectrum of C is computed (``spectrum_``; None: every n, subject to ``spectrum_max_D``); elsewhere
        only the top d1 pairs are (cheaper: see `engines.dense_top`)."""
        p = self._checked_params()
        ns = [check_int("n", n, p.d1, MAX_SAMPLES) for n in ns]
        if any(b <= a for a, b in zip(ns, ns[1:])):
            raise ValueError(f"ns={ns} is not allowed: the nested grid must be strictly increasing")
        seed = teacher.seed if seed is None else check_int("seed", seed, 0, 2**31 - 1)
        self._check_teacher(p, teacher)
        fmap = teacher.features
        cache = int(_CACHE_SHARE * p.memory_gb * 2**30) if len(ns) > 1 else 0
        name = resolve_engine(p.engine, fmap.D, p.memory_gb)
        split = stream_split(teacher, ns[-1], seed, p.n_validation, p.fresh_split, self._batch_chunks(p, fmap, name), cache)
        engine = self._engine(p, fmap, split, name)
        wanted = None if spectrum_ns is None else {int(m) for m in spectrum_ns}
        for n in ns:
            self._fit_at(p, fmap, engine, split, n, spectrum=wanted is None or n in wanted)
            yield n

    @float64
    def predict(self, X):
        """Predictions g_hat(x) for inputs X (n, d) (or (n, D) features in the Gaussian-equivalent model)."""
        X = self._check_inputs(X)
        out = self._raw_predict(X)
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(self._non_finite_cause(X, out))
        return out

    @float64
    def latent_fields(self, X, batch_size: int = 8192) -> np.ndarray:
        """The learned first layer h1_hat = A_hat F(x) (MODEL.md section 2, step 2), (n, d1) float64, for inputs X
        (n, d) (or (n, D) features in the Gaussian-equivalent model); the teacher's counterpart is
        `Teacher.latent_fields`."""
        X = self._transform(self._check_inputs(X))  # fit(X, y)'s input transform (standardize=True)
        At = jnp.asarray(self.A_hat_.T, jnp.float32)
        return np.concatenate([np.asarray(self.fmap_.dot(jnp.asarray(X[i:i + batch_size], jnp.float32), At), np.float64)
                               for i in range(0, X.shape[0], batch_size)])

    @float64
    def evaluate_stream(self, teacher: Teacher, n_test: int, seed: int | None = None) -> dict:
        """Test error on n_test fresh samples of the teacher's test stream: mse, var_y, nmse = mse / var_y."""
        self._check_fitted()
        n_test = check_int("n_test", n_test, 1, MAX_SAMPLES)
        seed = teacher.seed if seed is None else seed
        return self._readout().errors(StreamSource(teacher, "test", n_test, seed, choose_batch_chunks(self.fmap_.D)))

    @float64
    def evaluate(self, X, y) -> dict:
        """Test error on arrays: mse, var_y, nmse."""
        self._check_fitted()
        X = check_finite_array("X", X, 2, "(n_samples, n_inputs)")
        y = check_finite_array("y", y, 1, "(n_samples,)")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {y.shape[0]} samples: must match X's {X.shape[0]}")
        X = self._check_inputs(X)
        if np.ptp(y) == 0:
            warnings.warn(f"y is constant (every label is {y[0]:g}): nmse = mse / Var(y) is undefined and reported as inf",
                          RuntimeWarning, stacklevel=3)
        out = self._readout().errors(ArraySource(self._transform(X).astype(np.float32), y.astype(np.float32), 8192))
        if not math.isfinite(out["mse"]):
            raise FloatingPointError(self._non_finite_cause(X, self._raw_predict(X)))
        return out

    # ---- internals --------------------------------------------------------------------------------
    @staticmethod
    def _batch_chunks(p, fmap, name: str) -> int:
        """The batch of the fit's sources: the layer-1 engine's (`engines.engine_batch_chunks`), k = block_size or
        d1 + 10 vectors as `MatrixFreeEngine` uses."""
        return engine_batch_chunks(name, fmap, p.block_size or p.d1 + 10)

    def _engine(self, p, fmap, split, name: str):
        """The layer-1 engine ``name`` (as resolved) of this fit, and the label transform (its clip scale from the
        held-out samples, so that every point of a nested grid is a valid sample of its own size)."""
        self.label_transform_ = LabelTransform(p.label_transform, p.clip_quantile).fit_scale(split.validation)
        return make_engine(name, fmap, split.layer1, self.label_transform_, p.estimator, block=p.block_size,
                           depth=p.krylov_depth, tol=p.tol, max_passes=p.max_passes, seed=p.seed)

    def _fit_at(self, p, fmap, engine, split, n: int, spectrum: bool):
        """Algorithm 1 on the first n samples: layer 1 by the engine, then layer 2 and the readout (`layer2`)."""
        t0 = time.perf_counter()
        # B_hat = (1/n) sum y (h h^T - I), h = A_hat F, is A_hat C A_hat^T when layer 2 reads layer 1's samples
        # with T = identity: the engine reads it off C (when it holds C) instead of another pass over the data
        project = split.same_samples and self.label_transform_.kind == "identity"
        vals, vecs, info = engine.top_eigenpairs(n, p.d1, spectrum=spectrum and fmap.D <= p.spectrum_max_D, project=project)
        t1 = time.perf_counter()
        self.fmap_, self.engine_, self.n_samples_, self.n_passes_ = fmap, engine.name, n, info.passes
        self.eigenvalues_, self.A_hat_, self.spectrum_ = vals, vecs.T, info.spectrum
        self.eigen_info_, self.converged_ = info, info.converged
        self.eigen_solver_ = info.solver + (" (fallback)" if info.fallback else "")
        self.readout_degree_ = p.readout_degree
        B_hat = info.projected if info.projected is not None else fit_bhat(fmap, self.A_hat_, split.layer2, n, p.readout_degree)
        readout, self.ridge_ = fit_readout(fmap, self.A_hat_, B_hat, split.layer2, n, split.validation, p.readout_degree,
                                           p.ridge_grid)
        self.B_hat_, self.h2_scale_, self.coef_ = B_hat, readout.h2_scale, readout.coef
        t2 = time.perf_counter()
        self.timings_ = {"layer1": t1 - t0, "layer2_readout": t2 - t1}

    def _readout(self) -> Readout:
        return Readout(self.fmap_, self.A_hat_, self.B_hat_, self.h2_scale_, self.coef_, self.readout_degree_)

    def _check_teacher(self, p, teacher):
        if teacher.config.q != p.q or teacher.config.input_model != p.input_model:
            raise ValueError(f"teacher (q={teacher.config.q}, input_model={teacher.config.input_model!r}) does not "
                             f"match the learner (q={p.q}, input_model={p.input_model!r})")
        check_int("d1", p.d1, 1, teacher.D)

    def _check_fitted(self):
        if not hasattr(self, "A_hat_"):
            raise RuntimeError("this learner is not fitted yet: call fit or fit_stream first")

    def _check_inputs(self, X):
        self._check_fitted()
        X = check_finite_array("X", X, 2, "(n_samples, n_inputs)")
        if X.shape[1] != self.fmap_.input_dim:
            raise ValueError(f"X has {X.shape[1]} columns: must have {self.fmap_.input_dim} like the training inputs")
        return X

    def _transform(self, X):
        """The input transform learned by fit(X, y) (identity for streams and for standardize=False)."""
        mean, scale = getattr(self, "x_mean_", 0.0), getattr(self, "x_scale_", 1.0)
        return (X - mean) / scale

    def _raw_predict(self, X):
        return self._readout().predict(self._transform(X))

    def _non_finite_cause(self, X, out) -> str:
        """One line: how many predictions are non-finite and why (inputs far off the fitted scale)."""
        bad = ~np.isfinite(out)
        Xt = self._transform(np.asarray(X, np.float64))
        worst = float(np.max(np.abs(Xt[bad]))) if bad.any() else float(np.max(np.abs(Xt)))
        return (f"prediction is non-finite for {int(bad.sum())} of {out.size} inputs: their largest |x| after the input "
                f"transform is {worst:.3g}, where the degree-{self.q} features "
                f"and the degree-{self.readout_degree_} readout overflow float32 (inputs far off the unit scale "
                "x ~ N(0, I) that the model assumes)")


_MAX_LABEL = 1e15  # y^2 |F|^4 must stay far below float32's 3.4e38
