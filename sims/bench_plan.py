"""`hmodel bench --plan`: what the paper's grid costs on a device, from arithmetic and measured passes.

The paper's largest grid (d = 400, eps = 0.5, alphas 1.5:3.4:0.1, 10 seeds; n up to 400^3.4 ~ 7e8) is run by the
matrix-free engine (`engines.matrix_free`): C is never formed, every application V -> C V of block Krylov is one
streamed pass over the first n samples, regenerated from the seed. The cost of the grid is therefore

    sum over seeds and alphas of  passes(alpha) x n(alpha) x (flops of one pass per sample)

and this module prints each factor with where it comes from:

- flops per sample and pass, q = 2 Hermite input, k = d1 + 10 Krylov vectors (`HermiteFeatures.dot`/`rdot`):
  F V as x^T T_j x: 2 d^2 k + 2 d k; F^T (w F V) as sum_mu s_muj x x^T: 2 d^2 k; regenerating the sample (h1 = A F(x),
  `teacher._build_chunk_fn`): 2 d^2 d1 + 2 d d1. Exact counts of the products the programs execute, not estimates.
- bytes per sample and pass moved through memory: the input x (written by the generator, read by the pass, 8 d) and
  the (B, k, d) float32 contraction of each action (written and read: 4 x 4 k d). Their ratio, the arithmetic
  intensity, is about d / 4 flop/byte: compute-bound on any current device at d = 400.
- passes(alpha): measured here, by the same engine on the same nested grid of alphas at smaller d (warm starts
  from the previous n, the learner's tol = 1e-4, depth 4), and scaled from the largest measured d by
  (D / D_ref)^(1/3) (`PASS_EXPONENT`: the growth measured over d = 16..48). An extrapolation to d = 400, labelled
  as one: the table shows the measured d side by side, so that the trend in d is visible.
- the rate: ``peak`` (flop/s of the device, given, or this machine's measured float32 GEMM peak) times an
  efficiency, the fraction of the GEMM peak that one pass reaches here at a larger d (`measure_pass_rate`,
  d = 100: the products dominate there, as at d = 400), or given.

A prediction, not a measurement: `hmodel bench --plan` on the device itself (same code path on CUDA JAX) measures
its peak and, with ``--check-d`` (up to the grid's own d) and ``--check-alphas``, times a grid that fits the device's
time to compare against its own prediction.

Measured on an H200 (JAX 0.11.2, float32 products at full precision; issue 12's closing note):
- the float32 GEMM peak at precision 'highest' is 43-52 TFLOP/s (4096^3 and 8192^3); the backend's default
  precision (TF32 operands) reaches 185-239 TFLOP/s with 1e2 times the error, which the package does not use;
- one pass at d = 400 over 262144 samples: 33.6 TFLOP/s with B = 4096 (`engines.matrix_free_batch_chunks`), 2.1 with
  the (B, D) rule's B = 256;
- the passes grow with d: at d = 400 (one seed, nested, warm starts) 69, 97, 197 and 285 passes at n = 8000,
  26516, 87824 and 289423, against 13-21 at d = 48. The D^(1/3) scaling predicts 54-86 there: right up to
  n ~ 3e4, 2-3x short at n ~ 1e5-3e5, so the predicted wall time is a lower bound; tol = 1e-4 within the default
  max_passes = 300 is near its limit at n ~ 3e5 there.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

__all__ = ["PlanGrid", "PAPER_GRID", "pass_flops", "pass_bytes", "measure_passes", "measure_pass_rate", "plan", "check_plan",
           "format_plan"]


@dataclass(frozen=True)
class PlanGrid:
    """A grid of the paper: dimension d, d1 = floor(d^eps), n = round(d^alpha), ``seeds`` teachers."""

    d: int = 400
    eps: float = 0.5
    alphas: tuple = tuple(round(1.5 + 0.1 * i, 6) for i in range(20))  # 1.5:3.4:0.1
    seeds: int = 10
    gamma: float = 0.4
    g: str = "tanh"

    @property
    def D(self) -> int:
        return self.d * (self.d + 1) // 2

    @property
    def d1(self) -> int:
        import hierarchical_model as hm

        return hm.latent_dim(self.d, self.eps)

    @property
    def ns(self) -> list:
        return [round(self.d ** a) for a in self.alphas]


PAPER_GRID = PlanGrid()


#: Passes per checkpoint grow as D^(1/3) (block Krylov at a bulk edge whose eigenvalue spacing shrinks as D^(-2/3)):
#: measured here, nested grid alphas 1.5:3.4, mean passes 10.0 / 13.5 / 16.5 / 21.1 at d = 16 / 24 / 32 / 48 against
#: (D / D_16)^(1/3) = 1 / 1.30 / 1.57 / 2.05 of d = 16's.
PASS_EXPONENT = 1 / 3


def pass_flops(d: int, d1: int, k: int | None = None) -> dict:
    """Flops per sample of one streamed pass of the matrix-free engine (q = 2): the two actions of C on k vectors
    and the regeneration of the sample (module docstring)."""
    k = d1 + 10 if k is None else k
    actions = 4 * d * d * k + 2 * d * k
    generation = 2 * d * d * d1 + 2 * d * d1
    return {"k": k, "actions": actions, "generation": generation, "total": actions + generation}


def pass_bytes(d: int, k: int) -> int:
    """Bytes per sample of one pass moved through memory (module docstring): 8 d for x, 16 k d for the contractions."""
    return 8 * d + 16 * k * d


def measure_passes(ds, alphas, eps: float = 0.5, gamma: float = 0.4, g: str = "tanh", seed: int = 0,
                   progress=None, tol: float = 1e-4) -> list[dict]:
    """Passes per checkpoint of the matrix-free engine on the nested grid n = round(d^alpha) of each d (warm starts,
    the learner's defaults but ``tol``, its relative residual), with the seconds each checkpoint took here. One entry
    per (d, alpha)."""
    import hierarchical_model as hm
    from hierarchical_model.engines import LabelTransform, MatrixFreeEngine, StreamSource, engine_batch_chunks

    rows = []
    for d in ds:
        teacher = hm.Teacher(hm.TeacherConfig(d=d, eps=eps, gamma=gamma, g=g), seed)
        ns = sorted({round(d ** a) for a in alphas})
        src = StreamSource(teacher, "train", ns[-1], seed, engine_batch_chunks("matrix_free", teacher.features, teacher.d1 + 10))
        # one small solve first compiles the programs of this batch shape; then a fresh engine walks the grid
        MatrixFreeEngine(teacher.features, src, LabelTransform(), seed=seed, tol=tol).top_eigenpairs(ns[0], teacher.d1)
        engine = MatrixFreeEngine(teacher.features, src, LabelTransform(), seed=seed, tol=tol)
        for n in ns:
            t0 = time.perf_counter()
            _, _, info = engine.top_eigenpairs(n, teacher.d1)
            row = {"d": d, "alpha": math.log(n) / math.log(d), "n": n, "passes": int(info.passes),
                   "seconds": time.perf_counter() - t0, "converged": bool(info.converged),
                   "flops_per_sample_pass": pass_flops(d, teacher.d1)["total"]}
            rows.append(row)
            if progress is not None:
                progress(row)
    return rows


def measure_pass_rate(d: int, n: int, eps: float = 0.5, repeats: int = 3, seed: int = 0) -> dict:
    """Flop/s of one streamed pass (`matrix_free_operator` applied to k = d1 + 10 vectors, regeneration included)
    at a dimension large enough for the products to dominate: the best of ``repeats`` passes over n samples."""
    import jax
    import numpy as np

    import hierarchical_model as hm
    from hierarchical_model.engines import LabelTransform, StreamSource, engine_batch_chunks, matrix_free_operator

    teacher = hm.Teacher(hm.TeacherConfig(d=d, eps=eps, g="tanh"), seed)
    f = pass_flops(d, teacher.d1)
    src = StreamSource(teacher, "train", n, seed, engine_batch_chunks("matrix_free", teacher.features, f["k"]))
    V = np.random.default_rng(seed).standard_normal((teacher.D, f["k"]))
    apply = matrix_free_operator(teacher.features, src, LabelTransform(), n)
    jax.block_until_ready(apply(V))  # compiles
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(apply(V))
        best = min(best, time.perf_counter() - t0)
    return {"d": d, "n": n, "k": f["k"], "seconds_per_pass": best, "flops_per_s": n * f["total"] / best}


def _passes_at(measured: list[dict], d: int, alpha: float) -> int:
    """Passes measured at dimension d for the alpha nearest to ``alpha``."""
    at_d = [r for r in measured if r["d"] == d]
    return min(at_d, key=lambda r: abs(r["alpha"] - alpha))["passes"]


def plan(grid: PlanGrid, measured: list[dict], peak_flops: float, efficiency: float | None = None,
         peak_source: str = "given", rate: dict | None = None) -> dict:
    """The predicted cost of ``grid`` (see the module docstring) from ``measured`` passes (`measure_passes`) and a
    device of ``peak_flops``. ``efficiency`` None: the fraction of ``peak_flops`` reached by a pass here, from
    ``rate`` (`measure_pass_rate`) or else from the timed passes of the largest measured d (small d: overheads
    dominate, a pessimistic rate). Then ``peak_flops`` must be this machine's peak (the caller says so)."""
    d_ref = max(r["d"] for r in measured)
    ref = [r for r in measured if r["d"] == d_ref]
    if rate is None:
        work = sum(r["passes"] * r["n"] * r["flops_per_sample_pass"] for r in ref)
        achieved, where = work / sum(r["seconds"] for r in ref), f"the grid at d={d_ref}"
    else:
        achieved, where = rate["flops_per_s"], f"passes at d={rate['d']}, n={rate['n']}"
    eff_source = "given"
    if efficiency is None:
        efficiency, eff_source = achieved / peak_flops, f"measured here on {where}"
    f = pass_flops(grid.d, grid.d1)
    per_sample, per_bytes = f["total"], pass_bytes(grid.d, f["k"])
    rows, total_seed = [], 0.0
    scale = (grid.D / ((d_ref * (d_ref + 1)) // 2)) ** PASS_EXPONENT
    for a, n in zip(grid.alphas, grid.ns):
        passes = math.ceil(_passes_at(measured, d_ref, a) * scale - 1e-9)
        flops = passes * n * per_sample
        seconds = flops / (peak_flops * efficiency)
        total_seed += seconds
        rows.append({"alpha": a, "n": n, "passes": passes,
                     "passes_by_d": {r_d: _passes_at(measured, r_d, a) for r_d in sorted({r["d"] for r in measured})},
                     "flops_per_pass": n * per_sample, "bytes_per_pass": n * per_bytes, "seconds": seconds})
    krylov_bytes = 2 * (4 + 1) * grid.D * f["k"] * 8
    from hierarchical_model.engines import matrix_free_batch_chunks
    from hierarchical_model.hermite import HermiteFeatures
    from hierarchical_model.teacher import CHUNK

    batch = matrix_free_batch_chunks(HermiteFeatures(grid.d), f["k"], backend="gpu") * CHUNK  # the device's batch
    return {"batch": batch, "batches_per_pass": -(-max(grid.ns) // batch), "grid": asdict(grid), "D": grid.D, "d1": grid.d1, "k": f["k"], "flops_per_sample": f,
            "bytes_per_sample": per_bytes, "intensity": per_sample / per_bytes, "peak_flops": peak_flops,
            "peak_source": peak_source, "efficiency": efficiency, "efficiency_source": eff_source,
            "achieved_here": achieved, "d_ref": d_ref, "pass_scale": scale, "rows": rows, "seconds_per_seed": total_seed,
            "seconds": total_seed * grid.seeds, "krylov_bytes": krylov_bytes,
            "dense_alternative": {"bytes": 8 * grid.D**2,
                                  "flops": 2 * math.comb(grid.d + 3, 4) * max(grid.ns) * grid.seeds}}


def check_plan(measured: list[dict], check: list[dict], grid: PlanGrid, peak_flops: float, rate: dict | None = None) -> dict:
    """Measured against predicted at a size that can be run: the plan for ``grid`` (one seed) from ``measured``
    (smaller d) against ``check`` (`measure_passes` at grid.d): wall seconds and passes, summed over the grid."""
    p = plan(PlanGrid(grid.d, grid.eps, grid.alphas, 1, grid.gamma, grid.g), measured, peak_flops, rate=rate)
    return {"d": grid.d, "alphas": [grid.alphas[0], grid.alphas[-1]], "predicted_seconds": p["seconds"], "measured_seconds": sum(r["seconds"] for r in check),
            "predicted_passes": sum(r["passes"] for r in p["rows"]), "measured_passes": sum(r["passes"] for r in check)}


def _t(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def format_plan(p: dict) -> str:
    g, f = p["grid"], p["flops_per_sample"]
    ds = sorted(p["rows"][0]["passes_by_d"])
    lines = [
        f"plan: d={g['d']} (D={p['D']}, d1={p['d1']}, k={p['k']} Krylov vectors), eps={g['eps']}, "
        f"alphas {g['alphas'][0]}:{g['alphas'][-1]} ({len(g['alphas'])} sizes), {g['seeds']} seeds, matrix-free engine",
        f"per sample and pass: {f['actions']:.3g} flops in the two actions of C + {f['generation']:.3g} regenerating it "
        f"= {f['total']:.3g} flops; {p['bytes_per_sample']:.3g} bytes; intensity {p['intensity']:.0f} flop/byte",
        f"device: peak {p['peak_flops'] / 1e12:.3g} TFLOP/s ({p['peak_source']}) x efficiency {p['efficiency']:.2f} "
        f"({p['efficiency_source']}; a pass reached {p['achieved_here'] / 1e9:.1f} GFLOP/s here)",
        f"passes per checkpoint (Krylov tol {p.get('krylov_tol', 1e-4):g}): MEASURED at d = {', '.join(map(str, ds))} "
        f"(nested, warm starts); the prediction takes "
        f"d = {p['d_ref']}'s times (D / D_{p['d_ref']})^(1/3) = {p['pass_scale']:.2f} (EXTRAPOLATED to d = {g['d']}; on an "
        f"H200 at d = 400 this held up to n ~ 3e4 and fell short 2-3x at n ~ 1e5-3e5: measure with --check-d)",
        "",
        f"{'alpha':>5} {'n':>11} " + " ".join(f"{'p@' + str(d):>6}" for d in ds)
        + f" {'p@' + str(g['d']) + '?':>7} {'flops/pass':>11} {'bytes/pass':>11} {'predicted':>11}",
    ]
    for r in p["rows"]:
        lines.append(f"{r['alpha']:5.2f} {r['n']:11d} " + " ".join(f"{r['passes_by_d'][d]:6d}" for d in ds)
                     + f" {r['passes']:7d} {r['flops_per_pass']:11.3g} {r['bytes_per_pass']:11.3g} {_t(r['seconds']):>11}")
    dense = p["dense_alternative"]
    lines += [
        "",
        f"PREDICTED wall time: {_t(p['seconds_per_seed'])} per seed, {_t(p['seconds'])} for {g['seeds']} seeds on one device "
        f"(Krylov basis {p['krylov_bytes'] / 2**30:.2f} GiB; not a measurement)",
        f"not modelled: the fixed cost of each batch (B = {p['batch']} samples, {p['batches_per_pass']} batches in a pass at "
        f"the largest n, {p['batch'] * f['total'] / (p['peak_flops'] * p['efficiency']) * 1e6:.0f} us of work each at "
        f"this rate) and of each Krylov cycle; --check-d measures what they add at a size that runs here",
        f"dense engine instead: C holds {dense['bytes'] / 2**30:.0f} GiB (float64) and its fourth moments cost "
        f"{dense['flops']:.3g} flops for the grid, {_t(dense['flops'] / (p['peak_flops'] * p['efficiency']))} at the same rate",
    ]
    if "check" in p:
        c = p["check"]
        span = f", alphas {c['alphas'][0]}:{c['alphas'][-1]}" if "alphas" in c else ""
        lines.append(f"check at d = {c['d']}{span} (one seed, run here): predicted {_t(c['predicted_seconds'])} and "
                     f"{c['predicted_passes']} passes from the smaller d; measured {_t(c['measured_seconds'])} and "
                     f"{c['measured_passes']} passes (ratio {c['measured_seconds'] / c['predicted_seconds']:.2f})")
    return "\n".join(lines)
