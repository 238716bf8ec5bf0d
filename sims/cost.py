"""Cost estimates before any work: samples, flops, memory and predicted wall time of run, sweep, theory and check.

Every estimate is arithmetic on the sizes (no JAX compilation, no allocation), so that a command can refuse
a run of days or of more memory than the machine has in one line, before it writes or computes anything
(`sims.guards.enforce_cost`). The wall time is flops over a measured rate per kind of work, plus a fixed
start-up; the rates below are calibration constants of this machine (2 cores, jax 0.10, float32 products
with float64 accumulation), measured with the commands named beside each. They are deliberately round:
an estimate is meant to tell 10 minutes from 10 days, not 10 from 12 minutes.

Work model (MODEL.md section 2, hierarchical_model/engines/), per configuration with D features, d1
latent directions, k = d1 + 10 Krylov vectors:
- generating one sample (teacher labels h1 = A F, the learner's features): ~ 4 D d1 flops ("stream" rate);
- dense layer 1: the q = 2 moment kernel executes 1/3 of the general product's 2 D^2 flops per sample
  (`_moment_kernel.executed_fraction`), the block-triangle kernel of q = 3 about 1/2; one float64 eigh of
  ~10 D^3 flops per sample size; memory `dense_bytes(D)` = 24 D^2 bytes;
- matrix-free layer 1: ~MF_PASSES (D / 1830)^(1/3) streamed passes, each 2 D k flops per sample plus regenerating it;
  memory ~ (depth + 2) D k float64 for the Krylov basis;
- layer 2 and the readout: two more passes over n, the validation (5000) and test samples one each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .bench_plan import PASS_EXPONENT

__all__ = ["Estimate", "estimate_run", "estimate_sweep", "estimate_theory", "estimate_check", "DENSE_FLOPS_PER_S",
           "STREAM_FLOPS_PER_S", "EIGH_FLOPS_PER_S", "START_S", "THEORY_S_PER_SAMPLE", "BOOT_S_PER_ENTRY", "CheckShape",
           "finite_size_seconds", "format_seconds"]

# ---- calibration constants (this machine) ----------------------------------------------------------------
# Executed flops/s of the dense accumulation: `hmodel bench` measured ~100 GFLOP/s executed for the q = 2
# moment kernel at d = 60 on an idle machine (products through XLA), ~116 since they run through BLAS on the
# CPU (issue 12); kept at half for the machine shared by other work.
DENSE_FLOPS_PER_S = 5e10
# float64 eigh (LAPACK syevd through numpy/JAX), counted as 10 D^3 flops.
EIGH_FLOPS_PER_S = 5e9
# Streamed passes (sample generation, matrix-free products, layer 2, readout, test): `hmodel run --d 60
# --n 16000 --engine matrix_free` made 41 passes in 30 s, ~1.1e11 flops of this model: ~3e9 flops/s.
STREAM_FLOPS_PER_S = 3e9
# Start-up of one command or one sweep task: imports and the JIT compilation of its programs (10-25 s).
START_S = 15.0
# Typical block Krylov passes of the matrix-free engine for the first n (41 measured above, d = 60: D = 1830);
# warm-started later sizes of a nested grid need fewer, counted as half. At other D they scale as D^(1/3)
# (`bench_plan.PASS_EXPONENT`, measured over d = 16..48; an H200 at d = 400 took 69-285).
MF_PASSES = 40
MF_PASSES_D = 1830
# `hmodel theory`: 26 s at --n-mc 50000 and 71 s at 200000 for d1 = 6: ~5e-5 s per (Monte Carlo sample x
# latent direction), the finite-size thresholds' repeated label laws dominating.
THEORY_S_PER_SAMPLE = 5e-5
# `hmodel check`'s finite-size thresholds (`theory.per_seed.seed_mean_thresholds`: every teacher seed's own model,
# scanned up a grid of CHECK_SCAN_POINTS sizes, counted whole since the scan stops only once all have crossed).
# Hermite model, q = 2, D <= theory.remainder.EXACT_MAX_D (rule 'extremes+anisotropic', exact M): per seed a set-up
# (M's eigendecomposition, the Kronecker spread, the pool of extremes) and then each n of the scan. Measured on one
# core, one seed, n_mc = 100000 (stop 29, tanh and id, both estimators): set-up and first n 6 s at D = 210, 40-47 s
# at D = 820, 174 s at D = 1830, ~ 45 (D / 820)^1.6 s; a whole seed (tanh, paper) 33 s at d = 20, 115 s at d = 40
# and 404 s at d = 60, which the scan's sizes fill with ~ 3 (D / 820)^0.7 + 0.5 (D / 820)^3 s each (a D^3 term
# fitted to the growth from d = 40 to 60, not traced to one step): model 32 s, 126 s and 411 s. The
# Gaussian-equivalent law and the semicircle surrogate of M (D > EXACT_MAX_D) are light: 0.4 s (GE, d = 20) to 8 s
# (semicircle, d = 70, d1 = 8) per seed, counted as LIGHT_S_PER_SAMPLE n_mc d1 (4-8 s at n_mc = 100000).
CHECK_SCAN_POINTS = 23  # per_decade 8 over n = D/2 .. 300 D
HERMITE_SETUP_S, HERMITE_SETUP_EXPONENT = 45.0, 1.6
HERMITE_N_S, HERMITE_N_EXPONENT, HERMITE_N3_S = 3.0, 0.7, 0.5
HERMITE_REF_D = 820
LIGHT_S_PER_SAMPLE = 1e-5
# `hmodel check`: the bootstrap gathers n_boot x seeds x sizes x d1 values per verdict and averages them;
# numpy runs ~1e8 such entries/s, counted as 1e-8 s each (x 5 verdicts).
BOOT_S_PER_ENTRY = 1e-8
_VALIDATION = 5000  # HierarchicalSpectralLearner's default n_validation
_BATCH_BYTES = 64 * 2**20  # choose_batch_chunks keeps one (B, D) float32 batch <= 64 MiB; ~4 such arrays live


@dataclass(frozen=True)
class Estimate:
    """What a command will cost: samples generated, flops, peak memory (bytes) and predicted wall seconds."""

    kind: str
    samples: float
    flops: float
    bytes: float
    seconds: float
    rows: int = 1  # results rows (sample sizes x seeds x configurations) covered

    @property
    def hours(self) -> float:
        return self.seconds / 3600

    def __add__(self, other: "Estimate") -> "Estimate":
        return Estimate(self.kind, self.samples + other.samples, self.flops + other.flops,
                        max(self.bytes, other.bytes), self.seconds + other.seconds, self.rows + other.rows)

    def summary(self) -> str:
        return (f"{format_seconds(self.seconds)} ({self.samples:.3g} samples, {self.flops:.3g} flops, "
                f"{self.bytes / 2**30:.3g} GiB)")


def format_seconds(s: float) -> str:
    """A wall time as people read it: '45 s', '12 min', '3.5 h', '4.2 days'."""
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    if s < 2 * 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.3g} days"


def _batch_bytes(D: int) -> float:
    from hierarchical_model.teacher import CHUNK

    return 4 * max(_BATCH_BYTES, 4 * CHUNK * D)  # at least one chunk of features, even beyond 64 MiB


def estimate_run(D: int, d1: int, q: int, ns, n_test: int, engine: str, *, fresh_split: bool = False,
                 nested: bool = True, start: bool = True) -> Estimate:
    """One (configuration, seed) of the layer-wise spectral learner at the sample sizes ``ns`` (nested prefixes
    of one stream, or independent fits when ``nested=False``), each evaluated on n_test test samples.
    ``engine``: 'dense' or 'matrix_free' (as resolved)."""
    from hierarchical_model.engines import dense_bytes
    from hierarchical_model.teacher import teacher_bytes

    ns = sorted(int(n) for n in ns)
    gen = 4.0 * D * d1  # flops to generate one sample and its features
    per_layer1 = ns[-1] if nested else sum(ns)  # samples streamed by layer 1 (nested: one growing pass)
    k = d1 + 10
    samples = per_layer1 * (2 if fresh_split else 1) + _VALIDATION + n_test * len(ns)
    stream = gen * samples
    dense = eigh = 0.0
    if engine == "dense":
        frac = 1 / 3 if q == 2 else 0.55
        dense = per_layer1 * frac * 2.0 * D * D
        eigh = 10.0 * D**3 * len(ns)
        memory = dense_bytes(D)
    else:
        first = MF_PASSES * (D / MF_PASSES_D) ** PASS_EXPONENT
        passes = [first if (i == 0 or not nested) else first / 2 for i in range(len(ns))]
        stream += sum(p * n * (gen + 2.0 * D * k) for p, n in zip(passes, ns))
        samples += sum(p * n for p, n in zip(passes, ns))
        memory = 8.0 * D * k * 6 * 2  # Krylov basis (depth + 2 blocks) and its images
    # layer 2 and the readout: two passes over n per point (one when B_hat is read off C), validation too
    stream += sum(2 * (n + _VALIDATION) * (gen + 2.0 * D * d1) for n in ns)
    seconds = (START_S if start else 0.0) + dense / DENSE_FLOPS_PER_S + eigh / EIGH_FLOPS_PER_S + stream / STREAM_FLOPS_PER_S
    memory = memory + _batch_bytes(D) + teacher_bytes(D, d1)
    return Estimate("run", float(samples), dense + eigh + stream, float(memory), seconds, len(ns))


def estimate_sweep(configs, seeds, done=frozenset(), workers: int = 1) -> Estimate:
    """Every missing row of a sweep (``configs``: SweepConfig list, ``done``: keys on disk). Workers share this
    machine's cores, so they divide the start-up only; each holds its own memory."""
    from .store import row_key

    total = Estimate("sweep", 0.0, 0.0, 0.0, START_S, 0)
    for c in configs:
        t, lr = c.teacher, c.learner
        D, d1 = _feature_dim(t["d"], t["q"]), int(t["d1"])
        for s in seeds:
            missing = [n for n in c.ns if row_key(c.config_hash, s, n) not in done]
            if missing:
                total = total + estimate_run(D, d1, t["q"], missing, c.n_test, lr["engine"],
                                             fresh_split=lr["fresh_split"], nested=c.nested, start=False)
                total = Estimate("sweep", total.samples, total.flops, total.bytes, total.seconds + START_S / 3 / workers,
                                 total.rows)
    return Estimate("sweep", total.samples, total.flops, total.bytes * workers, total.seconds, total.rows)


def estimate_theory(d1: int, n_mc: int) -> Estimate:
    """`hmodel theory`: Monte Carlo label laws of n_mc samples per direction; memory: (n_mc, d1) float64 arrays
    and a few temporaries of that size."""
    seconds = START_S + THEORY_S_PER_SAMPLE * n_mc * d1
    return Estimate("theory", float(n_mc) * d1, float(n_mc) * d1 * 200, 8.0 * n_mc * (d1 + 2) * 8, seconds)


@dataclass(frozen=True)
class CheckShape:
    """One configuration of a results table as `hmodel check` sees it: teacher seeds, sample sizes, latent
    directions, feature dimension D and the law its finite-size theory uses."""

    seeds: int
    sizes: int
    d1: int
    D: int = 0
    input_model: str = "gaussian_equivalent"
    q: int = 2


def finite_size_seconds(shape: CheckShape, n_mc: int = 100_000, points: int = CHECK_SCAN_POINTS) -> float:
    """Predicted seconds of the finite-size thresholds of one configuration: ``shape.seeds`` teachers, each scanned
    at ``points`` sample sizes. Hermite, q = 2, D <= EXACT_MAX_D (exact M), with r = D / 820: per seed
    HERMITE_SETUP_S r^1.6 + points (HERMITE_N_S r^0.7 + HERMITE_N3_S r^3); otherwise LIGHT_S_PER_SAMPLE n_mc d1."""
    from theory.remainder import EXACT_MAX_D

    if shape.input_model == "hermite" and shape.q == 2 and 0 < shape.D <= EXACT_MAX_D:
        r = shape.D / HERMITE_REF_D
        per_n = HERMITE_N_S * r ** HERMITE_N_EXPONENT + HERMITE_N3_S * r ** 3
        per_seed = HERMITE_SETUP_S * r ** HERMITE_SETUP_EXPONENT + points * per_n
    else:
        per_seed = LIGHT_S_PER_SAMPLE * n_mc * shape.d1
    return shape.seeds * per_seed


def estimate_check(shapes, n_boot: int, finite_size: bool, n_mc: int = 100_000) -> Estimate:
    """`hmodel check` of the configurations ``shapes`` (CheckShape each): five bootstrap verdicts per configuration,
    each gathering an (n_boot, seeds, sizes, d1) array (theory/thresholds.py `bootstrap_seed_means`), and
    (finite_size) the finite-size thresholds of every teacher seed (`finite_size_seconds`)."""
    shapes = list(shapes) or [CheckShape(1, 1, 1)]
    entries = [float(n_boot) * c.seeds * (1 + c.sizes * c.d1) for c in shapes]
    seconds = START_S + sum(5 * BOOT_S_PER_ENTRY * e + (finite_size_seconds(c, n_mc) if finite_size else 0)
                            for e, c in zip(entries, shapes))
    d1 = max(c.d1 for c in shapes)
    memory = 8.0 * max(entries) * 4 + (8.0 * n_mc * (d1 + 2) * 8 if finite_size else 0)
    return Estimate("check", sum(entries), 5 * sum(entries), memory, seconds)


def _feature_dim(d: int, q: int) -> int:
    return math.comb(d + q - 1, q)
