"""Guards of the command line: cost limits, output folders, input files, valid JSON, and warnings, each a
small function that a sub-command calls before it computes or writes anything.

Every refusal is a ValueError of one line naming the option or file, the value and what is allowed; `sims.cli`
prints it and exits with status 2.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from pathlib import Path

from hierarchical_model._validation import check_float, physical_memory_gb

__all__ = ["add_cost_options", "enforce_cost", "check_out_dir", "check_input_file", "json_text", "warn_label_noise",
           "guard_run", "guard_theory", "guard_check", "DEFAULT_MAX_HOURS", "MAX_INPUT_BYTES"]

DEFAULT_MAX_HOURS = 24.0
MAX_INPUT_BYTES = 16 * 2**20  # a TOML grid or a sweep.json is a few kB; a larger "config" is not one


def add_cost_options(p) -> None:
    g = p.add_argument_group("cost guard (sims/cost.py)")
    g.add_argument("--max-hours", type=float, default=None,
                   help=f"refuse when the predicted wall time exceeds this (default {DEFAULT_MAX_HOURS:g})")
    g.add_argument("--yes", action="store_true", help="run whatever the predicted time and memory")


def enforce_cost(est, args, what: str) -> None:
    """Refuse (one line) an estimate above --max-hours or above this machine's memory, unless --yes."""
    max_hours = getattr(args, "max_hours", None)
    max_hours = DEFAULT_MAX_HOURS if max_hours is None else check_float("max_hours", max_hours, 0.0, lo_open=True)
    if getattr(args, "yes", False):
        return
    phys = physical_memory_gb()
    if est.bytes / 2**30 > phys:
        raise ValueError(f"{what}: estimated {est.bytes / 2**30:.3g} GiB of memory exceeds this machine's {phys:.0f} GiB "
                         f"(estimate: {est.summary()}): reduce the sizes, or pass --yes to try anyway")
    if est.hours > max_hours:
        raise ValueError(f"{what}: estimated {est.summary()} exceeds --max-hours {max_hours:g}: "
                         f"pass --max-hours {math.ceil(est.hours * 1.2):d} or --yes to run it anyway")


def check_out_dir(name: str, path) -> Path:
    """An output folder that can be created or written: not a file, not below a file, and its nearest existing
    ancestor writable (permissions, a read-only mount, or a pseudo file system such as /proc or /sys, which
    has no blocks). Writes nothing."""
    p = Path(path)
    if str(path) == "" or "\0" in str(path):
        raise ValueError(f"{name}={str(path)!r} is not allowed: must be a folder path")
    if p.exists() and not p.is_dir():
        raise ValueError(f"{name}={str(p)!r} is a file: must be a folder (new or existing)")
    anc = p.absolute()
    while not anc.exists() and anc.parent != anc:
        anc = anc.parent
    if not anc.is_dir():
        raise ValueError(f"{name}={str(p)!r} is below the file {str(anc)!r}: must be a folder path")
    why = ""
    try:
        fs = os.statvfs(anc)
        if fs.f_flag & os.ST_RDONLY:
            why = "a read-only file system"
        elif fs.f_blocks == 0:
            why = "a pseudo file system (no blocks)"
    except OSError as exc:
        why = exc.strerror
    if not why and not os.access(anc, os.W_OK | os.X_OK):
        why = "permission denied"
    if why:
        raise ValueError(f"{name}={str(p)!r} cannot be written ({why} at {str(anc)!r}): choose a writable folder")
    return p


def check_input_file(name: str, path, max_bytes: int = MAX_INPUT_BYTES) -> Path:
    """A regular, readable file of at most ``max_bytes`` (a FIFO or /dev/zero would block or never end)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise ValueError(f"{name}={str(p)!r} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{name}={str(p)!r} is not a regular file: must be a file")
    if st.st_size > max_bytes:
        raise ValueError(f"{name}={str(p)!r} holds {st.st_size} bytes: must be at most {max_bytes} bytes")
    if not os.access(p, os.R_OK):
        raise ValueError(f"{name}={str(p)!r} cannot be read: permission denied")
    return p


def _finite(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def json_text(obj) -> str:
    """Valid JSON (RFC 8259): non-finite floats become null, never the tokens NaN / Infinity."""
    return json.dumps(_finite(obj), allow_nan=False)


def warn_label_noise(cfg, n: int) -> None:
    """Warn once (stderr) when the label noise makes the run meaningless at this n: the first direction's
    threshold n_1 ~ D E[y^2] / theta_1^2 (MODEL.md section 4), with E[y^2] >= sigma^2, lies beyond n."""
    if cfg.sigma <= 1.0:
        return
    from hierarchical_model.teacher import spike_weights

    theta1_sq = 2.0 * float(spike_weights(cfg.latent, cfg.gamma)[0]) ** 2  # nu_1 ~ 1 for the built-in links
    need = cfg.D * (1.0 + cfg.sigma**2) / theta1_sq
    if need > n:
        print(f"hmodel: warning: sigma={cfg.sigma:g}: the label noise dominates (Var(y) >= {cfg.sigma**2:.3g}); the first "
              f"direction needs n of order D (1 + sigma^2) / theta_1^2 = {need:.3g} > n={n}: expect no recovery",
              file=sys.stderr)


def _resolved_engine(args, D: int) -> str:
    from hierarchical_model._validation import check_memory_gb
    from hierarchical_model.learner import default_memory_gb, resolve_engine

    mem = default_memory_gb() if args.memory_gb is None else check_memory_gb("memory_gb", args.memory_gb)
    return resolve_engine(args.engine, D, mem)


def guard_run(args, cfg, n: int) -> None:
    """`hmodel run`: bounds, cost estimate, and the label-noise warning."""
    from hierarchical_model._validation import check_choice, check_int
    from hierarchical_model.learner import ENGINES
    from hierarchical_model.teacher import MAX_SAMPLES

    from .cost import estimate_run

    check_int("n_test", args.n_test, 1, MAX_SAMPLES)
    check_choice("engine", args.engine, ENGINES)
    est = estimate_run(cfg.D, cfg.latent, cfg.q, [n], args.n_test, _resolved_engine(args, cfg.D), fresh_split=args.fresh_split)
    enforce_cost(est, args, f"run (d={cfg.d}, D={cfg.D}, n={n}, n_test={args.n_test})")
    warn_label_noise(cfg, n)


def guard_theory(args, cfg, n: int, n_mc: int) -> None:
    """`hmodel theory`: the cost of its Monte Carlo label laws."""
    from .cost import estimate_theory

    enforce_cost(estimate_theory(cfg.latent, n_mc), args, f"theory (n_mc={n_mc}, d1={cfg.latent})")


def check_shapes(df) -> dict:
    """{configuration key: CheckShape} of a results table holding `theory.thresholds.REQUIRED_COLUMNS`, grouped
    as `theory.checks.check_results` groups it."""
    from theory.thresholds import split_configs

    from .cost import CheckShape

    return {key: CheckShape(sub["seed"].nunique(), sub["n"].nunique(), int(sub["d1"].max()), int(sub["D"].max()),
                            str(sub["input_model"].iloc[0]), int(sub["q"].max()))
            for key, sub in split_configs(df).items()}


def guard_check(args, df) -> dict:
    """`hmodel check`: the cost of the bootstrap (n_boot x seeds x sizes x d1 per configuration) and of every
    teacher seed's finite-size thresholds; returns `check_shapes` for the progress lines."""
    from hierarchical_model._validation import check_int

    from .cost import estimate_check

    n_boot = check_int("n_boot", args.n_boot, 1)
    shapes = check_shapes(df)
    est = estimate_check(shapes.values(), n_boot, not args.no_finite_size)
    enforce_cost(est, args, f"check (n_boot={n_boot}, {len(shapes)} configurations)")
    return shapes