"""Benchmark suite (issue 6): our engines against the machine's peak, the field's reference algorithm
(MODEL.md section 6) and plain numpy/scipy, measured in one process on the machine it runs on.

  a  the float32 GEMM peak through JAX (the limit)
  b  dense accumulation of C (q = 2): required GFLOP/s = the flops it must do per batch (2 B C(d + 3, 4) for
     the distinct weighted fourth moments of q = 2; 2 B D (D + 1) / 2 for a generic feature map's triangle), as
     a fraction of (a); beside it the executed rate (the kernel's panels do some products twice), the
     effective rate of the general product F^T (w F) (2 B D^2), the share of data generation, and one
     eigen-solve
  c  the nested dense sweep (hm.run_path, all alphas on one stream), wall time and its split
  d  the field's streaming subspace iteration on the same sizes (sims/bench_baselines.py)
  e  plain numpy (C in float64 + numpy.linalg.eigh: also the float64 ground truth of q_h) and
     scipy.sparse.linalg.eigsh on a LinearOperator
  f  the matrix-free engine at a size where dense C is out of reach: time per pass and peak resident
     memory (a subprocess), against the footprint of the batch and the Krylov blocks

Accuracy: q_h (MODEL.md section 3) per alpha of (c), (d), (e-eigsh) against the float64 ground truth.
Nothing here is CPU-specific: every kernel is the library's code on the default backend (whose products run
through BLAS on the CPU and XLA on accelerators, `engines.dense_kernels`). Here: the plan and
the measurements; the targets, ratios and the printed table are `sims.bench_report`.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import jax
import jax.numpy as jnp
import numpy as np
from hierarchical_model._x64 import MATMUL_PRECISION, float64

# the report's names are imported from here by `hmodel bench` (sims/cmd_bench.py)
from .bench_report import TARGETS, format_table, load_json, summarize, write_json

__all__ = ["BenchPlan", "FULL", "QUICK", "run_bench", "summarize", "format_table", "load_json", "write_json", "TARGETS"]



@dataclass(frozen=True)
class BenchPlan:
    peak_n: int                # square GEMM size of (a)
    acc_ds: tuple              # d of the accumulation rows (b), q = 2
    acc_batches: int           # timed batches per row of (b)
    sweep_d: int               # the nested sweep (c), (d), (e)
    alphas: tuple
    eigsh_max_n: int           # (e-eigsh) is run only at n <= this (ARPACK: one full pass per matvec)
    mf_d: int                  # (f)
    mf_n: int
    mf_passes: int
    n_test: int = 10000        # test samples per point of the sweep (hm.run_path's default)
    eps: float = 0.5
    gamma: float = 0.4
    g: str = "tanh"
    seed: int = 0


def _alphas(lo, hi, step):
    return tuple(round(lo + i * step, 6) for i in range(int(round((hi - lo) / step)) + 1))


FULL = BenchPlan(peak_n=4096, acc_ds=(40, 60, 100), acc_batches=3, sweep_d=60, alphas=_alphas(1.0, 3.5, 0.1),
                 eigsh_max_n=30_000, mf_d=200, mf_n=60_000, mf_passes=5)
QUICK = BenchPlan(peak_n=1024, acc_ds=(20,), acc_batches=1, sweep_d=12, alphas=(2.0, 3.0),
                  eigsh_max_n=200, mf_d=20, mf_n=2_000, mf_passes=5, n_test=2000)


def _timed(f, reps: int = 1):
    """Best wall time of ``reps`` calls after one warm-up call (compilation excluded)."""
    jax.block_until_ready(f())
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        best = min(best, time.perf_counter() - t0)
    return best


# ---- (a) -----------------------------------------------------------------------------------------
@float64  # the package's numeric mode: the peak at the precision its products run at (`_x64.MATMUL_PRECISION`)
def measure_peak(N: int) -> dict:
    """Float32 GEMM peak: jitted A^T B with two distinct (N, N) operands, the best of three, at the package's
    matmul precision; beside it the same product at the backend's default precision (an accelerator may round
    float32 operands to TF32 there), with each one's largest error against float64 relative to the largest entry."""
    A = jax.random.normal(jax.random.key(0), (N, N), jnp.float32)
    B = jax.random.normal(jax.random.key(1), (N, N), jnp.float32)
    gemm = jax.jit(lambda A, B: A.T @ B)
    s = _timed(lambda: gemm(A, B), reps=3)
    m = min(N, 1024)  # the float64 reference on the host: a corner of the product is enough
    exact = np.asarray(A[:, :m], np.float64).T @ np.asarray(B[:, :m], np.float64)

    def error(P):
        return float(np.max(np.abs(np.asarray(P[:m, :m], np.float64) - exact)) / np.max(np.abs(exact)))

    out = {"N": N, "seconds": s, "gflops": 2 * N**3 / s / 1e9, "precision": MATMUL_PRECISION, "error": error(gemm(A, B))}
    with jax.default_matmul_precision("default"):
        gemm_default = jax.jit(lambda A, B: A.T @ B)
        s_default = _timed(lambda: gemm_default(A, B), reps=3)
        out["backend_default"] = {"seconds": s_default, "gflops": 2 * N**3 / s_default / 1e9,
                                  "error": error(gemm_default(A, B))}
    return out


# ---- (b) -----------------------------------------------------------------------------------------
@float64  # the library's internals are timed as its entry points run them: with JAX's 64-bit mode on
def measure_accumulation(d: int, batches: int, eps: float, seed: int = 0) -> dict:
    """The dense engine's accumulation (`DenseAccumulator`'s kernel, sub-batch by sub-batch, into fresh
    statistics at every repetition) on pre-generated batches, data generation timed apart; then the cost of one
    checkpoint on the C of those samples (from a fresh accumulator): assembling C from the statistics, the top-d1
    eigen-solve as a sweep runs it (`dense_top`, no spectrum) and with the whole spectrum (the reduction)."""
    import hierarchical_model as hm
    from hierarchical_model.engines import DenseAccumulator, LabelTransform, StreamSource, choose_batch_chunks, dense_top

    t = hm.Teacher(hm.TeacherConfig(d=d, eps=eps, g="tanh"), seed)
    D, bc = t.D, choose_batch_chunks(t.D)
    B = bc * 256
    src = StreamSource(t, "train", B * batches, seed, bc)
    kernel = DenseAccumulator(t.features, src, LabelTransform()).kernel
    # batches as `DenseAccumulator` feeds them: host arrays to a BLAS kernel, device arrays otherwise
    data = [tuple(np.asarray(a) if kernel.host else a for a in src.batch(b)[:2]) for b in range(batches)]
    S = min(B, 2048)

    def run_acc():
        stats = kernel.zeros()
        for X, y in data:
            for lo in range(0, B, S):
                stats, _ = kernel.add(stats, X[lo: lo + S], y[lo: lo + S])
        return stats

    s_acc = _timed(run_acc, reps=2) / batches
    s_gen = _timed(lambda: src.batch(0), reps=2)
    stats = run_acc()
    s_assemble = _timed(lambda: kernel.matrix(stats, jnp.float64(B * batches), jnp.float64(B * batches)), reps=2)
    C = DenseAccumulator(t.features, src, LabelTransform()).matrix(B * batches)  # each sample counted once
    s_eig = _timed(lambda: dense_top(C, t.d1, False)[0], reps=2)
    solver = dense_top(C, t.d1, False)[3].solver
    # the reduction with the whole spectrum; the D = 5050 one (minutes) is left to the sweeps
    s_full = _timed(lambda: dense_top(C, t.d1, True)[0]) if D <= 2000 else math.nan
    return {"d": d, "D": D, "B": B, "kernel": kernel.name, "seconds_per_batch": s_acc,
            "gflops_effective": 2 * B * D * D / s_acc / 1e9,
            "gflops_required": 2 * B * D * D * kernel.required_fraction / s_acc / 1e9,
            "gflops_executed": 2 * B * D * D * kernel.executed_fraction / s_acc / 1e9,
            "generation_seconds_per_batch": s_gen, "assemble_seconds": s_assemble, "eigen_seconds": s_eig,
            "eigen_solver": solver, "eigen_full_seconds": s_full}


# ---- (c) -----------------------------------------------------------------------------------------
def _sweep_ns(plan):
    ns = sorted({round(plan.sweep_d ** a) for a in plan.alphas})
    return ns


def measure_sweep(plan) -> tuple[dict, object]:
    import hierarchical_model as hm

    cfg = hm.TeacherConfig(d=plan.sweep_d, eps=plan.eps, gamma=plan.gamma, g=plan.g)
    ns = _sweep_ns(plan)
    t0 = time.perf_counter()
    res = hm.run_path(cfg, ns, plan.seed, n_test=plan.n_test, engine="dense", spectrum_ns=())  # as `hmodel sweep`
    wall = time.perf_counter() - t0
    split = {k: sum(r.timings.get(k, 0.0) for r in res) for k in ("layer1", "layer2_readout", "test")}
    return {"d": plan.sweep_d, "D": cfg.D, "d1": cfg.latent, "ns": ns, "seconds": wall, "split": split,
            "qh": [r.qh for r in res]}, hm.Teacher(cfg, plan.seed)


# ---- (f) -----------------------------------------------------------------------------------------
_MF_CHILD = r"""
import json, resource, sys, time
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
import jax, jax.numpy as jnp
import hierarchical_model as hm
from hierarchical_model.engines import (LabelTransform, StreamSource, block_krylov_eigsh, engine_batch_chunks,
                                        matrix_free_operator)
d, n, passes, eps = (float(a) if i == 3 else int(a) for i, a in enumerate(sys.argv[1:5]))
t = hm.Teacher(hm.TeacherConfig(d=d, eps=eps, g="tanh"), 0)
k = t.d1 + 10
bc = engine_batch_chunks("matrix_free", t.features, k)
src = StreamSource(t, "train", n, 0, bc)
base = rss("VmRSS")
# warm-up on one batch: compiles the kernels of the same shapes
block_krylov_eigsh(matrix_free_operator(t.features, src, LabelTransform(), src.batch_size), t.D, t.d1,
                   max_passes=passes, key=jax.random.key(1))
warm = rss("VmRSS")
try:
    open("/proc/self/clear_refs", "w").write("5")  # reset the high-water mark: peak of the passes alone
    reset = True
except OSError:
    reset = False
counter = {}
t0 = time.perf_counter()
block_krylov_eigsh(matrix_free_operator(t.features, src, LabelTransform(), n, counter), t.D, t.d1,
                   max_passes=passes, key=jax.random.key(1))
wall = time.perf_counter() - t0
print(json.dumps({"d": d, "D": t.D, "n": n, "k": k, "B": src.batch_size, "passes": counter["passes"],
                  "seconds": wall, "rss_base": base, "rss_warm": warm, "peak": rss("VmHWM"), "hwm_reset": reset}))
"""


def krylov_footprint(D: int, k: int, depth: int, B: int, d: int) -> dict:
    """Bytes the matrix-free solve must hold: the Krylov basis and its images (depth + 1 blocks each,
    float64) and one batch: inputs (B, d), the (B, k, d) contraction and the (k, d, d) tensors, float32."""
    krylov = 2 * (depth + 1) * D * k * 8
    batch = 4 * (B * d + 2 * B + B * k * d + 2 * k * d * d)
    return {"krylov": krylov, "batch": batch, "total": krylov + batch}


def measure_matrix_free(plan) -> dict:
    cmd = [sys.executable, "-c", _MF_CHILD, str(plan.mf_d), str(plan.mf_n), str(plan.mf_passes), str(plan.eps)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    fp = krylov_footprint(r["D"], r["k"], 4, r["B"], r["d"])
    r.update(seconds_per_pass=r["seconds"] / r["passes"], footprint=fp,
             extra=r["peak"] - r["rss_warm"], extra_with_compile=r["peak"] - r["rss_base"])
    r["ratio"] = r["extra"] / fp["total"]
    return r


# ---- the suite -----------------------------------------------------------------------------------
def machine_info() -> dict:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    return {"backend": jax.default_backend(), "devices": [str(dv) for dv in jax.devices()],
            "cpu_count": os.cpu_count(), "jax": jax.__version__, "numpy": np.__version__,
            "platform": platform.platform(), "loadavg_start": list(load),
            "time_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())}


def run_bench(plan: BenchPlan, log=None) -> dict:
    """Every measurement of the suite; ``log(section, partial_result)`` is called after each section."""
    from .bench_baselines import numpy_dense_path, reference_subspace_iteration, scipy_eigsh

    out = {"plan": asdict(plan), "machine": machine_info(), "targets": TARGETS}

    def done(key, value):
        out[key] = value
        if log is not None:
            log(key, out)

    done("peak", measure_peak(plan.peak_n))
    done("accumulation", [measure_accumulation(d, plan.acc_batches, plan.eps) for d in plan.acc_ds])
    sweep, teacher = measure_sweep(plan)
    done("sweep", sweep)
    ns = sweep["ns"]
    done("matrix_free", measure_matrix_free(plan))
    done("numpy", numpy_dense_path(teacher, ns, plan.seed, progress=lambda p: done("numpy_partial", p)))
    done("reference", reference_subspace_iteration(teacher, ns, plan.seed, progress=lambda p: done("reference_partial", p)))
    small = [n for n in ns if n <= plan.eigsh_max_n]
    eig = scipy_eigsh(teacher, small, plan.seed)
    eig["ns"] = small
    done("eigsh", eig)
    for key in ("numpy_partial", "reference_partial"):
        out.pop(key, None)
    out["machine"]["loadavg_end"] = list(os.getloadavg())
    out["summary"] = summarize(out)
    return out
