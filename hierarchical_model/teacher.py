"""The hierarchical target (MODEL.md section 1) and its reproducible data stream.

(About 310 lines, one idea: the configuration with its boundary checks, the drawn parameters and the stream that
regenerates any batch from the seed; the authors' conventions are a variant of the same target, not a new one.)

    x ~ N(0, I_d),  h1 = A F(x) in R^{d1},  h2 = (1/sqrt 2) sum_i lambda_i (h1_i^2 - 1),
    y = g(h2) + sigma * xi,   lambda_i = Z_gamma z_i i^(-gamma),  Z_gamma = (sum_i i^(-2 gamma))^(-1/2).

Every random draw comes from one integer seed through ``jax.random.fold_in``: the teacher's
parameters from fold_in(key(seed), PARAMS), and sample chunk c of stream s (train, test, readout, validation)
from fold_in(fold_in(key(seed), s), c). A chunk holds CHUNK samples, so any batch (a run of chunks)
can be regenerated alone, and the first n samples of a stream are the same whatever the total length
(nested sample grids are exact prefixes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np

from ._validation import check_choice, check_float, check_int, physical_memory_gb
from ._x64 import float64
from .hermite import GaussianFeatures, HermiteFeatures, feature_dim, make_feature_map
from .links import Link, gaussian_expectation, make_link

__all__ = ["TeacherConfig", "Teacher", "latent_dim", "spike_weights", "authors_weight_norm", "CHUNK", "STREAMS",
           "CONVENTIONS", "MAX_FEATURES", "MAX_SAMPLES", "MAX_SIGMA"]

CHUNK = 256
STREAMS = {"train": 0, "test": 1, "readout": 2, "validation": 3, "standardize": 4}
_PILOT = 1 << 16  # samples of the "standardize" stream that fix the authors' label mean and scale
# What the machine can represent: XLA indexes an array's dimension with int32, so D (a dimension of every
# feature array) must stay below 2^31; a stream's chunk index is an int32, so a stream holds at most
# (2^31 - 1) chunks of CHUNK samples.
MAX_FEATURES = 2**31 - 1
MAX_SAMPLES = (2**31 - 1) * CHUNK
# Label noise beyond which no representable n recovers anything: the first threshold grows like
# D E[y^2] / theta_1^2 ~ D sigma^2 / theta_1^2 samples (MODEL.md section 4), ~2e11 at sigma = 1e4 already
# for d = 40 (D = 820, theta_1^2 ~ 0.35): the order of MAX_SAMPLES.
MAX_SIGMA = 1e4
_PARAMS = 7919  # fold-in tag for the teacher's parameters, distinct from every stream id
INPUT_MODELS = ("hermite", "gaussian_equivalent")
A_KINDS = ("orthonormal", "gaussian")
CONVENTIONS = ("model", "authors")


def latent_dim(d: int, eps: float, conventions: str = "model") -> int:
    """d1 = floor(d^eps) (MODEL.md; the 1e-9 guards exact powers, 100^0.5 = 9.999...), or round(d^eps) in the
    authors' conventions."""
    return int(round(d**eps)) if conventions == "authors" else int(math.floor(d ** eps + 1e-9))


def authors_weight_norm(d1: int, gamma: float) -> float:
    """|b| of the authors' second-layer weights b_i = c z_i i^(-gamma), c = 1/d1 (gamma = 0), d1^(2 gamma - 1)
    (0 < gamma <= 1/2), 1 (gamma > 1/2): their h2_a = sum_i b_i (h1_i^2 - 1) is sqrt(2) |b| times MODEL.md's h2
    (whose lambda = b / |b| are `spike_weights`)."""
    c = 1.0 / d1 if gamma == 0 else (d1 ** (2 * gamma - 1.0) if gamma <= 0.5 else 1.0)
    return c * float(np.sqrt(np.sum(np.arange(1, d1 + 1, dtype=np.float64) ** (-2 * gamma))))


def max_input_dim(q: int) -> int:
    """The largest d whose D = C(d+q-1, q) is at most MAX_FEATURES."""
    lo, hi = 2, 2**31
    while lo < hi:  # bisection on the monotone D(d)
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if feature_dim(mid, q) <= MAX_FEATURES else (lo, mid - 1)
    return lo


def spike_weights(d1: int, gamma: float, signs=None) -> np.ndarray:
    """lambda_i = Z_gamma z_i i^(-gamma), i = 1..d1, normalised so that sum_i lambda_i^2 = 1."""
    i = np.arange(1, d1 + 1, dtype=np.float64)
    mag = i ** (-gamma)
    mag /= np.sqrt(np.sum(mag**2))
    return mag if signs is None else mag * np.asarray(signs, dtype=np.float64)


@dataclass(frozen=True)
class TeacherConfig:
    """Hyper-parameters of the target. ``d1`` overrides ``eps`` when given.

    ``conventions``: 'model' (MODEL.md, the default) or 'authors', the conventions of the paper's published code:
    d1 = round(d^eps); h2_a = sum_i b_i (h1_i^2 - 1) without the 1/sqrt(2), with their weights b_i (see
    `authors_weight_norm`), not normalised to sum b_i^2 = 1; labels standardised by their mean and standard
    deviation. Since h2_a = scale * h2 with scale = sqrt(2) |b|, this is MODEL.md's model with lambda = b / |b|
    (`spike_weights`) and the link z -> (g(scale z) - m) / s, where m, s are the mean and standard deviation of
    g(h2_a) over the teacher's own labels: the authors estimate them from each run's training samples, `Teacher`
    from 65,536 samples of a stream of its own (so that nested sample grids stay exact prefixes; the two differ
    by O(1/sqrt n)). The finite-size theory is derived in MODEL.md's conventions only."""

    d: int = 40
    q: int = 2
    eps: float = 0.5
    gamma: float = 0.4
    g: object = "tanh"
    d1: int | None = None
    a_kind: str = "orthonormal"
    sigma: float = 0.0
    input_model: str = "hermite"
    conventions: str = "model"

    def __post_init__(self):
        check_int("d", self.d, 2)
        check_int("q", self.q, 2, 3)
        check_float("eps", self.eps, 0.0, None, lo_open=True)
        check_float("gamma", self.gamma, 0.0)
        check_float("sigma", self.sigma, 0.0, MAX_SIGMA)
        check_choice("a_kind", self.a_kind, A_KINDS)
        check_choice("input_model", self.input_model, INPUT_MODELS)
        check_choice("conventions", self.conventions, CONVENTIONS)
        if self.conventions == "authors" and not isinstance(self.g, str):
            raise ValueError("conventions='authors' is not allowed with a callable link: name one of the built-in links")
        D = feature_dim(self.d, self.q)
        if D > MAX_FEATURES:
            raise ValueError(f"d={self.d} gives D=C(d+q-1, q)={D} features for q={self.q}: must give D <= {MAX_FEATURES} "
                             f"(XLA's int32 array dimensions), i.e. d <= {max_input_dim(self.q)}")
        if self.d1 is not None:
            check_int("d1", self.d1, 1, D)
        else:
            d1 = latent_dim(self.d, self.eps, self.conventions)
            if not 1 <= d1 <= D:
                rule = "round" if self.conventions == "authors" else "floor"
                raise ValueError(f"eps={self.eps} gives d1={rule}(d^eps)={d1}: must give 1 <= d1 <= D={D}")
        make_link(self.g)  # validates the link once, at the boundary

    @property
    def D(self) -> int:
        return feature_dim(self.d, self.q)

    @property
    def latent(self) -> int:
        """d1, the number of latent directions."""
        return self.d1 if self.d1 is not None else latent_dim(self.d, self.eps, self.conventions)

    @property
    def link_name(self) -> str:
        return self.g if isinstance(self.g, str) else make_link(self.g).name

    @classmethod
    def from_row(cls, row) -> "TeacherConfig":
        """The configuration of a results-table row (a pandas Series or dict), a RunResult or its ``to_dict()``:
        the one place that rebuilds a configuration from stored results (sweeps, checks, figures, theory).
        a_kind, sigma, input_model and conventions take their defaults where the row lacks them (or holds NaN:
        tables written before those columns existed)."""
        def get(key, default=None):
            v = row.get(key, default) if hasattr(row, "get") else getattr(row, key, default)
            return default if v is None or (isinstance(v, float) and math.isnan(v)) else v

        return cls(d=int(get("d")), q=int(get("q")), eps=float(get("eps")), gamma=float(get("gamma")), g=str(get("g")),
                   d1=int(get("d1")), a_kind=str(get("a_kind", "orthonormal")), sigma=float(get("sigma", 0.0)),
                   input_model=str(get("input_model", "hermite")), conventions=str(get("conventions", "model")))

    def to_dict(self) -> dict:
        out = {"d": self.d, "q": self.q, "eps": self.eps, "gamma": self.gamma, "g": self.link_name,
               "d1": self.latent, "a_kind": self.a_kind, "sigma": self.sigma, "input_model": self.input_model}
        if self.conventions != "model":  # MODEL.md's configurations keep their dict (and sweep hashes)
            out["conventions"] = self.conventions
        return out



def teacher_bytes(D: int, d1: int) -> int:
    """Memory to draw A: the (D, d1) Gaussian draw in float64, its QR factors and the float32 copy (~4 copies)."""
    return 4 * 8 * D * d1


@dataclass(frozen=True, eq=False)
class Teacher:
    """A drawn target: parameters (A, lambda) from ``seed``, and the sample streams of that seed."""

    config: TeacherConfig
    seed: int
    link: Link = field(init=False)
    A: np.ndarray = field(init=False)      # (d1, D) float64
    lam: np.ndarray = field(init=False)    # (d1,) signed lambda_i
    features: object = field(init=False)   # the learner's feature map for this input model

    @float64
    def __post_init__(self):
        check_int("seed", self.seed, 0, 2**31 - 1)
        cfg = self.config
        need = teacher_bytes(cfg.D, cfg.latent) / 2**30
        if need > physical_memory_gb():
            raise ValueError(f"d={cfg.d} (D={cfg.D}, d1={cfg.latent}) needs {need:.0f} GiB to draw the teacher's A: more than "
                             f"this machine's {physical_memory_gb():.0f} GiB of memory; choose a smaller d")
        key = jax.random.fold_in(jax.random.key(self.seed), _PARAMS)
        k_a, k_z = jax.random.split(key)
        d1, D = cfg.latent, cfg.D
        G = np.asarray(jax.random.normal(k_a, (D, d1), jnp.float64))
        if cfg.a_kind == "orthonormal":
            Q, R = np.linalg.qr(G)
            A = (Q * np.sign(np.diag(R))).T  # Haar: fix the QR sign ambiguity
        else:
            A = G.T / np.sqrt(D)
        z = np.asarray(jax.random.rademacher(k_z, (d1,), jnp.int32), np.float64)
        object.__setattr__(self, "link", make_link(cfg.g))
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "lam", spike_weights(d1, cfg.gamma, z))
        object.__setattr__(self, "features", make_feature_map(cfg.input_model, cfg.d, cfg.q))
        if cfg.conventions == "authors":
            object.__setattr__(self, "link", self._authors_link())

    def _authors_link(self) -> Link:
        """z -> (g(scale z) - m) / s, scale = sqrt(2) |b|, m and s the mean and standard deviation of g(scale h2)
        over `_PILOT` samples of this teacher's "standardize" stream (TeacherConfig, conventions='authors')."""
        base = make_link(self.config.g)
        scale = math.sqrt(2.0) * authors_weight_norm(self.d1, self.config.gamma)
        X = jax.random.normal(self.stream_key("standardize"), (_PILOT, self.features.input_dim), jnp.float32)
        h1 = np.asarray(self.features.dot(X, jnp.asarray(self._At)), np.float64)
        g = np.asarray(base.raw(scale * ((h1 * h1 - 1.0) @ self.lam) / math.sqrt(2.0)), np.float64)
        m, s = float(np.mean(g)), float(np.std(g))
        if not s > 0:
            raise ValueError(f"g={base.name!r} gives constant labels for this teacher: they cannot be standardised")

        def raw(z):
            return (base.raw(scale * z) - m) / s

        def gauss(f):  # E[f(raw(Z))], Z ~ N(0, 1): the Link fields that MODEL.md's theory reads
            return gaussian_expectation(lambda z: f(z, np.asarray(raw(jnp.asarray(z)), np.float64)))

        return Link(name=f"{base.name}[authors]", raw=raw, mean=0.0, nu1=gauss(lambda z, v: z * v),
                    second_moment=gauss(lambda z, v: v * v))

    @property
    def d1(self) -> int:
        return self.A.shape[0]

    @property
    def D(self) -> int:
        return self.A.shape[1]

    @cached_property
    def directions(self) -> np.ndarray:
        """u_i = A_i / |A_i|, (d1, D)."""
        return self.A / np.linalg.norm(self.A, axis=1, keepdims=True)

    @cached_property
    def _At(self):
        return np.ascontiguousarray(self.A.T, np.float32)

    # ---- the target as a function -----------------------------------------------------------------
    @float64
    def latent_fields(self, inputs):
        """h1 = A F(x) for a batch of inputs, (B, d1)."""
        return self.features.dot(inputs, self._At)

    @float64
    def labels_noiseless(self, inputs):
        """g(h2), h2 = (1/sqrt 2) sum_i lambda_i (h1_i^2 - 1)."""
        h1 = self.latent_fields(inputs)
        lam = jnp.asarray(self.lam, jnp.float32)
        h2 = ((h1 * h1 - 1.0) @ lam) / math.sqrt(2.0)  # a Python float keeps the labels float32
        return self.link(h2)

    # ---- the stream -------------------------------------------------------------------------------
    def stream_key(self, stream: str, seed: int | None = None):
        """Key of a sample stream; ``seed`` defaults to the teacher's own seed."""
        seed = self.seed if seed is None else check_int("seed", seed, 0, 2**31 - 1)
        return jax.random.fold_in(jax.random.key(seed), STREAMS[stream])

    @cached_property
    def _chunk_fn(self):
        """The jitted chunk generator, with the teacher's A^T and lambda as arguments: for a named link (MODEL.md
        conventions) it is shared by every teacher of the same features, link and sigma, so that the seeds of a
        sweep compile it once (closing over A made every teacher compile its own, ~1.8 s at d = 40)."""
        cfg = self.config
        if isinstance(cfg.g, str) and cfg.conventions == "model":
            fn = _shared_chunk_fn(self.features, cfg.g, float(cfg.sigma))
        else:
            fn = _build_chunk_fn(self.features, self.link, float(cfg.sigma))
        At, lam = jnp.asarray(self._At), jnp.asarray(self.lam, jnp.float32)
        return lambda stream_key, first_chunk, n_chunks: fn(stream_key, first_chunk, n_chunks, At, lam)

    @float64
    def chunks(self, stream: str, first_chunk: int, n_chunks: int, seed: int | None = None):
        """Samples [first_chunk * CHUNK, (first_chunk + n_chunks) * CHUNK) of a stream: (inputs, y)."""
        return self._chunk_fn(self.stream_key(stream, seed), jnp.int32(first_chunk), int(n_chunks))

    @float64
    def sample(self, n: int, stream: str = "train", seed: int | None = None):
        """The first n samples of a stream as arrays (inputs (n, d) or (n, D) for the Gaussian model, y (n,)).
        For tests and small data: the learner itself streams batches and never calls this."""
        n = check_int("n", n, 1, MAX_SAMPLES)
        X, y = self.chunks(stream, 0, -(-n // CHUNK), seed)
        return X[:n], y[:n]


def _build_chunk_fn(features, link, sigma: float):
    """chunks(stream_key, first_chunk, n_chunks, At, lam) -> (inputs, y): chunk c of a stream from
    fold_in(stream_key, c); y = g(h2) (+ sigma N(0, 1)) with h1 = A F(x), h2 = (1/sqrt 2) sum_i lambda_i (h1_i^2 - 1)
    (`Teacher.labels_noiseless`)."""
    dim = features.input_dim

    def one_chunk(key, At, lam):
        kx, kn = jax.random.split(key)
        X = jax.random.normal(kx, (CHUNK, dim), jnp.float32)
        h1 = features.dot(X, At)
        y = link(((h1 * h1 - 1.0) @ lam) / math.sqrt(2.0))  # a Python float keeps the labels float32
        if sigma > 0:
            y = y + sigma * jax.random.normal(kn, (CHUNK,), jnp.float32)
        return X, y

    @partial(jax.jit, static_argnums=2)
    def chunks(stream_key, first_chunk, n_chunks, At, lam):
        keys = jax.vmap(lambda c: jax.random.fold_in(stream_key, c))(first_chunk + jnp.arange(n_chunks))
        X, y = jax.vmap(lambda k: one_chunk(k, At, lam))(keys)
        return X.reshape(n_chunks * CHUNK, dim), y.reshape(n_chunks * CHUNK)

    return chunks


@lru_cache(maxsize=64)
def _shared_chunk_fn(features, g: str, sigma: float):
    return _build_chunk_fn(features, make_link(g), sigma)
