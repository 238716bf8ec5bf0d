"""The grid of a sweep: its axes, reading it (command line and TOML; the values are parsed by `sims.grid_parse`),
validation, and its expansion into configurations.

A grid is the Cartesian product of the model axes (d, q, eps or d1, gamma, link g, a_kind, sigma,
input model, conventions; MODEL.md section 1), the learner axes (engine, label transform T, estimator: section 2 and
HERMITE.md section 2), the seeds,
and the sample sizes, given as alphas (n = round(d^alpha), so the sizes depend on d) or as explicit n.

Every configuration carries ``config_hash``: the first 16 hex digits of the sha256 of its canonical
JSON (sorted keys), over the teacher's parameters, the learner's (with the engine as resolved for the
memory budget), n_test and the nested/independent flag; the seed and n are excluded, so
(config_hash, seed, n) is the key of a row of the results table. The estimator and the conventions enter
the hash (and the grid recorded in sweep.json) only when they are not the defaults ('paper', 'model'), so
that hashes and results folders made before those options existed keep their keys.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import asdict, dataclass

from hierarchical_model._validation import check_choice, check_float, check_int, check_memory_gb
from hierarchical_model.teacher import MAX_SAMPLES

# the parsers are imported from here by the tests and the sweep: the grid's public names
from .grid_parse import parse_alphas, parse_list, parse_seeds, parse_spectra, sorted_unique, unique

__all__ = ["SweepGrid", "SweepConfig", "parse_alphas", "parse_seeds", "parse_list", "parse_spectra", "grid_from_sources",
           "load_toml", "config_hash", "GRID_KEYS"]

# Axes: key -> (element parser, default values). A grid value is a tuple of these elements.
_AXES = {
    "d": (int, (40,)),
    "q": (int, (2,)),
    "eps": (float, (0.5,)),
    "d1": (int, (None,)),
    "gamma": (float, (0.4,)),
    "g": (str, ("tanh",)),
    "a_kind": (str, ("orthonormal",)),
    "sigma": (float, (0.0,)),
    "input_model": (str, ("hermite",)),
    "label_transform": (str, ("identity",)),
    "engine": (str, ("auto",)),
    "estimator": (str, ("paper",)),
    "conventions": (str, ("model",)),
}
# Scalars shared by the whole grid.
_SCALARS = {"clip_quantile": 0.99, "fresh_split": False, "n_test": 10000, "independent": False, "spectra": "none",
            "krylov_tol": None}
# Keys that say what is stored, not what is computed: left out of config_hash and of the comparison of a rerun's
# grid with the folder's (a sweep resumed with other spectra is the same sweep).
STORAGE_KEYS = ("spectra",)
GRID_KEYS = tuple(_AXES) + ("seeds", "alphas", "ns") + tuple(_SCALARS)
MAX_CONFIGS = 100_000  # configurations of a grid (product of the model and learner axes)


def load_toml(path) -> dict:
    """Read a sweep's grid from a TOML file: top-level keys among GRID_KEYS, nothing else."""
    from .guards import check_input_file

    check_input_file("config", path)  # a FIFO or /dev/zero would block or never end
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"config={str(path)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config={str(path)!r} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"config={str(path)!r} is not valid TOML: not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise ValueError(f"config={str(path)!r} is not a sweep grid: its values are nested too deeply") from None
    unknown = sorted(set(data) - set(GRID_KEYS))
    if unknown:
        raise ValueError(f"config={str(path)!r} has unknown key {unknown[0]!r}: allowed keys are {', '.join(GRID_KEYS)}")
    return data


def grid_from_sources(toml_path=None, **overrides) -> "SweepGrid":
    """The grid of a TOML file (optional) with the given keys (None = not given) overriding its values."""
    values = load_toml(toml_path) if toml_path is not None else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SweepGrid.from_mapping(values)


# ---- the grid ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepConfig:
    """One configuration of a sweep (every axis fixed, all seeds and sample sizes): the unit of
    ``config_hash``. ``teacher`` is TeacherConfig.to_dict() (d1 resolved), ``learner`` the keyword
    arguments of the learner with the engine resolved for the memory budget."""

    config_hash: str
    teacher: dict
    learner: dict
    d1_explicit: int | None
    n_test: int
    nested: bool
    ns: tuple
    spectrum_ns: tuple | None = ()  # the n whose whole spectrum is computed and stored (None: every n)

    def teacher_config(self):
        from hierarchical_model import TeacherConfig

        t = dict(self.teacher)
        t["d1"] = self.d1_explicit
        return TeacherConfig(**t)

    def label(self) -> str:
        t, lr = self.teacher, self.learner
        estimator = lr.get("estimator", "paper")
        return (f"d={t['d']} q={t['q']} d1={t['d1']} gamma={t['gamma']} g={t['g']} {t['input_model']} "
                f"T={lr['label_transform']} {lr['engine']}" + ("" if estimator == "paper" else f" {estimator}"))


def config_hash(payload: dict) -> str:
    """sha256 of the canonical JSON of ``payload`` (sorted keys, no spaces), first 16 hex digits."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SweepGrid:
    """A validated sweep grid. Build it with `SweepGrid.from_mapping` (or `grid_from_sources`)."""

    d: tuple = (40,)
    q: tuple = (2,)
    eps: tuple = (0.5,)
    d1: tuple = (None,)
    gamma: tuple = (0.4,)
    g: tuple = ("tanh",)
    a_kind: tuple = ("orthonormal",)
    sigma: tuple = (0.0,)
    input_model: tuple = ("hermite",)
    label_transform: tuple = ("identity",)
    engine: tuple = ("auto",)
    estimator: tuple = ("paper",)
    conventions: tuple = ("model",)
    seeds: tuple = (0,)
    alphas: tuple | None = None
    ns: tuple | None = None
    clip_quantile: float = 0.99
    fresh_split: bool = False
    n_test: int = 10000
    independent: bool = False
    spectra: str | tuple = "none"
    krylov_tol: float | None = None  # the matrix-free engine's tol (None: the learner's default)

    @classmethod
    def from_mapping(cls, values: dict) -> "SweepGrid":
        """Parse and check a mapping of GRID_KEYS (strings as on the command line, scalars or lists)."""
        from hierarchical_model.learner import ENGINES, ESTIMATORS, LABEL_TRANSFORMS
        from hierarchical_model.links import LINK_NAMES
        from hierarchical_model.teacher import A_KINDS, CONVENTIONS, INPUT_MODELS

        unknown = sorted(set(values) - set(GRID_KEYS))
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a sweep key: allowed keys are {', '.join(GRID_KEYS)}")
        kw = {}
        for key, (kind, default) in _AXES.items():
            kw[key] = default if values.get(key) is None else parse_list(key, values[key], kind)
        choices = {"g": LINK_NAMES, "a_kind": A_KINDS, "input_model": INPUT_MODELS,
                   "label_transform": LABEL_TRANSFORMS, "engine": ENGINES, "estimator": ESTIMATORS,
                   "conventions": CONVENTIONS}
        for key, allowed in choices.items():
            for v in kw[key]:
                check_choice(key, v, allowed)
        for key in _AXES:
            if None not in kw[key]:
                kw[key] = unique(key, kw[key])
        kw["seeds"] = parse_seeds(values["seeds"]) if values.get("seeds") is not None else (0,)
        has_a, has_n = values.get("alphas") is not None, values.get("ns") is not None
        if has_a == has_n:
            raise ValueError("sample sizes: give exactly one of alphas (n = round(d^alpha)) and ns (explicit n)")
        if has_a:
            kw["alphas"] = parse_alphas(values["alphas"])
        else:
            kw["ns"] = sorted_unique("ns", tuple(check_int("ns", n, 1, MAX_SAMPLES) for n in parse_list("ns", values["ns"], int)))
        kw["clip_quantile"] = check_float("clip_quantile", values.get("clip_quantile", 0.99), 0.0, 1.0, lo_open=True)
        kw["n_test"] = check_int("n_test", values.get("n_test", 10000), 1, MAX_SAMPLES)
        kw["spectra"] = parse_spectra(values.get("spectra", "none"))
        if values.get("krylov_tol") is not None:
            kw["krylov_tol"] = check_float("krylov_tol", values["krylov_tol"], 0.0, 1.0, lo_open=True)
        count = math.prod(len(kw[k]) for k in _AXES)
        if count > MAX_CONFIGS:
            raise ValueError(f"the grid has {count} configurations ({' x '.join(str(len(kw[k])) for k in _AXES)} values of "
                             f"{', '.join(_AXES)}): must have at most {MAX_CONFIGS}")
        for flag in ("fresh_split", "independent"):
            v = values.get(flag, False)
            if not isinstance(v, bool):
                raise ValueError(f"{flag}={v!r} is not allowed: must be true or false")
            kw[flag] = v
        return cls(**kw)

    def to_dict(self) -> dict:
        """The grid as plain JSON values (what DIR/sweep.json records)."""
        out = asdict(self)
        for key in ("estimator", "conventions"):
            if out[key] == _AXES[key][1]:
                del out[key]  # the default, absent from grids recorded before the option (see module doc)
        for key, default in (("spectra", "none"), ("krylov_tol", None)):
            if out[key] == default:
                del out[key]  # absent from grids recorded before the option
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in out.items()}

    def sizes(self, d: int) -> tuple:
        """The sample sizes for input dimension d: round(d^alpha) (duplicates merged) or the explicit ns."""
        if self.ns is not None:
            return self.ns
        return tuple(sorted({int(round(float(d) ** a)) for a in self.alphas}))

    def spectrum_ns(self, d: int):
        """The sizes for input dimension d whose spectrum is kept: () for 'none', None (every n) for 'all',
        else round(d^alpha) for the listed alphas."""
        if self.spectra == "none":
            return ()
        if self.spectra == "all":
            return None
        return tuple(sorted({int(round(float(d) ** a)) for a in self.spectra}))

    def configurations(self, memory_gb: float | None = None) -> list[SweepConfig]:
        """Every configuration of the grid, checked (TeacherConfig, memory guard of the dense engine,
        n >= d1), in a fixed order. Raises ValueError on the first bad one."""
        from hierarchical_model import TeacherConfig
        from hierarchical_model.engines import check_estimator
        from hierarchical_model.learner import default_memory_gb, resolve_engine

        budget = default_memory_gb() if memory_gb is None else check_memory_gb("memory_gb", memory_gb)
        out = []
        for d, q, eps, d1, gamma, g, a_kind, sigma, im, lt, engine, estimator, conventions in itertools.product(
                *(getattr(self, k) for k in _AXES)):
            cfg = TeacherConfig(d=d, q=q, eps=eps, d1=d1, gamma=gamma, g=g, a_kind=a_kind, sigma=sigma, input_model=im,
                                conventions=conventions)
            check_estimator(estimator, q=q, input_model=im)
            ns = self.sizes(d)
            if ns[-1] > MAX_SAMPLES:
                raise ValueError(f"alphas={max(self.alphas):g} gives n=d^alpha={ns[-1]:.3g} for d={d}: must give n <= "
                                 f"{MAX_SAMPLES} (the int32 chunk index of the sample stream)")
            if ns[0] < cfg.latent:
                raise ValueError(f"sample size n={ns[0]} for d={d} is below d1={cfg.latent}: the learner needs n >= d1")
            learner = {"engine": resolve_engine(engine, cfg.D, budget), "label_transform": lt, "estimator": estimator,
                       "clip_quantile": self.clip_quantile, "fresh_split": self.fresh_split, "memory_gb": budget}
            if self.krylov_tol is not None and learner["engine"] == "matrix_free":  # the dense engine has no tol
                learner["tol"] = self.krylov_tol
            teacher = cfg.to_dict()
            hashed = {k: v for k, v in learner.items() if k != "memory_gb" and not (k == "estimator" and v == "paper")}
            payload = {"teacher": teacher, "learner": hashed,
                       "n_test": self.n_test, "nested": not self.independent}
            out.append(SweepConfig(config_hash(payload), teacher, learner, d1, self.n_test, not self.independent, ns,
                                   self.spectrum_ns(d)))
        return out


