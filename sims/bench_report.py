"""The benchmark's report: the targets (issue 6), the ratios and extrapolations of a possibly partial run
(`summarize`: a run stopped early is completed from its own cost model), the table `hmodel bench` prints, and the
JSON it writes and reads back. Pure functions of the measurements of `sims.bench`.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

__all__ = ["TARGETS", "summarize", "format_table", "load_json", "write_json"]

TARGETS = {"accumulation_fraction": 0.5, "accumulation_min_D": 1000, "sweep_seconds": 60.0, "speedup": 5.0,
           "qh_tolerance": 0.01, "memory_ratio": 2.0}


def load_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _section(r: dict, key: str):
    """A finished section, else its partial result (sizes done so far), else None."""
    return r.get(key) or r.get(key + "_partial")


def _full_seconds(key: str, part: dict, ns) -> tuple[float, bool]:
    """Wall time over all sizes: measured, or, for a run stopped early, the measured time plus an
    estimate of the sizes left, from the run's own cost model:
    'reference' (each size from scratch): t(n) = n t(n_last) / n_last for each size left (n_last the largest done);
    'numpy' (nested): the mean eigh time per size left, plus the accumulation of the samples left at
    the measured cost per sample."""
    done = len(part["qh"])
    rest = list(ns[done:])
    if not rest:
        return part["seconds"], False
    if key == "reference":  # cost proportional to n, at the rate of the largest size done
        return part["seconds"] + part["seconds_per_n"][-1] / ns[done - 1] * sum(rest), True
    acc = (part["seconds"] - part["seconds_eigh"]) / ns[done - 1]
    return part["seconds"] + part["seconds_eigh"] / done * len(rest) + acc * (ns[-1] - ns[done - 1]), True


def _required(a: dict) -> float:
    """GFLOP/s of the flops the accumulation must do (older results, without that line: the effective rate)."""
    return a.get("gflops_required", a["gflops_effective"])


def summarize(r: dict) -> dict:
    """Ratios and targets from the raw (possibly partial) measurements."""
    nan = math.nan
    peak = r["peak"]["gflops"]
    sw = r["sweep"]
    ns = sw["ns"]
    npy, ref, eig = _section(r, "numpy"), _section(r, "reference"), r.get("eigsh")
    truth = np.asarray(npy["qh"]) if npy else np.zeros(0)

    def max_dq(qh):
        m = min(len(qh), len(truth))
        return float(np.max(np.abs(np.asarray(qh[:m]) - truth[:m]))) if m else nan

    out = {"accumulation_fraction": {a["D"]: _required(a) / peak for a in r["accumulation"]},
           "max_abs_dqh": {"sweep": max_dq(sw["qh"]), "reference": max_dq(ref["qh"]) if ref else nan,
                           "eigsh": max_dq(eig["qh"]) if eig else nan},
           "truth_sizes": len(truth)}
    for key, part in (("numpy", npy), ("reference", ref)):
        if part:
            secs, extrap = _full_seconds(key, part, ns)
            out[f"{key}_seconds"], out[f"{key}_extrapolated"] = secs, extrap
            out[f"speedup_vs_{key}"] = secs / sw["seconds"]
    if npy:  # the same measured rates, C formed from scratch at every size (what a plain script does)
        done = len(npy["qh"])
        acc = (npy["seconds"] - npy["seconds_eigh"]) / ns[done - 1]
        out["numpy_scratch_seconds"] = npy["seconds_eigh"] / done * len(ns) + acc * sum(ns)
        out["numpy_scratch_extrapolated"] = True
        out["speedup_vs_numpy_scratch"] = out["numpy_scratch_seconds"] / sw["seconds"]
    if eig and eig["qh"]:
        # eigsh: matvecs x n x the measured cost per (sample x matvec), for the sizes above eigsh_max_n
        per = eig["seconds_per_n"][-1] / (eig["matvecs"][-1] * eig["ns"][-1])  # the largest size: least overhead
        rest = ns[len(eig["ns"]):]
        out["eigsh_seconds"] = eig["seconds"] + float(np.median(eig["matvecs"])) * per * sum(rest)
        out["eigsh_extrapolated"] = bool(rest)
        out["speedup_vs_eigsh"] = out["eigsh_seconds"] / sw["seconds"]
    big = [f for D, f in out["accumulation_fraction"].items() if D >= TARGETS["accumulation_min_D"]]
    tol, speed = TARGETS["qh_tolerance"], TARGETS["speedup"]
    mf = r.get("matrix_free")
    out["met"] = {
        "b_accumulation": bool(big) and min(big) >= TARGETS["accumulation_fraction"],
        "c_sweep_seconds": sw["seconds"] <= TARGETS["sweep_seconds"],
        "c_accuracy": out["max_abs_dqh"]["sweep"] <= tol,
        "c_vs_d": out.get("speedup_vs_reference", nan) >= speed,
        "c_vs_e_numpy": out.get("speedup_vs_numpy", nan) >= speed,
        "c_vs_e_eigsh": out.get("speedup_vs_eigsh", nan) >= speed,
        "f_memory": bool(mf) and mf["ratio"] <= TARGETS["memory_ratio"],
    }
    return out


# ---- the table -----------------------------------------------------------------------------------
def _yn(ok):
    return "yes" if ok else "NO"


def _speed_row(tag, label, s, key, sections_done):
    secs = s.get(f"{key}_seconds")
    if secs is None:
        return (tag, label, "not run", "", "", "")
    note = (f" (extrap. from {sections_done} sizes)" if sections_done else " (estimate)") if s.get(f"{key}_extrapolated") else ""
    return (tag, label + note, f"{secs:8.1f} s", f"{s[f'speedup_vs_{key}']:.1f}x (c)", f">= {TARGETS['speedup']:.0f}x",
            _yn(s[f"speedup_vs_{key}"] >= TARGETS["speedup"]))


def format_table(r: dict) -> str:
    s = summarize(r)
    mc, peak = r["machine"], r["peak"]["gflops"]
    met, T = s["met"], TARGETS
    sw, mf = r["sweep"], r.get("matrix_free")
    npy, ref, eig = _section(r, "numpy"), _section(r, "reference"), r.get("eigsh")
    pk = r["peak"]
    rows = [("a", f"float32 GEMM peak, JAX ({pk['N']}^3, A^T B, precision {pk.get('precision', 'default')})", f"{peak:8.1f} GFLOP/s",
             "1.00 (the limit)", "", "")]
    if "backend_default" in pk:  # runs written before the precision line lack it
        bd = pk["backend_default"]
        rows.append(("", f"  max error vs float64 {pk['error']:.1e}; at the backend's default precision {bd['error']:.1e}, "
                         f"{bd['gflops']:.0f} GFLOP/s", "", "", "", ""))
    for a in r["accumulation"]:
        frac = _required(a) / peak
        big = a["D"] >= T["accumulation_min_D"]
        what = "required" if "gflops_required" in a else "effective"
        rows.append(("b", f"dense accumulation d={a['d']} D={a['D']} B={a['B']}, {what} flops", f"{_required(a):8.1f} GFLOP/s",
                     f"{frac:.2f} of (a)", f">= {T['accumulation_fraction']:.2f}" if big else "(D < 1000)",
                     _yn(frac >= T["accumulation_fraction"]) if big else ""))
        rows.append(("", f"  executed {a['gflops_executed']:.0f} GFLOP/s ({a['kernel']} kernel), effective (2 B D^2) "
                         f"{a['gflops_effective']:.0f}, data gen "
                         f"{a['generation_seconds_per_batch'] / a['seconds_per_batch']:.0%}", "", "", "", ""))
        if "assemble_seconds" in a:  # results written before the per-checkpoint line have only eigen_seconds
            full = f", with the whole spectrum {a['eigen_full_seconds']:.2f} s" if math.isfinite(a["eigen_full_seconds"]) else ""
            per = a["assemble_seconds"] + a["eigen_seconds"]
            rows.append(("b", f"  per-checkpoint overhead d={a['d']}: assemble C {a['assemble_seconds']:.3f} s + top-d1 "
                              f"{a['eigen_seconds']:.2f} s ({a['eigen_solver']}){full}", f"{per:8.2f} s",
                         f"= {per / a['seconds_per_batch']:.1f} batches", "", ""))
    sp = sw["split"]
    rows.append(("c", f"nested dense sweep (ours, no spectra) d={sw['d']} D={sw['D']} d1={sw['d1']}, {len(sw['ns'])} alphas",
                 f"{sw['seconds']:8.1f} s", "1.00", f"<= {T['sweep_seconds']:.0f} s", _yn(met["c_sweep_seconds"])))
    rows.append(("", f"  layer1 {sp['layer1']:.1f} s, layer2+readout {sp['layer2_readout']:.1f} s, test {sp['test']:.1f} s",
                 "", "", "", ""))
    rows.append(("c", f"  per-checkpoint layer2+readout+test (mean of {len(sw['ns'])}; first one with compiles)",
                 f"{(sp['layer2_readout'] + sp['test']) / len(sw['ns']):8.3f} s", "", "", ""))
    k = f"k=d1+{ref['k'] - sw['d1']}, {ref['passes_per_n']} passes/n" if ref else ""
    rows.append(_speed_row("d", f"field's subspace iteration (JAX) {k}", s, "reference", len(ref["qh"]) if ref else 0))
    rows.append(_speed_row("e", "numpy C (float64) + numpy.linalg.eigh, nested", s, "numpy", len(npy["qh"]) if npy else 0))
    rows.append(_speed_row("e", "  the same, C from scratch at every size (from its measured rates)", s, "numpy_scratch", 0))
    rows.append(_speed_row("e", f"scipy eigsh(LinearOperator), {len(eig['ns']) if eig else 0} sizes measured", s, "eigsh",
                           len(eig["ns"]) if eig else 0))
    dq = s["max_abs_dqh"]
    rows.append(("acc", f"max |q_h - q_h(float64)| ({s['truth_sizes']} sizes): ours / field / eigsh",
                 f"{dq['sweep']:.1e}", f"{dq['reference']:.1e} / {dq['eigsh']:.1e}", f"<= {T['qh_tolerance']}",
                 _yn(met["c_accuracy"])))
    if mf:
        rows.append(("f", f"matrix-free d={mf['d']} D={mf['D']} k={mf['k']} n={mf['n']} B={mf['B']}",
                     f"{mf['seconds_per_pass']:8.2f} s/pass", f"{mf['n'] / mf['seconds_per_pass'] / 1e3:.0f}k samples/s", "", ""))
        rows.append(("f", f"  peak RSS {mf['peak'] / 2**20:.0f} MiB; above runtime+compile {mf['extra'] / 2**20:.1f} MiB, "
                          f"above bare runtime {mf['extra_with_compile'] / 2**20:.0f} MiB; footprint "
                          f"{mf['footprint']['total'] / 2**20:.1f} MiB", f"{mf['extra'] / 2**20:8.1f} MiB",
                     f"{mf['ratio']:.2f}x footprint", f"<= {T['memory_ratio']:.0f}x", _yn(met["f_memory"])))
    w = [max(len(row[i]) for row in rows) for i in range(6)]
    end = mc.get("loadavg_end")
    head = (f"hmodel bench  {mc['time_utc']} UTC  backend={mc['backend']} cpus={mc['cpu_count']} jax={mc['jax']}  "
            f"load avg {' '.join(f'{v:.2f}' for v in mc['loadavg_start'])}"
            + (f" -> {' '.join(f'{v:.2f}' for v in end)}" if end else " (run not finished)"))
    hdr = ("", "measure", "value", "ratio", "target", "met")
    lines = [head, "  ".join(h.ljust(wi) for h, wi in zip(hdr, w)), "  ".join("-" * wi for wi in w)]
    lines += ["  ".join(c.ljust(wi) for c, wi in zip(row, w)).rstrip() for row in rows]
    lines += ["", "q_h per alpha: float64 truth | ours (c) | field (d) | eigsh (e)"]

    def cell(part, i):
        return f"{part['qh'][i]:.4f}" if part and i < len(part["qh"]) else "   -  "

    for i, n in enumerate(sw["ns"]):
        lines.append(f"  alpha={math.log(n) / math.log(sw['d']):.2f} n={n:>8d}  {cell(npy, i)} | {sw['qh'][i]:.4f} | "
                     f"{cell(ref, i)} | {cell(eig, i)}")
    return "\n".join(lines)


def write_json(result: dict, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, default=float)
    os.replace(tmp, path)
