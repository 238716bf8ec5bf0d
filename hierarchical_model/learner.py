"""Algorithm 1 of MODEL.md section 2: the layer-wise spectral learner, scikit-learn style.

1. C = (1/n) sum_mu T(y_mu) (F_mu F_mu^T - I_D); A_hat = its d1 eigenvectors of largest |eigenvalue|.
   estimator='chaos' (q = 2 Hermite input): the eigenvectors of C_chaos = C - (G (+) G) instead
   (HERMITE.md section 2); B_hat below keeps its meaning (the labels' second moment in h1_hat).
2. h1_hat = A_hat F(x);  B_hat = (1/n) sum_mu y_mu (h1_hat h1_hat^T - I);  h2_hat = <B_hat, h1_hat h1_hat^T - I>.
3. Readout: ridge regression of y on He_0..He_p (normalised) of u = h2_hat / s, s = sqrt(2) ||B_hat||_F
   (the exact standard deviation of h2_hat when h1_hat is standard Gaussian). The ridge is chosen on
   held-out data that layers 1 and 2 never saw: A_hat and B_hat are fitted on the same samples as the
   readout, so h2_hat correlates with y in-sample more than out of sample, and only held-out data tell
   how much to shrink (in-sample validation let the test MSE exceed Var(y) for unbounded links).
   fit_stream: n_validation fresh samples of the teacher's validation stream (not counted in n, like
   the test set); fit(X, y): every fifth sample is held out from all layers.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import check_choice, check_finite_array, check_float, check_int, check_memory_gb
from .engines import (ESTIMATORS, ArraySource, DenseAccumulator, LabelTransform, StreamSource, block_krylov_eigsh,
                      check_estimator, choose_batch_chunks, dense_bytes, dense_top, kronecker_sum_apply,
                      matrix_free_operator)
from .hermite import GaussianFeatures, HermiteFeatures, hermite_he
from .teacher import CHUNK, MAX_SAMPLES, Teacher

__all__ = ["HierarchicalSpectralLearner", "ENGINES", "ESTIMATORS", "LABEL_TRANSFORMS", "default_memory_gb", "resolve_engine"]

ENGINES = ("auto", "dense", "matrix_free")
LABEL_TRANSFORMS = ("identity", "clip", "tanh")
DENSE_MAX_D = 6000  # beyond this a float64 eigh costs minutes: 'auto' goes matrix-free
DEFAULT_RIDGES = tuple(10.0 ** np.arange(-8, 5))  # up to 1e4: "predict ~0" must be on the menu
_VALID_EVERY = 5  # fit(X, y): sample index % 5 == 4 is held out to choose the ridge
_CACHE_SHARE = 0.25  # share of memory_gb that a nested grid may spend keeping its stream's prefix


def default_memory_gb() -> float:
    """Half of this machine's physical memory."""
    try:
        return 0.5 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        return 4.0


def resolve_engine(engine: str, D: int, memory_gb: float) -> str:
    """'auto' -> 'dense' when its D x D accumulator fits the budget (and D <= 6000), else 'matrix_free';
    an explicit 'dense' beyond the budget is refused."""
    need = dense_bytes(D) / 2**30
    if engine == "dense" and need > memory_gb:
        raise ValueError(f"engine='dense' needs {need:.1f} GB for D={D} (memory budget {memory_gb:.1f} GB): "
                         "use engine='matrix_free' or raise memory_gb")
    if engine == "auto":
        return "dense" if need <= memory_gb and D <= DENSE_MAX_D else "matrix_free"
    return engine


@lru_cache(maxsize=32)
def _layer2_kernels(fmap, degree: int):
    @jax.jit
    def bhat_step(acc, X, y, mask, At):
        h = fmap.dot(X, At)
        wy = (y * mask)[:, None]
        return acc + ((h * wy).T @ h).astype(jnp.float64), jnp.sum(y * mask, dtype=jnp.float64)

    def features_h2(X, At, Bm, scale):
        h = fmap.dot(X, At)
        h2 = jnp.sum(h * (h @ Bm), axis=1) - jnp.trace(Bm)
        return hermite_he(h2 / scale, degree)

    @jax.jit
    def normal_step(stats, X, y, mask, At, Bm, scale):
        """Normal equations of the readout: (sum Phi Phi^T, sum Phi y, sum y^2, count)."""
        G, b, yy, cnt = stats
        Pm = features_h2(X, At, Bm, scale) * mask[:, None]
        return (G + (Pm.T @ Pm).astype(jnp.float64), b + (Pm.T @ y).astype(jnp.float64),
                yy + jnp.sum(mask * y * y, dtype=jnp.float64), cnt + jnp.sum(mask, dtype=jnp.float64))

    @jax.jit
    def predict(X, At, Bm, scale, coef):
        return features_h2(X, At, Bm, scale) @ coef

    @jax.jit
    def error_step(acc, X, y, mask, At, Bm, scale, coef):
        r = (y - features_h2(X, At, Bm, scale) @ coef) * mask
        return acc + jnp.stack([jnp.sum(r * r, dtype=jnp.float64), jnp.sum(y * mask, dtype=jnp.float64),
                                jnp.sum(y * y * mask, dtype=jnp.float64), jnp.sum(mask, dtype=jnp.float64)])

    return bhat_step, normal_step, predict, error_step


class HierarchicalSpectralLearner:
    """Layer-wise spectral learner for hierarchical targets (Algorithm 1, MODEL.md section 2).

    Parameters
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
    n_validation : fresh samples that choose the readout ridge in fit_stream / fit_path.
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
    ``eigen_solver_`` (how layer 1 was solved), ``n_passes_``, ``n_samples_``, ``timings_``.
    """

    def __init__(self, d1: int, q: int = 2, *, engine: str = "auto", input_model: str = "hermite",
                 label_transform: str = "identity", estimator: str = "paper", clip_quantile: float = 0.99,
                 readout_degree: int = 5,
                 n_validation: int = 5000, ridge_grid=DEFAULT_RIDGES, fresh_split: bool = False, block_size: int | None = None,
                 krylov_depth: int = 4, tol: float = 1e-4, max_passes: int = 300,
                 memory_gb: float | None = None, seed: int = 0, spectrum_max_D: int = 5000, standardize: bool = False):
        self.d1 = check_int("d1", d1, 1)
        self.q = check_int("q", q, 2, 3)
        self.engine = check_choice("engine", engine, ENGINES)
        self.input_model = check_choice("input_model", input_model, ("hermite", "gaussian_equivalent"))
        self.label_transform = check_choice("label_transform", label_transform, LABEL_TRANSFORMS)
        self.estimator = check_estimator(estimator, q=self.q, input_model=self.input_model)
        self.clip_quantile = check_float("clip_quantile", clip_quantile, 0.0, 1.0, lo_open=True)
        self.readout_degree = check_int("readout_degree", readout_degree, 1, 12)
        self.n_validation = check_int("n_validation", n_validation, 1)
        self.ridge_grid = tuple(check_float("ridge_grid", r, 0.0) for r in ridge_grid)
        if not self.ridge_grid:
            raise ValueError("ridge_grid=() is not allowed: must hold at least one ridge >= 0")
        self.fresh_split = bool(fresh_split)
        self.block_size = None if block_size is None else check_int("block_size", block_size, d1)
        self.krylov_depth = check_int("krylov_depth", krylov_depth, 1, 50)
        self.tol = check_float("tol", tol, 0.0, 1.0, lo_open=True)
        self.max_passes = check_int("max_passes", max_passes, 1)
        self.memory_gb = default_memory_gb() if memory_gb is None else check_memory_gb("memory_gb", memory_gb)
        self.seed = check_int("seed", seed, 0, 2**31 - 1)
        self.spectrum_max_D = check_int("spectrum_max_D", spectrum_max_D, 0)
        if not isinstance(standardize, bool):
            raise ValueError(f"standardize={standardize!r} is not allowed: must be True or False")
        self.standardize = standardize

    # ---- public API ---------------------------------------------------------------------------------
    def fit(self, X, y):
        """Fit on arrays: X (n, d) inputs (or (n, D) features when input_model='gaussian_equivalent'), y (n,)."""
        X = check_finite_array("X", X, 2, "(n_samples, n_inputs)")
        y = check_finite_array("y", y, 1, "(n_samples,)")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {y.shape[0]} samples: must match X's {X.shape[0]}")
        if self.input_model == "hermite":
            check_int("X.shape[1] (input dimension d)", X.shape[1], 2)
        fmap = HermiteFeatures(X.shape[1], self.q) if self.input_model == "hermite" else GaussianFeatures(X.shape[1])
        check_int("d1", self.d1, 1, fmap.D)
        check_int("n (number of samples)", X.shape[0], self._min_samples())
        if np.ptp(y) == 0:
            raise ValueError(f"y is constant (every label is {y[0]:g}): the spectral learner needs labels that vary")
        if np.max(np.abs(y)) > _MAX_LABEL:
            raise ValueError(f"y reaches |y|={np.max(np.abs(y)):.3g}: must stay below {_MAX_LABEL:g}, beyond which the "
                             "float32 products y F F^T and y^2 overflow; rescale the labels")
        self.x_mean_, self.x_scale_ = input_transform(X, self.standardize)
        X = (X - self.x_mean_) / self.x_scale_
        held_out = np.arange(X.shape[0]) % _VALID_EVERY == _VALID_EVERY - 1
        X32, y32 = X[~held_out].astype(np.float32), y[~held_out].astype(np.float32)
        n = X32.shape[0]
        half = n // 2 if self.fresh_split else n
        bs = choose_batch_chunks(fmap.D) * CHUNK
        train = ArraySource(X32[:half], y32[:half], bs)
        readout = ArraySource(X32[half:], y32[half:], bs) if self.fresh_split else train
        validation = ArraySource(X[held_out].astype(np.float32), y[held_out].astype(np.float32), bs)
        self._fit_sources(fmap, train, readout, validation)
        if not (np.all(np.isfinite(self.coef_)) and np.all(np.isfinite(self.B_hat_))):
            raise FloatingPointError("the fit is non-finite (readout coefficients or B_hat): the labels or the inputs "
                                     "overflow float32 (|y| up to {:.3g})".format(float(np.max(np.abs(y)))))
        return self

    def fit_stream(self, teacher: Teacher, n: int, seed: int | None = None):
        """Fit on the first n samples of ``teacher``'s training stream for ``seed`` (default teacher.seed)."""
        for _ in self.fit_path(teacher, [n], seed):
            pass
        return self

    def fit_path(self, teacher: Teacher, ns, seed: int | None = None, spectrum_ns=None):
        """Fit at every n of an increasing grid on nested prefixes of one stream; yields n after each fit,
        with the learned attributes set for that n. The dense engine keeps accumulating C; both engines
        warm-start each eigen-solve from the previous n's eigenvectors. ``spectrum_ns``: the n at which the
        whole spectrum of C is computed (``spectrum_``; None: every n, subject to ``spectrum_max_D``); elsewhere
        only the top d1 pairs are (cheaper: see `engines.dense_top`)."""
        ns = [check_int("n", n, self.d1, MAX_SAMPLES) for n in ns]
        if any(b <= a for a, b in zip(ns, ns[1:])):
            raise ValueError(f"ns={ns} is not allowed: the nested grid must be strictly increasing")
        seed = teacher.seed if seed is None else check_int("seed", seed, 0, 2**31 - 1)
        self._check_teacher(teacher)
        fmap = teacher.features
        bc = choose_batch_chunks(fmap.D)
        cache = int(_CACHE_SHARE * self.memory_gb * 2**30) if len(ns) > 1 else 0
        train = StreamSource(teacher, "train", ns[-1], seed, bc, cache)
        readout = StreamSource(teacher, "readout", ns[-1], seed, bc, cache) if self.fresh_split else train
        validation = StreamSource(teacher, "validation", self.n_validation, seed, bc, cache)
        state = {}
        wanted = None if spectrum_ns is None else {int(m) for m in spectrum_ns}
        for n in ns:
            state["spectrum"] = wanted is None or n in wanted
            self._fit_sources(fmap, train, readout, validation, n, state)
            yield n

    def predict(self, X):
        """Predictions g_hat(x) for inputs X (n, d) (or (n, D) features in the Gaussian-equivalent model)."""
        self._check_fitted()
        X = check_finite_array("X", X, 2, "(n_samples, n_inputs)")
        if X.shape[1] != self.fmap_.input_dim:
            raise ValueError(f"X has {X.shape[1]} columns: must have {self.fmap_.input_dim} like the training inputs")
        out = self._raw_predict(X)
        if not np.all(np.isfinite(out)):
            raise FloatingPointError(self._non_finite_cause(X, out))
        return out

    def latent_fields(self, X, batch_size: int = 8192) -> np.ndarray:
        """The learned first layer h1_hat = A_hat F(x) (MODEL.md section 2, step 2), (n, d1) float64, for inputs X
        (n, d) (or (n, D) features in the Gaussian-equivalent model); the teacher's counterpart is
        `Teacher.latent_fields`."""
        self._check_fitted()
        X = check_finite_array("X", X, 2, "(n_samples, n_inputs)")
        if X.shape[1] != self.fmap_.input_dim:
            raise ValueError(f"X has {X.shape[1]} columns: must have {self.fmap_.input_dim} like the training inputs")
        X = self._transform(X)  # fit(X, y)'s input transform (standardize=True)
        At = jnp.asarray(self.A_hat_.T, jnp.float32)
        return np.concatenate([np.asarray(self.fmap_.dot(jnp.asarray(X[i:i + batch_size], jnp.float32), At), np.float64)
                               for i in range(0, X.shape[0], batch_size)])

    def evaluate_stream(self, teacher: Teacher, n_test: int, seed: int | None = None) -> dict:
        """Test error on n_test fresh samples of the teacher's test stream: mse, var_y, nmse = mse / var_y."""
        self._check_fitted()
        n_test = check_int("n_test", n_test, 1, MAX_SAMPLES)
        seed = teacher.seed if seed is None else seed
        src = StreamSource(teacher, "test", n_test, seed, choose_batch_chunks(self.fmap_.D))
        return self._errors(src)

    def evaluate(self, X, y) -> dict:
        """Test error on arrays: mse, var_y, nmse."""
        self._check_fitted()
        X = check_finite_array("X", X, 2, "(n_samples, n_inputs)")
        y = check_finite_array("y", y, 1, "(n_samples,)")
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {y.shape[0]} samples: must match X's {X.shape[0]}")
        if X.shape[1] != self.fmap_.input_dim:
            raise ValueError(f"X has {X.shape[1]} columns: must have {self.fmap_.input_dim} like the training inputs")
        if np.ptp(y) == 0:
            warnings.warn(f"y is constant (every label is {y[0]:g}): nmse = mse / Var(y) is undefined and reported as inf",
                          RuntimeWarning, stacklevel=2)
        out = self._errors(ArraySource(self._transform(X).astype(np.float32), y.astype(np.float32), 8192))
        if not math.isfinite(out["mse"]):
            raise FloatingPointError(self._non_finite_cause(X, self._raw_predict(X)))
        return out

    def _transform(self, X):
        """The input transform learned by fit(X, y) (identity for streams and for standardize=False)."""
        mean, scale = getattr(self, "x_mean_", 0.0), getattr(self, "x_scale_", 1.0)
        return (X - mean) / scale

    def _raw_predict(self, X):
        _, _, predict, _ = _layer2_kernels(self.fmap_, self.readout_degree)
        return np.asarray(predict(jnp.asarray(self._transform(X), jnp.float32), *self._readout_args()), np.float64)

    def _non_finite_cause(self, X, out) -> str:
        """One line: how many predictions are non-finite and why (inputs far off the fitted scale)."""
        bad = ~np.isfinite(out)
        Xt = self._transform(np.asarray(X, np.float64))
        worst = float(np.max(np.abs(Xt[bad]))) if bad.any() else float(np.max(np.abs(Xt)))
        return (f"prediction is non-finite for {int(bad.sum())} of {out.size} inputs: their largest |x| after the input "
                f"transform is {worst:.3g}, where the degree-{self.q} features and the degree-{self.readout_degree} readout "
                "overflow float32 (inputs far off the unit scale x ~ N(0, I) that the model assumes)")

    # ---- internals --------------------------------------------------------------------------------
    def _min_samples(self) -> int:
        """Smallest n for fit(X, y): one held-out sample, and d1 samples for each layer-1 half."""
        n = _VALID_EVERY
        while (n - n // _VALID_EVERY) // (2 if self.fresh_split else 1) < self.d1:
            n += 1
        return n

    def _check_teacher(self, teacher):
        if teacher.config.q != self.q or teacher.config.input_model != self.input_model:
            raise ValueError(f"teacher (q={teacher.config.q}, input_model={teacher.config.input_model!r}) does not "
                             f"match the learner (q={self.q}, input_model={self.input_model!r})")
        check_int("d1", self.d1, 1, teacher.D)

    def _check_fitted(self):
        if not hasattr(self, "A_hat_"):
            raise RuntimeError("this learner is not fitted yet: call fit or fit_stream first")

    def _fit_sources(self, fmap, train, readout, validation, n: int | None = None, state: dict | None = None):
        n = train.n if n is None else n
        state = {} if state is None else state
        t0 = time.perf_counter()
        engine = resolve_engine(self.engine, fmap.D, self.memory_gb)
        if "transform" not in state:
            # the clip scale comes from held-out samples, so that every point of a nested grid is a valid
            # sample of its own size (a pilot from the training stream would look past small prefixes)
            state["transform"] = LabelTransform(self.label_transform, self.clip_quantile).fit_scale(validation)
        transform = state["transform"]
        spectrum, passes, B_hat = None, 1, None
        if engine == "dense":
            acc = state.setdefault("dense", DenseAccumulator(fmap, train, transform, self.estimator))
            C = acc.matrix(n)
            keep = fmap.D <= self.spectrum_max_D and state.get("spectrum", True)
            vals, vecs, spectrum, info = dense_top(C, self.d1, keep, V0=state.get("V0"))
            state["V0"] = info.block
            self.eigen_solver_ = info.solver + (" (fallback)" if info.fallback else "")
            if transform.kind == "identity" and readout is train:
                # B_hat = (1/n) sum y (h h^T - I) with h = A_hat F is A_hat C A_hat^T on the same samples:
                # read off C instead of another pass over the data (C_chaos + (G (+) G) = C)
                B_hat = vecs.T @ np.asarray(C, np.float64) @ vecs
                if self.estimator == "chaos":
                    B_hat = B_hat + vecs.T @ np.asarray(kronecker_sum_apply(fmap, acc.G, vecs))
        else:
            counter = {}
            apply = matrix_free_operator(fmap, train, transform, n, counter, self.estimator)
            vals, vecs, passes, _ = block_krylov_eigsh(
                apply, fmap.D, self.d1, V0=state.get("V0"), block=self.block_size, depth=self.krylov_depth,
                tol=self.tol, max_passes=self.max_passes, key=jax.random.key(self.seed))
            state["V0"] = vecs
            self.eigen_solver_ = "block_krylov (matrix-free)"
        t1 = time.perf_counter()
        self.fmap_, self.engine_, self.n_samples_, self.n_passes_ = fmap, engine, n, passes
        self.eigenvalues_, self.A_hat_, self.spectrum_ = vals, vecs.T, spectrum
        self.label_transform_ = transform
        self._fit_layer2(fmap, readout, validation, n, B_hat)
        t2 = time.perf_counter()
        self.timings_ = {"layer1": t1 - t0, "layer2_readout": t2 - t1}

    def _fit_layer2(self, fmap, src, validation, n, B_hat=None):
        """Layer 2 (B_hat: one pass over the samples unless given) and the readout (one more pass).

        Cost at a checkpoint of a nested grid, against its layer-1 work: B_hat is read off C (dense engine,
        T = identity, no fresh split; no pass), and the readout's normal equations re-stream the prefix at
        O(d^2 d1) per sample (h1_hat through the q = 2 action of F) against the O(d^4 / 24) per sample of C's
        accumulation: summed over a grid with steps of 0.1 in alpha the re-streaming is ~3 n_max d^2 d1 against
        n_max d^4 / 24, under a tenth of layer 1 at d >= 40. Measured per checkpoint (layer2 + readout + test
        over layer 1): at most 0.31 at d = 60 and 0.56 at d = 40 (alphas 2.0:3.0:0.1). The statistics are exact:
        no cap on the readout sample, so B_hat and the readout keep their MODEL.md section 2 meaning."""
        bhat_step, normal_step, _, _ = _layer2_kernels(fmap, self.readout_degree)
        At = jnp.asarray(self.A_hat_.T, jnp.float32)
        if B_hat is None:
            acc, sum_y = jnp.zeros((self.d1, self.d1), jnp.float64), 0.0
            for X, y, mask in src.batches(n):
                acc, sy = bhat_step(acc, X, y, mask, At)
                sum_y += sy
            B_hat = np.asarray(acc - sum_y * jnp.eye(self.d1)) / n
        self.B_hat_ = B_hat
        self.h2_scale_ = max(math.sqrt(2.0) * float(np.linalg.norm(B_hat)), 1e-30)
        args = (At, jnp.asarray(B_hat, jnp.float32), jnp.float32(self.h2_scale_))
        p = self.readout_degree + 1

        def normal_equations(source, m):
            stats = (jnp.zeros((p, p), jnp.float64), jnp.zeros(p, jnp.float64), jnp.float64(0), jnp.float64(0))
            for X, y, mask in source.batches(m):
                stats = normal_step(stats, X, y, mask, *args)
            return [np.asarray(a, np.float64) for a in stats]

        G, b, _, cnt = normal_equations(src, n)
        Gv, bv, yyv, nv = normal_equations(validation, validation.n)
        errs = []
        for r in self.ridge_grid:
            w = _ridge_solve(G, b, cnt, r)
            errs.append((w @ Gv @ w - 2 * w @ bv + yyv) / nv)
        self.ridge_ = self.ridge_grid[int(np.argmin(errs))]
        self.coef_ = _ridge_solve(G, b, cnt, self.ridge_)

    def _readout_args(self):
        return (jnp.asarray(self.A_hat_.T, jnp.float32), jnp.asarray(self.B_hat_, jnp.float32),
                jnp.float32(self.h2_scale_), jnp.asarray(self.coef_, jnp.float32))

    def _errors(self, src) -> dict:
        _, _, _, error_step = _layer2_kernels(self.fmap_, self.readout_degree)
        acc = jnp.zeros(4, jnp.float64)
        args = self._readout_args()
        for X, y, mask in src.batches():
            acc = error_step(acc, X, y, mask, *args)
        sse, sy, syy, cnt = (float(v) for v in acc)
        mse = sse / cnt
        var_y = syy / cnt - (sy / cnt) ** 2
        return {"mse": mse, "var_y": var_y, "nmse": mse / var_y if var_y > 0 else math.inf}


_MAX_LABEL = 1e15  # y^2 |F|^4 must stay far below float32's 3.4e38
_SCALE_P = 1e-9  # a genuine N(0, 1) column fails the unit-scale check with at most this probability
_SCALE_SLACK = 1.5  # and a column off by less than this factor (or 0.5 in its mean) is accepted


def input_transform(X, standardize: bool):
    """(mean, scale) per column: the sample moments when ``standardize``; else zeros and ones, after
    checking that every column is on the unit scale of x ~ N(0, 1) (see HierarchicalSpectralLearner)."""
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


def _ridge_solve(G, b, n, ridge):
    p = G.shape[0]
    return np.linalg.solve(G / n + ridge * np.eye(p), b / n)

